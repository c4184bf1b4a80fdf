"""The search indexes' internals are not public: visitors read photos, never FTS5's own tables.

A public copy holds full-text indexes (`photos_fts`, `photo_search`) whose FTS5 shadow tables
(`<index>_data`, `_idx`, `_content`, `_docsize`, `_config`) keep a withdrawn photo's words until
the merge that follows its withdrawal has run (catalogue/public_copy.py: in steps, seconds at a
million photos, and after the first answer of a restart). Nobody needs them: a search goes through
the index, which never answers a withdrawn row. So `wrap` refuses (403), for visitors who are not
archivists and on the databases the plugin manages only, a table page of a shadow table and any
SQL that names one (`sql` or `_where` in the query string, or a POST's body). Archivists, other
databases and every other request pass untouched.
"""

from __future__ import annotations

import os
import sqlite3
from functools import lru_cache
from typing import Callable
from urllib.parse import parse_qsl, unquote_plus

from datasette.utils import tilde_decode

from ingest.web.limits import actor_for, route_path
from ingest.web.permissions import is_archivist, managed

SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
MAX_BODY = 1 << 20  # a visitor's POST to a managed database is read this far to look for them
REFUSED = b"The search index's internal tables are not public: search with _search or the gallery's search.\n"
_SEEN = "gallery_internals"


def shadow_tables(path: str | None) -> frozenset[str]:
    """The FTS shadow tables of the database file at `path`, lower-case (SQL names ignore case)."""
    if not path:
        return frozenset()
    try:
        stamp = os.stat(path).st_ino
    except OSError:
        return frozenset()
    return _shadow_tables(path, stamp)


@lru_cache(maxsize=64)
def _shadow_tables(path: str, stamp: int) -> frozenset[str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name, type, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return frozenset()
    indexes = [name.lower() for name, _, sql in rows if sql and "using fts" in sql.lower()]
    return frozenset(name.lower() for name, _, _ in rows
                     if any(name.lower() == index + suffix for index in indexes for suffix in SUFFIXES))


def names_one(text: str, shadows: frozenset[str]) -> bool:
    """Whether SQL text names a shadow table, however quoted (an identifier's letters stay together)."""
    lowered = text.lower()
    return any(name in lowered for name in shadows)


def target(datasette, scope: dict) -> tuple[str, str] | None:
    """(managed database name, the rest of the path) of this request, or None."""
    path = route_path(datasette, scope)
    first, _, rest = path.lstrip("/").partition("/")
    if not first or first == "-":
        return None
    route = tilde_decode(first.split(".", 1)[0])
    names = managed(datasette)
    name = next((n for n, db in datasette.databases.items() if n in names and (db.route or n) == route), None)
    return (name, rest) if name is not None else None


def asks_for(rest: str, query_string: bytes, body: bytes, shadows: frozenset[str]) -> bool:
    """Whether the request reads a shadow table: its table page, or SQL naming one."""
    table = tilde_decode(rest.split("/", 1)[0]).lower() if rest else ""
    if table and (table in shadows or table.rsplit(".", 1)[0] in shadows):
        return True
    values = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k in ("sql", "_where")]
    text = body.decode("latin-1")
    return any(names_one(t, shadows) for t in (*values, text, unquote_plus(text)))


async def _refuse(send: Callable) -> None:
    await send({"type": "http.response.start", "status": 403, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": REFUSED})


async def _read_body(receive: Callable, cap: int) -> tuple[bytes, list[dict], bool]:
    """The request's body (up to `cap`), the messages read (to replay), and whether it went past."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message.get("type") != "http.request":
            return b"", messages, False
        size += len(message.get("body", b""))
        if size > cap:
            return b"", messages, True
        if not message.get("more_body"):
            return b"".join(m.get("body", b"") for m in messages), messages, False


def wrap(app, datasette):
    """Datasette's ASGI app behind the shadow-table refusal (for the `asgi_wrapper` hook)."""

    async def guarded(scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http" or scope.get(_SEEN):
            return await app(scope, receive, send)
        scope = dict(scope, **{_SEEN: True})
        # Which databases are managed is known once startup has published them; Datasette may
        # run it inside the first request, after this middleware would have looked.
        await datasette.invoke_startup()
        found = target(datasette, scope)
        if found is None:
            return await app(scope, receive, send)
        name, rest = found
        shadows = shadow_tables(datasette.databases[name].path)
        if not shadows:
            return await app(scope, receive, send)
        body, replay = b"", []
        if scope.get("method") == "POST":
            body, replay, too_long = await _read_body(receive, MAX_BODY)
            if too_long and not is_archivist(await actor_for(datasette, scope, receive)):
                return await _refuse(send)
        if asks_for(rest, scope.get("query_string") or b"", body, shadows) \
                and not is_archivist(await actor_for(datasette, scope, receive)):
            return await _refuse(send)
        if replay:
            pending = list(replay)

            async def again() -> dict:
                return pending.pop(0) if pending else await receive()

            return await app(scope, again, send)
        return await app(scope, receive, send)

    return guarded
