"""The public copy (catalogue/public_copy.py) over real SQLite files: what it holds, and that following the
catalogue's publish_log step by step gives exactly the file a fresh `publish()` writes.

The catalogue is built by the project's own ingest (four photos: two in London, one in Ljubljana
that an archivist withholds in some tests, one in Paris; a registered demonstration in Brussels,
which no photo is of). Each test works on its own copy of it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.corrections import apply_changes, edit_demonstration, merge_demonstrations, parse_changes
from ingest.catalogue.public_copy import PublicCopy, publish
from ingest.catalogue.registry import upsert_demo
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store

LONDON_A, LONDON_B = (51.504517, -0.126373), (51.500952, -0.124683)
LJUBLJANA = (46.048219, 14.508846)
PARIS = (48.853012, 2.349903)
MUNICH = (48.137154, 11.575382)
MARK = "zqxw"


def _exif(when: str, gps: tuple[float, float]) -> dict:
    return {"DateTimeOriginal": when, "OffsetTimeOriginal": "+00:00", "GPSLatitude": gps[0], "GPSLongitude": gps[1],
            "Make": "Canon", "Model": "EOS R6"}


PHOTOS = {
    "london-a.jpg": (_exif("2024:11:02 14:30:12", LONDON_A),
                     {"dc:title": "Ceasefire march", "dc:creator": "Olena Kovalenko",
                      "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"}),
    "london-b.jpg": (_exif("2024:11:02 15:10:00", LONDON_B),
                     {"dc:title": "Vigil at Parliament Square", "dc:subject": ["vigil", "candles"]}),
    "ljubljana.jpg": (_exif("2024:06:01 11:00:00", LJUBLJANA),
                      {"dc:title": f"{MARK}title barricade", "dc:description": f"{MARK}caption kettled",
                       "dc:creator": f"{MARK}creator Hidden", "dc:subject": [f"{MARK}keyword", "blockade"]}),
    "paris.jpg": (_exif("2024:06:01 12:00:00", PARIS), {"dc:title": "Paris rally", "dc:creator": "Zoë Müller"}),
}


@pytest.fixture(scope="module")
def base_catalogue(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("publish")
    for seed, (name, (exif, xmp)) in enumerate(PHOTOS.items()):
        make_photo(base / "card" / name, width=320, height=240, seed=seed, exif=exif, xmp=xmp)
    db = connect(base / "gallery.db")
    try:
        upsert_demo(db, {"name": "Brussels demonstration", "city": "Brussels", "country_code": "BE", "date": "2025-05"})
        summary = run_ingest(db, Store(base / "archive"), [str(base / "card")], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
        assert (summary.imported, summary.problems) == (4, 0)
    finally:
        db.conn.close()
    return base / "gallery.db"


class Archive:
    """A test's own catalogue (a copy of the module's) and a public copy that follows it."""

    def __init__(self, base_catalogue: Path, folder: Path):
        self.folder = folder
        self.path = folder / "gallery.db"
        src, dst = sqlite3.connect(base_catalogue), sqlite3.connect(self.path)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        self.db = connect(self.path, create=False)
        self.copy = PublicCopy(self.path, folder / "public.db")
        self.fresh_count = 0

    def close(self) -> None:
        self.copy.close()
        self.db.conn.close()

    def sql(self, statement: str, params=()) -> None:
        self.db.conn.execute(statement, params)

    def one(self, statement: str, params=()):
        return self.db.conn.execute(statement, params).fetchone()

    def photo_id(self, name: str) -> int:
        return self.one("SELECT id FROM photos WHERE original_filename = ?", [name])[0]

    def city_id(self, name: str) -> int:
        return self.one("SELECT id FROM cities WHERE name = ?", [name])[0]

    def fresh(self) -> Path:
        """A public copy written from scratch, now."""
        self.fresh_count += 1
        out = self.folder / f"fresh-{self.fresh_count}.db"
        publish(self.path, out)
        return out

    def words(self) -> set[str]:
        """Every word of every photo's searchable text, withheld ones included."""
        text = " ".join(" ".join(str(v) for v in r if v) for r in self.db.conn.execute(
            "SELECT title, caption, creator, keywords FROM photos"))
        return {w.lower() for w in re.findall(r"[^\W_]+", text)}


