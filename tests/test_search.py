"""Search finds what people type (catalogue/search.py): a demonstration's name, its city and country,
dates as people write them, accents or not, all words required, ranked; any input answers; the index
follows every change the public copy follows, and a withheld photo's words leave it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue import search
from ingest.catalogue.public_copy import PublicCopy
from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store

REGISTRY = """
- name: National march for a ceasefire in Gaza
  city: London
  country_code: GB
  date: "2024-11-02"
  slug: 2024-11-02-london-ceasefire
- name: Rally for Ukraine
  city: Munich
  country_code: DE
  date: "2024-05-18"
  slug: 2024-05-18-munich-rally
"""
MARCH = 5  # public photos of the London march (one more is withheld)

HOSTILE = ['"', '""', "*", "-", "(", ")", "((", "NOT", "AND OR NEAR", "ceasefire -london", "^", ":", "title:",
           "ceasefire*", "'; DROP TABLE photos; --", "\\", "\x00", "😀", "2024-13-45", "31/02/2024", "a" * 10_000,
           "x " * 5_000, "NEAR(a b)", "{title}: x", "+", "%", "_", "   ", ""]


def _camera(stamp: str, offset: str, lat: float, lon: float, **extra) -> dict:
    return {"DateTimeOriginal": stamp, "OffsetTimeOriginal": offset, "GPSLatitude": lat, "GPSLongitude": lon, **extra}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    base = tmp_path_factory.mktemp("search")
    photos = base / "photos"
    for i in range(MARCH):
        make_photo(photos / "march" / f"m{i}.jpg", width=64, height=48, seed=i,
                   exif=_camera(f"2024:11:02 13:0{i}:00", "+00:00", 51.5045, -0.1263, Artist="Olena Kovalenko"),
                   xmp={"dc:title": "Zoë at the front of the march"} if i == 0 else
                   ({"dc:title": "Crowd on Whitehall"} if i == 1 else None))
    make_photo(photos / "march" / "secret.jpg", width=64, height=48, seed=50,
               exif=_camera("2024:11:02 15:00:00", "+00:00", 51.5045, -0.1263),
               xmp={"dc:title": "Zanzibarword withheld"})
    for i in range(2):
        make_photo(photos / "munich" / f"r{i}.jpg", width=64, height=48, seed=20 + i,
                   exif=_camera(f"2024:05:18 14:2{i}:00", "+02:00", 48.1424, 11.5775, Artist="Jürgen Weiß"),
                   xmp={"dc:description": "Kundgebung in München"} if i == 0 else None)
    (base / "registry.yml").write_text(REGISTRY, encoding="utf-8")
    db = connect(base / "gallery.db")
    import_registry(db, base / "registry.yml")
    summary = run_ingest(db, Store(base / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"),
                         publish=True)
    assert summary.imported == MARCH + 3
    db.conn.execute("UPDATE photos SET withheld = 1 WHERE title = 'Zanzibarword withheld'")
    db.conn.commit()
    db.conn.close()
    copy = PublicCopy(base / "gallery.db", base / "public.db")
    copy.refresh()
    yield base, copy
    copy.close()


def find(copy: PublicCopy, text: str) -> list[dict]:
    query = search.match_query(text)
    if query is None:
        return []
    rows = copy.conn.execute(
        f"SELECT p.id, p.title, p.caption, p.creator FROM {search.TABLE} s JOIN photos p ON p.id = s.rowid "
        f"WHERE {search.TABLE} MATCH ? ORDER BY {search.rank_sql()}", [query])
    return [dict(zip(("id", "title", "caption", "creator"), r)) for r in rows]


def march_ids(copy: PublicCopy) -> set[int]:
    return {r[0] for r in copy.conn.execute(
        "SELECT p.id FROM photos p JOIN demonstrations d ON d.id = p.demonstration_id WHERE d.slug = '2024-11-02-london-ceasefire'")}


@pytest.mark.parametrize("text", [
    "ceasefire", "ceasefire London", "London ceasefire", "CEASEFIRE london", "national march gaza",
    "2024-11-02", "2 November 2024", "2nd November 2024", "November 2024", "Nov 2024", "02/11/2024",
    "2.11.2024", "ceasefire United Kingdom", "ceasefire UK", "London 2024", "ceasefire marches",
])
def test_every_photo_of_the_march_is_found_by_its_name_city_or_date(archive, text):
    _, copy = archive
    found = {r["id"] for r in find(copy, text)}
    assert len(march_ids(copy)) == MARCH
    assert found == march_ids(copy), text


@pytest.mark.parametrize("text, expect", [
    ("Zoe", "Zoë at the front of the march"), ("zoë", "Zoë at the front of the march"),
    ("Munchen", "Kundgebung in München"), ("münchen", "Kundgebung in München"),
])
def test_accents_do_not_matter(archive, text, expect):
    _, copy = archive
    assert [r["title"] or r["caption"] for r in find(copy, text)] == [expect]
    assert len(find(copy, "Jurgen")) == 2  # the creator, Jürgen Weiß


def test_all_words_are_required_and_the_best_match_comes_first(archive):
    _, copy = archive
    assert find(copy, "ceasefire Munich") == []
    assert len(find(copy, "Munich")) == 2 and len(find(copy, "Germany")) == 2
    ranked = find(copy, "march")  # every march photo matches by its demonstration; one also by its title
    assert len(ranked) == MARCH and ranked[0]["title"] == "Zoë at the front of the march"


@pytest.mark.parametrize("text", HOSTILE)
def test_any_input_is_a_query_that_runs(archive, text):
    _, copy = archive
    assert isinstance(find(copy, text), list)  # no sqlite3.OperationalError, whatever was typed
    query = search.match_query(text)
    assert query is None or len(query) < 2_000


def test_withheld_photos_are_not_in_the_index_even_as_words(archive):
    _, copy = archive
    assert find(copy, "Zanzibarword") == []
    copy.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, {search.TABLE}, row)")
    assert copy.conn.execute("SELECT count(*) FROM temp.vocab WHERE term LIKE 'zanzibar%'").fetchone()[0] == 0


def _catalogue(base: Path) -> sqlite3.Connection:
    return sqlite3.connect(base / "gallery.db", isolation_level=None)


def test_the_index_follows_renames_corrections_and_withdrawals(archive):
    base, copy = archive
    cat = _catalogue(base)
    try:
        cat.execute("UPDATE demonstrations SET name = 'People''s assembly for peace' WHERE slug = '2024-11-02-london-ceasefire'")
        cat.execute("UPDATE cities SET name = 'Londinium' WHERE name = 'London'")
        crowd = cat.execute("SELECT id FROM photos WHERE title = 'Crowd on Whitehall'").fetchone()[0]
        cat.execute("UPDATE photos SET title = 'Crowd on Trafalgar Square' WHERE id = ?", [crowd])
        copy.refresh()
        assert {r["id"] for r in find(copy, "assembly peace Londinium")} == march_ids(copy)
        assert find(copy, "ceasefire") == [] and find(copy, "ceasefire London") == []
        assert [r["id"] for r in find(copy, "Trafalgar")] == [crowd] and find(copy, "Whitehall") == []

        cat.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [crowd])
        copy.refresh()
        assert find(copy, "Trafalgar") == []
        copy.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, {search.TABLE}, row)")
        assert copy.conn.execute("SELECT count(*) FROM temp.vocab WHERE term = 'trafalgar'").fetchone()[0] == 0
        cat.execute("UPDATE photos SET withheld = 0 WHERE id = ?", [crowd])
        copy.refresh()
        assert [r["id"] for r in find(copy, "Trafalgar Londinium 2 November 2024")] == [crowd]
    finally:
        cat.execute("UPDATE demonstrations SET name = 'National march for a ceasefire in Gaza' "
                    "WHERE slug = '2024-11-02-london-ceasefire'")
        cat.execute("UPDATE cities SET name = 'London' WHERE name = 'Londinium'")
        cat.execute("UPDATE photos SET title = 'Crowd on Whitehall' WHERE title = 'Crowd on Trafalgar Square'")
        cat.close()
        copy.refresh()
    assert {r["id"] for r in find(copy, "ceasefire London")} == march_ids(copy)


def test_a_copy_without_the_index_gets_one(archive, tmp_path):
    base, _ = archive
    copy = PublicCopy(base / "gallery.db", tmp_path / "old.db")
    try:
        copy.refresh()
        copy.conn.execute(f"DROP TABLE {search.TABLE}")  # as an older version wrote it
        copy.refresh()
        assert {r["id"] for r in find(copy, "ceasefire")} == march_ids(copy)
    finally:
        copy.close()
