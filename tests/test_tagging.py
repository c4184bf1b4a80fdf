"""Tagging rules end to end: date, local date, demonstration, creator, provenance, retag, corrections.

Every case writes real image files (real EXIF, XMP, IPTC, real file and folder names) into tmp_path,
imports them with run_ingest or the `ingest` command into a real SQLite catalogue, and reads the
`photos`, `cities` and `demonstrations` rows. Nothing is mocked.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from accounts_support import archivist_cookies
from click.testing import CliRunner
from datasette.app import Datasette
from fixtures.synth import make_photo

from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.cli import main
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_REGISTRY = ROOT / "samples" / "registry.yml"

WHITEHALL = (51.5045, -0.1263)
HYDE_PARK_CORNER = (51.5027, -0.1527)
ODEONSPLATZ = (48.1424, 11.5775)
PLACE_ROGIER = (50.8546, 4.3572)
PLACA_DE_CATALUNYA = (41.3870, 2.1701)
NEW_YORK = (40.7128, -74.0060)
PARIS = (48.8566, 2.3522)

_seeds = itertools.count(5000)


def photo(path: Path, *, exif=None, xmp=None, iptc=None, iptc_utf8: bool = True) -> Path:
    """A small real JPEG with the given metadata; each file has its own pixels (never a duplicate)."""
    return make_photo(path, width=64, height=48, seed=next(_seeds), exif=exif, xmp=xmp, iptc=iptc,
                      iptc_utf8=iptc_utf8)


def shot(when: str, place: tuple[float, float] | None = None, offset: str | None = None, **extra) -> dict:
    """EXIF for a camera shot: `when` is "YYYY-MM-DD HH:MM:SS" local time."""
    exif = {"DateTimeOriginal": when.replace("-", ":", 2), **extra}
    if offset:
        exif["OffsetTimeOriginal"] = offset
    if place:
        exif["GPSLatitude"], exif["GPSLongitude"] = place
    return exif


def card(base: Path, name: str = "100TEST") -> Path:
    """A camera-card folder three levels deep, so no test folder name leaks into the folder facts."""
    return base / "card" / "DCIM" / name


_ROW_SQL = """
    SELECT p.*, c.name AS city, d.name AS demo, d.date AS demo_date, d.slug AS demo_slug,
           d.provisional AS demo_provisional, dc.name AS demo_city
    FROM photos p
    LEFT JOIN cities c ON c.id = p.city_id
    LEFT JOIN demonstrations d ON d.id = p.demonstration_id
    LEFT JOIN cities dc ON dc.id = d.city_id
"""


def row(db, filename: str) -> dict:
    rows = list(db.query(_ROW_SQL + " WHERE p.original_filename = ?", [filename]))
    assert len(rows) == 1, (filename, rows)
    return rows[0]


def row_at(db, path: Path) -> dict:
    rows = list(db.query(_ROW_SQL + " JOIN photo_sources s ON s.photo_id = p.id WHERE s.path = ?", [str(path)]))
    assert len(rows) == 1, (path, rows)
    return rows[0]


def ingest(db, store, *paths: Path, **options) -> None:
    summary = run_ingest(db, store, [str(p) for p in paths], Options(**options))
    assert summary.problems == 0, summary.lines


def demo_id(db, slug: str) -> int:
    return db.execute("SELECT id FROM demonstrations WHERE slug = ?", [slug]).fetchone()[0]


@pytest.fixture
def registered(archive):
    """An empty archive with the flyer's registry (samples/registry.yml) imported."""
    db, store, *_ = archive
    counts = import_registry(db, SAMPLE_REGISTRY)
    assert counts["added"] == 14
    return db, store


# =================================================================================================
# Date: EXIF -> XMP -> IPTC -> file name -> folder name; never the file's mtime
# =================================================================================================

