#!/usr/bin/env python3
"""Ingest benchmarks: figures and ratios against reference loops and tools, in one run.

    .venv/bin/python bench/ingest.py [--photos N] [--small N1,N2] [--keep DIR] [--quick] [--against REV]

1. Full ingest, photos/s, of N 12-megapixel photo-like JPEGs (4000x3000, ~4 MB, EXIF with GPS),
   through the real `ingest` console script (a subprocess, fresh catalogue and store each time),
   with --jobs 1 and --jobs 2.
1b. The same command with the derivatives and fixed costs of before issue 17 ("before", in the same
   run): Pillow's LANCZOS resize (images.RESAMPLE), no cache folder (INGEST_CACHE unwritable:
   GeoNames' JSON parsed and the face model prepared at every command), store writes in line and no
   warm-up thread in the workers. Target: >= 1.5x before. With --no-faces, both without detection.
1c. A decode-only loop with the same processes: read, draft-decode at the web size's scale, nothing
   else; the physical limit on this machine. Target: full ingest >= 0.6x of it.
1d. Fixed cost per command, as the user runs it (console script, median of 5): `ingest --help`,
   `ingest settings` (a catalogue read) and a one-file import, against the same with the behaviour
   of before (every command module loaded for --help; no cache folder; LANCZOS).
2. The same files through a "bare loop" with the same number of processes (in this process for 1,
   a fork Pool for 2): read once, SHA-256, one draft-mode decode at the photo's own aspect with a
   1600 px long edge, upright, web 1600 px and thumbnail 400 px (from the web size) with Pillow's
   thumbnail() defaults (LANCZOS, reducing_gap 2.0), both encoded to baseline JPEG q85; nothing
   written. The ratio ingest/bare is what everything else costs (startup, metadata, catalogue,
   store, encoder choices). Target >= 0.8x.
3. Metadata only, files/s: what the pipeline does per file minus decoding and the store (the
   package's own extract in dry-run mode: read once, hash, header, EXIF + XMP + sidecar + IPTC
   readers, names; then resolve and record_file into a real SQLite catalogue), in this process,
   one-time loads included; versus `exiftool -json -n -r` over the
   same folder (one process, whole command); with --repeat, the best of that many runs of each,
   alternated (ours after the first in fresh processes). Target >= 5x exiftool.
3b. Metadata over real files (issue 15): the same metadata stage, resolve and rows over every file
   of tests/corpus and ../shared/corpus (cameras, phones, raws, JPEG XL), CPU seconds in this process
   after one warm-up pass, versus exiftool's CPU (user + system) for `exiftool -json -n -r` over the
   same folders. Target >= 5x exiftool.
3c. With --against REV: the loops of 3 and 3b, CPU seconds per file after a warm-up loop, under this
   checkout's package and under REV's (git archive into the work folder), alternated in fresh
   processes, best of max(3, --repeat); and the workers' part of 3 alone (`worker.read_only`: read,
   hash, header, readers, names; no resolve, no rows). Target: >= 3x faster than before issue 15's
   speed work (1bd38f3).
4. Unchanged re-scan, files/s: `ingest` run again over the N2 small files it just imported, as a
   whole command, and inside a fresh interpreter that has already imported the package (that is,
   without interpreter startup and imports). Target >= 5,000 files/s.
5. Peak memory (max RSS of the ingest process or any of its workers) importing N1 vs N2 small
   1 MP files with --jobs 2, each in a fresh process. Target: flat in N (N2 within 20% of N1).
6. Face detection's cost: full ingest of the N 12 MP photos with --jobs 2, with detection (the
   default) and without (`--no-faces`), alternated, best of --repeat each. Detection runs on the
   web size's draft-decoded pixels, in the workers. Target: at most +25% (ratio <= 1.25x).

Test data are generated once and cached under /tmp/ingest-bench-cache (keyed by parameters), so
re-runs start measuring at once: N 12 MP photos from tests/fixtures/synth.py (~4 MB each), and 1 MP files made
from 8 base images with EXIF (GPS), XMP and IPTC whose EXIF date differs per file (~50 KB each).
Catalogues and stores go to a temporary folder, removed at the end, or to --keep DIR, kept.
The machine's other work shows in every figure: compare runs made at a low load average, or use
--repeat 3 (the best run of each figure is kept).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

# This file is bench/ingest.py: run as a script, its folder comes first on sys.path and would
# shadow the `ingest` package. Drop it. The checkout it sits in is the code measured (an editable
# install may point at another checkout), unless PYTHONPATH names a package (--against runs an
# older one that way); the installed package when there is no checkout.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if (not os.environ.get("PYTHONPATH") and (_HERE.parent / "ingest" / "__init__.py").exists()) \
        or importlib.util.find_spec("ingest") is None:
    sys.path.insert(0, str(_HERE.parent))
sys.path.insert(0, str(_HERE.parent / "tests"))  # test fixtures (synthetic photos)

from fixtures.synth import make_photo, photo_like  # noqa: E402
from fixtures.writers import exif_bytes, insert_jpeg_segments, iptc_app13
from PIL import Image, ImageFilter  # noqa: E402

import ingest  # noqa: E402
from ingest.catalogue.record import known_unchanged, record_file
from ingest.catalogue.registry import load_registry
from ingest.catalogue.schema import Batch, connect
from ingest.importer.resolve import resolve
from ingest.importer.scan import Candidate, scan
from ingest.importer.worker import Job, process, read_only
from ingest.media import images
from ingest.media.write.xmp import xmp_packet

DATA_VERSION = 1          # bump when the generated files change, to invalidate the cache
CACHE = Path("/tmp/ingest-bench-cache")
BIG = (4000, 3000)        # 12 MP
BIG_QUALITY = 90          # ~3.7 MB per photo with synth's grain
SMALL = (1152, 864)       # 1 MP
SMALL_QUALITY = 40        # with a light blur: ~45 KB per file
SMALL_BASES = 8           # distinct images; each file differs from its base by its EXIF date
PER_FOLDER = 500          # files per folder, like a camera card's DCIM/1xxCANON

# Targets
BARE_RATIO = 0.8
BEFORE_RATIO = 1.5
DECODE_RATIO = 0.6
EXIFTOOL_RATIO = 5.0
RESCAN_RATE = 5000.0
MEMORY_GROWTH = 1.2
FACES_COST = 1.25

CITIES = [("London", 51.5033, -0.1276), ("Munich", 48.1422, 11.5776), ("Barcelona", 41.3870, 2.1700),
          ("Brussels", 50.8467, 4.3525), ("Bratislava", 48.1447, 17.1128)]
CAMERAS = [("Canon", "Canon EOS R6"), ("SONY", "ILCE-7M3"), ("NIKON CORPORATION", "NIKON Z 6_2"),
           ("FUJIFILM", "X-T4")]
LICENCES = ["https://creativecommons.org/licenses/by-sa/4.0/", "https://creativecommons.org/licenses/by/4.0/",
            "https://creativecommons.org/licenses/by-nc-sa/4.0/"]
CREATORS = ["Zoë Müller", "Sam Okafor", "Tomás Ferrer", "Ana Novak"]


# ---------------------------------------------------------------- data

def _camera_exif(i: int, when: datetime, *, orientation: int = 1) -> dict:
    make, model = CAMERAS[i % len(CAMERAS)]
    city, lat, lon = CITIES[i % len(CITIES)]
    return {
        "Make": make, "Model": model, "Orientation": orientation,
        "DateTimeOriginal": when.strftime("%Y:%m:%d %H:%M:%S"), "OffsetTimeOriginal": "+01:00",
        "ExposureTime": 1 / 250, "FNumber": 5.6, "ISOSpeedRatings": 400, "FocalLength": 35,
        "LensModel": "RF24-105mm F4 L IS USM", "Artist": CREATORS[i % len(CREATORS)],
        "Copyright": f"CC BY-SA 4.0 {CREATORS[i % len(CREATORS)]}",
        "GPSLatitude": round(lat + (i % 17) * 1e-4, 6), "GPSLongitude": round(lon - (i % 13) * 1e-4, 6),
        "GPSAltitude": 30 + i % 20,
    }


def _xmp(i: int) -> dict:
    city = CITIES[i % len(CITIES)][0]
    return {"dc:creator": [CREATORS[i % len(CREATORS)]], "dc:title": f"March in {city}",
            "dc:description": f"{city}: marchers with banners on the main square", "dc:subject": ["march", "protest", city],
            "cc:license": LICENCES[i % len(LICENCES)], "xmpRights:UsageTerms": "CC BY-SA 4.0",
            "photoshop:City": city, "Iptc4xmpCore:Location": "Main square"}


def _iptc(i: int) -> dict:
    city = CITIES[i % len(CITIES)][0]
    return {"By-line": CREATORS[i % len(CREATORS)], "City": city, "Country/Primary Location Name": "Europe",
            "Headline": f"March in {city}", "Caption/Abstract": f"{city}: marchers with banners",
            "Keywords": ["march", "protest"], "Copyright Notice": "CC BY-SA 4.0", "Credit": "Community photo desk"}


def _big_one(args: tuple[int, str]) -> int:
    i, path = args
    when = datetime(2024, 5, 18, 12, 0, 0) + timedelta(seconds=37 * i)
    portrait = i % 5 == 4  # camera held sideways: stored 4000x3000, shown 3000x4000
    w, h = (BIG[1], BIG[0]) if portrait else BIG
    make_photo(path, width=w, height=h, seed=1000 + i, quality=BIG_QUALITY,
               exif=_camera_exif(i, when, orientation=6 if portrait else 1),
               xmp=_xmp(i) if i % 2 else None, iptc=_iptc(i) if i % 4 == 1 else None)
    return os.path.getsize(path)


def _cached(key: str, build) -> Path:
    """The folder for `key` in the cache, built (into a temporary name, then renamed) if missing."""
    folder = CACHE / key
    if (folder / ".complete").exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=CACHE))
    started = time.perf_counter()
    build(tmp)
    (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
    os.replace(tmp, folder)
    log(f"  generated {key} in {time.perf_counter() - started:.1f} s")
    return folder


def big_set(n: int) -> Path:
    def build(tmp: Path) -> None:
        jobs = [(i, str(tmp / "DCIM" / f"{100 + i // PER_FOLDER}CANON" / f"IMG_{i + 1:04d}.JPG")) for i in range(n)]
        for _, p in jobs:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
        with get_context("fork").Pool(os.cpu_count() or 1) as pool:
            pool.map(_big_one, jobs, chunksize=1)
    return _cached(f"big-v{DATA_VERSION}-n{n}-{BIG[0]}x{BIG[1]}-q{BIG_QUALITY}", build)


_SENTINEL = "2000:01:01 00:00:00"   # replaced in place (same length) by each file's own date


def _small_bases() -> list[bytes]:
    """A few distinct 1 MP JPEGs with EXIF (GPS), XMP and IPTC; files are these with another date."""
    bases = []
    for b in range(SMALL_BASES):
        im = photo_like(*SMALL, seed=50 + b).filter(ImageFilter.GaussianBlur(2))
        exif = _camera_exif(b, datetime(2000, 1, 1))
        exif["DateTimeOriginal"] = _SENTINEL
        out = io.BytesIO()
        im.save(out, "JPEG", quality=SMALL_QUALITY, exif=exif_bytes(exif))
        data = insert_jpeg_segments(out.getvalue(), xmp=xmp_packet(_xmp(b)), app13=iptc_app13(_iptc(b)))
        assert data.count(_SENTINEL.encode()) == 1, "the date sentinel must occur once"
        bases.append(data)
    return bases


def small_set(n: int) -> Path:
    def build(tmp: Path) -> None:
        bases = _small_bases()
        start = datetime(2024, 5, 18, 12, 0, 0)
        for i in range(n):
            folder = tmp / f"{100 + i // PER_FOLDER}CARD"
            if i % PER_FOLDER == 0:
                folder.mkdir(parents=True, exist_ok=True)
            stamp = (start + timedelta(seconds=i)).strftime("%Y:%m:%d %H:%M:%S").encode()
            (folder / f"DSC_{i + 1:05d}.JPG").write_bytes(bases[i % SMALL_BASES].replace(_SENTINEL.encode(), stamp))
    return _cached(f"small-v{DATA_VERSION}-n{n}-{SMALL[0]}x{SMALL[1]}-q{SMALL_QUALITY}", build)


def files_in(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.JPG"))


def warm(paths: list[str]) -> int:
    """Read every file once so all contenders start with the same (warm) page cache."""
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            total += len(f.read())
    return total


# ---------------------------------------------------------------- running the real command

def ingest_command() -> str:
    beside = Path(sys.executable).parent / "ingest"
    found = str(beside) if beside.exists() else shutil.which("ingest")
    if not found:
        sys.exit("bench: the `ingest` console script is not installed (run `make setup`)")
    return found


class Run:
    def __init__(self, rc: int, wall: float, maxrss_kb: int, out: str, err: str, cpu: float = float("nan")):
        self.rc, self.wall, self.maxrss_kb, self.out, self.err = rc, wall, maxrss_kb, out, err
        self.cpu = cpu  # user + system seconds of the command and its children (workers)

    def counts(self) -> dict[str, float]:
        """What the summary line says: imported, duplicates, unchanged, problems, files, seconds."""
        found = {k: float(v) for v, k in re.findall(r"(\d+) (imported|duplicates|unchanged|problems)", self.out)}
        if m := re.search(r"\((\d+) files in ([\d.]+) s", self.out):
            found["files"], found["seconds"] = float(m[1]), float(m[2])
        return found


# A fresh, small process runs each measured command and reports its wall time and the peak RSS of
# the command and all its children (RUSAGE_CHILDREN). Measuring from this process instead would be
# wrong: a child forked from a big parent starts with the parent's high-water mark.
_WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
rc = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as f:
    f.write(f"{rc} {wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
"""


