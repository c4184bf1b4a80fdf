"""One import at a time per catalogue: an advisory lock on a file beside it (`gallery.db.lock`).

Two imports at once would each tag from a registry the other keeps changing: `city_for` and
`demo_for` still never add a city or group twice, but resolution (which demonstration a photo
fits) would work from a stale copy. With the lock the second import waits, says so, and starts
from the catalogue the first one left. The OS drops the lock when the process holding it ends,
however it ends (`kill -9` leaves nothing to clean up), so the file itself is never removed.

A POSIX record lock (`lockf`), the kind SQLite itself relies on, rather than `flock`: forked
workers do not inherit it, so it cannot outlive the import that took it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from typing import Callable, Iterator

import sqlite_utils

from ingest.errors import ArchiveError


def lock_path(db: sqlite_utils.Database, suffix: str = ".lock") -> str | None:
    """The lock file of a catalogue; None for one in memory (nobody else can open it)."""
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    return f"{path}{suffix}" if path else None


@contextmanager
def import_lock(db: sqlite_utils.Database, waiting: Callable[[str], None] | None = None,
                suffix: str = ".lock") -> Iterator[None]:
    """Hold the catalogue's import lock for the block. When another process holds it, `waiting`
    gets one line saying so, then this waits (Ctrl-C still interrupts).

    Another `suffix` is another lock (`.uploads.lock`: one importer of uploads per catalogue,
    whichever server runs it). Never nest two holds of one lock file in a process: closing the
    inner one's descriptor would release the outer's (POSIX record locks are per process)."""
    path = lock_path(db, suffix)
    if path is None:
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise ArchiveError(f"{path}: cannot open the import lock ({e.strerror})") from None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EAGAIN):
                raise ArchiveError(f"{path}: cannot take the import lock ({e.strerror})") from None
            if waiting:
                waiting(f"another import is running on {path.removesuffix(suffix)}, waiting…")
            fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
