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
