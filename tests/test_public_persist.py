"""The public copy that persists beside its catalogue (gallery.public.db, web/serving.open_copy): a
restart applies only what changed while the server was down, and checks the copy against the
catalogue; a copy that disagrees, has another layout or follows another catalogue is built whole; a
kill mid-refresh leaves a consistent copy; a withdrawal made while the server was down is gone
before the first request is answered. Real SQLite files, the project's own ingest (test_publish's
catalogue), real Datasette.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import COUNT, row_count
from test_publish import MARK, Archive, base_catalogue, dump  # noqa: F401 (base_catalogue: a fixture)

from ingest.catalogue.public_copy import (
    PublicCopy,
    disagreements,
    persisted_path,
    publish,
)
from ingest.web import counts, serving
from ingest.web.compat import datasette_options
from ingest.web.counts import PublicDatabase
from ingest.web.serving import open_copy

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def archive(base_catalogue, tmp_path):  # noqa: F811
    a = Archive(base_catalogue, tmp_path)
    a.copy.close()  # these tests open the persisted copy themselves
    a.copy = PublicCopy(a.path, tmp_path / "unused.db")
    yield a
    a.close()


def _reopen(a: Archive) -> PublicCopy:
    copy, folder = open_copy(str(a.path))
    assert folder is None and copy.path == persisted_path(a.path)
    return copy


def _same_as_fresh(a: Archive, copy: PublicCopy) -> None:
    words = a.words()
    assert dump(copy.path, words) == dump(a.fresh(), words)


def _raw_index(path: Path) -> bytes:
    """Every byte of the public copy's FTS5 shadow tables, as a visitor's SQL reads them."""
    conn = sqlite3.connect(path)
    try:
        out = []
        for table in ("photos_fts_data", "photos_fts_idx", "photo_search_data", "photo_search_idx"):
            for row in conn.execute(f"SELECT * FROM [{table}]"):
                out += [v if isinstance(v, bytes) else str(v).encode() for v in row]
        return b"\n".join(out).lower()
    finally:
        conn.close()


def test_the_copy_persists_beside_the_catalogue_and_a_restart_only_applies_changes(archive):
    a = archive
    first = _reopen(a)
    assert first.rebuilt and persisted_path(a.path) == a.folder / "gallery.public.db"
    first.close()
    # While the server is down: an archivist withholds a photo and fixes another's title.
    hidden, fixed = a.photo_id("ljubljana.jpg"), a.photo_id("paris.jpg")
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [hidden])
    a.sql("UPDATE photos SET title = 'Paris rally, Place de la Republique' WHERE id = ?", [fixed])
    copy = _reopen(a)
    try:
        assert not copy.rebuilt and copy.problems == []
        assert copy.conn.execute("SELECT count(*) FROM photos WHERE id = ?", [hidden]).fetchone()[0] == 0
        assert copy.conn.execute("SELECT count(*) FROM photo_search WHERE photo_search MATCH ?",
                                 [f'"{MARK}keyword"']).fetchone()[0] == 0
        # The merge of the words that left is the serving thread's, after the first answer, as after
        # any withdrawal while it runs (serving.py): owed until then.
        assert copy.conn.execute("SELECT value FROM publish_state WHERE key = 'merge'").fetchone() == ("1",)
        copy.follow()
        assert MARK.encode() not in _raw_index(copy.path)  # its words left the index's data too
        _same_as_fresh(a, copy)
        # Nothing changed since: the next start does no work at all.
        assert copy.refresh(check=True) == 0 and not copy.rebuilt
    finally:
        copy.close()


@pytest.mark.parametrize("damage", ["extra row", "missing row", "stale token", "missing city", "version", "log back"])
def test_a_copy_that_disagrees_with_its_catalogue_is_built_again(archive, damage):
    a = archive
    _reopen(a).close()
    public = sqlite3.connect(persisted_path(a.path), isolation_level=None)
    london = a.photo_id("london-a.jpg")
    if damage == "extra row":  # a row the catalogue does not publish (say, a photo withheld since)
        public.execute("INSERT INTO photos (id, sha256, rendition) VALUES (999, 'x', 'y')")
    elif damage == "missing row":
        public.execute("DELETE FROM photos WHERE id = ?", [london])
    elif damage == "stale token":  # withheld and published again while the copy missed it
        public.execute("UPDATE photos SET rendition = '0' || rendition WHERE id = ?", [london])
    elif damage == "missing city":
        public.execute("DELETE FROM cities WHERE name = 'Paris'")
    elif damage == "version":  # written by another version of the code
        public.execute("UPDATE publish_state SET value = 'older' WHERE key = 'version'")
    elif damage == "log back":  # the catalogue was restored from a backup older than the copy
        public.execute("UPDATE publish_state SET value = value + 1000 WHERE key = 'seq'")
    public.close()
    copy = _reopen(a)
    try:
        # Before the first answer: the log, and public photo counts (a row too many or too few).
        found, rebuilt = copy.problems, copy.rebuilt
        assert bool(found) == (damage in ("extra row", "missing row"))
        copy.refresh(check=True, merge=False)  # after it, the serving thread's full check (serving.check)
        found, rebuilt = found + copy.problems, rebuilt or copy.rebuilt
        assert rebuilt
        assert (found != []) == (damage in ("extra row", "missing row", "stale token", "missing city"))
        assert disagreements(copy.conn) == []
        _same_as_fresh(a, copy)
    finally:
        copy.close()


def test_publish_rebuild_builds_the_copy_whole(archive):
    a = archive
    out = a.folder / "gallery.public.db"
    publish(a.path, out)
    copy = PublicCopy(a.path, out)
    try:
        assert copy.refresh(check=True) == 0 and not copy.rebuilt
        assert copy.refresh(rebuild=True) == len(a.db.conn.execute(
            "SELECT id FROM photos WHERE state = 'public'").fetchall()) and copy.rebuilt
    finally:
        copy.close()


def test_a_damaged_file_is_started_again(archive):
    a = archive
    persisted_path(a.path).write_bytes(b"not a database at all" * 100)
    copy = _reopen(a)
    try:
        assert copy.rebuilt and disagreements(copy.conn) == []
    finally:
        copy.close()


_KEEP_REBUILDING = """
import sys
from ingest.catalogue.public_copy import PublicCopy
copy = PublicCopy(sys.argv[1], sys.argv[2])
print("ready", flush=True)
while True:
    copy.refresh(rebuild=True)
