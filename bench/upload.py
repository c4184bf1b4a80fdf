#!/usr/bin/env python3
"""Uploads over loopback against `ingest` on the same files, and the gallery's grid meanwhile.

    .venv/bin/python bench/upload.py [--photos 200] [--parallel 2] [--keep DIR]

1. `ingest import FOLDER --hold` of N 12-megapixel JPEGs (bench/ingest.py's set, ~4 MB each), a
   fresh catalogue, wall time from start to exit (the reference).
2. The same files uploaded to a real `ingest serve` on 127.0.0.1 as the upload page does it: a
   signed-in photographer, SHA-256 computed by the client, announce, 4 MiB chunks, finish,
   `--parallel` files at a time; wall time from the first announce until every upload is
   imported (the server's worker imports them in its own process). Ratio ingest/upload: the
   upload's throughput as a fraction of the CLI's. Target >= 0.8x.
3. The photo grid (/-/gallery/photos, over the sample photos) fetched in a loop by one client: p50 and p95 before the upload
   (the server idle) and while it runs. Reported with their ratio; the load average is printed.

Everything is measured in one run on this machine; compare runs made at a similar load average.
"""

from __future__ import annotations

import argparse
import hashlib
import http.cookiejar
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INGEST = [sys.executable, "-c", "import sys; sys.argv[0] = 'ingest'; from ingest.cli import main; main()"]
PASSWORD = "bench photographer"
CHUNK = 4 * 1024 * 1024
GRID = "/-/gallery/photos"   # the photo browser's grid (the public copy)


def _bench_ingest():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ingest"] = module  # its pool's workers find their function by this name
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A signed-in browser, as far as the server can tell: cookies and the CSRF token."""

    def __init__(self, url: str, name: str, password: str):
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())
        page = self.opener.open(url + "/-/login").read().decode()
        self.token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": name, "password": password, "csrftoken": self.token}).encode()
        try:
            self.opener.open(urllib.request.Request(url + "/-/login", data=body))
        except urllib.error.HTTPError as e:
            if e.code != 302:
                raise

    def call(self, method: str, path: str, body: bytes | None = None, kind: str = "application/json") -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers={"x-csrftoken": self.token, "Content-Type": kind})
        try:
            with self.opener.open(request, timeout=120) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def upload_one(client: Client, path: Path) -> str:
    data = path.read_bytes()
    status, made = client.call("POST", "/-/gallery/upload/files", json.dumps({
        "name": f"{path.parent.name}/{path.name}", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "batch": "bench", "defaults": {"licence": "CC-BY-4.0", "creator": "Bench"}}).encode())
    if status not in (200, 201):
        raise RuntimeError(f"{path.name}: {made}")
    offset = made.get("offset", 0)
    while offset < len(data):
        status, answer = client.call("PUT", f"/-/gallery/upload/files/{made['id']}?offset={offset}",
                                     data[offset:offset + CHUNK], "application/octet-stream")
        if status not in (200, 409):
            raise RuntimeError(f"{path.name}: {answer}")
        offset = answer["offset"]
    status, answer = client.call("POST", f"/-/gallery/upload/files/{made['id']}/finish", b"{}")
    if status != 202:
        raise RuntimeError(f"{path.name}: {answer}")
    return made["id"]


def wait_imported(db: Path, n: int, timeout: float = 3600) -> None:
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = sqlite3.connect(db)
        try:
            done = conn.execute("SELECT count(*) FROM uploads WHERE state IN ('imported', 'duplicate', 'problem')").fetchone()[0]
        finally:
            conn.close()
        if done >= n:
            return
        time.sleep(0.1)
    raise RuntimeError("the uploads were not imported in time")


def grid_loop(url: str, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        with urllib.request.urlopen(url + GRID, timeout=60) as r:
            r.read()
        out.append(time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    bench = _bench_ingest()
    folder = bench.big_set(args.photos)
    files = [Path(p) for p in bench.files_in(folder)]
    bench.warm([str(p) for p in files])
    work = args.keep or Path(tempfile.mkdtemp(prefix="upload-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(files)} photos, {sum(p.stat().st_size for p in files) / 1e6:.0f} MB; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    # 1. The reference: the command line.
    ref = ["--db", str(work / "cli.db"), "--store", str(work / "cli-store")]
    started = time.perf_counter()
    subprocess.run([*INGEST, "import", str(folder), "--hold", "--licence", "CC-BY-4.0", *ref], cwd=ROOT,
                   check=True, capture_output=True)
    cli_wall = time.perf_counter() - started
    print(f"ingest --hold:  {cli_wall:7.1f} s  {len(files) / cli_wall:5.1f} photos/s", flush=True)

    # 2. Uploads to a real server, with the grid fetched meanwhile.
    archive = ["--db", str(work / "web.db"), "--store", str(work / "web-store")]
    # The grid has something to show: the sample photos, published.
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(work / "samples")], check=True,
                   capture_output=True)
    subprocess.run([*INGEST, "import", str(work / "samples"), "--licence", "CC-BY-SA-4.0", "--creator", "Sample",
                    "--publish", *archive], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*INGEST, "accounts", "add", "pat", "--role", "photographer", "--password", PASSWORD, *archive],
                   cwd=ROOT, check=True, capture_output=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*INGEST, "serve", *archive, "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/-/plugins.json", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.2)
        client = Client(url, "pat", PASSWORD)
        idle: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=grid_loop, args=(url, stop, idle))
        prober.start()
        time.sleep(5)
        stop.set()
        prober.join()
        busy: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=grid_loop, args=(url, stop, busy))
        started = time.perf_counter()
        prober.start()
        with ThreadPoolExecutor(args.parallel) as pool:
            list(pool.map(lambda p: upload_one(client, p), files))
        sent = time.perf_counter() - started
        wait_imported(work / "web.db", len(files))
        web_wall = time.perf_counter() - started
        stop.set()
        prober.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(f"uploads:        {web_wall:7.1f} s  {len(files) / web_wall:5.1f} photos/s  (bytes all sent after {sent:.1f} s)")
    ratio = cli_wall / web_wall
    print(f"upload / ingest throughput: {ratio:.2f}x  (target >= 0.8x: {'met' if ratio >= 0.8 else 'NOT met'})")
    print(f"grid idle:                  p50 {pct(idle, .5) * 1000:6.0f} ms  p95 {pct(idle, .95) * 1000:6.0f} ms  ({len(idle)} requests)")
    print(f"grid while uploading:       p50 {pct(busy, .5) * 1000:6.0f} ms  p95 {pct(busy, .95) * 1000:6.0f} ms  ({len(busy)} requests)"
          f"  p95 ratio {pct(busy, .95) / pct(idle, .95):.1f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
