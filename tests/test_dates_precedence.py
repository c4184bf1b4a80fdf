"""Date precedence (issue 15, item 1): capture dates, then digitisation dates (EXIF
DateTimeDigitized, XMP xmp:CreateDate / exif:DateTimeDigitized), then PNG Creation Time, then names;
EXIF DateTime (an edit time) only as the last resort, flagged, with its offset. Real files."""

from __future__ import annotations

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.registry import Registry
from ingest.importer.resolve import resolve
from ingest.importer.worker import Job, process


def tags_of(path, tmp_path):
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None, result.problem
    return resolve(result.facts, Registry())


def photo(tmp_path, name="IMG.jpg", **kwargs):
    return make_photo(tmp_path / name, width=64, height=48, **kwargs)


def test_xmp_create_date_alone_is_the_date(tmp_path):
    # 13 files of the reference corpus had their only date in xmp:CreateDate.
    tags = tags_of(photo(tmp_path, xmp={"xmp:CreateDate": "2023-05-01T10:15:30+02:00"}), tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2023-05-01T10:15:30+02:00", "xmp")
    assert not [r for r in tags.reasons if "date" in r]


def test_xmp_create_date_beats_an_edit_time(tmp_path):
    # EXIF DateTime is when the file was last written: 64 and 364 days off in two real files.
    path = photo(tmp_path, exif={"DateTime": "2024:03:04 09:00:00"}, xmp={"xmp:CreateDate": "2023-12-31T23:59:00"})
    tags = tags_of(path, tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2023-12-31T23:59:00", "xmp")
    assert tags.values["date"] == "2023-12-31"


def test_exif_digitized_is_a_capture_time_and_beats_the_edit_time(tmp_path):
    path = photo(tmp_path, exif={"DateTime": "2024:03:04 09:00:00", "DateTimeDigitized": "2022:07:08 18:20:00"})
    tags = tags_of(path, tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2022-07-08T18:20:00", "exif")
    assert not [r for r in tags.reasons if "edited" in r]


def test_capture_date_beats_digitised_dates(tmp_path):
    path = photo(tmp_path, exif={"DateTimeOriginal": "2021:01:02 03:04:05", "DateTimeDigitized": "2022:07:08 18:20:00"},
                 xmp={"xmp:CreateDate": "2023-05-01T10:15:30"})
    assert tags_of(path, tmp_path).values["taken_at"] == "2021-01-02T03:04:05"


def test_xmp_digitized_date(tmp_path):
    tags = tags_of(photo(tmp_path, xmp={"exif:DateTimeDigitized": "2020-02-29T12:00:00-05:00"}), tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2020-02-29T12:00:00-05:00", "xmp")


def test_modify_date_is_the_last_resort_flagged_and_keeps_its_offset(tmp_path):
    path = photo(tmp_path, exif={"DateTime": "2024:03:04 09:00:00", "OffsetTime": "+05:30"})
    tags = tags_of(path, tmp_path)
    assert (tags.values["taken_at"], tags.values["date_source"]) == ("2024-03-04T09:00:00+05:30", "exif")
    assert tags.values["taken_at_utc"] == "2024-03-04T03:30:00+00:00"
    assert any("may be when the file was edited" in r for r in tags.reasons)


def test_file_name_beats_the_edit_time(tmp_path):
    path = photo(tmp_path, name="PXL_20250315_131500123.jpg", exif={"DateTime": "2025:06:01 08:00:00"})
    tags = tags_of(path, tmp_path)
    assert (tags.values["date"], tags.values["date_source"]) == ("2025-03-15", "file-name")


@pytest.mark.parametrize("junk", ["0000-00-00T00:00:00", "    ", "0000:00:00 00:00:00"])
def test_junk_create_dates_are_still_rejected(tmp_path, junk):
    tags = tags_of(photo(tmp_path, xmp={"xmp:CreateDate": junk}), tmp_path)
    assert tags.values["taken_at"] is None and "no date" in tags.reasons
