"""EXIF reading: real files written by `make_photo` (and real camera files), read back by our readers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import exifread
import pytest
from fixtures.synth import make_photo
from PIL import Image

from ingest.catalogue.registry import Registry
from ingest.errors import MetadataProblem
from ingest.importer.pipeline import run_ingest
from ingest.importer.read.exif import read_exif, read_exif_block, read_exif_pillow
from ingest.importer.resolve import Options, resolve
from ingest.importer.worker import Job, process
from ingest.media import exifblock
from ingest.media.images import file_exif

CORPUS = Path(__file__).parent / "corpus"

WHEN = {"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00", "SubSecTimeOriginal": "123"}


def photo(tmp_path: Path, name: str = "photo.jpg", fmt: str = "JPEG", **exif) -> Path:
    return make_photo(tmp_path / name, width=64, height=48, seed=3, fmt=fmt, exif=exif or None)


def extracted(path: Path, tmp_path: Path):
    """What the pipeline's extract stage reads from one file (no store writes)."""
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None, result.problem
    return result


def exifread_tags(path: Path) -> dict:
    return exifread.process_file(io.BytesIO(path.read_bytes()), details=False)


# ---- dates ------------------------------------------------------------------------------------

def test_datetime_original_with_offset_and_subseconds(tmp_path):
    path = photo(tmp_path, **WHEN)
    facts = read_exif(path.read_bytes())
    assert facts["DateTimeOriginal"] == "2024:11:02 14:30:12"
    assert facts["OffsetTimeOriginal"] == "+00:00"
    assert facts["SubSecTimeOriginal"] == "123"

    tags = resolve(extracted(path, tmp_path).facts, Registry())
    assert tags.values["taken_at"] == "2024-11-02T14:30:12.123+00:00"
    assert tags.values["date"] == "2024-11-02"
    assert tags.values["date_source"] == "exif"
    assert tags.values["taken_at_utc"] == "2024-11-02T14:30:12.123+00:00"


def test_offset_keeps_the_local_calendar_date(tmp_path):
    # 23:30 in New York is already the next day in UTC: the photo's date is still the local one.
    path = photo(tmp_path, DateTimeOriginal="2024:11:02 23:30:00", OffsetTimeOriginal="-05:00")
    tags = resolve(extracted(path, tmp_path).facts, Registry())
    assert tags.values["taken_at"] == "2024-11-02T23:30:00-05:00"
    assert tags.values["date"] == "2024-11-02"
    assert tags.values["taken_at_utc"] == "2024-11-03T04:30:00+00:00"


def test_datetime_original_in_the_catalogue(tmp_path, archive):
    db, store, *_ = archive
    path = photo(tmp_path, **WHEN)
    summary = run_ingest(db, store, [str(path)], Options())
    assert summary.imported == 1
    row = db.execute("SELECT taken_at, date, date_source FROM photos").fetchone()
    assert row == ("2024-11-02T14:30:12.123+00:00", "2024-11-02", "exif")


@pytest.mark.parametrize("junk", ["0000:00:00 00:00:00", "    :  :     :  :  ", "    :  :  "])
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])  # exifread, and the Pillow fallback
def test_junk_dates_are_not_facts(tmp_path, junk, fmt):
    path = photo(tmp_path, f"IMG_20240518_101500.{fmt.lower()}", fmt=fmt, Make="Canon",
                 DateTimeOriginal=junk, DateTime=junk)
    facts = extracted(path, tmp_path).facts
    assert facts["exif"]["Make"] == "Canon"          # the block was read...
    assert "DateTimeOriginal" not in facts["exif"]   # ...the blank dates were not kept
    assert "DateTime" not in facts["exif"]
    tags = resolve(facts, Registry())
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2024-05-18T10:15:00", "file-name")


def test_junk_date_raw_value_is_really_in_the_file(tmp_path):
    path = photo(tmp_path, DateTimeOriginal="0000:00:00 00:00:00")
    assert str(exifread_tags(path)["EXIF DateTimeOriginal"]) == "0000:00:00 00:00:00"
    assert "DateTimeOriginal" not in read_exif(path.read_bytes())


# ---- GPS --------------------------------------------------------------------------------------

