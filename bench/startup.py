#!/usr/bin/env python3
"""Start-up and withdrawal latency of the gallery with a persisted public copy, against plain Datasette.

    .venv/bin/python bench/startup.py [--rows N] [--keep DIR] [--repeat N]

1. A catalogue of N photo rows (default 100,000), built as bench/gallery.py builds it (real schema
   and triggers, a few real JPEGs, synthetic rows, 2% withheld).
2. Seconds from launch until `/gallery/photos.json?_size=1` answers 200, for:
   - plain: Datasette with no plugins serving the catalogue file itself (the reference);
   - ours, cold: `ingest serve` with no gallery.public.db yet (builds the copy whole, as every start
     did before the copy persisted);
   - ours, warm: `ingest serve` again, nothing changed (applies the log, checks the copy);
   - ours, after edits: 1 withdrawal and 100 title edits made while the server was down;
   - bundle: `datasette serve DIR` on a folder written by `ingest publish DIR` (plugin installed).
   Ratios are against plain. Target: ours, warm and after edits, under 2 s.
3. Withdrawal latency while running: a photo withheld by SQL from another connection, timed until
   its JSON answers 404 (the background refresh, no help), --repeat times; and the refresh of that
   one change measured in-process (`PublicCopy.refresh`) on a copy of the persisted file.
The header prints the load average: other work on the machine shows in every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_gallery", _HERE / "gallery.py")
gallery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gallery)  # also puts this checkout first on sys.path

from ingest.catalogue.public_copy import PublicCopy, persisted_path  # noqa: E402

PROBE = "/gallery/photos.json?_size=1"


def log(text: str) -> None:
    print(text, flush=True)


def start(server_factory, *args, **kwargs) -> tuple[float, object]:
    server = server_factory(*args, **kwargs)
    try:
        _, ready = server.wait(PROBE)
    except BaseException:
        server.stop()
        raise
    return ready, server


def timed_start(name: str, factory, *args, **kwargs) -> float:
    ready, server = start(factory, *args, **kwargs)
    server.stop()
    log(f"  {name:<22} {ready:6.2f} s")
    return ready


def start_bundle(work: Path, folder: Path) -> "gallery.Server":
    port = gallery.free_port()
    cmd = [sys.executable, "-c", "from datasette.cli import cli; cli(prog_name='datasette')", "serve", str(folder),
           "-h", gallery.HOST, "--port", str(port)]
    return gallery.Server("bundle", cmd, work, env={"PYTHONPATH": str(gallery.ROOT)})


def edit_while_down(db_path: Path, edits: int) -> int:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM photos WHERE state = 'public' ORDER BY id LIMIT ?",
                                          [edits + 1])]
        conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [ids[0]])
        for i in ids[1:]:
            conn.execute("UPDATE photos SET title = coalesce(title, '') || ' (edited)' WHERE id = ?", [i])
        return ids[0]
    finally:
        conn.close()


def withdrawal_latency(server, db_path: Path, repeat: int) -> list[float]:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    took = []
    try:
        copy = sqlite3.connect(persisted_path(db_path))
        ids = [r[0] for r in copy.execute("SELECT id FROM photos ORDER BY id DESC LIMIT ?", [repeat])]
        copy.close()
        for pid in ids:
            assert server.get(f"/gallery/photos/{pid}.json")[0] == 200
            started = time.perf_counter()
            conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [pid])
            while server.get(f"/gallery/photos/{pid}.json")[0] != 404:
                time.sleep(0.01)
            took.append(time.perf_counter() - started)
    finally:
        conn.close()
    return took


def refresh_cost(db_path: Path, work: Path, repeat: int) -> dict[str, list[tuple[float, float]]]:
    """One change's refresh, in-process, on a copy of the persisted public copy: (seconds until the
    row is out or in, seconds merging the indexes) for a licence change (same words) and a
    withdrawal (words leave), the current path against the old one (every change merged, as
    `purge_always`), interleaved in the same run."""
    scratch = work / "scratch.public.db"
    src = sqlite3.connect(persisted_path(db_path))
    dst = sqlite3.connect(scratch)
    src.backup(dst)
    src.close()
    dst.close()
    copy = PublicCopy(db_path, scratch)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30)
    out: dict[str, list[tuple[float, float]]] = {}
    try:
        copy.refresh()
        ids = [r[0] for r in copy.conn.execute("SELECT id FROM main.photos ORDER BY id LIMIT ?", [8 * repeat + 100])][100:]
        for i in range(repeat):
            for kind in ("licence", "withdrawal"):
                for old in (False, True):
                    pid = ids.pop()
                    if kind == "licence":
                        conn.execute("UPDATE photos SET licence_id = CASE licence_id WHEN 'CC-BY-4.0' THEN 'CC-BY-SA-4.0' "
                                     "ELSE 'CC-BY-4.0' END WHERE id = ?", [pid])
                    else:
                        conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [pid])
                    copy.purge_always = old
                    copy.refresh()
                    out.setdefault(f"{kind}, {'old' if old else 'new'}", []).append(copy.seconds)
    finally:
        conn.close()
        copy.close()
        scratch.unlink(missing_ok=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the catalogue in this folder")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"bench/startup.py: {args.rows:,} rows; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        base = work / "base"
        if not (base / "gallery.db").exists():
            base.mkdir(exist_ok=True)
            started = time.perf_counter()
            gallery.build(base, args.rows)
            # Synthetic rows have no face detection: settle them ("none"), or a copy that obscures
            # faces leaves them all out (bench/gallery.py's catalogue has this problem).
            conn = sqlite3.connect(base / "gallery.db", isolation_level=None)
            conn.execute("UPDATE photos SET faces_status = 'none' WHERE faces_status IS NULL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            log(f"  built the catalogue in {time.perf_counter() - started:.1f} s")
        run = work / "run"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir()
        db_path, store_path = run / "gallery.db", base / "archive"
        shutil.copy(base / "gallery.db", db_path)
        public = sqlite3.connect(db_path).execute("SELECT count(*) FROM photos WHERE state = 'public' "
                                                  "AND faces_status IS NOT NULL").fetchone()[0]
        log(f"  {public:,} public photos; catalogue {db_path.stat().st_size / 2**20:.0f} MB")

        log("seconds from launch until the first page answers:")
        plain = timed_start("plain datasette", gallery.start_plain, "plain", run, db_path, store_path, metadata=False)
        cold = timed_start("ours, cold (no copy)", gallery.start_ours, run, db_path, store_path)
        warm = timed_start("ours, warm", gallery.start_ours, run, db_path, store_path)
        edit_while_down(db_path, 100)
        edited = timed_start("ours, 101 edits since", gallery.start_ours, run, db_path, store_path)
        folder = run / "bundle"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from ingest.cli import main; main()", "publish", str(folder),
                        "--db", str(db_path), "--store", str(store_path)], cwd=gallery.ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(gallery.ROOT)})
        published = time.perf_counter() - started
        bundle = timed_start("bundle (datasette DIR)", start_bundle, run, folder)
        log(f"  (ingest publish DIR took {published:.1f} s; synthetic rows have no images in the store, "
            f"so it wrote {len(list((folder / 'static' / 'thumbs').glob('*.jpg')))} thumbnails)")
        log("ratios against plain datasette on the catalogue: "
            + ", ".join(f"{n} {v / plain:.2f}x" for n, v in
                        (("cold", cold), ("warm", warm), ("after edits", edited), ("bundle", bundle))))

        ready, server = start(gallery.start_ours, run, db_path, store_path)
        try:
            took = withdrawal_latency(server, db_path, args.repeat)
        finally:
            server.stop()
        log(f"withdrawal while running, until its JSON answers 404: median {statistics.median(took):.2f} s, "
            f"max {max(took):.2f} s over {len(took)}")
        log("refresh of one change (in-process), median ms: until the row is out or in + merging the indexes "
            "(old: every change merged in the same transaction)")
        costs = refresh_cost(db_path, run, args.repeat)
        for name, values in costs.items():
            apply = statistics.median(v[0] for v in values) * 1000
            merge = statistics.median(v[1] for v in values) * 1000
            log(f"  {name:<16} {apply:6.0f} + {merge:4.0f} ms")
        for kind in ("licence", "withdrawal"):
            new, old = (statistics.median(sum(v) for v in costs[f"{kind}, {w}"]) for w in ("new", "old"))
            first = (statistics.median(v[0] for v in costs[f"{kind}, new"])
                     / statistics.median(sum(v) for v in costs[f"{kind}, old"]))
            log(f"  {kind}: total {new / old:.2f}x the old path; the row out or in at {first:.2f}x")
        log(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
