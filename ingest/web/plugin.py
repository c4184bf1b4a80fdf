"""Datasette hooks: image routes from the store, thumbnails in the photos table, privacy defaults.

Hooks stay tiny; what they decide lives in plain helpers that tests call directly.
"""

from __future__ import annotations

import asyncio

from datasette import hookimpl

from ingest.outputs.credit import permission_words, short_name
from ingest.outputs.export import load_photo, photo_credit
from ingest.web import edit, feed, pages
from ingest.web import serving as public
from ingest.web.context import (
    DISTRIBUTION,
    PLUGIN,
    SHA,
    archive_name,
    catalogue_db,
    is_archivist,
    on_catalogue,
    public_db,
    thumbnail_html,
    visible,
)
from ingest.web.media import databases, download, serve_image
from ingest.web.urls import pin_host, public_url

# Tables that hold private data (source paths, raw metadata, audit): never shown to anonymous visitors.
PRIVATE_TABLES = {"photo_sources", "metadata", "problems", "ingest_runs", "corrections", "city_aliases", "settings",
                  "edits", "publish_log", "archivists"}
@hookimpl
def register_routes():
    return [
        (rf"^/-/{PLUGIN}/(?P<kind>thumbs|web)/(?P<sha256>[^/]+)\.jpg$", serve_image),
        (rf"^/-/{PLUGIN}/download/(?P<id>\d+)$", download),
        (rf"^/-/{PLUGIN}/download\.zip$", download),
        (r"^/-/databases(\.(?P<format>json))?$", databases),  # before Datasette's own
    ] + edit.ROUTES + pages.ROUTES + feed.ROUTES


@hookimpl
def asgi_wrapper(datasette):
    """Absolute URLs never follow the request's Host header (web/urls.py)."""
    return lambda app: pin_host(app, datasette)


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
    if table == "photos" and column == "sha256" and isinstance(value, str) and SHA.match(value):
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
    env.filters["licence_short"] = short_name
    env.finalize = pages.clean_finalize(env.finalize)


@hookimpl
def extra_css_urls(datasette):
    return [datasette.urls.static_plugins(DISTRIBUTION, "gallery.css")]


@hookimpl
def extra_js_urls(datasette):
    return [{"url": datasette.urls.static_plugins(DISTRIBUTION, "gallery.js"), "module": False}]


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
        path = datasette.urls.row(db.name, "photos", pk)
        page = public_url(datasette, path) or path  # never the Host header: Datasette caches this page publicly
        editing = await edit.edit_context(datasette, request, int(pk))
        line = photo_credit(photo, archive_name(datasette), page)
        return {"gallery_photo": {
            "city": photo.city, "demonstration": photo.demonstration,
            "licence_name": photo.licence_name, "licence_url": photo.licence_url,
            "permissions": permission_words(photo),
            "credit": {"text": line.text, "html": line.html, "markdown": line.markdown},
        }, "gallery_edit": editing}

    return inner
