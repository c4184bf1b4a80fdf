"""Datasette hooks: image routes from the store, thumbnails in the photos table, privacy defaults.

Hooks stay tiny; what they decide lives in plain helpers (context.py, permissions.py, media.py)
that tests call directly. They touch only what the plugin serves (a catalogue and its public copy):
any other database served beside them behaves as in plain Datasette. The same code runs on
Datasette 0.65 and 1.0; where the two generations' hooks differ, each gets its own, defined only
when the installed Datasette has it.
"""

from __future__ import annotations

import asyncio

from datasette import hookimpl, hookspecs

from ingest.outputs.credit import permission_words, short_name
from ingest.outputs import bundle
from ingest.outputs.export import load_photo, load_published, photo_credit
from ingest.web import (
    admin,
    auth,
    browse,
    edit,
    facets,
    feed,
    front,
    internals,
    invites,
    lang,
    limits,
    pages,
    permissions,
    review,
    serving,
    upload,
    viewer,
)
from ingest.web.context import (
    DISTRIBUTION,
    PLUGIN,
    SHA,
    TOKEN,
    archive_name,
    catalogue_db,
    image_column,
    on_catalogue,
    public_db,
    query_thumbnail,
    thumbnail_html,
    visible,
)
from ingest.web.media import QueryListView, databases, download, query_list, serve_image
from ingest.web.permissions import is_archivist
from ingest.web.urls import pin_host, public_url


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
    return routes + auth.ROUTES + edit.ROUTES + review.ROUTES + upload.ROUTES + invites.ROUTES + admin.ROUTES + pages.ROUTES + feed.ROUTES + browse.ROUTES + front.ROUTES


@hookimpl(hookwrapper=True)
def register_facet_classes():
    """Column facets counted once per public-copy version on the gallery's tables (facets.py)."""
    outcome = yield
    outcome.force_result([facets.swap(classes) for classes in outcome.get_result()])


@hookimpl
def asgi_wrapper(datasette):
    """Sessions checked against the accounts on every request, security headers (auth.py); visitors'
    SQL time-limited and a few at a time (limits.py); absolute URLs that never follow the request's
    Host header (urls.py); every page's language (lang.py). Outermost first: limits sees only
    sessions auth let through, and never a visitor's read of the search indexes' internal tables
    (internals.py). Outside them all, nothing answers from a public copy known to disagree with
    its catalogue (serving.gate)."""
    return lambda app: serving.gate(auth.wrap(internals.wrap(
        limits.wrap(pin_host(lang.wrap(app), datasette), datasette), datasette), datasette), datasette)


@hookimpl
def menu_links(datasette, actor):
    """A way to sign in, where a catalogue is served and nobody is signed in; uploads and "My photos"
    for photographers and archivists; the review queue for archivists."""
    if not serving.served(datasette):
        return []
    links = []
    if permissions.may_upload(actor):
        links += [{"href": datasette.urls.path(upload.ROUTE), "label": "Upload photos"},
                  {"href": datasette.urls.path(upload.MINE), "label": "My photos"}]
    if is_archivist(actor):
        links.append({"href": datasette.urls.path(review.ROUTE), "label": "Review queue"})
    if permissions.is_admin(actor):
        links += [{"href": datasette.urls.path(invites.ROUTE), "label": "Invite photographers"},
                  {"href": datasette.urls.path(admin.ACCOUNTS), "label": "Accounts"},
                  {"href": datasette.urls.path(admin.SETTINGS), "label": "Settings"}]
    if actor:
        return links
    return [{"href": datasette.urls.path("/-/login"), "label": "Sign in"}]


@hookimpl
def startup(datasette):
    async def inner():
        await asyncio.to_thread(serving.publish_catalogues, datasette)
        await asyncio.to_thread(serving.find_bundles, datasette)
        if serving.served(datasette):
            # Only when a catalogue is served, though the setting is the instance's: facet
            # suggestions scan the whole photos table for each column on every grid page (1.6 s
            # of 3.4 s at 100,000 photos, bench/gallery.py); the gallery names its facets.
            datasette._settings["suggest_facets"] = False
            # Uploads a stopped server left queued are imported, and day-old partial ones dropped.
            upload.worker_for(datasette)

    return inner