# The same command run inside a fresh interpreter that has already imported the package: the time
# it reports is the command's own work (catalogue, scan, run), without interpreter startup and imports.
_IN_PROCESS = """
import resource, sys, time
import ingest.cli, ingest.cli.importing, ingest.catalogue.schema, ingest.reference.licences, ingest.importer.pipeline, ingest.catalogue.record, ingest.importer.resolve, ingest.importer.scan
started = time.perf_counter()
try:
    rc = ingest.cli.main(sys.argv[2:], prog_name="ingest", standalone_mode=False) or 0
except SystemExit as e:
    rc = e.code or 0
wall = time.perf_counter() - started
sys.stdout.flush()
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
with open(sys.argv[1], "w") as f:
    f.write(f"{rc} {wall} {rss}")
"""


# The package this bench imported is the one measured: a console script installed in editable mode
# elsewhere (another checkout) would otherwise run that checkout's code.
_PACKAGE_ROOT = str(Path(ingest.__file__).resolve().parent.parent)

# "Before" (issue 17): the derivatives resized with Pillow's LANCZOS, and no cache folder, so that
# GeoNames' JSON is parsed and the face model prepared at every command, as they were; store writes
# in line and no warm-up thread in the workers. (The turn upright now follows the resize: a little
# cheaper than before, which flatters "before".)
_BEFORE = """
import sys
from contextlib import contextmanager
from PIL import Image
from ingest.importer import worker
from ingest.media import images
images.RESAMPLE = Image.Resampling.LANCZOS
@contextmanager
def _in_line():
    yield lambda fn, *args: fn(*args)
worker.store_writes = _in_line
worker.warm_up = lambda detect_faces=True: None
import ingest.importer.pipeline
ingest.importer.pipeline.warm_up = worker.warm_up
from ingest.cli import main
if sys.argv[1:2] in (["--help"], ["-h"]):   # every command's module was imported to list them
    import click
    for name in main.lazy:
        main.get_command(click.Context(main), name)
main(sys.argv[1:], prog_name="ingest")
"""
_NO_CACHE = "/dev/null/no-cache"   # a folder that cannot be made: nothing kept, nothing read


