"""Datasette hooks: image routes from the store, thumbnails in the photos table, privacy defaults.

Hooks stay tiny; what they decide lives in plain helpers that tests call directly.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from ..store import Store
from . import edit, feed, pages, public

PLUGIN = "gallery"
# Tables that hold private data (source paths, raw metadata, audit): never shown to anonymous visitors.
PRIVATE_TABLES = {"photo_sources", "metadata", "problems", "ingest_runs", "corrections", "city_aliases", "settings",
                  "edits", "publish_log", "archivists"}
_SHA = re.compile(r"^[0-9a-f]{64}$")


def metadata_path() -> Path:
    """metadata.yml in the working folder, else the one at the project's top level."""
    here = Path.cwd() / "metadata.yml"
    return here if here.exists() else Path(__file__).resolve().parents[2] / "metadata.yml"


def archive_name() -> str:
    """The archive's name, as metadata.yml titles it: the "source" of every credit line."""
    import yaml

    try:
        return yaml.safe_load(metadata_path().read_text(encoding="utf-8")).get("title") or "the archive"
    except (OSError, yaml.YAMLError, AttributeError):
        return "the archive"


def store_for(datasette) -> Store:
    config = datasette.plugin_config(PLUGIN) or {}
    return Store(config.get("store") or os.environ.get("INGEST_STORE") or "archive")


def image_url(datasette, kind: str, sha256: str) -> str:
    return datasette.urls.path(f"/-/{PLUGIN}/{kind}/{sha256}.jpg")


def thumbnail_html(datasette, sha256: str, alt: str = "") -> Markup:
    return Markup(
        f'<img class="gallery-thumb" loading="lazy" src="{escape(image_url(datasette, "thumbs", sha256))}" '
        f'alt="{escape(alt)}" width="200">'
    )


def is_archivist(actor) -> bool:
    """Archivists (and Datasette's --root) see the catalogue; everyone else sees the public copy."""
    return bool(actor) and (actor.get("id") == "root" or "archivist" in (actor.get("roles") or ()))


async def visible(datasette, actor, column: str, value) -> bool:
    """Whether this visitor may see the photo: anonymous visitors only those in the public copy."""
    db = catalogue_db(datasette) if is_archivist(actor) else None
    db = db or public_db(datasette)
    if db is None:
        return False
    rows = await db.execute(f"SELECT 1 FROM photos WHERE {column} = ?", [value])
    return bool(rows.first())


async def serve_image(request, datasette) -> Response:
    kind, sha = request.url_vars["kind"], request.url_vars["sha256"]
    if not _SHA.match(sha) or not await visible(datasette, request.actor, "sha256", sha):
        return Response.text("Not found", status=404)
    path = store_for(datasette).derivative(kind, sha)
    etag = f'"{sha}-{kind}"'
    if request.headers.get("if-none-match") == etag:
        return Response("", status=304, headers={"ETag": etag})
    try:
        body = await asyncio.to_thread(path.read_bytes)
    except OSError:
        return Response.text("Not found", status=404)
    return Response(body, content_type="image/jpeg", headers={
        "Cache-Control": "public, max-age=31536000, immutable", "ETag": etag})


MAX_ZIP = 200


def public_db(datasette):
    """The public copy (gallery.db's is /gallery), or a served database of public rows."""
    names = sorted(public.public_names(datasette))
    if names:
        return datasette.databases.get(names[0])
    for name, db in datasette.databases.items():
        if name != "_internal" and not db.is_memory and not public.is_catalogue(db.path):
            return db
    return None


def catalogue_db(datasette):
    """The private catalogue, served to archivists only (None when only a public copy is served)."""
    names = sorted(public.catalogue_names(datasette))
    return datasette.databases.get(names[0]) if names else None


async def on_catalogue(db, fn):
    """Run `fn(sqlite_utils.Database)` on Datasette's connection, in its thread, off the event loop."""
    import sqlite_utils

    return await db.execute_fn(lambda conn: fn(sqlite_utils.Database(conn)))


