"""Files refused or skipped (issue 15, item 4): a JPEG missing its last bytes imports with a warning,
BigTIFF imports, every file not imported is named, a dry run predicts the real run's counts, and
what the libraries say about a file is that file's warning, not noise on stderr. Real files."""

from __future__ import annotations

import shutil
from pathlib import Path

from fixtures.synth import make_photo
from PIL import Image

from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options

CORPUS = Path(__file__).parent / "corpus"
CAMERA_JPEG = CORPUS / "exif-samples/jpg/gps/DSCN0010.jpg"   # a real Nikon JPEG, baseline


def lines_of(db, store, paths, **kwargs):
    lines = []
    summary = run_ingest(db, store, [str(p) for p in paths], Options(), report=lambda *line: lines.append(line), **kwargs)
    return summary, lines


def test_camera_jpeg_missing_its_last_33_bytes_imports_with_a_warning(tmp_path, archive):
    db, store, *_ = archive
    cut = tmp_path / "DSCN0010.jpg"
    cut.write_bytes(CAMERA_JPEG.read_bytes()[:-33])
    summary, lines = lines_of(db, store, [cut])
    assert (summary.imported, summary.problems, summary.warnings) == (1, 0, 1)
    assert [(Path(p).name, kind) for p, kind, _ in lines] == [("DSCN0010.jpg", "decode")]
    assert "cut short" in lines[0][2]
    width, height, lat = db.execute("SELECT width, height, latitude FROM photos").fetchone()
    assert (width, height) == Image.open(CAMERA_JPEG).size and lat is not None   # metadata read too


def test_half_a_file_is_still_refused(tmp_path, archive):
    db, store, *_ = archive
    whole = make_photo(tmp_path / "src.jpg", width=800, height=600, seed=7).read_bytes()
    half = tmp_path / "half.jpg"
    half.write_bytes(whole[: len(whole) // 2])
    summary, lines = lines_of(db, store, [half])
    assert (summary.imported, summary.problems) == (0, 1)
    assert "truncated" in lines[0][2] and "% of the picture is missing" in lines[0][2]


def test_bigtiff_imports(tmp_path, archive):
    db, store, *_ = archive
    path = tmp_path / "scan.tif"
    Image.open(CAMERA_JPEG).save(path, "TIFF", big_tiff=True)
    assert path.read_bytes()[:4] == b"II+\x00"
    summary, lines = lines_of(db, store, [path])
    assert (summary.imported, summary.problems) == (1, 0), lines
    assert db.execute("SELECT format, width, height FROM photos").fetchone() == ("TIFF", 640, 480)


def test_library_warnings_are_the_files_warnings_not_stderr(tmp_path, archive, capfd):
    db, store, *_ = archive
    path = make_photo(tmp_path / "odd.jpg", width=64, height=48, exif={"Artist": "Jane Doe"})
    data = path.read_bytes()
    at = data.find(b"Exif\x00\x00") + 14
    path.write_bytes(data[:at] + b"\xff\xff\xff\xff" + data[at + 4:])   # a broken IFD: Pillow warns
    summary, lines = lines_of(db, store, [path])
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    assert summary.imported == 1
    assert any(kind == "decoder" and "EXIF" in message for _, kind, message in lines), lines


def test_dry_run_predicts_the_real_runs_counts(tmp_path, archive):
    db, store, *_ = archive
    card = tmp_path / "card"
    card.mkdir()
    make_photo(card / "a.jpg", width=320, height=240, seed=1)
    shutil.copyfile(card / "a.jpg", card / "a copy.jpg")                     # duplicate within the run
    whole = make_photo(tmp_path / "b.jpg", width=800, height=600, seed=2).read_bytes()
    (card / "cut.jpg").write_bytes(whole[: len(whole) // 2])                  # opens, will not decode
    make_photo(tmp_path / "old.jpg", width=320, height=240, seed=3)
    run_ingest(db, store, [str(tmp_path / "old.jpg")], Options())
    shutil.copyfile(tmp_path / "old.jpg", card / "old again.jpg")             # already in the catalogue
    (card / "notes.txt").write_text("shot list")
    (card / "clip.mov").write_bytes(b"\x00\x00\x00\x14ftypqt  ")

    dry, dry_lines = lines_of(db, store, [card], dry_run=True)
    real, real_lines = lines_of(db, store, [card])
    assert dry.counts() == real.counts()
    assert (dry.imported, dry.duplicates, dry.problems, dry.skipped) == (1, 2, 1, 2)
    assert (dry.skipped, dry.warnings) == (real.skipped, real.warnings)
    assert sorted(dry_lines) == sorted(real_lines)
    assert {Path(p).name for p, kind, _ in real_lines if kind == "skipped"} == {"notes.txt", "clip.mov"}
