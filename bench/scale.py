#!/usr/bin/env python3
"""Scale bench: the archive from 10,000 to 1,000,000 photos, every figure fitted against size.

    .venv/bin/python bench/scale.py [--sizes 10k,100k,300k,1M] [--out bench] [--keep DIR]

Per size, in a fresh folder:
1. build: a catalogue through the project's own schema and triggers (`schema.connect`: FTS,
   licence permissions, year, state, rendition, publish log, retag queue): 8 real JPEGs imported
   by the real pipeline, then N synthetic photos with their facts (`metadata`: EXIF date, camera,
   XMP title, caption, creator, keywords, city, 30% GPS; the import's licence flag), inserted with
   executemany, 20,000 a transaction. Demonstrations: max(300, N/300), over max(3 years, N/300
   days), in 40 cities, so a day holds ~300 photos at a million. The retag queue the inserts noted
   is cleared: the synthetic rows stand for an archive already tagged.
2. sizes: the catalogue file, and the public copy (`public_copy.publish`, timed: a full build;
   above --copy-max photos, not built in process: its size is read from the served copy).
3. publish latency of one change: a photo withheld by SQL, then `PublicCopy.refresh()`, timed
   (median of 5; up to --copy-max); and end to end: `ingest serve` running, a photo withheld,
   until its page answers 404 (median of 3).
4. server start-up: `ingest serve` launched until /gallery/photos answers 200, the first time (the
   public copy built whole) and again after a restart (the persisted copy brought up to date and its
   counts compared before the first answer; the full check and any merge after it).
5. gallery p95 (sequential GETs over one connection): the grid, a facet-filtered grid (top city
   and a year), a search.
6. `ingest retag`: nothing changed (in process, and the whole command as cron runs it), one
   registry entry changed (a demonstration moved by a day: its photos and both days' are the
   candidates), and `--all` up to --all-max photos (per photo, to extrapolate).
7. `ingest verify`: over a store of hard links (each photo's original and two derivatives link
   to one 4 KB file, so the per-file work is real: open, read, hash, two stats, the walk for
   orphans; every original then reads as corrupt, its name not being its hash): full up to
   --verify-max photos (linking 3 files a photo costs more than verifying them), and --sample 1%
   at every size. Throughput, once: 24 distinct 8 MB originals, `ingest verify` against
   `sha256sum` on the same files in the same run, both from a warm page cache.
8. `ingest export-csv` of every photo: peak RSS of the whole command (its own process).

Each figure is fitted against N on a log-log scale (least squares): the slope is the exponent
(1 linear, 0 flat). A slope above 1.15 is marked SUPERLINEAR. Writes scale.md (the table) and
scale.png (the curves) into --out. Other work on the machine shows in every figure: the header
prints the load average, and the ratios (against sha256sum, per photo) matter more than seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_gallery", _HERE / "gallery.py")
G = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(G)   # its servers, percentiles and vocabulary; it puts this checkout first on sys.path

import ingest  # noqa: E402
from ingest.catalogue.public_copy import PublicCopy, publish  # noqa: E402
from ingest.catalogue.schema import connect, transaction  # noqa: E402
from ingest.importer.retag import retag_all, retag_pending  # noqa: E402
from ingest.media.store import Store  # noqa: E402
from ingest.media.verify import sample_rows, verify  # noqa: E402
from ingest.reference.places import city_from_name  # noqa: E402

SEED = 20261130
CHUNK = 20_000
SUPERLINEAR = 1.15
LINK_BYTES = 4096
FIXITY_FILES, FIXITY_MB = 24, 8
CLI = "import sys; sys.argv[0] = 'ingest'; from ingest.cli import main; main()"
# Peak RSS of a whole command: run it in a child that reports its own high-water mark on exit
# (VmHWM; getrusage's ru_maxrss would keep the forking bench's own, which survives exec).
RSS = ("import re, sys; sys.argv[0] = 'ingest'; from ingest.cli import main\n"
       "try:\n    main()\nexcept SystemExit:\n    pass\n"
       "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1], file=sys.stderr)")


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: a size such as 10k, 300000 or 1M")
    return int(float(m[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()])


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


# ---------------------------------------------------------------- the catalogue

def synthetic(db, n: int) -> dict:
    """N photos with facts, through every trigger; executemany in transactions of CHUNK photos."""
    rng = random.Random(SEED)
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    cities = []
    for name, cc, lat, lon in G.CITIES:
        choice = city_from_name(name, cc, "xmp")   # GeoNames ids, so stored place names resolve to these rows
        gid = choice.city.geonames_id if choice.city else None
        row = conn.execute("SELECT id FROM cities WHERE geonames_id = ? OR (name = ? AND country_code = ?)",
                           [gid, choice.name, cc]).fetchone()
        if row is None:
            slug = re.sub(r"[^a-z0-9]+", "-", choice.name.lower()) + "-" + cc.lower()
            row = conn.execute("INSERT INTO cities (name, country_code, latitude, longitude, geonames_id, slug) "
                               "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                               [choice.name, cc, lat, lon, gid, slug]).fetchone()
        cities.append((row[0], choice.name, cc, lat, lon))
    city_weights = G._zipf_weights(len(cities), 0.8)
    n_demos, days = max(300, n // 300), max(3 * 365, n // 300)
    start = date(2026, 1, 1) - timedelta(days=days)
    demos = []
    for d in range(n_demos):
        cid, cname, cc, lat, lon = rng.choices(cities, city_weights)[0]
        day = start + timedelta(days=rng.randrange(days))
        cause = rng.choice(G.CAUSES)
        cur = conn.execute("INSERT INTO demonstrations (name, slug, date, city_id) VALUES (?, ?, ?, ?)",
                           [f"{rng.choice(G.KINDS_OF_MARCH)} {cause}", f"{day}-{d}", day.isoformat(), cid])
        demos.append((cur.lastrowid, day, cid, cname, cc, lat, lon, cause))
    conn.execute("COMMIT")
    demo_weights = list(itertools.accumulate(rng.paretovariate(1.5) for _ in demos))   # cumulative: O(log n) a pick
    licences = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "CC-BY-NC-4.0", "CC-BY-ND-4.0"]
    creators = [f"{f} {l}" for f in G.FIRST for l in G.LAST]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    first = (conn.execute("SELECT coalesce(max(id), 0) FROM photos").fetchone()[0]) + 1
    columns = ("id", "sha256", "original_filename", "format", "mime_type", "file_size", "width", "height",
               "taken_at", "taken_at_utc", "date", "date_source", "city_id", "city_source", "demonstration_id",
               "demonstration_source", "licence_id", "licence_source", "creator", "creator_source", "title",
               "title_source", "caption", "caption_source", "keywords", "latitude", "longitude", "location_source",
               "camera_make", "camera_model", "lens_model", "orientation", "faces_status", "phash", "imported_at",
               "updated_at")
    photo_sql = f"INSERT INTO photos ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    facts_sql = "INSERT INTO metadata (photo_id, source, key, value) VALUES (?, ?, ?, ?)"

    def one(i: int) -> tuple[tuple, list[tuple]]:
        pid = first + i
        demo_id, day, cid, cname, cc, lat, lon, cause = rng.choices(demos, cum_weights=demo_weights)[0]
        words = rng.sample(G.WORDS, 4)
        if i % 30 == 0:
            words[0] = G.SEARCH_WORD
        when = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(10 * 3600, 18 * 3600))
        gps = rng.random() < 0.3
        make, model, lens = rng.choice(G.CAMERAS)
        licence, creator = rng.choice(licences), rng.choice(creators)
        title = f"{cname}: {words[0]} and {words[1]} at the {cause} march"
        caption = f"{words[2].capitalize()}, {words[3]} and {words[0]} in {cname}, {day:%d %B %Y}."
        keywords = [cause, cname, *words[:2]]
        la, lo = (round(lat + rng.uniform(-0.02, 0.02), 6), round(lon + rng.uniform(-0.02, 0.02), 6)) if gps else (None, None)
        row = (pid, hashlib.sha256(f"scale-{SEED}-{i}".encode()).hexdigest(), f"IMG_{i % 10000:04d}.JPG", "JPEG",
               "image/jpeg", rng.randrange(2_000_000, 9_000_000), 4000, 3000, when.isoformat() + "+01:00",
               (when - timedelta(hours=1)).isoformat() + "+00:00", day.isoformat(), "exif", cid,
               "gps" if gps else "xmp", demo_id, "registry", licence, "flag", creator, "xmp", title, "xmp", caption,
               "xmp", json.dumps(keywords, ensure_ascii=False), la, lo, "gps" if gps else None, make, model, lens, 1,
               "none", rng.randrange(-(1 << 63), 1 << 63), now, now)
        facts = [("exif", "Make", make), ("exif", "Model", model),
                 ("exif", "DateTimeOriginal", when.strftime("%Y:%m:%d %H:%M:%S")), ("exif", "OffsetTimeOriginal", "+01:00"),
                 ("xmp", "dc:title", title), ("xmp", "dc:description", caption), ("xmp", "dc:creator", [creator]),
                 ("xmp", "dc:subject", keywords), ("xmp", "photoshop:City", cname), ("image", "Orientation", 1),
                 ("flag", "licence", licence)]
        if gps:
            facts += [("exif", "GPSLatitude", la), ("exif", "GPSLongitude", lo)]
        return row, [(pid, s, k, json.dumps(v, ensure_ascii=False)) for s, k, v in facts]

    facts_rows = 0
    for lo in range(0, n, CHUNK):
        rows, facts = [], []
        for i in range(lo, min(n, lo + CHUNK)):
            row, f = one(i)
            rows.append(row)
            facts += f
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(photo_sql, rows)
        conn.executemany(facts_sql, facts)
        conn.execute("COMMIT")
        facts_rows += len(facts)
    conn.execute("DELETE FROM retag_queue")   # the synthetic rows stand for an archive already tagged
    return {"demonstrations": len(demos), "days": days, "facts": facts_rows, "first_id": first}


def build(work: Path, n: int) -> tuple[Path, Path, dict]:
    db_path, store_path = work / "gallery.db", work / "archive"
    db = connect(db_path)
    G.real_photos(work, db, Store(store_path))
    seconds, info = timed(synthetic, db, n)
    info["build_s"] = seconds
    db.conn.execute("PRAGMA optimize")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    info["public"] = db.execute("SELECT count(*) FROM photos WHERE state = 'public'").fetchone()[0]
    db.conn.close()
    return db_path, store_path, info


# ---------------------------------------------------------------- measurements

def withhold(db_path: Path, photo_id: int) -> None:
    conn = sqlite3.connect(db_path, timeout=30)
    with conn:
        conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [photo_id])
    conn.close()


def public_ids(public_db: Path, count: int) -> list[int]:
    conn = sqlite3.connect(public_db)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY random() LIMIT ?", [count])]
    finally:
        conn.close()


def publish_latency(db_path: Path, public_db: Path) -> float:
    """Seconds `PublicCopy.refresh()` takes after one photo is withheld (median of 5)."""
    copy = PublicCopy(db_path, public_db)
    try:
        copy.refresh()
        times = []
        for pid in public_ids(public_db, 5):
            withhold(db_path, pid)
            times.append(timed(copy.refresh)[0])
        return statistics.median(times)
    finally:
        copy.close()


def withdrawal_e2e(server, public_db: Path, db_path: Path) -> float:
    """Seconds from a withdrawal's commit until the running gallery answers 404 for the photo."""
    times = []
    for pid in public_ids(public_db, 3):
        path = f"/gallery/photos/{pid}.json"
        if server.get(path)[0] != 200:
            continue
        withhold(db_path, pid)
        started = time.perf_counter()
        while server.get(path)[0] == 200:
            if time.perf_counter() - started > 60:
                break
            time.sleep(0.01)
        times.append(time.perf_counter() - started)
    return statistics.median(times) if times else float("nan")