ALL_LOWER = dict(
    xmp={"photoshop:DateCreated": "2024-11-09T10:00:00"},
    iptc={"Date Created": "20241110", "Time Created": "090000+0100"},
)
DATE_CASES = {
    # case: (folders, file name, make_photo metadata, taken_at, date_source, date)
    "exif-offset-subsec": (
        "x/2024-11-06", "IMG_20241105_120000.jpg",
        dict(exif=shot("2024-11-02 14:30:12", offset="+01:00", SubSecTimeOriginal="57"), **ALL_LOWER),
        "2024-11-02T14:30:12.57+01:00", "exif", "2024-11-02"),
    "xmp-exif-datetimeoriginal": (
        "x/2024-11-06", "IMG_20241105_120000.jpg",
        dict(xmp={"exif:DateTimeOriginal": "2024-11-03T10:00:00+01:00", "photoshop:DateCreated": "2024-11-09"},
             iptc=ALL_LOWER["iptc"]),
        "2024-11-03T10:00:00+01:00", "xmp", "2024-11-03"),
    "xmp-photoshop-datecreated": (
        "x/2024-11-06", "IMG_20241105_120000.jpg",
        dict(xmp={"photoshop:DateCreated": "2024-11-03T10:00:00"}, iptc=ALL_LOWER["iptc"]),
        "2024-11-03T10:00:00", "xmp", "2024-11-03"),
    "iptc": (
        "x/2024-11-06", "IMG_20241105_120000.jpg",
        dict(iptc={"Date Created": "20241104", "Time Created": "090000+0100"}),
        "2024-11-04T09:00:00+01:00", "iptc", "2024-11-04"),
    "name-img": ("x/2024-11-06", "IMG_20241102_143012.jpg", {}, "2024-11-02T14:30:12", "file-name", "2024-11-02"),
    "name-pixel": ("x/2024-11-06", "PXL_20250315_131500123.jpg", {}, "2025-03-15T13:15:00", "file-name", "2025-03-15"),
    "name-whatsapp": ("x/2024-11-06", "IMG-20240518-WA0003.jpg", {}, "2024-05-18", "file-name", "2024-05-18"),
    "name-samsung": ("x/2024-11-06", "20250315_141000.jpg", {}, "2025-03-15T14:10:00", "file-name", "2025-03-15"),
    "name-screenshot": ("x/y/z", "Screenshot_2024-11-02-14-30-12.jpg", {}, "2024-11-02T14:30:12", "file-name",
                        "2024-11-02"),
    "name-screenshot-android": ("x/y/z", "Screenshot_20241102-143012.jpg", {}, "2024-11-02T14:30:12", "file-name",
                                "2024-11-02"),
    "folder-iso-day": ("x/y/2024-11-02", "DSC_0001.jpg", {}, "2024-11-02", "folder-name", "2024-11-02"),
    "folder-words": ("x/y/2 November 2024", "DSC_0001.jpg", {}, "2024-11-02", "folder-name", "2024-11-02"),
    "folder-parent": ("x/2024-11-02 march/day two", "DSC_0001.jpg", {}, "2024-11-02", "folder-name", "2024-11-02"),
    "folder-month": ("x/y/2024-05", "DSC_0001.jpg", {}, "2024-05", "folder-name", None),
}


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """All the date cases, one file each, imported in one run; the file's mtime is set far away."""
    base = tmp_path_factory.mktemp("dates")
    paths = {}
    far = datetime(2019, 1, 1, 12, tzinfo=timezone.utc).timestamp()
    for case, (folders, name, meta, *_) in DATE_CASES.items():
        path = photo(base / "in" / case / folders / name, **meta)
        os.utime(path, (far, far))
        paths[case] = path
    db = connect(base / "gallery.db")
    ingest(db, Store(base / "archive"), base / "in")
    yield db, paths
    db.conn.close()


@pytest.mark.parametrize("case", list(DATE_CASES))
def test_date_source_order(dated, case):
    db, paths = dated
    *_, taken_at, source, date = DATE_CASES[case]
    r = row_at(db, paths[case])
    assert (r["taken_at"], r["date_source"], r["date"]) == (taken_at, source, date)
    assert "2019-01-01" not in str(r)                           # the mtime is never a date


def test_subseconds_and_offset_give_the_utc_instant(dated):
    db, paths = dated
    assert row_at(db, paths["exif-offset-subsec"])["taken_at_utc"] == "2024-11-02T13:30:12.570+00:00"
    assert row_at(db, paths["iptc"])["taken_at_utc"] == "2024-11-04T08:00:00+00:00"


def test_month_only_folder_is_flagged(dated):
    db, paths = dated
    r = row_at(db, paths["folder-month"])
    assert r["needs_review"] == 1 and "only the month is known" in r["review_reason"]
    assert r["demonstration_id"] is None


def test_no_date_anywhere_gets_no_date_not_the_mtime(archive, tmp_path):
    db, store, *_ = archive
    path = photo(card(tmp_path) / "DSC_0042.jpg", exif={"Make": "Canon", "Model": "EOS R6"})
    when = datetime(2024, 11, 2, 14, 30, 12, tzinfo=timezone.utc).timestamp()
    os.utime(path, (when, when))
    ingest(db, store, tmp_path / "card")
    r = row(db, "DSC_0042.jpg")
    assert (r["taken_at"], r["taken_at_utc"], r["date"], r["date_source"]) == (None, None, None, None)
    assert r["needs_review"] == 1 and "no date" in r["review_reason"].split("; ")
    assert "2024-11-02" not in str(r)
    # the mtime was known to ingest (it is how unchanged files are skipped), and still not used
    mtime_ns = db.execute("SELECT mtime_ns FROM photo_sources").fetchone()[0]
    assert mtime_ns == int(when) * 1_000_000_000


# =================================================================================================
# Local date: the calendar day where the photo was taken; UTC from the offset, else the place's zone
# =================================================================================================

@pytest.mark.parametrize("when,offset,date,utc", [
    ("2024-11-02 23:30:00", "-04:00", "2024-11-02", "2024-11-03T03:30:00+00:00"),   # EDT
    ("2025-01-18 23:30:00", "-05:00", "2025-01-18", "2025-01-19T04:30:00+00:00"),   # EST
])
def test_late_evening_in_new_york_keeps_its_local_day(archive, tmp_path, when, offset, date, utc):
    db, store, *_ = archive
    photo(card(tmp_path) / "nyc.jpg", exif=shot(when, NEW_YORK, offset))
    ingest(db, store, tmp_path / "card")
    r = row(db, "nyc.jpg")
    assert (r["date"], r["taken_at_utc"], r["city"]) == (date, utc, "New York")
    assert r["taken_at"] == f"{when.replace(' ', 'T')}{offset}"


@pytest.mark.parametrize("when,utc", [
    ("2024-06-08 14:00:00", "2024-06-08T13:00:00+00:00"),    # British Summer Time: +01:00
    ("2024-06-08 00:30:00", "2024-06-07T23:30:00+00:00"),    # UTC is the day before; the date is not
    ("2024-11-02 14:00:00", "2024-11-02T14:00:00+00:00"),    # GMT
])
def test_no_offset_the_gps_time_zone_gives_utc(archive, tmp_path, when, utc):
    db, store, *_ = archive
    photo(card(tmp_path) / "london.jpg", exif=shot(when, WHITEHALL))
    ingest(db, store, tmp_path / "card")
    r = row(db, "london.jpg")
    assert (r["taken_at"], r["date"], r["taken_at_utc"]) == (when.replace(" ", "T"), when[:10], utc)


