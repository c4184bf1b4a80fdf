"""Datasette hooks: image routes from the store, thumbnails in the photos table, privacy defaults.

Hooks stay tiny; what they decide lives in plain helpers that tests call directly. They touch only
what the plugin serves (a catalogue and its public copy): any other database served beside them
behaves as in plain Datasette. The same code runs on Datasette 0.65 and 1.0; where the two
generations' hooks differ, each gets its own, defined only when the installed Datasette has it.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from datasette import hookimpl, hookspecs
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from ..store import Store
from . import compat, edit, feed, pages, permissions, public
from .permissions import is_archivist  # noqa: F401  (edit.py asks the plugin)

PLUGIN = "gallery"
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
    """The public copy (gallery.db's is /gallery); None when no catalogue is served (the plugin's
    pages, images and downloads then have nothing to show, whatever else Datasette serves)."""
    names = sorted(public.public_names(datasette))
    return datasette.databases.get(names[0]) if names else None


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
    name = await compat.instance_metadata(datasette, "title") or archive_name()
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
    """Datasette's /-/databases, listing only the databases this visitor may open, and without the
    paths, sizes and hashes of the gallery's own files (a server path can name a person).
    Any other database is listed as Datasette lists it."""
    ours = permissions.managed(datasette) | permissions.closed(datasette)
    listed = []
    for name, db in datasette.databases.items():
        if name == "_internal" or not await permissions.allowed(datasette, request.actor, "view-database", name):
            continue
        entry = {"name": name, "route": db.route, "is_mutable": db.is_mutable, "is_memory": db.is_memory}
        if name not in ours:
            entry = {"name": name, "route": db.route, "path": db.path, "size": db.size, "is_mutable": db.is_mutable,
                     "is_memory": db.is_memory, "hash": db.hash}
        listed.append(entry)
    return Response.json(compat.databases_listing(listed))


try:  # Datasette 1.0
    from datasette.views.stored_queries import QueryListView
except ImportError:
    QueryListView = None


async def query_list(request, send, datasette) -> Response:
    """Datasette 1.0's /<database>/-/queries, closed like the rest of the catalogue: 1.0a41 lists a
    database's stored queries without asking whether the visitor may see the database. Every
    other database's list is Datasette's own."""
    from datasette.utils import tilde_decode
    from datasette.utils.asgi import Forbidden

    route = tilde_decode(request.url_vars["database"])
    db = next((d for d in datasette.databases.values() if d.route == route), None)
    if db is not None and db.name in permissions.closed_to(datasette, request.actor):
        raise Forbidden("You do not have permission to view this database")
    return await QueryListView.as_view(datasette)(request, send)


@hookimpl
def register_routes():
    routes = [
        (rf"^/-/{PLUGIN}/(?P<kind>thumbs|web)/(?P<sha256>[^/]+)\.jpg$", serve_image),
        (rf"^/-/{PLUGIN}/download/(?P<id>\d+)$", download),
        (rf"^/-/{PLUGIN}/download\.zip$", download),
        (r"^/-/databases(\.(?P<format>json))?$", databases),  # before Datasette's own
    ]
    if QueryListView is not None:  # before Datasette's own
        routes.append((r"^/(?P<database>[^\/\.]+)/-/queries(\.(?P<format>json))?$", query_list))
    return routes + edit.ROUTES + pages.ROUTES + feed.ROUTES


if hasattr(hookspecs, "get_metadata"):  # Datasette 0.65
    @hookimpl
    def get_metadata(datasette, key, database, table):
        """Archivists added with `ingest archivists add` sign in through datasette-auth-passwords.

        Only for lookups of "plugins" (what plugin_config asks): /-/metadata asks for everything
        (key None) and shows it to anyone, so the accounts' names never appear there."""
        if key != "plugins" or database or table:
            return None
        config = edit.auth_config(datasette)
        return {"plugins": {compat.AUTH_PLUGIN: config}} if config else None


