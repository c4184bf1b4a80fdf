#!/usr/bin/env python3
"""Attack bench: do the gallery's pages stay fast while someone tries to stall the server?

    .venv/bin/python bench/attack.py [--rows N] [--real N] [--mp MP] [--keep DIR] [--quick]

1. A catalogue built like bench/gallery.py's (its builder: synthetic rows through the schema's
   triggers), plus --real real JPEGs imported by the pipeline (distinct files: one photo-like image
   per few, each copy with its own JPEG comment), so that a 200-photo ZIP has 200 originals to copy.
   One archivist account, so that wrong passwords cost what they cost in production.
2. The server as `ingest serve` runs it (Datasette, our plugin with its limits, metadata.yml,
   INGEST_STORE). The limits are the plugin's own (its asgi_wrapper hook): the README's "before"
   figures were measured on the code from before them.
3. The grid (`/gallery/photos`) and a photo page (cycling over public ids): p50/p95 of sequential
   requests over one keep-alive connection, first quiet, then while each attack runs:
   - sql: 4 clients looping a heavy recursive CTE on the public copy (`?sql=`, JSON);
   - zip: 3 clients looping 200-photo ZIP downloads of originals; the server's RSS is sampled
     (/proc, every 20 ms) and its peak reported;
   - login: 4 clients POSTing wrong passwords to /-/login (fields username, password, csrftoken).
   The p95 ratio to quiet is the verdict (target: within 2x). What the attackers got (status
   counts) is reported too. Load average before and after: other work on the machine shows.
The grid and the photo page are asked in turn, so both see the same moment of each attack. All
traffic goes to 127.0.0.1; every loop is bounded (attack threads stop after the measurement or
--attack-seconds, whichever comes first, and after MAX_ATTACK_REQUESTS each; a measurement stops
after its time budget once it has 10 requests of each page).
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # bench/ingest.py shadows `ingest`
_spec = importlib.util.spec_from_file_location("bench_gallery", _HERE / "gallery.py")
gallery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gallery)  # also puts the repository and tests/ on sys.path

import datasette  # noqa: E402
from datasette_versions import sql_path  # noqa: E402
from fixtures.synth import make_photo  # noqa: E402

import ingest  # noqa: E402
from ingest.catalogue.schema import connect  # noqa: E402
from ingest.importer.pipeline import run_ingest  # noqa: E402
from ingest.importer.resolve import Options  # noqa: E402
from ingest.media.store import Store  # noqa: E402
from ingest.web.compat import serve_arguments  # noqa: E402

HOST = gallery.HOST
TARGET_RATIO = 2.0
MAX_ATTACK_REQUESTS = 10_000     # per attacking client, whatever else happens
ZIP_SIZE = 200
ARCHIVIST, PASSWORD = "bench-archivist", "a long and correct password"
HEAVY_SQL = ("with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000000) "
             "select count(*) from c")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the archive

def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment after SOI: another file (another hash), same pixels."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def build(work: Path, rows: int, real: int, megapixels: float) -> tuple[Path, Path, list[int]]:
    db_path, store_path = work / "gallery.db", work / "archive"
    folder, bases = work / "real", []
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    for i in range(min(real, 4)):
        made = make_photo(work / f"base{i}.jpg", width=width, height=width * 3 // 4, seed=gallery.SEED + i,
                          exif={"Make": "Canon", "Model": "Canon EOS R6", "DateTimeOriginal": f"2025:03:01 12:0{i}:00"},
                          xmp={"dc:title": f"Real photo {i}", "dc:creator": ["Zoë Müller"]})
        bases.append(made.read_bytes())
    folder.mkdir()
    for i in range(real):
        (folder / f"IMG_{i:04d}.JPG").write_bytes(with_comment(bases[i % len(bases)], f"copy {i}"))
    db = connect(db_path)
    summary = run_ingest(db, Store(store_path), [str(folder)], Options(licence="CC-BY-SA-4.0"), jobs=2)
    if summary.imported != real:
        sys.exit(f"bench: the real photos did not import: {summary.lines}")
    real_ids = [r[0] for r in db.execute("SELECT id FROM photos ORDER BY id")]
    gallery.synthetic_rows(db, rows)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    subprocess.run([gallery.ingest_command(), "archivists", "add", ARCHIVIST, "--password", PASSWORD,
                    "--db", str(db_path), "--store", str(store_path)], check=True, capture_output=True)
    return db_path, store_path, real_ids


def start(work: Path, db_path: Path, store_path: Path) -> gallery.Server:
    """What `ingest serve` runs."""
    cmd = [sys.executable, "-c", "from datasette.cli import cli; cli(prog_name='datasette')", "serve", str(db_path),
           *serve_arguments(str(gallery.METADATA)), "-h", HOST, "--port", str(gallery.free_port())]
    return gallery.Server("attacked", cmd, work, env={"INGEST_STORE": str(store_path.resolve())})


# ---------------------------------------------------------------- attackers

def rss_kb(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Attack:
    """`clients` threads, each looping `one(conn)` until stopped (bounded by MAX_ATTACK_REQUESTS
    and a deadline); status counts per outcome."""

    def __init__(self, name: str, port: int, clients: int, one, seconds: float):
        self.name, self.port, self.one = name, port, one
        self.stop, self.deadline = threading.Event(), time.monotonic() + seconds
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        for _ in range(MAX_ATTACK_REQUESTS):
            if self.stop.is_set() or time.monotonic() > self.deadline:
                break
            try:
                outcome = str(self.one(conn))
            except (OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            with self.lock:
                self.counts[outcome] = self.counts.get(outcome, 0) + 1
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(150)


def get(conn: http.client.HTTPConnection, path: str, headers: dict | None = None) -> tuple[int, int]:
    """GET `path`, reading the body in 1 MB chunks (a ZIP is not kept); (status, bytes)."""
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    size = 0
    while chunk := r.read(1 << 20):
        size += len(chunk)
    return r.status, size


def heavy_sql(conn) -> int:
    return get(conn, sql_path("gallery", ".json") + "?" + urllib.parse.urlencode({"sql": HEAVY_SQL}))[0]


def zip_download(ids: list[int]):
    path = "/-/gallery/download.zip?" + "&".join(f"id={i}" for i in ids) + "&size=original"

    def one(conn) -> str:
        status, size = get(conn, path)
        return f"{status} ({size / 1e6:.0f} MB)" if status == 200 else str(status)

    return one


_CSRF = re.compile(r'name="csrftoken" value="([^"]+)"')


def wrong_password(conn) -> int:
    """A fresh login form (its CSRF token and cookie), then a wrong password for the archivist."""
    conn.request("GET", "/-/login")
    r = conn.getresponse()
    page = r.read().decode("utf-8", "replace")
    cookie = "; ".join(c.split(";")[0] for k, c in r.getheaders() if k.lower() == "set-cookie")
    token = _CSRF.search(page)
    body = urllib.parse.urlencode({"username": ARCHIVIST, "password": "not the password",
                                   "csrftoken": token.group(1) if token else ""})
    conn.request("POST", "/-/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    r = conn.getresponse()
    r.read()
    return r.status


class Sampler(threading.Thread):
    """The server's RSS every 20 ms while an attack runs: its peak in MB."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except OSError:
                return


