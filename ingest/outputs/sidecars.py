"""XMP sidecars: an archive's corrections travel to the copies it already let out.

`ingest export` stamps a copy with the metadata of the day it was made. When an archivist later
corrects a title, a date or a demonstration, copies already handed out keep the old values. A
sidecar (`photo.jpg.xmp` beside `photo.jpg`) carries the photo's current catalogue values, which
already include every correction, in the IPTC/MWG fields digiKam, darktable, Lightroom and
exiftool read, so a photo desk can refresh its copies without replacing them.

What a sidecar holds is what a public copy holds (`downloads.xmp_fields`: title, caption, creator,
keywords, rights, licence, credit line, city, demonstration, date) plus the country, the date's UTC
offset and the time the catalogue last changed the photo. GPS only when the archive publishes exact
locations (`public-location` = exact) or the archivist asks for it (`--with-gps`, private backups).
Never serial numbers, owner names or source paths: none of them is read from the catalogue here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlite_utils

from ingest.catalogue import settings
from ingest.catalogue.corrections import parse_changes
from ingest.catalogue.lookup import find_photo
from ingest.errors import ArchiveError
from ingest.media.store import write_atomic
from ingest.media.write.xmp import xmp_packet
from ingest.outputs.export import PhotoInfo, file_name, load_photo, photo_credit, xmp_fields
from ingest.reference.places import country_name

# Sidecar names: digiKam and darktable add `.xmp` to the whole file name (photo.jpg.xmp), which
# cannot collide when photo.jpg and photo.png sit side by side; Lightroom, Bridge and Capture One
# replace the extension (photo.xmp), and read such sidecars for raw files only.
NAMING = ("digikam", "lightroom")
# Extensions `ingest export` gives its copies (downloads.public_copy).
_COPY_EXTS = ("jpg", "png")
# What downloads.file_name makes: a slug, then the photo id (the last number before the extension).
_COPY_NAME = re.compile(rf"^[a-z0-9-]*-(\d+)\.({'|'.join(_COPY_EXTS)})$")
# How xmp_packet marks what it wrote: a sidecar without it was written or edited by another program.
_OURS = b'x:xmptk="ingest"'


def copy_ext(photo_format: str | None, size: str) -> str:
    """The extension of the copy `ingest export --size SIZE` writes (see downloads.public_copy)."""
    return "png" if size == "original" and photo_format == "PNG" else "jpg"


def sidecar_name(copy_name: str, naming: str = "digikam") -> str:
    """`photo.jpg.xmp` (digiKam, darktable) or `photo.xmp` (Lightroom) for the copy `photo.jpg`."""
    if naming not in NAMING:
        raise ArchiveError(f"naming must be one of {', '.join(NAMING)}, not {naming!r}")
    return f"{copy_name}.xmp" if naming == "digikam" else f"{Path(copy_name).stem}.xmp"


def _offset(taken_at: str | None, taken_at_utc: str | None) -> str | None:
    """taken_at with its UTC offset when the catalogue knows the instant (the camera gave no offset,
    the place's time zone did): `2024-11-02T23:30:00` and `...03T03:30Z` -> `2024-11-02T23:30:00-04:00`."""
    if not taken_at or "T" not in taken_at or re.search(r"(Z|[+-]\d\d:\d\d)$", taken_at) or not taken_at_utc:
        return taken_at
    try:
        local = datetime.fromisoformat(taken_at)
        instant = datetime.fromisoformat(taken_at_utc.replace("Z", "+00:00"))
    except ValueError:
        return taken_at
    if instant.utcoffset() is None or local.tzinfo is not None:
        return taken_at
    minutes = round((local - instant.astimezone(timezone.utc).replace(tzinfo=None)).total_seconds() / 60)
    if abs(minutes) > 14 * 60:
        return taken_at
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"{taken_at}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _xmp_gps(degrees: float, hemispheres: str) -> str:
    """XMP's GPSCoordinate, `DDD,MM.mmmmmmK` (XMP spec part 2), to about 2 mm."""
    whole = int(abs(degrees))
    minutes = (abs(degrees) - whole) * 60
    return f"{whole},{minutes:.6f}{hemispheres[0] if degrees >= 0 else hemispheres[1]}"


def sidecar_fields(db: sqlite_utils.Database, photo: PhotoInfo, archive_name: str, page_url: str | None,
                   *, with_gps: bool = False) -> dict[str, Any]:
    """The XMP properties of a photo's sidecar: the public copy's (xmp_fields), plus country, offset
    date, when the catalogue last changed it, and GPS when `with_gps` (the caller decides)."""
    row = db.execute("SELECT p.taken_at_utc, p.latitude, p.longitude, p.updated_at, c.country_code "
                     "FROM photos p LEFT JOIN cities c ON c.id = p.city_id WHERE p.id = ?", [photo.id]).fetchone()
    taken_at_utc, lat, lon, updated_at, country = row
    fields = xmp_fields(photo, photo_credit(photo, archive_name, page_url), page_url)
    taken = _offset(photo.taken_at, taken_at_utc)
    fields.update({
        "photoshop:DateCreated": taken,
        "exif:DateTimeOriginal": taken,        # what Lightroom and digiKam show as the capture time
        "xmp:CreateDate": taken,
        "photoshop:Country": country_name(country) if photo.city else None,
        "Iptc4xmpCore:CountryCode": country if photo.city else None,
        "xmp:MetadataDate": updated_at,       # lets a reader tell a newer sidecar from an older one
    })
    if with_gps and lat is not None and lon is not None:
        fields["exif:GPSLatitude"] = _xmp_gps(lat, "NS")
        fields["exif:GPSLongitude"] = _xmp_gps(lon, "EW")
    return fields


def sidecar_bytes(db: sqlite_utils.Database, photo: PhotoInfo, archive_name: str, page_url: str | None,
                  *, with_gps: bool | None = None) -> bytes:
    """The sidecar file itself. GPS: `with_gps` if given, else only for a photo the public gallery
    places exactly (public-location = exact, and not withheld)."""
    if with_gps is None:
        with_gps = settings.public_location(db) == "exact" and not photo.withheld
    return xmp_packet(sidecar_fields(db, photo, archive_name, page_url, with_gps=with_gps))


# ---------------------------------------------------------------- which photos, which files

def select_photos(db: sqlite_utils.Database, refs: Iterable[str] = (), *, every: bool = False,
                  demo: str | None = None) -> tuple[list[int], set[int]]:
    """(photo ids in order, the ids named one by one). PHOTO refs as `find_photo` takes them; `demo`
    as `ingest fix --demo` takes it (id, slug or name)."""
    named = [find_photo(db, ref) for ref in refs]
    ids = list(named)
    if demo is not None:
        demo_id = parse_changes(db, {"demonstration": demo})["demonstration_id"]
        ids += [r[0] for r in db.execute("SELECT id FROM photos WHERE demonstration_id = ? ORDER BY id", [demo_id])]
    if every:
        ids += [r[0] for r in db.execute("SELECT id FROM photos ORDER BY id")]
    return list(dict.fromkeys(ids)), set(named)


def existing_copies(target: Path) -> dict[int, list[Path]]:
    """Copies `ingest export --to TARGET` wrote, by photo id, under any name it gave them: a copy
    exported before its title, date or city was corrected keeps its old name (`...-<id>.jpg`)."""
    found: dict[int, list[Path]] = {}
    if target.is_dir():
        for path in sorted(target.iterdir()):
            if (m := _COPY_NAME.match(path.name)) and path.is_file():
                found.setdefault(int(m[1]), []).append(path)
    return found


@dataclass
class Sidecar:
    photo_id: int
    path: Path
    data: bytes
    copy: Path                   # the exported copy it belongs beside
    status: str = "new"          # new, changed, unchanged, foreign (another program's sidecar)


@dataclass
class Plan:
    sidecars: list[Sidecar] = field(default_factory=list)
    withheld: list[int] = field(default_factory=list)        # skipped: not public, asked for in bulk
    pending: list[int] = field(default_factory=list)         # of those, the ones waiting for review

    def blocked(self) -> list[Sidecar]:
        return [s for s in self.sidecars if s.status == "foreign"]

    def text(self) -> str:
        """The summary line: `2 sidecars written, 1 unchanged; 1 withheld photo skipped (7): ...`."""
        same = sum(1 for s in self.sidecars if s.status == "unchanged")
        line = f"{len(self.sidecars) - same} sidecars written, {same} unchanged"
        if self.withheld:
            line += (f"; {len(self.withheld)} withheld photo{'s' if len(self.withheld) > 1 else ''} skipped "
                     f"({', '.join(map(str, self.withheld))}): --include-withheld writes them")
            if self.pending:
                line += f" (of them, waiting for review: {', '.join(map(str, self.pending))})"
        return line


def _status(path: Path, data: bytes) -> str:
    if not path.exists():
        return "new"
    old = path.read_bytes() if path.is_file() else b""
    if old == data:
        return "unchanged"
    return "changed" if _OURS in old[:4096] else "foreign"


def plan(db: sqlite_utils.Database, photo_ids: Iterable[int], target: Path, archive_name: str,
         page_url: Callable[[int], str] | None = None, *, size: str = "original", naming: str = "digikam",
         named: Iterable[int] = (), include_withheld: bool = False, with_gps: bool | None = None) -> Plan:
    """What `ingest sidecars` would write, touching nothing. A withheld photo named one by one is an
    error; one reached through --all or --demo is skipped and listed."""
    out, named, copies_of = Plan(), set(named), existing_copies(target)
    for photo_id in photo_ids:
        photo = load_photo(db, photo_id)
        if photo.withheld and not include_withheld:
            if photo_id in named:
                raise ArchiveError(f"photo {photo_id} is {photo.state}, not public: no sidecar written "
                                   "(--include-withheld writes it, for a private backup)")
            out.withheld.append(photo_id)
            if photo.state == "pending":
                out.pending.append(photo_id)
            continue
        url = page_url(photo_id) if page_url else None
        data = sidecar_bytes(db, photo, archive_name, url, with_gps=with_gps)
        copies = copies_of.get(photo_id) or [target / file_name(photo, copy_ext(photo.format, size))]
        seen: set[Path] = set()
        for copy in copies:
            path = target / sidecar_name(copy.name, naming)
            if path not in seen:  # Lightroom naming: photo.jpg and photo.png share photo.xmp
                seen.add(path)
                out.sidecars.append(Sidecar(photo_id, path, data, copy, _status(path, data)))
    return out


def write(result: Plan, *, overwrite: bool = False) -> None:
    """Write the plan's sidecars, each atomically. Sidecars another program wrote (a digiKam edit,
    say) are replaced only with `overwrite`; then nothing at all is written, rather than some."""
    if result.blocked() and not overwrite:
        first = result.blocked()[0].path
        more = len(result.blocked()) - 1
        raise ArchiveError(f"{first} was written by another program{f' (and {more} more)' if more else ''}; "
                           "nothing written: --overwrite replaces them")
    for sidecar in result.sidecars:
        if sidecar.status != "unchanged":
            write_atomic(sidecar.path, sidecar.data)


def write_beside(db: sqlite_utils.Database, copy: Path, photo_id: int, archive_name: str,
                 page_url: str | None, *, naming: str = "digikam") -> Path:
    """The sidecar of a copy just exported (`ingest export --sidecars`), written beside it.

    It follows the copy: whatever export let out (withheld photos too, on the archivist's command),
    with GPS only where the public gallery shows it exactly."""
    path = copy.with_name(sidecar_name(copy.name, naming))
    write_atomic(path, sidecar_bytes(db, load_photo(db, photo_id), archive_name, page_url))
    return path
