#!/usr/bin/env python3
"""Gallery benchmarks: page latency over a running server, against plain Datasette, in one run.

    .venv/bin/python bench/gallery.py [--rows N] [--requests N] [--keep DIR] [--quick]

1. A catalogue of N photo rows (default 100,000) built through the project's own schema
   (`ingest.catalogue.schema.connect`, so every trigger runs: FTS, licence permissions, year, publish log): a few
   real JPEGs imported with `run_ingest` (so thumbnails exist in the store), then synthetic rows in
   one transaction: ~300 demonstrations over 3 years in 40 cities, 20 licences, 200 creators (both
   skewed, a few dominate), titles, captions and keywords for full-text search, 2% withheld, ~30%
   with GPS, 5% flagged for review, 1% undated.
2. `ingest serve` on it (our plugin and metadata.yml: the public copy, the photo grid, 10 default
   facets, sort by taken_at desc), timed from launch until it answers, since startup builds the
   public copy of the catalogue.
3. The references, each serving a public copy of the same catalogue (ingest.catalogue.public_copy) under the
   same name, so the same URLs ask for the same rows:
   - plain: Datasette with no plugins (entry points not loaded) and no metadata; thumbnails from
     the store's folder through Datasette's own `--static`;
   - +meta: the same Datasette, no plugins, with our metadata.yml (same facets and sort): the
     difference between +meta and ours is the plugin, between plain and +meta the metadata.
4. Per URL, a warm-up then sequential requests over one keep-alive connection; p50 and p95 of the
   whole response (status 200 checked, body read). URLs: the grid (`/gallery/photos`), the grid
   sorted by taken_at explicitly, a facet-filtered grid (city + year), a search, a photo page
   (cycling over public ids), a thumbnail (cycling over the real photos), and deep pages of the
   taken_at-sorted grid: page 1, ~2,000 rows deep (reached by following Datasette's `next` links)
   and ~90% deep (a `?_next=` keyset token made from the row there). Target: p95 < 50 ms each;
   deep pages flat (p50 within 1.5x of page 1).
Ratios are ours/plain (p95). Afterwards the pages' SQL is traced (`?_trace=1`, on a second server
like `ingest serve` with `--setting trace_debug 1`) and the slowest queries listed with their plans.

Catalogues and servers live in a temporary folder, removed at the end, or in --keep DIR.
Other work on the machine shows in every figure: the header prints the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# This file is bench/gallery.py: run as a script, its folder comes first on sys.path and would
# shadow the `ingest` package (bench/ingest.py). Drop it; measure this checkout's package, whichever
# checkout the venv installed.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
sys.path.insert(0, str(_HERE.parent / "tests"))  # test fixtures (synthetic photos)

import datasette  # noqa: E402
from datasette.utils import escape_fts, tilde_encode  # noqa: E402
from fixtures.synth import make_photo  # noqa: E402

import ingest  # noqa: E402
from ingest.catalogue.public_copy import publish  # noqa: E402
from ingest.catalogue.schema import connect  # noqa: E402
from ingest.importer.pipeline import run_ingest  # noqa: E402
from ingest.importer.resolve import Options  # noqa: E402
from ingest.media.store import Store  # noqa: E402

ROOT = _HERE.parent
METADATA = ROOT / "metadata.yml"
HOST = "127.0.0.1"
TARGET_P95_MS = 50.0
FLAT = 1.5              # a deep page's p50 within 1.5x of page 1's
REAL_PHOTOS = 8
SEED = 20261124
MIN_REQUESTS = 10       # per URL, whatever the time budget

CITIES = [  # name, country, latitude, longitude
    ("London", "GB", 51.5074, -0.1278), ("Paris", "FR", 48.8566, 2.3522), ("Berlin", "DE", 52.5200, 13.4050),
    ("Munich", "DE", 48.1351, 11.5820), ("Madrid", "ES", 40.4168, -3.7038), ("Barcelona", "ES", 41.3874, 2.1686),
    ("Rome", "IT", 41.9028, 12.4964), ("Milan", "IT", 45.4642, 9.1900), ("Vienna", "AT", 48.2082, 16.3738),
    ("Prague", "CZ", 50.0755, 14.4378), ("Warsaw", "PL", 52.2297, 21.0122), ("Kraków", "PL", 50.0647, 19.9450),
    ("Kyiv", "UA", 50.4501, 30.5234), ("Lviv", "UA", 49.8397, 24.0297), ("Brussels", "BE", 50.8503, 4.3517),
    ("Amsterdam", "NL", 52.3676, 4.9041), ("Copenhagen", "DK", 55.6761, 12.5683), ("Stockholm", "SE", 59.3293, 18.0686),
    ("Oslo", "NO", 59.9139, 10.7522), ("Helsinki", "FI", 60.1699, 24.9384), ("Dublin", "IE", 53.3498, -6.2603),
    ("Lisbon", "PT", 38.7223, -9.1393), ("Athens", "GR", 37.9838, 23.7275), ("Budapest", "HU", 47.4979, 19.0402),
    ("Bratislava", "SK", 48.1486, 17.1077), ("Bucharest", "RO", 44.4268, 26.1025), ("Sofia", "BG", 42.6977, 23.3219),
    ("Zagreb", "HR", 45.8150, 15.9819), ("Belgrade", "RS", 44.7866, 20.4489), ("Vilnius", "LT", 54.6872, 25.2797),
    ("Riga", "LV", 56.9496, 24.1052), ("Tallinn", "EE", 59.4370, 24.7536), ("Manchester", "GB", 53.4808, -2.2426),
    ("Glasgow", "GB", 55.8642, -4.2518), ("Hamburg", "DE", 53.5511, 9.9937), ("Lyon", "FR", 45.7640, 4.8357),
    ("Marseille", "FR", 43.2965, 5.3698), ("Zürich", "CH", 47.3769, 8.5417), ("Geneva", "CH", 46.2044, 6.1432),
    ("Ljubljana", "SI", 46.0569, 14.5058),
]
CAUSES = ["ceasefire in Gaza", "solidarity with Ukraine", "climate justice", "an end to the occupation",
          "refugees welcome", "workers' rights", "housing for all", "peace", "free Palestine",
          "women's rights", "democracy", "press freedom", "against the far right", "fair pay for nurses",
          "public transport", "free education"]
KINDS_OF_MARCH = ["National march for", "Rally for", "Vigil for", "March for", "Demonstration for", "Protest for"]
FIRST = ["Zoë", "Sam", "Tomás", "Ana", "Olena", "Yusuf", "Marta", "Jonas", "Leila", "Pierre", "Ines", "Kofi",
         "Mariam", "Lukas", "Sofia", "Dmytro", "Aisha", "Jan", "Chiara", "Noor"]
LAST = ["Müller", "Okafor", "Ferrer", "Novak", "Kovalenko", "Haddad", "Nowak", "Berg", "Rossi", "Dubois"]
WORDS = ["banner", "crowd", "placard", "flag", "drum", "speech", "square", "street", "police", "children",
         "students", "nurses", "bridge", "megaphone", "candles", "umbrella", "rain", "sunset", "station", "parliament",
         "embassy", "stage", "singing", "chanting", "families", "elders", "bicycles", "balloons", "smoke", "steps"]
CAMERAS = [("Canon", "Canon EOS R6", "RF24-105mm F4 L IS USM"), ("SONY", "ILCE-7M3", "FE 24-70mm F2.8 GM"),
           ("NIKON CORPORATION", "NIKON Z 6_2", "NIKKOR Z 24-70mm f/4 S"), ("FUJIFILM", "X-T4", "XF16-55mmF2.8"),
           ("Google", "Pixel 8", None), ("Apple", "iPhone 15", None)]
SEARCH_WORD = "megaphone"   # in ~1/30 of the titles and captions: a few thousand hits at full size


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the catalogue

def _zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1 / (k ** s) for k in range(1, n + 1)]


def real_photos(work: Path, db, store: Store) -> list[str]:
    """A few real JPEGs, imported by the real pipeline so that the store holds their thumbnails."""
    folder = work / "real"
    for i in range(REAL_PHOTOS):
        when = datetime(2025, 3, 1, 12, 0) + timedelta(minutes=7 * i)
        make_photo(folder / f"IMG_{i + 1:04d}.JPG", width=1600, height=1200, seed=SEED + i, quality=85,
                   exif={"Make": "Canon", "Model": "Canon EOS R6", "DateTimeOriginal": when.strftime("%Y:%m:%d %H:%M:%S"),
                         "OffsetTimeOriginal": "+01:00", "Artist": "Zoë Müller"},
                   xmp={"dc:title": f"Real photo {i + 1} with a {SEARCH_WORD}", "dc:creator": ["Zoë Müller"]})
    summary = run_ingest(db, store, [str(folder)], Options(licence="CC-BY-SA-4.0"), jobs=1, publish=True)
    if summary.imported != REAL_PHOTOS:
        sys.exit(f"bench: the real photos did not import: {summary.lines}")
    return [r[0] for r in db.execute("SELECT sha256 FROM photos ORDER BY id")]


def synthetic_rows(db, rows: int) -> dict:
    """Cities, demonstrations and `rows` photos, in one transaction, through the catalogue's triggers."""
    rng = random.Random(SEED)
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    city_ids = []
    for name, cc, lat, lon in CITIES:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()) + "-" + cc.lower()
        cur = conn.execute("INSERT INTO cities (name, country_code, latitude, longitude, slug) VALUES (?, ?, ?, ?, ?)",
                           [name, cc, lat, lon, slug])
        city_ids.append((cur.lastrowid, name, lat, lon))
    city_weights = _zipf_weights(len(city_ids), 0.8)
    start = date(2023, 1, 1)
    demos = []
    for d in range(300):
        cid, cname, lat, lon = rng.choices(city_ids, city_weights)[0]
        day = start + timedelta(days=rng.randrange(3 * 365))
        cause = rng.choice(CAUSES)
        name = f"{rng.choice(KINDS_OF_MARCH)} {cause}"
        cur = conn.execute("INSERT INTO demonstrations (name, slug, date, city_id, start_time) VALUES (?, ?, ?, ?, ?)",
                           [name, f"{day.isoformat()}-{re.sub(r'[^a-z0-9]+', '-', (cname + ' ' + cause).lower())}-{d}",
                            day.isoformat(), cid, f"{rng.randrange(10, 16):02d}:00"])
        demos.append((cur.lastrowid, day, cid, cname, lat, lon, cause))
    demo_weights = [rng.paretovariate(1.5) for _ in demos]   # a few big marches, many small ones
    licences = [r[0] for r in conn.execute(
        "SELECT id FROM licences WHERE id LIKE 'CC-%' AND id NOT LIKE '%-1.0' ORDER BY "
        "CASE WHEN id LIKE '%-4.0' THEN 0 WHEN id LIKE '%-3.0' THEN 1 ELSE 2 END, id LIMIT 18")]
    licences += ["CC0-1.0", "all-rights-reserved"]
    licence_weights = _zipf_weights(len(licences), 1.2)
    creators = [f"{f} {l}" for f in FIRST for l in LAST][:200]
    rng.shuffle(creators)
    creator_weights = _zipf_weights(len(creators), 1.0)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    columns = ("sha256", "original_filename", "format", "mime_type", "file_size", "width", "height", "taken_at",
               "taken_at_utc", "date", "date_source", "city_id", "city_source", "demonstration_id",
               "demonstration_source", "licence_id", "licence_source", "creator", "creator_source", "title",
               "title_source", "caption", "caption_source", "keywords", "latitude", "longitude", "location_source",
               "camera_make", "camera_model", "lens_model", "orientation", "needs_review", "review_reason",
               "withheld", "imported_at", "updated_at")

    def photo(i: int) -> tuple:
        demo_id, day, cid, cname, lat, lon, cause = rng.choices(demos, demo_weights)[0]
        words = rng.sample(WORDS, 4)
        if i % 30 == 0:
            words[0] = SEARCH_WORD
        when = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(10 * 3600, 18 * 3600))
        undated = rng.random() < 0.01
        no_demo = rng.random() < 0.03
        gps = rng.random() < 0.3
        review = rng.random() < 0.05
        make, model, lens = rng.choice(CAMERAS)
        portrait = rng.random() < 0.2
        w, h = (3000, 4000) if portrait else (4000, 3000)
        return (
            hashlib.sha256(f"synthetic-{SEED}-{i}".encode()).hexdigest(), f"IMG_{i % 10000:04d}.JPG", "JPEG",
            "image/jpeg", rng.randrange(2_000_000, 9_000_000), w, h,
            None if undated else when.isoformat() + "+01:00",
            None if undated else (when - timedelta(hours=1)).isoformat() + "+00:00",
            None if undated else day.isoformat(), None if undated else rng.choice(["exif"] * 8 + ["xmp", "file-name"]),
            cid, "gps" if gps else rng.choice(["iptc", "xmp", "registry"]),
            None if no_demo else demo_id, None if no_demo else "registry",
            rng.choices(licences, licence_weights)[0], rng.choice(["xmp", "iptc", "flag"]),
            rng.choices(creators, creator_weights)[0], rng.choice(["xmp", "iptc", "exif", "flag"]),
            f"{cname}: {words[0]} and {words[1]} at the {cause} march", "xmp",
            f"{words[2].capitalize()}, {words[3]} and {words[0]} in {cname}, {day:%d %B %Y}.", "xmp",
            json.dumps([cause, cname, *words[:2]], ensure_ascii=False),
            round(lat + rng.uniform(-0.02, 0.02), 6) if gps else None,
            round(lon + rng.uniform(-0.02, 0.02), 6) if gps else None, "exif" if gps else None,
            make, model, lens, 6 if portrait else 1,
            int(review), ("no date" if undated else "licence stated twice") if review or undated else None,
            int(rng.random() < 0.02), now, now,
        )

    sql = f"INSERT INTO photos ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    chunk = 10_000
    for first in range(0, rows, chunk):
        conn.executemany(sql, (photo(i) for i in range(first, min(rows, first + chunk))))
    conn.execute("COMMIT")
    conn.execute("PRAGMA optimize")
    return {"cities": len(city_ids), "demonstrations": len(demos), "licences": len(licences), "creators": len(creators)}


