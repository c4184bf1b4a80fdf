"""Visitors' SQL on the gallery's databases runs briefly and one at a time (ingest.web.limits);
pages, canned queries, archivists and other databases are not held up by it.

A real Datasette (its test client) over a real gallery, with the middleware wired in through an
asgi_wrapper hook registered for these tests only (tests/limits_plugin.py). No wall clock: the
assertions are outcomes (a query interrupted or not), counts and the order of events.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import sql_path
from fixtures.synth import make_photo
from accounts_support import archivist_cookies
from limits_plugin import limits_installed

from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web import limits
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
# About a second of SQLite's time: always past TIME_LIMIT_MS, well within the tests' 20 s limit.
HEAVY = "with recursive c(x) as (select 1 union all select x + 1 from c where x < 5000000) select count(*) as n from c"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("limits")
    make_photo(base / "photos" / "march.jpg", width=640, height=480, seed=1)
    db = connect(base / "gallery.db")
    assert run_ingest(db, Store(base / "archive"), [str(base / "photos")], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True).imported == 1
    db.conn.close()
    other = sqlite3.connect(base / "other.db")
    other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    other.commit()
    other.close()
    return base


@pytest.fixture
def installed():
    with limits_installed():
        yield


async def make_ds(base: Path) -> Datasette:
    """The gallery and another database, started (as `datasette serve` starts it before serving:
    the public copy exists, so the middleware knows which databases are the gallery's)."""
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    ds = Datasette([str(base / "gallery.db"), str(base / "other.db")], settings={"sql_time_limit_ms": 20_000},
                   **datasette_options(metadata))
    await ds.invoke_startup()
    return ds


def root(ds: Datasette) -> dict:
    """A signed-in archivist's session (an actor id alone, --root's, is no archivist)."""
    return archivist_cookies(ds, ds.databases["catalogue"].path)


def sql(database: str, query: str, fmt: str = ".json", **args) -> str:
    return sql_path(database, fmt) + "?" + urlencode({"sql": query, **args})


def held(ds: Datasette) -> limits.Gate:
    """The instance's visitors' SQL gate, created here with no queue: a request that finds it
    held is refused at once (no waiting in tests)."""
    return limits.gate_for(ds, "sql", limits.MAX_QUERIES, 0, 0.0)


# ---------------------------------------------------------------- pure helpers

def test_time_limit_is_capped_and_a_smaller_one_kept():
    assert limits.time_limited(b"sql=select+1") == b"sql=select+1&_timelimit=250"
    assert limits.time_limited(b"sql=x&_timelimit=60000") == b"sql=x&_timelimit=250"
    assert limits.time_limited(b"_timelimit=100&sql=x") == b"sql=x&_timelimit=100"
    # Datasette decodes the names and reads the first value: an escaped one is replaced too.
    assert limits.time_limited(b"%5Ftimelimit=60000&sql=x&_timelimit=0") == b"sql=x&_timelimit=250"


def test_query_keys_as_datasette_reads_them():
    assert limits.query_keys(b"%73ql=select&_where=&a") == {"sql", "_where", "a"}


async def test_which_requests_run_a_visitors_sql(gallery):
    ds = await make_ds(gallery)

    def scope(path: str, query: str = "", method: str = "GET") -> dict:
        return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
                "query_string": query.encode()}

    for path, query in [("/gallery", "sql=select+1"), ("/gallery.json", "sql=x"), ("/gallery.csv", "sql=x&_stream=1"),
                        ("/gallery/-/query.json", "sql=x"), ("/gallery/photos", "_where=1"),
                        ("/gallery/photos.csv", "_where=1&_stream=1"), ("/catalogue.json", "sql=x")]:
        assert limits.visitor_sql_database(ds, scope(path, query)) is not None, (path, query)
    assert limits.visitor_sql_database(ds, scope("/gallery/-/execute-write", method="POST")) == "gallery"
    for path, query in [("/gallery/photos", ""), ("/gallery/photos/1", ""), ("/gallery/free_for_commercial_use", ""),
                        ("/gallery/photos_of_a_demonstration.json", "name=march&date="), ("/other.json", "sql=x"),
                        ("/other/notes", "_where=1"), ("/-/gallery/download.zip", "id=1"), ("/", "sql=x")]:
        assert limits.visitor_sql_database(ds, scope(path, query)) is None, (path, query)