"""


def test_killed_mid_refresh_leaves_a_consistent_copy(archive):
    """A writer rebuilding the copy in a loop (one transaction each) is killed with SIGKILL at
    varying moments; each time the file passes SQLite's integrity check and equals the catalogue."""
    a = archive
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [a.photo_id("ljubljana.jpg")])
    path = persisted_path(a.path)
    for delay in (0.05, 0.11, 0.23, 0.37):
        proc = subprocess.Popen([sys.executable, "-c", _KEEP_REBUILDING, str(a.path), str(path)],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        copy = PublicCopy(a.path, path)  # opening recovers the WAL; nothing refreshed yet
        try:
            assert copy.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            if copy.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'publish_state'").fetchone():
                assert disagreements(copy.conn) == []
                assert copy.conn.execute("INSERT INTO photos_fts (photos_fts, rank) VALUES ('integrity-check', 1)")
        finally:
            copy.close()
    copy = _reopen(a)
    try:
        _same_as_fresh(a, copy)
    finally:
        copy.close()


async def test_a_withdrawal_made_while_the_server_was_down_is_gone_before_the_first_answer(archive):
    a = archive
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(a.folder / "archive")}
    hidden = a.photo_id("ljubljana.jpg")
    ds = Datasette([str(a.path)], **datasette_options(metadata))
    assert (await ds.client.get(f"/gallery/photos/{hidden}.json")).status_code == 200
    token = (await ds.client.get(f"/gallery/photos/{hidden}.json?_shape=array")).json()[0]["rendition"]
    assert persisted_path(a.path).exists()
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [hidden])  # another process, say
    ds2 = Datasette([str(a.path)], **datasette_options(metadata))  # a restart on the persisted copy
    assert (await ds2.client.get(f"/gallery/photos/{hidden}.json")).status_code == 404
    assert (await ds2.client.get(f"/-/gallery/thumbs/{token}.jpg")).status_code == 404
    found = (await ds2.client.get(f"/gallery/photos.json?_search={MARK}keyword&_shape=array")).json()
    assert found == []


