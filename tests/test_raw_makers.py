"""Real camera raws from the makers (issue 15, item 5): every file of tests/corpus/raw/ (copied from
Debian source packages; SOURCES.md) imports through the `ingest` command, its derivatives are the
camera's own preview turned upright, and its size, date, camera and creator are what exiftool reads.
A raw added to that folder joins these tests by itself; the shared corpus's Nikon DNG is checked alike."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from exiftool_agreement import EXIFTOOL
from PIL import Image, ImageChops, ImageOps, ImageStat

from conftest import CORPUS
from ingest.media.raw import RAW_FORMATS, RAW_SUFFIXES
from ingest.media.store import Store

pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (.ci/run installs it)")

RAWS = sorted(p for p in (CORPUS / "raw").rglob("*") if p.suffix.lower() in RAW_SUFFIXES)
SHARED_DNG = Path("exif-py/tests/resources/raw/nikon_z_9_high_efficiency_compressed_dx_cropped_max_overexposed.dng")
# exiftool's names for the JPEGs a raw embeds; the largest is the camera's rendering.
PREVIEW_TAGS = ("PreviewImage", "JpgFromRaw", "OtherImage")
# What a raw says of who took it and with which camera and lens: never in a derivative (values of
# 6 characters or more: a shorter one can occur in compressed bytes by chance).
PRIVATE_TAGS = ("IFD0:Artist", "IFD0:Copyright", "ExifIFD:SerialNumber", "ExifIFD:LensSerialNumber",
                "ExifIFD:OwnerName", "Canon:SerialNumber", "Canon:LensSerialNumber", "Canon:InternalSerialNumber", "Canon:OwnerName",
                "Nikon:SerialNumber", "Sony:InternalSerialNumber", "Panasonic:InternalSerialNumber",
                "Olympus:SerialNumber", "Pentax:SerialNumber", "FujiFilm:InternalSerialNumber")


def exiftool(path: Path) -> dict:
    out = subprocess.run([EXIFTOOL, "-json", "-n", "-G1", str(path)], capture_output=True, check=True).stdout
    return json.loads(out)[0]


def exiftool_preview(path: Path) -> Image.Image:
    """The largest JPEG the raw embeds, as exiftool extracts it (all of them, from every IFD), turned
    upright by the raw's Orientation."""
    args = [EXIFTOOL, "-json", "-b", "-a", "-G1", *(f"-{tag}" for tag in PREVIEW_TAGS), str(path)]
    entry = json.loads(subprocess.run(args, capture_output=True, check=True).stdout)[0]
    found = [Image.open(io.BytesIO(data)) for key, value in entry.items() if key.split(":")[-1] in PREVIEW_TAGS
             and isinstance(value, str) and value.startswith("base64:")
             and (data := base64.b64decode(value[7:]))[:3] == b"\xff\xd8\xff"]
    assert found, f"{path.name}: exiftool finds no embedded preview"
    biggest = max(found, key=lambda im: im.width * im.height)
    orientation = exiftool(path).get("IFD0:Orientation", 1)
    return ImageOps.exif_transpose(_with_orientation(biggest, orientation))


def _with_orientation(im: Image.Image, orientation: int) -> Image.Image:
    im = im.convert("RGB")
    im.getexif()[0x0112] = orientation
    return im


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel (0-255) of two pictures at a's size, in grey."""
    return ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L").resize(a.size))).mean[0]


