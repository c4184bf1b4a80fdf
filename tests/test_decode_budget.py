"""Decoding memory is bounded per worker, whatever the file's size: images.DECODE_BUDGET is
checked from the header, before a pixel is decoded (ingest/media/images.py)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from ingest.errors import FileProblem
from ingest.media import images

MiB = 2**20


def bomb_png(path: Path, width: int = 15000, height: int = 15000) -> Path:
    """A real RGB PNG of width x height black pixels, written row by row through zlib (a few MB
    of memory; Pillow would need the whole image): ~650 KB for 225 megapixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + width * 3)  # filter byte, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def pillow_file(size: tuple[int, int], mode: str, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 0).save(out, fmt, **options)
    return out.getvalue()


def test_budget_admits_a_100_megapixel_scan_and_refuses_225_megapixels():
    assert images.decode_bytes(10000, 10000, "RGB", "TIFF") <= images.DECODE_BUDGET
    assert images.decode_bytes(15000, 15000, "RGB", "PNG") > images.DECODE_BUDGET
    assert images.decode_bytes(15000, 15000, "L", "PNG") > images.DECODE_BUDGET  # made RGB for the derivatives
    # A JPEG decodes at its draft scale: a 250 MP one needs its 1/8 scale only.
    assert images.decode_bytes(18000, 13800, "RGB", "JPEG") == 2250 * 1725 * 4


def test_the_225_megapixel_png_is_refused_without_being_decoded(tmp_path, monkeypatch):
    """The attack: a 656 KB PNG under the 250 MP limit that took 1 GB to decode. Imported by the
    real command in a fresh process, whose peak memory (its workers' included) stays far below
    what decoding would take."""
    photos = tmp_path / "photos"
    photos.mkdir()
    bomb = bomb_png(photos / "bomb.png")
    assert bomb.stat().st_size < 1 * MiB
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own guard would refuse to even open it
    with Image.open(bomb) as im:
        assert im.size == (15000, 15000) and im.mode == "RGB"
    monkeypatch.undo()
    with pytest.raises(FileProblem) as refused:
        images.open_image(bomb.read_bytes(), "PNG")
    assert refused.value.kind == "too-large"
    assert "15000x15000" in str(refused.value) and "512 MiB decode budget" in str(refused.value)

    ingest = str(Path(sys.executable).parent / "ingest")
    run = ("import json, resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "print(json.dumps([r.returncode, r.stdout + r.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))")
    out = subprocess.run([sys.executable, "-c", run, ingest, str(photos), "--db", str(tmp_path / "gallery.db"),
                          "--store", str(tmp_path / "archive"), "--jobs", "2"], capture_output=True, text=True, check=True)
    code, text, peak_kb = json.loads(out.stdout)
    assert "decode budget" in text and "15000x15000" in text, text
    decoded = images.decode_bytes(15000, 15000, "RGB", "PNG")
    assert peak_kb * 1024 < decoded / 4, (peak_kb, text)


def test_a_100_megapixel_rgb_tiff_made_by_pillow_is_accepted(tmp_path):
    """Made in a subprocess (Pillow holds the 400 MB image while saving it), opened here."""
    path = tmp_path / "scan.tif"
    subprocess.run([sys.executable, "-c", "import sys; from PIL import Image; "
                    "Image.new('RGB', (10000, 10000), (200, 190, 180)).save(sys.argv[1], 'TIFF', compression='tiff_deflate')",
                    str(path)], check=True)
    opened = images.open_image(path.read_bytes(), "TIFF")
    assert (opened.width, opened.height) == (10000, 10000) and opened.image.mode == "RGB"


@pytest.mark.parametrize("mode,fmt", [("RGB", "TIFF"), ("RGB", "PNG"), ("L", "PNG"), ("I;16", "PNG"), ("RGBA", "WEBP")])
def test_refused_past_the_budget_and_decoded_within_it(mode, fmt):
    size = (1200, 900)
    data = pillow_file(size, mode, fmt)
    need = images.decode_bytes(*size, Image.open(io.BytesIO(data)).mode, fmt)
    assert need == 1200 * 900 * 4  # every one of these is at least RGB once converted
    with pytest.raises(FileProblem, match=rf"refused: 1200x900 {fmt} \(.+\) needs 4 MiB to decode, above the 3 MiB decode budget"):
        images.open_image(data, fmt, decode_budget=3 * MiB)
    web, thumb = images.derivatives(images.open_image(data, fmt, decode_budget=need))
    assert Image.open(io.BytesIO(web)).size == size and Image.open(io.BytesIO(thumb)).size == (400, 300)


def test_a_jpeg_is_counted_at_the_draft_scale_it_decodes_at():
    """A 4000x3000 JPEG decodes at half scale for the web size: 12 MB, not 48 MB."""
    data = pillow_file((4000, 3000), "RGB", "JPEG", quality=50)
    assert images.decode_bytes(4000, 3000, "RGB", "JPEG") == 2000 * 1500 * 4
    opened = images.open_image(data, "JPEG", decode_budget=2000 * 1500 * 4)
    web, _ = images.derivatives(opened)
    assert Image.open(io.BytesIO(web)).size == (1600, 1200)
    with pytest.raises(FileProblem, match="decode budget"):
        images.open_image(data, "JPEG", decode_budget=2000 * 1500 * 4 - 1)