def test_no_offset_no_gps_the_named_city_gives_utc(archive, tmp_path):
    db, store, *_ = archive
    photo(card(tmp_path) / "muc.jpg", exif=shot("2024-05-18 14:00:00"), xmp={"photoshop:City": "München"})
    photo(card(tmp_path) / "nowhere.jpg", exif=shot("2024-05-18 14:00:00"))
    ingest(db, store, tmp_path / "card")
    assert row(db, "muc.jpg")["taken_at_utc"] == "2024-05-18T12:00:00+00:00"
    nowhere = row(db, "nowhere.jpg")
    assert (nowhere["date"], nowhere["taken_at_utc"]) == ("2024-05-18", None)    # no place, no zone: no guess


def test_no_offset_a_known_folder_city_gives_utc(archive, tmp_path):
    db, store, *_ = archive
    photo(card(tmp_path) / "whitehall.jpg", exif=shot("2024-03-30 13:00:00", WHITEHALL))   # London is known
    ingest(db, store, tmp_path / "card")
    photo(tmp_path / "phone" / "2024-06-08 London march" / "IMG_20240608_140000.jpg")
    ingest(db, store, tmp_path / "phone")
    r = row(db, "IMG_20240608_140000.jpg")
    assert (r["city"], r["city_source"]) == ("London", "folder-name")
    assert r["taken_at_utc"] == "2024-06-08T13:00:00+00:00"


# =================================================================================================
# Demonstration: --demo -> XMP Event -> registry by date and city -> the only one that day (flagged)
# =================================================================================================

def test_forced_demo_names_a_registered_demonstration(registered, tmp_path):
    db, store = registered
    photo(card(tmp_path) / "muc.jpg", exif=shot("2024-05-18 14:00:00", ODEONSPLATZ, "+02:00"),
          xmp={"Iptc4xmpExt:Event": "Munich demonstration"})
    ingest(db, store, tmp_path / "card", demo="London march")
    r = row(db, "muc.jpg")
    # "London march" recurs (2024-03-30, 2024-05-18): the photo's date picks the one
    assert (r["demo_slug"], r["demonstration_source"], r["city"]) == ("2024-05-18-london-march", "flag", "Munich")


def test_forced_demo_unknown_to_the_registry_is_created_once(registered, tmp_path):
    db, store = registered
    photo(card(tmp_path, "A") / "a.jpg", exif=shot("2024-07-01 12:00:00", WHITEHALL))
    photo(card(tmp_path, "A") / "b.jpg", exif=shot("2024-07-02 12:00:00", PARIS))
    ingest(db, store, tmp_path / "card", demo="Spontaneous vigil")
    photo(tmp_path / "more" / "x" / "y" / "c.jpg")
    ingest(db, store, tmp_path / "more", demo="Spontaneous vigil")
    ids = {row(db, n)["demonstration_id"] for n in ("a.jpg", "b.jpg", "c.jpg")}
    assert len(ids) == 1
    assert db.execute("SELECT count(*) FROM demonstrations WHERE name = 'Spontaneous vigil'").fetchone()[0] == 1
    assert {row(db, n)["demonstration_source"] for n in ("a.jpg", "b.jpg", "c.jpg")} == {"flag"}


def test_forced_recurring_demo_without_a_date_adds_no_demonstration(registered, tmp_path):
    db, store = registered
    before = db.execute("SELECT count(*) FROM demonstrations").fetchone()[0]
    photo(card(tmp_path) / "undated.jpg")
    ingest(db, store, tmp_path / "card", demo="National march for a ceasefire in Gaza")
    assert db.execute("SELECT count(*) FROM demonstrations").fetchone()[0] == before


def test_xmp_event_matches_the_registry_case_and_punctuation_aside(registered, tmp_path):
    db, store = registered
    folder = card(tmp_path)
    photo(folder / "oct.jpg", xmp={"Iptc4xmpExt:Event": "national MARCH for a ceasefire in gaza!",
                                   "photoshop:DateCreated": "2024-10-05T13:12:09+01:00"})
    photo(folder / "nov.jpg", xmp={"Iptc4xmpExt:Event": "National march for a ceasefire in Gaza",
                                   "photoshop:DateCreated": "2024-11-02T14:05:55+00:00"})
    photo(folder / "muc.jpg", xmp={"Iptc4xmpExt:Event": "MUNICH demonstration."})      # no date: the name is unique
    photo(folder / "other.jpg", exif=shot("2024-08-03 12:41:00", WHITEHALL, "+01:00"),
          xmp={"Iptc4xmpExt:Event": "Some march nobody registered"})
    ingest(db, store, tmp_path / "card")
    assert (row(db, "oct.jpg")["demo_slug"], row(db, "oct.jpg")["demonstration_source"]) == (
        "2024-10-05-london-ceasefire-gaza", "xmp")
    assert (row(db, "nov.jpg")["demo_slug"], row(db, "nov.jpg")["demonstration_source"]) == (
        "2024-11-02-london-ceasefire-gaza", "xmp")
    assert (row(db, "muc.jpg")["demo_slug"], row(db, "muc.jpg")["demonstration_source"]) == ("2024-05-18-munich", "xmp")
    # the demonstration's city is the photo's city when nothing else says
    assert (row(db, "oct.jpg")["city"], row(db, "oct.jpg")["city_source"]) == ("London", "registry")
    assert (row(db, "other.jpg")["demo_slug"], row(db, "other.jpg")["demonstration_source"]) == (
        "2024-08-03-london-ceasefire-gaza", "registry")