@hookimpl
def prepare_connection(conn, database, datasette):
    if database in serving.public_names(datasette):
        serving.tune(conn)


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    """The thumbnail in place of the hash, in the gallery's own photos tables only (named by the
    row's rendition token in the public copy, context.image_column); in the gallery's canned
    queries, the `photo` column (a rendition token) as the thumbnail linking to the photo's page."""
    if (table is None and column == "photo" and isinstance(value, str) and TOKEN.match(value)
            and database in permissions.managed(datasette)):
        return query_thumbnail(datasette, database, row, value)
    if (table == "photos" and column == "sha256" and isinstance(value, str) and SHA.match(value)
            and database in permissions.managed(datasette)):
        try:
            name = row[image_column(datasette, database)]
        except (IndexError, KeyError):  # the column left out (?_col=): the hash as it is
            return None
        return thumbnail_html(datasette, name) if name else None
    return None


if hasattr(hookspecs, "permission_allowed"):  # Datasette 0.65
    @hookimpl
    def permission_allowed(datasette, actor, action, resource):
        """Only archivists open the catalogue (permissions.closed_to); no opinion on anything else."""
        if isinstance(resource, tuple):
            return permissions.decide(datasette, actor, resource[0], resource[1], action)
        return permissions.decide(datasette, actor, resource)


if hasattr(hookspecs, "permission_resources_sql"):  # Datasette 1.0
    @hookimpl
    def permission_resources_sql(datasette, actor, action):
        """Only archivists open the catalogue: deny rows for everyone else (permissions.deny_rows)."""
        return permissions.deny_rows(datasette, actor, action)


@hookimpl
def prepare_jinja2_environment(env, datasette):
    env.filters["licence_short"] = short_name
    env.globals["gallery_image_column"] = lambda database: image_column(datasette, database)
    env.finalize = pages.clean_finalize(env.finalize)


def styles_page(datasette, database: str | None) -> bool:
    """The gallery's CSS and JavaScript go on its own pages and its databases' pages (both style
    any photos table and fold any facets), not on another database's."""
    return serving.publishing(datasette) and (database is None or database in permissions.managed(datasette))


@hookimpl
def extra_css_urls(datasette, database):
    return [datasette.urls.static_plugins(DISTRIBUTION, "gallery.css")] if styles_page(datasette, database) else []


@hookimpl
def extra_js_urls(datasette, database):
    if not styles_page(datasette, database):
        return []
    return [{"url": datasette.urls.static_plugins(DISTRIBUTION, "gallery.js"), "module": False}]


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
        pk = request.url_vars.get("pks", "")
        db, catalogue = public_db(datasette), catalogue_db(datasette)
        folder = serving.bundle_of(datasette, db) if catalogue is None else None
        if db is None or (catalogue is None and folder is None) or not pk.isdigit():
            return {"gallery_managed": True}
        if not await visible(datasette, request.actor, "id", int(pk)):
            return {"gallery_managed": True}
        try:  # a bundle server has no catalogue: the public copy's facts (export.load_published)
            photo = await on_catalogue(catalogue or db, lambda cat: (load_published if folder else load_photo)(cat, int(pk)))
        except Exception:
            return {"gallery_managed": True}
        path = datasette.urls.row(db.name, "photos", pk)
        page = public_url(datasette, path) or path  # never the Host header: Datasette caches this page publicly
        editing = await edit.edit_context(datasette, request, int(pk))
        archive = await archive_name(datasette)
        line = photo_credit(photo, archive, page)
        shown = (await db.execute("SELECT id, date, demonstration_id, rendition, width, height FROM photos WHERE id = ?",
                                  [int(pk)])).first() if database == db.name else None
        return {"gallery_managed": True, "gallery_viewer": await viewer.viewer_context(
            datasette, request, db, shown, photo, line.text, archive) if shown else None, "gallery_photo": {
            "city": photo.city, "demonstration": photo.demonstration,
            "licence_name": photo.licence_name, "licence_url": photo.licence_url,
            "permissions": permission_words(photo),
            "original": folder is None or bundle.published_path(folder, photo, "original") is not None,
            "credit": {"text": line.text, "html": line.html, "markdown": line.markdown},
        }, "gallery_edit": editing}

    return inner


# What ingest/web/__init__.py hands Datasette: every hook defined above for the installed Datasette.
HOOKS = tuple(name for name, value in list(globals().items()) if hasattr(value, "datasette_impl"))
