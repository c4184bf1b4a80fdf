"""Photographers upload through the browser: a resumable, chunked protocol, and "My photos".

    POST /-/gallery/upload/files        {name, size, sha256, batch, defaults} -> 200 {state: duplicate}
                                        (those bytes are in the archive: nothing is sent), or
                                        201/200 {id, offset, chunk} (a new upload, or the one to resume)
    PUT  /-/gallery/upload/files/<id>?offset=N   raw bytes at N -> {offset}; 409 {offset} when N is
                                        not what the server holds (the browser resumes from there)
    POST /-/gallery/upload/files/<id>/finish     -> 202 {state: queued}: size and SHA-256 checked
    GET  /-/gallery/upload/files/<id>   -> {state, offset, photo, problem}

Only signed-in photographers, archivists and admins (permissions.may_upload); each sees only
their own uploads (another's id is a 404). Every write carries the `x-csrftoken` header (chunks
are raw bodies, never multipart: asgi-csrf 0.11 answers 500 to a multipart POST without it).
Limits are archive settings (catalogue/uploads.limit_refusal), and a file is refused before its
first byte when the disk would be left with less than `upload-min-free-mb`. Finished files are
imported by one worker at a time in a process of its own (importer/uploaded.py), held for review.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import weakref
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Response

from ingest.archive import Archive
from ingest.catalogue import settings, uploads
from ingest.catalogue.corrections import last_edit
from ingest.catalogue.csv_roundtrip import current_cells
from ingest.catalogue.registry import known_demo, load_registry
from ingest.media import staging
from ingest.reference.licences import exact_licence
from ingest.web import serving
from ingest.web.context import (
    PLUGIN,
    archive_name,
    catalogue_db,
    catalogue_path,
    on_catalogue,
    public_db,
    store_for,
)
from ingest.web.edit import form_choices, may_edit
from ingest.web.permissions import is_archivist, may_upload

ROUTE = f"/-/{PLUGIN}/upload"
MINE = f"/-/{PLUGIN}/mine"
CHUNK = 4 * 1024 * 1024          # what the page sends per request
MAX_CHUNK = 16 * 1024 * 1024     # what a request may carry
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[0-9a-f]{32}$")


def staging_root(datasette) -> Path:
    """The server's folder for bytes in transit: the plugin's `uploads` setting, else `uploads/`
    beside the catalogue (never inside the store, whose folder `ingest PATH` refuses to walk)."""
    config = datasette.plugin_config(PLUGIN) or {}
    if config.get("uploads"):
        return Path(config["uploads"])
    return Path(catalogue_path(datasette) or ".").resolve().parent / "uploads"


def _error(message: str, status: int, **extra: Any) -> Response:
    return Response.json({"ok": False, "error": message, **extra}, status=status)


def _refused(datasette, request) -> Response | None:
    if not may_upload(request.actor):
        return _error("Sign in as a photographer or an archivist to upload.", 403)
    if catalogue_db(datasette) is None or public_db(datasette) is None:
        return _error("No gallery is served here.", 404)
    return None


async def _write(datasette, fn):
    """FN(db) on a connection of its own, in a thread (a CLI import may hold the write lock for a
    moment: the connection's busy timeout waits for it)."""
    path = catalogue_path(datasette)

    def run():
        with Archive(path).connection() as db:
            return fn(db)

    return await asyncio.to_thread(run)


async def _json_body(request, cap: int = 64 * 1024) -> dict[str, Any] | None:
    body = await _body(request, cap)
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def _body(request, cap: int) -> bytes | None:
    """The request's body, or None when it is longer than CAP (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        return None
    parts, total = [], 0
    while True:
        message = await request.receive()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > cap:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


def _defaults(db, raw: Any) -> tuple[dict[str, str], str | None]:
    """The batch form's defaults, checked: an exact licence, a creator, a registered demonstration
    (or a new one, said so). Returns (defaults, why refused)."""
    raw = raw if isinstance(raw, dict) else {}
    out: dict[str, str] = {}
    if (licence := str(raw.get("licence") or "").strip()):
        if not (found := exact_licence(licence)):
            return {}, f"{licence!r} is not a licence the archive knows"
        out["licence"] = found
    if (creator := " ".join(str(raw.get("creator") or "").split())):
        out["creator"] = creator[:200]
    if (demo := " ".join(str(raw.get("demo") or "").split())):
        if not raw.get("new_demo") and not known_demo(load_registry(db), demo):
            return {}, f"{demo!r} is not a registered demonstration (choose one, or say it is new)"
        out["demo"] = demo[:200]
    return out, None


# ---------------------------------------------------------------- the protocol

async def create(request, datasette) -> Response:
    if (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method != "POST":
        return _error("POST a file's name, size and sha256", 405)
    data = await _json_body(request)
    if data is None:
        return _error("Send JSON: {name, size, sha256, batch, defaults}.", 400)
    name = staging.safe_name(str(data.get("name") or ""))
    size, sha = data.get("size"), str(data.get("sha256") or "").lower()
    batch = str(data.get("batch") or "")[:64] or "default"
    if not isinstance(size, int) or size <= 0 or not _SHA.match(sha):
        return _error(f"{name}: a file needs its size (above 0 bytes) and its SHA-256.", 400)
    account = request.actor["id"]
    root = staging_root(datasette)

    def decide(db):
        if (photo := uploads.in_archive(db, sha)) is not None:
            return {"state": "duplicate", "name": name, "yours": uploads.uploader(db, photo) == account}, 200
        earlier = uploads.open_upload(db, account, sha)
        if earlier is not None and earlier.state != "receiving":
            return {**earlier.as_json(), "offset": earlier.size}, 200
        if earlier is not None:
            held = staging.received(staging.staged_path(root, earlier.id, earlier.file_name))
            return {**earlier.as_json(), "offset": held, "chunk": CHUNK}, 200
        defaults, why = _defaults(db, data.get("defaults"))
        if why:
            return {"ok": False, "error": why}, 400
        if (why := uploads.limit_refusal(db, account, batch, size)):
            return {"ok": False, "error": f"{name}: {why}"}, 413
        reserve = settings.upload_limit(db, "upload-min-free-mb") * 1_000_000
        if staging.free_bytes(root) - size < reserve:
            return {"ok": False, "error": f"{name}: the server's disk is too full to take it; nothing was sent "
                                          "(an archivist must make room)"}, 507
        made = uploads.create(db, account, batch, name, size, sha, defaults)
        return {**made.as_json(), "offset": 0, "chunk": CHUNK}, 201

    answer, status = await _write(datasette, decide)
    return Response.json(answer, status=status)


async def _own(datasette, request, upload_id: str) -> uploads.Upload | None:
    """The upload, if it is this actor's (anyone else's is as if it did not exist)."""
    if not _ID.match(upload_id):
        return None
    found = await on_catalogue(catalogue_db(datasette), lambda db: uploads.get(db, upload_id))
    return found if found is not None and found.account == request.actor["id"] else None


async def one(request, datasette) -> Response:
    """GET: where the upload stands; PUT: a chunk of its bytes at ?offset=N."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    upload = await _own(datasette, request, request.url_vars["id"])
    if upload is None:
        return _error("No such upload.", 404)
    root = staging_root(datasette)
    path = staging.staged_path(root, upload.id, upload.file_name)
    if request.method == "GET":
        held = await asyncio.to_thread(staging.received, path) if upload.state == "receiving" else upload.size
        return Response.json({**upload.as_json(), "offset": held})
    if request.method != "PUT":
        return _error("PUT the file's bytes, or GET where it stands", 405)
    if upload.state != "receiving":
        return Response.json({**upload.as_json(), "offset": upload.size}, status=409)
    offset = request.args.get("offset", "")
    if not offset.isdigit():
        return _error("Say where this chunk goes: ?offset=N.", 400)
    data = await _body(request, MAX_CHUNK)
    if data is None:
        return _error(f"A chunk is at most {MAX_CHUNK // (1024 * 1024)} MiB.", 413)

    def write():
        reserve = 64 * 1_000_000  # a chunk never fills the disk to the last byte
        if staging.free_bytes(root) - len(data) < reserve:
            raise OSError("the server's disk is full")
        return staging.append(path, int(offset), data, upload.size)

    try:
        held = await asyncio.to_thread(write)
    except ValueError:
        return Response.json({"ok": False, "error": "That is not where the upload stands; resume from offset.",
                              "offset": await asyncio.to_thread(staging.received, path)}, status=409)
    except OverflowError:
        return _error(f"{upload.file_name}: more bytes than the {upload.size} announced.", 400)
    except OSError as e:
        return _error(f"{upload.file_name}: not stored ({e.strerror or e}); try again later.", 507)
    return Response.json({"id": upload.id, "offset": held})


