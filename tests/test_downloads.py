"""Downloads carry their licence and credit line in XMP, and nothing private; originals stay intact."""

from __future__ import annotations

import io
import zipfile

import exifread
import pytest
from fixtures.synth import make_photo
from PIL import Image

from ingest.importer.pipeline import run_ingest
from ingest.importer.read.exif import read_exif
from ingest.importer.read.xmp import read_xmp
from ingest.importer.resolve import Options
from ingest.media.store import sha256_file
from ingest.outputs.export import export, zip_bundle

CAMERA = {"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00", "Make": "Canon",
          "Model": "Canon EOS R6", "BodySerialNumber": "012345678901", "Artist": "Olena Kovalenko",
          "GPSLatitude": 51.5045, "GPSLongitude": -0.1263, "Orientation": 6}
RIGHTS = {"dc:title": "Ceasefire march", "dc:creator": ["Olena Kovalenko"],
          "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/",
          "exif:GPSLatitude": "51,30.27N", "exif:GPSLongitude": "0,7.578W"}


@pytest.fixture
def gallery(archive, tmp_path):
    db, store, *_ = archive
    folder = tmp_path / "card"
    make_photo(folder / "IMG_0001.jpg", width=900, height=600, seed=3, exif=CAMERA, xmp=RIGHTS)
    make_photo(folder / "phone.heic", width=640, height=480, seed=4, fmt="HEIF",
               exif={"DateTimeOriginal": "2025:02:22 12:05:01", "GPSLatitude": 51.5033, "GPSLongitude": -0.1276})
    make_photo(folder / "flyer.png", width=300, height=200, seed=5, fmt="PNG", xmp={"cc:license": "https://creativecommons.org/publicdomain/zero/1.0/"})
    # What a download carries, not faces (tests/test_faces.py): the synthetic street scenes' drawn
    # heads can count as faces, and a photo with faces is re-encoded to obscure them.
    db.conn.execute("INSERT INTO settings (key, value) VALUES ('public-faces', 'show')")
    summary = run_ingest(db, store, [str(folder)], Options(creator="Desk"), publish=True)
    assert summary.imported == 3
    ids = {r[0]: r[1] for r in db.execute("SELECT original_filename, id FROM photos")}
    return db, store, ids


def _page(photo_id):
    return f"https://photos.example.org/gallery/photos/{photo_id}"