def gallery_p95(server, public_db: Path) -> dict[str, float]:
    conn = sqlite3.connect(public_db)
    top_city, year = conn.execute("SELECT city_id, year FROM photos GROUP BY city_id, year "
                                  "ORDER BY count(*) DESC LIMIT 1").fetchone()
    conn.close()
    urls = {"p95 grid ms": "/gallery/photos", "p95 filtered ms": f"/gallery/photos?city_id={top_city}&year={year}",
            "p95 search ms": f"/gallery/photos?_search={G.SEARCH_WORD}"}
    return {k: G.measure(server, [u], requests=60, warmup=3, budget=12)["p95"] for k, u in urls.items()}


def retag_figures(db_path: Path, n: int, all_max: int) -> dict[str, float]:
    db = connect(db_path)
    out = {}
    try:
        out["retag nothing s"], report = timed(retag_pending, db)
        assert report.derived == 0, report
        # The demonstration with the median number of photos moves a day later.
        demo, = db.execute("SELECT demonstration_id FROM photos WHERE demonstration_id IS NOT NULL "
                           "GROUP BY demonstration_id ORDER BY count(*) LIMIT 1 OFFSET "
                           "(SELECT count(DISTINCT demonstration_id) FROM photos) / 2").fetchone()
        with transaction(db):
            db.conn.execute("UPDATE demonstrations SET date = date(date, '+1 day') WHERE id = ?", [demo])
        out["retag one entry s"], report = timed(retag_pending, db)
        out["retag one entry photos"] = report.derived
        out["retag ms per photo"] = 1000 * out["retag one entry s"] / max(report.derived, 1)
        if n <= all_max:
            seconds, _ = timed(retag_all, db)
            out["retag --all s"] = seconds
            out["retag ms per photo"] = 1000 * seconds / n
    finally:
        db.conn.close()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, "retag", "--db", str(db_path)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(G.ROOT)})
    out["ingest retag (nothing) s"] = time.perf_counter() - started
    return out