async def finish(request, datasette) -> Response:
    """All bytes sent: check them against the size and hash announced, then queue the import."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method != "POST":
        return _error("POST to finish an upload", 405)
    upload = await _own(datasette, request, request.url_vars["id"])
    if upload is None:
        return _error("No such upload.", 404)
    if upload.state != "receiving":
        return Response.json({**upload.as_json(), "offset": upload.size})
    root = staging_root(datasette)
    path = staging.staged_path(root, upload.id, upload.file_name)
    held = await asyncio.to_thread(staging.received, path)
    if held != upload.size:
        return Response.json({"ok": False, "error": f"{upload.file_name}: {held} of {upload.size} bytes received",
                              "offset": held}, status=409)
    digest = await asyncio.to_thread(staging.sha256_of, path)
    if digest != upload.sha256:
        await asyncio.to_thread(staging.discard, root, upload.id)
        await _write(datasette, lambda db: uploads.mark(db, upload.id, "problem",
                                                        problem="its bytes arrived damaged (SHA-256 differs); send it again"))
        return _error(f"{upload.file_name}: the bytes received differ from the file's (SHA-256); send it again.", 422)
    await _write(datasette, lambda db: uploads.mark(db, upload.id, "queued"))
    worker_for(datasette).kick()
    return Response.json({**upload.as_json(), "state": "queued", "offset": upload.size}, status=202)


# ---------------------------------------------------------------- the import worker

class Worker:
    """One import of uploads at a time per server, in a process of its own, off the event loop.
    `kick` after queueing; the thread imports until nothing is queued, then waits. It also drops
    partial uploads nobody has added to for a day."""

    def __init__(self, datasette):
        self.datasette = weakref.ref(datasette)
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="gallery-uploads", daemon=True)
        self.thread.start()

    def kick(self) -> None:
        self.wake.set()

    def _loop(self) -> None:
        self.wake.set()  # at start: whatever a stopped server left queued, and stale partials
        while True:
            self.wake.wait(timeout=3600)
            self.wake.clear()
            datasette = self.datasette()
            if datasette is None:
                return
            try:
                run_imports(datasette)
            except Exception as e:  # the next kick tries again; the server goes on
                print(f"gallery: uploads not imported: {e}", file=sys.stderr)
            del datasette


_one_import = threading.Lock()  # one import of uploads at a time in this server, whoever asks


def run_imports(datasette) -> None:
    """Import what is queued (in a child process, waiting for its turn behind any CLI import),
    drop day-old partial uploads, and republish."""
    with _one_import:
        _run_imports(datasette)


def _run_imports(datasette) -> None:
    path = catalogue_path(datasette)
    if path is None:
        return
    root = staging_root(datasette)
    with Archive(path).connection() as db:
        partial = uploads.in_state(db, "receiving")
        old = staging.stale(root, [u.id for u in partial if _older_than_a_day(u.created_at)])
        for upload_id in old:
            staging.discard(root, upload_id)
        if old:
            uploads.forget(db, old)
        queued = bool(uploads.in_state(db, "queued"))
    if not queued:
        return
    run = importer_run(datasette)
    if run() < 0:
        isolate_crash(path, root, run)
    serving.refresh_now(datasette)


def importer_run(datasette):
    """A function that runs the upload importer's child process (with extra arguments) and returns
    its exit status, negative when a signal killed it."""
    package = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "ingest.importer.uploaded", "--db", catalogue_path(datasette),
               "--store", str(store_for(datasette).root), "--staging", str(staging_root(datasette))]

    def run(*extra: str) -> int:
        return subprocess.run(command + list(extra), env=env, check=False, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
    return run


def isolate_crash(path: str, root: Path, run) -> None:
    """A run killed by a signal (a decoder's crash, the kernel's out-of-memory killer) is retried one
    file at a time, so the one file that kills it is named as a problem instead of stopping every
    later batch; the others import. An error that is not a crash (the disk, the catalogue) leaves the
    uploads queued for the next try: nothing is lost."""
    with Archive(path).connection() as db:
        left = [u.id for u in uploads.in_state(db, "queued")]
    for upload_id in left:
        if run("--only", upload_id) >= 0:
            continue
        with Archive(path).connection() as db:
            found = uploads.get(db, upload_id)
            if found is not None and found.state == "queued":
                uploads.mark(db, upload_id, "problem",
                             problem="reading this file stopped the import (the decoder crashed); it was not imported")
        staging.discard(root, upload_id)


def _older_than_a_day(stamp: str) -> bool:
    try:
        made = datetime.fromisoformat(stamp)
    except ValueError:
        return True
    return datetime.now(timezone.utc) - made > timedelta(days=1)


_workers: "weakref.WeakKeyDictionary[Any, Worker]" = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def worker_for(datasette) -> Worker:
    with _workers_lock:
        if datasette not in _workers:
            _workers[datasette] = Worker(datasette)
        return _workers[datasette]


# ---------------------------------------------------------------- the pages

async def page(request, datasette) -> Response:
    """The upload page: batch defaults (prefilled from this account's last upload), the drop zone."""
    if not may_upload(request.actor):
        return Response.redirect(datasette.urls.path("/-/login") + f"?next={ROUTE}")
    if catalogue_db(datasette) is None or public_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    account = request.actor["id"]

    def load(db):
        _, licences = form_choices(db)
        names = [r[0] for r in db.execute("SELECT name FROM demonstrations WHERE name IS NOT NULL "
                                          "AND provisional = 0 ORDER BY date DESC, name")]
        return names, licences, uploads.last_defaults(db, account)

    demos, licences, last = await on_catalogue(catalogue_db(datasette), load)
    return Response.html(await datasette.render_template("gallery-upload.html", {
        "demonstrations": demos, "licences": licences, "last": last, "chunk": CHUNK,
        "files_url": datasette.urls.path(f"{ROUTE}/files"), "mine_url": datasette.urls.path(MINE),
        "archive_title": await archive_name(datasette),
    }, request=request))


async def mine(request, datasette) -> Response:
    """My photos: this account's uploads and what became of each."""
    if not may_upload(request.actor):
        return Response.redirect(datasette.urls.path("/-/login") + f"?next={MINE}")
    if catalogue_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    account = request.actor["id"]
    rows = await on_catalogue(catalogue_db(datasette), lambda db: uploads.mine(db, account))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return Response.html(await datasette.render_template("gallery-mine.html", {
        "rows": rows, "counts": counts, "upload_url": datasette.urls.path(ROUTE), "archivist": is_archivist(request.actor),
        "archive_title": await archive_name(datasette),
    }, request=request))


async def mine_photo(request, datasette) -> Response:
    """One of my photos: its web size, its state, and while it waits, the form to correct it."""
    if not may_upload(request.actor):
        return Response.redirect(datasette.urls.path("/-/login") + f"?next={MINE}")
    catalogue = catalogue_db(datasette)
    if catalogue is None:
        return Response.text("No gallery is served here", status=404)
    photo_id, account = int(request.url_vars["id"]), request.actor["id"]

    def load(db):
        if uploads.uploader(db, photo_id) != account and not is_archivist(request.actor):
            return None
        current = current_cells(db, photo_id)
        state, sha = db.execute("SELECT state, sha256 FROM photos WHERE id = ?", [photo_id]).fetchone()
        demos, licences = form_choices(db)
        return {"current": current, "state": state, "sha256": sha, "demonstrations": demos, "licences": licences,
                "editable": may_edit(db, request.actor, photo_id), "seen": last_edit(db, [photo_id])}

    found = await on_catalogue(catalogue, load)
    if found is None:
        return Response.text("No such photo among yours", status=404)
    return Response.html(await datasette.render_template("gallery-mine-photo.html", {
        **found, "words": uploads.STATE_WORDS.get(found["state"], found["state"]), "mine_url": datasette.urls.path(MINE),
        "archive_title": await archive_name(datasette),
    }, request=request))


ROUTES = [
    (rf"^{ROUTE}$", page),
    (rf"^{ROUTE}/files$", create),
    (rf"^{ROUTE}/files/(?P<id>[^/]+)$", one),
    (rf"^{ROUTE}/files/(?P<id>[^/]+)/finish$", finish),
    (rf"^{MINE}$", mine),
    (rf"^{MINE}/(?P<id>\d+)$", mine_photo),
]