@pytest.fixture
def archive(base_catalogue, tmp_path):
    a = Archive(base_catalogue, tmp_path)
    yield a
    a.close()


def dump(path: Path, words: set[str]) -> dict:
    """Everything a visitor can read from a public copy, in a comparable form."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'photos_fts%' "
                                             "AND name NOT LIKE 'photo_search%'")]
        out: dict = {"schema": sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"),
                                      key=repr)}
        for table in tables:
            # publish_state's `built` is a token each whole build draws (a new version for caches)
            cur = conn.execute(f"SELECT * FROM [{table}]" + (" WHERE key != 'built'" if table == "publish_state" else ""))
            out[table] = ([d[0] for d in cur.description], sorted(cur.fetchall(), key=repr))
        out["photos_fts"] = sorted(conn.execute("SELECT rowid, * FROM photos_fts"), key=repr)
        # The search index (catalogue/search.py): its rows, and its words' postings, not its b-tree bytes.
        out["photo_search"] = sorted(conn.execute("SELECT rowid, * FROM photo_search"), key=repr)
        conn.execute("CREATE VIRTUAL TABLE temp.search_vocab USING fts5vocab(main, photo_search, instance)")
        out["photo_search words"] = sorted(conn.execute("SELECT * FROM temp.search_vocab"), key=repr)
        for word in sorted(words):
            out[f"match {word}"] = [r[0] for r in conn.execute(
                "SELECT rowid FROM photos_fts WHERE photos_fts MATCH ? ORDER BY rowid", [f'"{word}"'])]
        # The index agrees with its content table (an external-content FTS5 table can silently drift).
        conn.execute("INSERT INTO photos_fts (photos_fts, rank) VALUES ('integrity-check', 1)")
        conn.execute("INSERT INTO photo_search (photo_search, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()
    return out


def assert_same(archive: Archive, label: str) -> None:
    words = archive.words()
    fresh, followed = dump(archive.fresh(), words), dump(archive.copy.path, words)
    assert fresh.keys() == followed.keys(), label
    for key in fresh:
        assert followed[key] == fresh[key], f"after {label}: {key} differs from a fresh publish"


def public_rows(path: Path, sql: str, params=()) -> list:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- the steps an archive goes through

def step_insert(a: Archive) -> None:
    """A new import: a photo in a city and on a day the archive did not have."""
    make_photo(a.folder / "new" / "munich.jpg", width=320, height=240, seed=40,
               exif=_exif("2025:03:15 13:00:00", MUNICH), xmp={"dc:title": "Munich march", "dc:subject": ["bavaria"]})
    summary = run_ingest(a.db, Store(a.folder / "archive"), [str(a.folder / "new")], Options(licence="CC0-1.0"), publish=True)
    assert summary.imported == 1


def step_update_sql(a: Archive) -> None:
    a.sql("UPDATE photos SET title = 'Ceasefire march, Whitehall', keywords = '[\"whitehall\"]' WHERE id = ?",
          [a.photo_id("london-a.jpg")])


def step_correct(a: Archive) -> None:
    """An archivist's corrections (audited), including the licence, which changes the permissions."""
    pid = a.photo_id("london-b.jpg")
    apply_changes(a.db, [pid], parse_changes(a.db, {"caption": "Candles for the dead", "creator": "Ann Other",
                                                      "licence": "CC-BY-NC-4.0"}), who="tester", via="cli")


def step_withhold(a: Archive) -> None:
    apply_changes(a.db, [a.photo_id("ljubljana.jpg")], parse_changes(a.db, {"withheld": "yes"}),
                  who="tester", via="cli")


def step_withhold_sql(a: Archive) -> None:
    a.sql("UPDATE photos SET withheld = 1 WHERE id = ?", [a.photo_id("paris.jpg")])


def step_unwithhold(a: Archive) -> None:
    a.sql("UPDATE photos SET withheld = 0 WHERE id = ?", [a.photo_id("paris.jpg")])