LINKS_PER_FILE = 60_000   # ext4 allows 65,000 links to one inode: a new copy of the source after that


def link_store(shas, store: Store, source: Path) -> float:
    """These photos' originals and derivatives as hard links to one small file (copies of it)."""
    started = time.perf_counter()
    made: set[Path] = set()
    links, target = 0, source
    for sha in shas:
        for path in (store.original(sha, "jpg"), store.derivative("thumbs", sha), store.derivative("web", sha)):
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            if links % LINKS_PER_FILE == 0:
                target = source.with_name(f"{source.name}.{links // LINKS_PER_FILE}")
                shutil.copyfile(source, target)
            try:
                os.link(target, path)
                links += 1
            except FileExistsError:
                pass
    return time.perf_counter() - started


def verify_figures(db_path: Path, store_path: Path, work: Path, first_id: int, full: bool) -> dict[str, float]:
    """Full verify over a store of hard links (when `full`), and a 1% sample (only its files linked
    when not `full`: three links a photo cost more than the verify itself)."""
    source = work / "link-source.bin"
    source.write_bytes(random.Random(SEED).randbytes(LINK_BYTES))
    store = Store(store_path)
    db = connect(db_path)
    out = {}
    try:
        share = sample_rows(db, 0.01)
        if full:
            shas = (r[0] for r in db.execute("SELECT sha256 FROM photos WHERE id >= ?", [first_id]).fetchall())
        else:
            shas = (sha for pid, sha, _ in share if pid >= first_id)
        out["link store s"] = link_store(shas, store, source)
        if full:
            seconds, report = timed(verify, db, store)
            out["verify full s"] = seconds
            out["verify us per photo"] = 1e6 * seconds / report.checked
        out["verify --sample 1% s"], _ = timed(verify, db, store, rows=share)
    finally:
        db.conn.close()
    return out


