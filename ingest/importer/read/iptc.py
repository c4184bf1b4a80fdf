"""IPTC-IIM (the press desks' APP13 block): record 2 datasets, Latin-1 or UTF-8."""

from __future__ import annotations

import struct
from typing import Any

from ingest.errors import MetadataProblem
from ingest.importer.read import clean_text
from ingest.media.jpeg import APP13, PHOTOSHOP_APP13, Segment, header_segments
from ingest.media.tags import IPTC, IPTC_REPEATABLE

_UTF8_MARKERS = (b"\x1b%G", b"\x1b%/G", b"\x1b%/I")


def jpeg_app13(data: bytes, segments: list[Segment] | None = None) -> bytes | None:
    """The Photoshop IRB payload of a JPEG's APP13 segment (before the image data); `segments`:
    its header segments when walked already."""
    for seg in header_segments(data) if segments is None else segments:
        if seg.marker == APP13 and seg.startswith(PHOTOSHOP_APP13):
            return seg.payload[len(PHOTOSHOP_APP13):]
    return None


def iim_from_irb(irb: bytes) -> bytes | None:
    """The IPTC-NAA resource (0x0404) in a Photoshop image resource block."""
    pos = 0
    while pos + 12 <= len(irb):
        if irb[pos:pos + 4] != b"8BIM":
            return None
        (rid,) = struct.unpack(">H", irb[pos + 4:pos + 6])
        name_len = irb[pos + 6]
        pos += 7 + name_len + ((name_len + 1) % 2)  # Pascal string padded to even length
        if pos + 4 > len(irb):
            return None
        (size,) = struct.unpack(">I", irb[pos:pos + 4])
        pos += 4
        if rid == 0x0404:
            return irb[pos:pos + size]
        pos += size + (size % 2)
    return None


def parse_iim(iim: bytes) -> dict[str, Any]:
    """Facts from IIM datasets; text is UTF-8 when 1:90 says so or when it decodes as such."""
    raw: list[tuple[int, int, bytes]] = []
    pos = 0
    while pos + 5 <= len(iim):
        if iim[pos] != 0x1C:
            break
        record, dataset = iim[pos + 1], iim[pos + 2]
        (length,) = struct.unpack(">H", iim[pos + 3:pos + 5])
        pos += 5
        if length & 0x8000:  # extended dataset: the length is in the next n bytes
            n = length & 0x7FFF
            if n > 4:
                raise MetadataProblem("IPTC extended dataset length is implausible, ignored")
            length = int.from_bytes(iim[pos:pos + n], "big")
            pos += n
        if pos + length > len(iim):
            raise MetadataProblem("IPTC block truncated, ignored")
        raw.append((record, dataset, iim[pos:pos + length]))
        pos += length
    utf8 = any(r == 1 and d == 90 and v in _UTF8_MARKERS for r, d, v in raw)
    facts: dict[str, Any] = {}
    for record, dataset, value in raw:
        key = IPTC.get(dataset) if record == 2 else None
        if key is None:
            continue
        text = clean_text(value.decode("utf-8", "replace") if utf8 else value)
        if text is None:
            continue
        if key in IPTC_REPEATABLE:
            facts.setdefault(key, [])
            if text not in facts[key]:
                facts[key].append(text)
        elif key not in facts:
            facts[key] = text
    return facts


def read_iptc(data: bytes, tiff_iptc: bytes | None = None, segments: list[Segment] | None = None) -> dict[str, Any]:
    """IPTC facts from a JPEG's bytes (or its header `segments`, walked already), or from a TIFF's
    IPTC-NAA tag (given by the caller)."""
    iim = tiff_iptc
    if iim is None:
        irb = jpeg_app13(data, segments)
        iim = iim_from_irb(irb) if irb else None
    return parse_iim(iim) if iim else {}
