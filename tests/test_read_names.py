"""Dates in file and folder names: what phones, messengers and photographers' folders look like."""

from __future__ import annotations

import pytest
from fixtures.synth import make_photo

from ingest.importer.pipeline import run_ingest
from ingest.importer.read.names import date_from_filename, date_from_folder, read_names
from ingest.importer.resolve import Options


@pytest.mark.parametrize("stem, expected", [
    ("IMG_20241102_143012", "2024-11-02T14:30:12"),            # Android camera
    ("PXL_20250315_131500123", "2025-03-15T13:15:00"),         # Pixel: milliseconds dropped
    ("PXL_20250315_131500123.MP", "2025-03-15T13:15:00"),      # Pixel motion photo (stem of .MP.jpg)
    ("IMG-20240518-WA0003", "2024-05-18"),                     # WhatsApp: the date only
    ("VID-20240518-WA0003", "2024-05-18"),
    ("20250315_141000", "2025-03-15T14:10:00"),                # Samsung
    ("Screenshot_2024-11-02-14-30-12", "2024-11-02T14:30:12"),
    ("Screenshot_20241102-143012", "2024-11-02T14:30:12"),
    ("Screenshot 2024-11-02 at 14.30.12", "2024-11-02"),       # macOS: the time is past " at "
    ("signal-2024-11-02-143012", "2024-11-02T14:30:12"),
    ("2024-11-02 14.30.12", "2024-11-02T14:30:12"),            # Dropbox camera uploads
    ("IMG_20241102_253012", "2024-11-02"),                     # impossible time: the date alone
])
def test_dates_in_file_names(stem, expected):
    assert date_from_filename(stem) == expected


@pytest.mark.parametrize("stem", [
    "IMG_20241332_101010",    # month 13, day 32
    "IMG_20240230_101010",    # 30 February
    "IMG_20241300",
    "DSC_0042", "IMG_1234", "DSCN0010", "P1020345", "_MG_4821",
    "Canon_40D", "WWL_(Polaroid)_ION230",
    "3647bab10b48f496c36770da4d18c161",    # a hash, not a date
    "120241102",                           # digits glued on: no date boundary
    "IMG_18991231_120000",                 # before 1990: a default clock, not a date
])
def test_no_date_in_file_name(stem):
    assert date_from_filename(stem) is None


@pytest.mark.parametrize("folder, expected", [
    ("2024-11-02", "2024-11-02"),
    ("2024_11_02", "2024-11-02"),
    ("2024-11-02 London ceasefire march", "2024-11-02"),
    ("London 2024-11-02", "2024-11-02"),
    ("2024-05", "2024-05"),
    ("2 November 2024", "2024-11-02"),
    ("2nd November 2024", "2024-11-02"),
    ("Munich 18 May 2024", "2024-05-18"),
    ("18 Sept 2024", "2024-09-18"),
    ("November 2024", "2024-11"),
    ("Nov. 2024", "2024-11"),
])
def test_dates_in_folder_names(folder, expected):
    assert date_from_folder(folder) == expected


@pytest.mark.parametrize("folder", [
    "2024-13", "2024-00", "2024-02-30", "32 November 2024", "DCIM", "100CANON", "card 2", "holiday",
    "Smarch 2024",
])
def test_no_date_in_folder_name(folder):
    assert date_from_folder(folder) is None


def test_a_march_is_not_march():
    assert date_from_folder("Gaza ceasefire march 2024") is None


def test_read_names_from_a_real_path(tmp_path):
    path = make_photo(tmp_path / "2024-11-02 London" / "IMG_20241102_143012.jpg", width=64, height=48)
    facts = read_names(path)
    assert facts["file-name"]["date"] == "2024-11-02T14:30:12"
    assert facts["file-name"]["name"] == "IMG_20241102_143012.jpg"
    assert facts["folder-name"]["date"] == "2024-11-02"
    assert facts["folder-name"]["folder"] == "2024-11-02 London"


def test_nearest_dated_folder_wins(tmp_path):
    path = make_photo(tmp_path / "2024" / "2 November 2024" / "DCIM" / "DSC_0001.jpg", width=64, height=48)
    facts = read_names(path)
    assert "file-name" not in facts
    assert facts["folder-name"]["date"] == "2024-11-02"
    assert facts["folder-name"]["folder"] == "2 November 2024"


def test_no_names_with_a_date(tmp_path):
    path = make_photo(tmp_path / "card" / "DCIM" / "DSC_0001.jpg", width=64, height=48)
    facts = read_names(path)
    assert "file-name" not in facts
    assert "date" not in facts.get("folder-name", {})


# ---- in the catalogue -------------------------------------------------------------------------

def _date_row(db, name):
    return db.execute("SELECT taken_at, date, date_source, review_reason FROM photos WHERE original_filename = ?",
                      [name]).fetchone()


def test_names_give_the_date_of_photos_without_metadata(tmp_path, archive):
    db, store, *_ = archive
    card = tmp_path / "card"
    for seed, rel in enumerate([
        "phone/PXL_20250315_131500123.jpg",
        "phone/IMG-20240518-WA0003.jpg",
        "2 November 2024/DSC_0001.jpg",
        "2024-05/DSC_0002.jpg",
        "misc/DSC_0003.jpg",
    ]):
        make_photo(card / rel, width=64, height=48, seed=seed)
    summary = run_ingest(db, store, [str(card)], Options())
    assert (summary.imported, summary.problems) == (5, 0)

    assert _date_row(db, "PXL_20250315_131500123.jpg")[:3] == ("2025-03-15T13:15:00", "2025-03-15", "file-name")
    assert _date_row(db, "IMG-20240518-WA0003.jpg")[:3] == ("2024-05-18", "2024-05-18", "file-name")
    assert _date_row(db, "DSC_0001.jpg")[:3] == ("2024-11-02", "2024-11-02", "folder-name")
    taken_at, date, source, reason = _date_row(db, "DSC_0002.jpg")
    assert (taken_at, date, source) == ("2024-05", None, "folder-name")
    assert "only the month is known" in reason
    taken_at, date, source, reason = _date_row(db, "DSC_0003.jpg")
    assert (taken_at, date, source) == (None, None, None)
    assert "no date" in reason
