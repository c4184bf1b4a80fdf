"""Real camera files: the copies in tests/corpus/, and the whole shared corpus against its MANIFEST.tsv.

The manifest's columns (datetime_original, offset, gps_lat, gps_lon, orientation, artist, copyright)
are what exifread reads; the pillow_* columns are what Pillow reads, which is what our EXIF reader
falls back to when exifread finds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import corpus_missing

from ingest.catalogue.registry import Registry
from ingest.catalogue.schema import connect
from ingest.errors import MetadataProblem
from ingest.importer.pipeline import run_ingest
from ingest.importer.read.exif import read_exif
from ingest.importer.resolve import Options, resolve
from ingest.importer.worker import Job, process
from ingest.media.store import Store

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"
# Where conftest's `shared_corpus` fixture looks (it skips, or fails in CI, when the folder is absent); read here
# too because the manifest's rows are the test parameters.
SHARED = Path(os.environ.get("SHARED_CORPUS", TESTS.parent.parent / "shared" / "corpus"))
# manifest `format` values the archive does not import, with the problem it reports: the ARW is its
# header only (exif-py keeps its tags, not its picture). DNG and JPEG XL are imported (issue 15).
NOT_IMPORTED = {"TIFF(ARW raw)": "corrupt"}
# Camera raws copied from Debian source packages, not from the shared corpus (SOURCES.md says which).
FROM_DEBIAN = "raw/"


def _manifest(root: Path) -> list[dict[str, str]]:
    with open(root / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _iso(exif_date: str) -> str:
    return re.sub(r"^(\d{4}):(\d\d):(\d\d) ", r"\1-\2-\3T", exif_date)


# ---- the copies in tests/corpus -------------------------------------------------------------------

def _sources_table() -> dict[str, tuple[int, str]]:
    """path -> (bytes, sha256), from the file table in tests/corpus/SOURCES.md."""
    rows = {}
    for line in (CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[0-9a-f]{64}", cells[2]):
            rows[cells[0].strip("`")] = (int(cells[1]), cells[2])
    return rows


def _corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md" and "_licenses" not in p.parts)


def test_every_copied_file_is_attributed_and_byte_identical():
    table = _sources_table()
    files = {p.relative_to(CORPUS).as_posix(): p for p in _corpus_files()}
    assert set(files) == set(table)
    for rel, path in files.items():
        data = path.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == table[rel], rel
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 2.5 * 1024 * 1024


def test_licence_texts_named_in_sources_are_present():
    text = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    named = set(re.findall(r"_licenses/([\w.\-]+)", text))
    assert named and named == {p.name for p in (CORPUS / "_licenses").iterdir()}


def test_copies_match_the_shared_manifest(shared_corpus):
    rows = {r["path"]: r for r in _manifest(shared_corpus)}
    for rel, (size, sha) in _sources_table().items():
        if rel.startswith(FROM_DEBIAN):
            continue
        assert (int(rows[rel]["bytes"]), rows[rel]["sha256"]) == (size, sha)


@pytest.fixture(scope="module")
def local_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-corpus")
    db = connect(root / "gallery.db")
    lines = []
    summary = run_ingest(db, Store(root / "archive"), [str(CORPUS)], Options(), jobs=1,
                         report=lambda *line: lines.append(line))
    yield db, summary, lines, root / "archive"
    db.conn.close()


def _photo(db, rel: str) -> dict:
    path = str((CORPUS / rel).resolve())
    cur = db.execute("SELECT p.* FROM photos p JOIN photo_sources s ON s.photo_id = p.id WHERE s.path = ?", [path])
    row = cur.fetchone()
    assert row is not None, f"{rel} not imported"
    return dict(zip([d[0] for d in cur.description], row))


def test_local_corpus_imports_cleanly(local_archive):
    db, summary, lines, _ = local_archive
    # Only the attribution texts are not imported, and each is named (issue 15: never silently counted).
    assert [(kind, Path(path).suffix) for path, kind, _ in lines if kind != "skipped" or "_licenses" not in path
            and Path(path).name != "SOURCES.md"] == []
    assert (summary.imported, summary.duplicates, summary.problems, summary.warnings) == (len(_corpus_files()), 0, 0, 0)
    assert db.execute("SELECT count(*) FROM problems").fetchone() == (0,)


@pytest.mark.parametrize("rel, expected", [
    ("exif-samples/jpg/Canon_40D.jpg",  # GPS IFD with only GPSVersionID
     {"format": "JPEG", "date": "2008-05-30", "date_source": "exif", "latitude": None, "longitude": None,
      "camera_make": "Canon"}),
    ("exif-samples/jpg/Kodak_CX7530.jpg",  # south of the equator
     {"taken_at": "2005-08-13T09:47:23", "latitude": -0.3713, "longitude": 36.0564167, "location_source": "gps"}),
    ("exif-samples/jpg/gps/DSCN0010.jpg",
     {"taken_at": "2008-10-22T16:28:39", "latitude": 43.4674483, "longitude": 11.8851267}),
    ("exif-samples/heic/IMG_5195.HEIC",  # iPhone: offset -05:00, west of Greenwich
     {"format": "HEIF", "mime_type": "image/heic", "taken_at": "2021-04-11T15:47:53.054-05:00",
      "taken_at_utc": "2021-04-11T20:47:53.054+00:00", "date": "2021-04-11",
      "latitude": 39.0513444, "longitude": -94.2887722, "camera_model": "iPhone 11 Pro Max"}),
    ("exif-py/tests/resources/heic/heic_hdlr_box.jpg",  # HEIC content named .jpg
     {"format": "HEIF", "mime_type": "image/heic", "taken_at": None, "width": 1440, "height": 1440}),
    ("exif-py/tests/resources/avif/mountains.avif",
     {"format": "AVIF", "taken_at": "2024-04-05T10:59:24", "latitude": None, "camera_make": "OLYMPUS CORPORATION",
      "lens_model": "LEICA DG SUMMILUX 25/F1.4"}),
    ("exif-samples/jpg/orientation/landscape_6.jpg", {"orientation": 6, "width": 600, "height": 450}),
    ("exif-samples/jpg/xmp/BlueSquare.jpg",
     {"title": "Blue Square Test File - .jpg", "title_source": "xmp",
      "keywords": '["XMP", "Blue Square", "test file", "Photoshop", ".jpg"]'}),
    ("exif-samples/tiff/Crémieux11.tiff",  # non-ASCII file name
     {"format": "TIFF", "original_filename": "Crémieux11.tiff", "creator": "Jean Cornillon", "creator_source": "exif"}),
    ("exif-samples/jpg/invalid/image01551.jpg", {"format": "JPEG", "width": 61, "height": 58}),
    ("raw/exiv2/test/data/Canon-R6-pruned.CR3",  # EXIF in CR3 boxes; the camera's crop, not the sensor's size
     {"format": "CR3", "mime_type": "image/x-canon-cr3", "taken_at": "2021-05-12T12:21:21.92+02:00",
      "creator": "Johannes Kimmel", "licence_text": "CCO", "camera_make": "Canon", "camera_model": "Canon EOS R6",
      "lens_model": "RF70-200mm F2.8 L IS USM", "width": 3408, "height": 2272}),
    ("exif-samples/jpg/tests/32-lens_data.jpeg",  # GPS IFD without coordinates; Artist and Copyright
     {"creator": "Ilya Kurikhin", "taken_at": "2012-07-14T16:30:12.68", "latitude": None,
      "licence_text": "Ilya Kurikhin"}),
])
def test_local_corpus_file(local_archive, rel, expected):
    db, *_ = local_archive
    row = _photo(db, rel)
    assert {k: row[k] for k in expected} == {
        k: pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for k, v in expected.items()}
    assert row["sha256"] == hashlib.sha256((CORPUS / rel).read_bytes()).hexdigest()


def test_heic_named_jpg_is_stored_as_heic(local_archive):
    db, _, _, store_root = local_archive
    sha = _photo(db, "exif-py/tests/resources/heic/heic_hdlr_box.jpg")["sha256"]
    stored = list((store_root / "originals").rglob(f"{sha}.*"))
    assert [p.suffix for p in stored] == [".heic"]
    assert stored[0].read_bytes() == (CORPUS / "exif-py/tests/resources/heic/heic_hdlr_box.jpg").read_bytes()


# ---- the shared corpus, row by row against MANIFEST.tsv -------------------------------------------

_ROWS = _manifest(SHARED) if (SHARED / "MANIFEST.tsv").is_file() else []
_PARAMS = [pytest.param(r, id=r["path"]) for r in _ROWS] or [pytest.param(None, id="no-shared-corpus")]


def _expected_exifread(row: dict[str, str]) -> dict:
    return {
        "DateTimeOriginal": row["datetime_original"] or None,
        "OffsetTimeOriginal": row["offset"] or None,
        "Orientation": int(row["orientation"]) if row["orientation"] else None,
        "Artist": row["artist"] or None,
        "Copyright": row["copyright"] or None,
    }


@pytest.mark.parametrize("row", _PARAMS)
def test_manifest_row(shared_corpus, tmp_path, row):
    if row is None:
        corpus_missing(f"no MANIFEST.tsv in {SHARED}")
    path = shared_corpus / row["path"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == row["sha256"]

    # 1. Our exifread reader, on the bytes, against the manifest's exifread columns (every row).
    try:
        ours = read_exif(data)
    except MetadataProblem:
        ours = {}
    assert {k: ours.get(k) for k in _expected_exifread(row)} == _expected_exifread(row)
    if row["gps_lat"]:
        assert ours["GPSLatitude"] == pytest.approx(float(row["gps_lat"]), abs=1e-6)
        assert ours["GPSLongitude"] == pytest.approx(float(row["gps_lon"]), abs=1e-6)
    else:
        assert not [k for k in ours if k.startswith("GPS")]
    if row["gps_note"] == "GPS IFD without GPSLatitude":  # a GPS block that names no place is no fact
        assert not row["gps_lat"] and "GPSLatitude" not in ours and "GPSAltitude" not in ours

    # 2. The extract stage: unsupported formats are reported; the rest are read.
    result = process(Job(str(path), len(data), 0, str(tmp_path / "store"), dry_run=True))
    if row["format"] in NOT_IMPORTED:
        assert result.problem is not None and result.problem[0] == NOT_IMPORTED[row["format"]], result.problem
        return
    assert result.problem is None, result.problem
    assert result.format == row["format"].split("(")[0]   # by content: heic_hdlr_box.jpg is HEIF
    exif = result.facts.get("exif", {})
    if ours:
        assert exif == ours
    else:  # exifread found nothing: Pillow's reading (the manifest's pillow_* columns) fills in
        assert exif.get("DateTimeOriginal") == (row["pillow_datetime_original"] or None)
        assert exif.get("Orientation") == (int(row["pillow_orientation"]) if row["pillow_orientation"] else None)

    # 3. Resolution.
    v = resolve(result.facts, Registry()).values
    dto = exif.get("DateTimeOriginal")
    if dto:
        assert v["date_source"] == "exif"
        assert v["taken_at"].startswith(_iso(dto))
        assert v["date"] == _iso(dto)[:10]
        if row["offset"]:
            assert v["taken_at"].endswith(row["offset"])
    if row["gps_lat"]:
        assert (v["latitude"], v["longitude"]) == (
            pytest.approx(float(row["gps_lat"]), abs=1e-6), pytest.approx(float(row["gps_lon"]), abs=1e-6))
    elif "exif:GPSLatitude" not in result.facts.get("xmp", {}):
        assert (v["latitude"], v["longitude"]) == (None, None)
    assert v["orientation"] in range(1, 9)   # "orientation 0 (invalid value)" is treated as upright


# ---- the whole shared corpus through the command --------------------------------------------------

def _counts(summary_line: str) -> dict[str, int]:
    return {k: int(n) for n, k in re.findall(r"(\d+) (imported|duplicates|unchanged|problems)", summary_line)}


def test_ingest_the_whole_shared_corpus(shared_corpus, cli):
    rows = _manifest(shared_corpus)
    unsupported = {str((shared_corpus / r["path"]).resolve()): NOT_IMPORTED[r["format"]] for r in rows if r["format"] in NOT_IMPORTED}
    images = {str((shared_corpus / r["path"]).resolve()) for r in rows}

    first = cli(str(shared_corpus), "--jobs", "2")
    assert first.exception is None or isinstance(first.exception, SystemExit)
    assert "Traceback" not in first.output
    assert first.exit_code == 1, first.output          # 1: some files were not imported...

    db = sqlite3.connect(cli.db_path)
    problems = db.execute("SELECT path, kind, message FROM problems").fetchall()
    warned = {"decode", "decoder", "metadata", "skipped"}   # kept in the table too, but imported (or no photo)
    assert {(p, k) for p, k, _ in problems if k not in warned} == set(unsupported.items())   # ...only these
    assert all(message for *_, message in problems)
    sources = {p for (p,) in db.execute("SELECT path FROM photo_sources")}
    assert sources == images - set(unsupported)             # every other file is in the catalogue
    photos = db.execute("SELECT count(*) FROM photos").fetchone()[0]
    assert photos == db.execute("SELECT count(DISTINCT photo_id) FROM photo_sources").fetchone()[0]
    first_counts = _counts(next(line for line in reversed(first.stdout.strip().splitlines()) if " imported, " in line))
    assert first_counts["imported"] + first_counts["duplicates"] == len(images - set(unsupported))
    assert first_counts["problems"] == len(unsupported)
    for path in unsupported:                           # one line on stderr per file not imported
        assert sum(Path(path).name in line for line in first.stderr.splitlines()) == 1
    assert db.execute("SELECT count(*) FROM photos WHERE orientation NOT BETWEEN 1 AND 8").fetchone() == (0,)

    second = cli(str(shared_corpus), "--jobs", "2")
    assert "Traceback" not in second.output
    assert second.exit_code == 1                       # the unsupported files are reported again
    counts = _counts(second.stdout.strip().splitlines()[-1])
    assert counts == {"imported": 0, "duplicates": 0, "unchanged": len(images - set(unsupported)),
                      "problems": len(unsupported)}
    assert db.execute("SELECT count(*) FROM photos").fetchone()[0] == photos
    runs = db.execute("SELECT imported, duplicates, unchanged, problems, status FROM ingest_runs ORDER BY id").fetchall()
    assert runs[-1] == (0, 0, len(images - set(unsupported)), len(unsupported), "finished")
    db.close()