def test_original_jpeg_carries_licence_and_loses_private_metadata(gallery):
    db, store, ids = gallery
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [ids["IMG_0001.jpg"]]).fetchone()[0]
    stored = store.original(sha, "jpg")
    (name, data, line), = export(db, store, [ids["IMG_0001.jpg"]], "original", "Test archive", _page)
    assert name.endswith(".jpg")
    xmp = read_xmp(data)
    assert xmp["cc:license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert xmp["dc:creator"] == ["Olena Kovalenko"] and xmp["cc:attributionName"] == "Olena Kovalenko"
    assert xmp["cc:attributionURL"] == _page(ids["IMG_0001.jpg"])
    assert xmp["xmpRights:Marked"] == "True"
    assert xmp["photoshop:Credit"] == line.text
    assert line.text.startswith("“Ceasefire march” by Olena Kovalenko, from Test archive, is licensed under CC BY-SA 4.0")
    assert not any(k.startswith("exif:GPS") for k in xmp)
    exif = read_exif(data)
    assert exif["Artist"] == "Olena Kovalenko" and exif["DateTimeOriginal"] == "2024:11:02 14:30:12"
    assert "GPSLatitude" not in exif
    tags = exifread.process_file(io.BytesIO(data), details=True)
    assert not any(t.startswith("GPS") or "Serial" in t for t in tags)
    assert b"012345678901" not in data
    # The pixels are the stored ones (no re-encode) and still turn upright.
    im = Image.open(io.BytesIO(data))
    assert im.getexif().get(0x0112) == 6 and im.size == (600, 900)
    assert sha256_file(stored) == sha  # the archive's original is untouched


def test_web_size_carries_licence(gallery):
    db, store, ids = gallery
    (name, data, _), = export(db, store, [ids["IMG_0001.jpg"]], "web", "Test archive", _page)
    assert Image.open(io.BytesIO(data)).size == (900, 600)  # upright: the web size is already turned
    assert read_xmp(data)["cc:license"] == "https://creativecommons.org/licenses/by-sa/4.0/"


def test_heic_original_becomes_jpeg_without_gps(gallery):
    db, store, ids = gallery
    # No licence: it waits for review, so only an archivist's own export (allow_withheld) makes it.
    (name, data, line), = export(db, store, [ids["phone.heic"]], "original", "Test archive", _page,
                                 allow_withheld=True)
    assert name.endswith(".jpg") and data[:3] == b"\xff\xd8\xff"
    assert "GPSLatitude" not in read_exif(data)
    xmp = read_xmp(data)
    assert xmp["dc:creator"] == ["Desk"]
    assert xmp["xmpRights:UsageTerms"].startswith("No licence stated")
    assert "no licence stated" in line.text


def test_png_original_keeps_every_pixel_and_says_cc0(gallery):
    db, store, ids = gallery
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [ids["flyer.png"]]).fetchone()[0]
    (name, data, line), = export(db, store, [ids["flyer.png"]], "original", "Test archive", _page)
    assert name.endswith(".png")
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == \
        Image.open(store.original(sha, "png")).convert("RGB").tobytes()
    xmp = read_xmp(data)
    assert xmp["cc:license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert xmp["xmpRights:Marked"] == "False"
    assert "is marked with CC0 1.0" in line.text


def test_zip_has_every_photo_and_credits(gallery):
    db, store, ids = gallery
    files = export(db, store, sorted(ids.values()), "web", "Test archive", _page, allow_withheld=True)
    with zipfile.ZipFile(io.BytesIO(zip_bundle(files, "Test archive"))) as z:
        names = z.namelist()
        credits = z.read("CREDITS.txt").decode()
    assert len(names) == 4 and "CREDITS.txt" in names
    for name, _, line in files:
        assert name in names and line.text in credits


def test_withheld_photos_are_refused(gallery):
    db, store, ids = gallery
    db.conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [ids["IMG_0001.jpg"]])
    from ingest.errors import ArchiveError

    with pytest.raises(ArchiveError, match="withheld"):
        export(db, store, [ids["IMG_0001.jpg"]], "web", "Test archive")


def test_cli_export_by_sha_prefix_and_zip(cli, tmp_path):
    folder = tmp_path / "in"
    make_photo(folder / "a.jpg", width=400, height=300, seed=1, xmp=RIGHTS)
    assert cli(str(folder)).exit_code == 0
    import sqlite3

    sha = sqlite3.connect(cli.db_path).execute("SELECT sha256 FROM photos").fetchone()[0]
    out = tmp_path / "out"
    result = cli("export", sha[:8], "--to", str(out), "--base-url", "https://photos.example.org")
    assert result.exit_code == 0, result.output
    (copy,) = out.glob("*.jpg")
    assert read_xmp(copy.read_bytes())["cc:attributionURL"] == "https://photos.example.org/gallery/photos/1"
    assert "licensed under CC BY-SA 4.0" in result.stdout
    result = cli("export", "1", "--to", str(out), "--zip", "--size", "web")
    assert result.exit_code == 0 and len(list(out.glob("*.zip"))) == 1
    bad = cli("export", "ffffff", "--to", str(out))
    assert bad.exit_code == 1 and "no such photo" in bad.output and "Traceback" not in bad.output


@pytest.mark.parametrize("command", ["export", "sidecars"])
def test_an_unwritable_folder_is_one_clear_line(cli, tmp_path, command):
    make_photo(tmp_path / "in" / "a.jpg", width=400, height=300, seed=1, xmp=RIGHTS)
    assert cli(str(tmp_path / "in"), "--publish").exit_code == 0
    (tmp_path / "blocker").write_text("a file where a folder should be")
    result = cli(command, "1", "--to", str(tmp_path / "blocker" / "out"))
    assert result.exit_code == 1
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert str(tmp_path / "blocker") in result.stderr and "Not a directory" in result.stderr