def env_for(before: bool = False) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
    if before:
        env["INGEST_CACHE"] = _NO_CACHE
    return env


def run(cmd: list[str], cwd: Path, *, in_process: bool = False, before: bool = False) -> Run:
    """Run a command; its wall time and the peak RSS of it and its children (kB). With `in_process`,
    `cmd` is the arguments of `ingest` and the time excludes interpreter startup and imports. With
    `before`, `cmd` is `ingest`'s command line, run as it was before issue 17 (_BEFORE)."""
    script = [_IN_PROCESS] if in_process else [_WRAPPER]
    if before:
        cmd = [sys.executable, "-c", _BEFORE, *cmd[1:]]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as usage:
        subprocess.run([sys.executable, "-c", *script, usage.name, *cmd], cwd=cwd, stdout=out, stderr=err,
                       stdin=subprocess.DEVNULL, check=False, env=env_for(before))
        rc, wall, maxrss, *cpu = usage.read().split()
        out.seek(0)
        err.seek(0)
        return Run(int(rc), float(wall), int(maxrss), out.read(), err.read(), float(cpu[0]) if cpu else float("nan"))


def new_catalogue(db: Path) -> Path:
    """`db` with no catalogue left from an earlier run (a reused one would measure duplicates, or
    hold a schema an older package cannot open under --against)."""
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    return db


def ingest_run(work: Path, name: str, folder: Path, jobs: int, *, fresh: bool = True, expect: str = "imported",
               n: int | None = None, in_process: bool = False, extra: tuple[str, ...] = (),
               before: bool = False) -> Run:
    db, store = work / f"{name}.db", work / f"{name}-store"
    if fresh:
        new_catalogue(db)
        shutil.rmtree(store, ignore_errors=True)
    args = ["import", str(folder), "--db", str(db), "--store", str(store), "--jobs", str(jobs), *extra]
    r = run(args if in_process else [ingest_command(), *args], work, in_process=in_process, before=before)
    c = r.counts()
    if r.rc != 0 or (n is not None and c.get(expect) != n):
        sys.exit(f"bench: `ingest` over {folder} did not {expect} all {n} files (exit {r.rc}):\n{r.out}{r.err[-2000:]}")
    return r


