"""Perceptual hashes: the same picture in other bytes (re-saved, resized, re-tagged, slightly cropped
or colour-adjusted in another program) gets a hash a few bits away from the original's.

Computed from the stored thumbnail (upright, sRGB, 400 px), which every import already makes: JPEG
draft decoding takes it to ~50 px, so a hash costs well under a millisecond and needs no extra
decode of the original. Plain Pillow and Python: a 64-bit pHash (the low frequencies of a 32x32
DCT, each bit above or below their median), which survives brightness, contrast and small crops
better than a difference hash.
"""

from __future__ import annotations

import io
import math

from PIL import Image

SIZE = 32          # the DCT's input, in pixels
LOW = 8            # the 8x8 lowest frequencies make the 64 bits
NEAR = 12          # bits: at most this far apart is "the same picture" (see the README for the figures)

# cos((2x + 1) u pi / 2N) for the LOW frequencies u of an N-point DCT-II, computed once.
_COS = [[math.cos((2 * x + 1) * u * math.pi / (2 * SIZE)) for x in range(SIZE)] for u in range(LOW)]


def phash(image: Image.Image) -> int:
    """A 64-bit perceptual hash of `image` (any mode or size), as an unsigned int."""
    if image.format == "JPEG":
        image.draft("L", (SIZE * 2, SIZE * 2))  # decode at 1/8 scale: the hash needs 32 px
    grey = image.convert("L").resize((SIZE, SIZE), Image.Resampling.BOX)
    pixels = grey.tobytes()
    rows = [pixels[y * SIZE:(y + 1) * SIZE] for y in range(SIZE)]
    # Separable DCT, low frequencies only: along each row, then down each of the LOW columns.
    across = [[sum(c * p for c, p in zip(cos, row)) for cos in _COS] for row in rows]
    coeffs = [sum(_COS[v][y] * across[y][u] for y in range(SIZE)) for v in range(LOW) for u in range(LOW)]
    ac = coeffs[1:]  # the DC term is the mean brightness: left out of the median, as it dwarfs the rest
    median = sorted(ac)[len(ac) // 2]
    bits = 0
    for c in coeffs:
        bits = (bits << 1) | (c > median)
    return bits


def phash_jpeg(data: bytes) -> int:
    """The perceptual hash of a JPEG (a stored thumbnail), decoded at the smallest scale that serves."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
        return phash(im)


def distance(a: int, b: int) -> int:
    """Bits that differ: 0 for the same picture, ~32 for unrelated ones."""
    return (a ^ b).bit_count()


def to_column(value: int) -> int:
    """An unsigned 64-bit hash as SQLite's signed INTEGER (two's complement), and back: `from_column`."""
    return value - (1 << 64) if value >= 1 << 63 else value


def from_column(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
