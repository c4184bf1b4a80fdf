"""The one name-matching key, and the migration that re-keyed stored aliases with it."""

from __future__ import annotations

import sqlite3

import pytest

from ingest.catalogue.registry import load_registry
from ingest.catalogue.schema import MIGRATIONS, connect
from ingest.text import key

REKEY = MIGRATIONS[10]  # migration 11: one name-matching key


@pytest.mark.parametrize("a, b", [
    ("München", "MUNCHEN"), ("Zoë Müller", "zoe muller"), ("St. Gallen", "st gallen"),
    ("Frankfurt-am-Main", "Frankfurt am Main"), ("Kyiv's march", "kyiv s march"),
    ("National march: ceasefire in Gaza!", "national march ceasefire in gaza"), ("  a\tb  ", "a b"),
])
def test_one_key_for_names_however_they_are_written(a, b):
    assert key(a) == key(b)


def test_different_names_keep_different_keys():
    assert key("Paris") != key("Parisi") and key("") == ""


def test_migration_rekeys_aliases_written_with_the_old_key(tmp_path):
    path = tmp_path / "gallery.db"
    db = connect(path)
    db.conn.execute("INSERT INTO cities (name, country_code) VALUES ('St. Gallen', 'CH')")
    city_id = db.conn.execute("SELECT id FROM cities").fetchone()[0]
    # the old key kept punctuation: "st. gallen"; two spellings now meet in one key
    db.conn.executemany("INSERT INTO city_aliases (alias, city_id) VALUES (?, ?)",
                        [("st. gallen", city_id), ("st gallen", city_id), ("sankt-gallen", city_id)])
    db.conn.executescript(f"BEGIN; {REKEY}; COMMIT;")  # migration 11, as connect() ran it
    aliases = dict(db.execute("SELECT alias, city_id FROM city_aliases").fetchall())
    assert aliases == {"st gallen": city_id, "sankt gallen": city_id}
    assert load_registry(db).city_id("St. Gallen") == city_id
    db.conn.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