@pytest.mark.parametrize("name,exif,slug", [
    ("whitehall.jpg", shot("2024-08-03 12:41:00", WHITEHALL, "+01:00"), "2024-08-03-london-ceasefire-gaza"),
    ("hyde-park.jpg", shot("2024-03-30 13:05:10", HYDE_PARK_CORNER, "+00:00"), "2024-03-30-london-march"),
    ("rogier.jpg", shot("2025-05-17 15:30:00", PLACE_ROGIER, "+02:00"), "2025-05-brussels"),       # month entry
    ("catalunya.jpg", shot("2025-05-08 12:30:00", PLACA_DE_CATALUNYA, "+02:00"), "2025-05-barcelona-ve-day"),
])
def test_registry_match_by_date_and_city(registered, tmp_path, name, exif, slug):
    db, store = registered
    photo(card(tmp_path) / name, exif=exif)
    ingest(db, store, tmp_path / "card")
    r = row(db, name)
    assert (r["demo_slug"], r["demonstration_source"], r["city_source"]) == (slug, "registry", "gps")
    assert r["demo_provisional"] == 0
    assert r["needs_review"] == 1 and r["review_reason"] == "no licence"   # sure of everything else


def test_month_entry_does_not_match_another_month(registered, tmp_path):
    db, store = registered
    photo(card(tmp_path) / "rogier-june.jpg", exif=shot("2025-06-14 15:30:00", PLACE_ROGIER, "+02:00"))
    ingest(db, store, tmp_path / "card")
    r = row(db, "rogier-june.jpg")
    assert (r["demo_provisional"], r["demonstration_source"], r["demo"]) == (1, "provisional", None)


def test_same_day_in_two_cities_without_a_city_chooses_none(registered, tmp_path):
    db, store = registered
    photo(tmp_path / "phone" / "WhatsApp" / "Images" / "IMG-20240518-WA0003.jpg")
    ingest(db, store, tmp_path / "phone")
    r = row(db, "IMG-20240518-WA0003.jpg")
    assert (r["demonstration_id"], r["demonstration_source"], r["city_id"]) == (None, None, None)
    assert r["needs_review"] == 1
    reason = r["review_reason"]
    assert "London" in reason and "Munich" in reason and "2024-05-18" in reason and "none chosen" in reason
    assert db.execute("SELECT count(*) FROM demonstrations WHERE provisional = 1").fetchone()[0] == 0


@pytest.mark.parametrize("name,meta,slug", [
    ("gps-munich.jpg", dict(exif=shot("2024-05-18 14:22:10", ODEONSPLATZ, "+02:00")), "2024-05-18-munich"),
    ("gps-london.jpg", dict(exif=shot("2024-05-18 13:20:05", WHITEHALL, "+01:00")), "2024-05-18-london-march"),
    ("iptc-muenchen.jpg", dict(iptc={"City": "München", "Date Created": "20240518", "Time Created": "143107+0200"}),
     "2024-05-18-munich"),
])
def test_same_day_in_two_cities_with_a_city(registered, tmp_path, name, meta, slug):
    db, store = registered
    photo(card(tmp_path) / name, **meta)
    ingest(db, store, tmp_path / "card")
    r = row(db, name)
    assert (r["demo_slug"], r["demonstration_source"]) == (slug, "registry")
    assert "none chosen" not in (r["review_reason"] or "")


def test_two_demonstrations_in_one_city_and_day_chooses_none(registered, cli, tmp_path):
    db, store = registered
    for name in ("Morning vigil", "Evening march"):
        assert cli("demos", "add", "--name", name, "--city", "London", "--date", "2024-07-06").exit_code == 0
    photo(card(tmp_path) / "whitehall.jpg", exif=shot("2024-07-06 18:00:00", WHITEHALL, "+01:00"))
    ingest(db, store, tmp_path / "card")
    r = row(db, "whitehall.jpg")
    assert (r["demonstration_id"], r["demonstration_source"], r["city"]) == (None, None, "London")
    assert "2 demonstrations fit 2024-07-06 in this city, none chosen" in r["review_reason"]
    assert db.execute("SELECT count(*) FROM demonstrations WHERE provisional = 1").fetchone()[0] == 0


def test_forced_city_picks_that_citys_demonstration(registered, tmp_path):
    db, store = registered
    photo(tmp_path / "phone" / "WhatsApp" / "Images" / "IMG-20240518-WA0007.jpg")
    ingest(db, store, tmp_path / "phone", city="Munich")
    r = row(db, "IMG-20240518-WA0007.jpg")
    assert (r["city"], r["city_source"], r["demo_slug"], r["demonstration_source"]) == (
        "Munich", "flag", "2024-05-18-munich", "registry")
    assert "none chosen" not in (r["review_reason"] or "")


def test_date_only_and_one_demonstration_that_day(registered, tmp_path):
    db, store = registered
    photo(tmp_path / "phone" / "DCIM" / "Camera" / "IMG_20241102_143012.jpg")
    photo(tmp_path / "phone" / "DCIM" / "Camera" / "IMG_20240606_120000.jpg")    # nothing registered that day
    ingest(db, store, tmp_path / "phone")
    r = row(db, "IMG_20241102_143012.jpg")
    assert (r["demo_slug"], r["demonstration_source"]) == ("2024-11-02-london-ceasefire-gaza", "registry")
    assert (r["city"], r["city_source"]) == ("London", "registry")
    assert r["needs_review"] == 1 and "matched by date only" in r["review_reason"]
    assert r["taken_at_utc"] == "2024-11-02T14:30:12+00:00"          # London's zone, via the registry's city
    other = row(db, "IMG_20240606_120000.jpg")
    assert (other["demonstration_id"], other["city_id"]) == (None, None)
    assert "no city" in other["review_reason"]
    assert db.execute("SELECT count(*) FROM demonstrations WHERE provisional = 1").fetchone()[0] == 0