def startup(work: Path, name: str, *, fresh: bool, repeat: int = 3) -> tuple[float, int]:
    """Median wall time of `ingest` over an empty folder: interpreter, imports, catalogue, run rows."""
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    runs = [ingest_run(work, name, empty, 1, fresh=fresh, n=None) for _ in range(repeat)]
    return statistics.median(r.wall for r in runs), max(r.maxrss_kb for r in runs)


# ---------------------------------------------------------------- 2. the bare loop

_TRANSPOSE = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}


def bare_one(path: str) -> int:
    """The least an importer must do per photo: read, hash, decode once small, two sizes, two JPEGs."""
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    scale = images.WEB_SIZE / max(w, h)
    im.draft("RGB", (round(w * scale), round(h * scale)))
    orientation = im.getexif().get(0x0112, 1)
    im.load()
    if im.mode != "RGB":
        im = im.convert("RGB")
    im.thumbnail((images.WEB_SIZE, images.WEB_SIZE), Image.Resampling.LANCZOS)
    if orientation in _TRANSPOSE:  # upright, like the real derivatives (on the small image: cheap)
        im = im.transpose(_TRANSPOSE[orientation])
    small = im.copy()
    small.thumbnail((images.THUMB_SIZE, images.THUMB_SIZE), Image.Resampling.LANCZOS)
    total = 0
    for picture in (im, small):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85)
        total += out.tell()
    return total


def decode_one(path: str) -> int:
    """The physical limit: read the file and decode it once at the draft scale the web size needs."""
    with open(path, "rb") as f:
        data = f.read()
    im = Image.open(io.BytesIO(data))
    w, h = im.size
    scale = images.WEB_SIZE / max(w, h)
    im.draft("RGB", (round(w * scale), round(h * scale)))
    im.load()
    return im.width


def bare_loop(paths: list[str], jobs: int, one=bare_one) -> float:
    started = time.perf_counter()
    if jobs <= 1:
        for p in paths:
            one(p)
    else:
        with get_context("fork").Pool(jobs) as pool:
            for _ in pool.imap_unordered(one, paths, chunksize=1):
                pass
    return time.perf_counter() - started


# ---------------------------------------------------------------- 3. metadata only

def metadata_loop(root: Path, db_path: Path) -> tuple[float, float, int, int]:
    """The pipeline minus decoding and the store, in this process: scan, the unchanged check, then per
    file `worker.process` with its metadata stage only (`read_only`: read once, hash, header, EXIF +
    XMP + sidecar + IPTC readers, names; no decoder, no store), `resolve` and `record_file` into a
    real catalogue, committed every half second as the pipeline does. Returns (seconds, seconds for the
    first file, one-time loads included, files, metadata rows)."""
    db = connect(db_path)
    registry = load_registry(db)
    batch = Batch(db)   # commits every half second, as the pipeline does
    started = time.perf_counter()
    first, files = 0.0, 0
    for item in scan([str(root)]):
        if not isinstance(item, Candidate) or known_unchanged(db, item.path, item.size, item.mtime_ns):
            continue
        result = process(Job(item.path, item.size, item.mtime_ns, str(db_path.parent / "unused-store"), dry_run=True,
                             sidecars=item.sidecars), read_only)   # the sidecars as the scan found them, as in the pipeline
        if result.problem:
            sys.exit(f"bench: {item.path}: {result.problem}")
        batch.begin()
        record_file(db, registry, result, resolve(result.facts, registry))
        batch.tick()
        files += 1
        if files == 1:
            first = time.perf_counter() - started
    batch.commit()
    elapsed = time.perf_counter() - started
    rows = db.execute("SELECT count(*) FROM metadata").fetchone()[0]
    db.conn.close()
    return elapsed, first, files, rows


def exiftool_run(folder: Path, work: Path) -> tuple[float, int]:
    exiftool = shutil.which("exiftool")
    if not exiftool:
        return float("nan"), 0
    r = run([exiftool, "-json", "-n", "-r", "-ext", "JPG", str(folder)], work)
    try:
        count = len(json.loads(r.out))
    except ValueError:
        count = 0
    return r.wall, count


# ---------------------------------------------------------------- report

KEEP = False   # --keep: leave every catalogue and store in place for inspection


def discard(path: Path) -> None:
    """Remove a store once measured (a 10,000-photo store is ~1.5 GB), unless --keep."""
    if not KEEP:
        shutil.rmtree(path, ignore_errors=True)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []  # figure, value, reference, ratio, target, verdict
        self.info: list[str] = []

    def row(self, figure: str, value: str, reference: str, ratio: str, target: str, ok: bool | None) -> None:
        self.rows.append((figure, value, reference, ratio, target, verdict(ok)))