def test_importing_the_package_first_keeps_the_plugins_hooks():
    """limits.py is imported with the plugin's package: had it imported datasette.plugins (which
    loads every entry point), the gallery would be registered half-imported, without hooks."""
    out = subprocess.run([sys.executable, "-c", "import ingest.web.limits; from datasette.plugins import pm; "
                          "print(' '.join(h.name for h in pm.get_hookcallers(pm.get_plugin('gallery'))))"],
                         capture_output=True, text=True, check=True)
    assert {"startup", "register_routes"} <= set(out.stdout.split())


# ---------------------------------------------------------------- the gate

async def test_gate_serves_in_order_and_refuses_past_its_queue():
    gate = limits.Gate(slots=1, queue=2, wait=30)
    events: list[str] = []

    async def visitor(name: str) -> None:
        ok = await gate.acquire()
        events.append(f"{name} {'in' if ok else 'refused'}")
        if ok:
            await asyncio.sleep(0)
            events.append(f"{name} out")
            gate.release()

    assert await gate.acquire()  # held by the test
    tasks = [asyncio.create_task(visitor(n)) for n in "abc"]
    await asyncio.sleep(0.01)
    assert events == ["c refused"]  # a and b wait; c found the queue full
    gate.release()
    await asyncio.gather(*tasks)
    assert events == ["c refused", "a in", "a out", "b in", "b out"]
    assert gate.active == 0 and not gate.waiters


async def test_gate_gives_up_after_its_wait_and_forgets_the_waiter():
    gate = limits.Gate(slots=1, queue=4, wait=0.01)
    assert await gate.acquire()
    assert not await gate.acquire()
    assert not gate.waiters
    gate.release()
    assert gate.active == 0
    async with gate.slot() as ok:
        assert ok and gate.active == 1
    assert gate.active == 0


async def test_a_cancelled_waiter_does_not_keep_a_slot():
    gate = limits.Gate(slots=1, queue=4, wait=30)
    assert await gate.acquire()
    waiting = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.release()
    assert gate.active == 0 and not gate.waiters


