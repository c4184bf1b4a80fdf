"""Bounded cost for anonymous visitors: SQL they write runs briefly and a few at a time.

Anyone may run SQL on the public copy (`?sql=`, or `_where=` on a table page), so someone who
wants the archive down can send heavy queries from a few clients. Datasette runs every query, the
gallery's own pages' included, on `num_sql_threads` threads (default 3), each query for up to
`sql_time_limit_ms` (1 s): four clients looping 1-second queries keep all three busy and a photo
page waits seconds for a thread. `wrap` puts an ASGI middleware in front of Datasette that, for
visitors who are not archivists and only on the databases the plugin manages:

- caps the query's time limit (`_timelimit`) at TIME_LIMIT_MS, and
- lets at most MAX_QUERIES such requests run at once, server-wide; up to MAX_WAITING more wait
  (first come, first served) at most WAIT_SECONDS, the rest get 429 with Retry-After; and after
  each, rests as long as it ran before the next starts (REST), so visitors' SQL takes at most
  half of one core however many clients send it.

Why the pages stay fast: with MAX_QUERIES (1) below num_sql_threads (3), visitors' SQL holds one
SQL thread at most and the pages always find one of the others free; the time limit bounds how
long a queued query waits for the one before it. The gate is held until the whole response is
sent, so a streamed CSV counts for as long as it streams. Every other database, canned queries
(their SQL is the operator's; parameters are bound as values) and archivists pass untouched.

Datasette 1.0's `.csv` of an arbitrary query ignores `_timelimit` (it runs under
sql_time_limit_ms): the gate still holds it to one SQL thread.

The same Gate bounds concurrent ZIP builds (media.py), through `gate_for`.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time
import weakref
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import unquote_plus

from datasette.utils import await_me_maybe, tilde_decode
from datasette.utils.asgi import Request

from ingest.web.permissions import is_archivist, managed

TIME_LIMIT_MS = 250      # a visitor's query is interrupted after this (Datasette's default: 1000)
MAX_QUERIES = 1          # visitors' queries running at once, server-wide (keep < num_sql_threads)
MAX_WAITING = 8          # more wait their turn; beyond that, 429 at once
WAIT_SECONDS = 2.0       # the longest a query waits for its turn before 429
RETRY_AFTER = 2          # seconds, in the 429's Retry-After
BUSY = "too many queries at once; try again"
# After each visitor's query the slot rests REST times as long as the query ran (at most
# MAX_REST_SECONDS): back-to-back heavy queries then take half a core at most, not a whole one
# (on two cores, a whole one doubled the pages' times). A query into an idle gate runs at once.
REST = 1.0
MAX_REST_SECONDS = 2.0
_SEEN = "gallery_limits"  # in the ASGI scope: the middleware already ran (wrapped twice)

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]


class Gate:
    """At most `slots` holders at once; up to `queue` more wait in order, each at most `wait`
    seconds. Not bound to an event loop until used (Datasette may build its app more than once)."""

    def __init__(self, slots: int, queue: int, wait: float):
        self.slots, self.queue, self.wait = slots, queue, wait
        self.active = 0
        self.waiters: collections.deque[asyncio.Future] = collections.deque()

    async def acquire(self) -> bool:
        """True once a slot is ours; False when the queue is full or the wait ran out."""
        if self.active < self.slots and not self.waiters:
            self.active += 1
            return True
        if len(self.waiters) >= self.queue:
            return False
        turn = asyncio.get_running_loop().create_future()
        self.waiters.append(turn)
        try:
            return await asyncio.wait_for(turn, self.wait)  # release() hands its slot over
        except asyncio.TimeoutError:
            self._forget(turn)
            return False
        except asyncio.CancelledError:  # the client went away while waiting
            if turn.done() and not turn.cancelled():
                self.release()
            self._forget(turn)
            raise

    def _forget(self, turn: asyncio.Future) -> None:
        try:
            self.waiters.remove(turn)
        except ValueError:
            pass

    def release(self) -> None:
        """Hand the slot to the first waiter still waiting, else free it."""
        while self.waiters:
            turn = self.waiters.popleft()
            if not turn.done():
                turn.set_result(True)
                return
        self.active -= 1

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[bool]:
        """`async with gate.slot() as ok:` ok is whether this request got its turn."""
        ok = await self.acquire()
        try:
            yield ok
        finally:
            if ok:
                self.release()


_GATES: "weakref.WeakKeyDictionary[Any, dict[str, Gate]]" = weakref.WeakKeyDictionary()


def gate_for(datasette, name: str, slots: int, queue: int, wait: float) -> Gate:
    """The instance's one gate called `name` (server-wide, however often Datasette builds its app)."""
    gates = _GATES.setdefault(datasette, {})
    if name not in gates:
        gates[name] = Gate(slots, queue, wait)
    return gates[name]


