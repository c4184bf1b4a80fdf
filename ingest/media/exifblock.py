"""One parse of a file's EXIF block (a TIFF structure) for the few tags the archive reads.

Pillow parses every tag of every IFD into objects, and a JPEG is parsed three times on its way
through the header, the orientation and the readers: two thirds of the metadata stage's time. This
walks IFD0, the EXIF IFD and the GPS IFD once, with `struct`, and decodes only the tags asked for.
Values come as Pillow gives them, so the readers treat both alike: a number, or a tuple when a tag
holds several; bytes for ASCII, BYTE and UNDEFINED; a rational as a float (None when its
denominator is 0). A tag whose value lies outside the block is left out, as Pillow does.
"""

from __future__ import annotations

import struct
from typing import Any

from ingest.media.tags import EXIF, EXIF_IFD, GPS_IFD

EXIF_POINTER, GPS_POINTER = EXIF_IFD, GPS_IFD
_MAX_ENTRIES = 1024   # entries read per IFD: a real one holds a few dozen
_ENTRY = {end: struct.Struct(end + "HHL4s") for end in "<>"}   # tag, type, count, value or offset

# TIFF field type -> (bytes per value, struct code; None: the bytes as they are, "r"/"R": rational)
_TYPES: dict[int, tuple[int, str | None]] = {
    1: (1, None), 2: (1, None), 3: (2, "H"), 4: (4, "L"), 5: (8, "r"), 6: (1, "b"), 7: (1, None),
    8: (2, "h"), 9: (4, "l"), 10: (8, "R"), 11: (4, "f"), 12: (8, "d"), 13: (4, "L"),
}


# What the archive reads (media/tags.py's EXIF table, and GPS position and altitude), by IFD.
READ: dict[int | None, frozenset[int]] = {
    ifd: frozenset(tag for i, tag, _ in EXIF.values() if i == ifd) for ifd in (None, EXIF_IFD)} | {
    GPS_IFD: frozenset({1, 2, 3, 4, 5, 6})}


def tiff_start(raw: bytes) -> int | None:
    """Where the TIFF header starts in an EXIF block as containers give it: bare, after JPEG's
    "Exif\\0\\0", or after HEIF's 4-byte offset; None when there is none."""
    if raw[:6] == b"Exif\x00\x00":
        start = 6
    elif raw[4:10] == b"Exif\x00\x00":
        start = 10
    else:
        start = 0
    return start if raw[start:start + 4] in (b"II*\x00", b"MM\x00*") else None


def parse(raw: bytes, wanted: dict[int | None, frozenset[int]] = READ) -> dict[tuple[int | None, int], Any] | None:
    """The `wanted` tags ({None: IFD0 tags, EXIF_POINTER: ..., GPS_POINTER: ...}) keyed (IFD, tag),
    or None when `raw` holds no TIFF structure to walk."""
    start = tiff_start(raw)
    if start is None:
        return None
    tiff = memoryview(raw)[start:]
    end = "<" if tiff[:2] == b"II" else ">"
    size = len(tiff)
    found: dict[tuple[int | None, int], Any] = {}
    pointers: dict[int, int] = {}
    (ifd0,) = struct.unpack_from(end + "L", tiff, 4)
    _walk(tiff, end, size, ifd0, None, wanted.get(None, frozenset()) | {EXIF_POINTER, GPS_POINTER}, found, pointers)
    for pointer in (EXIF_POINTER, GPS_POINTER):
        offset = pointers.get(pointer)
        if offset and pointer in wanted and offset != ifd0:
            _walk(tiff, end, size, offset, pointer, wanted[pointer], found, {})
    return found


def _walk(tiff: memoryview, end: str, size: int, offset: int, ifd: int | None, tags: frozenset[int],
          found: dict, pointers: dict[int, int]) -> None:
    if offset < 8 or offset + 2 > size:
        return
    (count,) = struct.unpack_from(end + "H", tiff, offset)
    count = min(count, _MAX_ENTRIES, (size - offset - 2) // 12)
    for tag, kind, n, inline in _ENTRY[end].iter_unpack(tiff[offset + 2:offset + 2 + 12 * count]):
        if tag not in tags or kind not in _TYPES or n == 0:
            continue
        width, code = _TYPES[kind]
        length = width * n
        if length <= 4:
            data = inline[:length]
        else:
            (at,) = struct.unpack(end + "L", inline)
            if at + length > size:
                continue   # outside the block: Pillow drops it too
            data = bytes(tiff[at:at + length])
        if ifd is None and tag in (EXIF_POINTER, GPS_POINTER):
            if code in ("L", "H"):
                pointers[tag] = struct.unpack_from(end + code, data)[0]
            continue
        found[(ifd, tag)] = _value(data, end, code, n)


def _value(data: bytes, end: str, code: str | None, n: int) -> Any:
    if code is None:
        return bytes(data)
    if code in ("r", "R"):
        pairs = struct.unpack(f"{end}{2 * n}{'L' if code == 'r' else 'l'}", data)
        values: tuple = tuple(num / den if den else None for num, den in zip(pairs[::2], pairs[1::2]))
    else:
        values = struct.unpack(f"{end}{n}{code}", data)
    return values[0] if n == 1 else values