@hookimpl
def startup(datasette):
    async def inner():
        await asyncio.to_thread(public.publish_catalogues, datasette)
        if public.served(datasette):
            # Only when a catalogue is served, though the setting is the instance's: facet
            # suggestions scan the whole photos table for each column on every grid page (1.6 s
            # of 3.4 s at 100,000 photos, bench/gallery.py); the gallery names its facets.
            datasette._settings["suggest_facets"] = False
            if not hasattr(hookspecs, "get_metadata"):  # Datasette 1.0: no get_metadata hook
                compat.serve_accounts(datasette, edit.auth_config)

    return inner


@hookimpl
def render_cell(value, column, table, database, datasette):
    """The thumbnail in place of the hash, in the gallery's own photos tables only."""
    if (table == "photos" and column == "sha256" and isinstance(value, str) and _SHA.match(value)
            and database in permissions.managed(datasette)):
        return thumbnail_html(datasette, value)
    return None


if hasattr(hookspecs, "permission_allowed"):  # Datasette 0.65
    @hookimpl
    def permission_allowed(datasette, actor, action, resource):
        """Only archivists open the catalogue (permissions.closed_to); no opinion on anything else."""
        return permissions.decide(datasette, actor, resource[0] if isinstance(resource, tuple) else resource)


if hasattr(hookspecs, "permission_resources_sql"):  # Datasette 1.0
    @hookimpl
    def permission_resources_sql(datasette, actor, action):
        """Only archivists open the catalogue: deny rows for everyone else (permissions.deny_rows)."""
        return permissions.deny_rows(datasette, actor, action)


@hookimpl
def prepare_jinja2_environment(env):
    from ..attribution import short_name

    env.filters["licence_short"] = short_name


def styles_page(datasette, database: str | None) -> bool:
    """The gallery's CSS and JavaScript go on its own pages and its databases' pages (both style
    any photos table and fold any facets), not on another database's."""
    return bool(public.served(datasette)) and (database is None or database in permissions.managed(datasette))


@hookimpl
def extra_css_urls(datasette, database):
    return [datasette.urls.static_plugins("ingest", "gallery.css")] if styles_page(datasette, database) else []


@hookimpl
def extra_js_urls(datasette, database):
    if not styles_page(datasette, database):
        return []
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
    """The gallery's photos tables: `gallery_managed` (the templates named after them show the grid
    and the photo page only with it: a database of another's with the same name keeps Datasette's
    own), and a photo's licence in words and its credit line, computed off the event loop."""
    if (table != "photos" or request is None or view_name not in ("row", "table")
            or database not in permissions.managed(datasette)):
        return {}
    if view_name == "table":
        if not is_archivist(request.actor):
            return {"gallery_managed": True}
        query = "&".join(p for p in [f"_db={database}", request.query_string] if p)
        return {"gallery_managed": True,
                "gallery_batch_url": datasette.urls.path(f"/-/{PLUGIN}/batch") + "?" + query}

    async def inner():
        from ..downloads import load_photo, photo_credit

        pk = request.url_vars.get("pks", "")
        db, catalogue = public_db(datasette), catalogue_db(datasette)
        if db is None or catalogue is None or not pk.isdigit():
            return {"gallery_managed": True}
        if not await visible(datasette, request.actor, "id", int(pk)):
            return {"gallery_managed": True}
        try:
            photo = await on_catalogue(catalogue, lambda cat: load_photo(cat, int(pk)))
        except Exception:
            return {"gallery_managed": True}
        page = datasette.absolute_url(request, datasette.urls.row(db.name, "photos", pk))
        editing = await edit.edit_context(datasette, request, int(pk))
        line = photo_credit(photo, await compat.instance_metadata(datasette, "title") or archive_name(), page)
        return {"gallery_managed": True, "gallery_photo": {
            "city": photo.city, "demonstration": photo.demonstration,
            "licence_name": photo.licence_name, "licence_url": photo.licence_url,
            "permissions": permission_words(photo),
            "credit": {"text": line.text, "html": line.html, "markdown": line.markdown},
        }, "gallery_edit": editing}

    return inner


# What ingest/web/__init__.py hands Datasette: every hook defined above for the installed Datasette.
HOOKS = tuple(name for name, value in list(globals().items()) if hasattr(value, "datasette_impl"))
