"""Text as people wrote it (issue 15, item 3): UTF-8 in EXIF, XMP only where the format keeps it,
PNG text chunks, Windows' XP fields, no control characters, no Python reprs, plain problem words.

Files are real: written by Pillow and, where a tool's way of writing matters, by exiftool itself.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.synth import make_photo
from fixtures.writers import insert_jpeg_segments
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ingest.importer.pipeline import run_ingest
from ingest.importer.read.xmp import read_xmp
from ingest.importer.resolve import Options
from ingest.media.write.xmp import xmp_packet

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (.ci/run installs it)")

CYRILLIC = "Олена Коваленко"


def row(db, name: str) -> dict:
    cur = db.execute("SELECT * FROM photos WHERE original_filename = ?", [name])
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def exiftool(path: Path, *args: str) -> None:
    subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *args, str(path)], check=True)


@needs_exiftool
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_utf8_artist_written_by_exiftool_is_the_credit(tmp_path, archive, fmt):
    db, store, *_ = archive
    path = make_photo(tmp_path / f"photo.{fmt.lower()}", width=64, height=48, fmt=fmt)
    exiftool(path, f"-EXIF:Artist={CYRILLIC}")
    summary = run_ingest(db, store, [str(path)], Options())
    assert summary.imported == 1
    assert (row(db, path.name)["creator"], row(db, path.name)["creator_source"]) == (CYRILLIC, "exif")


def test_latin1_artist_still_reads_as_latin1(tmp_path, archive):
    db, store, *_ = archive
    path = make_photo(tmp_path / "zoe.jpg", width=64, height=48)
    im = Image.open(path)
    exif = im.getexif()
    exif[0x013B] = "Zoë Müller".encode("latin-1")  # what older cameras and press tools write
    im.save(path, "JPEG", exif=exif)
    run_ingest(db, store, [str(path)], Options())
    assert row(db, "zoe.jpg")["creator"] == "Zoë Müller"


def test_control_characters_are_dropped_and_values_are_never_reprs(tmp_path, archive):
    db, store, *_ = archive
    path = make_photo(tmp_path / "junk.jpg", width=64, height=48)
    im = Image.open(path)
    exif = im.getexif()
    exif[0x013B] = b"Jane\x07 Doe\x1b"
    exif[0x010E] = "Police line\r\nat the \x9bbridge".encode("utf-8")
    exif[0x0132] = b"2005:0\x9e:03 12:00:00"     # a broken DateTime (a fuzzed camera file had one)
    im.save(path, "JPEG", exif=exif)
    run_ingest(db, store, [str(path)], Options())
    photo = row(db, "junk.jpg")
    assert photo["creator"] == "Jane Doe"
    assert photo["caption"] == "Police line\nat the bridge"
    values = [json.loads(v) for (v,) in db.execute("SELECT value FROM metadata")]
    assert values and not [v for v in values if isinstance(v, str) and (v.startswith(("b'", 'b"')) or "\\x" in v)]


def test_xmp_of_an_image_appended_after_the_jpeg_is_not_this_photos(tmp_path, archive):
    # A camera appends a second JPEG (a preview, another maker's file) after EOI: its XMP caption
    # is not this photo's.
    db, store, *_ = archive
    other = make_photo(tmp_path / "other.jpg", width=32, height=24, seed=2,
                       xmp={"dc:description": "OLYMPUS DIGITAL CAMERA caption of another photo", "dc:creator": ["Olympus"]})
    path = make_photo(tmp_path / "DSCF0001.jpg", width=64, height=48, exif={"Make": "FUJIFILM"})
    path.write_bytes(path.read_bytes() + other.read_bytes())
    assert read_xmp(path.read_bytes()) == {}
    run_ingest(db, store, [str(path)], Options())
    photo = row(db, "DSCF0001.jpg")
    assert (photo["caption"], photo["creator"]) == (None, None)

    # Its own XMP, before the picture, is still read.
    own = insert_jpeg_segments(make_photo(tmp_path / "own.jpg", width=64, height=48).read_bytes(),
                               xmp=xmp_packet({"dc:title": "Its own title"}))
    assert read_xmp(own + other.read_bytes())["dc:title"] == "Its own title"


def test_png_imagemagick_raw_profile_xmp(tmp_path, archive):
    db, store, *_ = archive
    packet = xmp_packet({"dc:title": "Rally at the town hall", "dc:creator": ["Ana Silva"]})
    hexed = packet.hex()
    info = PngInfo()
    # ImageMagick's layout: "\nxmp\n" then the length right-aligned to 8, then hex lines of 72.
    info.add_text("Raw profile type xmp", "\nxmp\n%8d\n" % len(packet)
                  + "\n".join(hexed[i:i + 72] for i in range(0, len(hexed), 72)) + "\n", zip=True)
    path = tmp_path / "magick.png"
    Image.new("RGB", (40, 30), "grey").save(path, pnginfo=info)
    run_ingest(db, store, [str(path)], Options())
    photo = row(db, "magick.png")
    assert (photo["title"], photo["creator"], photo["title_source"]) == ("Rally at the town hall", "Ana Silva", "xmp")


def test_png_text_chunks(tmp_path, archive):
    db, store, *_ = archive
    info = PngInfo()
    info.add_text("Title", "Climate strike")
    info.add_itxt("Author", "Łukasz Nowak")
    info.add_text("Description", "Pupils outside the parliament", zip=True)
    info.add_text("Copyright", "CC BY 4.0")
    info.add_text("Creation Time", "Fri, 20 Sep 2019 11:30:00 +0200")
    info.add_text("Software", "not read")
    path = tmp_path / "strike.png"
    Image.new("RGB", (40, 30), "grey").save(path, pnginfo=info)
    run_ingest(db, store, [str(path)], Options())
    photo = row(db, "strike.png")
    assert (photo["title"], photo["creator"], photo["caption"]) == ("Climate strike", "Łukasz Nowak", "Pupils outside the parliament")
    assert (photo["title_source"], photo["creator_source"], photo["caption_source"]) == ("png", "png", "png")
    assert (photo["licence_id"], photo["licence_source"]) == ("CC-BY-4.0", "png")
    assert (photo["taken_at"], photo["date_source"]) == ("2019-09-20T11:30:00+02:00", "png")


@needs_exiftool
def test_windows_xp_fields_written_by_exiftool(tmp_path, archive):
    db, store, *_ = archive
    path = make_photo(tmp_path / "windows.jpg", width=64, height=48)
    exiftool(path, "-XPTitle=Марш миру", f"-XPAuthor={CYRILLIC}", "-XPComment=Біля ратуші", "-XPKeywords=мир;Київ")
    run_ingest(db, store, [str(path)], Options())
    photo = row(db, "windows.jpg")
    assert (photo["title"], photo["creator"], photo["caption"]) == ("Марш миру", CYRILLIC, "Біля ратуші")
    assert json.loads(photo["keywords"]) == ["мир", "Київ"]


def test_problem_message_names_no_python_object(tmp_path, archive):
    db, store, *_ = archive
    path = tmp_path / "broken.webp"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8X" + bytes(40))
    lines = []
    run_ingest(db, store, [str(path)], Options(), report=lambda *line: lines.append(line))
    assert len(lines) == 1
    message = lines[0][-1]
    assert "object at 0x" not in message and "BytesIO" not in message and message.strip()
