"""Serving a catalogue means serving its public copy.

At startup every catalogue Datasette was given (`datasette gallery.db` or `ingest serve`) is swapped
for its public copy (catalogue/public_copy.py) under the same name, so /gallery shows public rows only; the
catalogue itself moves to /catalogue, which only archivists may open. A thread keeps the copy in
step (twice a second), and writers in this process call `refresh_now` to publish at once.

The copy persists beside the catalogue (gallery.public.db, public_copy.persisted_path), so a
restart applies only what changed while the server was down (a withdrawal among it) and compares
public photo counts with the catalogue, before Datasette answers its first request (the startup
hook). What costs time in the archive's size waits until the server answers, in the copy's thread:
the full check of ids and tokens (1.4-1.7 s at 1,000,000 photos), then the merge of words that
left the search indexes, step by step as after any withdrawal. Should the full check disagree, the
gallery answers 503 (`gate`) until the copy is built again: a copy known to be wrong is never
served. A folder the server may not write to gets a temporary copy, built whole, as before.

A server of a published bundle (`ingest publish DIR`, outputs/bundle.py; `datasette serve DIR`)
has no catalogue: the bundle's public copy, recognised by the manifest beside it, is served as the
gallery's public database, read-only, with its renditions and settings from the bundle's files.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from datasette.database import Database

from ingest.catalogue.public_copy import PublicCopy, persisted_path
from ingest.outputs import bundle
from ingest.web.counts import PublicDatabase

CATALOGUE = "catalogue"
INTERVAL = 0.5  # a withdrawal reaches the copy within this plus one refresh
CHECK_AFTER = 2.0  # seconds a start waits for its first answer before the full check
_served: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # datasette -> {public name: Served}


class Served:
    def __init__(self, copy: PublicCopy, public: str, catalogue: str):
        self.copy, self.public, self.catalogue = copy, public, catalogue
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.answered = threading.Event()  # the server answered its first request (gate)
        self.checked = threading.Event()  # the full check passed (or the copy was built whole since)
        self.wrong = threading.Event()  # the copy is known to disagree: nothing is served from it
        self.closing = False  # _close left closing the copy to the follow thread
        self.folder: str | None = None  # a temporary copy's folder, removed with it
        copy.on_problems = lambda problems: self.wrong.set()


_running: "weakref.WeakSet[Served]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop the refresh threads before the interpreter goes (a thread inside SQLite then can crash it)."""
    for served in list(_running):
        served.stop.set()
    for served in list(_running):
        if served.thread is not None:
            served.thread.join(timeout=5)


def is_catalogue(path: str | None) -> bool:
    """A private catalogue has the tables that must never be public (source paths)."""
    if not path or not Path(path).is_file():
        return False
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return {"photos", "photo_sources"} <= names


def check(served: Served) -> None:
    """The full check a start left for later: ids and tokens against the catalogue, in the same
    transaction as a refresh; on a difference, `wrong` is set before the rebuild (gate answers
    503 meanwhile) and cleared once the copy is built again. A failure leaves it set."""
    served.copy.refresh(check=True, merge=False)
    served.wrong.clear()
    served.checked.set()


def _follow(served: Served) -> None:
    complained = False
    while not served.stop.is_set():
        # The full check after the first answer (or CHECK_AFTER seconds): on two cores, a check
        # started with the server would take half the machine from the first page. Each step on
        # its own, so that a check that cannot run never keeps a withdrawal from the copy.
        steps = [served.copy.follow]
        if not served.checked.is_set():
            served.answered.wait(CHECK_AFTER)
            steps.insert(0, lambda: check(served))
        for step in steps:
            try:
                step()
            except Exception as e:  # keep serving the last good copy; say so once
                if not complained:
                    print(f"gallery: cannot refresh the public copy of {served.copy.catalogue}: {e}", file=sys.stderr)
                    complained = True
            else:
                complained = False
        served.stop.wait(INTERVAL)
    if served.closing:  # _close may have left it to this thread, still inside SQLite then
        _release(served)


def _close(served: Served, folder: str | None) -> None:
    """Stop following and close the copy. A thread still inside SQLite after 5 s (waiting for a
    lock) closes it itself when it stops: a connection closed under a running statement crashes
    the process."""
    served.folder, served.closing = folder, True
    served.stop.set()
    thread = served.thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=5)
        if thread.is_alive():
            return
    _release(served)  # closing twice (the thread stopped meanwhile and closed it) is harmless


def _release(served: Served) -> None:
    served.copy.close()
    if served.folder:
        shutil.rmtree(served.folder, ignore_errors=True)