def route_path(datasette, scope: dict) -> str:
    """The request's path as Datasette routes it: undecoded (raw_path), without base_url."""
    raw = scope.get("raw_path")
    path = raw.decode("ascii", "replace") if raw else scope.get("path", "/")
    path = path.partition("?")[0]
    base = datasette.setting("base_url") or "/"
    if base != "/" and path.startswith(base):
        path = "/" + path[len(base):]
    return path


def query_keys(query_string: bytes) -> set[str]:
    """The argument names in a query string as Datasette reads them (`a=1&b&%73ql=` -> {"a", "b", "sql"})."""
    text = query_string.decode("latin-1")
    return {unquote_plus(part.partition("=")[0]) for part in text.split("&") if part}


def visitor_sql_database(datasette, scope: dict) -> str | None:
    """The managed database this request runs a visitor's own SQL on, or None.

    That is: a path under a database the plugin manages (`/gallery`, `/gallery.json`,
    `/gallery/-/query.csv`, `/gallery/photos` ...) with `sql` or `_where` among its arguments (the
    query and table views, in every format), or a POST there (1.0 takes SQL in request bodies)."""
    path = route_path(datasette, scope)
    first = path.lstrip("/").split("/", 1)[0]
    if not first or first == "-":
        return None
    route = tilde_decode(first.split(".", 1)[0])
    names = managed(datasette)
    name = next((n for n, db in datasette.databases.items() if n in names and (db.route or n) == route), None)
    if name is None:
        return None
    if scope.get("method") == "POST" or query_keys(scope.get("query_string") or b"") & {"sql", "_where"}:
        return name
    return None


def time_limited(query_string: bytes, limit_ms: int = TIME_LIMIT_MS) -> bytes:
    """The query string with `_timelimit` at most `limit_ms` (a smaller one asked for is kept)."""
    parts, asked = [], []
    for part in query_string.split(b"&"):
        key, _, value = part.partition(b"=")
        if unquote_plus(key.decode("latin-1")) == "_timelimit":  # %5Ftimelimit too: Datasette decodes keys
            asked.append(value)
        elif part:
            parts.append(part)
    smaller = [int(v) for v in asked if v.isdigit() and 0 < int(v) < limit_ms]  # Datasette reads the first
    parts.append(b"_timelimit=%d" % (min(smaller) if smaller else limit_ms))
    return b"&".join(parts)


def plugin_manager():
    """Datasette's plugin manager, looked up, not imported: importing datasette.plugins loads every
    plugin's entry point, and this module is imported while the gallery's own package is, which
    would then be registered half-made, without its hooks. Datasette imported it before serving."""
    return sys.modules["datasette.plugins"].pm


async def actor_for(datasette, scope: dict, receive: Callable) -> dict | None:
    """Who is asking, as Datasette's router will decide it (every actor_from_request hook, the
    first actor wins), before the router runs."""
    request = Request(scope, receive)
    found = None
    for result in plugin_manager().hook.actor_from_request(datasette=datasette, request=request):
        result = await await_me_maybe(result)
        if result and found is None:
            found = result
    return found or scope.get("actor") or None


async def too_busy(send: Callable, message: str = BUSY, retry_after: int = RETRY_AFTER) -> None:
    """429, one line, Retry-After: the answer when the gate's queue is full or the wait ran out."""
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", str(retry_after).encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": (message + "\n").encode()})


def wrap(app: ASGIApp, datasette) -> ASGIApp:
    """Datasette's ASGI app behind the visitors' SQL limits (for an `asgi_wrapper` hook)."""

    async def limited(scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http" or scope.get(_SEEN):
            return await app(scope, receive, send)
        scope = dict(scope, **{_SEEN: True})
        if visitor_sql_database(datasette, scope) is None:
            return await app(scope, receive, send)
        if is_archivist(await actor_for(datasette, scope, receive)):
            return await app(scope, receive, send)
        gate = gate_for(datasette, "sql", MAX_QUERIES, MAX_WAITING, WAIT_SECONDS)
        if not await gate.acquire():
            return await too_busy(send)
        started = time.monotonic()
        try:
            scope["query_string"] = time_limited(scope.get("query_string") or b"")
            await app(scope, receive, send)
        finally:  # the answer is sent; the slot stays taken a while longer (REST), then the next query runs
            rest = min(time.monotonic() - started, MAX_REST_SECONDS) * REST
            asyncio.get_running_loop().call_later(rest, gate.release)

    return limited
