"""`ingest publish DIR`: the public side of the archive as a folder that any number of stateless,
read-only Datasette processes serve (`datasette serve DIR`, Datasette's configuration-directory
mode), behind a CDN or synced to other machines.

    DIR/gallery.db                      the public copy (public_copy.py), one file, no -wal beside it
    DIR/metadata.yml, settings.json     the archive's Datasette metadata, without anything private
    DIR/static/{thumbs,web}/<token>.jpg public renditions: stripped, faces obscured as the archive says
    DIR/static/originals/...            with --originals: licence-carrying originals, as downloaded
    DIR/archive.json                    which database is the bundle's, and the archive's public
                                        settings (its name, its address): small, read by its servers
    DIR/manifest.json                   what the run wrote: files, sizes, hashes, each photo's token
    DIR/purge.txt                       the URLs a CDN must forget since the previous run

File names of renditions are their rendition tokens (catalogue/schema.py, migration 14): a new
token for every publication, so a name never changes content and a synced copy only adds and
deletes files. A second run brings the copy up to date from the catalogue's change log, writes the
renditions of new tokens only and deletes those that left, in that order after the database: a
withdrawn photo is out of the database before its files go, and the gallery's image route on a
bundle server answers only tokens the database holds (web/media.py).

With this package installed, a bundle server shows the whole public gallery (front page, photo
browser, search, pages, feed, downloads) from these files alone (web/serving.py finds bundles).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from ingest.catalogue import faces
from ingest.catalogue.public_copy import PublicCopy
from ingest.errors import ArchiveError
from ingest.media import faces as face_pixels
from ingest.media.jpeg import strip_metadata
from ingest.media.store import Store
from ingest.outputs.credit import Credit
from ingest.outputs.export import PhotoInfo, file_name, load_photo, photo_credit, public_file, with_licence, xmp_fields

MANIFEST = "manifest.json"
# Read by bundle servers at start and after each publish: kept apart from the manifest, which lists
# every photo (~150 MB of JSON at a million photos, 1.6 s to parse).
ARCHIVE = "archive.json"
PURGE = "purge.txt"
KINDS = ("thumbs", "web")
FORMAT = 1
# Served to every visitor of a bundle: pages and JSON as briefly cached as the gallery's own.
SETTINGS = {"default_cache_ttl": 5, "suggest_facets": False}
# The gallery's own plugin configuration names the private store: never in a bundle.
PRIVATE_PLUGINS = ("gallery",)


@dataclass
class BundleReport:
    photos: int = 0
    written: int = 0
    removed: int = 0
    rebuilt: bool = False
    purge: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # photos whose images could not be made


def rendition(store: Store, kind: str, sha256: str, token: str, boxes: list) -> bytes:
    """A public thumbnail or web size: the stored derivative without metadata, its faces obscured
    with the noise of this publication (the gallery's image route serves the same bytes)."""
    data = strip_metadata(store.derivative(kind, sha256).read_bytes())
    return face_pixels.obscure_jpeg(data, boxes, face_pixels.seed_for(sha256, token, kind))


def image_paths(kind: str, token: str) -> list[str]:
    """A rendition's URLs on a bundle server: the gallery's route and Datasette's static mount."""
    return [f"/-/gallery/{kind}/{token}.jpg", f"/static/{kind}/{token}.jpg"]


def bundle_metadata(metadata: dict, name: str, closed_queries: Iterable[str] = ()) -> dict:
    """The archive's metadata for the public database `name` alone: no other database's entry, no
    plugin configuration that names private paths, no canned query only archivists may run."""
    out = {k: v for k, v in metadata.items() if k not in ("databases", "plugins")}
    plugins = {k: v for k, v in (metadata.get("plugins") or {}).items() if k not in PRIVATE_PLUGINS}
    if plugins:
        out["plugins"] = plugins
    database = dict((metadata.get("databases") or {}).get(name) or {})
    if "queries" in database:
        database["queries"] = {k: v for k, v in database["queries"].items() if k not in set(closed_queries)}
    if database:
        out["databases"] = {name: database}
    return out


def _described(folder: Path) -> dict:
    """What the bundle's archive.json says (empty when it is missing, unreadable or of another format)."""
    try:
        found = json.loads((folder / ARCHIVE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) and found.get("format") == FORMAT else {}


def folder_of(db_path: str | Path) -> Path | None:
    """The bundle folder `db_path` is the public copy of (its archive.json names it, or the manifest
    of a bundle written before archive.json), else None."""
    path = Path(db_path)
    described = _described(path.parent) or _previous(path.parent)
    return path.parent if described.get("database") == path.name else None


_settings_read: dict[Path, tuple[float, dict]] = {}


def public_settings(folder: Path) -> dict[str, str]:
    """The archive's public settings as the last `ingest publish DIR` wrote them (its name and
    public address: nothing else of the catalogue's settings leaves it); re-read when archive.json
    changes, so a server follows a synced bundle without a restart."""
    try:
        mtime = (folder / ARCHIVE).stat().st_mtime
    except OSError:
        return {}
    cached = _settings_read.get(folder)
    if cached is None or cached[0] != mtime:
        found = _described(folder).get("settings")
        cached = (mtime, {k: v for k, v in found.items() if k in PUBLIC_SETTINGS and isinstance(v, str)}
                  if isinstance(found, dict) else {})
        _settings_read[folder] = cached
    return cached[1]


# The gallery's own listings a bundle server shows (web/pages.py, browse.py, feed.py): purged with
# Datasette's whenever a photo arrives, changes or leaves.
LISTINGS = ("/-/gallery/photos", "/-/gallery/feed.atom", "/-/gallery/demonstrations", "/-/gallery/cities")
# The catalogue's settings a bundle carries: what its pages and credit lines need, nothing private.
PUBLIC_SETTINGS = ("title", "public-url")


def published_path(folder: Path, photo: PhotoInfo, size: str) -> Path | None:
    """The bundle's file a download of `photo` is made from: its web rendition, or the original
    `ingest publish --originals` wrote (None when the bundle carries no original of it)."""
    if size == "web":
        return folder / "static" / "web" / f"{photo.rendition}.jpg"
    folder = folder / "static" / "originals"
    return next(iter(sorted(folder.glob(f"{photo.rendition}-*"))), None) if photo.rendition else None


def published_file(folder: Path, photo: PhotoInfo, size: str, archive_name: str,
                   page_url: Any = None) -> tuple[str, bytes, Credit]:
    """(file name, bytes, credit) of a download on a bundle server, as the gallery's download route
    makes it from the store (export.public_file): the web rendition (already stripped and
    obscured) given the licence-carrying XMP, or the original as publish wrote it."""
    url = page_url(photo.id) if page_url else None
    line = photo_credit(photo, archive_name, url)
    path = published_path(folder, photo, size)
    if path is None:
        raise ArchiveError(f"photo {photo.id}: this server publishes no original of it")
    data = path.read_bytes()
    if size == "web":
        return file_name(photo, "jpg"), with_licence(data, photo, xmp_fields(photo, line, url)), line
    return file_name(photo, path.suffix.lstrip(".")), data, line


def _write(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one (no fsync per file: one sync before the manifest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _previous(out: Path) -> dict:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if manifest.get("format") == FORMAT else {}


def _photos(db_path: Path) -> dict[str, list]:
    """Each public photo's id -> [sha256, token, digest of its row] (a changed row: its page changed)."""
    conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        cur = conn.execute("SELECT * FROM photos ORDER BY id")
        names = [d[0] for d in cur.description]
        sha, token = names.index("sha256"), names.index("rendition")
        return {str(row[0]): [row[sha], row[token], _digest(repr(row).encode())[:16]] for row in cur}
    finally:
        conn.close()


def _catalogue(path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True))


def _originals(source: sqlite_utils.Database, store: Store, out: Path, photos: dict[str, list],
               archive_name: str, base_url: str | None, name: str, report: BundleReport) -> set[str]:
    """Licence-carrying originals as the gallery's download route makes them (export.public_file:
    creator, licence and credit line in XMP, faces obscured, nothing private), named by token and
    the row's digest, so that a new title or licence gives a new file. Returns the names kept."""
    folder = out / "static" / "originals"
    have = {p.name.rsplit(".", 1)[0]: p.name for p in folder.glob("*")} if folder.is_dir() else {}
    kept = set()
    page = (lambda i: f"{base_url}/{name}/photos/{i}") if base_url else None
    for pid, (_, token, digest) in photos.items():
        stem = f"{token}-{digest[:8]}"
        if stem in have:
            kept.add(have[stem])
            continue
        try:
            file_name, data, _ = public_file(store, load_photo(source, int(pid)), "original", archive_name, page)
        except (ArchiveError, OSError) as e:
            report.problems.append(f"photo {pid}: its original: {getattr(e, 'strerror', None) or e}")
            continue
        target = folder / f"{stem}.{file_name.rsplit('.', 1)[1]}"
        _write(target, data)
        kept.add(target.name)
    return kept


def publish_bundle(catalogue: str | Path, store: Store, out: str | Path, metadata: dict[str, Any], *,
                   closed_queries: Iterable[str] = (), rebuild: bool = False, base_url: str | None = None,
                   originals: str | None = None, title: str | None = None,
                   progress: Callable[[int], None] | None = None) -> BundleReport:
    """Write or bring up to date the bundle in `out` (see the module's docstring); `progress(n)`
    is called as renditions are written. `originals`, the archive's name for credit lines, adds
    licence-carrying originals (static/originals/<token>-<digest>.<ext>: large, so asked for).
    `title`, the archive's name, goes into the manifest for the credit lines a bundle server shows.
    Returns what changed and the URLs to purge."""
    catalogue, out = Path(catalogue), Path(out)
    name = catalogue.stem
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous(out)
    db_path = out / f"{name}.db"
    copy = PublicCopy(catalogue, db_path, wal=False)
    try:
        copy.refresh(check=True, rebuild=rebuild)
        report = BundleReport(rebuilt=copy.rebuilt)
    finally:
        copy.close()
    photos = _photos(db_path)
    report.photos = len(photos)
    tokens = {p[1] for p in photos.values()}

    # New renditions: every token the database holds whose files are not there yet.
    source = _catalogue(catalogue)
    try:
        for pid, (sha, token, _) in photos.items():
            targets = [out / "static" / kind / f"{token}.jpg" for kind in KINDS]
            if all(t.exists() for t in targets) and not rebuild:
                continue
            try:
                boxes = faces.to_obscure(source, int(pid))
                images = [rendition(store, kind, sha, token, boxes) for kind in KINDS]
            except (ArchiveError, OSError) as e:  # faces unsettled, a derivative missing: said, not fatal
                report.problems.append(f"photo {pid}: {getattr(e, 'strerror', None) or e}")
                continue
            for target, data in zip(targets, images):
                _write(target, data)
            report.written += 1
            if progress:
                progress(1)
        kept = _originals(source, store, out, photos, originals, base_url, name, report) if originals else set()
    finally:
        source.conn.close()

    # Renditions that left: files of tokens the database no longer holds.
    gone: set[str] = set()
    for kind in KINDS:
        folder = out / "static" / kind
        for path in folder.glob("*.jpg") if folder.is_dir() else ():
            if path.stem not in tokens:
                path.unlink()
                gone.add(path.stem)
                report.purge += image_paths(kind, path.stem)
    report.removed = len(gone)
    folder = out / "static" / "originals"
    for path in folder.glob("*") if folder.is_dir() else ():
        if path.name not in kept:  # left, changed, or originals no longer asked for
            path.unlink()
            report.purge.append(f"/static/originals/{path.name}")

    # Pages whose content changed: photos gone, re-published (new token) or edited.
    before = previous.get("photos", {})
    changed = sorted({pid for pid in set(before) | set(photos) if before.get(pid) != photos.get(pid)}, key=int)
    for pid in changed:
        report.purge += [f"/{name}/photos/{pid}", f"/{name}/photos/{pid}.json"]
        old = before.get(pid)
        if old and old[1] not in tokens and old[1] not in gone:  # files already gone, URLs maybe cached
            report.purge += [u for kind in KINDS for u in image_paths(kind, old[1])]
    if changed or gone:
        report.purge += ["/", f"/{name}", f"/{name}/photos", f"/{name}/photos.json", *LISTINGS]
    if base_url:
        report.purge = [base_url.rstrip("/") + u for u in report.purge]

    meta = yaml.safe_dump(bundle_metadata(metadata, name, closed_queries), allow_unicode=True, sort_keys=False)
    _write(out / "metadata.yml", meta.encode("utf-8"))
    _write(out / "settings.json", json.dumps(SETTINGS, indent=2).encode())
    _write(out / PURGE, "".join(f"{u}\n" for u in report.purge).encode())
    settings = {k: v for k, v in (("title", title or originals), ("public-url", base_url)) if v}
    _write(out / ARCHIVE, json.dumps({"format": FORMAT, "database": f"{name}.db", "settings": settings},
                                     indent=1, sort_keys=True).encode())
    os.sync()  # renditions and database on disk before the manifest says they are there
    files = {n: {"size": (out / n).stat().st_size, "sha256": _file_digest(out / n)}
             for n in (f"{name}.db", "metadata.yml", "settings.json", ARCHIVE)}
    manifest = {"format": FORMAT, "database": f"{name}.db", "files": files,
                "renditions": {kind: f"static/{kind}/<token>.jpg" for kind in KINDS},
                "originals": sorted(kept), "photos": photos, "purge": PURGE}
    _write(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return report