async def test_the_gate_is_held_until_the_response_is_sent(gallery):
    """A streamed response (a CSV with _stream=1) counts for as long as it streams."""
    ds = await make_ds(gallery)
    gate = limits.gate_for(ds, "sql", 1, 0, 0.0)
    seen = []

    async def streaming(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            seen.append(gate.active)
            await send({"type": "http.response.body", "body": b"row\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        pass

    async def receive():
        return {"type": "http.request", "body": b""}

    app = limits.wrap(streaming, ds)
    for path, gated in [("/gallery.csv", 1), ("/other.csv", 0)]:
        await app({"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                   "query_string": b"sql=x&_stream=1", "headers": []}, receive, send)
        assert seen == [gated] * 3
        await released(gate)
        seen.clear()


async def released(gate: limits.Gate) -> None:
    """Wait (boundedly) for the slot's rest after a query to end."""
    for _ in range(1000):
        if gate.active == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the gate was never released")


async def test_the_slot_rests_after_a_query_then_frees_itself(gallery, installed):
    """Back-to-back heavy queries: the next one starts only after the previous one's rest."""
    ds = await make_ds(gallery)
    gate = limits.gate_for(ds, "sql", limits.MAX_QUERIES, limits.MAX_WAITING, limits.WAIT_SECONDS)
    response = await ds.client.get(sql("gallery", HEAVY))
    assert response.status_code == 400  # interrupted at the short limit ...
    assert gate.active == 1              # ... and its slot still rests
    await released(gate)
    assert (await ds.client.get(sql("gallery", "select 1"))).status_code == 200


# ---------------------------------------------------------------- through Datasette

async def test_a_visitors_query_is_interrupted_at_the_short_limit(gallery, installed):
    ds = await make_ds(gallery)
    visitor = await ds.client.get(sql("gallery", HEAVY, _shape="array"))
    assert visitor.status_code == 400 and "interrupted" in visitor.text.lower()
    archivist = await ds.client.get(sql("gallery", HEAVY, _shape="array"), cookies=root(ds))
    assert archivist.status_code == 200 and archivist.json() == [{"n": 5_000_000}]
    other = await ds.client.get(sql("other", HEAVY, _shape="array"))  # not the gallery's: Datasette's own limit
    assert other.status_code == 200 and other.json() == [{"n": 5_000_000}]
    quick = await ds.client.get(sql("gallery", "select count(*) as n from photos", _shape="array"))
    assert quick.status_code == 200 and quick.json() == [{"n": 1}]


async def test_a_larger_timelimit_asked_for_is_not_granted(gallery, installed):
    ds = await make_ds(gallery)
    response = await ds.client.get(sql("gallery", HEAVY, _shape="array", _timelimit="20000"))
    assert response.status_code == 400 and "interrupted" in response.text.lower()
    table = await ds.client.get("/gallery/photos.json?" + urlencode({"_where": f"id in ({HEAVY})", "_timelimit": 20000}))
    # 1.0a35 answers an interrupted table query with 500 (0.65: 400); either way it did not run on.
    assert table.status_code in (400, 500) and "interrupted" in table.text.lower()


@pytest.mark.parametrize("fmt,args", [(".json", {}), (".csv", {}), (".csv", {"_stream": "1"}), ("", {})])
async def test_busy_answers_429_in_every_form(gallery, installed, fmt, args):
    ds = await make_ds(gallery)
    gate = held(ds)
    assert await gate.acquire()
    try:
        response = await ds.client.get(sql("gallery", "select 1", fmt, **args))
    finally:
        gate.release()
    assert gate.active == 0
    assert response.status_code == 429
    assert response.text == "too many queries at once; try again\n"
    assert int(response.headers["retry-after"]) > 0
    again = await ds.client.get(sql("gallery", "select 1 as one", fmt, **args))
    assert again.status_code == 200


async def test_pages_canned_queries_archivists_and_other_databases_pass_a_full_gate(gallery, installed):
    ds = await make_ds(gallery)
    gate = held(ds)
    assert await gate.acquire()
    try:
        for path in ["/gallery/photos", "/gallery/photos/1", "/gallery/photos.json?_shape=array",
                     "/gallery/photos_of_a_demonstration.json?name=march&date=&_shape=array",
                     "/gallery/free_for_commercial_use.csv", sql("other", "select 1")]:
            response = await ds.client.get(path)
            assert response.status_code == 200, (path, response.text[:200])
        archivist = await ds.client.get(sql("gallery", "select 1"), cookies=root(ds))
        assert archivist.status_code == 200
        where = await ds.client.get("/gallery/photos?_where=id%3D1")
        assert where.status_code == 429
    finally:
        gate.release()


async def test_many_heavy_queries_at_once_run_one_at_a_time(gallery, installed):
    """Twelve visitors at once: one runs (interrupted at the short limit), MAX_WAITING wait, the
    rest are refused at once; nothing ever runs beside the one."""
    ds = await make_ds(gallery)
    gate = limits.gate_for(ds, "sql", limits.MAX_QUERIES, limits.MAX_WAITING, limits.WAIT_SECONDS)
    most = 0

    async def watch():
        nonlocal most
        while True:
            most = max(most, gate.active)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    responses = await asyncio.gather(*[ds.client.get(sql("gallery", HEAVY)) for _ in range(12)])
    watcher.cancel()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(429) >= 12 - 1 - limits.MAX_WAITING
    assert set(statuses) <= {400, 429} and 400 in statuses
    assert most == limits.MAX_QUERIES
    assert all(r.text == "too many queries at once; try again\n" for r in responses if r.status_code == 429)
