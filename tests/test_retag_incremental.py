"""`ingest retag` re-derives only what changed: photos whose facts or corrections changed, and the
candidates of a registry entry that changed (its day, its photos), noted by the catalogue's triggers
(schema._V19), whoever wrote. `ingest retag --all` keeps the full pass. Corrections still win."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.schema import connect
from ingest.importer.retag import pending

# Four photos in London (GPS): two on 2 November, one on 3 November, one on 9 November.
SHOTS = [("a", "2024:11:02 13:00:00"), ("b", "2024:11:02 14:00:00"), ("c", "2024:11:03 12:00:00"),
         ("d", "2024:11:09 15:00:00")]
REGISTRY = """\
- name: National march for a ceasefire
  city: London
  date: 2024-11-02
- name: Climate strike
  city: London
  date: 2024-11-09
"""


def query(db_path: str, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def write(db_path: str, sql: str, params=()) -> None:
    """An archivist's own SQL: the triggers note it like any other write."""
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def ids_by_file(db_path: str) -> dict[str, int]:
    return {name.split(".")[0]: pid for pid, name in query(db_path, "SELECT id, original_filename FROM photos")}


def to_rederive(db_path: str) -> set[int]:
    db = connect(db_path)
    try:
        return set(pending(db)[1])
    finally:
        db.conn.close()


def rederived(result) -> int:
    """The count `ingest retag` reports on stderr."""
    line = next(l for l in result.stderr.splitlines() if "re-derived" in l)
    return int(line.split()[0])


@pytest.fixture
def tagged(cli, tmp_path):
    """Four photos imported, the registry loaded and a first retag done: nothing left to do."""
    folder = tmp_path / "card"
    for i, (name, when) in enumerate(SHOTS):
        make_photo(folder / f"{name}.jpg", width=320, height=240, seed=40 + i,
                   exif={"DateTimeOriginal": when, "GPSLatitude": 51.5007, "GPSLongitude": -0.1246,
                         "Artist": "Machine Name"})
    assert cli(str(folder), "--licence", "CC-BY-4.0").exit_code == 0
    (tmp_path / "registry.yml").write_text(REGISTRY)
    assert cli("demos", "import", str(tmp_path / "registry.yml")).exit_code == 0
    first = cli("retag")
    assert first.exit_code == 0, first.output
    return cli


def test_an_import_leaves_its_photos_derived(cli, tmp_path):
    """An import derives its photos' tags from their facts: the next retag need not redo them."""
    make_photo(tmp_path / "in" / "x.jpg", width=320, height=240, seed=7,
               exif={"DateTimeOriginal": "2024:11:02 13:00:00", "Artist": "Machine Name"})
    assert cli(str(tmp_path / "in"), "--licence", "CC-BY-4.0").exit_code == 0
    assert query(cli.db_path, "SELECT item FROM retag_queue WHERE item LIKE 'photo:%'") == []
    result = cli("retag")
    assert result.exit_code == 0 and result.stdout.strip() == "0 of 1 photos changed"


def test_nothing_changed_rederives_no_photo(tagged):
    assert to_rederive(tagged.db_path) == set()
    result = tagged("retag")
    assert result.exit_code == 0
    assert result.stdout.strip() == "0 of 4 photos changed"
    assert rederived(result) == 0


def test_an_edited_registry_entry_rederives_only_its_candidates(tagged):
    ids = ids_by_file(tagged.db_path)
    (march,), = query(tagged.db_path, "SELECT id FROM demonstrations WHERE name LIKE 'National%'")
    # The march was on 3 November, not 2: its photos of 2 November and those of the 3rd are the
    # candidates; the climate strike's photo of 9 November is not.
    write(tagged.db_path, "UPDATE demonstrations SET date = '2024-11-03' WHERE id = ?", [march])
    assert to_rederive(tagged.db_path) == {ids["a"], ids["b"], ids["c"]}
    result = tagged("retag")
    assert result.exit_code == 0 and rederived(result) == 3, result.output
    tagged_with = dict(query(tagged.db_path, "SELECT id, demonstration_id FROM photos"))
    assert tagged_with[ids["c"]] == march
    assert tagged_with[ids["a"]] != march and tagged_with[ids["b"]] != march
    assert rederived(tagged("retag")) == 0


def test_changed_facts_rederive_only_that_photo(tagged):
    ids = ids_by_file(tagged.db_path)
    write(tagged.db_path, "UPDATE metadata SET value = '\"New Name\"' WHERE photo_id = ? AND key = 'Artist'",
          [ids["d"]])
    assert to_rederive(tagged.db_path) == {ids["d"]}
    result = tagged("retag")
    assert result.stdout.strip() == "1 of 4 photos changed" and rederived(result) == 1
    assert query(tagged.db_path, "SELECT creator FROM photos WHERE id = ?", [ids["d"]]) == [("New Name",)]


def test_the_default_licence_setting_rederives_the_photos_it_may_license(tagged):
    ids = ids_by_file(tagged.db_path)
    write(tagged.db_path, "UPDATE photos SET licence_id = NULL, licence_source = NULL WHERE id = ?", [ids["a"]])
    assert tagged("settings", "default-licence", "CC0-1.0").exit_code == 0
    assert to_rederive(tagged.db_path) == {ids["a"]}   # the others' licence came from the import's flag


def test_corrections_still_win_over_an_edited_registry(tagged):
    ids = ids_by_file(tagged.db_path)
    (strike,), = query(tagged.db_path, "SELECT id FROM demonstrations WHERE name = 'Climate strike'")
    write(tagged.db_path, "INSERT INTO corrections (photo_id, field, value, who, at) VALUES (?, 'creator', ?, ?, ?)",
          [ids["d"], '"Corrected Name"', "archivist", datetime.now(timezone.utc).isoformat()])
    write(tagged.db_path, "UPDATE photos SET creator = 'Corrected Name' WHERE id = ?", [ids["d"]])
    write(tagged.db_path, "UPDATE demonstrations SET name = 'Climate strike for the future' WHERE id = ?", [strike])
    assert ids["d"] in to_rederive(tagged.db_path)
    result = tagged("retag")
    assert result.exit_code == 0
    assert query(tagged.db_path, "SELECT creator, demonstration_id FROM photos WHERE id = ?", [ids["d"]]) == [
        ("Corrected Name", strike)]
    assert rederived(tagged("retag")) == 0


def test_retag_all_rederives_every_photo(tagged):
    result = tagged("retag", "--all")
    assert result.exit_code == 0 and result.stdout.strip() == "0 of 4 photos changed"
    assert rederived(result) == 4
    assert rederived(tagged("retag")) == 0


def test_a_deleted_photo_noted_for_retag_is_skipped(tagged):
    ids = ids_by_file(tagged.db_path)
    write(tagged.db_path, "UPDATE metadata SET value = '\"Someone\"' WHERE photo_id = ? AND key = 'Artist'", [ids["a"]])
    conn = sqlite3.connect(tagged.db_path)
    with conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        for table in ("metadata", "photo_sources", "photo_faces"):
            conn.execute(f"DELETE FROM {table} WHERE photo_id = ?", [ids["a"]])
        conn.execute("DELETE FROM photos WHERE id = ?", [ids["a"]])
    conn.close()
    result = tagged("retag")
    assert result.exit_code == 0 and rederived(result) == 0, result.output
