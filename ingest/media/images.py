"""Safe opening, orientation and derivatives.

Decoding is the whole cost of an ingest, so each photo is decoded once, at the smallest JPEG draft
scale the web size needs, and the thumbnail is made from the web size. Resizing must cost a small
share of that decode: see `shrink`.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import exifread
import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps

from ingest.errors import FileProblem
from ingest.media import cr3, exifblock, jxl, resize
from ingest.media.jpeg import (
    APP1,
    EXIF_APP1,
    XMP_APP1,
    Segment,
    header_segments,
    strip_metadata,
)
from ingest.media.raw import RAW_FORMATS, open_raw, raw_format

try:  # HEIC/HEIF through libheif; AVIF is native in Pillow >= 11.3
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF = True
except ImportError:  # pragma: no cover - the package is a dependency
    HEIF = False

try:  # JPEG XL through libjxl (pillow-jxl-plugin registers itself with Pillow)
    import pillow_jxl  # noqa: F401

    JXL = True
except ImportError:  # pragma: no cover - the package is a dependency
    JXL = False

MAX_PIXELS = 250_000_000
# Bytes of decoded pixels one photo may take in a worker (README, "Importing photos"). A file's size
# says nothing of it: a 656 KB PNG can hold 225 MP, 900 MB decoded. Counted before decoding, from
# the header: width x height (after the JPEG draft scale the derivatives use) x the bytes Pillow
# stores per pixel, at least RGB's four since the derivatives are RGB. A 100 MP RGB scan (400 MB)
# passes; the worker's peak is about twice the figure (the RGB conversion, rotation, decoder buffers).
DECODE_BUDGET = 512 * 1024**2
WEB_SIZE = 1600
THUMB_SIZE = 400
JPEG_QUALITY = 85
# How the derivatives are resized (`shrink`): an integer box `reduce()` down to within twice the
# target (Pillow's, as its `reducing_gap`), then a Lanczos-3 low-pass for the rest of the ratio and a
# cubic resample, both in OpenCV (SIMD, one thread). A 12 MP JPEG decodes at 2000x1500 (its 1/2
# draft), so the web size is a 1.25x step: ~14 ms a photo against ~43 ms for Pillow's BICUBIC and
# ~58 ms for its LANCZOS, which it matches (SSIM >= 0.99, aliasing on a zone plate within 1.05x of
# it; BICUBIC was 1.3x, Pillow's BILINEAR and OpenCV's own INTER_AREA or INTER_LINEAR alias far more
# or lose contrast). libvips (pyvips-binary) hangs in a process forked after its parent used it (the
# import pool forks). RESAMPLE set to a Pillow filter resizes with Pillow instead: LANCZOS is how the
# archive resized before issue 17 (the quality tests' and bench/ingest.py's reference).
# tests/test_derivative_quality.py holds the bounds (SSIM, aliasing on a zone plate);
# bench/ingest.py measures the speed against LANCZOS.
RESAMPLE: Image.Resampling | None = None
REDUCING_GAP = 2.0
LOBES = 3                                  # the low-pass' Lanczos window, as Pillow's LANCZOS
_ARRAY_MODES = ("RGB", "L")                # what OpenCV resizes; other modes (alpha) go through Pillow

# Format name -> (Pillow format, file extension, MIME type)
FORMATS = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "PNG": ("PNG", "png", "image/png"),
    "TIFF": ("TIFF", "tif", "image/tiff"),
    "WEBP": ("WEBP", "webp", "image/webp"),
    "HEIF": ("HEIF", "heic", "image/heic"),
    "AVIF": ("AVIF", "avif", "image/avif"),
    "JXL": ("JXL", "jxl", "image/jxl"),
    **{name: (None, ext, mime) for name, (ext, mime) in RAW_FORMATS.items()},   # opened by media/raw.py
}
# Raws LibRaw reads but the archive does not take yet (no test file of theirs has been seen).
_OTHER_RAW_EXTENSIONS = {".srw", ".3fr", ".erf", ".mrw", ".x3f", ".kdc", ".dcr", ".mos", ".iiq"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
# Decoders that apply the orientation themselves (pillow-heif; Pillow's TIFF plugin, which also
# reports the upright size): rotating again would turn the photo twice.
_DECODER_ORIENTS = {"TIFF", "HEIF"}


def sniff(head: bytes, suffix: str = "") -> str:
    """The format of a file from its first bytes; raises FileProblem for what we cannot import.

    Extensions lie (phones save HEIC as .jpg), so only the bytes decide; the suffix only names raws.
    """
    if not head:
        raise FileProblem("empty", "empty file (0 bytes)")
    if (raw := raw_format(head, suffix)) is not None:
        return raw
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        if suffix.lower() in _OTHER_RAW_EXTENSIONS:
            raise FileProblem("unsupported", f"camera raw ({suffix.lstrip('.').upper()}) is not supported: import a DNG, JPEG or TIFF export")
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        if head[8:12] in _AVIF_BRANDS or (head[8:12] == b"mif1" and brands & _AVIF_BRANDS and not brands & {b"heic", b"heix"}):
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
        if b"crx " in brands:
            return "CR3"
        raise FileProblem("unsupported", f"unsupported ISO media file (brand {head[8:12].decode('latin-1')!r}), not a still image")
    if head[:2] == b"\xff\x0a" or head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        if not JXL:
            raise FileProblem("unsupported", "JPEG XL needs the pillow-jxl-plugin package")
        return "JXL"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        raise FileProblem("unsupported", "GIF is not a photo format this archive takes")
    raise FileProblem("not-image", "not an image (unrecognised content)")


@dataclass
class Opened:
    _image: Image.Image | None   # None until `image` is first asked for, when `loader` is given
    width: int            # as displayed, after orientation
    height: int
    orientation: int      # the EXIF orientation the pixels still need (1 when the decoder applied it)
    data: bytes = b""     # the file's bytes, to open again (a truncated JPEG is decoded a second time)
    warnings: list[str] = field(default_factory=list)   # imported anyway, but the user should know
    loader: Callable[[], Image.Image] | None = None
    exif: dict | None = None   # the EXIF block's tags the archive reads (`exifblock.parse`), None: not walked
    segments: list[Segment] | None = None   # a JPEG's header segments, walked once for every reader

    @property
    def image(self) -> Image.Image:
        """The opened image. A JPEG XL is opened (which decodes it) only here, on first use."""
        if self._image is None:
            try:
                self._image = self.loader()
            except FileProblem:
                raise
            except Exception as e:
                raise FileProblem("corrupt", f"cannot decode image: {_reason(e)}") from None
        return self._image


def open_image(data: bytes, fmt: str, max_pixels: int = MAX_PIXELS, decode_budget: int = DECODE_BUDGET) -> Opened:
    """Open without decoding; refuse decompression bombs from the header, before any allocation:
    more than `max_pixels`, or decoded pixels that would take more than `decode_budget` bytes."""
    if fmt in RAW_FORMATS:
        return _open_raw(data, fmt, max_pixels, decode_budget)
    if fmt == "JXL":
        return _open_jxl(data, max_pixels, decode_budget)
    if fmt == "JPEG" and (opened := _open_jpeg(data, max_pixels, decode_budget)) is not None:
        return opened
    im = _pillow_open(data, fmt, max_pixels)
    w, h = im.size
    if w <= 0 or h <= 0:
        raise FileProblem("corrupt", f"{fmt} image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        raise FileProblem("too-large", f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the {max_pixels // 1_000_000} MP limit (possible decompression bomb)")
    need = decode_bytes(w, h, im.mode, fmt)
    if need > decode_budget:
        raise FileProblem("too-large", f"refused: {w}x{h} {fmt} ({im.mode}) needs {need / 2**20:.0f} MiB to decode, "
                                       f"above the {decode_budget / 2**20:.0f} MiB decode budget")
    raw = im.info.get("exif")
    tags = exifblock.parse(bytes(raw)) if isinstance(raw, (bytes, bytearray)) and raw and fmt != "TIFF" else None
    if tags is not None and isinstance(tags.get((None, 0x0112)), int):
        orientation = tags[(None, 0x0112)]
    else:   # no EXIF orientation: Pillow's, which also looks in XMP (tiff:Orientation)
        try:
            orientation = int(im.getexif().get(0x0112) or 1)
        except Exception:
            orientation = 1
    if orientation not in range(1, 9) or fmt in _DECODER_ORIENTS:
        orientation = 1
    if fmt == "HEIF" and not heif_transformed(data):
        # Samsung phones write a portrait's rotation only in EXIF, with no irot/imir box, and show
        # it upright; pillow-heif applies only the boxes (and reports EXIF's value as
        # `original_orientation`). With a box, the box is the rotation: never both.
        exif_orientation = im.info.get("original_orientation")
        orientation = exif_orientation if exif_orientation in range(2, 9) else 1
    if fmt == "HEIF" and tags is not None and isinstance(im.info.get("original_orientation"), int):
        tags[(None, 0x0112)] = im.info["original_orientation"]   # the file's EXIF says it, not the block pillow-heif reset
    if fmt == "AVIF" and not heif_transformed(data):
        # As HEIC: a rotation only in EXIF (no irot/imir box) is how the phone shows it. Pillow
        # overwrites EXIF's Orientation with the boxes' (none: 1), so the file's own EXIF says it.
        orientation, tags = avif_exif_orientation(data), None
    elif fmt == "AVIF":
        tags = None   # Pillow's block carries the boxes' rotation, not the file's EXIF: read from the file
    if orientation >= 5:
        w, h = h, w
    return Opened(im, w, h, orientation, data, exif=tags)


def avif_exif_orientation(data: bytes) -> int:
    """The Orientation an AVIF's own EXIF item holds (1 when none), read by exifread from the file."""
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, stop_tag="Orientation")
        value = tags.get("Image Orientation")
        orientation = int(value.values[0]) if value is not None and value.values else 1
    except Exception:   # exifread raises anything on odd files; no rotation then, as before
        return 1
    return orientation if orientation in range(1, 9) else 1