def test_unmatched_photos_are_grouped_by_city_and_day_and_named_by_the_registry(archive, cli, tmp_path):
    db, store, *_ = archive
    folder = card(tmp_path)
    photo(folder / "p1.jpg", exif=shot("2024-06-01 12:00:00", PARIS, "+02:00"))
    photo(folder / "p2.jpg", exif=shot("2024-06-01 16:45:00", PARIS, "+02:00"))
    photo(folder / "p3.jpg", exif=shot("2024-06-02 11:00:00", PARIS, "+02:00"))
    photo(folder / "w1.jpg", exif=shot("2024-06-01 12:00:00", WHITEHALL, "+01:00"))
    ingest(db, store, tmp_path / "card")
    p1, p2, p3, w1 = (row(db, f"{n}.jpg") for n in ("p1", "p2", "p3", "w1"))
    assert p1["demonstration_id"] == p2["demonstration_id"]
    assert len({p1["demonstration_id"], p3["demonstration_id"], w1["demonstration_id"]}) == 3
    for r in (p1, p2, p3, w1):
        assert (r["demonstration_source"], r["demo_provisional"], r["demo"]) == ("provisional", 1, None)
    assert (p1["demo_date"], p1["demo_city"], p1["demo_slug"]) == ("2024-06-01", "Paris", "2024-06-01-paris-unnamed")
    assert (p3["demo_date"], p3["demo_city"]) == ("2024-06-02", "Paris")

    registry = tmp_path / "paris.yml"
    registry.write_text('- {name: Paris march for Ukraine, city: Paris, country_code: FR, date: "2024-06-01"}\n',
                        encoding="utf-8")
    assert cli("demos", "import", str(registry)).exit_code == 0
    result = cli("retag")
    assert result.exit_code == 0 and result.stdout.strip() == "2 of 4 photos changed"
    p1, p2, p3, w1 = (row(db, f"{n}.jpg") for n in ("p1", "p2", "p3", "w1"))
    for r in (p1, p2):
        assert (r["demo"], r["demo_provisional"], r["demonstration_source"]) == ("Paris march for Ukraine", 0, "registry")
    assert p1["demonstration_id"] == p2["demonstration_id"]
    assert (p3["demo_provisional"], w1["demo_provisional"]) == (1, 1)              # other day, other city
    named = db.execute("SELECT count(*) FROM demonstrations WHERE name = 'Paris march for Ukraine'").fetchone()[0]
    assert named == 1
    assert cli("retag").stdout.strip() == "0 of 4 photos changed"


def test_month_entry_leaves_no_empty_provisional_group(archive, cli, tmp_path):
    db, store, *_ = archive
    photo(card(tmp_path) / "rogier.jpg", exif=shot("2025-05-17 15:30:00", PLACE_ROGIER, "+02:00"))
    ingest(db, store, tmp_path / "card")
    assert row(db, "rogier.jpg")["demo_provisional"] == 1
    assert cli("demos", "add", "--name", "Brussels demonstration", "--city", "Brussels", "--date", "2025-05").exit_code == 0
    assert cli("retag").exit_code == 0
    assert row(db, "rogier.jpg")["demo_slug"] == "2025-05-brussels-demonstration"
    empty = db.execute("""SELECT count(*) FROM demonstrations d
                          WHERE NOT EXISTS (SELECT 1 FROM photos p WHERE p.demonstration_id = d.id)
                            AND d.provisional = 1""").fetchone()[0]
    assert empty == 0


# =================================================================================================
# Creator: XMP dc:creator -> IPTC By-line -> EXIF Artist -> --creator
# =================================================================================================

CREATORS = {
    # file: (metadata, creator, creator_source)
    "all.jpg": (dict(xmp={"dc:creator": ["Priya Raman"]}, iptc={"By-line": "Zoë Müller"},
                     exif={"Artist": "Olena Kovalenko"}), "Priya Raman", "xmp"),
    "iptc.jpg": (dict(iptc={"By-line": "Zoë Müller"}, exif={"Artist": "Olena Kovalenko"}), "Zoë Müller", "iptc"),
    "iptc-latin1.jpg": (dict(iptc={"By-line": "Zoë Müller"}, iptc_utf8=False), "Zoë Müller", "iptc"),
    "exif.jpg": (dict(exif={"Artist": "Marek Horváth"}), "Marek Horváth", "exif"),
    "none.jpg": ({}, "Press desk", "flag"),
}


def test_creator_precedence(archive, tmp_path):
    db, store, *_ = archive
    for name, (meta, *_) in CREATORS.items():
        photo(card(tmp_path) / name, **meta)
    ingest(db, store, tmp_path / "card", creator="Press desk")
    photo(tmp_path / "other" / "x" / "y" / "anonymous.jpg")
    ingest(db, store, tmp_path / "other")
    for name, (_, creator, source) in CREATORS.items():
        r = row(db, name)
        assert (r["creator"], r["creator_source"]) == (creator, source), name
    r = row(db, "anonymous.jpg")
    assert (r["creator"], r["creator_source"]) == (None, None)