def step_demonstrations(a: Archive) -> None:
    """Name the London group, register a march in Ljubljana, move Paris into a new registry entry."""
    london = a.one("SELECT demonstration_id FROM photos WHERE original_filename = 'london-a.jpg'")[0]
    edit_demonstration(a.db, london, {"name": "National march for a ceasefire"}, who="tester", via="cli")
    upsert_demo(a.db, {"name": "Ljubljana solidarity march", "city": "Ljubljana", "country_code": "SI",
                       "date": "2024-06-02"})
    paris = a.one("SELECT demonstration_id FROM photos WHERE original_filename = 'paris.jpg'")[0]
    keep, _ = upsert_demo(a.db, {"name": "Paris rally for peace", "city": "Paris", "country_code": "FR",
                                 "date": "2024-06-03"})
    merge_demonstrations(a.db, keep, paris, who="tester", via="cli", override=True)  # another day, on purpose


def step_city_rename(a: Archive) -> None:
    a.sql("UPDATE cities SET name = 'City of Paris' WHERE name = 'Paris'")


def step_settings(a: Archive) -> None:
    a.sql("INSERT INTO settings (key, value) VALUES ('default-licence', 'CC-BY-SA-4.0')")


def step_location(value: str | None):
    def step(a: Archive) -> None:
        if value is None:
            a.sql("DELETE FROM settings WHERE key = 'public-location'")
        else:
            a.sql("INSERT INTO settings (key, value) VALUES ('public-location', ?) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [value])
    step.__name__ = f"step_location_{value}"
    return step


def step_licence_row(a: Archive) -> None:
    """A licence the generated catalogue lacks (editing a generated row would be undone by the next
    connect(), which re-seeds the catalogue), and a photo under it."""
    a.sql("INSERT INTO licences (id, name, url, is_cc, allows_commercial, allows_adaptations, share_alike, "
          "attribution_required, commons_compatible) VALUES ('LicenseRef-press-pool', 'Press pool licence', "
          "'https://example.org/pool', 0, 0, 0, 0, 1, 0)")
    a.sql("UPDATE photos SET licence_id = 'LicenseRef-press-pool' WHERE id = ?", [a.photo_id("paris.jpg")])


def step_delete(a: Archive) -> None:
    """A photo removed from the catalogue altogether (with its private rows)."""
    pid = a.photo_id("london-b.jpg")
    with a.db.conn:
        for table in ("photo_sources", "metadata", "corrections", "edits"):
            a.sql(f"DELETE FROM {table} WHERE photo_id = ?", [pid])
        a.sql("DELETE FROM photos WHERE id = ?", [pid])


STEPS = [step_insert, step_update_sql, step_correct, step_withhold, step_withhold_sql, step_demonstrations,
         step_unwithhold, step_city_rename, step_settings, step_location("exact"), step_update_sql,
         step_location("none"), step_withhold_sql, step_location(None), step_licence_row, step_delete]


# ---------------------------------------------------------------- tests

def test_incremental_refresh_equals_a_fresh_publish_after_every_step(archive):
    archive.copy.refresh()
    assert_same(archive, "the first publish")
    for step in STEPS:
        step(archive)
        archive.copy.refresh()
        assert_same(archive, step.__name__)


def test_incremental_refresh_equals_a_fresh_publish_after_many_steps_at_once(archive):
    archive.copy.refresh()
    for step in STEPS[:8]:  # photos, corrections, withholding, registry and city edits: no rebuild among them
        step(archive)
    archive.copy.refresh()
    assert_same(archive, "steps 1-8 in one refresh")
    for step in STEPS[8:]:
        step(archive)
    archive.copy.refresh()
    assert_same(archive, "the remaining steps in one refresh")


def test_incremental_refresh_republishes_only_what_changed(archive):
    archive.copy.refresh()
    step_update_sql(archive)
    assert archive.copy.refresh() == 1
    step_withhold(archive)
    assert archive.copy.refresh() == 1
    assert_same(archive, "two single-photo changes")


def test_city_coordinate_edit_reaches_its_photos(archive):
    archive.copy.refresh()
    london = archive.city_id("London")
    archive.sql("UPDATE cities SET latitude = 51.5074, longitude = -0.1278 WHERE id = ?", [london])
    archive.copy.refresh()
    rows = public_rows(archive.copy.path, "SELECT DISTINCT latitude, longitude FROM photos WHERE city_id = ?", [london])
    assert rows == [(51.5074, -0.1278)]
    assert_same(archive, "a city's coordinates edited")


def test_a_pruned_log_gap_rebuilds(archive):
    archive.copy.refresh()
    last = int(public_rows(archive.copy.path, "SELECT value FROM publish_state WHERE key = 'seq'")[0][0])
    step_update_sql(archive)                      # london-a: its log entries are pruned below
    archive.sql("UPDATE photos SET caption = 'Later change' WHERE id = ?", [archive.photo_id("paris.jpg")])
    gap = archive.one("SELECT min(seq) FROM publish_log WHERE seq > ? AND item = ?",
                      [last, f"photo:{archive.photo_id('paris.jpg')}"])[0]
    assert archive.one("SELECT count(*) FROM publish_log WHERE seq > ? AND seq < ?", [last, gap])[0] >= 1
    archive.sql("DELETE FROM publish_log WHERE seq > ? AND seq < ?", [last, gap])
    public = archive.one("SELECT count(*) FROM photos WHERE withheld = 0")[0]
    assert archive.copy.refresh() == public       # a rebuild republishes every public photo
    titles = public_rows(archive.copy.path, "SELECT title FROM photos WHERE id = ?", [archive.photo_id("london-a.jpg")])
    assert titles == [("Ceasefire march, Whitehall",)], "the change whose log entry was pruned is published"
    assert_same(archive, "a gap in the log")


def test_an_emptied_log_rebuilds(archive):
    archive.copy.refresh()
    step_withhold_sql(archive)
    archive.sql("DELETE FROM publish_log")        # everything pruned: only sqlite_sequence remembers
    public = archive.one("SELECT count(*) FROM photos WHERE withheld = 0")[0]
    assert archive.copy.refresh() == public
    assert public_rows(archive.copy.path, "SELECT count(*) FROM photos WHERE original_filename = 'paris.jpg'") == [(0,)]
    assert_same(archive, "an emptied log")


def test_pruning_behind_the_copy_needs_no_rebuild(archive):
    archive.copy.refresh()
    last = int(public_rows(archive.copy.path, "SELECT value FROM publish_state WHERE key = 'seq'")[0][0])
    archive.sql("DELETE FROM publish_log WHERE seq <= ?", [last])   # ordinary pruning: all already applied
    step_withhold_sql(archive)
    assert archive.copy.refresh() == 1
    assert_same(archive, "pruning behind the copy")


def test_groups_and_cities_of_withheld_photos_only_are_absent(archive):
    archive.copy.refresh()
    ljubljana = archive.city_id("Ljubljana")
    group = archive.one("SELECT demonstration_id FROM photos WHERE original_filename = 'ljubljana.jpg'")[0]
    assert archive.one("SELECT provisional FROM demonstrations WHERE id = ?", [group]) == (1,)
    path = archive.copy.path
    assert public_rows(path, "SELECT name, photo_count FROM cities WHERE id = ?", [ljubljana]) == [("Ljubljana", 1)]
    assert public_rows(path, "SELECT count(*) FROM demonstrations WHERE id = ?", [group]) == [(1,)]

    step_withhold(archive)
    archive.copy.refresh()
    for copy in (archive.copy.path, archive.fresh()):
        assert public_rows(copy, "SELECT * FROM cities WHERE id = ? OR name = 'Ljubljana'", [ljubljana]) == []
        assert public_rows(copy, "SELECT * FROM demonstrations WHERE id = ? OR city_id = ?", [group, ljubljana]) == []
        assert public_rows(copy, "SELECT * FROM photos WHERE city_id = ? OR demonstration_id = ?",
                           [ljubljana, group]) == []
        # A registry entry stays public with its city, photos or not (Brussels has none) ...
        assert public_rows(copy, "SELECT d.name, c.name, d.photo_count FROM demonstrations d JOIN cities c "
                                 "ON c.id = d.city_id WHERE d.provisional = 0") == [
            ("Brussels demonstration", "Brussels", 0)]
        # ... and provisional groups with a public photo stay, counted by public photos only.
        assert sorted(public_rows(copy, "SELECT c.name, d.photo_count FROM demonstrations d JOIN cities c "
                                        "ON c.id = d.city_id WHERE d.provisional = 1")) == [("London", 2), ("Paris", 1)]
    step_withhold_sql(archive)                   # Paris too: its group and its city go
    archive.copy.refresh()
    assert public_rows(archive.copy.path, "SELECT name FROM cities ORDER BY name") == [("Brussels",), ("London",)]
    archive.sql("UPDATE photos SET withheld = 0")   # both back
    archive.copy.refresh()
    assert public_rows(archive.copy.path, "SELECT name FROM cities ORDER BY name") == [
        ("Brussels",), ("Ljubljana",), ("London",), ("Paris",)]
    assert_same(archive, "withheld and back")


def test_search_does_not_find_withheld_text(archive):
    archive.copy.refresh()
    match = "SELECT rowid FROM photos_fts WHERE photos_fts MATCH ?"
    pid = archive.photo_id("ljubljana.jpg")
    for word in (f"{MARK}title", f"{MARK}caption", f"{MARK}creator", f"{MARK}keyword", "barricade", "kettled"):
        assert public_rows(archive.copy.path, match, [word]) == [(pid,)], word   # public: found
    step_withhold(archive)
    archive.copy.refresh()
    for copy in (archive.copy.path, archive.fresh()):
        for word in (f"{MARK}title", f"{MARK}caption", f"{MARK}creator", f"{MARK}keyword", "barricade", "kettled",
                     f"{MARK}*", "hidden", "blockade"):
            assert public_rows(copy, match, [word]) == [], (copy.name, word)
        assert public_rows(copy, "SELECT count(*) FROM photos_fts") == [(3,)]
        assert public_rows(copy, "SELECT count(*) FROM photos WHERE title LIKE ? OR caption LIKE ? OR creator LIKE ? "
                                 "OR keywords LIKE ?", [f"%{MARK}%"] * 4) == [(0,)]


def _every_table_text(path: Path) -> str:
    """All a SQL query can read from a public copy: every table, shadow tables and BLOBs included."""
    conn = sqlite3.connect(path)
    try:
        out = []
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in conn.execute(f"SELECT * FROM [{table}]"):
                out += [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row]
        return "\n".join(out).lower()
    finally:
        conn.close()


def test_a_copy_published_after_withholding_holds_no_trace(archive):
    step_withhold(archive)
    text = _every_table_text(archive.fresh())
    assert MARK not in text and "barricade" not in text and "ljubljana" not in text


def test_withholding_a_published_photo_leaves_no_trace_in_any_table(archive):
    archive.copy.refresh()
    step_withhold(archive)
    archive.copy.refresh()
    text = _every_table_text(archive.copy.path)
    assert [w for w in (MARK, "barricade", "kettled", "blockade") if w in text] == []


def test_refresh_is_a_no_op_when_nothing_changed(archive):
    assert archive.copy.refresh() == archive.one("SELECT count(*) FROM photos")[0]   # first: a full publish
    writes = archive.copy.conn.total_changes
    assert archive.copy.refresh() == 0
    assert archive.copy.refresh() == 0
    assert archive.copy.conn.total_changes == writes
    # Opening the catalogue (migrations, licence seeding) changes nothing the copy must follow.
    connect(archive.path, create=False).conn.close()
    PublicCopy(archive.path, archive.folder / "other.db").close()
    assert archive.copy.refresh() == 0
    assert archive.copy.conn.total_changes == writes
    # A write that changes nothing public still advances the log: one photo republished, same content.
    archive.sql("UPDATE photos SET review_reason = 'private note' WHERE id = ?", [archive.photo_id("paris.jpg")])
    assert archive.copy.refresh() == 1
    assert archive.copy.refresh() == 0


def test_opening_the_catalogue_writes_nothing_to_publish_log(archive):
    def state():
        return (archive.one("SELECT count(*), max(seq) FROM publish_log"),
                archive.one("SELECT seq FROM sqlite_sequence WHERE name = 'publish_log'"),
                archive.one("PRAGMA user_version"))

    before = state()
    for _ in range(3):
        connect(archive.path, create=False).conn.close()
    connect(archive.path).conn.close()
    assert state() == before


def test_publish_returns_the_public_count_and_is_idempotent(archive, tmp_path):
    out = tmp_path / "out" / "public.db"
    out.parent.mkdir()
    assert publish(archive.path, out) == 4
    step_withhold(archive)
    assert publish(archive.path, out) == 3       # an existing copy is brought up to date
    assert publish(archive.path, out) == 3
    words = archive.words()
    assert dump(out, words) == dump(archive.fresh(), words)


@pytest.mark.parametrize("setting,expected", [
    ("exact", {"london-a.jpg": LONDON_A, "paris.jpg": PARIS}),
    ("city", {"london-a.jpg": (51.50853, -0.12574), "paris.jpg": (48.85341, 2.3488)}),
    ("none", {"london-a.jpg": (None, None), "paris.jpg": (None, None)}),
    ("bogus", {"london-a.jpg": (51.50853, -0.12574), "paris.jpg": (48.85341, 2.3488)}),   # unknown: the default
])
def test_location_setting(archive, setting, expected):
    archive.sql("INSERT INTO settings (key, value) VALUES ('public-location', ?)", [setting])
    archive.copy.refresh()
    rows = dict((r[0], (r[1], r[2])) for r in public_rows(
        archive.copy.path, "SELECT original_filename, latitude, longitude FROM photos"))
    cities = dict(public_rows(archive.copy.path, "SELECT name, latitude IS NOT NULL AND longitude IS NOT NULL "
                                                 "FROM cities"))
    for name, where in expected.items():
        assert rows[name] == where, (setting, name)
    sources = {r[0] for r in public_rows(archive.copy.path, "SELECT location_source FROM photos")}
    assert sources == {"exact": {"gps"}, "none": {None}}.get(setting, {"city"})
    assert all(cities.values())


def test_catalogue_and_public_copy_index_the_same_words(tmp_path):
    """One FTS definition: migration 1 made the catalogue's, the public copy builds its own from
    schema.photos_fts_sql; both must index the same columns with the same tokenizer."""
    import re
    import sqlite3

    from ingest.catalogue.public_copy import publish
    from ingest.catalogue.schema import FTS_COLUMNS, FTS_TOKENIZER

    catalogue = tmp_path / "gallery.db"
    connect(catalogue).conn.close()
    publish(catalogue, tmp_path / "public.db")
    for path in (catalogue, tmp_path / "public.db"):
        conn = sqlite3.connect(path)
        sql = " ".join(conn.execute("SELECT sql FROM sqlite_master WHERE name = 'photos_fts'").fetchone()[0].split())
        columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(photos_fts)"))
        conn.close()
        assert columns == FTS_COLUMNS, path
        assert re.search(r'tokenize="([^"]+)"', sql).group(1) == FTS_TOKENIZER, path


# ---------------------------------------------------------------- rendition tokens (migration 14)

def _public_rendition(path: Path, photo_id: int) -> str | None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT rendition FROM photos WHERE id = ?", [photo_id]).fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def test_a_photo_gets_a_new_rendition_token_whenever_its_public_rendition_may_change(archive):
    """Every photo has a token; editing its text keeps it; withholding, publishing again and a new
    orientation each give a new one, whoever writes (plain SQL here), and the public copy carries
    the current token only."""
    pid = archive.photo_id("paris.jpg")
    token = lambda: archive.one("SELECT rendition FROM photos WHERE id = ?", [pid])[0]  # noqa: E731
    tokens = [r[0] for r in archive.db.conn.execute("SELECT rendition FROM photos")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in tokens) and len(set(tokens)) == len(tokens)
    first = token()
    archive.copy.refresh()
    assert _public_rendition(archive.copy.path, pid) == first
    archive.sql("UPDATE photos SET title = 'Paris rally, renamed' WHERE id = ?", [pid])
    assert token() == first                                  # the pixels did not change: nor does the URL
    seen = {first}
    for statement in ("UPDATE photos SET withheld = 1 WHERE id = ?", "UPDATE photos SET withheld = 0 WHERE id = ?",
                      "UPDATE photos SET orientation = 6 WHERE id = ?"):
        archive.sql(statement, [pid])
        assert token() not in seen, statement
        seen.add(token())
        archive.copy.refresh()
        public = _public_rendition(archive.copy.path, pid)
        assert public == (None if "withheld = 1" in statement else token()), statement
    assert _public_rendition(archive.fresh(), pid) == token()


def test_a_row_inserted_by_plain_sql_gets_its_derived_columns_in_one_write(archive):
    """Migration 21: whoever inserts a photo, what its licence allows, its year, state and rendition
    are set by one UPDATE (the publish log notes it twice, not six times), and the public copy
    shows it; a write that sets a rendition itself while the file changes keeps that (new) token,
    and one that does not gets a new one."""
    before = archive.one("SELECT max(seq) FROM publish_log")[0]
    archive.sql("INSERT INTO photos (sha256, date, licence_id, creator, faces_shown, imported_at, updated_at) "
                "VALUES (?, '2024-06-01', 'CC-BY-NC-4.0', 'Zoë Müller', 1, 'now', 'now')", ["f" * 64])
    pid, year, commercial, adaptations, state, token = archive.one(
        "SELECT id, year, allows_commercial, allows_adaptations, state, rendition FROM photos WHERE sha256 = ?", ["f" * 64])
    assert (year, commercial, adaptations, state) == (2024, 0, 1, "public")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    logged = [r[0] for r in archive.db.conn.execute("SELECT item FROM publish_log WHERE seq > ?", [before])]
    assert logged == [f"photo:{pid}"] * 2
    archive.copy.refresh()
    assert _public_rendition(archive.copy.path, pid) == token
    archive.sql("UPDATE photos SET sha256 = ?, rendition = ? WHERE id = ?", ["e" * 64, "ab" * 16, pid])
    assert archive.one("SELECT rendition FROM photos WHERE id = ?", [pid])[0] == "ab" * 16
    archive.sql("UPDATE photos SET sha256 = ? WHERE id = ?", ["d" * 64, pid])
    assert archive.one("SELECT rendition FROM photos WHERE id = ?", [pid])[0] not in (token, "ab" * 16)
    archive.sql("UPDATE photos SET licence_id = NULL WHERE id = ?", [pid])
    assert archive.one("SELECT allows_commercial, state FROM photos WHERE id = ?", [pid]) == (None, "pending")


def test_an_imported_photo_is_written_once_with_its_derived_columns(tmp_path):
    """Ingest's own insert brings the derived columns right (record.py, by the schema's expressions):
    the insert trigger has nothing to redo, so the photo is logged for the public copy once; the
    values are the ones the trigger derives for a plain-SQL insert of the same row."""
    make_photo(tmp_path / "card" / "paris.jpg", width=320, height=240, seed=1, exif=PHOTOS["paris.jpg"][0],
               xmp=PHOTOS["paris.jpg"][1])
    db = connect(tmp_path / "gallery.db")
    try:
        summary = run_ingest(db, Store(tmp_path / "archive"), [str(tmp_path / "card")], Options(licence="CC-BY-SA-4.0"),
                             detect_faces=False)
        assert summary.imported == 1
        columns = "licence_id, creator, date, pending, withheld, faces_shown, faces_status"
        derived = "allows_commercial, allows_adaptations, share_alike, commons_compatible, year, state"
        pid, *row = db.conn.execute(f"SELECT id, {columns}, {derived}, rendition FROM photos").fetchone()
        assert [r[0] for r in db.conn.execute("SELECT item FROM publish_log WHERE item LIKE 'photo:%'")] == [f"photo:{pid}"]
        assert row[7:] == [1, 1, 1, 1, 2024, "pending", row[-1]] and re.fullmatch(r"[0-9a-f]{32}", row[-1])
        db.conn.execute(f"INSERT INTO photos (sha256, imported_at, updated_at, {columns}) VALUES ({', '.join('?' * 10)})",
                        ["c" * 64, "now", "now", *row[:7]])
        assert list(db.conn.execute(f"SELECT {derived} FROM photos WHERE sha256 = ?", ["c" * 64]).fetchone()) == row[7:13]
    finally:
        db.conn.close()


def test_a_public_copy_written_before_rendition_tokens_is_rebuilt(archive):
    """A copy `ingest publish` wrote with an older version (no rendition column) is built again whole."""
    archive.copy.refresh()
    conn = sqlite3.connect(archive.copy.path)
    try:  # what an older version's photos table looked like, as far as the columns go
        conn.execute("ALTER TABLE photos RENAME COLUMN rendition TO was_rendition")
        conn.commit()
    finally:
        conn.close()
    archive.sql("UPDATE photos SET title = 'Paris rally, renamed' WHERE id = ?", [archive.photo_id("paris.jpg")])
    archive.copy.refresh()
    conn = sqlite3.connect(archive.copy.path)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(photos)")]
        count = conn.execute("SELECT count(*) FROM photos WHERE rendition IS NOT NULL").fetchone()[0]
    finally:
        conn.close()
    assert "rendition" in columns and "was_rendition" not in columns
    assert count == archive.one("SELECT count(*) FROM photos WHERE withheld = 0")[0]
