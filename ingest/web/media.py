"""The plugin's own routes beside its pages: thumbnails and web sizes from the store,
licence-carrying downloads, and Datasette's listings narrowed to what a visitor may open."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import AsyncIterator, Callable

from datasette.utils import tilde_decode
from datasette.utils.asgi import Forbidden, Response

from ingest.catalogue import faces, uploads
from ingest.errors import ArchiveError
from ingest.media.jpeg import NotJpeg
from ingest.outputs import bundle
from ingest.outputs.export import (
    SIZES,
    PhotoInfo,
    ZipStream,
    load_public,
    load_published,
    public_file,
    source_path,
)
from ingest.web import compat, limits, permissions, serving
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


def _not_found() -> Response:
    return Response.text("Not found", status=404, headers={"Cache-Control": "no-store"})


async def _own_upload(datasette, actor, sha256: str) -> bool:
    catalogue = catalogue_db(datasette)
    if catalogue is None:
        return False
    return await on_catalogue(catalogue, lambda db: uploads.owns_image(db, actor["id"], sha256))


async def serve_image(request, datasette) -> Response:
    """A thumbnail or web size from the store, with nothing but its pixels.

    /-/gallery/{thumbs,web}/<rendition>.jpg is the public URL: it resolves only while the public
    copy holds that token. The route's `sha256` part may instead be a photo's sha256, the URL of
    archivists' views of the catalogue (and of every image before migration 14): archivists get the
    image, uncached; anyone else is redirected to the photo's current public URL, or gets a 404 when
    the photo is not public, so the old URLs of a withdrawn photo are dead."""
    kind, name = request.url_vars["kind"], request.url_vars["sha256"]
    public = public_db(datasette)
    boxes: list = []
    folder = serving.bundle_of(datasette, public)
    if folder is not None and TOKEN.match(name):
        return await _bundle_image(public, folder, kind, name)
    if TOKEN.match(name):
        row = (await public.execute("SELECT sha256, id FROM photos WHERE rendition = ?", [name])).first() \
            if public is not None else None
        catalogue = catalogue_db(datasette)
        if row is None or catalogue is None:
            return _not_found()
        sha, caching = row[0], PUBLIC_IMAGE
        try:  # the catalogue's boxes now; the token changes with them, so they are this URL's
            boxes = await on_catalogue(catalogue, lambda db: faces.to_obscure(db, row[1]))
        except ArchiveError:
            return _not_found()
    elif SHA.match(name) and permissions.is_archivist(request.actor) and await visible(datasette, request.actor, "sha256", name):
        sha, caching = name, ARCHIVIST_IMAGE
    elif SHA.match(name) and permissions.is_photographer(request.actor) and await _own_upload(datasette, request.actor, name):
        sha, caching = name, ARCHIVIST_IMAGE  # a photographer's own photo, public or not: theirs to see
    elif SHA.match(name) and public is not None:
        row = (await public.execute("SELECT rendition FROM photos WHERE sha256 = ?", [name])).first()
        if row is None:
            return _not_found()
        return Response.redirect(image_url(datasette, kind, row[0]), status=302,
                                 headers={"Cache-Control": "no-store"})
    else:
        return _not_found()
    etag = f'"{name}-{kind}-{_ETAG_VERSION}"'
    if request.headers.get("if-none-match") == etag:
        return Response("", status=304, headers={"ETag": etag, "Cache-Control": caching})
    try:
        # made per request from the derivative: nothing new is kept on disk, and a withdrawn photo
        # leaves no copy behind (a published bundle keeps its files: outputs/bundle.py)
        body = await asyncio.to_thread(bundle.rendition, store_for(datasette), kind, sha, name, boxes)
    except (OSError, NotJpeg):
        return _not_found()
    return Response(body, content_type="image/jpeg", headers={"Cache-Control": caching, "ETag": etag})


async def _bundle_image(db, folder: Path, kind: str, token: str) -> Response:
    """A server of a published bundle (`ingest publish DIR`, outputs/bundle.py) has no catalogue: its
    renditions are files named by token beside the database, served while the database holds the
    token (a withdrawal takes it out before its files go)."""
    held = (await db.execute("SELECT 1 FROM photos WHERE rendition = ?", [token])).first()
    if held is None:
        return _not_found()
    try:
        body = await asyncio.to_thread((folder / "static" / kind / f"{token}.jpg").read_bytes)
    except OSError:
        return _not_found()
    return Response(body, content_type="image/jpeg", headers={"Cache-Control": PUBLIC_IMAGE, "ETag": f'"{token}-{kind}"'})


MAX_ZIP = 200
MAX_ZIPS = 2            # ZIPs being made at once, server-wide: each holds one photo's copy at a time
ZIP_WAITING = 4         # more wait their turn, each at most ZIP_WAIT_SECONDS; beyond that, 429
ZIP_WAIT_SECONDS = 5.0
ZIP_RETRY_AFTER = 10
ZIP_BUSY = "too many downloads at once; try again"
# Each ZIP is sent at most this fast (64 Mbit/s, more than most visitors' lines take): making one is
# cheap (reading files, a CRC), pushing its bytes is what costs the server, unpaced, a core's worth
# next to the pages. An 800 MB ZIP of 200 originals takes 100 s.
ZIP_BYTES_PER_SECOND = 8 * 2**20
ZIP_PIECE = 256 * 1024    # sent in pieces of this size, so the pace is even


class StreamedResponse(Response):
    """A response sent while its body is made, chunk by chunk (Datasette's AsgiStream writes text
    only). The body starts once a slot of `gate` is free, and holds it until the last byte; when
    none comes free in time the answer is 429 instead. A Response, so Datasette can add cookies."""

    def __init__(self, chunks: Callable[[], AsyncIterator[bytes]], gate: limits.Gate, *, content_type: str,
                 headers: dict, busy: str, retry_after: int):
        super().__init__(b"", headers=headers, content_type=content_type)
        self.chunks, self.gate, self.busy, self.retry_after = chunks, gate, busy, retry_after

    async def asgi_send(self, send) -> None:
        async with self.gate.slot() as ok:
            if not ok:
                return await limits.too_busy(send, self.busy, self.retry_after)
            headers = {**self.headers, "content-type": self.content_type}
            raw = [[k.encode("utf-8"), v.encode("utf-8")] for k, v in headers.items()]
            raw += [[b"set-cookie", c.encode("utf-8")] for c in self._set_cookie_headers]
            await send({"type": "http.response.start", "status": self.status, "headers": raw})
            async for chunk in self.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def paced(parts: list[bytes], sent: list[int], started: float, rate: float) -> AsyncIterator[bytes]:
    """`parts` in ZIP_PIECE pieces, no faster than `rate` bytes a second since `started` (`sent`
    counts the bytes sent so far, across calls)."""
    for part in parts:
        view = memoryview(part)
        for at in range(0, len(view), ZIP_PIECE):
            piece = bytes(view[at:at + ZIP_PIECE])
            ahead = (sent[0] + len(piece)) / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
            sent[0] += len(piece)
            yield piece


def zip_chunks(photos: list[PhotoInfo], copy: Callable[[PhotoInfo], tuple], archive_name: str,
               rate: float = ZIP_BYTES_PER_SECOND):
    """The ZIP's bytes, photo by photo: each copy is made, written and sent before the next is
    made (off the event loop, and off Datasette's SQL threads, which the pages need), at `rate`."""

    async def chunks() -> AsyncIterator[bytes]:
        stream, sent, started = ZipStream(archive_name), [0], time.monotonic()
        for photo in photos:
            try:
                parts = await asyncio.to_thread(lambda p=photo: stream.add(*copy(p)))
            except (ArchiveError, OSError) as e:  # gone since the download began: say so in CREDITS.txt
                print(f"gallery: ZIP without photo {photo.id}: {e}", file=sys.stderr)
                stream.skip(photo.id, "it could not be read")
                continue
            async for piece in paced(parts, sent, started, rate):
                yield piece
            del parts
        async for piece in paced(stream.finish(), sent, started, rate):
            yield piece

    return chunks


async def download(request, datasette) -> Response:
    """A licence-carrying copy of one photo (`?size=web|original`), or a ZIP of several
    (`/-/gallery/download.zip?id=1&id=2`) with CREDITS.txt, streamed one photo at a time and at
    most MAX_ZIPS at once. Withheld photos do not exist here."""

    size = request.args.get("size", "original")
    if size not in SIZES:
        return Response.text(f"size must be one of {', '.join(SIZES)}", status=400)
    raw = [request.url_vars["id"]] if "id" in request.url_vars else request.args.getlist("id")
    if not raw or not all(r.isdigit() for r in raw) or len(raw) > MAX_ZIP:
        return Response.text(f"give 1 to {MAX_ZIP} photo ids", status=400)
    ids = list(dict.fromkeys(int(r) for r in raw))
    db, catalogue = public_db(datasette), catalogue_db(datasette)
    folder = serving.bundle_of(datasette, db) if catalogue is None else None
    if db is None or (catalogue is None and folder is None):
        return Response.text("Not found", status=404)
    for photo_id in ids:
        if not await visible(datasette, request.actor, "id", photo_id):
            return Response.text("Not found", status=404)
    name = await archive_name(datasette)
    store = store_for(datasette)
    # Private either way (a download is built per request); no-store when its links come from the
    # request (no public address configured), as they are decided before the first byte is sent.
    caching = "private, max-age=300" if absolute_url(datasette, request, "/")[1] else PRIVATE

    def page(photo_id: int) -> str:
        return absolute_url(datasette, request, datasette.urls.row(db.name, "photos", str(photo_id)))[0]

    def copy(photo: PhotoInfo) -> tuple:
        if folder is not None:  # a bundle server: from the bundle's files (outputs/bundle.py)
            return bundle.published_file(folder, photo, size, name, page)
        return public_file(store, photo, size, name, page)

    def present(photo: PhotoInfo) -> bool:
        path = bundle.published_path(folder, photo, size) if folder is not None else source_path(store, photo, size)
        return path is not None and path.is_file()

    gate = limits.gate_for(datasette, "zip", MAX_ZIPS, ZIP_WAITING, ZIP_WAIT_SECONDS)
    try:
        if folder is not None:
            photos = await on_catalogue(db, lambda pub: [load_published(pub, i) for i in ids])
        else:
            photos = await on_catalogue(catalogue, lambda cat: load_public(cat, ids))
        if not all(await asyncio.to_thread(lambda: [present(p) for p in photos])):
            raise ArchiveError("a stored file is missing")
        if "id" in request.url_vars:
            if size == "web" or folder is not None or (photos[0].format == "JPEG" and not photos[0].obscure):  # cheap: no decode
                filename, data, _ = await asyncio.to_thread(copy, photos[0])
            else:  # decoded in full (PNG, TIFF, HEIC ... originals): counts like a ZIP being made
                async with gate.slot() as ok:
                    if not ok:
                        return Response.text(ZIP_BUSY + "\n", status=429, headers={"Retry-After": str(ZIP_RETRY_AFTER)})
                    filename, data, _ = await asyncio.to_thread(copy, photos[0])
    except (ArchiveError, OSError):
        return Response.text("Not found", status=404)
    if "id" in request.url_vars:
        mime = "image/png" if filename.endswith(".png") else "image/jpeg"
        return Response(data, content_type=mime, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": caching})
    return StreamedResponse(zip_chunks(photos, copy, name), gate, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="photos-{len(photos)}.zip"', "Cache-Control": caching},
        busy=ZIP_BUSY, retry_after=ZIP_RETRY_AFTER)


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