def export_figures(db_path: Path, work: Path) -> dict[str, float]:
    out_csv = work / "photos.csv"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RSS, "export-csv", "--db", str(db_path), "-o", str(out_csv)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(G.ROOT)})
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or "photos written" not in proc.stderr:
        sys.exit(f"bench: export-csv failed: {proc.stderr[-2000:]}")
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    size = out_csv.stat().st_size
    out_csv.unlink()
    return {"export-csv s": seconds, "export-csv peak RSS MB": rss_kb / 1024, "export-csv file MB": size / 1e6}


def fixity_throughput(work: Path) -> dict[str, float]:
    """`ingest verify` against sha256sum, same files, same run, warm page cache."""
    folder = work / "fixity"
    folder.mkdir(parents=True)
    db = connect(folder / "gallery.db")
    store = Store(folder / "archive")
    rng = random.Random(SEED)
    small = folder / "small.jpg"
    small.write_bytes(rng.randbytes(LINK_BYTES))
    paths = []
    now = datetime.now(timezone.utc).isoformat()
    db.conn.execute("BEGIN")
    for i in range(FIXITY_FILES):
        data = rng.randbytes(FIXITY_MB << 20)
        sha = hashlib.sha256(data).hexdigest()
        path = store.original(sha, "jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(str(path))
        for kind in ("thumbs", "web"):
            store.derivative(kind, sha).parent.mkdir(parents=True, exist_ok=True)
            os.link(small, store.derivative(kind, sha))
        db.conn.execute("INSERT INTO photos (sha256, format, file_size, imported_at, updated_at) VALUES (?, 'JPEG', ?, ?, ?)",
                        [sha, len(data), now, now])
    db.conn.execute("COMMIT")
    db.conn.close()
    mb = FIXITY_FILES * FIXITY_MB * (1 << 20) / 1e6
    subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL, check=True)   # both start from a warm cache
    env = {**os.environ, "PYTHONPATH": str(G.ROOT)}
    out = {}
    for _ in range(2):   # the better of two runs each
        t, _ = timed(subprocess.run, ["sha256sum", *paths], stdout=subprocess.DEVNULL, check=True)
        out["sha256sum"] = min(out.get("sha256sum", 1e9), t)
        proc = subprocess.run([sys.executable, "-c", CLI, "verify", "--db", str(folder / "gallery.db"),
                               "--store", str(folder / "archive")], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"bench: verify failed on the fixity files: {proc.stdout}{proc.stderr[-2000:]}")
        rate = float(re.search(r"at (\d+(?:\.\d+)?) MB/s", proc.stdout)[1])
        out["ingest verify"] = max(out.get("ingest verify", 0), rate)
    shutil.rmtree(folder, ignore_errors=True)
    return {"sha256sum MB/s": mb / out["sha256sum"], "ingest verify MB/s": out["ingest verify"], "MB": mb}


