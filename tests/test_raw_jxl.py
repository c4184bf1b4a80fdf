"""Camera raws and JPEG XL (issue 15, item 5): imported with the original as it is, metadata read
from it, derivatives from the raw's embedded preview (or a demosaic) and from libjxl. Real files
from the shared corpus (exif-py's test resources)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import corpus_missing
from fixtures.synth import make_photo
from PIL import Image

from ingest.errors import FileProblem
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media import images
from ingest.media.store import Store

RESOURCES = "exif-py/tests/resources"
DNG = f"{RESOURCES}/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng"
ARW = f"{RESOURCES}/raw/sony_alpha_a7iii_raw_image.ARW"
JXL = f"{RESOURCES}/jxl/test_0001.jxl"


def corpus_file(shared_corpus: Path, rel: str) -> Path:
    path = shared_corpus / rel
    if not path.is_file():
        corpus_missing(f"{rel} not in the shared corpus")
    return path


def imported(db, store, tmp_path, src: Path):
    card = tmp_path / "card"
    card.mkdir(exist_ok=True)
    shutil.copyfile(src, card / src.name)
    lines = []
    summary = run_ingest(db, store, [str(card)], Options(), report=lambda *line: lines.append(line))
    cur = db.execute("SELECT * FROM photos")
    rows = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
    return summary, lines, rows


def test_nikon_dng_is_imported_from_its_preview(tmp_path, archive, shared_corpus):
    db, store, *_ = archive
    src = corpus_file(shared_corpus, DNG)
    summary, lines, rows = imported(db, store, tmp_path, src)
    assert (summary.imported, summary.problems) == (1, 0), lines
    photo = rows[0]
    assert (photo["format"], photo["mime_type"], photo["width"], photo["height"]) == ("DNG", "image/x-adobe-dng", 5392, 3592)
    assert (photo["taken_at"], photo["creator"]) == ("2025-08-10T19:02:53.27+03:00", "Martins Bruvelis")
    assert photo["licence_text"] == "All rights reserved."
    # The original is stored byte for byte, under its own extension.
    assert Store(store.root).original(photo["sha256"], "dng").read_bytes() == src.read_bytes()
    # LibRaw cannot demosaic Nikon's high-efficiency raws: the 640 px preview is used, and said.
    web = Image.open(store.derivative("web", photo["sha256"]))
    assert web.size == (640, 424) and web.mode == "RGB"
    assert [(Path(p).name, kind) for p, kind, _ in lines] == [(src.name, "decode")]
    assert "640x424 preview" in lines[0][2]


def test_header_only_arw_is_named_with_its_reason(tmp_path, archive, shared_corpus):
    db, store, *_ = archive
    summary, lines, rows = imported(db, store, tmp_path, corpus_file(shared_corpus, ARW))
    assert (summary.imported, summary.problems, summary.skipped) == (0, 1, 0)
    assert "cut short" in lines[0][2] and rows == []


def test_jpeg_xl_is_imported(tmp_path, archive, shared_corpus):
    db, store, *_ = archive
    src = corpus_file(shared_corpus, JXL)
    summary, lines, rows = imported(db, store, tmp_path, src)
    assert (summary.imported, summary.problems) == (1, 0), lines
    photo = rows[0]
    assert (photo["format"], photo["mime_type"], photo["width"], photo["height"]) == ("JXL", "image/jxl", 1280, 1024)
    assert photo["taken_at"] == "2025-08-15T22:25:54"
    assert (round(photo["latitude"], 4), round(photo["longitude"], 4)) == (44.0604, -121.3141)
    assert Image.open(store.derivative("thumbs", photo["sha256"])).size == (400, 320)


@pytest.mark.parametrize("head, suffix, fmt", [
    (b"IIU\x00\x08\x00\x00\x00", ".RW2", "RW2"),
    (b"IIRO\x08\x00\x00\x00", ".ORF", "ORF"),
    (b"FUJIFILMCCD-RAW 0201FF383501", ".RAF", "RAF"),
    (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", ".CR3", "CR3"),
    (b"II*\x00\x08\x00\x00\x00", ".NEF", "NEF"),
    (b"II*\x00\x08\x00\x00\x00", ".cr2", "CR2"),
    (b"MM\x00*\x00\x00\x00\x08", ".PEF", "PEF"),
    (b"II*\x00\x08\x00\x00\x00", ".tif", "TIFF"),
])
def test_raws_are_known_by_their_bytes(head, suffix, fmt):
    assert images.sniff(head, suffix) == fmt


def test_a_raw_in_a_folder_is_never_silently_skipped(tmp_path, archive):
    # A Panasonic RW2 was once counted as "skipped (not images)". One LibRaw cannot read is a problem, named.
    db, store, *_ = archive
    card = tmp_path / "card"
    card.mkdir()
    (card / "P1000001.RW2").write_bytes(b"IIU\x00\x08\x00\x00\x00" + bytes(4000))
    lines = []
    summary = run_ingest(db, store, [str(card)], Options(), report=lambda *line: lines.append(line))
    assert (summary.problems, summary.skipped) == (1, 0)
    assert lines[0][1] == "corrupt" and "RW2 camera raw" in lines[0][2]


def test_raw_without_preview_or_pixels_is_refused_plainly():
    with pytest.raises(FileProblem, match="cannot read DNG camera raw"):
        images.open_image(b"II*\x00\x08\x00\x00\x00" + bytes(100), "DNG")


# ---- RAW+JPEG: one shot, one photo, two originals -------------------------------------------------

def pair_card(tmp_path: Path, shared_corpus: Path, when: str = "2025:08:10 19:02:53") -> Path:
    """The corpus DNG and a camera JPEG of the same shot: same name but the extension, same second."""
    card = tmp_path / "card"
    card.mkdir()
    shutil.copyfile(corpus_file(shared_corpus, DNG), card / "DSC_0001.dng")
    make_photo(card / "DSC_0001.JPG", width=640, height=424, seed=11,
               exif={"DateTimeOriginal": when, "OffsetTimeOriginal": "+03:00", "Make": "NIKON CORPORATION"})
    return card


def test_raw_and_jpeg_of_one_shot_are_one_photo_with_two_originals(tmp_path, archive, shared_corpus):
    db, store, *_ = archive
    card = pair_card(tmp_path, shared_corpus)
    dry = run_ingest(db, store, [str(card)], Options(), dry_run=True)
    real = run_ingest(db, store, [str(card)], Options())
    assert (real.imported, real.paired, real.duplicates, real.problems) == (1, 1, 0, 0)
    assert (dry.imported, dry.paired) == (real.imported, real.paired)
    assert "1 joined their RAW+JPEG pair" in real.text()
    (photo_id, fmt), = db.execute("SELECT id, format FROM photos").fetchall()
    assert fmt == "JPEG"   # the first of the two in the folder's order is the photo
    originals = db.execute("SELECT photo_id, format, mime_type FROM photo_originals").fetchall()
    assert originals == [(photo_id, "DNG", "image/x-adobe-dng")]
    sha = db.execute("SELECT sha256 FROM photo_originals").fetchone()[0]
    assert Store(store.root).original(sha, "dng").read_bytes() == (card / "DSC_0001.dng").read_bytes()
    assert {p for (p,) in db.execute("SELECT photo_id FROM photo_sources")} == {photo_id}
    again = run_ingest(db, store, [str(card)], Options())
    assert (again.imported, again.paired, again.unchanged) == (0, 0, 2)

    from ingest.media.verify import verify
    report = verify(db, Store(store.root))
    assert [f for f in report.findings if f.kind != "orphan"] == [] and report.checked == 2


def test_same_name_another_time_stays_two_photos(tmp_path, archive, shared_corpus):
    db, store, *_ = archive
    card = pair_card(tmp_path, shared_corpus, when="2025:08:11 09:00:00")
    summary = run_ingest(db, store, [str(card)], Options())
    assert (summary.imported, summary.paired) == (2, 0)
    assert db.execute("SELECT count(*) FROM photo_originals").fetchone() == (0,)


def _jxl_codestream(width: int, height: int) -> bytes:
    """A JPEG XL codestream's signature and SizeHeader (LSB-first bits), then padding: what a
    decompression bomb needs to claim its size."""
    bits = [0]                                            # not "small"
    bits += [1, 1] + [(height - 1) >> i & 1 for i in range(30)]   # U32 selector 3: 30 bits
    bits += [0, 0, 0]                                     # no ratio: the width follows
    bits += [1, 1] + [(width - 1) >> i & 1 for i in range(30)]
    bits += [1]                                           # ImageMetadata all_default
    out = bytearray(b"\xff\x0a")
    for i in range(0, len(bits), 8):
        out.append(sum(b << j for j, b in enumerate(bits[i:i + 8])))
    return bytes(out) + bytes(64)


def test_jpeg_xl_size_is_read_from_its_header_before_any_decoding(shared_corpus):
    from ingest.media import jxl

    assert jxl.header(_jxl_codestream(5000, 40)) == (5000, 40, 1)
    with pytest.raises(FileProblem, match="megapixels"):
        images.open_image(_jxl_codestream(100_000, 100_000), "JXL")
    opened = images.open_image(corpus_file(shared_corpus, JXL).read_bytes(), "JXL")
    assert (opened.width, opened.height) == (1280, 1024) and opened._image is None   # not decoded yet
    assert opened.image.size == (1280, 1024)