# =================================================================================================
# Provenance: every tag says where it came from; Datasette shows it
# =================================================================================================

def test_provenance_columns(registered, tmp_path):
    db, store = registered
    photo(card(tmp_path) / "known.jpg", exif=shot("2024-08-03 12:41:00", WHITEHALL, "+01:00", Artist="Olena Kovalenko",
                                                   Copyright="CC BY-SA 4.0"))
    photo(card(tmp_path) / "unknown.jpg")
    ingest(db, store, tmp_path / "card")
    columns = {r[1] for r in db.execute("PRAGMA table_info(photos)")}
    assert {"date_source", "city_source", "demonstration_source", "creator_source", "licence_source",
            "needs_review", "review_reason"} <= columns
    known = row(db, "known.jpg")
    assert {k: known[k] for k in ("date_source", "city_source", "demonstration_source", "creator_source",
                                  "licence_source", "needs_review", "review_reason")} == {
        "date_source": "exif", "city_source": "gps", "demonstration_source": "registry", "creator_source": "exif",
        "licence_source": "exif", "needs_review": 0, "review_reason": None}
    assert (known["licence_id"], known["creator"], known["demo_slug"]) == (
        "CC-BY-SA-4.0", "Olena Kovalenko", "2024-08-03-london-ceasefire-gaza")
    unknown = row(db, "unknown.jpg")
    assert {k: unknown[k] for k in ("date_source", "city_source", "demonstration_source", "creator_source",
                                    "licence_source")} == dict.fromkeys(
        ("date_source", "city_source", "demonstration_source", "creator_source", "licence_source"))
    assert unknown["needs_review"] == 1
    assert {"no date", "no licence", "no city"} <= set(unknown["review_reason"].split("; "))


# =================================================================================================
# retag: after a registry import; idempotent; never over an archivist's correction
# =================================================================================================

def test_retag_after_the_registry_arrives(archive, cli, tmp_path):
    db, store, *_ = archive
    photo(tmp_path / "phone" / "Camera" / "x" / "IMG_20241102_143012.jpg")
    photo(tmp_path / "phone" / "Camera" / "x" / "PXL_20250315_131500123.jpg")
    photo(card(tmp_path) / "whitehall.jpg", exif=shot("2024-08-03 12:41:00", WHITEHALL, "+01:00"))
    photo(card(tmp_path) / "odeonsplatz.jpg", exif=shot("2024-05-18 14:22:10", ODEONSPLATZ, "+02:00"))
    result = cli("--jobs", "1", str(tmp_path / "phone"), str(tmp_path / "card"))
    assert result.exit_code == 0, result.output
    assert row(db, "IMG_20241102_143012.jpg")["demonstration_id"] is None
    assert row(db, "whitehall.jpg")["demonstration_source"] == "provisional"

    assert cli("demos", "import", str(SAMPLE_REGISTRY)).exit_code == 0
    result = cli("retag")
    assert result.exit_code == 0 and result.stdout.strip() == "4 of 4 photos changed"
    expect = {
        "IMG_20241102_143012.jpg": ("2024-11-02-london-ceasefire-gaza", "London"),
        "PXL_20250315_131500123.jpg": ("2025-03-15-london-gaza-genocide", "London"),
        "whitehall.jpg": ("2024-08-03-london-ceasefire-gaza", "London"),
        "odeonsplatz.jpg": ("2024-05-18-munich", "Munich"),
    }
    for name, (slug, city) in expect.items():
        r = row(db, name)
        assert (r["demo_slug"], r["demonstration_source"], r["city"], r["demo_provisional"]) == (
            slug, "registry", city, 0), name
    assert cli("retag").stdout.strip() == "0 of 4 photos changed"


def _correct(db, photo_id: int, field: str, value, column_values: dict) -> None:
    db.conn.execute("INSERT INTO corrections (photo_id, field, value, who, at) VALUES (?, ?, ?, ?, ?)",
                    [photo_id, field, None if value is None else str(value), "archivist@example.org",
                     "2025-07-01T10:00:00+00:00"])
    db.conn.execute(f"UPDATE photos SET {', '.join(f'{k} = ?' for k in column_values)} WHERE id = ?",
                    [*column_values.values(), photo_id])