def served_copy(server) -> Path:
    """The public copy a running `ingest serve` built (it holds the file open)."""
    for fd in Path(f"/proc/{server.proc.pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if target.name == "gallery.public.db" or (target.parent.name.startswith("gallery-public-")
                                                   and target.suffix == ".db"):
            return target
    sys.exit("bench: cannot find the served public copy")


def one_size(n: int, work: Path, all_max: int, verify_max: int, copy_max: int) -> dict[str, float]:
    work.mkdir(parents=True)
    log(f"{n:,} photos: building")
    db_path, store_path, info = build(work, n)
    fig: dict[str, float] = {"build s": info["build_s"], "build photos/s": n / info["build_s"],
                             "catalogue MB": db_path.stat().st_size / 1e6}
    log(f"{n:,}: built in {info['build_s']:.0f} s ({info['demonstrations']} demonstrations, {info['facts']:,} facts); "
        "public copy")
    ref = work / "reference"
    ref.mkdir()
    public_db = ref / "gallery.db"
    if n <= copy_max:   # above, the server's own build (its start-up) is the only one: it is the costly part
        fig["public copy build s"], published = timed(publish, db_path, public_db)
        fig["public copy MB"] = public_db.stat().st_size / 1e6
        fig["publish one change s"] = publish_latency(db_path, public_db)
    log(f"{n:,}: starting ingest serve")
    server = G.start_ours(work, db_path, store_path)
    try:
        first, ok = server.wait("/gallery/photos", timeout=3600)
        fig["start-up to first 200 s"] = ok
        if n > copy_max:
            public_db = served_copy(server)
            fig["public copy MB"] = public_db.stat().st_size / 1e6
        fig.update(gallery_p95(server, public_db))
        fig["withdrawal reaches gallery s"] = withdrawal_e2e(server, public_db, db_path)
    finally:
        server.stop()
    # A restart (an upgrade, a crash): the persisted public copy is brought up to date, not rebuilt.
    log(f"{n:,}: restarting ingest serve")
    server = G.start_ours(work, db_path, store_path)
    try:
        fig["restart to first 200 s"] = server.wait("/gallery/photos", timeout=3600)[1]
    finally:
        server.stop()
    log(f"{n:,}: retag")
    fig.update(retag_figures(db_path, n, all_max))
    log(f"{n:,}: export-csv")
    fig.update(export_figures(db_path, work))
    log(f"{n:,}: verify")
    fig.update(verify_figures(db_path, store_path, work, info["first_id"], n <= verify_max))
    log(f"{n:,}: done: " + ", ".join(f"{k} {v:.3g}" for k, v in fig.items()))
    return fig


