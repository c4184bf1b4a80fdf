"""IPTC-IIM (APP13 in JPEG, tag 33723 in TIFF): UTF-8 and Latin-1, repeatable datasets, dates."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from fixtures.synth import make_photo
from fixtures.writers import insert_jpeg_segments, iptc_app13, iptc_iim

from ingest.errors import MetadataProblem
from ingest.importer.pipeline import run_ingest
from ingest.importer.read.iptc import read_iptc
from ingest.importer.resolve import Options
from ingest.importer.worker import Job, process

CORPUS = Path(__file__).parent / "corpus"

RECORDS = {
    "Object Name": "Ceasefire march",
    "Keywords": ["gaza", "ceasefire", "München", "gaza"],
    "Date Created": "20241102",
    "Time Created": "143012+0100",
    "By-line": ["Zoë Müller", "Jürgen Groß"],
    "City": "München",
    "Sub-location": "Königsplatz",
    "Country": "Deutschland",
    "Country/Primary Location Code": "DEU",
    "Headline": "Tausende demonstrieren in München",
    "Credit": "Zoë Müller / Presse-Büro",
    "Copyright Notice": "© 2024 Zoë Müller",
    "Caption/Abstract": "Demonstrierende auf dem Königsplatz",
}
EXPECTED = {
    "Object Name": "Ceasefire march",
    "Keywords": ["gaza", "ceasefire", "München"],   # repeated, in order, each once
    "Date Created": "20241102",
    "Time Created": "143012+0100",
    "By-line": ["Zoë Müller", "Jürgen Groß"],
    "City": "München",
    "Sub-location": "Königsplatz",
    "Country": "Deutschland",
    "Country Code": "DEU",
    "Headline": "Tausende demonstrieren in München",
    "Credit": "Zoë Müller / Presse-Büro",
    "Copyright Notice": "© 2024 Zoë Müller",
    "Caption": "Demonstrierende auf dem Königsplatz",
}


def photo(path: Path, records=RECORDS, utf8: bool = True, fmt: str = "JPEG", **kwargs) -> Path:
    return make_photo(path, width=64, height=48, seed=2, fmt=fmt, iptc=records, iptc_utf8=utf8, **kwargs)


@pytest.mark.parametrize("utf8", [True, False], ids=["utf8-1:90", "latin1"])
@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_every_dataset_in_both_encodings(tmp_path, fmt, utf8):
    path = photo(tmp_path / f"press.{fmt.lower()}", utf8=utf8, fmt=fmt)
    data = path.read_bytes()
    # The file really is in the encoding under test.
    assert (b"\x1b%G" in data) is utf8
    assert ("München".encode("utf-8" if utf8 else "latin-1") in data)
    if not utf8:
        assert "München".encode("utf-8") not in data
    result = process(Job(str(path), len(data), 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None and result.warnings == []
    assert result.facts["iptc"] == EXPECTED


def _as_photoshop_writes_it(path: Path) -> Path:
    """Retype the TIFF's IPTC-NAA entry (33723) from UNDEFINED bytes to LONGs, as Photoshop writes it."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        tag, kind, n = struct.unpack_from("<HHI", data, entry)
        if tag == 33723:
            assert kind == 7 and n % 4 == 0
            struct.pack_into("<HI", data, entry + 2, 4, n // 4)
            path.write_bytes(bytes(data))
            return path
    raise AssertionError("no IPTC-NAA tag")


@pytest.mark.filterwarnings("ignore:Metadata Warning, tag 33723")
def test_tiff_iptc_typed_long_like_photoshop(tmp_path):
    records = {"City": "London", "By-line": "Jane Doe"}
    while len(iptc_iim(records)) % 4:           # LONGs: pad to whole 4-byte words (trailing spaces are stripped)
        records["By-line"] += " "
    path = _as_photoshop_writes_it(photo(tmp_path / "ps.tif", records, fmt="TIFF"))
    assert b"\x1c\x02\x5a\x00\x06London" in path.read_bytes()   # the block is there, byte for byte
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None
    assert result.facts.get("iptc") == {"City": "London", "By-line": ["Jane Doe"]}


def test_read_iptc_from_jpeg_bytes(tmp_path):
    assert read_iptc(photo(tmp_path / "p.jpg").read_bytes()) == EXPECTED


def test_latin1_without_declaration(tmp_path):
    path = photo(tmp_path / "p.jpg", {"By-line": "Zoë Müller", "City": "München", "Keywords": ["Köln", "Straße"]},
                 utf8=False)
    assert b"Zo\xeb M\xfcller" in path.read_bytes()
    assert read_iptc(path.read_bytes()) == {"By-line": ["Zoë Müller"], "City": "München", "Keywords": ["Köln", "Straße"]}


def test_first_value_of_a_non_repeatable_dataset_wins(tmp_path):
    path = photo(tmp_path / "p.jpg", {"City": ["London", "Paris"], "By-line": ["A", "B", "A"]})
    assert read_iptc(path.read_bytes()) == {"City": "London", "By-line": ["A", "B"]}


def test_blank_and_nul_padded_values_are_not_facts(tmp_path):
    path = photo(tmp_path / "p.jpg", {"City": "   ", "Headline": b"\x00\x00", "By-line": b"Jane Doe\x00\x00"})
    assert read_iptc(path.read_bytes()) == {"By-line": ["Jane Doe"]}


def test_no_iptc(tmp_path):
    path = make_photo(tmp_path / "p.jpg", width=64, height=48)
    assert read_iptc(path.read_bytes()) == {}
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert "iptc" not in result.facts


def test_adobe_sample_file():
    facts = read_iptc((CORPUS / "exif-samples/jpg/xmp/BlueSquare.jpg").read_bytes())
    assert facts["Object Name"] == "Blue Square Test File - .jpg"
    assert facts["Keywords"] == ["XMP", "Blue Square", "test file", "Photoshop", ".jpg"]
    assert facts["Caption"].startswith("XMPFiles BlueSquare test file")


# ---- broken blocks ----------------------------------------------------------------------------

def _jpeg_with_app13(path: Path, app13: bytes) -> Path:
    make_photo(path, width=64, height=48, seed=4, exif={"Artist": "Jane Doe"})
    path.write_bytes(insert_jpeg_segments(path.read_bytes(), app13=app13))
    return path


def test_truncated_iim_is_a_warning_not_a_failure(tmp_path, archive):
    good = iptc_app13({"City": "London", "Headline": "A headline long enough to cut"})
    # Keep the 8BIM resource size as written but cut the dataset short: a damaged press file.
    iim_start = good.index(b"\x1c\x02\x69")  # 2:105 Headline
    damaged = good[:iim_start + 12]
    path = _jpeg_with_app13(tmp_path / "cut.jpg", damaged)
    with pytest.raises(MetadataProblem, match="truncated"):
        read_iptc(path.read_bytes())
    db, store, *_ = archive
    lines = []
    summary = run_ingest(db, store, [str(path)], Options(), report=lambda *line: lines.append(line))
    assert (summary.imported, summary.problems, summary.warnings) == (1, 0, 1)
    assert [(kind, "IPTC" in message) for _, kind, message in lines] == [("metadata", True)]
    assert db.execute("SELECT creator FROM photos").fetchone() == ("Jane Doe",)


def test_photoshop_block_without_iptc_resource(tmp_path):
    # APP13 "Photoshop 3.0" with only a resolution resource (0x03ED), like the Nikon E950 sample.
    resource = b"8BIM" + struct.pack(">H", 0x03ED) + b"\x00\x00" + struct.pack(">I", 16) + bytes(16)
    path = _jpeg_with_app13(tmp_path / "ps.jpg", b"Photoshop 3.0\x00" + resource)
    assert read_iptc(path.read_bytes()) == {}


def test_named_iptc_resource_is_found(tmp_path):
    # A resource with a non-empty Pascal name: the name is padded to an even length before the size.
    iim = b"\x1c\x02\x5a\x00\x06London"
    named = b"8BIM" + struct.pack(">H", 0x0404) + b"\x04IPTC\x00" + struct.pack(">I", len(iim)) + iim
    path = _jpeg_with_app13(tmp_path / "named.jpg", b"Photoshop 3.0\x00" + named)
    assert read_iptc(path.read_bytes()) == {"City": "London"}


# ---- resolution -------------------------------------------------------------------------------

def test_iptc_date_when_there_is_no_exif_or_xmp_date(tmp_path, archive):
    db, store, *_ = archive
    path = photo(tmp_path / "DSC_0042.jpg")
    run_ingest(db, store, [str(path)], Options())
    row = db.execute("SELECT taken_at, date, date_source, taken_at_utc FROM photos").fetchone()
    assert row == ("2024-11-02T14:30:12+01:00", "2024-11-02", "iptc", "2024-11-02T13:30:12+00:00")


def test_iptc_date_without_time(tmp_path, archive):
    db, store, *_ = archive
    path = photo(tmp_path / "DSC_0042.jpg", {"Date Created": "20240518", "City": "London"})
    run_ingest(db, store, [str(path)], Options())
    assert db.execute("SELECT taken_at, date, date_source FROM photos").fetchone() == (
        "2024-05-18", "2024-05-18", "iptc")


def test_iptc_tags_in_the_catalogue(tmp_path, archive):
    db, store, *_ = archive
    path = photo(tmp_path / "press.jpg", utf8=False)
    run_ingest(db, store, [str(path)], Options())
    row = db.execute("SELECT creator, creator_source, title, title_source, caption, caption_source, keywords "
                     "FROM photos").fetchone()
    assert row == ("Zoë Müller; Jürgen Groß", "iptc", "Ceasefire march", "iptc",
                   "Demonstrierende auf dem Königsplatz", "iptc",
                   json.dumps(["gaza", "ceasefire", "München"], ensure_ascii=False))