def bench_full(rep: Report, work: Path, big: Path, paths: list[str], repeat: int, extra: tuple[str, ...] = ()) -> None:
    """1 + 1b + 1c + 2: the real command over the 12 MP photos, against the same command as it was
    before issue 17, the decode-only loop and the bare loop, with 1 and 2 processes; interleaved,
    best of `repeat` each, so that the machine's other work falls on all alike. `extra`: options
    for both commands (--no-faces: what the rest costs without face detection)."""
    n = len(paths)
    for jobs in (1, 2):
        nows, befores, decodes, bares = [], [], [], []
        for i in range(repeat):
            log(f"full ingest, --jobs {jobs} ({i + 1}): now, before, decode-only, bare loop")
            nows.append(ingest_run(work, "full", big, jobs, n=n, extra=extra))
            befores.append(ingest_run(work, "full", big, jobs, n=n, before=True, extra=extra))
            decodes.append(bare_loop(paths, jobs, decode_one))
            bares.append(bare_loop(paths, jobs))
        best, before = min(nows, key=lambda r: r.wall), min(befores, key=lambda r: r.wall)
        c = best.counts()
        rate, before_rate = n / best.wall, n / before.wall
        decode_rate, bare_rate = n / min(decodes), n / min(bares)
        inner = n / c["seconds"] if c.get("seconds") else float("nan")
        ratio = rate / before_rate
        rep.row(f"full ingest 12 MP, --jobs {jobs}{''.join(' ' + e for e in extra)} (whole command)", f"{rate:.2f} photos/s",
                f"before {before_rate:.2f} photos/s", f"{ratio:.2f}x", f">= {BEFORE_RATIO}x", ratio >= BEFORE_RATIO)
        ratio = rate / decode_rate
        rep.row("  the same against the decode-only loop", f"{rate:.2f} photos/s",
                f"decode-only {decode_rate:.2f} photos/s", f"{ratio:.2f}x", f">= {DECODE_RATIO}x", ratio >= DECODE_RATIO)
        ratio = rate / bare_rate
        rep.row("  the same against the bare loop", f"{rate:.2f} photos/s",
                f"bare loop {bare_rate:.2f} photos/s", f"{ratio:.2f}x", f">= {BARE_RATIO}x", ratio >= BARE_RATIO)
        cpu_ratio = before.cpu / best.cpu
        rep.row("  CPU seconds (command + workers), before / now", f"{best.cpu:.1f} s", f"before {before.cpu:.1f} s",
                f"{cpu_ratio:.2f}x", f">= {BEFORE_RATIO}x", cpu_ratio >= BEFORE_RATIO)
        rep.info.append(f"--jobs {jobs}: ingest {best.wall:.2f} s wall, {c.get('seconds', float('nan')):.1f} s inside "
                        f"run_ingest ({inner:.2f} photos/s, {inner / decode_rate:.2f}x decode-only); before "
                        f"{before.wall:.2f} s; decode-only {min(decodes):.2f} s; bare loop {min(bares):.2f} s; "
                        f"peak RSS {best.maxrss_kb / 1024:.0f} MB; load average {os.getloadavg()[0]:.2f}")
    discard(work / "full-store")


def warm_caches(work: Path, big: Path) -> None:
    """One import of one photo, so that the cache folder holds the gazetteer's compact copy and the
    prepared face model before anything is timed (a user's second command onwards)."""
    one = work / "warm"
    one.mkdir(exist_ok=True)
    shutil.copy(next(big.rglob("*.JPG")), one / "IMG_0001.JPG")
    ingest_run(work, "warm", one, 1, n=1)
    discard(work / "warm-store")


def bench_startup(rep: Report, work: Path, big: Path, repeat: int) -> None:
    """1d: what a command costs before its first file, now and as before issue 17, alternated."""
    one = work / "one"
    one.mkdir(exist_ok=True)
    shutil.copy(next(big.rglob("*.JPG")), one / "IMG_0001.JPG")
    db = work / "settings.db"
    connect(db).conn.close()
    commands = [("ingest --help", ["--help"], None),
                ("ingest settings", ["settings", "--db", str(db)], None),
                ("one-file import (12 MP, GPS)", None, one)]
    for label, args, folder in commands:
        now, before = [], []
        for i in range(max(5, repeat)):
            log(f"startup: {label} ({i + 1})")
            for runs, old in ((now, False), (before, True)):
                if folder is None:
                    r = run([ingest_command(), *args], work, before=old)
                    if r.rc != 0:
                        sys.exit(f"bench: `ingest {' '.join(args)}` failed (exit {r.rc}):\n{r.err[-2000:]}")
                else:
                    r = ingest_run(work, "one", folder, 1, n=1, before=old)
                runs.append(r.wall)
        t, t0 = statistics.median(now), statistics.median(before)
        rep.row(f"fixed cost: {label}", f"{t:.2f} s", f"before {t0:.2f} s", f"{t0 / t:.2f}x faster", "-", None)
    rep.info.append(f"fixed costs: medians of {max(5, repeat)} alternated runs each; load average {os.getloadavg()[0]:.2f}")
    discard(work / "one-store")


def bench_faces(rep: Report, work: Path, big: Path, n: int, repeat: int) -> None:
    """6: the whole command with and without face detection, --jobs 2, alternated."""
    with_faces, without = [], []
    for i in range(max(2, repeat)):
        log(f"faces: ingest with and without detection ({i + 1})")
        without.append(ingest_run(work, "faces", big, 2, n=n, extra=("--no-faces",)))
        with_faces.append(ingest_run(work, "faces", big, 2, n=n))
    wall_with, wall_without = min(r.wall for r in with_faces), min(r.wall for r in without)
    ratio = wall_with / wall_without
    rep.row(f"face detection's cost, {n} x 12 MP, --jobs 2", f"{n / wall_with:.2f} photos/s",
            f"--no-faces {n / wall_without:.2f} photos/s", f"{ratio:.2f}x", f"<= {FACES_COST}x", ratio <= FACES_COST)
    # CPU seconds (the command and its workers) barely move with the machine's other work, where
    # wall time on 2 busy cores does: the same cost, measured the steadier way.
    cpu_with, cpu_without = min(r.cpu for r in with_faces), min(r.cpu for r in without)
    cpu_ratio = cpu_with / cpu_without
    rep.row("  the same in CPU seconds (command + workers)", f"{cpu_with:.1f} s", f"--no-faces {cpu_without:.1f} s",
            f"{cpu_ratio:.2f}x", f"<= {FACES_COST}x", cpu_ratio <= FACES_COST)
    rep.info.append(f"faces: with detection {', '.join(f'{r.wall:.2f}' for r in with_faces)} s wall "
                    f"({', '.join(f'{r.cpu:.1f}' for r in with_faces)} s CPU), without "
                    f"{', '.join(f'{r.wall:.2f}' for r in without)} s ({', '.join(f'{r.cpu:.1f}' for r in without)} "
                    "s CPU); the best of each compared")
    discard(work / "faces-store")