# ---------------------------------------------------------------- fitting and reporting

def slope(sizes: list[int], values: list[float]) -> float | None:
    """The exponent k of value ~ size^k, least squares on log-log (None without two positive points)."""
    pts = [(math.log(s), math.log(v)) for s, v in zip(sizes, values) if v and v > 0 and not math.isnan(v)]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den if den else None


def verdict(k: float | None) -> str:
    if k is None:
        return ""
    if k > SUPERLINEAR:
        return "SUPERLINEAR"
    return "flat" if k < 0.25 else "sublinear" if k < 0.85 else "linear"


def fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


SETUP = {"link store s"}   # the bench's own preparation, not the archive's: kept in scale.json only


def table(results: dict[int, dict[str, float]]) -> list[str]:
    sizes = sorted(results)
    keys = [k for k in dict.fromkeys(k for n in sizes for k in results[n]) if k not in SETUP]
    head = ["figure", *(f"{n:,}" for n in sizes), "slope", ""]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in keys:
        values = [results[n].get(k) for n in sizes]
        present = [(n, v) for n, v in zip(sizes, values) if v is not None]
        s = slope([n for n, _ in present], [v for _, v in present]) if "photos/s" not in k else None
        lines.append("| " + " | ".join([k, *(fmt(v) for v in values), "-" if s is None else f"{s:.2f}", verdict(s)]) + " |")
    return lines


PANELS = [
    ("Whole-archive work (s)", ["build s", "public copy build s", "start-up to first 200 s", "restart to first 200 s", "verify full s",
                                "export-csv s", "retag --all s"]),
    ("One change, one command (s)", ["publish one change s", "withdrawal reaches gallery s", "retag nothing s",
                                     "retag one entry s", "ingest retag (nothing) s", "verify --sample 1% s"]),
    ("Gallery p95 (ms)", ["p95 grid ms", "p95 filtered ms", "p95 search ms"]),
    ("Sizes (MB)", ["catalogue MB", "public copy MB", "export-csv peak RSS MB"]),
]