def test_retag_and_reingest_never_touch_a_correction(archive, cli, tmp_path):
    db, store, *_ = archive
    phone = photo(tmp_path / "phone" / "Camera" / "x" / "IMG_20241102_143012.jpg", exif={"Artist": "Phone owner"})
    photo(card(tmp_path) / "whitehall.jpg", exif=shot("2024-03-30 13:05:10", WHITEHALL, "+00:00"))
    ingest(db, store, tmp_path / "phone", tmp_path / "card")
    london = db.execute("SELECT id FROM cities WHERE name = 'London'").fetchone()[0]
    assert cli("demos", "add", "--name", "Archivist's choice", "--city", "London", "--date", "2024-11-01").exit_code == 0
    chosen = db.execute("SELECT id FROM demonstrations WHERE name = ?", ["Archivist's choice"]).fetchone()[0]
    pid = row(db, "IMG_20241102_143012.jpg")["id"]
    _correct(db, pid, "demonstration_id", chosen, {"demonstration_id": chosen, "demonstration_source": "archivist"})
    _correct(db, pid, "city_id", london, {"city_id": london, "city_source": "archivist"})
    _correct(db, pid, "creator", "Sam Okafor", {"creator": "Sam Okafor", "creator_source": "archivist"})
    _correct(db, pid, "date", "2024-11-01", {"date": "2024-11-01", "date_source": "archivist"})
    corrected = {k: row(db, "IMG_20241102_143012.jpg")[k] for k in (
        "demonstration_id", "demonstration_source", "city_id", "city_source", "creator", "creator_source",
        "date", "date_source")}

    # the registry now says 2 November 2024 in London was the ceasefire march: retag would match it
    assert cli("demos", "import", str(SAMPLE_REGISTRY)).exit_code == 0
    assert cli("retag").exit_code == 0
    after = row(db, "IMG_20241102_143012.jpg")
    assert {k: after[k] for k in corrected} == corrected
    assert row(db, "whitehall.jpg")["demo_slug"] == "2024-03-30-london-march"    # uncorrected photos do move
    snapshot = [dict(r) for r in db.query("SELECT * FROM photos ORDER BY id")]
    assert cli("retag").stdout.strip() == "0 of 2 photos changed"
    assert [dict(r) for r in db.query("SELECT * FROM photos ORDER BY id")] == snapshot

    # the same file again, touched: same photo, same values
    later = datetime(2025, 7, 2, tzinfo=timezone.utc).timestamp()
    os.utime(phone, (later, later))
    summary = run_ingest(db, store, [str(tmp_path / "phone"), str(tmp_path / "card")], Options())
    assert (summary.imported, summary.duplicates, summary.unchanged, summary.problems) == (0, 0, 2, 0)
    assert [dict(r) for r in db.query("SELECT * FROM photos ORDER BY id")] == snapshot
    assert row(db, "IMG_20241102_143012.jpg")["id"] == pid
    assert db.execute("SELECT count(*) FROM corrections").fetchone()[0] == 4


def test_demonstration_follows_a_corrected_city(registered, cli, tmp_path):
    db, store = registered
    photo(card(tmp_path) / "wrong-gps.jpg", exif=shot("2024-05-18 13:20:05", ODEONSPLATZ, "+01:00"))
    ingest(db, store, tmp_path / "card")
    r = row(db, "wrong-gps.jpg")
    assert r["demo_slug"] == "2024-05-18-munich"
    london = db.execute("SELECT id FROM cities WHERE name = 'London'").fetchone()[0]
    _correct(db, r["id"], "city_id", london, {"city_id": london, "city_source": "archivist"})
    assert cli("retag").exit_code == 0
    assert row(db, "wrong-gps.jpg")["demo_slug"] == "2024-05-18-london-march"


# =================================================================================================
# End to end: the flyer's sample photos, the flyer's registry, the real commands
# =================================================================================================

# What scripts/make_samples.py means each file to be: (date, city, registry slug, creator)
SAMPLES = {
    "IMG_0412.JPG": ("2024-03-30", "London", "2024-03-30-london-march", "Olena Kovalenko"),
    "IMG_0413.JPG": ("2024-03-30", "London", "2024-03-30-london-march", "Olena Kovalenko"),
    "IMG_0588.JPG": ("2024-05-18", "London", "2024-05-18-london-march", "Olena Kovalenko"),
    "IMG_0731.JPG": ("2024-08-03", "London", "2024-08-03-london-ceasefire-gaza", "Olena Kovalenko"),
    "IMG_0802.JPG": ("2024-09-07", "London", "2024-09-07-london-no-weapons-to-israel", "Olena Kovalenko"),
    "IMG_0870.JPG": ("2024-10-05", "London", "2024-10-05-london-ceasefire-gaza", "Olena Kovalenko"),
    "IMG_0915.JPG": ("2024-11-02", "London", "2024-11-02-london-ceasefire-gaza", "Olena Kovalenko"),
    "IMG_0916.JPG": ("2024-11-02", "London", "2024-11-02-london-ceasefire-gaza", "Olena Kovalenko"),
    "DSC04821.JPG": ("2024-05-18", "Munich", "2024-05-18-munich", "Marek Horváth"),
    "DSC04822.JPG": ("2024-05-18", "Munich", "2024-05-18-munich", "Marek Horváth"),
    "DSC05310.JPG": ("2024-09-28", "Bratislava", "2024-09-28-bratislava", "Marek Horváth"),
    "DSC06007.JPG": ("2025-05-17", "Brussels", "2025-05-brussels", "Marek Horváth"),
    "IMG_20241102_143012.jpg": ("2024-11-02", "London", "2024-11-02-london-ceasefire-gaza", None),
    "PXL_20250315_131500123.jpg": ("2025-03-15", "London", "2025-03-15-london-gaza-genocide", None),
    "IMG-20240518-WA0003.jpg": ("2024-05-18", None, None, None),         # London or Munich? nobody knows
    "IMG_20250222_120501.heic": ("2025-02-22", "London", "2025-02-22-london-russian-troops-out", None),
    "ZM_20240518_0042.jpg": ("2024-05-18", "Munich", "2024-05-18-munich", "Zoë Müller"),
    "ZM_20240518_0057.jpg": ("2024-05-18", "Munich", "2024-05-18-munich", "Zoë Müller"),
    "PR_0315_007.jpg": ("2025-03-15", "London", "2025-03-15-london-gaza-genocide", "Priya Raman"),
    "PR_1102_021.jpg": ("2024-11-02", "London", "2024-11-02-london-ceasefire-gaza", "Priya Raman"),
    "PR_1005_013.jpg": ("2024-10-05", "London", "2024-10-05-london-ceasefire-gaza", "Priya Raman"),
    "banner-01.jpg": ("2024-06-08", "London", "2024-06-08-london-ceasefire-gaza", "Sam Okafor"),
    "banner-02.jpg": ("2024-06-08", "London", "2024-06-08-london-ceasefire-gaza", None),
    "crowd.jpg": ("2024-06-08", "London", "2024-06-08-london-ceasefire-gaza", None),
    "barcelona-ve-day.png": ("2025-05-08", "Barcelona", "2025-05-barcelona-ve-day", "Tomás Ferrer"),
    "ukrainian-children-london.webp": ("2025-06-01", "London", "2025-06-01-london-ukrainian-children", "Sam Okafor"),
}