@pytest.mark.parametrize("edit", ["title", "keywords", "withhold", "demonstration name"])
def test_words_that_leave_the_copy_leave_the_indexes_raw_data(archive, edit):
    """Refresh merges the search indexes only when words leave (a withdrawal, an edit of the text),
    not when a photo comes back with the same words: either way, a word no public photo has any more
    is nowhere in the FTS5 shadow tables a visitor's SQL reads. (FTS5 stores a term after the
    one before it without their common prefix: the probes are words no other term starts like, or
    that sort first.)"""
    a = archive
    copy = _reopen(a)
    try:
        paris = a.photo_id("paris.jpg")
        demo = a.one("SELECT demonstration_id FROM photos WHERE id = ?", [paris])[0]
        if edit == "demonstration name":
            a.sql("UPDATE demonstrations SET name = 'Qqqjx assembly' WHERE id = ?", [demo])
        else:
            a.sql("UPDATE photos SET title = 'Qqqjx rally', keywords = '[\"aaaqz\"]' WHERE id = ?", [paris])
        copy.refresh()
        probe = b"aaaqz" if edit == "keywords" else b"qqqjx"
        assert probe in _raw_index(copy.path)  # the probe sees the index's words
        # A change that re-publishes the photo with the same words: nothing leaves, nothing to merge.
        a.sql("UPDATE photos SET licence_id = 'CC-BY-SA-4.0' WHERE id = ?", [paris])
        copy.refresh()
        assert probe in _raw_index(copy.path)
        if edit == "title":
            a.sql("UPDATE photos SET title = 'Paris rally' WHERE id = ?", [paris])
        elif edit == "keywords":
            a.sql("UPDATE photos SET keywords = NULL WHERE id = ?", [paris])
        elif edit == "withhold":
            a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [paris])
        else:
            a.sql("UPDATE demonstrations SET name = 'Paris assembly' WHERE id = ?", [demo])
        copy.refresh()
        assert probe not in _raw_index(copy.path)
        _same_as_fresh(a, copy)
    finally:
        copy.close()


def test_a_merge_owed_when_the_process_died_is_made_before_the_next_refresh_returns(archive):
    """The merge that drops withdrawn words from the indexes' data is its own transaction, after the
    one that took the row out; a process killed in between leaves it owed (publish_state). A restarted
    server answers first (the row is gone already) and its follow thread makes the merge; any
    other refresh makes it before it returns."""
    a = archive
    copy = _reopen(a)
    paris = a.photo_id("paris.jpg")
    a.sql("UPDATE photos SET title = 'Qqqjx rally' WHERE id = ?", [paris])
    copy.refresh()
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [paris])
    copy._merge = lambda conn: False  # dies right after the first transaction
    copy.refresh()
    copy.close()
    conn = sqlite3.connect(persisted_path(a.path))
    assert conn.execute("SELECT count(*) FROM photos WHERE id = ?", [paris]).fetchone()[0] == 0
    assert conn.execute("SELECT value FROM publish_state WHERE key = 'merge'").fetchone() == ("1",)
    conn.close()
    assert b"qqqjx" in _raw_index(persisted_path(a.path))  # marked gone, not yet dropped
    copy = _reopen(a)
    try:
        assert copy.conn.execute("SELECT value FROM publish_state WHERE key = 'merge'").fetchone() == ("1",)
        copy.follow()
        assert b"qqqjx" not in _raw_index(copy.path)
        assert copy.conn.execute("SELECT value FROM publish_state WHERE key = 'merge'").fetchone() is None
    finally:
        copy.close()
    a.sql("UPDATE photos SET withheld = 0 WHERE id = ?", [paris])
    copy = _reopen(a)
    copy.follow()
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [paris])
    copy._merge = lambda conn: False
    copy.refresh()
    copy.close()
    assert b"qqqjx" in _raw_index(persisted_path(a.path))
    copy = PublicCopy(a.path, persisted_path(a.path))
    try:
        copy.refresh()
        assert b"qqqjx" not in _raw_index(copy.path)
    finally:
        copy.close()


