"""Crash safety: SIGKILL the real `ingest` process tree at random moments, then check the archive.

README: "a kill at any moment leaves no row pointing to a missing original and no half-written row;
running the same command again finishes the job". Each kill lands at a different point of a run over
40 photos with two workers (delays spread over the measured length of a whole run, with jitter from
a seeded RNG: set CRASH_SEED to replay a failure). After every kill the catalogue must be intact and
consistent with the store; after a resumed run it must equal an uninterrupted run's.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.synth import make_photo
from PIL import Image

from ingest.media.images import FORMATS
from ingest.media.store import Store, sha256_file

INGEST = Path(sys.executable).parent / "ingest"
PHOTOS = 40
KILLS = 5
SEED = int(os.environ.get("CRASH_SEED", "20240518"))

pytestmark = pytest.mark.skipif(not INGEST.is_file() or not hasattr(os, "killpg"),
                                reason="needs the installed `ingest` console script and POSIX process groups")


def ingest_cmd(root: Path, batch: Path) -> list[str]:
    return [str(INGEST), "--db", str(root / "gallery.db"), "--store", str(root / "archive"),
            "import", "--jobs", "2", str(batch)]


def run_to_completion(root: Path, batch: Path) -> subprocess.CompletedProcess:
    root.mkdir(parents=True, exist_ok=True)
    return subprocess.run(ingest_cmd(root, batch), capture_output=True, text=True, timeout=60, cwd=root)


def run_and_kill(root: Path, batch: Path, delay: float) -> int | None:
    """Start a run, SIGKILL its whole process group after `delay` s; the exit status if it finished first."""
    root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(ingest_cmd(root, batch), cwd=root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        return proc.returncode                      # finished before the kill: still a valid state
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    _reap_group(proc.pid)
    return None


def _reap_group(pgid: int) -> None:
    """Wait until every process of the killed group is dead (workers are reparented, not our children)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive_in_group(pgid):
        time.sleep(0.01)


def _alive_in_group(pgid: int) -> bool:
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: signal 0 reaches zombies too, so this may wait for the reaper
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def check_consistent(root: Path) -> dict:
    """Every invariant a kill must not break; returns the catalogue's state for comparison."""
    db_path, store = root / "gallery.db", Store(root / "archive")
    if not db_path.exists():
        return {"sha": set(), "sources": 0, "tags": {}}
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'photos'").fetchone():
            # Killed while the schema was being created: each migration is one transaction, so
            # there is no half schema, only none, and the re-run creates it.
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
            return {"sha": set(), "sources": 0, "tags": {}}
        photos = conn.execute(
            "SELECT id, sha256, format, imported_at, taken_at, creator, width, height FROM photos").fetchall()
        for photo_id, sha, fmt, imported_at, *_ in photos:
            assert imported_at, f"photo {photo_id} has no imported_at"
            original = store.original(sha, FORMATS[fmt][1])
            assert original.is_file(), f"photo {photo_id} points to a missing original {original}"
            assert not original.name.startswith(".tmp-")
            assert sha256_file(original) == sha, f"original of photo {photo_id} is not its bytes"
            for kind in ("web", "thumbs"):
                derivative = store.derivative(kind, sha)
                assert derivative.is_file(), f"photo {photo_id} has no {kind} derivative"
                with Image.open(derivative) as im:
                    im.verify()
            n = conn.execute("SELECT count(*) FROM photo_sources WHERE photo_id = ?", [photo_id]).fetchone()[0]
            assert n >= 1, f"photo {photo_id} has no photo_sources row (a half-written photo)"
        # Atomic writes: whatever sits under a final name is whole, rows or not (a kill lands between
        # storing an original and recording its row); only `.tmp-*` files may be partial.
        for original in (store.root / "originals").rglob("*"):
            if original.is_file() and not original.name.startswith(".tmp-"):
                assert sha256_file(original) == original.name.split(".")[0], f"partial original {original}"
        for kind in ("web", "thumbs"):
            for made in (store.root / kind).rglob("*.jpg"):
                if not made.name.startswith(".tmp-"):
                    with Image.open(made) as im:
                        im.load()  # a truncated JPEG fails here
        ids = {p[0] for p in photos}
        orphans = conn.execute("SELECT DISTINCT photo_id FROM photo_sources UNION SELECT DISTINCT photo_id FROM metadata")
        assert {r[0] for r in orphans} <= ids, "rows for a photo that was never recorded"
        for (path,) in conn.execute("SELECT path FROM photo_sources"):
            assert ".tmp-" not in Path(path).name and Path(path).is_file()
        assert conn.execute("SELECT count(*) FROM metadata").fetchone()[0] >= len(photos)  # facts came with the row
        sources = conn.execute("SELECT count(*) FROM photo_sources").fetchone()[0]
        tags = {sha: (taken_at, creator, w, h) for _, sha, _, _, taken_at, creator, w, h in photos}
    finally:
        conn.close()
    return {"sha": set(tags), "sources": sources, "tags": tags}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "card"
    for i in range(PHOTOS):
        make_photo(folder / f"day{i // 10}" / f"IMG_{i:04d}.jpg", width=800, height=600, seed=i,
                   exif={"DateTimeOriginal": f"2024:05:{1 + i % 28:02d} 12:{i:02d}:00", "Artist": f"Photographer {i % 3}"})
    # The same bytes twice, from another folder: one photo, two sources, even across kills.
    (folder / "copy").mkdir()
    (folder / "copy" / "again.jpg").write_bytes((folder / "day0" / "IMG_0000.jpg").read_bytes())
    return folder


