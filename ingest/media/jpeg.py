"""Walking a JPEG's marker segments: the one walker that readers and writers share.

A JPEG is SOI, header segments (APPn metadata, COM comments, tables, the frame header), then one
scan or, for progressive files, many scans with more tables and comments between them, then EOI.
Anything after EOI (a second image, a camera's depth map) is a trailer, not part of the picture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

SOI, EOI, SOS, COM, APP0, APP1, APP13 = 0xD8, 0xD9, 0xDA, 0xFE, 0xE0, 0xE1, 0xED
XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_APP1 = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_APP1 = b"Exif\x00\x00"
PHOTOSHOP_APP13 = b"Photoshop 3.0\x00"


class NotJpeg(ValueError):
    """The bytes are not a JPEG, or its markers are broken at some offset."""


class Segment(NamedTuple):
    """One marker segment (a tuple: a frozen dataclass's __init__ cost a third of the header walk)."""
    marker: int
    start: int          # offset of its 0xFF
    end: int            # offset after it; a scan's end includes its entropy-coded data
    payload: bytes      # what follows the length field (a scan's header only)

    def startswith(self, prefix: bytes) -> bool:
        return self.payload.startswith(prefix)


def _scan_end(data: bytes, pos: int) -> int:
    """Where a scan's entropy-coded data ends: at the next marker that is not a stuffed 0xFF00 or
    a restart marker (RSTn). Fill bytes (0xFF 0xFF) belong to the marker that follows them."""
    while True:
        i = data.find(b"\xff", pos)
        if i < 0 or i + 1 >= len(data):
            return len(data)
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = i + 2
            continue
        while i + 1 < len(data) and data[i + 1] == 0xFF:
            i += 1
        return i


def segments(data: bytes, *, through_scans: bool = False) -> Iterator[Segment]:
    """The segments from SOI on. Without `through_scans` the walk stops at the first scan (SOS is
    the last segment yielded): that is all the metadata a reader needs. With it, the walk goes on
    through every scan and the segments between them, up to and including EOI; a file cut short
    ends with its last scan. Raises NotJpeg where the structure is broken."""
    if data[:2] != b"\xff\xd8":
        raise NotJpeg("not a JPEG (no SOI marker)")
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise NotJpeg(f"corrupt JPEG: expected a marker at byte {pos}")
        if pos + 1 >= len(data):
            return
        marker = data[pos + 1]
        if marker == 0xFF:                                  # fill byte
            pos += 1
            continue
        if marker == EOI:
            yield Segment(marker, pos, pos + 2, b"")
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:        # stand-alone markers
            yield Segment(marker, pos, pos + 2, b"")
            pos += 2
            continue
        if pos + 4 > len(data):
            raise NotJpeg(f"corrupt JPEG: segment at byte {pos} is cut short")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            raise NotJpeg(f"corrupt JPEG: segment at byte {pos} has length {length}")
        end = min(pos + 2 + length, len(data))
        payload = data[pos + 4:end]
        if marker == SOS:
            if not through_scans:
                yield Segment(marker, pos, end, payload)
                return
            end = _scan_end(data, end)
        yield Segment(marker, pos, end, payload)
        pos = end


def header_segments(data: bytes) -> list[Segment]:
    """The segments before the first scan: as many as can be read (a broken file gives those before
    the break, a file that is no JPEG none)."""
    found: list[Segment] = []
    try:
        for s in segments(data):
            if s.marker == SOS:
                break
            found.append(s)
    except NotJpeg:
        pass
    return found


def segment(marker: int, payload: bytes) -> bytes:
    """One segment's bytes: marker, length, payload."""
    if len(payload) > 0xFFFF - 2:
        raise ValueError(f"JPEG segment payload too large ({len(payload)} bytes, max 65533)")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


# What a decoder needs: frame headers (SOFn, but not the reserved JPG, DHT and DAC codes among
# them), Huffman and arithmetic tables, quantisation tables, the restart interval, the number of
# lines, scans and restart markers. Hierarchical (DHP, EXP) and JPGn extensions are not needed by
# any decoder in use and can carry anything, so they go with the metadata.
_DECODING = ({m for m in range(0xC0, 0xD0) if m != 0xC8} | {0xDB, 0xDC, 0xDD, SOS, EOI} | set(range(0xD0, 0xD8)))
ICC_APP2 = b"ICC_PROFILE\x00"
ADOBE_APP14 = b"Adobe"


@dataclass
class Picture:
    """A JPEG taken apart into its picture and the few header segments decoding may need."""
    body: list[bytes]           # tables, frame, scans (with their data) and EOI, in file order
    jfif: bytes | None = None   # a plain JFIF APP0 segment: version and density, no thumbnail
    adobe: bytes | None = None  # Adobe APP14: how a CMYK or YCCK picture is coded
    icc: bytes | None = None    # the ICC profile its APP2 chunks held, reassembled

    def bytes(self, *extra: bytes) -> bytes:
        """SOI, JFIF, the given segments, Adobe, then the picture: nothing else."""
        return b"\xff\xd8" + b"".join(filter(None, (self.jfif, *extra, self.adobe, *self.body)))


def picture(data: bytes) -> Picture:
    """Split a JPEG into what decoding needs; every other segment (APPn metadata, comments, JPGn,
    anything between scans that is not a table, and whatever follows EOI) is dropped. A file cut
    short gets its EOI back. Raises NotJpeg where the structure is broken."""
    found = Picture([])
    chunks: dict[int, bytes] = {}
    for s in segments(data, through_scans=True):
        if s.marker in _DECODING:
            found.body.append(data[s.start:s.end])
        elif s.marker == APP0 and s.startswith(b"JFIF\x00") and len(s.payload) >= 12 and found.jfif is None:
            found.jfif = segment(APP0, s.payload[:12] + b"\x00\x00")  # thumbnail 0x0
        elif s.marker == 0xEE and s.startswith(ADOBE_APP14) and len(s.payload) >= 12 and found.adobe is None:
            found.adobe = segment(0xEE, s.payload[:12])
        elif s.marker == 0xE2 and s.startswith(ICC_APP2) and len(s.payload) > 14:
            chunks.setdefault(s.payload[12], s.payload[14:])
    if not found.body or found.body[-1] != b"\xff\xd9":
        found.body.append(b"\xff\xd9")
    if chunks and sorted(chunks) == list(range(1, len(chunks) + 1)):
        found.icc = b"".join(chunks[i] for i in sorted(chunks))
    return found


def strip_metadata(data: bytes) -> bytes:
    """The JPEG with nothing but its picture (and a plain JFIF header): what a public thumbnail or
    web size may hold. The scan data is copied untouched. Raises NotJpeg for a broken file."""
    return picture(data).bytes()


def icc_segments(profile: bytes) -> list[bytes]:
    """An ICC profile as the APP2 chunks a JPEG carries it in."""
    size = 0xFFFF - 2 - len(ICC_APP2) - 2
    parts = [profile[i:i + size] for i in range(0, len(profile), size)] or [b""]
    if len(parts) > 255:
        raise ValueError("ICC profile too large for a JPEG")
    return [segment(0xE2, ICC_APP2 + bytes([n, len(parts)]) + part) for n, part in enumerate(parts, 1)]