def test_following_merges_withdrawn_words_out_step_by_step(archive):
    """The serving thread's refresh (follow) takes the row out at once and merges the indexes a few
    pages per transaction: when it returns, the words are out of the raw data all the same."""
    a = archive
    copy = _reopen(a)
    try:
        paris = a.photo_id("paris.jpg")
        a.sql("UPDATE photos SET title = 'Qqqjx rally' WHERE id = ?", [paris])
        copy.follow(pages=1)
        assert b"qqqjx" in _raw_index(copy.path)
        a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [paris])
        copy.follow(pages=1)
        assert b"qqqjx" not in _raw_index(copy.path)
        assert copy.conn.execute("SELECT value FROM publish_state WHERE key = 'merge'").fetchone() is None
        _same_as_fresh(a, copy)
    finally:
        copy.close()


async def test_a_copy_the_deferred_check_finds_wrong_is_never_served_while_it_is_rebuilt(archive):
    """A start checks counts only; the full check runs after the first answer. A copy whose counts
    agree but whose ids do not (a withheld photo's id on a public photo's row) is found then, and
    from that moment every request is answered 503 until the copy is built again."""
    a = archive
    hidden, other = a.photo_id("ljubljana.jpg"), a.photo_id("paris.jpg")
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [hidden])
    _reopen(a).close()
    public = sqlite3.connect(persisted_path(a.path), isolation_level=None)
    public.execute("UPDATE photos SET id = ? WHERE id = ?", [hidden, other])  # same count, wrong ids
    public.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(a.folder / "archive")}
    ds = Datasette([str(a.path)], **datasette_options(metadata))
    await ds.invoke_startup()
    served, = serving.served(ds)
    assert not served.checked.is_set() and not served.wrong.is_set()
    found, release = threading.Event(), threading.Event()
    say = served.copy.on_problems

    def hold(problems):  # the rebuild waits until the test has seen the gate
        say(problems)
        found.set()
        release.wait(30)

    served.copy.on_problems = hold
    assert (await ds.client.get("/gallery/licences.json")).status_code == 200  # the first answer
    assert await asyncio.to_thread(found.wait, 30)
    for path in (f"/gallery/photos/{hidden}.json", "/gallery/photos.json", "/-/gallery/photos"):
        response = await ds.client.get(path)
        assert response.status_code == 503 and "rebuilt" in response.text
    release.set()
    assert await asyncio.to_thread(served.checked.wait, 30)
    assert not served.wrong.is_set()  # built again (the follow thread's next refresh may already have run)
    assert (await ds.client.get(f"/gallery/photos/{hidden}.json")).status_code == 404
    assert (await ds.client.get(f"/gallery/photos/{other}.json")).status_code == 200


async def test_counts_are_kept_per_copy_version_and_across_a_restart(archive):
    """Datasette's counts and facets over the public copy (web/counts.py) are kept while the copy
    stays the same, written beside it, read again by the next start of the same copy, and never
    answered for another version of it: a withdrawal counts again."""
    a = archive
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(a.folder / "archive")}

    async def count(ds) -> int:
        return row_count((await ds.client.get(f"/gallery/photos.json?_size=1&{COUNT}")).json())

    ds = Datasette([str(a.path)], **datasette_options(metadata))
    before = await count(ds)
    assert (await ds.client.get("/gallery/photos?_search=barricade")).status_code == 200
    db = ds.databases["gallery"]
    assert any("barricade" in params for _, _, params in db.kept)  # kept in memory
    assert isinstance(db, PublicDatabase) and any("count(*)" in sql for _, sql, _ in db.kept)
    for _ in range(100):  # written off the event loop
        if counts.path(persisted_path(a.path)).exists():
            break
        await asyncio.sleep(0.05)
    saved = json.loads(counts.path(persisted_path(a.path)).read_text())
    assert saved["answers"] and saved["version"] == counts.version(serving.served(ds)[0].copy.conn)
    assert "barricade" not in json.dumps(saved)  # what a visitor searched for is never written
    # A restart of the same copy answers from the file: its counts are kept before any query.
    ds2 = Datasette([str(a.path)], **datasette_options(metadata))
    await ds2.invoke_startup()
    assert ds2.databases["gallery"].kept and await count(ds2) == before
    # A withdrawal while it runs: a new version, counted again.
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [a.photo_id("paris.jpg")])
    serving.refresh_now(ds2)
    assert await count(ds2) == before - 1
    # And a restart after a withdrawal made while the server was down ignores the file's counts.
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [a.photo_id("ljubljana.jpg")])
    ds3 = Datasette([str(a.path)], **datasette_options(metadata))
    assert await count(ds3) == before - 2