def bench_metadata(rep: Report, work: Path, small1: Path, n1: int, repeat: int = 1) -> None:
    """3: readers + resolve + catalogue rows in-process, against exiftool over the same folder; the
    best of `repeat` runs of each, alternated (the first run of ours pays the one-time loads, so
    every later one runs in a fresh process, as the first did)."""
    runs, et_runs = [], []
    for n in range(repeat):
        log(f"metadata only ({n + 1}/{repeat})")
        if n == 0:
            runs.append(metadata_loop(small1, new_catalogue(work / "metadata.db")))
        else:
            runs.append(tuple(child_json(_HERE.parent, f"metadata:{small1}", work)["loop"]))
        log("exiftool")
        et_runs.append(exiftool_run(small1, work))
    meta_s, meta_first, meta_files, meta_rows = min(runs, key=lambda r: r[0])
    meta_rate = meta_files / meta_s
    steady_rate = (meta_files - 1) / max(1e-9, meta_s - meta_first)
    et_s, et_files = min(et_runs, key=lambda r: r[0])
    label = f"metadata only, {meta_files} x 1 MP (3 readers + rows)"
    if et_files:
        et_rate = et_files / et_s
        ratio, steady_ratio = meta_rate / et_rate, steady_rate / et_rate
        rep.row(label, f"{meta_rate:.0f} files/s", f"exiftool -json -n {et_rate:.0f} files/s", f"{ratio:.1f}x",
                f">= {EXIFTOOL_RATIO:g}x", ratio >= EXIFTOOL_RATIO)
        rep.row("  the same, after the first file (one-time loads)", f"{steady_rate:.0f} files/s",
                f"exiftool -json -n {et_rate:.0f} files/s", f"{steady_ratio:.1f}x", f">= {EXIFTOOL_RATIO:g}x",
                steady_ratio >= EXIFTOOL_RATIO)
    else:
        rep.row(label, f"{meta_rate:.0f} files/s", "exiftool missing (apt-get install libimage-exiftool-perl)", "-",
                f">= {EXIFTOOL_RATIO:g}x", None)
    rep.info.append(f"metadata loop: {meta_files} files in {meta_s:.2f} s, of which {meta_first:.2f} s for the first "
                    f"file (one-time loads); {meta_rows} metadata rows ({meta_rows / max(1, meta_files):.0f} per file); "
                    f"exiftool (whole command, one process): {et_files} files in {et_s:.2f} s; best of {repeat} each "
                    f"(ours {', '.join(f'{r[0]:.2f}' for r in runs)} s, exiftool's {', '.join(f'{r[0]:.2f}' for r in et_runs)} s); "
                    f"load average {os.getloadavg()[0]:.2f}")
    d = run([ingest_command(), "import", str(small1), "--db", str(work / "dryrun.db"), "--dry-run", "--jobs", "1"], work)
    if (seconds := d.counts().get("seconds")):
        rep.info.append(f"`ingest --dry-run --jobs 1` over the same {n1} files (hash + header + readers + resolve "
                        f"and, since issue 15, the decode check; no writes): {n1 / d.wall:.0f} files/s whole command, "
                        f"{n1 / max(1e-9, seconds):.0f} inside run_ingest")


_TESTS = _HERE.parent / "tests"
REAL_ROOTS = (_TESTS / "corpus", Path(os.environ.get("SHARED_CORPUS", _HERE.parent.parent / "shared" / "corpus")))
NOT_PHOTOS = ("md", "tsv", "txt", "rst")


def real_files() -> list[Path]:
    return sorted(p for root in REAL_ROOTS if root.is_dir() for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower().lstrip(".") not in NOT_PHOTOS)


def real_loop(paths: list[Path], db_path: Path, passes: int) -> tuple[float, int]:
    """CPU seconds for `passes` passes of the metadata stage + resolve + rows over `paths` (a new
    catalogue each pass), and the files the archive imports of them."""
    used, imported = 0.0, 0
    for n in range(passes):
        db = connect(new_catalogue(db_path.with_name(f"{db_path.stem}-{n}.db")))
        registry = load_registry(db)
        batch = Batch(db)   # commits as the pipeline does, every half second
        started = time.process_time()
        for p in paths:
            result = process(Job(str(p), p.stat().st_size, 0, str(db_path.parent / "unused-store"), dry_run=True,
                                 sidecars=()), read_only)   # the corpora hold no sidecars
            if result.problem is None:
                batch.begin()
                record_file(db, registry, result, resolve(result.facts, registry))
                batch.tick()
                imported += n == 0
        batch.commit()
        used += time.process_time() - started
        db.conn.close()
    return used, imported


def exiftool_cpu(roots: list[Path], work: Path) -> tuple[float, int]:
    """exiftool's own CPU time (its process's user + system) over the folders, and files it read."""
    exiftool = shutil.which("exiftool")
    if not exiftool:
        return float("nan"), 0
    skip = [a for ext in NOT_PHOTOS for a in ("--ext", ext)]
    before = os.times()
    proc = subprocess.run([exiftool, "-json", "-n", "-r", "-q", "-q", *skip, *map(str, roots)], cwd=work,
                          capture_output=True)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    try:
        count = len(json.loads(proc.stdout or b"[]"))
    except ValueError:
        count = 0
    return cpu, count


def bench_real(rep: Report, work: Path, repeat: int) -> None:
    """3b: the metadata path over real camera files, against exiftool over the same files."""
    paths = real_files()
    if not paths:
        rep.row("metadata, real files", "-", "no corpus found", "-", f">= {EXIFTOOL_RATIO:g}x", None)
        return
    log(f"metadata over {len(paths)} real files")
    real_loop(paths, work / "warm.db", 1)   # one pass first: imports, gazetteer and towns loads, first calls
    passes = 5 * repeat
    ours, imported = real_loop(paths, work / "real.db", passes)
    our_rate = passes * len(paths) / ours
    et_cpu, et_files = min((exiftool_cpu([r for r in REAL_ROOTS if r.is_dir()], work) for _ in range(repeat)),
                           key=lambda x: x[0])
    label = f"metadata, {len(paths)} real files x {passes} (CPU, imports {imported})"
    if et_files:
        et_rate = et_files / et_cpu
        ratio = our_rate / et_rate
        rep.row(label, f"{our_rate:.0f} files/CPU-s", f"exiftool -json -n {et_rate:.0f} files/CPU-s",
                f"{ratio:.1f}x", f">= {EXIFTOOL_RATIO:g}x", ratio >= EXIFTOOL_RATIO)
    else:
        rep.row(label, f"{our_rate:.0f} files/CPU-s", "exiftool missing", "-", f">= {EXIFTOOL_RATIO:g}x", None)
    rep.info.append(f"real files: {passes * len(paths)} file readings in {ours:.2f} CPU s "
                    f"({1000 * ours / (passes * len(paths)):.2f} ms each); exiftool: {et_files} files in {et_cpu:.2f} CPU s "
                    f"(its perl start included); load average {os.getloadavg()[0]:.2f}")


