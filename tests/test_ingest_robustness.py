"""Ingest that never aborts or orphans (issue 13, item 5).

Each case is an attack that once ended a whole import or left processes behind: a file name that is
not UTF-8, two imports at once on one catalogue, a SIGKILL of the importing process. Everything is
real: photos written by `make_photo`, the installed `ingest` console script in subprocesses, SQLite
files read back with sqlite3, /proc for the process table.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils
from fixtures.synth import make_photo

from ingest.catalogue import schema
from ingest.catalogue.lock import import_lock
from ingest.catalogue.record import source_path
from ingest.catalogue.registry import city_for, demo_for, load_registry
from ingest.catalogue.schema import connect, transaction
from ingest.reference.places import city_from_name

INGEST = Path(sys.executable).parent / "ingest"

pytestmark = pytest.mark.skipif(not INGEST.is_file() or not sys.platform.startswith("linux"),
                                reason="needs the installed `ingest` console script, Linux file names and /proc")

WHITEHALL = (51.5045, -0.1263)
ODEONSPLATZ = (48.1424, 11.5775)
PLACE_ROGIER = (50.8546, 4.3572)
PARIS = (48.8566, 2.3522)
CITIES = [(WHITEHALL, "+01:00"), (ODEONSPLATZ, "+02:00"), (PLACE_ROGIER, "+02:00"), (PARIS, "+02:00")]
DAYS = ["2024-06-01", "2024-06-08", "2024-06-15", "2024-06-22"]

# A UTF-8 locale that is not "C": there Python's stdout is strict, so a stray surrogate would raise.
ENV = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
ENV.pop("INGEST_DEBUG", None)


def ingest_cmd(root: Path, *args: str) -> list[str]:
    return [str(INGEST), "--db", str(root / "gallery.db"), "--store", str(root / "archive"), "import", *args]


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(ingest_cmd(root, *args), capture_output=True, text=True, timeout=120, cwd=root,
                          env=ENV, errors="replace")


def odd(name: bytes) -> str:
    """A file-name component as Python sees a name that is not UTF-8 (lone surrogates)."""
    return os.fsdecode(name)


# =================================================================================================
# File names that are not UTF-8
# =================================================================================================

def test_a_name_that_is_not_utf8_is_imported_once_and_then_unchanged(tmp_path):
    card = tmp_path / "card"
    folder = card / odd(b"d\xe9mo 2024-05-18")                      # Latin-1 folder name, dated
    good = make_photo(folder / odd(b"IMG_\xff\xfe.jpg"), width=64, height=48, seed=1)
    make_photo(card / "plain.jpg", width=64, height=48, seed=2)
    bad = card / odd(b"broken_\xff.jpg")
    fd = os.open(os.fsencode(bad), os.O_WRONLY | os.O_CREAT, 0o644)  # made through bytes, as a camera would
    os.write(fd, b"\xff\xd8\xff\xe0 not really a JPEG")
    os.close(fd)
    assert os.fsencode(good) in {os.fsencode(p) for p in folder.iterdir()}

    first = run(tmp_path, "--jobs", "2", "card")
    assert "Traceback" not in first.stderr and "internal error" not in first.stderr, first.stderr
    assert first.returncode == 1, first.stderr                       # the broken file is a problem...
    assert first.stdout.startswith("2 imported, 0 duplicates, 0 unchanged, 1 problems"), first.stdout
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("card/broken_\ufffd.jpg: "), lines  # ...one clear line

    conn = sqlite3.connect(tmp_path / "gallery.db")
    try:
        name, path, taken = conn.execute(
            "SELECT p.original_filename, s.path, p.date FROM photos p JOIN photo_sources s ON s.photo_id = p.id "
            "WHERE p.original_filename LIKE 'IMG%'").fetchone()
        assert name == "IMG_\ufffd\ufffd.jpg"                         # published: readable text
        assert source_path(path) == str(good)                         # private: the exact name, losslessly
        assert taken == "2024-05-18"                                  # the folder's date was read
        (problem,) = conn.execute("SELECT path, message FROM problems").fetchall()
        assert source_path(problem[0]) == str(bad) and isinstance(problem[1], str)
    finally:
        conn.close()

    again = run(tmp_path, "--jobs", "2", "card")
    assert "Traceback" not in again.stderr, again.stderr
    assert again.stdout.startswith("0 imported, 0 duplicates, 2 unchanged, 1 problems"), again.stdout
    assert again.stderr.count("\n") == 1 and "broken_\ufffd.jpg" in again.stderr


def test_a_named_file_that_is_not_utf8_is_imported_in_one_process(tmp_path):
    """The same in-process (--jobs 1) and given by name on the command line."""
    photo = make_photo(tmp_path / odd(b"caf\xe9.jpg"), width=64, height=48, seed=3)
    done = subprocess.run([*ingest_cmd(tmp_path, "--jobs", "1"), os.fsencode(photo)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=ENV)
    assert done.returncode == 0 and done.stdout.startswith("1 imported"), (done.stdout, done.stderr)
    again = subprocess.run([*ingest_cmd(tmp_path, "--jobs", "1"), os.fsencode(photo)], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path, env=ENV)
    assert again.returncode == 0 and again.stdout.startswith("0 imported, 0 duplicates, 1 unchanged"), again.stdout


# =================================================================================================
# Two imports at once on one catalogue
# =================================================================================================

def _city_days(folder: Path, seed: int) -> int:
    """One photo for each of 16 city+day groups (4 cities x 4 days): each becomes a provisional group."""
    n = 0
    for (place, offset) in CITIES:
        for day in DAYS:
            exif = {"DateTimeOriginal": f"{day.replace('-', ':')} 13:{n:02d}:00", "OffsetTimeOriginal": offset,
                    "GPSLatitude": place[0], "GPSLongitude": place[1]}
            make_photo(folder / f"IMG_{seed + n:04d}.jpg", width=320, height=240, seed=seed + n, exif=exif)
            n += 1
    return n


def test_two_imports_at_once_take_turns_and_make_each_group_once(tmp_path):
    first, second = tmp_path / "alice", tmp_path / "bob"
    photos = _city_days(first, 100) + _city_days(second, 200)
    shared = first / "IMG_0100.jpg"                                   # the same bytes in both batches
    (second / "copy.jpg").write_bytes(shared.read_bytes())
    procs = [subprocess.Popen(ingest_cmd(tmp_path, "--jobs", "2", str(folder)), cwd=tmp_path, env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for folder in (first, second)]
    outcomes = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outcomes):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "Error" not in err, err
        assert all("another import is running" in line for line in err.splitlines()), err

    conn = sqlite3.connect(tmp_path / "gallery.db")
    try:
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == photos
        assert conn.execute("SELECT count(*) FROM photo_sources").fetchone()[0] == photos + 1
        groups = conn.execute("SELECT date, city_id, count(*) FROM demonstrations WHERE provisional = 1 "
                              "GROUP BY date, city_id").fetchall()
        assert len(groups) == 16 and {g[2] for g in groups} == {1}, groups
        assert conn.execute("SELECT count(*) FROM cities").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM photos WHERE demonstration_id IS NULL").fetchone()[0] == 0
        per_group = conn.execute("SELECT count(*) FROM photos GROUP BY demonstration_id").fetchall()
        assert sorted(c for (c,) in per_group) == [2] * 16
    finally:
        conn.close()


OPEN_AT_GO = """
import os, sys, time
from ingest.catalogue.schema import connect
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
connect(sys.argv[2]).conn.close()
"""


def test_commands_opening_a_new_catalogue_at_once_all_set_it_up(tmp_path):
    """One of them switches the new file to WAL and applies each migration; the others wait, then
    find it done (they used to fail on "database is locked" or "table licences already exists").
    They start together on a signal, as two imports started at once do."""
    for n in range(5):
        go, db = tmp_path / f"go{n}", tmp_path / f"gallery{n}.db"
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT_GO, str(go), str(db)], env=ENV, text=True,
                                  stderr=subprocess.PIPE) for _ in range(4)]
        time.sleep(0.5)                                               # all started, waiting for the signal
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err


def _schema(conn: sqlite3.Connection) -> tuple:
    return (conn.execute("PRAGMA user_version").fetchone(), conn.execute("PRAGMA journal_mode").fetchone(),
            conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall(),
            conn.execute("SELECT * FROM licences ORDER BY id").fetchall())


def test_a_new_catalogue_is_a_copy_of_the_migrated_schema(tmp_path, monkeypatch):
    """A new catalogue starts as a copy of one with every migration applied (kept in the cache
    folder), which is exactly what applying them makes; a WAL file left where a catalogue was
    deleted is not replayed over that copy (the migrations run instead), and another list of
    migrations (an older package) gets a copy of its own."""
    monkeypatch.setenv("INGEST_CACHE", str(tmp_path / "cache"))
    schema._template.cache_clear()   # made by an earlier test in this process: made again, into this cache
    copied = connect(tmp_path / "new.db")
    assert len(list((tmp_path / "cache").glob("catalogue-*.db"))) == 1
    stepwise = sqlite3.connect(tmp_path / "stepwise.db", isolation_level=None)
    stepwise.execute("PRAGMA journal_mode = WAL")
    stepwise.create_function("name_key", 1, lambda v: v, deterministic=True)
    schema.migrate(sqlite_utils.Database(stepwise))
    assert _schema(copied.conn) == _schema(stepwise) and _schema(stepwise)[0] == (len(schema.MIGRATIONS),)
    (tmp_path / "left.db-wal").write_bytes(b"")
    left = connect(tmp_path / "left.db")
    assert _schema(left.conn) == _schema(stepwise)
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:15])
    older = connect(tmp_path / "older.db")
    assert older.execute("PRAGMA user_version").fetchone() == (15,)
    assert len(list((tmp_path / "cache").glob("catalogue-*.db"))) == 2
    for db in (copied, left, older):
        db.conn.close()
    stepwise.close()


def test_an_import_waits_for_the_one_running_and_says_so(tmp_path):
    card = tmp_path / "card"
    make_photo(card / "a.jpg", width=64, height=48, seed=7)
    db = connect(tmp_path / "gallery.db")
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as err:
        with import_lock(db):                                         # as a running import holds it
            proc = subprocess.Popen(ingest_cmd(tmp_path, "card"), cwd=tmp_path, env=ENV, text=True,
                                    stdout=subprocess.PIPE, stderr=err)
            deadline = time.monotonic() + 60
            while "waiting" not in stderr.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert proc.poll() is None, "the second import did not wait"
            assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
        out, _ = proc.communicate(timeout=120)
    db.conn.close()
    assert proc.returncode == 0 and out.startswith("1 imported"), out
    lines = stderr.read_text().splitlines()
    assert lines == [f"another import is running on {tmp_path / 'gallery.db'}, waiting…"], lines


def test_a_dry_run_does_not_wait(tmp_path):
    make_photo(tmp_path / "card" / "a.jpg", width=64, height=48, seed=8)
    db = connect(tmp_path / "gallery.db")
    with import_lock(db):
        done = run(tmp_path, "--dry-run", "card")
    db.conn.close()
    assert done.returncode == 0 and done.stdout.startswith("1 would import") and done.stderr == "", done


def test_cities_and_groups_made_meanwhile_by_another_writer_are_reused(tmp_path):
    """A registry loaded before another connection (the web, `demos import`, an import without the
    lock) added the same city and provisional group: no IntegrityError, no second group."""
    mine, theirs = connect(tmp_path / "gallery.db"), connect(tmp_path / "gallery.db")
    stale = load_registry(mine)
    paris = city_from_name("Paris", "FR", "registry")
    assert paris.city is not None
    with transaction(theirs):
        other = load_registry(theirs)
        city_id = city_for(theirs, other, paris)
        demo_id = demo_for(theirs, other, None, "2024-06-01", city_id, provisional=True)
    with transaction(mine):
        assert city_for(mine, stale, paris) == city_id
        assert demo_for(mine, stale, None, "2024-06-01", city_id, provisional=True) == demo_id
        assert demo_for(mine, stale, None, "2024-06-02", city_id, provisional=True) != demo_id
    named = city_from_name("Nowhere-on-Sea", None, "archivist")      # not in the gazetteer: by name
    with transaction(theirs):
        made = city_for(theirs, load_registry(theirs), named)
    with transaction(mine):
        assert city_for(mine, stale, named) == made
    assert mine.execute("SELECT count(*) FROM cities").fetchone()[0] == 2
    assert mine.execute("SELECT count(*) FROM demonstrations").fetchone()[0] == 2
    mine.conn.close()
    theirs.conn.close()


# =================================================================================================
# SIGKILL of the importing process
# =================================================================================================

def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


def test_workers_exit_when_the_import_is_killed_and_a_rerun_finishes(tmp_path):
    card = tmp_path / "card"
    count = 60
    for i in range(count):
        make_photo(card / f"IMG_{i:04d}.jpg", width=1200, height=900, seed=300 + i)
    proc = subprocess.Popen(ingest_cmd(tmp_path, "--jobs", "2", "card"), cwd=tmp_path, env=ENV,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: set[int] = set()
        originals = tmp_path / "archive" / "originals"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            workers |= _children(proc.pid)
            if len(workers) >= 2 and originals.is_dir() and any(originals.rglob("*.jpg")):
                break                                                  # the workers are at work
            time.sleep(0.01)
        assert proc.poll() is None and len(workers) >= 2, "the import ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)                              # the parent only, as the OOM killer does
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.05)
        left = [pid for pid in workers if _alive(pid)]
        assert not left, f"worker processes {left} outlived the killed import"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)                        # never leave them to the next test
        except ProcessLookupError:
            pass

    done = run(tmp_path, "--jobs", "2", "card")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert " 0 problems" in done.stdout, done.stdout
    conn = sqlite3.connect(tmp_path / "gallery.db")
    try:
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == count
        assert conn.execute("SELECT count(*) FROM photo_sources").fetchone()[0] == count
        assert conn.execute("SELECT count(*) FROM ingest_runs WHERE status = 'finished'").fetchone()[0] >= 1
    finally:
        conn.close()
