"""JPEG XL headers, read without decoding: the picture's size and the container's metadata boxes.

pillow-jxl-plugin decodes the whole picture when it opens a file, so the archive reads the size
itself first: a decompression bomb is refused from its header, and a metadata-only pass (a dry
run's reading, the benchmark) costs no decode.
"""

from __future__ import annotations

CODESTREAM = b"\xff\x0a"
CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


class _Bits:
    """JPEG XL's bit reader: least significant bit first."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        value = 0
        for i in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("JPEG XL header cut short")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return value

    def u32(self, *dist: int) -> int:
        return self.read(dist[self.read(2)])


def boxes(data: bytes) -> dict[bytes, bytes]:
    """The container's boxes by type (the first of each; `jxlp` parts joined, their index dropped);
    a bare codestream is given as `jxlc`."""
    if data.startswith(CODESTREAM):
        return {b"jxlc": data}
    found: dict[bytes, bytes] = {}
    parts: list[bytes] = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        start = pos + 8
        if size == 1:
            size, start = int.from_bytes(data[pos + 8:pos + 16], "big"), pos + 16
        elif size == 0:
            size = len(data) - pos
        if size < start - pos:
            break
        payload = data[start:pos + size]
        if kind == b"jxlp":
            parts.append(payload[4:])
        else:
            found.setdefault(kind, payload)
        pos += size
    if parts and b"jxlc" not in found:
        found[b"jxlc"] = b"".join(parts)
    return found


def header(data: bytes) -> tuple[int, int, int]:
    """(width, height, orientation) from the codestream's SizeHeader and the start of its
    ImageMetadata; the size is the stored one, before the orientation (which libjxl applies when
    it decodes). Raises ValueError for what is not a codestream."""
    stream = boxes(data).get(b"jxlc", b"")
    if not stream.startswith(CODESTREAM):
        raise ValueError("no JPEG XL codestream")
    bits = _Bits(stream[2:2 + 16])
    small = bits.read(1)
    height = 8 * (1 + bits.read(5)) if small else 1 + bits.u32(9, 13, 18, 30)
    ratio = bits.read(3)
    if ratio:
        num, den = _RATIOS[ratio]
        width = height * num // den
    else:
        width = 8 * (1 + bits.read(5)) if small else 1 + bits.u32(9, 13, 18, 30)
    orientation = 1
    if not bits.read(1) and bits.read(1):   # not all_default, extra_fields
        orientation = 1 + bits.read(3)
    return width, height, orientation