def bench_memory_rescan(rep: Report, work: Path, sets: list[tuple[int, Path]], repeat: int) -> None:
    """5: peak RSS importing N1 and N2 small files; 4: re-scan of the N2 files, all unchanged."""
    mem = {}
    for n, folder in sets:
        log(f"memory: importing {n} small files")
        r = ingest_run(work, f"mem{n}", folder, 2, n=n)
        mem[n] = r
        rep.info.append(f"import {n} x 1 MP, --jobs 2: {r.wall:.1f} s ({n / r.wall:.0f} files/s), "
                        f"peak RSS {r.maxrss_kb / 1024:.0f} MB")
        if n != sets[-1][0]:
            discard(work / f"mem{n}-store")
    (n1, _), (n2, small2) = sets
    growth = mem[n2].maxrss_kb / mem[n1].maxrss_kb
    rep.row(f"peak RSS importing {n2} vs {n1} files", f"{mem[n2].maxrss_kb / 1024:.0f} MB",
            f"{mem[n1].maxrss_kb / 1024:.0f} MB", f"{growth:.2f}x", f"<= {MEMORY_GROWTH}x (flat)", growth <= MEMORY_GROWTH)

    log(f"re-scan: {n2} unchanged files")
    rescan = min((ingest_run(work, f"mem{n2}", small2, 2, fresh=False, expect="unchanged", n=n2)
                  for _ in range(repeat)), key=lambda r: r.wall)
    start_db, _ = startup(work, f"mem{n2}", fresh=False)
    inside = min((ingest_run(work, f"mem{n2}", small2, 2, fresh=False, expect="unchanged", n=n2, in_process=True)
                  for _ in range(repeat)), key=lambda r: r.wall)
    whole, net = n2 / rescan.wall, n2 / inside.wall
    rep.row(f"unchanged re-scan, {n2} files (whole command)", f"{whole:.0f} files/s", "-", "-",
            f">= {RESCAN_RATE:.0f}/s", whole >= RESCAN_RATE)
    rep.row(f"unchanged re-scan, {n2} files (without startup)", f"{net:.0f} files/s", "-", "-",
            f">= {RESCAN_RATE:.0f}/s", net >= RESCAN_RATE)
    rep.info.append(f"re-scan: {rescan.wall:.2f} s whole command (the same command over an empty folder: "
                    f"{start_db:.2f} s), {inside.wall:.2f} s without interpreter startup and imports, "
                    f"run_ingest says {rescan.counts().get('seconds')} s; peak RSS {rescan.maxrss_kb / 1024:.0f} MB")
    discard(work / f"mem{n2}-store")


# ---------------------------------------------------------------- 3c. against an older package