async def download(request, datasette) -> Response:
    """A licence-carrying copy of one photo (`?size=web|original`), or a ZIP of several
    (`/-/gallery/download.zip?id=1&id=2`) with CREDITS.txt. Withheld photos do not exist here."""
    from ..downloads import SIZES, export, zip_bundle
    from ..errors import ArchiveError

    size = request.args.get("size", "original")
    if size not in SIZES:
        return Response.text(f"size must be one of {', '.join(SIZES)}", status=400)
    raw = [request.url_vars["id"]] if "id" in request.url_vars else request.args.getlist("id")
    if not raw or not all(r.isdigit() for r in raw) or len(raw) > MAX_ZIP:
        return Response.text(f"give 1 to {MAX_ZIP} photo ids", status=400)
    ids = list(dict.fromkeys(int(r) for r in raw))
    db, catalogue = public_db(datasette), catalogue_db(datasette)
    if db is None or catalogue is None:
        return Response.text("Not found", status=404)
    for photo_id in ids:
        if not await visible(datasette, request.actor, "id", photo_id):
            return Response.text("Not found", status=404)
    name = datasette.metadata("title") or archive_name()
    store = store_for(datasette)

    def page(photo_id: int) -> str:
        return datasette.absolute_url(request, datasette.urls.row(db.name, "photos", str(photo_id)))

    try:
        files = await on_catalogue(catalogue, lambda cat: export(cat, store, ids, size, name, page))
    except (ArchiveError, OSError):
        return Response.text("Not found", status=404)
    if "id" in request.url_vars:
        filename, data, _ = files[0]
        mime = "image/png" if filename.endswith(".png") else "image/jpeg"
        return Response(data, content_type=mime, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, max-age=300"})
    data = await asyncio.to_thread(zip_bundle, files, name)
    return Response(data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="photos-{len(files)}.zip"'})


async def databases(request, datasette) -> Response:
    """Datasette's /-/databases without the files' paths and sizes (a server path can name a
    person), listing only the databases this visitor may open."""
    listed = []
    for name, db in datasette.databases.items():
        if name == "_internal" or not await datasette.permission_allowed(
                request.actor, "view-database", name, default=True):
            continue
        listed.append({"name": name, "route": db.route, "is_mutable": db.is_mutable, "is_memory": db.is_memory})
    return Response.json(listed)


@hookimpl
def register_routes():
    return [
        (rf"^/-/{PLUGIN}/(?P<kind>thumbs|web)/(?P<sha256>[^/]+)\.jpg$", serve_image),
        (rf"^/-/{PLUGIN}/download/(?P<id>\d+)$", download),
        (rf"^/-/{PLUGIN}/download\.zip$", download),
        (r"^/-/databases(\.(?P<format>json))?$", databases),  # before Datasette's own
    ] + edit.ROUTES + pages.ROUTES + feed.ROUTES


@hookimpl
def get_metadata(datasette, key, database, table):
    """Archivists added with `ingest archivists add` sign in through datasette-auth-passwords.

    Only for lookups of "plugins" (what plugin_config asks): /-/metadata asks for everything
    (key None) and shows it to anyone, so the accounts' names never appear there."""
    if key != "plugins" or database or table:
        return None
    config = edit.auth_config(datasette)
    return {"plugins": {"datasette-auth-passwords": config}} if config else None


@hookimpl
def startup(datasette):
    async def inner():
        await asyncio.to_thread(public.publish_catalogues, datasette)
        if public.served(datasette):
            # Facet suggestions scan the whole photos table for each column on every grid page
            # (1.6 s of 3.4 s at 100,000 photos, bench/gallery.py); the gallery names its facets.
            datasette._settings["suggest_facets"] = False

    return inner


@hookimpl
def render_cell(value, column, table, database, datasette):
    if table == "photos" and column == "sha256" and isinstance(value, str) and _SHA.match(value):
        return thumbnail_html(datasette, value)
    return None


@hookimpl
def permission_allowed(datasette, actor, action, resource):
    """Only archivists open the catalogue; everyone reads (and queries) the public copy.

    Whatever the public copy does not hold cannot leak, so SQL is safe there; where a catalogue is
    served without its copy (no startup), SQL and the private tables stay closed."""
    if is_archivist(actor):
        return None
    database = resource[0] if isinstance(resource, tuple) else resource
    if database in public.catalogue_names(datasette):
        return False if action in ("view-database", "view-database-download", "view-table",
                                   "view-query", "execute-sql", "insert-row", "delete-row",
                                   "update-row", "create-table", "drop-table") else None
    if database in public.public_names(datasette):
        return None
    if action == "execute-sql":
        return False
    if action == "view-table" and isinstance(resource, tuple) and resource[1] in PRIVATE_TABLES:
        return False
    return None


@hookimpl
def prepare_jinja2_environment(env):
    from ..attribution import short_name

    env.filters["licence_short"] = short_name


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.static_plugins("ingest", "gallery.css")]


@hookimpl
def extra_js_urls(datasette):
    return [{"url": datasette.urls.static_plugins("ingest", "gallery.js"), "module": False}]


def permission_words(photo) -> list[str]:
    """What a licence lets a journalist do, in plain words."""
    from ..licences import catalogue

    lic = next((l for l in catalogue() if l.id == photo.licence_id), None)
    if lic is None or lic.id == "unknown":
        return ["No licence is stated: ask the photographer before any reuse."]
    if not lic.is_cc:
        return ["All rights reserved: reuse needs the photographer's permission."]
    words = ["Free to share and reuse, also commercially." if lic.allows_commercial
             else "Free to share and reuse for non-commercial purposes only."]
    if lic.id in ("CC0-1.0", "CC-PDM-1.0"):
        return words + ["No credit is required, but it is good practice."]
    words.append("You may adapt it (crop, edit, combine)." if lic.allows_adaptations
                 else "You may not share adapted versions (no crops or edits).")
    if lic.share_alike:
        words.append("Adaptations must be shared under the same licence.")
    words.append("Credit the photographer as shown below.")
    return words


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    """A photo's page gets its licence in words and its credit line, computed off the event loop."""
    if table != "photos" or request is None or view_name not in ("row", "table"):
        return {}
    if view_name == "table":
        if not is_archivist(request.actor):
            return {}
        query = "&".join(p for p in [f"_db={database}", request.query_string] if p)
        return {"gallery_batch_url": datasette.urls.path(f"/-/{PLUGIN}/batch") + "?" + query}

    async def inner():
        from ..downloads import load_photo, photo_credit

        pk = request.url_vars.get("pks", "")
        db, catalogue = public_db(datasette), catalogue_db(datasette)
        if db is None or catalogue is None or not pk.isdigit():
            return {}
        if not await visible(datasette, request.actor, "id", int(pk)):
            return {}
        try:
            photo = await on_catalogue(catalogue, lambda cat: load_photo(cat, int(pk)))
        except Exception:
            return {}
        page = datasette.absolute_url(request, datasette.urls.row(db.name, "photos", pk))
        editing = await edit.edit_context(datasette, request, int(pk))
        line = photo_credit(photo, datasette.metadata("title") or archive_name(), page)
        return {"gallery_photo": {
            "city": photo.city, "demonstration": photo.demonstration,
            "licence_name": photo.licence_name, "licence_url": photo.licence_url,
            "permissions": permission_words(photo),
            "credit": {"text": line.text, "html": line.html, "markdown": line.markdown},
        }, "gallery_edit": editing}

    return inner
