#!/usr/bin/env python3
"""The review queue's speed at scale, against Datasette's own table page in the same run.

    .venv/bin/python bench/review.py [--rows N] [--waiting N] [--requests N]

A catalogue of N photos (default 100,000, built like bench/gallery.py's: through the real schema and
its triggers) of which --waiting (default 10,000) wait for review, spread over the whole table, and
~5% are flagged. Served in-process (Datasette's ASGI client, an archivist's session), each URL is
requested sequentially after a warm-up; p50 and p95 of the whole response:

- ours: /-/gallery/review (page 1, a page 90% deep by its `after` link, the flagged view) and one
  photo's review page;
- reference: Datasette's own table page of the same rows (/catalogue/photos?state=pending, 48 a
  page, no facets), what an archivist would use without the queue.

Target (issue 12): a queue page p95 < 50 ms at 10,000 waiting. The header prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import random
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_gallery", _HERE / "gallery.py")
gallery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gallery)  # also puts the repository and tests/ on sys.path

import yaml  # noqa: E402
from accounts_support import archivist_cookies  # noqa: E402
from datasette.app import Datasette  # noqa: E402

from ingest.web.compat import datasette_options  # noqa: E402

TARGET_P95_MS = 50.0


def hold(db_path: Path, waiting: int) -> list[int]:
    import sqlite3
    conn = sqlite3.connect(db_path)
    ids = [r[0] for r in conn.execute("SELECT id FROM photos WHERE withheld = 0")]
    chosen = sorted(random.Random(gallery.SEED).sample(ids, min(waiting, len(ids))))
    with conn:
        conn.executemany("UPDATE photos SET pending = 1 WHERE id = ?", [(i,) for i in chosen])
    conn.execute("PRAGMA optimize")
    conn.close()
    return chosen


async def measure(ds, cookies: dict, path: str, requests: int) -> tuple[float, float]:
    for _ in range(3):
        r = await ds.client.get(path, cookies=cookies)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = await ds.client.get(path, cookies=cookies)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    times.sort()
    return gallery.pct(times, 50), gallery.pct(times, 95)


async def run(db_path: Path, store: Path, chosen: list[int], requests: int) -> list[tuple[str, str, float, float]]:
    metadata = yaml.safe_load(gallery.METADATA.read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(store)}
    ds = Datasette([str(db_path)], **datasette_options(metadata))
    await ds.invoke_startup()
    cookies = archivist_cookies(ds, db_path)
    deep = chosen[int(len(chosen) * 0.9)]
    urls = [
        ("ours", "queue, page 1", "/-/gallery/review"),
        ("ours", "queue, 90% deep", f"/-/gallery/review?show=all&after={deep}"),
        ("ours", "queue, waiting only", "/-/gallery/review?show=waiting"),
        ("ours", "queue, flagged only", "/-/gallery/review?show=flagged"),
        ("ours", "one photo's review page", f"/-/gallery/review/{chosen[len(chosen) // 2]}"),
        ("datasette", "table page, pending", "/catalogue/photos?state=pending&_size=48&_nofacet=1"),
        ("datasette", "table page, 90% deep", f"/catalogue/photos?state=pending&_size=48&_nofacet=1&_next={deep}"),
    ]
    out = []
    for who, name, path in urls:
        p50, p95 = await measure(ds, cookies, path, requests)
        out.append((who, name, p50, p95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"# review queue: {args.rows:,} photos, {args.waiting:,} waiting; load average {load:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        db_path, store, _, info = gallery.build(Path(tmp), args.rows)
        chosen = hold(db_path, args.waiting)
        print(f"# built in {time.perf_counter() - started:.0f} s ({info['total']:,} rows)")
        rows = asyncio.run(run(db_path, store, chosen, args.requests))
    reference = {name.split(",")[1].strip(): p95 for who, name, _, p95 in rows if who == "datasette"}
    print(f"{'':10} {'URL':28} {'p50 ms':>8} {'p95 ms':>8}  target")
    for who, name, p50, p95 in rows:
        mark = ("ok" if p95 < TARGET_P95_MS else "SLOW") if who == "ours" else ""
        print(f"{who:10} {name:28} {p50:8.1f} {p95:8.1f}  {mark}")
    ours_first = next(p95 for who, name, _, p95 in rows if name == "queue, page 1")
    ours_deep = next(p95 for who, name, _, p95 in rows if name == "queue, 90% deep")
    print(f"# ratio ours/datasette p95: page 1 {ours_first / reference['pending']:.2f}x, "
          f"90% deep {ours_deep / reference['90% deep']:.2f}x; load average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    sys.exit(main())