def measure(server: gallery.Server, pages: dict[str, list[str]], requests: int, budget: float) -> dict:
    """Sequential GETs, the kinds of page in turn (so each sees the same attack), cycling over each
    kind's paths; latencies in ms. Stops after `budget` seconds once every kind has MIN_REQUESTS."""
    for paths in pages.values():
        server.get(paths[0])  # warm
    times: dict[str, list[float]] = {kind: [] for kind in pages}
    errors: dict[str, dict[str, int]] = {kind: {} for kind in pages}
    started = time.monotonic()
    for i in range(requests):
        for kind, paths in pages.items():
            t = time.perf_counter()
            status, _ = server.get(paths[i % len(paths)])
            times[kind].append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors[kind][str(status)] = errors[kind].get(str(status), 0) + 1
        if i + 1 >= gallery.MIN_REQUESTS and time.monotonic() - started > budget:
            break
    return {kind: {"p50": gallery.pct(v, 50), "p95": gallery.pct(v, 95), "n": len(v), "errors": errors[kind]}
            for kind, v in times.items()}


# ---------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=None, help="synthetic photo rows [default: 3000]")
    ap.add_argument("--real", type=int, default=ZIP_SIZE, help=f"real photos imported [default: {ZIP_SIZE}]")
    ap.add_argument("--mp", type=float, default=6.0, help="megapixels of the real photos [default: 6]")
    ap.add_argument("--requests", type=int, default=None, help="timed requests per URL and phase [default: 60]")
    ap.add_argument("--attack-seconds", type=float, default=600, help="longest an attack runs [default: 600]")
    ap.add_argument("--only", choices=["sql", "zip", "login"], action="append", help="run only these attacks")
    ap.add_argument("--keep", metavar="DIR", help="build and keep everything in DIR (default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 1000 rows, 40 real 2 MP photos, 15 requests")
    args = ap.parse_args()
    rows = args.rows or (1000 if args.quick else 3000)
    real = 40 if args.quick and args.real == ZIP_SIZE else args.real
    megapixels = 2.0 if args.quick else args.mp
    requests = args.requests or (15 if args.quick else 60)
    budget = 10.0 if args.quick else 40.0
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="attack-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    server = None
    try:
        log(f"attack bench: building {real} real photos ({megapixels:g} MP) and {rows} rows in {work}")
        db_path, store_path, real_ids = build(work, rows, real, megapixels)
        server = start(work, db_path, store_path)
        server.wait("/gallery/photos")
        status, body = server.get("/gallery/photos.json?_shape=array&_col=id&_size=50")
        ids = [int(i) for i in re.findall(rb'"id": ?(\d+)', body)]
        pages = {"grid": ["/gallery/photos"], "photo page": [f"/gallery/photos/{i}" for i in ids]}

        def measure_pages() -> dict:
            return measure(server, pages, requests, budget)

        log("quiet")
        rss_quiet = rss_kb(server.proc.pid) // 1024
        results = {"quiet": measure_pages()}
        attacks = {
            "sql": ("4 clients, heavy SQL", 4, heavy_sql),
            "zip": (f"3 clients, {min(ZIP_SIZE, len(real_ids))}-photo ZIPs", 3, zip_download(real_ids[:ZIP_SIZE])),
            "login": ("4 clients, wrong passwords", 4, wrong_password),
        }
        notes, peaks, loads = {}, {}, {"quiet": os.getloadavg()[0]}
        for key, (label, clients, one) in attacks.items():
            if args.only and key not in args.only:
                continue
            log(f"attack: {label}")
            sampler = Sampler(server.proc.pid)
            sampler.start()
            with Attack(label, server.port, clients, one, args.attack_seconds) as attack:
                time.sleep(1.0)  # let the attack take hold
                results[label] = measure_pages()
                loads[label] = os.getloadavg()[0]
            sampler.done.set()
            sampler.join()
            peaks[label] = sampler.peak // 1024
            notes[label] = ", ".join(f"{n} x {k}" for k, n in sorted(attack.counts.items(), key=lambda kv: -kv[1]))
            server.close_conn()
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"ingest {ingest.__version__} attack bench - Python {platform.python_version()}, Datasette "
          f"{datasette.__version__}, {os.cpu_count()} cores, {time.perf_counter() - t0:.0f} s; load average {load_before[0]:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print(f"{rows} synthetic rows, {real} real {megapixels:g} MP photos; server RSS {rss_quiet} MB quiet")
    print()
    head = ["phase", "grid p50/p95 ms", "ratio", "photo p50/p95 ms", "ratio", "server peak RSS", "load"]
    table = [head]
    quiet = results["quiet"]
    for phase, r in results.items():
        cells = [phase]
        for kind in pages:
            m = r[kind]
            errors = sum(m["errors"].values())
            cells += [f"{m['p50']:.0f} / {m['p95']:.0f}" + (f" ({errors} errors)" if errors else ""),
                      f"{m['p95'] / quiet[kind]['p95']:.1f}x"]
        cells += [f"{peaks[phase]} MB" if phase in peaks else f"{rss_quiet} MB", f"{loads[phase]:.1f}"]
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    print()
    for phase, note in notes.items():
        print(f"- {phase}: the attackers got {note or 'nothing'}")
    print()
    for phase, r in results.items():
        if phase == "quiet":
            continue
        for kind in pages:
            ratio = r[kind]["p95"] / quiet[kind]["p95"]
            print(f"{'PASS' if ratio <= TARGET_RATIO else 'MISS'}: {phase}: {kind} p95 {ratio:.1f}x quiet "
                  f"(target <= {TARGET_RATIO:g}x)")


if __name__ == "__main__":
    main()
