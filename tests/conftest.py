"""Shared fixtures: a fresh archive (real SQLite file, real store folder) and the real corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.catalogue.schema import connect
from ingest.media.store import Store

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"                                   # the files copied in, with SOURCES.md
SHARED_CORPUS = Path(os.environ.get("SHARED_CORPUS", TESTS.parent.parent / "shared" / "corpus"))


@pytest.fixture
def archive(tmp_path):
    """(db, store, db_path, store_path) for a new, empty archive."""
    db_path, store_path = tmp_path / "gallery.db", tmp_path / "archive"
    db = connect(db_path)
    yield db, Store(store_path), db_path, store_path
    db.conn.close()


@pytest.fixture
def cli(tmp_path):
    """Run `ingest ...` in-process against this test's archive; returns the click Result."""
    from ingest.cli import main

    runner = CliRunner()
    db_path, store_path = str(tmp_path / "gallery.db"), str(tmp_path / "archive")

    def run(*args: str, archive_args: bool = True):
        extra = ["--db", db_path, "--store", store_path] if archive_args else []
        return runner.invoke(main, [*extra, *args], catch_exceptions=False)

    run.db_path, run.store_path = db_path, store_path
    return run


def corpus_missing(reason: str) -> None:
    """A test that needs ../shared/corpus and cannot find it: a failure in CI (which always has the
    corpus, so its absence is a broken checkout, not a reason to pass), a skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have the shared corpus; set SHARED_CORPUS to its folder)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        corpus_missing(f"shared corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium for a module of real-browser tests (tests/browser_support.py). Per module,
    not per session: Playwright's sync API holds an event loop that async tests must not meet."""
    from browser_support import chromium

    with chromium() as b:
        yield b
