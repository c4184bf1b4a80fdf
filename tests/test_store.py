"""The store: content addressing, byte-identical originals, derivatives, re-scans, dry runs, atomic writes."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import pillow_heif
import pytest
from conftest import corpus_missing
from fixtures.synth import make_photo
from PIL import Image

from ingest.media.store import Store, sha256_file, write_atomic

pillow_heif.register_heif_opener()

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
# Stored pixels = upright.transpose(INVERSE[o]), so that applying orientation o shows it upright.
INVERSE = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
EXT = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif", "WEBP": "webp", "HEIF": "heic"}


# ---------------------------------------------------------------- helpers

def query(cli, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(cli.db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def store_files(cli) -> list[Path]:
    root = Path(cli.store_path)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def banded(width: int, height: int, top=RED, rest=BLUE, mode: str = "RGB") -> Image.Image:
    """Upright test card: the top quarter is `top`, the rest `rest` (which way is up is plain to see)."""
    im = Image.new(mode, (width, height), rest)
    im.paste(top, (0, 0, width, height // 4))
    return im


def save_oriented(path: Path, upright: Image.Image, orientation: int, fmt: str, **params) -> Path:
    stored = upright.transpose(INVERSE[orientation]) if orientation in INVERSE else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "HEIF":
        stored.save(path, "HEIF", exif=exif.tobytes(), quality=90)
    else:
        stored.save(path, fmt, exif=exif, **params)
    return path


def close_to(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour))


def derivative(cli, kind: str, sha: str) -> Image.Image:
    path = Store(cli.store_path).derivative(kind, sha)
    im = Image.open(path)
    im.load()
    return im


def only_photo(cli) -> tuple[str, int, int]:
    got = query(cli, "SELECT sha256, width, height FROM photos")
    assert len(got) == 1, got
    return got[0]


def swapped_rgb_profile() -> bytes:
    """An ICC v2 matrix/TRC RGB profile whose red and blue primaries are sRGB's blue and red.

    Pixels (255, 0, 0) tagged with it are blue once converted to sRGB: a derivative that is red
    was never colour-managed.
    """
    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    text = b"Swapped RGB\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 2.2
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(*blue)), (b"gXYZ", xyz(*green)),
            (b"bXYZ", xyz(*red)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text" + b"\0" * 4 + b"none\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = [], b""
    for sig, data in tags:
        body += b"\0" * (-(offset + len(body)) % 4)
        table.append(sig + struct.pack(">II", offset + len(body), len(data)))
        body += data
    header = (struct.pack(">I", offset + len(body)) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


# ---------------------------------------------------------------- content addressing

def test_same_bytes_from_two_paths_is_one_photo(cli, tmp_path):
    card1 = make_photo(tmp_path / "card1" / "IMG_0001.jpg", width=800, height=600, seed=1)
    card2 = tmp_path / "card2" / "copy of IMG_0001.jpg"
    card2.parent.mkdir()
    card2.write_bytes(card1.read_bytes())
    result = cli("import", str(tmp_path / "card1"), str(tmp_path / "card2"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 imported, 1 duplicates, 0 unchanged, 0 problems"), result.stdout
    (photo_id,), = query(cli, "SELECT id FROM photos")
    sources = query(cli, "SELECT photo_id, path FROM photo_sources ORDER BY path")
    assert [s[0] for s in sources] == [photo_id, photo_id]
    assert {Path(s[1]).name for s in sources} == {"IMG_0001.jpg", "copy of IMG_0001.jpg"}
    assert len([p for p in store_files(cli) if "originals" in p.parts]) == 1


def test_same_bytes_in_a_later_run_is_a_duplicate(cli, tmp_path):
    first = make_photo(tmp_path / "card1" / "a.jpg", width=640, height=480, seed=2)
    assert cli("import", str(first)).exit_code == 0
    again = tmp_path / "card2" / "b.jpg"
    again.parent.mkdir()
    shutil.copy(first, again)
    result = cli("import", str(again))
    assert result.exit_code == 0
    assert result.stdout.startswith("0 imported, 1 duplicates, 0 unchanged"), result.stdout
    assert query(cli, "SELECT count(*) FROM photos") == [(1,)]
    assert query(cli, "SELECT count(*) FROM photo_sources") == [(2,)]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP", "HEIF"])
def test_original_is_byte_identical_and_laid_out_by_hash(cli, tmp_path, fmt):
    src = make_photo(tmp_path / "in" / f"photo.{EXT[fmt]}", width=480, height=320, seed=3, fmt=fmt,
                     exif={"DateTimeOriginal": "2024:05:18 14:00:00", "Artist": "Ana"})
    data = src.read_bytes()
    result = cli("import", str(src))
    assert result.exit_code == 0, result.output
    sha, _, _ = only_photo(cli)
    assert sha == hashlib.sha256(data).hexdigest()
    originals = [p for p in store_files(cli) if "originals" in p.parts]
    assert len(originals) == 1
    rel = originals[0].relative_to(cli.store_path)
    assert rel.parts == ("originals", sha[:2], sha[2:4], f"{sha}.{EXT[fmt]}")
    assert originals[0].read_bytes() == data
    assert sha256_file(originals[0]) == sha
    assert query(cli, "SELECT format, file_size FROM photos") == [(fmt, len(data))]


# ---------------------------------------------------------------- derivatives

def test_derivative_sizes_for_a_large_photo(cli, tmp_path):
    src = tmp_path / "in" / "big.jpg"
    src.parent.mkdir()
    banded(4000, 3000).save(src, "JPEG", quality=90)
    assert cli("import", str(src)).exit_code == 0
    sha, w, h = only_photo(cli)
    assert (w, h) == (4000, 3000)
    web, thumb = derivative(cli, "web", sha), derivative(cli, "thumbs", sha)
    assert web.format == thumb.format == "JPEG"
    assert web.size == (1600, 1200) and thumb.size == (400, 300)
    assert web.mode == thumb.mode == "RGB"
    assert close_to(web.getpixel((800, 50)), RED) and close_to(web.getpixel((800, 1100)), BLUE)
    store = Store(cli.store_path)
    assert store.derivative("web", sha).relative_to(cli.store_path).parts == ("web", sha[:2], f"{sha}.jpg")


def test_small_photo_is_not_upscaled(cli, tmp_path):
    src = make_photo(tmp_path / "in" / "small.jpg", width=800, height=600, seed=4)
    assert cli("import", str(src)).exit_code == 0
    sha, _, _ = only_photo(cli)
    assert derivative(cli, "web", sha).size == (800, 600)
    assert derivative(cli, "thumbs", sha).size == (400, 300)
    tiny = make_photo(tmp_path / "in" / "tiny.png", width=200, height=150, seed=5, fmt="PNG")
    assert cli("import", str(tiny)).exit_code == 0
    (sha,), = query(cli, "SELECT sha256 FROM photos WHERE original_filename = 'tiny.png'")
    assert derivative(cli, "web", sha).size == (200, 150)
    assert derivative(cli, "thumbs", sha).size == (200, 150)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF"])
@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_derivatives_are_upright(cli, tmp_path, fmt, orientation):
    """Stored sideways with an EXIF orientation: the catalogue and both derivatives show it upright, once.

    TIFF and HEIF decoders apply the orientation themselves: rotating again would turn them twice.
    """
    if fmt == "JPEG":  # large enough that the web size is a real downscale (and JPEG draft mode is used)
        upright, web_size, thumb_size = banded(2000, 1000), (1600, 800), (400, 200)
    else:
        upright, web_size, thumb_size = banded(600, 400), (600, 400), (400, 267)
    src = save_oriented(tmp_path / "in" / f"sideways.{EXT[fmt]}", upright, orientation, fmt)
    result = cli("import", str(src))
    assert result.exit_code == 0, result.output
    sha, w, h = only_photo(cli)
    assert (w, h) == upright.size, "photos.width/height must be as displayed"
    for kind, size in (("web", web_size), ("thumbs", thumb_size)):
        im = derivative(cli, kind, sha).convert("RGB")
        assert im.size == size, (kind, im.size)
        top = im.getpixel((im.width // 2, im.height // 16))
        bottom = im.getpixel((im.width // 2, im.height * 7 // 8))
        left = im.getpixel((im.width // 16, im.height * 5 // 8))
        assert close_to(top, RED), f"{kind}: top is {top}, not red: not upright"
        assert close_to(bottom, BLUE) and close_to(left, BLUE), (kind, bottom, left)


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed (.ci/run installs it)")
@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_heic_rotated_only_in_exif_is_upright(cli, tmp_path, orientation, fmt):
    """Samsung phones write a portrait's rotation only in EXIF, with no irot box (issue 15): it is
    shown as the phone shows it. Made as Samsung makes it: sideways pixels, then the EXIF tag
    written by exiftool, which adds no box. AVIF alike (Pillow's AVIF plugin rewrites the EXIF
    Orientation to the boxes' own, 1 here: the file's EXIF is read from the file)."""
    upright = banded(400, 600)
    src = tmp_path / "in" / f"20240518_140000.{'heic' if fmt == 'HEIF' else 'avif'}"
    src.parent.mkdir(parents=True)
    upright.transpose(INVERSE[orientation]).save(src, fmt, quality=90)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-Orientation#={orientation}", str(src)], check=True)
    assert b"irot" not in src.read_bytes()
    result = cli("import", str(src))
    assert result.exit_code == 0, result.output
    sha, w, h = only_photo(cli)
    assert (w, h) == upright.size
    assert query(cli, "SELECT value FROM metadata WHERE source = 'exif' AND key = 'Orientation'") == [(str(orientation),)]
    for kind in ("web", "thumbs"):
        im = derivative(cli, kind, sha).convert("RGB")
        assert im.height > im.width, (kind, im.size)
        assert close_to(im.getpixel((im.width // 2, im.height // 16)), RED), f"{kind}: not upright"
        assert close_to(im.getpixel((im.width // 2, im.height * 7 // 8)), BLUE), kind


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed (.ci/run installs it)")
def test_avif_with_irot_and_exif_orientation_is_rotated_once(cli, tmp_path):
    """An AVIF whose rotation is in its irot box (Pillow writes one from EXIF's Orientation 6) and
    whose EXIF also says 8: the box is the rotation, never both."""
    upright = banded(400, 600)
    src = tmp_path / "in" / "both.avif"
    src.parent.mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(INVERSE[6]).save(src, "AVIF", quality=90, exif=exif.tobytes())
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-Orientation#=8", str(src)], check=True)
    assert b"irot" in src.read_bytes()
    assert cli("import", str(src)).exit_code == 0
    sha, w, h = only_photo(cli)
    assert (w, h) == upright.size
    im = derivative(cli, "web", sha).convert("RGB")
    assert close_to(im.getpixel((im.width // 2, im.height // 16)), RED), "not upright"


def test_corpus_heic_with_orientation_is_not_rotated_twice(cli, tmp_path, shared_corpus):
    src = shared_corpus / "exif-samples" / "heic" / "IMG_5195.HEIC"
    if not src.is_file():
        corpus_missing(f"{src} not in the shared corpus")
    result = cli("import", str(src))
    assert result.exit_code == 0, result.output
    sha, w, h = only_photo(cli)
    assert (w, h) == (2566, 3313)
    web, thumb = derivative(cli, "web", sha), derivative(cli, "thumbs", sha)
    assert web.height == 1600 and abs(web.width - 2566 * 1600 / 3313) <= 1
    assert thumb.height == 400 and abs(thumb.width - 2566 * 400 / 3313) <= 1
    assert query(cli, "SELECT format FROM photos") == [("HEIF",)]


def test_derivatives_carry_no_metadata(cli, tmp_path):
    src = make_photo(
        tmp_path / "in" / "tagged.jpg", width=1200, height=900, seed=6,
        exif={"DateTimeOriginal": "2024:05:18 14:00:00", "GPSLatitude": 51.5014, "GPSLongitude": -0.1419,
              "Artist": "Ana", "BodySerialNumber": "SN-123456", "Make": "Canon", "Model": "EOS R6"},
        xmp={"dc:creator": ["Ana"], "dc:title": "March", "photoshop:City": "London"},
        iptc={"By-line": "Ana", "City": "London"},
    )
    icc = swapped_rgb_profile()
    with Image.open(src) as im:  # and an ICC profile, which must not travel either
        exif = im.info["exif"]
        im.save(src, "JPEG", quality=90, exif=exif, icc_profile=icc)
    assert cli("import", str(src)).exit_code == 0
    sha, _, _ = only_photo(cli)
    store = Store(cli.store_path)
    for kind in ("web", "thumbs"):
        data = store.derivative(kind, sha).read_bytes()
        for marker in (b"Exif", b"GPS", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"Photoshop 3.0", b"8BIM",
                       b"SN-123456", b"Canon", b"ICC_PROFILE"):
            assert marker not in data, (kind, marker)
        with Image.open(io.BytesIO(data)) as im:
            assert len(im.getexif()) == 0
            assert not {"exif", "xmp", "icc_profile", "photoshop"} & set(im.info), im.info.keys()


def test_cmyk_becomes_rgb(cli, tmp_path):
    src = tmp_path / "in" / "press.jpg"
    src.parent.mkdir()
    banded(800, 600, top=(0, 255, 255, 0), rest=(255, 255, 0, 0), mode="CMYK").save(src, "JPEG", quality=95)
    with Image.open(src) as im:
        assert im.mode == "CMYK"
    assert cli("import", str(src)).exit_code == 0
    sha, _, _ = only_photo(cli)
    for kind in ("web", "thumbs"):
        im = derivative(cli, kind, sha)
        assert im.mode == "RGB"
        assert close_to(im.getpixel((im.width // 2, 5)), RED), im.getpixel((im.width // 2, 5))
        assert close_to(im.getpixel((im.width // 2, im.height - 5)), BLUE)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_icc_tagged_photo_is_converted_to_srgb(cli, tmp_path, fmt):
    src = tmp_path / "in" / f"wide.{EXT[fmt]}"
    src.parent.mkdir()
    banded(800, 600, top=RED, rest=(0, 255, 0)).save(src, fmt, icc_profile=swapped_rgb_profile())
    assert cli("import", str(src)).exit_code == 0
    sha, _, _ = only_photo(cli)
    im = derivative(cli, "web", sha)
    assert im.mode == "RGB" and "icc_profile" not in im.info
    top = im.getpixel((400, 10))
    assert close_to(top, BLUE, 60), f"top band is {top}: the ICC profile was not applied"
    assert close_to(im.getpixel((400, 500)), (0, 255, 0), 60)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_composites_on_white(cli, tmp_path, mode):
    src = tmp_path / "in" / "logo.png"
    src.parent.mkdir()
    im = Image.new("RGBA", (600, 400), (0, 0, 255, 255))
    im.paste((0, 0, 0, 0), (0, 0, 600, 100))  # transparent black band at the top
    if mode == "LA":
        im = im.convert("LA")
    elif mode == "P":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        transparent = im.getpixel((10, 10))
        im.info["transparency"] = transparent
    im.save(src, "PNG", **({"transparency": im.info["transparency"]} if mode == "P" else {}))
    assert cli("import", str(src)).exit_code == 0
    sha, _, _ = only_photo(cli)
    for kind in ("web", "thumbs"):
        d = derivative(cli, kind, sha)
        assert d.mode == "RGB"
        assert close_to(d.getpixel((d.width // 2, 5)), WHITE, 10), d.getpixel((d.width // 2, 5))
        assert not close_to(d.getpixel((d.width // 2, d.height - 5)), WHITE, 60)


# ---------------------------------------------------------------- re-scans

def test_unchanged_files_are_not_opened_and_touched_ones_are(cli, tmp_path):
    card = tmp_path / "card"
    a = make_photo(card / "a.jpg", width=640, height=480, seed=7)
    make_photo(card / "b.jpg", width=640, height=480, seed=8)
    assert cli("import", str(card)).stdout.startswith("2 imported, 0 duplicates, 0 unchanged")
    ids = dict(query(cli, "SELECT original_filename, id FROM photos"))
    good = a.read_bytes()
    st = a.stat()

    # Same path, size and mtime but garbage inside: recognised as unchanged without being opened.
    a.write_bytes(b"\0garbage" * (len(good) // 8) + b"\0" * (len(good) % 8))
    assert a.stat().st_size == st.st_size
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = cli("import", str(card))
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert result.stdout.startswith("0 imported, 0 duplicates, 2 unchanged, 0 problems"), result.stdout

    # A new mtime makes it re-read: the garbage is now seen, and reported.
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    result = cli("import", str(card))
    assert result.exit_code == 1
    assert "a.jpg" in result.stderr and result.stdout.startswith("0 imported, 0 duplicates, 1 unchanged, 1 problems")

    # The right bytes back, with yet another mtime: re-read, recognised as the same photo, nothing new.
    a.write_bytes(good)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 9_000_000_000))
    result = cli("import", str(card))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 imported, 0 duplicates, 2 unchanged, 0 problems"), result.stdout
    assert dict(query(cli, "SELECT original_filename, id FROM photos")) == ids
    assert query(cli, "SELECT mtime_ns FROM photo_sources WHERE path LIKE '%/a.jpg'") == [
        (st.st_mtime_ns + 9_000_000_000,)]
    # ...and the next run skips it again without opening it.
    assert cli("import", str(card)).stdout.startswith("0 imported, 0 duplicates, 2 unchanged, 0 problems")


def test_touched_copy_under_a_new_name_is_a_duplicate(cli, tmp_path):
    card = tmp_path / "card"
    a = make_photo(card / "a.jpg", width=640, height=480, seed=9)
    assert cli("import", str(card)).exit_code == 0
    a.rename(card / "renamed.jpg")
    result = cli("import", str(card))
    assert result.stdout.startswith("0 imported, 1 duplicates, 0 unchanged"), result.stdout
    assert query(cli, "SELECT count(*) FROM photos") == [(1,)]


# ---------------------------------------------------------------- dry run

def test_dry_run_on_a_new_archive_writes_nothing(cli, tmp_path):
    card = tmp_path / "card"
    make_photo(card / "a.jpg", width=640, height=480, seed=10)
    make_photo(card / "b.png", width=320, height=240, seed=11, fmt="PNG")
    result = cli("import", "--dry-run", str(card))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 would import, 0 duplicates, 0 unchanged, 0 problems"), result.stdout
    assert not Path(cli.db_path).exists()
    assert not Path(cli.store_path).exists()


def test_dry_run_on_an_existing_archive_writes_nothing(cli, tmp_path):
    make_photo(tmp_path / "first" / "a.jpg", width=640, height=480, seed=12)
    assert cli("import", str(tmp_path / "first")).exit_code == 0
    make_photo(tmp_path / "second" / "b.jpg", width=640, height=480, seed=13)
    (tmp_path / "second" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")

    def snapshot():
        conn = sqlite3.connect(cli.db_path)
        try:
            dump = "\n".join(conn.iterdump())
        finally:
            conn.close()
        return dump, [(p, p.stat().st_size) for p in store_files(cli)]

    before = snapshot()
    result = cli("import", "-n", str(tmp_path / "second"), str(tmp_path / "first"))
    assert result.exit_code == 1  # the broken file is still reported
    assert result.stdout.startswith("1 would import, 0 duplicates, 1 unchanged, 1 problems"), result.stdout
    assert snapshot() == before


# ---------------------------------------------------------------- atomic writes

def test_write_atomic_leaves_no_temporary_on_success(tmp_path):
    target = tmp_path / "ab" / "cd" / "file.jpg"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["file.jpg"]


def test_write_atomic_leaves_no_temporary_on_failure(tmp_path):
    target = tmp_path / "ab" / "file.jpg"
    write_atomic(target, b"old and whole")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # fails inside the write, after the temporary was created
    assert target.read_bytes() == b"old and whole"
    assert [p.name for p in target.parent.iterdir()] == ["file.jpg"]

    # Fails at the rename, after the temporary file was written and synced in full.
    blocked = tmp_path / "cd" / "new.jpg"
    (blocked / "inside").mkdir(parents=True)  # a non-empty folder where the file should go
    with pytest.raises(OSError):
        write_atomic(blocked, b"x" * 100_000)
    assert [p.name for p in blocked.parent.iterdir()] == ["new.jpg"] and blocked.is_dir()


def test_an_edited_sidecar_is_picked_up_and_a_correction_still_wins(cli, tmp_path):
    """Captions fixed in Lightroom land in the sidecar, not the JPEG: a re-scan must see them."""
    import sqlite3

    from ingest.media.write.xmp import xmp_packet

    folder = tmp_path / "press"
    photo = make_photo(folder / "PR_0001.jpg", width=320, height=240, seed=7)
    sidecar = folder / "PR_0001.jpg.xmp"
    sidecar.write_bytes(xmp_packet({"dc:title": "First title", "dc:creator": ["Priya Raman"]}))
    assert cli(str(folder)).exit_code == 0
    conn = sqlite3.connect(cli.db_path)
    photo_id = conn.execute("SELECT id FROM photos").fetchone()[0]
    conn.execute("INSERT INTO corrections (photo_id, field, value, who, at) VALUES (?, 'creator', ?, 'ann', 'now')",
                 [photo_id, '"Priya R."'])
    conn.execute("UPDATE photos SET creator = 'Priya R.' WHERE id = ?", [photo_id])
    conn.commit()
    assert "1 unchanged" in cli(str(folder)).stdout  # nothing edited: not even opened
    sidecar.write_bytes(xmp_packet({"dc:title": "Corrected title", "dc:creator": ["Someone Else"]}))
    stat = sidecar.stat()
    os.utime(sidecar, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    result = cli(str(folder))
    assert result.exit_code == 0 and "1 updated from sidecars" in result.stdout
    row = conn.execute("SELECT id, title, creator FROM photos").fetchone()
    assert row == (photo_id, "Corrected title", "Priya R.")
    assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 1
    assert "1 unchanged" in cli(str(folder)).stdout


def test_a_store_write_failing_in_the_writer_thread_is_the_files_problem(tmp_path):
    """Store writes run in the worker's writer thread, beside the decode: one that fails (here the
    store's web folder is a file) still fails the photo, which then has no catalogue row to point at
    a missing file; what was written (the original) is whole."""
    from ingest.importer.worker import Job, process

    photo = make_photo(tmp_path / "p.jpg", width=800, height=600, seed=3)
    store = tmp_path / "store"
    store.mkdir()
    (store / "web").write_text("not a folder")
    result = process(Job(str(photo), photo.stat().st_size, 0, str(store), detect_faces=False))
    assert result.problem is not None and result.problem[0] == "unreadable", result.problem
    original = Store(store).original(result.sha256, "jpg")
    assert original.read_bytes() == photo.read_bytes()
    assert not list(store.rglob(".tmp-*"))