def test_gps_south_and_west_are_negative(tmp_path):
    path = photo(tmp_path, GPSLatitude=-33.8688, GPSLongitude=-151.2093, GPSAltitude=-12.5)
    tags = exifread_tags(path)
    assert str(tags["GPS GPSLatitudeRef"]) == "S" and str(tags["GPS GPSLongitudeRef"]) == "W"
    assert all(float(v) >= 0 for v in tags["GPS GPSLatitude"].values)  # the sign is only in the ref
    facts = read_exif(path.read_bytes())
    assert facts["GPSLatitude"] == pytest.approx(-33.8688, abs=1e-6)
    assert facts["GPSLongitude"] == pytest.approx(-151.2093, abs=1e-6)
    assert facts["GPSAltitude"] == pytest.approx(-12.5)


def test_gps_north_and_east_are_positive(tmp_path):
    path = photo(tmp_path, GPSLatitude=51.5033, GPSLongitude=0.1196)
    facts = read_exif(path.read_bytes())
    assert facts["GPSLatitude"] == pytest.approx(51.5033, abs=1e-6)
    assert facts["GPSLongitude"] == pytest.approx(0.1196, abs=1e-6)


def test_gps_zero_zero_is_dropped(tmp_path, archive):
    path = photo(tmp_path, GPSLatitude=0.0, GPSLongitude=0.0, GPSAltitude=30, Make="Canon")
    tags = exifread_tags(path)
    assert "GPS GPSLatitude" in tags and "GPS GPSLongitude" in tags  # written, with a 0/0 fix
    facts = read_exif(path.read_bytes())
    assert facts["Make"] == "Canon"
    assert not {"GPSLatitude", "GPSLongitude", "GPSAltitude"} & set(facts)
    db, store, *_ = archive
    run_ingest(db, store, [str(path)], Options())
    assert db.execute("SELECT latitude, longitude, location_source FROM photos").fetchone() == (None, None, None)


def test_gps_block_without_coordinates_is_dropped(tmp_path):
    # An altitude alone: the GPS IFD exists (with its version tag) but names no place.
    path = photo(tmp_path, GPSAltitude=120, Make="Canon")
    tags = exifread_tags(path)
    assert "GPS GPSVersionID" in tags and "GPS GPSLatitude" not in tags
    assert not {"GPSLatitude", "GPSLongitude", "GPSAltitude"} & set(read_exif(path.read_bytes()))


def test_gps_block_with_only_the_version_tag_camera_file():
    # A real Canon 40D file whose GPS IFD holds GPSVersionID and nothing else.
    path = CORPUS / "exif-samples/jpg/Canon_40D.jpg"
    tags = exifread_tags(path)
    assert [t for t in tags if t.startswith("GPS ")] == ["GPS GPSVersionID"]
    facts = read_exif(path.read_bytes())
    assert facts["DateTimeOriginal"] == "2008:05:30 15:56:01"
    assert not [k for k in facts if k.startswith("GPS")]


@pytest.mark.parametrize("name, lat, lon", [
    ("exif-samples/jpg/Kodak_CX7530.jpg", -0.3713, 36.0564167),       # just south of the equator
    ("exif-samples/jpg/gps/DSCN0010.jpg", 43.4674483, 11.8851267),
    ("exif-samples/heic/IMG_5195.HEIC", 39.0513444, -94.2887722),     # west of Greenwich
])
def test_gps_from_camera_files(name, lat, lon):
    facts = read_exif((CORPUS / name).read_bytes())
    assert facts["GPSLatitude"] == pytest.approx(lat, abs=1e-6)
    assert facts["GPSLongitude"] == pytest.approx(lon, abs=1e-6)


# ---- text -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "TIFF", "WEBP", "HEIC"])
def test_nul_padding_is_stripped(tmp_path, fmt):
    path = photo(tmp_path, f"nul.{fmt.lower()}", fmt=fmt, Make="Canon\x00\x00\x00", Model="EOS R6\x00",
                 Artist="Jane Doe\x00\x00\x00\x00", Copyright="\x00\x00\x00")
    facts = extracted(path, tmp_path).facts["exif"]
    assert facts["Make"] == "Canon"
    assert facts["Model"] == "EOS R6"
    assert facts["Artist"] == "Jane Doe"
    assert "Copyright" not in facts  # nothing but padding: absent, not ""


def test_nul_padding_raw_bytes_reach_the_reader(tmp_path):
    path = photo(tmp_path, Make="Canon\x00\x00\x00")
    assert b"Canon\x00\x00\x00" in path.read_bytes()


