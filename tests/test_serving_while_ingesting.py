"""Datasette keeps serving the catalogue while a large ingest writes it.

Everything here is real: photos written by `fixtures.synth`, the `ingest` console script importing
them in its own process (with worker processes), and `ingest serve` (Datasette with our plugin and
metadata.yml) in another, hammered over loopback HTTP by a pool of threads while the ingest
commits its batches. No request may fail ("database is locked" least of all), the reads must
really overlap the writes, and the catalogue must come out whole.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store

ROOT = Path(__file__).resolve().parents[1]
INGEST = Path(sys.executable).parent / "ingest"
HOST = "127.0.0.1"                 # loopback only

TOTAL_PHOTOS = 300
FIRST_IMPORT = 30                  # imported before the server starts, so the catalogue exists
THREADS = 8
MAX_REQUESTS = 3000
HAMMER_SECONDS = 60                # the ingest must finish well within this
MIN_DURING_INGEST = 50             # requests that started and ended while the ingest ran
REQUEST_TIMEOUT = 30

# Registered London demonstrations (samples/registry.yml) and two unregistered days, which
# become provisional demonstrations grouped by city and day.
DAYS = ["2025:03:15", "2025:02:22", "2024:11:02", "2024:10:05", "2025:06:01", "2025:04:12", "2024:12:07"]
# Central London (Trafalgar Square, Hyde Park Corner, Parliament Square, Whitehall, Piccadilly).
SPOTS = [(51.5080, -0.1281), (51.5027, -0.1527), (51.5005, -0.1263), (51.5045, -0.1263), (51.5101, -0.1340)]

FAIL_MARKERS = ("database is locked", "Caught this error", "Traceback", "OperationalError")


def _photo_kwargs(i: int) -> dict:
    rng = random.Random(i)
    lat, lon = SPOTS[i % len(SPOTS)]
    exif = {
        "DateTimeOriginal": f"{DAYS[i % len(DAYS)]} {12 + i % 5:02d}:{i % 60:02d}:{(i * 7) % 60:02d}",
        "GPSLatitude": round(lat + rng.uniform(-0.002, 0.002), 6),
        "GPSLongitude": round(lon + rng.uniform(-0.002, 0.002), 6),
        "Make": "Canon", "Model": "EOS R6",
    }
    if i % 3 == 0:
        exif["OffsetTimeOriginal"] = "+00:00"
    if i % 4 == 0:
        exif["Artist"] = "Olena Kovalenko"
    xmp = None
    if i % 10 == 0:  # a few carry XMP: a searchable title, their own licence and creator
        xmp = {"dc:title": f"Ceasefire march, placard {i}", "dc:creator": "Zoë Müller",
               "dc:subject": ["march", "London"],
               "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"}
    return {"width": 640, "height": 480, "seed": 1000 + i, "exif": exif, "xmp": xmp}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen | None) -> None:
    """End a process we started, and its session (Datasette, ingest workers), by its own id."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """300 London photos on disk, the first 30 imported (with the demonstrations registry)."""
    base = tmp_path_factory.mktemp("serving")
    folder = base / "photos"
    for i in range(TOTAL_PHOTOS):
        card = "card1" if i < FIRST_IMPORT else f"card{2 + (i - FIRST_IMPORT) // 90}"
        make_photo(folder / card / f"IMG_{i:04d}.jpg", **_photo_kwargs(i))
    db_path, store_path = base / "gallery.db", base / "archive"
    db = connect(db_path)
    try:
        import_registry(db, ROOT / "samples" / "registry.yml")
        summary = run_ingest(db, Store(store_path), [str(folder / "card1")], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
        assert (summary.imported, summary.problems) == (FIRST_IMPORT, 0), summary.lines
        known_sha = db.execute("SELECT rendition FROM photos WHERE id = 1").fetchone()[0]  # its images' name
    finally:
        db.conn.close()
    return base, folder, db_path, store_path, known_sha


@pytest.fixture(scope="module")
def server(photos):
    """`ingest serve` on a free loopback port; killed at teardown whatever happened."""
    base, _, db_path, store_path, _ = photos
    port = _free_port()
    log = open(base / "serve.log", "wb")
    proc = subprocess.Popen(
        [str(INGEST), "serve", "--db", str(db_path), "--store", str(store_path), "--host", HOST, "--port", str(port)],
        cwd=base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ingest serve exited {proc.returncode}:\n{(base / 'serve.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/-/plugins.json", timeout=2) as r:
                    assert "demonstration-photo-archive" in {p["name"] for p in json.load(r)}
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"ingest serve did not answer within 20 s:\n{(base / 'serve.log').read_text()[-3000:]}")
                time.sleep(0.1)
        yield url, base / "serve.log"
    finally:
        _stop(proc)
        log.close()


@dataclass
class Hit:
    kind: str
    path: str
    started: float
    ended: float
    status: int | None
    problem: str | None = None         # why it counts as a failure, with a body snippet


@dataclass
class Run:
    hits: list[Hit]
    ingest_started: float
    ingest_ended: float
    ingest_rc: int | None
    ingest_out: str
    ingest_err: str
    counts_seen: list[tuple[float, int]] = field(default_factory=list)  # (time, photos row count)
    facet_timeouts: int = 0
    final_count: int | None = None
    server_log: str = ""

    def during(self) -> list[Hit]:
        return [h for h in self.hits if h.started >= self.ingest_started and h.ended <= self.ingest_ended]


def _fetch(url: str) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _report(run: Run) -> None:
    """The figures, printed once (shown by pytest -s, and beside any failure)."""
    latencies = [h.ended - h.started for h in run.hits] or [0.0]
    print(f"\ningest: {run.ingest_ended - run.ingest_started:.2f} s, exit {run.ingest_rc}: {run.ingest_out.strip()}")
    print(f"requests: {len(run.hits)} total, {len(run.during())} during the ingest, "
          f"{sum(1 for h in run.hits if h.problem)} failed; latency max {max(latencies):.3f} s, "
          f"p95 {_pct(latencies, 95):.3f} s, median {_pct(latencies, 50):.3f} s; facet timeouts {run.facet_timeouts}")
    for kind in dict.fromkeys(h.kind for h in run.hits):
        lat = [h.ended - h.started for h in run.hits if h.kind == kind]
        print(f"  {kind:10} {len(lat):5d}  p95 {_pct(lat, 95):.3f} s  max {max(lat):.3f} s")
    print(f"photo counts the server showed during the ingest: {sorted({c for _, c in run.counts_seen})}")


@pytest.fixture(scope="module")
def hammered(photos, server) -> Run:
    """Run the big ingest and, while it runs, hammer the server from a thread pool."""
    base, folder, db_path, store_path, known_sha = photos
    url, server_log = server
    newest: list[str] = [known_sha]        # rendition tokens of the newest rows the server has shown
    lock = threading.Lock()
    hits: list[Hit] = []
    counts: list[tuple[float, int]] = []
    facet_timeouts = 0
    stop = threading.Event()
    issued = itertools.count()

    def check_photos_json(body: bytes, headers: dict) -> str | None:
        rows = json.loads(body)
        if not isinstance(rows, list) or not rows:
            return f"expected a non-empty array: {body[:200]!r}"
        if any(len(r.get("sha256") or "") != 64 for r in rows):
            return "row without a sha256"
        return None

    def check_newest(body: bytes, headers: dict) -> str | None:
        problem = check_photos_json(body, headers)
        if problem is None:
            with lock:
                newest[:] = [r["rendition"] for r in json.loads(body)]
        return problem

    def check_facets(body: bytes, headers: dict) -> str | None:
        nonlocal facet_timeouts
        data = json.loads(body)
        with lock:
            counts.append((time.monotonic(), data["filtered_table_rows_count"]))
            facet_timeouts += len(data.get("facets_timed_out") or [])
        return None

    def check_csv(body: bytes, headers: dict) -> str | None:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
        header = rows[0]
        if "sha256" not in header or "id" not in header:
            return f"bad CSV header {header[:5]}"
        broken = [r for r in rows[1:] if len(r) != len(header)]
        if broken:
            return f"{len(broken)} malformed CSV rows, e.g. {str(broken[0])[:200]}"
        if len(rows) - 1 < FIRST_IMPORT:
            return f"CSV has {len(rows) - 1} rows"
        return None

    def check_jpeg(body: bytes, headers: dict) -> str | None:
        if headers.get("Content-Type", headers.get("content-type")) != "image/jpeg" or not body.startswith(b"\xff\xd8"):
            return f"not a JPEG: {headers.get('Content-Type')} {body[:60]!r}"
        return None

    def html(body: bytes, headers: dict) -> str | None:
        return None if b"</html>" in body else f"truncated page: ...{body[-200:]!r}"

    def json_ok(body: bytes, headers: dict) -> str | None:
        json.loads(body)
        return None

    def newest_thumb() -> str:
        with lock:
            sha = random.choice(newest)
        return f"/-/gallery/thumbs/{sha}.jpg"

    requests = [  # (kind, path or a function giving one, check)
        ("table", "/gallery/photos", html),
        ("array", "/gallery/photos.json?_shape=array&_size=50", check_photos_json),
        ("facets", "/gallery/photos.json?_facet=city_id&_facet=licence_id", check_facets),
        ("search", "/gallery/photos.json?_search=march", json_ok),
        ("demos", "/gallery/demonstrations", html),
        ("csv", "/gallery/photos.csv?_size=max", check_csv),
        ("row", "/gallery/photos/1", html),
        ("thumb", f"/-/gallery/thumbs/{known_sha}.jpg", check_jpeg),
        ("sorted", "/gallery/photos.json?_sort_desc=taken_at&_size=20", json_ok),
        # The rows committed last, then a thumbnail of one of them: a row is never visible
        # before its files are in the store.
        ("newest", "/gallery/photos.json?_shape=array&_sort_desc=id&_size=5&_col=sha256&_col=rendition", check_newest),
        ("new-thumb", newest_thumb, check_jpeg),
    ]

    def worker() -> None:
        while not stop.is_set():
            n = next(issued)
            if n >= MAX_REQUESTS:
                return
            kind, path, check = requests[n % len(requests)]
            path = path() if callable(path) else path
            started = time.monotonic()
            status, problem = None, None
            try:
                status, body, headers = _fetch(url + path)
                text = body.decode("utf-8", "replace")
                marker = next((m for m in FAIL_MARKERS if m in text), None)
                if status != 200:
                    problem = f"HTTP {status}: {text[:300]}"
                elif marker:
                    problem = f"{marker!r} in body: ...{text[max(0, text.find(marker) - 150):][:400]}"
                else:
                    problem = check(body, headers)
            except Exception as e:  # noqa: BLE001  (a request that blows up is a failure, recorded)
                problem = f"{type(e).__name__}: {e}"
            hit = Hit(kind, path, started, time.monotonic(), status, problem)
            with lock:
                hits.append(hit)

    ingest_log = (open(base / "ingest.out", "wb"), open(base / "ingest.err", "wb"))
    proc = None
    pool = ThreadPoolExecutor(THREADS)
    try:
        ingest_started = time.monotonic()
        proc = subprocess.Popen(
            [str(INGEST), str(folder), "--db", str(db_path), "--store", str(store_path), "--jobs", "2",
             "--licence", "CC-BY-SA-4.0", "--creator", "Photo desk", "--publish"],
            cwd=base, stdin=subprocess.DEVNULL, stdout=ingest_log[0], stderr=ingest_log[1], start_new_session=True)
        futures = [pool.submit(worker) for _ in range(THREADS)]
        try:
            rc = proc.wait(HAMMER_SECONDS)
        except subprocess.TimeoutExpired:
            rc = None
        ingest_ended = time.monotonic()
        stop.set()
        for f in futures:
            f.result()
    finally:
        stop.set()
        pool.shutdown(wait=True)
        _stop(proc)
        for f in ingest_log:
            f.close()
    # The public copy follows the catalogue within a second or two of the last commit.
    deadline, final = time.monotonic() + 10, None
    while final != TOTAL_PHOTOS and time.monotonic() < deadline:
        status, body, _ = _fetch(url + "/gallery/photos.json?_size=0")
        final = json.loads(body)["filtered_table_rows_count"] if status == 200 else None
        time.sleep(0.2)
    run = Run(hits, ingest_started, ingest_ended, rc, (base / "ingest.out").read_text(),
              (base / "ingest.err").read_text(), counts, facet_timeouts, final, server_log.read_text())
    _report(run)
    return run


def test_every_request_succeeded(hammered):
    failures = [h for h in hammered.hits if h.problem]
    summary = "\n".join(f"{h.kind} {h.path}: {h.problem}" for h in failures[:20])
    assert not failures, f"{len(failures)} of {len(hammered.hits)} requests failed:\n{summary}"
    assert "database is locked" not in hammered.server_log
    assert "Caught this error" not in hammered.server_log, hammered.server_log[-3000:]
    assert "Traceback" not in hammered.server_log, hammered.server_log[-3000:]


def test_requests_overlapped_the_ingest(hammered):
    run = hammered
    during = run.during()
    assert len(during) >= MIN_DURING_INGEST, (len(during), len(run.hits))
    assert {h.kind for h in during} == {h.kind for h in run.hits}, "every kind of request ran during the ingest"
    # Overlap with the writes themselves, not just with the process: the server showed the
    # catalogue part-way, between the first import and the end of the big one.
    partial = {c for t, c in run.counts_seen if FIRST_IMPORT < c < TOTAL_PHOTOS and t <= run.ingest_ended}
    assert len(partial) >= 2, f"too few partial catalogues seen; counts: {sorted({c for _, c in run.counts_seen})}"
    assert len(run.hits) <= MAX_REQUESTS


def test_ingest_finished_and_catalogue_whole(hammered, photos):
    run = hammered
    assert run.ingest_rc == 0, f"exit {run.ingest_rc}\n{run.ingest_out}\n{run.ingest_err[-3000:]}"
    assert run.ingest_out.strip().startswith(
        f"{TOTAL_PHOTOS - FIRST_IMPORT} imported, 0 duplicates, {FIRST_IMPORT} unchanged, 0 problems"), run.ingest_out
    assert run.final_count == TOTAL_PHOTOS        # and the server sees all of them
    _, _, db_path, store_path, _ = photos
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == TOTAL_PHOTOS
        assert conn.execute("SELECT count(DISTINCT path) FROM photo_sources").fetchone()[0] == TOTAL_PHOTOS
        # The gazetteer and the demonstrations matching ran for every photo.
        cities = conn.execute("SELECT c.name, count(*) FROM photos p JOIN cities c ON c.id = p.city_id "
                              "GROUP BY c.name").fetchall()
        assert cities == [("London", TOTAL_PHOTOS)]
        assert conn.execute("SELECT count(*) FROM photos WHERE demonstration_id IS NULL").fetchone()[0] == 0
        named, provisional = conn.execute(
            "SELECT count(DISTINCT CASE WHEN NOT d.provisional THEN d.id END), "
            "count(DISTINCT CASE WHEN d.provisional THEN d.id END) "
            "FROM photos p JOIN demonstrations d ON d.id = p.demonstration_id").fetchone()
        assert (named, provisional) == (5, 2)
        assert conn.execute("SELECT count(*) FROM photos_fts WHERE photos_fts MATCH 'march'").fetchone()[0] \
            == TOTAL_PHOTOS // 10
        assert conn.execute("SELECT status FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone() == ("finished",)
        missing = [sha for (sha,) in conn.execute("SELECT sha256 FROM photos")
                   if not Store(store_path).derivative("thumbs", sha).exists()]
        assert not missing
    finally:
        conn.close()
