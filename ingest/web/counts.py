"""Counts over the public copy, kept until it changes, and across a restart.

A page of /gallery/photos runs Datasette's count and seven column facets, each a pass over the
rows it shows: over the whole archive, or over a search's hits. At 1,000,000 photos one pass over
a common word's 160,000 hits costs ~0.2 s, so a facet ran past Datasette's facet time limit,
was dropped from the page, and was tried again (and dropped again) on every request: the search's
p95 went from 0.19 s at 300,000 photos to 1.9 s at 1,000,000. And after a restart the first grid
counted the whole archive seven times before it answered.

The answers only change when the copy does (its version, cache.copy_version), so `PublicDatabase`,
the Database the public copy is served as, keeps them: Datasette's `select count(*) ...` and its
column facets' `select X as value, count(*) as count from (...)`, keyed by the copy's version, the
SQL and its parameters. A facet that runs out of time is counted again in the background with the
longer limit of any query (sql_time_limit_ms), for the next request. What is kept is written to a
file beside the copy (`path`), so the first page after a restart answers from it when the copy's
version is the same: only answers to SQL without parameters (the grid's count and facets), so
nothing a visitor typed or filtered by is written to disk, and nothing that is not in the public
copy already (counts of public rows). One write at a time, of the latest answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import sys
import threading
from collections import OrderedDict
from pathlib import Path

from datasette.database import Database, QueryInterrupted, Results

from ingest.web.cache import VERSION_SQL, version_text

SIZE = 2048  # answers kept per copy (each a few dozen rows at most)
_NO_PARAMS = json.dumps({})
_COUNTED = re.compile(r"^\s*select (count\(\*\)|\[?\w+\]? as value, count\(\*\) as count) from ", re.IGNORECASE)


def path(copy: str | Path) -> Path:
    """The file beside a public copy that keeps its counts between runs (gallery.public.counts.json)."""
    copy = Path(copy)
    return copy.with_name(f"{copy.stem}.counts.json")


def version(conn: sqlite3.Connection) -> str:
    """The copy's version as cache.copy_version reads it (its publish_state)."""
    return version_text(conn.execute(VERSION_SQL).fetchall())


class _Row(tuple):
    """A kept row: by index, and by column name as sqlite3.Row."""

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self):
        return list(self.names)


def _results(columns: list[str], rows: list[list]) -> Results:
    names = tuple(columns)
    return Results([_Row(r, names) for r in rows], False, [(c, None, None, None, None, None, None) for c in columns])


class PublicDatabase(Database):
    """Datasette's Database for a public copy, with its counts kept per copy version."""

    def __init__(self, ds, path: str, **kwargs):
        super().__init__(ds, path=path, **kwargs)
        self.kept: OrderedDict[tuple, tuple[list[str], list[list]]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: set[tuple] = set()
        self._dirty: str | None = None  # the version whose answers wait to be written
        self._saving = False
        self._file = globals()["path"](path)
        self._load()

    def _load(self) -> None:
        """What a previous run kept, if it counted this same version of the copy."""
        try:
            saved = json.loads(self._file.read_text(encoding="utf-8"))
            conn = sqlite3.connect(Path(self.path).resolve().as_uri() + "?mode=ro", uri=True)
            try:
                now = version(conn)
            finally:
                conn.close()
        except (OSError, ValueError, sqlite3.Error):
            return
        if not isinstance(saved, dict) or saved.get("version") != now:
            return
        for sql, params, columns, rows in saved.get("answers", []):
            self.kept[(now, sql, params)] = (columns, rows)

    def _saver(self) -> None:
        """Write the kept answers until no newer ones wait (one writer at a time, off the event loop)."""
        while True:
            with self._lock:
                now, self._dirty = self._dirty, None
                if now is None:
                    self._saving = False
                    return
            self._save(now)

    def _save(self, now: str) -> None:
        with self._lock:
            answers = [[sql, params, columns, rows] for (v, sql, params), (columns, rows) in self.kept.items()
                       if v == now and params == _NO_PARAMS]
        tmp = self._file.with_name(f"{self._file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            tmp.write_text(json.dumps({"version": now, "answers": answers}), encoding="utf-8")
            os.replace(tmp, self._file)
        except (OSError, TypeError, ValueError) as e:  # a read-only folder, a value JSON cannot hold
            tmp.unlink(missing_ok=True)
            print(f"gallery: cannot keep the counts of {self.path}: {e}", file=sys.stderr)

    def _keep(self, key: tuple, results: Results) -> Results:
        columns = [d[0] for d in results.description]
        rows = [list(r) for r in results.rows]
        with self._lock:
            self.kept[key] = (columns, rows)
            while len(self.kept) > SIZE:
                self.kept.popitem(last=False)
            if key[2] == _NO_PARAMS:
                self._dirty = key[0]
                start, self._saving = not self._saving, True
            else:
                start = False
        if start:
            asyncio.get_running_loop().run_in_executor(None, self._saver)
        return _results(columns, rows)

    async def execute(self, sql, params=None, truncate=False, custom_time_limit=None, **kwargs):
        if not _COUNTED.match(sql or ""):
            return await super().execute(sql, params, truncate=truncate, custom_time_limit=custom_time_limit, **kwargs)
        # The version before the count: a refresh in between keeps a newer answer under the older
        # version (asked by nobody after it), never an older answer under the newer one.
        now = version_text((await super().execute(VERSION_SQL)).rows)
        key = (now, sql, json.dumps(params or {}, sort_keys=True, default=str))
        with self._lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
        if found is not None:
            return _results(*found)
        try:
            results = await super().execute(sql, params, truncate=truncate, custom_time_limit=custom_time_limit,
                                            **kwargs)
        except QueryInterrupted:
            if custom_time_limit and key not in self._pending:  # a facet's short limit: count it patiently
                self._pending.add(key)
                asyncio.get_running_loop().create_task(self._patiently(key, sql, params))
            raise
        if results.truncated:
            return results
        return self._keep(key, results)

    async def _patiently(self, key: tuple, sql: str, params) -> None:
        try:
            self._keep(key, await super().execute(sql, params, log_sql_errors=False))
        except Exception:  # noqa: BLE001 - still too slow, or the copy went: the next request tries again
            pass
        finally:
            self._pending.discard(key)
