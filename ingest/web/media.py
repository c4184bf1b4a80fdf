"""The plugin's own routes beside its pages: thumbnails and web sizes from the store,
licence-carrying downloads, and Datasette's listings narrowed to what a visitor may open."""

from __future__ import annotations

import asyncio

from datasette.utils import tilde_decode
from datasette.utils.asgi import Forbidden, Response

from ingest.errors import ArchiveError
from ingest.media.jpeg import NotJpeg, strip_metadata
from ingest.outputs.export import SIZES, export, zip_bundle
from ingest.web import compat, permissions
from ingest.web.context import (
    SHA,
    TOKEN,
    archive_name,
    catalogue_db,
    image_url,
    on_catalogue,
    public_db,
    store_for,
    visible,
)
from ingest.web.urls import PRIVATE, absolute_url

# Derivatives are served stripped of every metadata segment: those stored before issue 13 was fixed
# may hold the original's comment. The suffix makes caches that revalidate fetch the clean bytes.
_ETAG_VERSION = "clean"
# A rendition token's URL dies with the photo's publication (catalogue/schema.py, migration 14), so
# its bytes never change and may be cached as immutable; for a day only, so that a shared cache that
# kept a withdrawn photo asks again (and gets a 404) by the next day even if nobody purges it.
PUBLIC_IMAGE = "public, max-age=86400, immutable"
# Archivists' images are named by sha256 and include withheld photos: never kept on disk, where a
# seized or shared computer would give them away.
ARCHIVIST_IMAGE = "private, no-store"


def _read_clean(path) -> bytes:
    return strip_metadata(path.read_bytes())


def _not_found() -> Response:
    return Response.text("Not found", status=404, headers={"Cache-Control": "no-store"})


async def serve_image(request, datasette) -> Response:
    """A thumbnail or web size from the store, with nothing but its pixels.

    /-/gallery/{thumbs,web}/<rendition>.jpg is the public URL: it resolves only while the public
    copy holds that token. The route's `sha256` part may instead be a photo's sha256, the URL of
    archivists' views of the catalogue (and of every image before migration 14): archivists get the
    image, uncached; anyone else is redirected to the photo's current public URL, or gets a 404 when
    the photo is not public, so the old URLs of a withdrawn photo are dead."""
    kind, name = request.url_vars["kind"], request.url_vars["sha256"]
    public = public_db(datasette)
    if TOKEN.match(name):
        row = (await public.execute("SELECT sha256 FROM photos WHERE rendition = ?", [name])).first() \
            if public is not None else None
        if row is None:
            return _not_found()
        sha, caching = row[0], PUBLIC_IMAGE
    elif SHA.match(name) and permissions.is_archivist(request.actor) and await visible(datasette, request.actor, "sha256", name):
        sha, caching = name, ARCHIVIST_IMAGE
    elif SHA.match(name) and public is not None:
        row = (await public.execute("SELECT rendition FROM photos WHERE sha256 = ?", [name])).first()
        if row is None:
            return _not_found()
        return Response.redirect(image_url(datasette, kind, row[0]), status=302,
                                 headers={"Cache-Control": "no-store"})
    else:
        return _not_found()
    path = store_for(datasette).derivative(kind, sha)
    etag = f'"{name}-{kind}-{_ETAG_VERSION}"'
    if request.headers.get("if-none-match") == etag:
        return Response("", status=304, headers={"ETag": etag, "Cache-Control": caching})
    try:
        body = await asyncio.to_thread(_read_clean, path)
    except (OSError, NotJpeg):
        return _not_found()
    return Response(body, content_type="image/jpeg", headers={"Cache-Control": caching, "ETag": etag})


MAX_ZIP = 200


async def download(request, datasette) -> Response:
    """A licence-carrying copy of one photo (`?size=web|original`), or a ZIP of several
    (`/-/gallery/download.zip?id=1&id=2`) with CREDITS.txt. Withheld photos do not exist here."""

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
    name = await archive_name(datasette)
    store = store_for(datasette)
    cacheable = True

    def page(photo_id: int) -> str:
        nonlocal cacheable
        found, public = absolute_url(datasette, request, datasette.urls.row(db.name, "photos", str(photo_id)))
        cacheable = cacheable and public
        return found

    try:
        files = await on_catalogue(catalogue, lambda cat: export(cat, store, ids, size, name, page))
    except (ArchiveError, OSError):
        return Response.text("Not found", status=404)
    # Private either way (a download is built per request); no-store when its links came from the request.
    caching = "private, max-age=300" if cacheable else PRIVATE
    if "id" in request.url_vars:
        filename, data, _ = files[0]
        mime = "image/png" if filename.endswith(".png") else "image/jpeg"
        return Response(data, content_type=mime, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": caching})
    data = await asyncio.to_thread(zip_bundle, files, name)
    return Response(data, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="photos-{len(files)}.zip"', "Cache-Control": caching})


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
    route = tilde_decode(request.url_vars["database"])
    db = next((d for d in datasette.databases.values() if d.route == route), None)
    if db is not None and db.name in permissions.closed_to(datasette, request.actor):
        raise Forbidden("You do not have permission to view this database")
    return await QueryListView.as_view(datasette)(request, send)