@pytest.fixture(scope="module")
def samples_archive(tmp_path_factory):
    """`python scripts/make_samples.py DIR`, `ingest demos import samples/registry.yml`, `ingest DIR`."""
    base = tmp_path_factory.mktemp("e2e")
    photos = base / "photos"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(photos),
                           "--width", "480", "--height", "360"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    db_path, store_path = base / "gallery.db", base / "archive"
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(main, ["--db", str(db_path), "--store", str(store_path), *args], catch_exceptions=False)

    imported = cli("demos", "import", str(SAMPLE_REGISTRY))
    assert imported.exit_code == 0 and imported.stdout.strip() == "14 added, 0 updated, 0 unchanged"
    result = cli("--jobs", "1", "--publish", str(photos))
    assert result.exit_code == 0, result.output
    db = connect(db_path)
    yield db, db_path, cli, result
    db.conn.close()


def test_samples_all_imported(samples_archive):
    db, _, cli, result = samples_archive
    assert re.match(rf"{len(SAMPLES)} imported, 0 duplicates, 0 unchanged, 0 problems", result.stdout)
    assert sorted(r[0] for r in db.execute("SELECT original_filename FROM photos")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_sample_tagged_as_intended(samples_archive, name):
    db, *_ = samples_archive
    date, city, slug, creator = SAMPLES[name]
    r = row(db, name)
    assert (r["date"], r["city"], r["demo_slug"], r["creator"]) == (date, city, slug, creator)
    if slug:
        assert r["demo_provisional"] == 0 and r["demonstration_source"] in ("registry", "xmp")
        assert "none chosen" not in (r["review_reason"] or "")


def test_ambiguous_sample_is_listed_for_review(samples_archive):
    db, *_ = samples_archive
    review = {r[0]: r[1] for r in db.execute("SELECT original_filename, review_reason FROM photos WHERE needs_review = 1")}
    reason = review["IMG-20240518-WA0003.jpg"]
    assert "2 demonstrations fit 2024-05-18 (London, Munich), none chosen" in reason
    r = row(db, "IMG-20240518-WA0003.jpg")
    assert (r["demonstration_id"], r["demonstration_source"], r["date_source"]) == (None, None, "file-name")


def test_samples_sources(samples_archive):
    db, *_ = samples_archive
    sources = {name: (row(db, name)["date_source"], row(db, name)["city_source"]) for name in SAMPLES}
    assert sources["IMG_0412.JPG"] == ("exif", "gps")
    assert sources["ZM_20240518_0042.jpg"] == ("iptc", "iptc")          # Latin-1 IPTC "München"
    assert sources["ZM_20240518_0057.jpg"] == ("xmp", "xmp")
    assert sources["PR_1005_013.jpg"] == ("xmp", "xmp")                 # from the sidecar
    assert sources["banner-01.jpg"] == ("folder-name", "folder-name")
    assert sources["PXL_20250315_131500123.jpg"] == ("file-name", "registry")
    assert sources["IMG-20240518-WA0003.jpg"] == ("file-name", None)


def test_samples_rerun_and_retag_change_nothing(samples_archive):
    db, db_path, cli, _ = samples_archive
    before = [dict(r) for r in db.query("SELECT * FROM photos ORDER BY id")]
    again = cli("--jobs", "1", str(Path(db_path).parent / "photos"))
    assert again.exit_code == 0 and again.stdout.startswith(f"0 imported, 0 duplicates, {len(SAMPLES)} unchanged")
    retag = cli("retag")
    assert retag.stdout.strip() == f"0 of {len(SAMPLES)} photos changed"
    assert [dict(r) for r in db.query("SELECT * FROM photos ORDER BY id")] == before


async def test_datasette_facets_on_provenance(samples_archive):
    db, db_path, *_ = samples_archive
    response = await Datasette([str(db_path)]).client.get("/gallery/photos.json?_facet=city_source&_facet=needs_review")
    assert response.status_code == 200
    facets = response.json()["facet_results"]
    city_sources = {f["value"]: f["count"] for f in facets["city_source"]["results"]}
    # Facets count public photos only: those the samples license and credit (the rest wait for review).
    public = dict(db.execute("SELECT city_source, count(*) FROM photos WHERE state = 'public' "
                             "AND city_source IS NOT NULL GROUP BY city_source").fetchall())
    assert city_sources == public and {"gps", "xmp", "iptc"} <= set(city_sources)
    review = {f["value"]: f["count"] for f in facets["needs_review"]["results"]}
    assert sum(review.values()) == db.execute("SELECT count(*) FROM photos WHERE state = 'public'").fetchone()[0]
    ds = Datasette([str(db_path)])  # the reason is for archivists: it is in the catalogue, not the public copy
    ambiguous = await ds.client.get(
        "/catalogue/photos.json?_shape=objects&needs_review=1&original_filename=IMG-20240518-WA0003.jpg",
        cookies=archivist_cookies(ds, db_path))
    rows = ambiguous.json()["rows"]
    assert len(rows) == 1 and "none chosen" in rows[0]["review_reason"]
    assert rows[0]["date_source"] == "file-name" and rows[0]["demonstration_source"] is None