@pytest.fixture(scope="module")
def reference(batch, tmp_path_factory):
    """An uninterrupted run into its own archive: the state every interrupted one must end in."""
    root = tmp_path_factory.mktemp("reference")
    started = time.monotonic()
    done = run_to_completion(root, batch)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{PHOTOS} imported, 1 duplicates, 0 unchanged"), done.stdout
    state = check_consistent(root)
    assert len(state["sha"]) == PHOTOS and state["sources"] == PHOTOS + 1
    assert all(taken and creator for taken, creator, _, _ in state["tags"].values())
    return state, elapsed, root


def _delays(full: float) -> list[float]:
    """KILLS delays, one in each slice of the run (the first slice starts at 0.05 s), with jitter."""
    rng = random.Random(SEED)
    full = max(full, 0.3)
    cuts = [0.05 + (full - 0.05) * i / KILLS for i in range(KILLS + 1)]
    return [round(rng.uniform(cuts[i], cuts[i + 1]), 3) for i in range(KILLS)]


def test_kill_at_random_moments_then_resume(batch, reference, tmp_path):
    expected, full, _ = reference
    delays = _delays(full)
    finished_early = 0
    for n, delay in enumerate(delays):
        root = tmp_path / f"kill{n}"
        code = run_and_kill(root, batch, delay)
        finished_early += code is not None
        partial = check_consistent(root)
        assert partial["sha"] <= expected["sha"], f"kill after {delay} s (seed {SEED}): unknown photos"
        if n % 2:  # sometimes kill the resumed run too: two interrupted runs in a row must also be safe
            run_and_kill(root, batch, delay / 2 + 0.05)
            check_consistent(root)
        done = run_to_completion(root, batch)
        assert done.returncode == 0, f"resume after a kill at {delay} s (seed {SEED}): {done.stderr}"
        assert "Traceback" not in done.stderr
        assert " 0 problems" in done.stdout, done.stdout
        final = check_consistent(root)
        assert final == expected, f"resumed archive differs from an uninterrupted run (kill at {delay} s, seed {SEED})"
        # The store holds exactly the catalogue's files; a kill's leftovers are only `.tmp-*` debris.
        store = Store(root / "archive")
        conn = sqlite3.connect(root / "gallery.db")
        photos = conn.execute("SELECT sha256, format FROM photos").fetchall()
        conn.close()
        expected_files = {store.original(sha, FORMATS[fmt][1]) for sha, fmt in photos}
        expected_files |= {store.derivative(kind, sha) for sha, _ in photos for kind in ("web", "thumbs")}
        stored = {p for p in store.root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")}
        assert stored == expected_files
    assert finished_early < KILLS, f"every run finished before its kill ({delays}): the test proved nothing"


def test_rerun_after_completion_is_all_unchanged(batch, reference):
    expected, _, root = reference
    again = run_to_completion(root, batch)
    assert again.returncode == 0
    assert again.stdout.startswith(f"0 imported, 0 duplicates, {PHOTOS + 1} unchanged, 0 problems"), again.stdout
    assert check_consistent(root) == expected