def build(work: Path, rows: int) -> tuple[Path, Path, list[str], dict]:
    db_path, store_path = work / "gallery.db", work / "archive"
    started = time.perf_counter()
    db = connect(db_path)
    shas = real_photos(work, db, Store(store_path))
    real_s = time.perf_counter() - started
    started = time.perf_counter()
    info = synthetic_rows(db, rows)
    info.update(real_seconds=real_s, synthetic_seconds=time.perf_counter() - started)
    info["public"] = db.execute("SELECT count(*) FROM photos WHERE state = 'public'").fetchone()[0]
    info["total"] = db.execute("SELECT count(*) FROM photos").fetchone()[0]
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return db_path, store_path, shas, info


# ---------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# Datasette without any plugin installed in the environment: its plugin module skips the entry
# points when `sys._called_from_test` is set (Datasette 0.65 has no switch for it).
_PLAIN = "import sys; sys._called_from_test = True; from datasette.cli import cli; cli(prog_name='datasette')"


class Server:
    def __init__(self, name: str, cmd: list[str], cwd: Path, env: dict | None = None):
        self.name, self.port = name, int(cmd[cmd.index("--port") + 1])
        self.log = cwd / f"{name}.log"
        self.started = time.perf_counter()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})}, start_new_session=True)
        self.conn: http.client.HTTPConnection | None = None

    def wait(self, path: str, timeout: float = 300) -> tuple[float, float]:
        """Seconds from launch until the server answered anything, and until `path` answered 200."""
        answered = None
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"bench: {self.name} exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                status, _ = self.get(path, timeout=timeout)
                answered = answered or time.perf_counter() - self.started
                if status == 200:
                    return answered, time.perf_counter() - self.started
            except OSError:
                self.close_conn()
            if time.monotonic() > deadline:
                sys.exit(f"bench: {self.name} did not answer {path} within {timeout:.0f} s:\n"
                         f"{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def get(self, path: str, timeout: float = 60) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, ConnectionError):
                self.close_conn()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def stop(self) -> None:
        self.close_conn()
        if self.proc.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(5)
                return
            except subprocess.TimeoutExpired:
                continue


def ingest_command() -> str:
    beside = Path(sys.executable).parent / "ingest"
    found = str(beside) if beside.exists() else shutil.which("ingest")
    if not found:
        sys.exit("bench: the `ingest` console script is not installed (run `make setup`)")
    return found


def start_ours(work: Path, db_path: Path, store_path: Path) -> Server:
    """The real command: `ingest serve` (Datasette with our plugin and metadata.yml)."""
    port = free_port()
    # This checkout's ingest (PYTHONPATH), as the traced server below runs it, not whichever
    # checkout the venv's console script was installed from.
    cmd = [sys.executable, "-c", "import sys; sys.argv[0] = 'ingest'; from ingest.cli import main; main()"]
    return Server("ours", [*cmd, "serve", "--db", str(db_path), "--store", str(store_path),
                           "--metadata", str(METADATA), "--host", HOST, "--port", str(port)], work,
                  env={"PYTHONPATH": str(ROOT)})


def start_traced(work: Path, db_path: Path, store_path: Path) -> Server:
    """What `ingest serve` runs (Datasette, our plugin, metadata.yml, INGEST_STORE), plus the
    trace_debug setting that `ingest serve` has no option for: only used for ?_trace=1."""
    port = free_port()
    cmd = [sys.executable, "-c", "from datasette.cli import cli; cli(prog_name='datasette')", "serve", str(db_path),
           "-m", str(METADATA), "-h", HOST, "--port", str(port), "--setting", "trace_debug", "1"]
    return Server("traced", cmd, work, env={"INGEST_STORE": str(store_path.resolve()), "PYTHONPATH": str(ROOT)})


def start_plain(name: str, work: Path, public_db: Path, store_path: Path, *, metadata: bool) -> Server:
    port = free_port()
    cmd = [sys.executable, "-c", _PLAIN, "serve", str(public_db), "-h", HOST, "--port", str(port),
           "--static", f"thumbs:{(store_path / 'thumbs').resolve()}"]
    if metadata:
        cmd += ["-m", str(METADATA)]
    return Server(name, cmd, work)


# ---------------------------------------------------------------- measuring

def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(len(s) - 1, int(k) + 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def measure(server: Server, paths: list[str], requests: int, warmup: int, budget: float) -> dict:
    """Sequential GETs cycling over `paths`; latencies in ms. Stops early after `budget` seconds
    (with at least MIN_REQUESTS made) so that a slow URL cannot hold the run for minutes. A response
    other than 200 (Datasette answers 400 "SQL Interrupted" past its 1 s sql_time_limit_ms) is
    counted as an error; its time is kept, since the visitor waited for it."""
    started = time.monotonic()
    for i in range(warmup):
        server.get(paths[i % len(paths)])
        if time.monotonic() - started > budget / 4:
            break
    times, size, errors = [], 0, {}
    started = time.monotonic()
    for i in range(requests):
        path = paths[i % len(paths)]
        t = time.perf_counter()
        status, body = server.get(path)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            title = re.search(rb"<title>([^<]*)</title>", body)
            key = f"{status} {title[1].decode().strip() if title else body[:60].decode(errors='replace')}"
            errors[key] = errors.get(key, 0) + 1
        size += len(body)
        if i + 1 >= MIN_REQUESTS and time.monotonic() - started > budget:
            break
    return {"p50": pct(times, 50), "p95": pct(times, 95), "n": len(times), "bytes": size // len(times),
            "errors": errors}


_NEXT = re.compile(r'<a href="([^"]*)">Next page</a>')


def next_link(server: Server, path: str) -> str | None:
    """The path of the page after `path`, as the HTML page links it ("Next page": what a visitor
    follows; the gallery's link skips facets, whose counts past page 1 are cursor-limited)."""
    for _ in range(5):  # a slow page may time out (400, SQL Interrupted): ask again
        status, body = server.get(path)
        if status == 200:
            break
    else:
        sys.exit(f"bench: {server.name} {path} -> {status}")
    found = _NEXT.search(body if isinstance(body, str) else body.decode("utf-8", "replace"))
    if not found:
        return None
    url = html.unescape(found.group(1))
    parsed = urllib.parse.urlsplit(url)
    return parsed.path + ("?" + parsed.query if parsed.query else "")


def keyset_token(public_db: Path, offset: int) -> str:
    """Datasette's `_next` token for the taken_at-desc grid after `offset` rows: "<taken_at>,<id>"
    (Datasette orders `_sort_desc=taken_at` as `taken_at desc, id`, NULLs last)."""
    conn = sqlite3.connect(public_db)
    try:
        taken_at, pk = conn.execute("SELECT taken_at, id FROM photos ORDER BY taken_at DESC, id LIMIT 1 OFFSET ?",
                                    [offset]).fetchone()
    finally:
        conn.close()
    sort = "$null" if taken_at is None else tilde_encode(str(taken_at))
    return f"{sort},{tilde_encode(str(pk))}"


def kind_of_query(sql: str) -> str:
    s = " ".join(sql.split()).lower()
    if "json_type(" in s or " as n from" in s or "glob" in s or s.startswith("select date("):
        return "facet suggestions"
    if " as count from" in s:
        return "facets"
    if s.startswith("select count(*)"):
        return "row count"
    if s.startswith("select id, sha256") or s.startswith("select rowid, id"):
        return "the page's rows"
    return "other (labels, schema, permissions)"


def trace(server: Server, path: str, public_db: Path, top: int = 3) -> list[str]:
    """The SQL behind a page (Datasette's ?_trace=1): time per kind of query, the slowest queries and
    the page's own rows query with SQLite's query plans (run on the reference's public copy)."""
    base, _, query = path.partition("?")
    status, body = server.get(f"{base}.json?{query + '&' if query else ''}_trace=1")
    if status != 200:
        return [f"trace of {path}: status {status}"]
    traces = json.loads(body).get("_trace", {})
    found = [t for t in traces.get("traces", []) if t.get("sql")]
    kinds: dict[str, list[float]] = {}
    for t in found:
        kinds.setdefault(kind_of_query(t["sql"]), []).append(t.get("duration_ms", 0))
    lines = [f"{path}: {len(found)} queries, {sum(sum(v) for v in kinds.values()):.0f} ms of SQL "
             f"(request {traces.get('request_duration_ms', 0):.0f} ms): "
             + ", ".join(f"{k} {len(v)} = {sum(v):.0f} ms" for k, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1])))]
    conn = sqlite3.connect(f"{public_db.resolve().as_uri()}?mode=ro", uri=True)
    conn.create_function("escape_fts", 1, escape_fts)
    rows_queries = [t for t in found if kind_of_query(t["sql"]) == "the page's rows"][:1]
    slowest = sorted(found, key=lambda t: -t.get("duration_ms", 0))[:top]
    try:
        for t in slowest + [t for t in rows_queries if t not in slowest]:
            sql = " ".join(str(t["sql"]).split())
            try:
                plan = "; ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {t['sql']}", t.get("params") or {}))
            except sqlite3.Error as e:
                plan = f"(no plan: {e})"
            where = sql.lower().rfind(" where ")
            shown = sql[:90] + (" ..." + sql[where:where + 160] if where > 90 else sql[90:250])
            lines.append(f"  {t.get('duration_ms', 0):7.1f} ms  [{kind_of_query(t['sql'])}] {shown}")
            lines.append(f"             plan: {plan[:220]}")
    finally:
        conn.close()
    return lines


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=None, help="synthetic photo rows [default: 100000; --quick 5000]")
    ap.add_argument("--requests", type=int, default=None, help="timed requests per URL [default: 200; --quick 20]")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds per URL and server after which measuring stops (min 10 requests) [default: 15]")
    ap.add_argument("--keep", metavar="DIR", help="build and keep everything in DIR (default: a temporary folder)")
    ap.add_argument("--no-meta-reference", action="store_true", help="skip the plain-Datasette-with-metadata.yml reference (--quick skips it)")
    ap.add_argument("--quick", action="store_true", help="a smoke run in under 30 s (5,000 rows, 8 requests per URL, no +meta reference)")
    args = ap.parse_args()
    global MIN_REQUESTS
    rows = args.rows or (5000 if args.quick else 100_000)
    requests = args.requests or (8 if args.quick else 200)
    warmup = 1 if args.quick else 5
    budget = args.budget or (1.0 if args.quick else 15.0)
    MIN_REQUESTS = min(MIN_REQUESTS, requests, 5 if args.quick else MIN_REQUESTS)
    no_meta = args.no_meta_reference or args.quick
    if rows < 1000:
        ap.error("--rows must be at least 1000")

    if args.keep:
        work = Path(args.keep).resolve()
        if work.exists() and any(work.iterdir()):
            ap.error(f"--keep {work}: the folder must be empty or new")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="gallery-bench-"))
    t0 = time.perf_counter()
    load_before = os.getloadavg()[0]
    log(f"gallery bench: {rows} rows, {requests} requests per URL; {os.cpu_count()} cores; work in {work}")
    servers: list[Server] = []
    results: dict[str, dict[str, dict]] = {}
    info: list[str] = []
    try:
        log("building the catalogue")
        db_path, store_path, shas, built = build(work, rows)
        size_mb = db_path.stat().st_size / 1e6
        info.append(f"catalogue: {built['total']} photos ({built['public']} public), {built['cities']} cities, "
                    f"{built['demonstrations']} demonstrations, {built['licences']} licences, {built['creators']} "
                    f"creators; {size_mb:.0f} MB; {REAL_PHOTOS} real photos imported in {built['real_seconds']:.1f} s, "
                    f"{rows} synthetic rows inserted in {built['synthetic_seconds']:.1f} s "
                    f"({rows / built['synthetic_seconds']:.0f} rows/s through the triggers)")

        log("public copy (in process, for the references)")
        ref_dir = work / "reference"
        ref_dir.mkdir()
        public_db = ref_dir / "gallery.db"
        started = time.perf_counter()
        published = publish(db_path, public_db)
        publish_s = time.perf_counter() - started
        info.append(f"public copy built by ingest.catalogue.public_copy in {publish_s:.2f} s ({published} rows, "
                    f"{public_db.stat().st_size / 1e6:.0f} MB)")

        log("starting the servers")
        startup = {}
        ours = start_ours(work, db_path, store_path)
        servers.append(ours)
        startup["ours"] = ours.wait("/gallery/photos")
        plain = start_plain("plain", ref_dir, public_db, store_path, metadata=False)
        servers.append(plain)
        startup["plain"] = plain.wait("/gallery/photos")
        meta = None
        if not no_meta:
            meta = start_plain("meta", ref_dir, public_db, store_path, metadata=True)
            servers.append(meta)
            startup["meta"] = meta.wait("/gallery/photos")

        conn = sqlite3.connect(public_db)
        top_city = conn.execute("SELECT city_id FROM photos GROUP BY city_id ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        ids = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY random() LIMIT 50")]
        public_count = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
        filtered = conn.execute("SELECT count(*) FROM photos WHERE city_id = ? AND year = 2024", [top_city]).fetchone()[0]
        hits = conn.execute("SELECT count(*) FROM photos_fts WHERE photos_fts MATCH ?", [SEARCH_WORD]).fetchone()[0]
        top_slug = conn.execute("SELECT slug FROM cities WHERE id = ?", [top_city]).fetchone()[0]
        city_name = conn.execute("SELECT name FROM cities WHERE id = ?", [top_city]).fetchone()[0]
        creators = [r[0] for r in conn.execute("SELECT DISTINCT creator FROM photos WHERE creator IS NOT NULL LIMIT 200")]
        words = f"{SEARCH_WORD} {city_name}"
        word_hits = conn.execute("SELECT count(*) FROM photo_search WHERE photo_search MATCH ?",
                                 [" ".join(f'"{w}"' for w in words.split())]).fetchone()[0]
        conn.close()

        sort = "_sort_desc=taken_at"
        deep_rows = 2000 if public_count > 4000 else public_count // 3
        log(f"following next links {deep_rows} rows deep")
        page, pages = f"/gallery/photos?{sort}", 0
        while pages * 100 < deep_rows:
            page = next_link(ours, page)
            pages += 1
            if pages == 1:
                page2 = page
        far = int(public_count * 0.9)
        far_page = f"/gallery/photos?{sort}&_next={keyset_token(public_db, far - 1)}"
        far_page += "&_nofacet=1" if "_nofacet=1" in page else ""  # as the gallery's Next page links it
        thumbs_ours = [f"/-/gallery/thumbs/{s}.jpg" for s in shas]
        thumbs_plain = [f"/thumbs/{s[:2]}/{s}.jpg" for s in shas]
        urls = [  # kind, ours paths, reference paths, note
            ("grid (default sort)", ["/gallery/photos"], None, "ours: taken_at desc (metadata); plain: rowid"),
            (f"grid ?{sort}", [f"/gallery/photos?{sort}"], None, "page 1"),
            ("facet-filtered grid", [f"/gallery/photos?city_id={top_city}&year=2024"], None,
             f"top city, 2024: {filtered} rows"),
            ("search", [f"/gallery/photos?_search={SEARCH_WORD}"], None, f"{hits} hits"),
            ("photo page", [f"/gallery/photos/{i}" for i in ids], None, f"{len(ids)} ids in turn"),
            ("thumbnail", thumbs_ours, thumbs_plain, f"{len(shas)} real photos in turn; plain: --static"),
            ("grid page 2", [page2], None, "the first next link (no facet suggestions after page 1)"),
            # The journalist's pages (front.py, browse.py); plain Datasette serves its nearest equivalents.
            ("front page", ["/"], ["/"], "ours: the gallery's front page; plain: Datasette's index"),
            ("browser grid", ["/-/gallery/photos"], ["/gallery/photos"], "counts cached per copy version"),
            ("browser filtered", [f"/-/gallery/photos?city={top_slug}&year=2024"],
             [f"/gallery/photos?city_id={top_city}&year=2024"], f"top city, 2024: {filtered} rows; cached counts"),
            ("browser filtered, uncached", [f"/-/gallery/photos?creator={urllib.parse.quote(c)}" for c in creators],
             [f"/gallery/photos?creator={urllib.parse.quote(c)}" for c in creators],
             f"{len(creators)} photographers in turn: each first request counts its facets"),
            ("browser search", [f"/-/gallery/photos?q={urllib.parse.quote(words)}"], [f"/gallery/photos?_search={urllib.parse.quote(words)}"],
             f"'{words}': {word_hits} hits (word and city); cached counts"),
            (f"grid {deep_rows} rows deep", [page], None, f"{pages} next links from page 1"),
            (f"grid {far} rows deep", [far_page], None, "?_next= keyset token"),
        ]
        for kind, ours_paths, ref_paths, _ in urls:
            results[kind] = {}
            for server in [ours, plain] + ([meta] if meta else []):
                paths = ref_paths if ref_paths and server is not ours else ours_paths
                log(f"  {kind}: {server.name}")
                results[kind][server.name] = measure(server, paths, requests, warmup, budget)

        info.append("startup until /gallery/photos answers 200 (launch to first answer, then the first grid): "
                    + "; ".join(f"{name} {a:.1f} s / {b:.1f} s" for name, (a, b) in startup.items())
                    + " (ours includes building the public copy)")
        info.append(f"deep page: {page}")
        info.append(f"far deep page: {far_page}")
        for kind, _, _, note in urls:
            r = results[kind]
            errors = "; ".join(f"{name}: {n} x {e}" for name, m in r.items() for e, n in m["errors"].items())
            info.append(f"{kind}: {note}; {r['ours']['n']} requests ours, {r['plain']['n']} plain; "
                        f"response {r['ours']['bytes'] / 1e3:.0f} KB ours, {r['plain']['bytes'] / 1e3:.0f} KB plain"
                        + (f"; errors: {errors}" if errors else ""))
        for s in servers:
            s.stop()
        log("tracing the SQL")
        traced = start_traced(work, db_path, store_path)
        servers.append(traced)
        traced.wait("/gallery/photos")
        traces = []
        for path in ("/gallery/photos", f"/gallery/photos?city_id={top_city}&year=2024", f"/gallery/photos?_search={SEARCH_WORD}",
                     far_page):
            traces += trace(traced, path, public_db)
    finally:
        for s in servers:
            s.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------ report
    print()
    print(f"ingest {ingest.__version__} gallery bench - Python {platform.python_version()}, Datasette "
          f"{datasette.__version__}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores, "
          f"{time.perf_counter() - t0:.0f} s; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.quick:
        print("--quick: a smoke run; small catalogue and few requests, the verdicts mean little")
    print()
    head = ["URL", "p50 ms", "p95 ms", "plain p50/p95", "ratio p95", *(["+meta p50/p95"] if meta else []),
            f"p95 < {TARGET_P95_MS:.0f} ms"]
    table = [head]
    verdicts = []
    for kind, r in results.items():
        o, p = r["ours"], r["plain"]
        ok = o["p95"] < TARGET_P95_MS and not o["errors"]
        verdicts.append((ok, kind, o))
        table.append([kind, f"{o['p50']:.1f}", f"{o['p95']:.1f}", f"{p['p50']:.1f} / {p['p95']:.1f}",
                      f"{o['p95'] / p['p95']:.1f}x",
                      *([f"{r['meta']['p50']:.1f} / {r['meta']['p95']:.1f}"] if meta else []),
                      ("PASS" if ok else "MISS") + (f" ({sum(o['errors'].values())} errors)" if o["errors"] else "")])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print()
    for line in info:
        print(f"- {line}")
    print()
    # Page 1 also computes facet suggestions, which Datasette skips once `_next` is given: deep pages
    # are compared with page 2, the first page that does the same work as they do.
    page2_p50 = results["grid page 2"]["ours"]["p50"]
    for k in (k for k in results if "rows deep" in k):
        ratio = results[k]["ours"]["p50"] / page2_p50
        print(f"{'PASS' if ratio <= FLAT else 'MISS'}: deep pages flat: {k}: p50 {ratio:.2f}x page 2's "
              f"(plain: {results[k]['plain']['p50'] / results['grid page 2']['plain']['p50']:.2f}x; target <= {FLAT}x)")
    for ok, kind, o in verdicts:
        errors = "".join(f"; {n} x {e}" for e, n in o["errors"].items())
        print(f"{'PASS' if ok else 'MISS'}: {kind}: p95 {o['p95']:.1f} ms (target < {TARGET_P95_MS:.0f} ms){errors}")
    print()
    print("slowest SQL behind the pages (ours, ?_trace=1), with SQLite's query plans:")
    for line in traces:
        print(line)


if __name__ == "__main__":
    main()
