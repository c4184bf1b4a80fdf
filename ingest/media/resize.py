"""The derivatives' resample in OpenCV: a Lanczos low-pass, a cubic resample, then the turn upright.

`images.shrink` is the one place that resizes; this is its fast path. Pillow's own resize computes
its filter only at the output's pixels but without SIMD, and costs three times the draft decode's
share (bench/ingest.py); OpenCV's separable filter and cubic resize are vectorised. The low-pass is
Pillow's LANCZOS kernel (a windowed sinc whose cutoff is the new size's Nyquist), run over the
source, so the result keeps what LANCZOS keeps and aliases as little (tests/test_derivative_quality.py).
OpenCV is imported on first use (~40 ms) and runs one thread: the import pool already keeps every
core busy, and a thread pool does not survive the pool's fork.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

# EXIF orientation -> OpenCV's flips and quarter turns, as images.rotate turns a Pillow image
# (2 mirror, 3 half turn, 4 flip, 5 transpose, 6 clockwise, 7 transverse, 8 anticlockwise).
_FLIP_LR, _FLIP_TB = 1, 0


@lru_cache(maxsize=1)
def opencv() -> Any:
    """OpenCV, imported on first use, set to one thread."""
    import cv2

    cv2.setNumThreads(1)
    return cv2


@lru_cache(maxsize=64)
def lowpass(ratio: float, lobes: int = 3) -> np.ndarray:
    """The 1-D Lanczos kernel for a reduction by `ratio` (a column, summing to 1): sinc with its
    cutoff at the new size's Nyquist, windowed by a wider sinc, `lobes` * `ratio` taps each side."""
    if ratio <= 1:
        return np.ones((1, 1), dtype=np.float32)
    half = int(np.ceil(lobes * ratio))
    x = np.arange(-half, half + 1, dtype=np.float64) / ratio
    kernel = np.sinc(x) * np.sinc(x / lobes) * (np.abs(x) < lobes)
    return (kernel / kernel.sum()).astype(np.float32).reshape(-1, 1)


def resample(pixels: np.ndarray, size: tuple[int, int], lobes: int = 3, orientation: int = 1) -> np.ndarray:
    """`pixels` (H x W or H x W x 3, uint8) at `size` (width, height, no larger), turned upright
    by the EXIF `orientation` afterwards: the turn costs less on the smaller image."""
    cv2 = opencv()
    h, w = pixels.shape[:2]
    kx, ky = lowpass(round(w / size[0], 6), lobes), lowpass(round(h / size[1], 6), lobes)
    if len(kx) > 1 or len(ky) > 1:
        pixels = cv2.sepFilter2D(pixels, -1, kx, ky, borderType=cv2.BORDER_REFLECT)
    out = cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC) if (w, h) != size else pixels
    return turn(out, orientation)


def turn(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """`pixels` turned and flipped as the EXIF orientation says (1: as they are)."""
    cv2 = opencv()
    if orientation == 2:
        return cv2.flip(pixels, _FLIP_LR)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, _FLIP_TB)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(pixels), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return pixels
