"""Serving a catalogue means serving its public copy.

At startup every catalogue Datasette was given (`datasette gallery.db` or `ingest serve`) is swapped
for its public copy (catalogue/public_copy.py) under the same name, so /gallery shows public rows only; the
catalogue itself moves to /catalogue, which only archivists may open. A thread keeps the copy in
step (every second), and writers in this process call `refresh_now` to publish at once.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import sys
import tempfile
import threading
import weakref
from pathlib import Path

from datasette.database import Database

from ingest.catalogue.public_copy import PublicCopy

CATALOGUE = "catalogue"
INTERVAL = 1.0
_served: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # datasette -> {public name: Served}


class Served:
    def __init__(self, copy: PublicCopy, public: str, catalogue: str):
        self.copy, self.public, self.catalogue = copy, public, catalogue
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None


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


def _follow(served: Served) -> None:
    complained = False
    while not served.stop.wait(INTERVAL):
        try:
            served.copy.refresh()
            complained = False
        except Exception as e:  # keep serving the last good copy; say so once
            if not complained:
                print(f"gallery: cannot refresh the public copy of {served.copy.catalogue}: {e}", file=sys.stderr)
                complained = True


def _close(served: Served, folder: str) -> None:
    served.stop.set()
    if served.thread is not None and served.thread is not threading.current_thread():
        served.thread.join(timeout=5)
    served.copy.close()
    shutil.rmtree(folder, ignore_errors=True)


def publish_catalogues(datasette) -> None:
    """Swap each served catalogue for its public copy (blocking: run it off the event loop)."""
    catalogues = [(name, db) for name, db in datasette.databases.items()
                  if name != "_internal" and not db.is_memory and is_catalogue(db.path)]
    registry = _served.setdefault(datasette, {})
    for name, db in catalogues:
        folder = tempfile.mkdtemp(prefix="gallery-public-")
        copy = PublicCopy(db.path, Path(folder) / f"{name}.db")
        copy.refresh()
        private = CATALOGUE if len(catalogues) == 1 else f"{name}_{CATALOGUE}"
        # A new Database for the catalogue, not the one removed: Datasette 1.0 closes what it removes.
        datasette.remove_database(name)
        datasette.add_database(Database(datasette, path=str(copy.path), is_mutable=True), name=name)
        # The name Datasette gave it: another database served as "catalogue" keeps its own name.
        private = datasette.add_database(Database(datasette, path=db.path, is_mutable=db.is_mutable), name=private).name
        served = Served(copy, name, private)
        registry[name] = served
        weakref.finalize(datasette, _close, served, folder)
        served.thread = threading.Thread(target=_follow, args=(served,), daemon=True, name=f"publish-{name}")
        _running.add(served)
        served.thread.start()


def served(datasette) -> list[Served]:
    return list(_served.get(datasette, {}).values())


def public_names(datasette) -> set[str]:
    return {s.public for s in served(datasette)}


def catalogue_names(datasette) -> set[str]:
    return {s.catalogue for s in served(datasette)}


def refresh_now(datasette) -> None:
    """Publish what this process just wrote (an archivist's edit) before the next page is shown."""
    for s in served(datasette):
        s.copy.refresh()