def test_utf8_text_through_exifread(tmp_path):
    path = photo(tmp_path, Artist="Zoë Müller", Copyright="© 2024 Zoë Müller")
    facts = read_exif(path.read_bytes())
    assert facts["Artist"] == "Zoë Müller"
    assert facts["Copyright"] == "© 2024 Zoë Müller"


# ---- exifread first, Pillow where it fails ----------------------------------------------------

FULL = {**WHEN, "Make": "Canon", "Model": "EOS R6", "Artist": "Jane Doe", "Orientation": 1,
        "GPSLatitude": -33.8688, "GPSLongitude": -151.2093}


@pytest.mark.parametrize("fmt, exifread_outcome", [
    ("JPEG", "reads"), ("PNG", "reads"), ("TIFF", "reads"), ("AVIF", "reads"),
    ("WEBP", "finds nothing"),     # exifread does not look in the WebP EXIF chunk these files use
    ("HEIC", "raises"),            # exifread's HEIF parser fails on pillow-heif's files
])
def test_exif_in_every_format_with_pillow_fallback(tmp_path, fmt, exifread_outcome):
    path = photo(tmp_path, f"full.{fmt.lower()}", fmt=fmt, **FULL)
    data = path.read_bytes()
    if exifread_outcome == "raises":
        with pytest.raises(MetadataProblem):
            read_exif(data)
    elif exifread_outcome == "finds nothing":
        assert read_exif(data) == {}
    else:
        assert read_exif(data)["DateTimeOriginal"] == "2024:11:02 14:30:12"

    result = extracted(path, tmp_path)
    assert result.warnings == []  # the fallback worked: no "EXIF unreadable" warning
    exif = result.facts["exif"]
    assert exif["DateTimeOriginal"] == "2024:11:02 14:30:12"
    assert exif["OffsetTimeOriginal"] == "+00:00"
    assert exif["SubSecTimeOriginal"] == "123"
    assert (exif["Make"], exif["Model"], exif["Artist"]) == ("Canon", "EOS R6", "Jane Doe")
    assert exif["GPSLatitude"] == pytest.approx(-33.8688, abs=1e-6)
    assert exif["GPSLongitude"] == pytest.approx(-151.2093, abs=1e-6)
    tags = resolve(result.facts, Registry())
    assert tags.values["taken_at"] == "2024-11-02T14:30:12.123+00:00"


@pytest.mark.parametrize("fmt", ["WEBP", "HEIC"])
def test_pillow_fallback_keeps_utf8_text(tmp_path, fmt):
    path = photo(tmp_path, f"utf8.{fmt.lower()}", fmt=fmt, Artist="Zoë Müller", Copyright="© Zoë Müller")
    exif = extracted(path, tmp_path).facts["exif"]
    assert exif["Artist"] == "Zoë Müller"
    assert exif["Copyright"] == "© Zoë Müller"


def test_heic_named_jpg_without_exif(tmp_path):
    # HEIC content with a .jpg name: no EXIF for either reader, and no warning for that.
    path = CORPUS / "exif-py/tests/resources/heic/heic_hdlr_box.jpg"
    result = extracted(path, tmp_path)
    assert result.format == "HEIF"
    assert "exif" not in result.facts
    assert result.warnings == []


def test_avif_camera_file(tmp_path):
    result = extracted(CORPUS / "exif-py/tests/resources/avif/mountains.avif", tmp_path)
    exif = result.facts["exif"]
    assert result.format == "AVIF"
    assert (exif["Make"], exif["Model"]) == ("OLYMPUS CORPORATION", "E-PL8")
    assert exif["DateTimeOriginal"] == "2024:04:05 10:59:24"
    assert not [k for k in exif if k.startswith("GPS")]  # GPS IFD without coordinates


def test_iphone_heic_offset(tmp_path):
    result = extracted(CORPUS / "exif-samples/heic/IMG_5195.HEIC", tmp_path)
    exif = result.facts["exif"]
    assert exif["OffsetTimeOriginal"] == "-05:00"
    tags = resolve(result.facts, Registry())
    assert tags.values["taken_at"] == "2021-04-11T15:47:53.054-05:00"
    assert tags.values["date"] == "2021-04-11"
    assert tags.values["taken_at_utc"] == "2021-04-11T20:47:53.054+00:00"