def _discard(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        name.unlink(missing_ok=True)


def open_copy(catalogue: str) -> tuple[PublicCopy, str | None]:
    """The catalogue's persisted public copy, brought up to date and its counts checked (the full
    check is the follow thread's, `check`); a temporary one (and its folder, to remove at the end)
    where the catalogue's folder is not writable. A persisted file that is not a database
    (truncated, overwritten) is started again."""
    path = persisted_path(catalogue)
    if os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK)):
        for attempt in (1, 2):
            try:
                copy = PublicCopy(catalogue, path)
            except sqlite3.DatabaseError:
                if attempt == 2:
                    raise
                _discard(path)
                continue
            try:
                copy.refresh(counts=True, merge=False)
                return copy, None
            except sqlite3.DatabaseError as e:
                copy.close()
                if attempt == 2 or isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                    raise
                print(f"gallery: {path} is damaged ({e}); building it again", file=sys.stderr)
                _discard(path)
    folder = tempfile.mkdtemp(prefix="gallery-public-")
    copy = PublicCopy(catalogue, Path(folder) / path.name)
    copy.refresh()
    return copy, folder


def publish_catalogues(datasette) -> None:
    """Swap each served catalogue for its public copy (blocking: run it off the event loop)."""
    catalogues = [(name, db) for name, db in datasette.databases.items()
                  if name != "_internal" and not db.is_memory and is_catalogue(db.path)]
    registry = _served.setdefault(datasette, {})
    for name, db in catalogues:
        copy, folder = open_copy(db.path)
        private = CATALOGUE if len(catalogues) == 1 else f"{name}_{CATALOGUE}"
        # A new Database for the catalogue, not the one removed: Datasette 1.0 closes what it removes.
        datasette.remove_database(name)
        datasette.add_database(PublicDatabase(datasette, path=str(copy.path), is_mutable=True), name=name)
        # The name Datasette gave it: another database served as "catalogue" keeps its own name.
        private = datasette.add_database(Database(datasette, path=db.path, is_mutable=db.is_mutable), name=private).name
        served = Served(copy, name, private)
        if copy.rebuilt:  # built whole from the catalogue just now: nothing to check
            served.checked.set()
        registry[name] = served
        weakref.finalize(datasette, _close, served, folder)
        served.thread = threading.Thread(target=_follow, args=(served,), daemon=True, name=f"publish-{name}")
        _running.add(served)
        served.thread.start()


def find_bundles(datasette) -> None:
    """Note each served database that is a published bundle's public copy (its folder's manifest
    names it) and not a catalogue: the gallery's pages serve it with nothing but the bundle's files."""
    found = _bundles.setdefault(datasette, {})
    for name, db in list(datasette.databases.items()):
        if name == "_internal" or db.is_memory or not db.path or name in found:
            continue
        folder = bundle.folder_of(db.path)
        if folder is not None and not is_catalogue(db.path):
            found[name] = folder


_bundles: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # datasette -> {name: bundle folder}


def bundles(datasette) -> dict[str, Path]:
    """The published bundles this server serves: database name -> the bundle's folder."""
    return dict(_bundles.get(datasette, {}))


def bundle_of(datasette, db) -> Path | None:
    """The folder of the published bundle whose public copy `db` is; None for any other database."""
    return _bundles.get(datasette, {}).get(db.name) if db is not None else None


def gate(app, datasette):
    """ASGI: while a served copy is known to disagree with its catalogue (check found it, the
    rebuild runs), every request is answered 503, so nothing is served from a wrong copy."""
    async def gated(scope, receive, send):
        if scope["type"] == "http" and any(s.wrong.is_set() for s in served(datasette)):
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"60")]})
            await send({"type": "http.response.body",
                        "body": b"The gallery is being rebuilt from its catalogue. Try again in a minute.\n"})
            return
        await app(scope, receive, send)
        if scope["type"] == "http":
            for s in served(datasette):
                s.answered.set()
    return gated


# Each page's SQL reads a few rows of each of thousands of pages (a search's hits, a facet's
# matches): mapped, those reads cost no system call and no copy (half the time of a 160,000-hit
# search's count at 1,000,000 photos). SQLite caps it at its build's maximum (2 GB by default).
MMAP_BYTES = 1 << 34


def tune(conn: sqlite3.Connection) -> None:
    """A Datasette connection to a public copy: read through a memory map."""
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def served(datasette) -> list[Served]:
    return list(_served.get(datasette, {}).values())


def publishing(datasette) -> bool:
    """Whether this server shows a gallery: a catalogue's public copy or a published bundle."""
    return bool(served(datasette) or bundles(datasette))


def public_names(datasette) -> set[str]:
    return {s.public for s in served(datasette)} | set(bundles(datasette))


def catalogue_names(datasette) -> set[str]:
    return {s.catalogue for s in served(datasette)}


def refresh_now(datasette) -> None:
    """Publish what this process just wrote (an archivist's edit) before the next page is shown."""
    for s in served(datasette):
        s.copy.refresh()
