"""Camera raws (DNG, CR2, CR3, NEF, ARW, RW2, ORF, RAF, PEF) through LibRaw (rawpy).

The original is kept as it is; what the archive shows is the camera's own rendering, the JPEG
preview every raw embeds (full size in most cameras since ~2008), turned by the raw's orientation.
Only a raw whose preview is too small for the web size is demosaiced, at half size.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

from PIL import Image

from ingest.errors import FileProblem
from ingest.media import cr3

# LibRaw's OpenMP pool is not safe across fork(), which the import pool uses; the archive decodes one
# photo per worker process anyway. Set before LibRaw loads; a value the user set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import rawpy
except ImportError:  # pragma: no cover - a dependency; the message says what to install
    rawpy = None

# Format -> (file extension, MIME type); the format name is what `photos.format` holds.
RAW_FORMATS = {
    "DNG": ("dng", "image/x-adobe-dng"),
    "CR2": ("cr2", "image/x-canon-cr2"),
    "CR3": ("cr3", "image/x-canon-cr3"),
    "NEF": ("nef", "image/x-nikon-nef"),
    "ARW": ("arw", "image/x-sony-arw"),
    "RW2": ("rw2", "image/x-panasonic-rw2"),
    "ORF": ("orf", "image/x-olympus-orf"),
    "RAF": ("raf", "image/x-fuji-raf"),
    "PEF": ("pef", "image/x-pentax-pef"),
}
# TIFF-structured raws are told from TIFFs by their extension; the others by their first bytes.
RAW_SUFFIXES = {".dng": "DNG", ".cr2": "CR2", ".nef": "NEF", ".nrw": "NEF", ".arw": "ARW", ".pef": "PEF",
                ".rw2": "RW2", ".orf": "ORF", ".raf": "RAF", ".cr3": "CR3"}

# LibRaw's `flip` -> the EXIF orientation that turns the sensor's picture upright.
_FLIP = {0: 1, 3: 3, 5: 8, 6: 6}


def raw_format(head: bytes, suffix: str) -> str | None:
    """The raw format of a file from its first bytes (and, for TIFF-structured raws, its suffix)."""
    if head[:4] == b"IIU\x00":
        return "RW2"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "ORF"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "RAF"
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        return "CR3"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return RAW_SUFFIXES.get(suffix.lower())
    return None


@dataclass
class RawPicture:
    image: Image.Image   # the preview (undecoded, a JPEG Pillow can draft) or the demosaiced pixels
    width: int           # the raw's size as displayed
    height: int
    orientation: int     # what `image` still needs to be upright
    note: str | None     # a warning for the user, when the picture is less than the raw


def open_raw(data: bytes, fmt: str, min_edge: int, max_pixels: int, decode_budget: int) -> RawPicture:
    """The raw's picture: its largest embedded preview, or a half-size demosaic when the preview's
    long edge is under `min_edge` (or there is none). Refuses what is too large before decoding."""
    if rawpy is None:
        raise FileProblem("unsupported", f"camera raw ({fmt}) needs the rawpy package")
    with warnings.catch_warnings():
        # rawpy's warning about fork and OpenMP, answered above (one thread)
        warnings.filterwarnings("ignore", message="rawpy is being used in a process created by multiprocessing")
        return _open(data, fmt, min_edge, max_pixels, decode_budget)


def _open(data: bytes, fmt: str, min_edge: int, max_pixels: int, decode_budget: int) -> RawPicture:
    try:
        raw = rawpy.imread(io.BytesIO(data))
    except Exception as e:
        if type(e).__name__ == "LibRawIOError":   # what LibRaw says of a file that ends too soon
            raise FileProblem("corrupt", f"cannot read {fmt} camera raw: the file ends before its picture (cut short?)") from None
        raise FileProblem("corrupt", f"cannot read {fmt} camera raw: {_plain(e)}") from None
    try:
        return _picture(raw, data, fmt, min_edge, max_pixels, decode_budget)
    finally:
        raw.close()


def _picture(raw, data: bytes, fmt: str, min_edge: int, max_pixels: int, decode_budget: int) -> RawPicture:
    sizes = raw.sizes
    w, h = sizes.width, sizes.height
    if w <= 0 or h <= 0:
        raise FileProblem("corrupt", f"{fmt} camera raw has no picture ({w}x{h})")
    if w * h > max_pixels:
        raise FileProblem("too-large", f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the {max_pixels // 1_000_000} MP limit")
    orientation = _FLIP.get(sizes.flip, 1)
    # The camera's own crop of the sensor (Canon's, a DNG's DefaultCrop) is the picture's size: what its
    # JPEG and preview show, and what exiftool calls ImageSize. LibRaw's width keeps the sensor's border.
    cw, ch = (sizes.crop_width, sizes.crop_height) if 0 < sizes.crop_width <= w and 0 < sizes.crop_height <= h else (w, h)
    shown = (ch, cw) if orientation in (6, 8) else (cw, ch)
    preview = _preview(raw) or _own_preview(data, fmt)
    if preview is not None and max(preview.size) >= min(min_edge, max(w, h)):
        return RawPicture(preview, *shown, orientation, None)
    need = w * h * 2 + (w // 2) * (h // 2) * 4   # the raw's 16-bit samples, then the half-size RGB
    if need > decode_budget:
        raise FileProblem("too-large", f"refused: demosaicing {w}x{h} needs {need / 2**20:.0f} MiB, above the decode budget")
    try:
        pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, no_auto_bright=False)
        return RawPicture(Image.fromarray(pixels), *shown, 1, None)   # LibRaw turns it upright itself
    except Exception as e:
        if preview is None:
            raise FileProblem("corrupt", f"{fmt} camera raw has no preview and LibRaw cannot decode it: {_plain(e)}") from None
        note = f"only a {preview.width}x{preview.height} preview could be shown (LibRaw: {_plain(e)})"
        return RawPicture(preview, *shown, orientation, note)


def _preview(raw) -> Image.Image | None:
    try:
        thumb = raw.extract_thumb()
    except Exception:
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            return Image.open(io.BytesIO(bytes(thumb.data)), formats=["JPEG"])
        return Image.fromarray(thumb.data)
    except Exception:
        return None


def _own_preview(data: bytes, fmt: str) -> Image.Image | None:
    """A preview LibRaw does not give: a CR3's PRVW, when the full-size JPEG at its end is missing."""
    jpeg = cr3.preview(data) if fmt == "CR3" else None
    if jpeg is None:
        return None
    try:
        return Image.open(io.BytesIO(jpeg), formats=["JPEG"])
    except Exception:
        return None


def _plain(e: Exception) -> str:
    text = e.args[0] if e.args else type(e).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)[:120]