def test_orientation_camera_file(tmp_path):
    result = extracted(CORPUS / "exif-samples/jpg/orientation/landscape_6.jpg", tmp_path)
    assert result.facts["exif"]["Orientation"] == 6
    assert result.facts["image"]["Orientation"] == 6
    assert result.width > result.height  # 6 = rotated: stored portrait, displayed landscape


# ---- privacy ----------------------------------------------------------------------------------

SERIAL = "SN-0123456789"


def test_serial_numbers_never_become_facts(tmp_path, archive):
    path = photo(tmp_path, BodySerialNumber=SERIAL, Make="Canon", **WHEN)
    assert SERIAL.encode() in path.read_bytes()
    assert str(exifread_tags(path)["EXIF BodySerialNumber"]) == SERIAL  # it is really there to read

    result = extracted(path, tmp_path)
    flat = json.dumps(result.facts)
    assert SERIAL not in flat
    assert not [k for values in result.facts.values() for k in values if "serial" in k.lower()]

    db, store, *_ = archive
    run_ingest(db, store, [str(path)], Options())
    assert db.execute("SELECT count(*) FROM metadata WHERE value LIKE ? OR key LIKE '%erial%'",
                      [f"%{SERIAL}%"]).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM metadata WHERE source = 'exif'").fetchone()[0] > 0


def test_serial_numbers_never_become_facts_through_the_pillow_fallback(tmp_path):
    path = photo(tmp_path, "serial.webp", fmt="WEBP", BodySerialNumber=SERIAL, Make="Canon")
    result = extracted(path, tmp_path)
    assert result.facts["exif"]["Make"] == "Canon"
    assert SERIAL not in json.dumps(result.facts)


# ---- one walk of the EXIF block (media/exifblock.py): the same facts as Pillow's full parse -------

def _exif_blocks(root: Path):
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() not in (".md", ".tsv", ".txt", ".rst")):
        try:
            with Image.open(path) as im:
                raw = im.info.get("exif")
                pillow = read_exif_pillow(file_exif(im)) if isinstance(raw, bytes) and raw else None
        except (OSError, ValueError, SyntaxError):   # not an image Pillow opens
            continue
        if pillow is not None:
            yield path, raw, pillow


def test_one_walk_of_the_exif_block_reads_what_pillow_reads(shared_corpus, tmp_path):
    """Every real file of both corpora that carries an EXIF block (JPEG, HEIC, AVIF, WebP; cameras
    and phones), and a made one with GPS south and west, UTF-8 text and Windows XP fields."""
    made = make_photo(tmp_path / "made.jpg", width=64, height=48, seed=4, exif={
        "Make": "Canon", "Artist": "Олена Коваленко", "DateTimeOriginal": "2024:05:18 12:00:00",
        "GPSLatitude": -33.8568, "GPSLongitude": -70.6483, "GPSAltitude": 512.5, "ExposureTime": 1 / 250,
        "FNumber": 5.6, "ISOSpeedRatings": 400, "Orientation": 6, "XPTitle": "Марш"})
    seen = 0
    for root in (CORPUS, shared_corpus, tmp_path):
        for path, raw, pillow in _exif_blocks(root):
            assert read_exif_block(raw) == pillow, path
            seen += 1
    assert seen >= 60
    facts = read_exif_block(Image.open(made).info["exif"])
    assert (facts["Artist"], facts["GPSLatitude"], facts["GPSLongitude"], facts["Orientation"]) == (
        "Олена Коваленко", -33.8568, -70.6483, 6)


def test_a_broken_exif_block_costs_only_its_broken_tags():
    """Offsets past the end, an IFD that points at itself, a huge entry count: no exception, no loop."""
    head = b"II*\x00" + (8).to_bytes(4, "little")
    entry = lambda tag, kind, n, value: (tag.to_bytes(2, "little") + kind.to_bytes(2, "little")
                                         + n.to_bytes(4, "little") + value)
    ifd = (3).to_bytes(2, "little") + entry(0x0112, 3, 1, b"\x06\x00\x00\x00") \
        + entry(0x010F, 2, 100, (4000).to_bytes(4, "little")) + entry(0x8769, 4, 1, (8).to_bytes(4, "little"))
    tags = exifblock.parse(b"Exif\x00\x00" + head + ifd + b"\x00\x00\x00\x00")
    assert tags == {(None, 0x0112): 6}
    assert exifblock.parse(b"Exif\x00\x00" + head + b"\xff\xff") == {}
    assert exifblock.parse(b"not a block") is None
