"""Resolution: which source wins for each tag, with real files through extract (and the pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.record import load_facts
from ingest.catalogue.registry import Registry, load_registry
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options, resolve
from ingest.importer.worker import Job, process


def tags_for(path: Path, tmp_path: Path, options: Options = Options()):
    """Tags for one real file, the way the pipeline makes them (flags stored as source `flag`)."""
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None and result.warnings == [], (result.problem, result.warnings)
    if options.as_facts():
        result.facts["flag"] = options.as_facts()
    return resolve(result.facts, Registry())


def make(path: Path, *, exif=None, xmp=None, iptc=None) -> Path:
    return make_photo(path, width=64, height=48, seed=7, exif=exif, xmp=xmp, iptc=iptc)


# ---- date: EXIF > XMP > IPTC > file name > folder name ----------------------------------------

DATE_LEVELS = ["exif", "xmp", "iptc", "file-name", "folder-name"]
DATE_EXPECTED = {
    "exif": "2024-11-02T14:30:12",
    "xmp": "2024-11-03T10:00:00",
    "iptc": "2024-11-04T09:00:00",
    "file-name": "2024-11-05T12:00:00",
    "folder-name": "2024-11-06",
}


@pytest.mark.parametrize("winner", DATE_LEVELS)
def test_date_precedence(tmp_path, archive, winner):
    present = DATE_LEVELS[DATE_LEVELS.index(winner):]
    folder = tmp_path / ("2024-11-06 march" if "folder-name" in present else "card")
    name = "IMG_20241105_120000.jpg" if "file-name" in present else "DSC_0001.jpg"
    make(folder / name,
         exif={"DateTimeOriginal": "2024:11:02 14:30:12", "Make": "Canon"} if "exif" in present else {"Make": "Canon"},
         xmp={"photoshop:DateCreated": "2024-11-03T10:00:00"} if "xmp" in present else None,
         iptc={"Date Created": "20241104", "Time Created": "090000"} if "iptc" in present else None)
    db, store, *_ = archive
    summary = run_ingest(db, store, [str(folder)], Options())
    assert summary.imported == 1
    row = db.execute("SELECT taken_at, date, date_source FROM photos").fetchone()
    assert row == (DATE_EXPECTED[winner], DATE_EXPECTED[winner][:10], winner)


def test_xmp_exif_datetime_original_before_photoshop_date_created(tmp_path):
    path = make(tmp_path / "x.jpg", xmp={"photoshop:DateCreated": "2024-11-03T10:00:00",
                                         "exif:DateTimeOriginal": "2024-11-02T14:30:12.5+01:00"})
    v = tags_for(path, tmp_path).values
    assert (v["taken_at"], v["date_source"], v["taken_at_utc"]) == (
        "2024-11-02T14:30:12.5+01:00", "xmp", "2024-11-02T13:30:12.500+00:00")


def test_xmp_date_in_utc(tmp_path):
    path = make(tmp_path / "x.jpg", xmp={"photoshop:DateCreated": "2024-11-02T23:30:00Z"})
    v = tags_for(path, tmp_path).values
    assert (v["taken_at"], v["date"]) == ("2024-11-02T23:30:00+00:00", "2024-11-02")


@pytest.mark.parametrize("partial", ["2024-11", "2024"])
def test_partial_xmp_date_is_flagged(tmp_path, partial):
    tags = tags_for(make(tmp_path / "card" / "DSC_0001.jpg", xmp={"photoshop:DateCreated": partial}), tmp_path)
    assert tags.values["date"] is None
    assert any("only the" in r or "no date" in r for r in tags.reasons)


def test_invalid_exif_date_falls_through(tmp_path):
    path = make(tmp_path / "IMG_20241105_120000.jpg", exif={"DateTimeOriginal": "2024:13:45 25:61:00"})
    v = tags_for(path, tmp_path).values
    assert (v["taken_at"], v["date_source"]) == ("2024-11-05T12:00:00", "file-name")


def test_exif_datetime_is_the_last_resort_and_flagged(tmp_path):
    path = make(tmp_path / "card" / "DSC_0001.jpg", exif={"DateTime": "2024:11:07 18:00:00"})
    tags = tags_for(path, tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2024-11-07T18:00:00", "exif")
    assert any("DateTime" in r for r in tags.reasons)


def test_file_modification_time_is_never_a_date(tmp_path):
    path = make(tmp_path / "card" / "DSC_0001.jpg")
    tags = tags_for(path, tmp_path)
    assert (tags.values["taken_at"], tags.values["date"], tags.values["date_source"]) == (None, None, None)
    assert "no date" in tags.reasons


# ---- creator: XMP dc:creator > IPTC By-line > EXIF Artist > --creator ---------------------------

CREATOR_LEVELS = ["xmp", "iptc", "exif", "flag"]


@pytest.mark.parametrize("winner", CREATOR_LEVELS)
def test_creator_precedence(tmp_path, archive, winner):
    present = CREATOR_LEVELS[CREATOR_LEVELS.index(winner):]
    path = make(tmp_path / "card" / "DSC_0001.jpg",
                xmp={"dc:creator": ["Zoë Müller"]} if "xmp" in present else None,
                iptc={"By-line": "Press Desk Photographer"} if "iptc" in present else None,
                exif={"Artist": "Camera Owner\x00\x00"} if "exif" in present else None)
    db, store, *_ = archive
    run_ingest(db, store, [str(path)], Options(creator="Flag Person"))
    expected = {"xmp": "Zoë Müller", "iptc": "Press Desk Photographer", "exif": "Camera Owner",
                "flag": "Flag Person"}[winner]
    (photo_id, creator, source), = db.execute("SELECT id, creator, creator_source FROM photos").fetchall()
    assert (creator, source) == (expected, winner)
    assert load_facts(db, photo_id)["flag"] == {"creator": "Flag Person"}  # kept for retag


def test_no_creator_without_flag(tmp_path):
    v = tags_for(make(tmp_path / "x.jpg"), tmp_path).values
    assert (v["creator"], v["creator_source"]) == (None, None)


def test_several_creators(tmp_path):
    path = make(tmp_path / "x.jpg", xmp={"dc:creator": ["Zoë Müller", "Jane Doe"]})
    assert tags_for(path, tmp_path).values["creator"] == "Zoë Müller; Jane Doe"


# ---- title, caption, keywords -------------------------------------------------------------------

TITLE_LEVELS = [("xmp", "dc:title"), ("iptc", "Object Name"), ("xmp", "photoshop:Headline"), ("iptc", "Headline")]


@pytest.mark.parametrize("level", range(len(TITLE_LEVELS)), ids=[f"{s}-{k}" for s, k in TITLE_LEVELS])
def test_title_precedence(tmp_path, level):
    present = TITLE_LEVELS[level:]
    xmp = {k: f"{s} {k}" for s, k in present if s == "xmp"}
    iptc = {k: f"{s} {k}" for s, k in present if s == "iptc"}
    v = tags_for(make(tmp_path / "x.jpg", xmp=xmp or None, iptc=iptc or None), tmp_path).values
    source, key = TITLE_LEVELS[level]
    assert (v["title"], v["title_source"]) == (f"{source} {key}", source)


@pytest.mark.parametrize("xmp, iptc, exif, expected", [
    ({"dc:description": "XMP caption"}, {"Caption/Abstract": "IPTC caption"}, {"ImageDescription": "EXIF caption"},
     ("XMP caption", "xmp")),
    (None, {"Caption/Abstract": "IPTC caption"}, {"ImageDescription": "EXIF caption"}, ("IPTC caption", "iptc")),
    (None, None, {"ImageDescription": "Marchers on Whitehall"}, ("Marchers on Whitehall", "exif")),
    (None, None, {"ImageDescription": "OLYMPUS DIGITAL CAMERA"}, (None, None)),      # camera boilerplate
    (None, None, {"ImageDescription": "<Digimax i50 MP3, Samsung #1 MP3>"}, (None, None)),
    (None, None, {"ImageDescription": "WWL", "Make": "WWL"}, (None, None)),           # just the make again
], ids=["xmp", "iptc", "exif", "olympus-junk", "samsung-junk", "make-again"])
def test_caption_precedence(tmp_path, xmp, iptc, exif, expected):
    v = tags_for(make(tmp_path / "x.jpg", xmp=xmp, iptc=iptc, exif=exif), tmp_path).values
    assert (v["caption"], v["caption_source"]) == expected


def test_keywords_merged_from_xmp_and_iptc(tmp_path):
    path = make(tmp_path / "x.jpg", xmp={"dc:subject": ["Gaza", "ceasefire"]},
                iptc={"Keywords": ["gaza", "London", "Ceasefire", "march"]})
    v = tags_for(path, tmp_path).values
    assert json.loads(v["keywords"]) == ["Gaza", "ceasefire", "London", "march"]


def test_no_keywords(tmp_path):
    assert tags_for(make(tmp_path / "x.jpg"), tmp_path).values["keywords"] is None


# ---- GPS ----------------------------------------------------------------------------------------

def test_exif_gps_before_xmp_gps(tmp_path):
    path = make(tmp_path / "x.jpg", exif={"GPSLatitude": 51.5033, "GPSLongitude": -0.1276},
                xmp={"exif:GPSLatitude": "48,8.1N", "exif:GPSLongitude": "11,34.5E"})
    v = tags_for(path, tmp_path).values
    assert (v["latitude"], v["longitude"], v["location_source"]) == (
        pytest.approx(51.5033, abs=1e-6), pytest.approx(-0.1276, abs=1e-6), "gps")


def test_xmp_gps_when_exif_has_none(tmp_path):
    path = make(tmp_path / "x.jpg", exif={"GPSLatitude": 0.0, "GPSLongitude": 0.0},
                xmp={"exif:GPSLatitude": "48,8.1N", "exif:GPSLongitude": "11,34.5E"})
    v = tags_for(path, tmp_path).values
    assert (v["latitude"], v["longitude"]) == (pytest.approx(48.135), pytest.approx(11.575))


# ---- licence: exact SPDX or nothing ---------------------------------------------------------------

@pytest.mark.parametrize("xmp, iptc, exif, flag, expected", [
    ({"cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"}, None, None, None,
     ("CC-BY-SA-4.0", "xmp")),
    ({"cc:license": "http://creativecommons.org/licenses/by-nc-nd/3.0/"}, None, None, None,
     ("CC-BY-NC-ND-3.0", "xmp")),
    ({"cc:license": "https://creativecommons.org/publicdomain/zero/1.0/"}, None, None, None, ("CC0-1.0", "xmp")),
    ({"xmpRights:WebStatement": "https://creativecommons.org/licenses/by/2.0/deed.en"}, None, None, None,
     ("CC-BY-2.0", "xmp")),
    ({"xmpRights:UsageTerms": "Licensed under CC BY 4.0"}, None, None, None, ("CC-BY-4.0", "xmp")),
    ({"dc:rights": "© 2024 Zoë Müller, CC BY-SA 4.0"}, None, None, None, ("CC-BY-SA-4.0", "xmp")),
    (None, {"Copyright Notice": "(c) Jane Doe, CC-BY-NC 4.0"}, None, None, ("CC-BY-NC-4.0", "iptc")),
    (None, None, {"Copyright": "Creative Commons Attribution-ShareAlike 4.0"}, None, ("CC-BY-SA-4.0", "exif")),
    (None, None, {"Copyright": "CC0"}, None, ("CC0-1.0", "exif")),
    # the same licence said three ways is one licence
    ({"cc:license": "https://creativecommons.org/licenses/by-sa/4.0/", "dc:rights": "CC BY-SA 4.0"},
     {"Copyright Notice": "CC-BY-SA-4.0"}, {"Copyright": "cc by-sa 4.0"}, None, ("CC-BY-SA-4.0", "xmp")),
    # the file's own licence, not the default
    ({"cc:license": "https://creativecommons.org/licenses/by-nc/4.0/"}, None, None, "CC-BY-SA-4.0",
     ("CC-BY-NC-4.0", "xmp")),
    # nothing in the file: the default, from the flag
    (None, None, {"Copyright": "© 2005 Jane Doe"}, "CC-BY-SA-4.0", ("CC-BY-SA-4.0", "flag")),
], ids=["cc-license", "cc-license-3.0", "cc0-url", "web-statement-deed", "usage-terms", "dc-rights-short",
        "iptc-short", "exif-long", "exif-cc0", "all-agree", "file-over-flag", "flag-default"])
def test_licence_exact(tmp_path, xmp, iptc, exif, flag, expected):
    tags = tags_for(make(tmp_path / "x.jpg", xmp=xmp, iptc=iptc, exif=exif), tmp_path, Options(licence=flag))
    assert (tags.values["licence_id"], tags.values["licence_source"]) == expected
    assert not [r for r in tags.reasons if "licen" in r]


@pytest.mark.parametrize("flag", [None, "CC-BY-SA-4.0"])
@pytest.mark.parametrize("where", ["dc:rights", "iptc", "exif"])
def test_licence_without_version_is_not_guessed(tmp_path, where, flag):
    text = "CC BY-NC"
    path = make(tmp_path / "x.jpg", xmp={"dc:rights": text} if where == "dc:rights" else None,
                iptc={"Copyright Notice": text} if where == "iptc" else None,
                exif={"Copyright": text} if where == "exif" else None)
    tags = tags_for(path, tmp_path, Options(licence=flag))
    assert (tags.values["licence_id"], tags.values["licence_source"]) == (None, None)
    assert tags.values["licence_text"] == text
    assert any("no exact licence" in r for r in tags.reasons)


def test_licence_without_version_in_the_catalogue(tmp_path, archive):
    db, store, *_ = archive
    path = make(tmp_path / "x.jpg", xmp={"dc:rights": "Zoë Müller, CC BY-NC"})
    run_ingest(db, store, [str(path)], Options(licence="CC-BY-SA-4.0"))
    licence_id, text, review, reason = db.execute(
        "SELECT licence_id, licence_text, needs_review, review_reason FROM photos").fetchone()
    assert (licence_id, text, review) == (None, "Zoë Müller, CC BY-NC", 1)
    assert "no exact licence" in reason


@pytest.mark.parametrize("xmp, iptc, exif", [
    ({"cc:license": "https://creativecommons.org/licenses/by/4.0/"}, {"Copyright Notice": "CC BY-SA 4.0"}, None),
    ({"dc:rights": "CC BY-NC 4.0"}, None, {"Copyright": "CC BY-NC 2.0"}),
    ({"cc:license": "https://creativecommons.org/publicdomain/zero/1.0/"}, None, {"Copyright": "CC BY 4.0"}),
], ids=["xmp-vs-iptc", "versions-differ", "cc0-vs-by"])
@pytest.mark.parametrize("flag", [None, "CC-BY-SA-4.0"])
def test_licences_that_disagree_are_flagged(tmp_path, xmp, iptc, exif, flag):
    tags = tags_for(make(tmp_path / "x.jpg", xmp=xmp, iptc=iptc, exif=exif), tmp_path, Options(licence=flag))
    assert (tags.values["licence_id"], tags.values["licence_source"]) == (None, None)
    assert any("licences disagree" in r for r in tags.reasons)


def test_no_licence_anywhere(tmp_path):
    tags = tags_for(make(tmp_path / "x.jpg", exif={"Copyright": "© 2024 Jane Doe"}), tmp_path)
    assert (tags.values["licence_id"], tags.values["licence_text"]) == (None, "© 2024 Jane Doe")
    assert "no licence" in tags.reasons


@pytest.mark.parametrize("key", ["cc:license", "xmpRights:WebStatement"])
def test_unparseable_licence_url_does_not_take_the_default(tmp_path, key):
    path = make(tmp_path / "x.jpg", xmp={key: "https://creativecommons.org/licenses/by-nc/"})
    tags = tags_for(path, tmp_path, Options(licence="CC-BY-SA-4.0"))
    assert tags.values["licence_id"] is None
    assert any("licen" in r for r in tags.reasons)


# ---- resolution is pure: stored facts give the same tags ------------------------------------------

def test_stored_facts_resolve_to_the_same_tags(tmp_path, archive):
    db, store, *_ = archive
    card = tmp_path / "card"
    make(card / "IMG_20241105_120000.jpg",
         exif={"DateTimeOriginal": "2024:11:02 14:30:12", "SubSecTimeOriginal": "040", "OffsetTimeOriginal": "+01:00",
               "Artist": "Camera Owner", "Copyright": "CC BY-NC 4.0", "GPSLatitude": 51.5033, "GPSLongitude": -0.1276},
         xmp={"dc:title": "Whitehall", "dc:subject": ["gaza"]},
         iptc={"Keywords": ["London"], "Date Created": "20241104", "By-line": "Press Desk"})
    make(card / "20250315_141000.jpg", iptc={"Copyright Notice": "CC BY-NC"})
    run_ingest(db, store, [str(card)], Options(creator="Flag Person", licence="CC-BY-SA-4.0"))
    columns = ["taken_at", "taken_at_utc", "date", "date_source", "creator", "creator_source", "title", "keywords",
               "latitude", "longitude", "licence_id", "licence_source", "licence_text"]
    registry = load_registry(db)
    rows = db.execute(f"SELECT original_filename, id, {', '.join(columns)} FROM photos").fetchall()
    assert len(rows) == 2
    for _, photo_id, *stored in rows:
        again = resolve(load_facts(db, photo_id), registry).values
        assert [again[c] for c in columns] == stored
    by_name = {name: dict(zip(columns, values)) for name, _, *values in rows}
    camera = by_name["IMG_20241105_120000.jpg"]
    assert (camera["taken_at"], camera["creator"], camera["licence_id"]) == (
        "2024-11-02T14:30:12.040+01:00", "Press Desk", "CC-BY-NC-4.0")
    phone = by_name["20250315_141000.jpg"]
    assert (phone["taken_at"], phone["creator"], phone["licence_id"]) == ("2025-03-15T14:10:00", "Flag Person", None)


# ---- place names from IPTC ------------------------------------------------------------------------

@pytest.mark.parametrize("city, code, expected", [("Hintertux", "AUT", "AT"), ("Ballykilleen", "IRL", "IE")])
def test_iptc_three_letter_country_code(tmp_path, archive, city, code, expected):
    db, store, *_ = archive
    path = make(tmp_path / "x.jpg", iptc={"City": city, "Country/Primary Location Code": code})
    run_ingest(db, store, [str(path)], Options())
    row = db.execute("SELECT c.name, c.country_code FROM photos p JOIN cities c ON c.id = p.city_id").fetchone()
    assert row[0] == city
    assert row[1] in (expected, None)   # the right country, or none: never another country


def test_all_rights_reserved_in_the_file_is_not_overridden_by_the_import_default():
    from ingest.importer.resolve import resolve_licence

    facts = {"exif": {"Copyright": "© 2024 Jane Doe. All rights reserved."}}
    licence, source, text, reasons = resolve_licence(facts, "CC-BY-4.0")
    assert licence is None and "all rights reserved" in reasons[0].lower() and "CC-BY-4.0" in reasons[0]
    assert resolve_licence(facts, None)[:2] == ("all-rights-reserved", "exif")
