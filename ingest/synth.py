"""Synthetic photo-like images and sample files for tests, demos and benchmarks.

Flat-colour test images compress to nothing and hide real costs (hashing, thumbnails,
I/O), so these have sky, crowd, banners and sensor-like grain, and compress like a
photo: a 12 MP JPEG at quality 88-90 comes out at a few megabytes. Everything is seeded
and pure Pillow (no numpy), so the same arguments always give the same bytes.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from ingest.embed import build_exif, exif_bytes, insert_jpeg_segments, iptc_app13, iptc_iim, xmp_packet

# Stored pixels = upright.transpose(_INVERSE[o]), so that exif_transpose() restores upright.
_INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
FORMATS = {"JPEG", "JPG", "PNG", "WEBP", "TIFF", "TIF", "HEIC", "HEIF", "AVIF"}
GRAIN = 0.2  # noise strength; tuned so a 12 MP JPEG at quality 90 is about 4 MB
_BANNER_COLOURS = [(0, 87, 183), (255, 215, 0), (0, 122, 61), (206, 17, 38), (20, 20, 20), (245, 245, 245),
                   (120, 40, 140), (230, 90, 20)]


def _noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    # Image.effect_noise uses C rand() with global state, so it is not reproducible.
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def _sky_and_ground(width: int, height: int, rng: random.Random) -> Image.Image:
    """Vertical gradient: pale sky at the top (an 'up' cue for orientation tests), street below."""
    ramp = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)  # 0 at top
    top = (rng.randint(150, 200), rng.randint(175, 215), rng.randint(215, 250))
    bottom = (rng.randint(55, 95), rng.randint(50, 85), rng.randint(45, 80))
    bands = [ramp.point(lambda v, a=a, b=b: a + (b - a) * v // 255) for a, b in zip(top, bottom)]
    return Image.merge("RGB", bands)


def _crowd(canvas: Image.Image, scale: int, rng: random.Random) -> None:
    """Buildings, people and banners, drawn on a small canvas (edges soften when upscaled)."""
    w, h = canvas.size
    draw = ImageDraw.Draw(canvas)
    horizon = int(h * rng.uniform(0.35, 0.5))
    x = 0
    while x < w:  # facades along the street
        bw, bh = max(2, rng.randint(w // 12, w // 5)), rng.randint(h // 6, horizon)
        shade = rng.randint(90, 190)
        draw.rectangle((x, horizon - bh, x + bw, h), fill=(shade, shade - rng.randint(0, 30), shade - 40))
        for wy in range(horizon - bh + 6, horizon, max(4, h // 30)):
            for wx in range(x + 4, x + bw - 4, max(4, w // 40)):
                draw.rectangle((wx, wy, wx + max(2, w // 120), wy + max(2, h // 60)), fill=(40, 45, 60))
        x += bw
    for _ in range(rng.randint(3, 6)):  # banners on poles
        bx, by = rng.randint(0, w), rng.randint(int(h * 0.2), int(h * 0.55))
        bw, bh = rng.randint(w // 8, w // 3), rng.randint(h // 14, h // 7)
        colour = rng.choice(_BANNER_COLOURS)
        draw.line((bx, by, bx, by + h // 3), fill=(60, 50, 40), width=max(1, scale // 2))
        draw.rectangle((bx, by, bx + bw, by + bh), fill=colour)
        ink = (255, 255, 255) if sum(colour) < 400 else (20, 20, 20)
        for line in range(2):
            ly = by + bh * (line + 1) // 3
            draw.line((bx + bw // 10, ly, bx + bw * 9 // 10, ly), fill=ink, width=max(1, bh // 8))
    rows = rng.randint(5, 8)
    for row in range(rows):  # people, back rows first so the front overlaps them
        y = horizon + (h - horizon) * row // rows
        size = max(3, int((h // 14) * (0.6 + row / rows)))
        for _ in range(w // size + 1):
            px = rng.randint(-size, w)
            coat = tuple(rng.randint(15, 200) for _ in range(3))
            skin = rng.choice([(234, 192, 160), (198, 134, 66), (141, 85, 36), (90, 60, 40), (224, 172, 105)])
            draw.ellipse((px, y - size * 3 // 2, px + size, y + size * 2), fill=coat)
            draw.ellipse((px + size // 5, y - size * 5 // 2, px + size * 4 // 5, y - size * 3 // 2), fill=skin)


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """An RGB image of a street demonstration in crude shapes, with photo-like detail.

    The scene is drawn at a quarter of the size and upscaled (soft edges, fast), then
    fine and coarse grain from a seeded RNG is mixed in, which is what gives a JPEG its
    realistic size. Top of the image is sky, so rotation mistakes are detectable.
    """
    if width < 8 or height < 8:
        raise ValueError(f"image too small: {width}x{height}")
    rng = random.Random(seed)
    scale = 4
    small = (max(8, width // scale), max(8, height // scale))
    scene = _sky_and_ground(*small, rng)
    _crowd(scene, scale, rng)
    scene = scene.filter(ImageFilter.GaussianBlur(0.6)).resize((width, height), Image.Resampling.BILINEAR)
    # Coarse mottling (cloth, tarmac, foliage) plus fine sensor grain, both luminance-only,
    # added around mid-grey: out = scene + GRAIN * (noise - 128), clipped by ImageChops.add.
    coarse = _noise(small, rng).filter(ImageFilter.BoxBlur(1)).resize((width, height), Image.Resampling.BILINEAR)
    grain = Image.blend(coarse, _noise((width, height), rng), 0.45)
    grain = grain.point(lambda v: 128 + round((v - 128) * GRAIN)).convert("RGB")
    return ImageChops.add(scene, grain, scale=1.0, offset=-128)


def make_photo(
    path: str | Path,
    *,
    width: int = 1600,
    height: int = 1200,
    seed: int = 0,
    fmt: str = "JPEG",
    exif: Mapping[str, Any] | None = None,
    xmp: Mapping[str, Any] | None = None,
    iptc: Mapping[str, Any] | None = None,
    iptc_utf8: bool = True,
    quality: int = 88,
) -> Path:
    """Write a photo-like image with the given metadata; returns the path.

    ``width``/``height`` are the upright (display) size: with an EXIF Orientation other
    than 1 the stored pixels are transposed so that applying the orientation shows the
    scene upright, as a camera held sideways does. ``fmt`` is JPEG, PNG, WEBP, TIFF,
    HEIC (or HEIF) or AVIF. IPTC is written to JPEG (APP13) and TIFF (tag 33723) only;
    XMP goes wherever the format has a slot (JPEG APP1, PNG iTXt, WebP/HEIF/AVIF, TIFF tag 700).
    """
    path = Path(path)
    fmt = fmt.upper()
    if fmt not in FORMATS:
        raise ValueError(f"unsupported format {fmt!r}; expected one of {sorted(FORMATS)}")
    if iptc and fmt not in ("JPEG", "JPG", "TIFF", "TIF"):
        raise ValueError(f"IPTC-IIM is not supported in {fmt}; use XMP")
    im = photo_like(width, height, seed)
    orientation = int(exif.get("Orientation") or 1) if exif else 1
    if orientation in _INVERSE:
        im = im.transpose(_INVERSE[orientation])
    exif_data = exif_bytes(exif) if exif else None
    xmp_data = xmp_packet(xmp) if xmp else None
    buf = io.BytesIO()
    if fmt in ("JPEG", "JPG"):
        params: dict[str, Any] = {"quality": quality}
        if exif_data:
            params["exif"] = exif_data
        im.save(buf, "JPEG", **params)
        data = buf.getvalue()
        if xmp_data or iptc:
            data = insert_jpeg_segments(
                data, xmp=xmp_data, app13=iptc_app13(iptc, utf8=iptc_utf8) if iptc else None)
    elif fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        if xmp_data:
            info.add_itxt("XML:com.adobe.xmp", xmp_data.decode("utf-8"))
        im.save(buf, "PNG", pnginfo=info, exif=exif_data or b"", compress_level=6)
        data = buf.getvalue()
    elif fmt in ("WEBP", "AVIF"):
        # AVIF moves Orientation into irot/imir boxes by re-encoding the EXIF: hand it the
        # Exif object, as re-loading our bytes would turn non-ASCII text into "?".
        exif_arg: Any = build_exif(exif) if exif and fmt == "AVIF" else exif_data or b""
        im.save(buf, fmt, quality=quality, exif=exif_arg, xmp=xmp_data or b"")
        data = buf.getvalue()
    elif fmt in ("HEIC", "HEIF"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        params = {"quality": quality}
        if exif_data:
            params["exif"] = exif_data
        if xmp_data:
            params["xmp"] = xmp_data
        im.save(buf, "HEIF", **params)
        data = buf.getvalue()
    else:  # TIFF
        # Pillow's TIFF writer takes either exif= or tiffinfo=, not both: merge into one.
        tiffinfo = build_exif(exif or {})
        if xmp_data:
            tiffinfo[700] = xmp_data
        if iptc:
            tiffinfo[33723] = iptc_iim(iptc, utf8=iptc_utf8)
        # Uncompressed: compression goes through libtiff, which rejects the EXIF/GPS sub-IFDs.
        im.save(buf, "TIFF", compression="raw", tiffinfo=tiffinfo)
        data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