def plot(results: dict[int, dict[str, float]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = sorted(results)
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for ax, (title, keys) in zip(axes.flat, PANELS):
        for k in keys:
            pts = [(n, results[n][k]) for n in sizes if results[n].get(k) and not math.isnan(results[n][k])]
            if not pts:
                continue
            s = slope(*zip(*pts)) if len(pts) > 1 else None
            ax.plot(*zip(*pts), marker="o", label=k + (f" (slope {s:.2f})" if s is not None else ""))
        if len(sizes) > 1:  # a linear reference through the first size of the first curve
            ref = next(((n, results[n][k]) for k in keys for n in sizes[:1] if results[n].get(k)), None)
            if ref:
                ax.plot(sizes, [ref[1] * n / ref[0] for n in sizes], ls=":", color="grey", label="linear")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("photos")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"ingest {ingest.__version__} at scale ({os.cpu_count()} cores; log-log)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k,300k,1M", help="photo counts, comma-separated [default: 10k,100k,300k,1M]")
    ap.add_argument("--out", type=Path, default=_HERE, help="folder for scale.md, scale.png, scale.json [default: bench/]")
    ap.add_argument("--all-max", type=parse_size, default=parse_size("10k"),
                    help="largest size at which `retag --all` runs (it re-derives every photo) [default: 10k]")
    ap.add_argument("--verify-max", type=parse_size, default=parse_size("300k"),
                    help="largest size at which the full verify runs over a linked store; above, the "
                         "1%% sample only [default: 300k]")
    ap.add_argument("--copy-max", type=parse_size, default=parse_size("300k"),
                    help="largest size at which the public copy is also built in process (its build time and "
                         "one change's refresh); above, its size is read from the served copy [default: 300k]")
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder, removed)")
    ap.add_argument("--merge", action="store_true", help="add to the sizes already in OUT/scale.json")
    ap.add_argument("--report", action="store_true", help="measure nothing: write the table and curves from OUT/scale.json")
    args = ap.parse_args()
    saved = args.out / "scale.json"
    if args.report:
        data = json.loads(saved.read_text())
        report({int(k): v for k, v in data["results"].items()}, data["fixity"], data.get("header", ""), args.out)
        return
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="scale-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    results: dict[int, dict[str, float]] = {}
    if args.merge and saved.exists():
        results = {int(k): v for k, v in json.loads(saved.read_text())["results"].items()}
    try:
        log("fixity throughput: ingest verify against sha256sum")
        fixity = fixity_throughput(work)
        for n in sizes:
            results[n] = one_size(n, work / f"n{n}", args.all_max, args.verify_max, args.copy_max)
            if not args.keep:
                shutil.rmtree(work / f"n{n}", ignore_errors=True)
            args.out.mkdir(parents=True, exist_ok=True)   # each size as it is measured: a crash keeps them
            saved.write_text(json.dumps({"fixity": fixity, "results": results}, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    header = (f"ingest {ingest.__version__} scale bench - Python {platform.python_version()}, SQLite "
              f"{sqlite3.sqlite_version}, {os.cpu_count()} cores, {time.perf_counter() - t0:.0f} s; load average "
              f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {datetime.now(timezone.utc):%Y-%m-%d}")
    args.out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"header": header, "fixity": fixity, "results": results}, indent=1))
    report(results, fixity, header, args.out)


def report(results: dict[int, dict[str, float]], fixity: dict[str, float], header: str, out: Path) -> None:
    lines = [header, "", *table(results), "",
             f"verify throughput ({fixity['MB']:.0f} MB in {FIXITY_FILES} originals, warm cache): ingest verify "
             f"{fixity['ingest verify MB/s']:.0f} MB/s, sha256sum {fixity['sha256sum MB/s']:.0f} MB/s: "
             f"{fixity['ingest verify MB/s'] / fixity['sha256sum MB/s']:.2f}x"]
    (out / "scale.md").write_text("\n".join(lines) + "\n")
    plot(results, out / "scale.png")
    print("\n".join(lines))
    print(f"\nwritten: {out / 'scale.md'}, {out / 'scale.png'}, {out / 'scale.json'}")


if __name__ == "__main__":
    main()