def _import_card(root: Path, files: list[Path]) -> dict:
    """`files` copied to a card and imported once, by the command, into a new archive."""
    from click.testing import CliRunner

    from ingest.cli import main

    card = root / "card"
    card.mkdir()
    for raw in files:
        shutil.copyfile(raw, card / raw.name)
    db_path, store_path = root / "gallery.db", root / "archive"
    result = CliRunner().invoke(main, ["--db", str(db_path), "--store", str(store_path), str(card)], catch_exceptions=False)
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    return {"result": result, "db": db, "store": Store(store_path), "card": card}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Every raw of tests/corpus/raw imported once into one archive."""
    found = _import_card(tmp_path_factory.mktemp("raws"), RAWS)
    yield found
    found["db"].close()


@pytest.fixture(scope="module")
def imported_shared(tmp_path_factory, shared_corpus):
    """The shared corpus's raw (exif-py's Nikon Z 9 DNG, whose only preview is 640 px wide)."""
    found = _import_card(tmp_path_factory.mktemp("shared-raws"), [shared_corpus / SHARED_DNG])
    yield found
    found["db"].close()


def test_there_are_raws_to_test():
    assert {p.suffix.upper() for p in RAWS} >= {".CR3"}


def test_every_raw_imports_cleanly(imported):
    result, db = imported["result"], imported["db"]
    assert result.exit_code == 0, result.output
    assert f"{len(RAWS)} imported, 0 duplicates, 0 unchanged, 0 problems" in result.output
    assert db.execute("SELECT count(*) FROM problems").fetchone()[0] == 0


@pytest.mark.parametrize("raw", [*RAWS, SHARED_DNG], ids=[*(p.name for p in RAWS), "shared:" + SHARED_DNG.name])
def test_raw_agrees_with_exiftool_and_its_derivatives_are_its_preview_upright(request, raw):
    if raw is SHARED_DNG:
        found = request.getfixturevalue("imported_shared")
        raw = request.getfixturevalue("shared_corpus") / SHARED_DNG
    else:
        found = request.getfixturevalue("imported")
    db, store = found["db"], found["store"]
    photo = db.execute("SELECT * FROM photos WHERE original_filename = ?", [raw.name]).fetchone()
    assert photo is not None, f"{raw.name} not imported"
    e = exiftool(raw)
    fmt = RAW_SUFFIXES[raw.suffix.lower()]
    assert (photo["format"], photo["mime_type"]) == (fmt, RAW_FORMATS[fmt][1])
    # The original is kept as it is.
    assert store.original(photo["sha256"], RAW_FORMATS[fmt][0]).read_bytes() == raw.read_bytes()

    # Size as displayed: exiftool's ImageSize, turned when the Orientation turns it.
    w, h = (int(v) for v in str(e["Composite:ImageSize"]).split())
    if e.get("IFD0:Orientation", 1) in (5, 6, 7, 8):
        w, h = h, w
    assert (photo["width"], photo["height"]) == (w, h)

    # Date, camera and creator as exiftool reads them.
    when = e.get("Composite:SubSecDateTimeOriginal") or e["ExifIFD:DateTimeOriginal"]
    assert photo["taken_at"] == when.replace(":", "-", 2).replace(" ", "T")
    assert (photo["camera_make"], photo["camera_model"]) == (e["IFD0:Make"], e["IFD0:Model"])
    assert photo["creator"] == e.get("IFD0:Artist")

    # Derivatives: the preview exiftool extracts, turned upright, at the photo's aspect.
    upright = exiftool_preview(raw)
    for kind, edge in (("web", 1600), ("thumbs", 400)):
        made = Image.open(store.derivative(kind, photo["sha256"]))
        assert max(made.size) == min(edge, max(upright.size)), kind
        assert made.width / made.height == pytest.approx(w / h, rel=0.01), kind
        assert mean_difference(made, upright) < 4, kind
        # ...which tells a picture upside down (a quarter turn fails the aspect check already), where
        # the picture looks different upside down (the overexposed DNG's is white all over)
        flipped = upright.transpose(Image.Transpose.ROTATE_180)
        if mean_difference(upright, flipped) > 8:
            assert mean_difference(made, flipped) > 10 * mean_difference(made, upright), kind
        # ...and carries nothing of the raw's metadata: no EXIF or XMP, no name, no serial number
        data = store.derivative(kind, photo["sha256"]).read_bytes()
        assert b"Exif\x00\x00" not in data and b"ns.adobe.com/xap" not in data, kind
        assert [t for t in PRIVATE_TAGS if len(str(e.get(t) or "")) >= 6 and str(e[t]).encode() in data] == [], kind


CR3 = CORPUS / "raw/exiv2/test/data/Canon-R6-pruned.CR3"


def test_cr3_metadata_and_preview_are_read_from_its_boxes():
    """exifread reads no EXIF from a CR3, and LibRaw finds no preview in this one (its media data is
    pruned): both come from the CR3's own boxes."""
    from ingest.importer.read.exif import read_exif, read_exif_tags
    from ingest.media import cr3

    data = CR3.read_bytes()
    assert read_exif(data) == {}
    facts = read_exif_tags(cr3.exif_tags(data))
    assert {k: facts[k] for k in ("Make", "Artist", "DateTimeOriginal", "OffsetTimeOriginal", "SubSecTimeOriginal")} == {
        "Make": "Canon", "Artist": "Johannes Kimmel", "DateTimeOriginal": "2021:05:12 12:21:21",
        "OffsetTimeOriginal": "+02:00", "SubSecTimeOriginal": "92"}
    assert Image.open(io.BytesIO(cr3.preview(data))).size == (1620, 1080)
    assert cr3.exif_tags(b"\x00\x00\x00\x18ftypcrx " + bytes(100)) is None and cr3.preview(data[:64]) is None


def test_cr3_cut_short_in_its_preview_is_refused_plainly():
    from ingest.errors import FileProblem
    from ingest.media import images

    with pytest.raises(FileProblem, match="^CR3 camera raw has no preview and LibRaw cannot decode it"):
        images.open_image(CR3.read_bytes()[:300_000], "CR3")


def test_cr3_and_the_cameras_jpeg_are_one_photo(tmp_path, archive):
    """The pairing needs the CR3's capture time, which exifread never found (every CR3 was paired with
    nothing and had no date)."""
    from fixtures.synth import make_photo

    from ingest.importer.pipeline import run_ingest
    from ingest.importer.resolve import Options

    db, store, *_ = archive
    card = tmp_path / "card"
    card.mkdir()
    shutil.copyfile(CR3, card / "IMG_0001.CR3")
    make_photo(card / "IMG_0001.JPG", width=1620, height=1080, seed=3,
               exif={"DateTimeOriginal": "2021:05:12 12:21:21", "OffsetTimeOriginal": "+02:00", "Make": "Canon"})
    summary = run_ingest(db, store, [str(card)], Options())
    assert (summary.imported, summary.paired, summary.problems) == (1, 1, 0)
    # The first in the folder's order is the photo: here the CR3, the JPEG its second original.
    assert db.execute("SELECT format, taken_at FROM photos").fetchall() == [("CR3", "2021-05-12T12:21:21.92+02:00")]
    assert db.execute("SELECT format FROM photo_originals").fetchall() == [("JPEG",)]
