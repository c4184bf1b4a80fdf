"""`ingest verify`: fixity of the store against the catalogue, as cron would run it."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from fixtures.synth import make_photo

from ingest.media.store import Store


@pytest.fixture
def imported(cli, tmp_path):
    for i in range(3):
        make_photo(tmp_path / "in" / f"p{i}.jpg", width=320, height=240, seed=i)
    assert cli(str(tmp_path / "in")).exit_code == 0
    store = Store(cli.store_path)
    shas = [r[0] for r in sqlite3.connect(cli.db_path).execute("SELECT sha256 FROM photos ORDER BY id")]
    return store, shas


def _age(path, seconds=7200):
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_clean_store_passes(cli, imported):
    result = cli("verify")
    assert result.exit_code == 0
    assert result.stdout.startswith("3 originals verified: 0 missing, 0 corrupt, 0 orphans, 0 missing derivatives")


def test_corrupt_missing_and_orphan_files_are_reported(cli, imported):
    store, shas = imported
    corrupt = store.original(shas[0], "jpg")
    corrupt.write_bytes(corrupt.read_bytes()[:-10] + b"0123456789")  # same size, bit rot
    store.original(shas[1], "jpg").unlink()
    store.derivative("thumbs", shas[2]).unlink()
    orphan = store.root / "originals" / "ff" / "ff" / ("f" * 64 + ".jpg")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"stray")
    _age(orphan)
    leftover = store.root / "web" / "ab" / ".tmp-123-abc.jpg"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half")
    _age(leftover)
    result = cli("verify")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(l.startswith("corrupt: ") and shas[0] in l and "photo 1" in l for l in lines)
    assert any(l.startswith("missing: ") and shas[1] in l and "photo 2" in l for l in lines)
    assert any(l.startswith("missing-derivative: ") and shas[2] in l for l in lines)
    assert any(l.startswith("orphan: ") and "f" * 64 in l for l in lines)
    assert any(l.startswith("orphan: ") and ".tmp-123-abc" in l and "interrupted" in l for l in lines)
    assert "1 missing, 1 corrupt, 2 orphans, 1 missing derivatives" in result.stdout
    assert "Traceback" not in result.output


def test_recent_unknown_files_are_an_ingest_in_progress_not_orphans(cli, imported):
    store, _ = imported
    fresh = store.root / "originals" / "ee" / "ee" / ("e" * 64 + ".jpg")
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"being imported")
    assert cli("verify").exit_code == 0


def test_no_catalogue_is_one_clear_line(cli):
    result = cli("verify")
    assert result.exit_code == 1 and "no such catalogue" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- a rotating share each night

@pytest.fixture
def five(cli, tmp_path):
    for i in range(5):
        make_photo(tmp_path / "in5" / f"q{i}.jpg", width=320, height=240, seed=50 + i)
    assert cli(str(tmp_path / "in5")).exit_code == 0
    ids, shas = zip(*sqlite3.connect(cli.db_path).execute("SELECT id, sha256 FROM photos ORDER BY id"))
    return Store(cli.store_path), list(ids), list(shas)


def _runs(cli) -> list[tuple]:
    conn = sqlite3.connect(cli.db_path)
    try:
        return conn.execute("SELECT mode, first_id, last_id, checked FROM verify_runs ORDER BY id").fetchall()
    finally:
        conn.close()


def test_samples_rotate_through_every_photo_and_wrap_round(cli, five):
    _, ids, _ = five
    checked = []
    for night in range(3):   # 40% of 5 photos: 2 a night, so the third night wraps round to the first
        result = cli("verify", "--sample", "40%")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("2 originals verified (photos "), result.stdout
        assert "orphans" not in result.stdout          # a sample leaves orphans to the full run
        checked.append(_runs(cli)[-1])
    assert [(first, last) for _, first, last, _ in checked] == [(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[0])]
    assert all(mode == "sample" and n == 2 for mode, _, _, n in checked)


def test_a_sample_finds_the_rot_in_its_share_and_a_number_is_a_count(cli, five):
    store, ids, shas = five
    original = store.original(shas[2], "jpg")
    original.write_bytes(original.read_bytes()[:-4] + b"rot!")
    first = cli("verify", "--sample", "2")             # photos 1 and 2: clean
    assert first.exit_code == 0 and first.stdout.startswith("2 originals verified"), first.output
    second = cli("verify", "--sample", "0.4")          # photos 3 and 4: the rot
    assert second.exit_code == 1
    assert any(l.startswith("corrupt: ") and shas[2] in l for l in second.stderr.splitlines())


def test_a_full_run_is_recorded_with_its_throughput(cli, five):
    result = cli("verify")
    assert result.exit_code == 0 and " MB/s)" in result.stdout
    (mode, first, last, checked), = _runs(cli)
    assert (mode, first, last, checked) == ("full", None, None, 5)
    assert cli("verify", "--sample", "40%").exit_code == 0
    assert _runs(cli)[-1][1] == five[1][0]            # a full run does not move the samples' place


@pytest.mark.parametrize("share", ["0", "0%", "150%", "1.5", "half", "-3"])
def test_a_bad_share_is_a_usage_error(cli, five, share):
    result = cli("verify", "--sample", share)
    assert result.exit_code == 2 and "--sample" in result.output and "Traceback" not in result.output