def _pillow_open(data: bytes, fmt: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Pillow's header parse, no decoding; the pixel limit is ours (checked by the caller)."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # our check names the size; restored, never left global
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[FORMATS[fmt][0]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FileProblem("too-large", f"refused: more than {max_pixels // 1_000_000} megapixels (possible decompression bomb)") from None
    except Exception as e:
        raise FileProblem("corrupt", f"cannot read {fmt} image: {_reason(e)}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}   # frame headers (not DHT, JPG, DAC)


def _open_jpeg(data: bytes, max_pixels: int, decode_budget: int) -> Opened | None:
    """A JPEG sized and oriented from one walk of its header segments (frame header, EXIF APP1),
    opened by Pillow only when its pixels are needed: Pillow's header parse reads the EXIF block
    again for a DPI, which the metadata stage does not need. None (Pillow's own parse decides) for
    anything unusual: no frame header, a zero dimension, an orientation only XMP gives."""
    segments = header_segments(data)
    frame = next((seg.payload for seg in segments if seg.marker in _SOF), None)
    if frame is None or len(frame) < 6:
        return None
    h, w = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
    if not w or not h:
        return None
    exif = [seg.payload for seg in segments if seg.marker == APP1 and seg.startswith(EXIF_APP1)]
    tags = exifblock.parse(exif[0] + b"".join(p[6:] for p in exif[1:])) if exif else None
    orientation = tags.get((None, 0x0112)) if tags else None
    if not isinstance(orientation, int):
        if any(seg.marker == APP1 and seg.startswith(XMP_APP1) for seg in segments):
            return None   # Pillow takes tiff:Orientation from XMP when EXIF has none
        orientation = 1
    if w * h > max_pixels:
        raise FileProblem("too-large", f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the {max_pixels // 1_000_000} MP limit (possible decompression bomb)")
    need = decode_bytes(w, h, "RGB", "JPEG")
    if need > decode_budget:
        mode = {1: "L", 3: "RGB", 4: "CMYK"}.get(frame[5], "RGB")
        raise FileProblem("too-large", f"refused: {w}x{h} JPEG ({mode}) needs {need / 2**20:.0f} MiB to decode, "
                                       f"above the {decode_budget / 2**20:.0f} MiB decode budget")
    if orientation not in range(1, 9):
        orientation = 1
    if orientation >= 5:
        w, h = h, w
    return Opened(None, w, h, orientation, data, loader=lambda: _pillow_open(data, "JPEG", max_pixels), exif=tags,
                  segments=segments)


# Pillow names the stream it was given ("cannot identify image file <_io.BytesIO object at 0x7f…>"):
# an address means nothing to a person, and the file is named beside the message anyway.
_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-f]+>|\s*'<[\w.]+ object at 0x[0-9a-f]+>'")


def _open_jxl(data: bytes, max_pixels: int, decode_budget: int) -> Opened:
    """A JPEG XL, sized from its header: refused before any decoding when too large, and decoded
    (libjxl turns it upright itself) only when its pixels are needed."""
    try:
        w, h, orientation = jxl.header(data)
    except (ValueError, KeyError) as e:
        raise FileProblem("corrupt", f"cannot read JXL image: {e}") from None
    if w * h > max_pixels:
        raise FileProblem("too-large", f"refused: {w}x{h} is {w * h / 1e6:.0f} megapixels, above the {max_pixels // 1_000_000} MP limit (possible decompression bomb)")
    need = decode_bytes(w, h, "RGBA", "JXL")
    if need > decode_budget:
        raise FileProblem("too-large", f"refused: {w}x{h} JXL needs {need / 2**20:.0f} MiB to decode, "
                                       f"above the {decode_budget / 2**20:.0f} MiB decode budget")
    if orientation >= 5:
        w, h = h, w
    return Opened(None, w, h, 1, data, loader=lambda: Image.open(io.BytesIO(data), formats=["JXL"]))


def _open_raw(data: bytes, fmt: str, max_pixels: int, decode_budget: int) -> Opened:
    """A camera raw: its size as displayed, and the picture the derivatives are made from."""
    picture = open_raw(data, fmt, WEB_SIZE, max_pixels, decode_budget)
    im = picture.image
    need = decode_bytes(*im.size, im.mode, im.format or "")
    if need > decode_budget:
        raise FileProblem("too-large", f"refused: the {fmt} preview needs {need / 2**20:.0f} MiB to decode, "
                                       f"above the {decode_budget / 2**20:.0f} MiB decode budget")
    # No bytes to re-open: a preview cut short is not retried as a truncated file. A CR3's EXIF is in
    # boxes exifread does not read; the other raws' is read from their TIFF structure by exifread.
    return Opened(im, picture.width, picture.height, picture.orientation, b"", [picture.note] if picture.note else [],
                  exif=cr3.exif_tags(data) if fmt == "CR3" else None)


def file_exif(im: Image.Image) -> Image.Exif:
    """The EXIF block the file holds, as Pillow parses it: `getexif()` would add an Orientation
    found in XMP, which is not what EXIF says."""
    raw = im.info.get("exif")
    if isinstance(raw, (bytes, bytearray)) and raw:
        exif = Image.Exif()
        exif.load(bytes(raw))
        return exif
    return im.getexif()


def header_info(data: bytes) -> dict:
    """What the decoder's header parse finds beside the pixels (`Image.info`: XMP, text chunks),
    without decoding; empty for what it cannot open."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(Image.open(io.BytesIO(data)).info)
    except Exception:
        return {}


_TRANSFORM_BOXES = (b"\x00\x00\x00\x09irot", b"\x00\x00\x00\x09imir")   # both are always 9 bytes


def heif_transformed(data: bytes) -> bool:
    """Whether a HEIF file's `meta` box holds a rotation (irot) or mirror (imir) property."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if size == 1 and pos + 16 <= len(data):
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            return False
        if kind == b"meta":
            meta = data[pos:pos + size]
            return any(box in meta for box in _TRANSFORM_BOXES)
        pos += size
    return False


def _reason(e: Exception) -> str:
    """A library's exception as one plain line: no object reprs, no second line."""
    text = _OBJECT_REPR.sub("", str(e).split("\n")[0])[:120].strip()
    return text or type(e).__name__


def _draft_box(w: int, h: int, long_edge: int) -> tuple[int, int]:
    """The photo's own aspect at `long_edge` (a square box would get only half the draft scale)."""
    scale = long_edge / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def jpeg_draft_size(w: int, h: int, long_edge: int = WEB_SIZE) -> tuple[int, int]:
    """The size a JPEG decodes at in `derivatives` (Pillow's draft: 1/8, 1/4, 1/2 or 1 scale, the
    smallest that still covers the web size's box), computed without touching the image."""
    box = _draft_box(w, h, long_edge)
    fits = min(w // box[0], h // box[1])
    scale = next(s for s in (8, 4, 2, 1) if fits >= s or s == 1)
    return (w + scale - 1) // scale, (h + scale - 1) // scale


def pixel_bytes(mode: str) -> int:
    """Bytes per pixel of a decoded image in Pillow's memory: 1, L and P take one; 16-bit grey
    two; RGB, RGBA, CMYK, LA (2 to 4 bands of 8 bits share a 32-bit pixel), I and F take four."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16") or mode in ("BGR;15", "BGR;16"):
        return 2
    return 3 if mode == "BGR;24" else 4


def decode_bytes(width: int, height: int, mode: str, fmt: str, long_edge: int = WEB_SIZE) -> int:
    """What decoding this image for the archive takes: its pixels at the size the decoder will
    produce (a JPEG's draft scale), at least as RGB (what the derivatives convert it to)."""
    if fmt == "JPEG":
        width, height = jpeg_draft_size(width, height, long_edge)
    return width * height * max(pixel_bytes(mode), pixel_bytes("RGB"))


_SRGB = None


def to_srgb_rgb(im: Image.Image) -> Image.Image:
    global _SRGB
    icc = im.info.get("icc_profile")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        try:
            if _SRGB is None:
                _SRGB = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _SRGB, outputMode="RGB")
        except Exception:
            pass  # a broken profile: fall back to a plain conversion
    if im.mode.startswith("I;16"):  # I;16, I;16L and the big-endian I;16B scanners write
        im = im.convert("I").point(lambda v: v / 256).convert("L")
    elif im.mode in ("I", "F"):
        im = ImageOps.autocontrast(im.convert("L"))
    return im.convert("RGB") if im.mode != "RGB" else im


def _encode(im: Image.Image) -> bytes:
    """JPEG bytes holding the pixels only. Pillow writes what `im.info` still holds (a decoded
    JPEG's COM comment, which can name a person or a place), so the result is stripped with the
    segment walker: whatever a Pillow version copies over, none of it is stored."""
    out = io.BytesIO()
    im.save(out, "JPEG", quality=JPEG_QUALITY, comment=b"")  # baseline: progressive costs 6x the encode time
    return strip_metadata(out.getvalue())


encode_jpeg = _encode


def derivatives(opened: Opened, web: int = WEB_SIZE, thumb: int = THUMB_SIZE) -> tuple[bytes, bytes]:
    """Web size and thumbnail as JPEG bytes: one decode, upright, sRGB, no metadata at all."""
    return encode_derivatives(web_image(opened, web), thumb)


def encode_derivatives(im: Image.Image, thumb: int = THUMB_SIZE) -> tuple[bytes, bytes]:
    """The web size `im` and a thumbnail made from it, as JPEG bytes with no metadata at all."""
    try:
        return _encode(im), _encode(shrink(im, thumb))
    except Exception as e:
        raise FileProblem("corrupt", f"cannot encode image: {_reason(e)}") from None


def web_image(opened: Opened, web: int = WEB_SIZE) -> Image.Image:
    """The web size's pixels: one decode (a JPEG at its draft scale), upright, sRGB. The face
    detector reads these too, so a photo is still decoded once."""
    im = opened.image
    try:
        if im.format == "JPEG":
            im.draft("RGB", _draft_box(*im.size, web))
        try:
            im.load()
        except OSError as e:
            if "truncated" not in str(e) or not opened.data:
                raise
            im = _load_truncated(opened, web)
        return shrink(to_srgb_rgb(im), web, opened.orientation)
    except FileProblem:
        raise
    except (Image.DecompressionBombError, MemoryError):
        raise FileProblem("too-large", "refused: image too large to decode") from None
    except Exception as e:
        raise FileProblem("corrupt", f"cannot decode image: {_reason(e)}") from None


def shrink(im: Image.Image, edge: int, orientation: int = 1) -> Image.Image:
    """`im` fitted in an `edge` square, never enlarged, and turned upright by the EXIF `orientation`
    (after resizing: fewer pixels to turn). An integer reduce(), then a short resample: the Lanczos
    low-pass and cubic step of `resize.resample`, or Pillow's `RESAMPLE` when one is set (and for
    modes OpenCV is not given: alpha). A new image when changed; `im` is left as it was."""
    turned = orientation >= 5
    upright = fit(im.size[::-1] if turned else im.size, edge)
    size = upright[::-1] if turned else upright
    if size == im.size:
        return rotate(im, orientation)
    if RESAMPLE is not None or im.mode not in _ARRAY_MODES:
        return rotate(im.resize(size, RESAMPLE or Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP), orientation)
    factor = (int(im.width / size[0] / REDUCING_GAP) or 1, int(im.height / size[1] / REDUCING_GAP) or 1)
    if factor != (1, 1):   # whole blocks only, so that the rest of the ratio is exact
        im = im.reduce(factor, box=(0, 0, im.width - im.width % factor[0], im.height - im.height % factor[1]))
    return Image.fromarray(resize.resample(np.asarray(im), size, LOBES, orientation))


def fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """The size Pillow's thumbnail((edge, edge)) gives: the aspect kept as closely as whole pixels
    allow, never enlarged (the web sizes stored before `shrink` have these sizes)."""
    w, h = size
    if w <= edge and h <= edge:
        return size
    aspect = w / h
    if aspect <= 1:
        return max(1, min(math.floor(edge * aspect), math.ceil(edge * aspect), key=lambda n: abs(aspect - n / edge))), edge
    return edge, max(1, min(math.floor(edge / aspect), math.ceil(edge / aspect),
                             key=lambda n: 0 if n == 0 else abs(aspect - edge / n)))


def _load_truncated(opened: Opened, web: int) -> Image.Image:
    """A file cut short (a card pulled out too soon, a download stopped): decode what is there, as
    exiftool and every viewer do, and say so. Pillow's switch for it is process-wide: restored."""
    im = Image.open(io.BytesIO(opened.data), formats=[opened.image.format])
    if im.format == "JPEG":
        im.draft("RGB", _draft_box(*im.size, web))
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        im.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved
    missing = _filled_rows(im) / im.height
    if missing > MAX_MISSING:
        raise FileProblem("corrupt", f"truncated: the file is cut short and {missing:.0%} of the picture is missing")
    opened.warnings.append("the file is cut short (its last bytes are missing): imported as it decodes")
    return im


# A cut file is imported while what is missing does not show: a few bytes lose a few rows of a
# baseline JPEG at most (exiftool and every viewer read it); half a file is half a grey picture.
MAX_MISSING = 0.01


def _filled_rows(im: Image.Image) -> int:
    """How many rows at the bottom the decoder filled with one flat colour (what it does past the
    end of a truncated file), counted in strips of about 1% of the height."""
    step = max(1, im.height // 100)
    bottom = im.height
    while bottom > 0:
        strip = im.crop((0, max(0, bottom - step), im.width, bottom)).getextrema()
        bands = strip if isinstance(strip[0], tuple) else (strip,)
        if any(lo != hi for lo, hi in bands):
            break
        bottom -= step
    return im.height - max(bottom, 0)


_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def rotate(im: Image.Image, orientation: int) -> Image.Image:
    """Apply the orientation to the (already small) decoded pixels; metadata is dropped anyway."""
    for op in _TRANSPOSE.get(orientation, []):
        im = im.transpose(op)
    return im