def checkout(rev: str, work: Path) -> Path:
    """The `ingest` package as it was at `rev` (git archive of this repository), in `work`."""
    dest = work / f"baseline-{re.sub(r'[^A-Za-z0-9._-]', '_', rev)}"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(_HERE.parent), "archive", rev, "ingest"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def child_json(package_root: Path, what: str, work: Path) -> dict:
    """What `--child what` prints, run in a fresh interpreter that imports the `ingest` package
    under `package_root`."""
    env = dict(os.environ, PYTHONPATH=str(package_root))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", what, "--keep", str(work)],
                         env=env, capture_output=True, text=True, cwd=work)
    if out.returncode:
        sys.exit(f"bench: child {what} under {package_root} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_cpu(package_root: Path, what: str, work: Path) -> float:
    """CPU seconds per file of one metadata loop (after a warm-up loop) in a fresh interpreter."""
    return child_json(package_root, what, work)["per_file"]


def run_child(what: str, work: Path) -> None:
    """--child: print one JSON line, the CPU seconds per file of the metadata loop `what` (or, for
    `metadata:FOLDER`, what one `metadata_loop` returns, one-time loads included)."""
    if what.startswith("metadata:"):
        print(json.dumps({"loop": metadata_loop(Path(what[len("metadata:"):]), new_catalogue(work / "child-meta.db"))}))
        return
    if what == "real":
        paths = real_files()
        real_loop(paths, work / "child-warm.db", 1)
        used, _ = real_loop(paths, work / "child-real.db", 3)
        per_file = used / (3 * len(paths))
    elif what.startswith("readers:"):   # the workers' part alone: read, hash, header, readers, names
        jobs = [Job(str(p), p.stat().st_size, 0, str(work / "unused-store"), dry_run=True, sidecars=())
                for p in sorted(Path(what[len("readers:"):]).rglob("*")) if p.is_file()]
        for job in jobs:
            process(job, read_only)
        started = time.process_time()
        for _ in range(3):
            for job in jobs:
                process(job, read_only)
        per_file = (time.process_time() - started) / (3 * len(jobs))
    else:
        folder = Path(what)
        metadata_loop(folder, new_catalogue(work / "child-warm.db"))
        started = time.process_time()
        _, _, files, _ = metadata_loop(folder, new_catalogue(work / "child-meta.db"))
        per_file = (time.process_time() - started) / files
    print(json.dumps({"per_file": per_file, "ingest": str(Path(ingest.__file__).parent)}))


def bench_against(rep: Report, work: Path, rev: str, small1: Path | None, repeat: int) -> None:
    """3c: the same metadata loops (after a warm-up) under this checkout's package and under `rev`'s,
    alternated in fresh processes, best of max(3, --repeat): how much faster the path is than it was."""
    old = checkout(rev, work)
    cases = [("synthetic 1 MP files", str(small1)), ("synthetic, the workers' readers alone", f"readers:{small1}")] if small1 else []
    cases.append(("real files", "real"))
    for label, what in cases:
        log(f"against {rev}: {label}")
        ours, theirs = [], []
        for _ in range(max(3, repeat)):
            theirs.append(child_cpu(old, what, work))
            ours.append(child_cpu(_HERE.parent, what, work))
        a, b = min(ours), min(theirs)
        rep.row(f"metadata path vs {rev}, {label} (CPU per file)", f"{1000 * a:.3f} ms", f"{rev} {1000 * b:.3f} ms",
                f"{b / a:.1f}x faster", ">= 3x", b / a >= 3)
        rep.info.append(f"against {rev}, {label}: ours {', '.join(f'{1000 * x:.3f}' for x in ours)} ms/file, "
                        f"{rev}'s {', '.join(f'{1000 * x:.3f}' for x in theirs)} ms/file (CPU, after a warm-up loop, "
                        f"each in a fresh process, alternated); load average {os.getloadavg()[0]:.2f}")


SECTIONS = ("full", "startup", "metadata", "real", "memory", "faces")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=None, help="12 MP photos for the full ingest [default: 40]")
    ap.add_argument("--small", default=None, metavar="N1,N2",
                    help="small 1 MP file counts: N1 for metadata and memory, N2 for memory and re-scan "
                         "[default: 1000,10000]")
    ap.add_argument("--keep", metavar="DIR", help="keep catalogues and stores in DIR (default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="a smoke run in seconds (3 photos, 40/150 small files)")
    ap.add_argument("--only", metavar="LIST", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, of {', '.join(SECTIONS)} [default: all]")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per throughput figure; the best is kept")
    ap.add_argument("--cache", default="/tmp/ingest-bench-cache", help="where generated files are kept [default: %(default)s]")
    ap.add_argument("--against", metavar="REV", help="also time the metadata and real sections' loops under the "
                    "`ingest` package of git revision REV (e.g. main), in the same run: the speed-up")
    ap.add_argument("--no-faces", action="store_true", help="figures 1, 1b: both commands with --no-faces (what "
                    "the rest of an import costs against the decode-only loop, face detection aside)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global CACHE, KEEP
    CACHE, KEEP = Path(args.cache), bool(args.keep)
    if args.child:
        run_child(args.child, Path(args.keep))
        return
    n_big = args.photos or (3 if args.quick else 40)
    n1, n2 = (int(x) for x in (args.small or ("40,150" if args.quick else "1000,10000")).split(","))
    if not 0 < n1 < n2 or n_big < 1:
        ap.error("--small N1,N2 needs 0 < N1 < N2, and --photos at least 1")
    only = set(args.only.split(","))
    if only - set(SECTIONS):
        ap.error(f"--only: unknown section(s) {', '.join(sorted(only - set(SECTIONS)))}")
    repeat = max(1, args.repeat)

    if args.keep:
        work = Path(args.keep).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    t0 = time.perf_counter()
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()[0]
    log(f"ingest bench: {n_big} x 12 MP, small sets {n1} and {n2}; {cores} cores; work in {work}")

    log("data")
    data_lines = []
    if only & {"full", "faces", "startup"}:
        big = big_set(n_big)
        big_paths = files_in(big)
        size = warm(big_paths) / len(big_paths)
        data_lines.append(f"{len(big_paths)} x {BIG[0]}x{BIG[1]} JPEG ({size / 1e6:.1f} MB avg, EXIF with GPS, "
                          f"some XMP/IPTC, 1 in 5 portrait)")
    if only & {"metadata", "memory"}:
        small1 = small_set(n1)
        size = warm(files_in(small1)) / n1
        small2 = None
        if "memory" in only:
            small2 = small_set(n2)
            warm(files_in(small2))
        data_lines.append(f"{n1}{f' / {n2}' if small2 else ''} x {SMALL[0]}x{SMALL[1]} JPEG ({size / 1e3:.0f} KB avg, "
                          f"EXIF with GPS, XMP, IPTC)")

    rep = Report()
    try:
        if only & {"full", "faces", "startup"}:
            warm_caches(work, big)
        start_fresh, start_rss = startup(work, "startup", fresh=True)
        rep.info.append(f"process startup (ingest over an empty folder, new catalogue): {start_fresh:.2f} s, "
                        f"peak RSS {start_rss / 1024:.0f} MB")
        if "full" in only:
            bench_full(rep, work, big, big_paths, repeat, ("--no-faces",) if args.no_faces else ())
        if "startup" in only:
            bench_startup(rep, work, big, repeat)
        if "metadata" in only:
            bench_metadata(rep, work, small1, n1, repeat)
        if "real" in only:
            bench_real(rep, work, repeat)
        if args.against and only & {"metadata", "real"}:
            bench_against(rep, work, args.against, small1 if "metadata" in only else None, repeat)
        if "memory" in only:
            bench_memory_rescan(rep, work, [(n1, small1), (n2, small2)], repeat)
        if "faces" in only:
            bench_faces(rep, work, big, len(big_paths), repeat)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"ingest {ingest.__version__} bench ({Path(ingest.__file__).parent}) - Python {platform.python_version()}, "
          f"Pillow {Image.__version__}, {cores} cores, {time.perf_counter() - t0:.0f} s; load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after (other work on the machine makes figures noisy)")
    for line in data_lines:
        print(f"data: {line}")
    if args.quick:
        print("--quick: a smoke run; with so few files one-time costs dominate and the verdicts mean little")
    print()
    head = ("figure", "value", "reference", "ratio", "target", "result")
    widths = [max(len(str(r[i])) for r in rep.rows + [head]) for i in range(len(head))]
    for r in [head] + rep.rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    print()
    for line in rep.info:
        print(f"- {line}")
    print()
    for r in rep.rows:
        print(f"{r[5]}: {r[0].strip()}: {r[1]} (reference {r[2]}, ratio {r[3]}, target {r[4]})")


if __name__ == "__main__":
    main()
