"""Canon CR3 (an ISO base media file): the parts the archive reads that LibRaw and exifread do not give.

exifread finds no EXIF in a CR3: Canon keeps IFD0, the EXIF IFD and the GPS IFD as three small TIFF
structures (CMT1, CMT2, CMT4) in a `uuid` box of `moov`. LibRaw's only preview is the full-size JPEG
in the media data at the end of the file, which a file cut short (a card pulled out while writing)
or pruned of its sensor data lacks, while the 1620x1080 preview (PRVW) and the metadata, in the
boxes before it, are whole.
"""

from __future__ import annotations

from collections.abc import Iterator

from ingest.media import exifblock
from ingest.media.tags import EXIF_IFD, GPS_IFD

CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")     # in moov: CMT1..CMT4, THMB
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")   # 8 bytes, then the PRVW box
# CMTn -> the IFD its TIFF structure's first IFD is (CMT3 is the maker note: not read)
_CMT = {b"CMT1": None, b"CMT2": EXIF_IFD, b"CMT4": GPS_IFD}


def is_cr3(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] == b"crx "


def _boxes(data: bytes, pos: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, or the 16-byte UUID of a `uuid` box; payload start; payload end) of each box in data[pos:end]."""
    end = min(end, len(data))
    while pos + 8 <= end:
        size, kind, start = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8], pos + 8
        if size == 1:
            size, start = int.from_bytes(data[pos + 8:pos + 16], "big"), pos + 16
        elif size == 0:
            size = end - pos
        if size < start - pos or pos + size > end:
            return   # a box that claims more than is there: the file was cut short
        if kind == b"uuid":
            kind, start = data[start:start + 16], start + 16
        yield kind, start, pos + size
        pos += size


def parts(data: bytes) -> dict[bytes, bytes]:
    """The CR3's metadata boxes by type (CMT1..CMT4, THMB, PRVW, and b"XMP" for the XMP packet)."""
    found: dict[bytes, bytes] = {}
    if not is_cr3(data):
        return found
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind == b"moov":
            for inner, s, e in _boxes(data, start, end):
                if inner == CANON_UUID:
                    found.update((k, data[s2:e2]) for k, s2, e2 in _boxes(data, s, e) if k not in found)
        elif kind == XMP_UUID:
            found.setdefault(b"XMP", data[start:end])
        elif kind == PREVIEW_UUID:
            found.update((k, data[s:e]) for k, s, e in _boxes(data, start + 8, end) if k == b"PRVW")
    return found


def exif_tags(data: bytes) -> dict[tuple[int | None, int], object] | None:
    """The EXIF tags the archive reads, keyed (IFD, tag) as `exifblock.parse` gives them; None when
    the file holds none of the three structures."""
    found = parts(data)
    tags: dict[tuple[int | None, int], object] = {}
    walked = False
    for box, ifd in _CMT.items():
        if box not in found:
            continue
        parsed = exifblock.parse(found[box], {None: exifblock.READ[ifd]})
        if parsed is not None:
            walked = True
            tags.update(((ifd, tag), value) for (_, tag), value in parsed.items())
    return tags if walked else None


def preview(data: bytes) -> bytes | None:
    """The JPEG of the PRVW box (1620x1080 in current cameras): after 12 bytes of version, flags and
    size, the JPEG's length, then the JPEG."""
    box = parts(data).get(b"PRVW")
    if box is None or len(box) < 16:
        return None
    length = int.from_bytes(box[12:16], "big")
    jpeg = box[16:16 + length]
    return jpeg if jpeg[:3] == b"\xff\xd8\xff" else None
