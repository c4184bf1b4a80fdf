"""ICC colour profiles reduced to their colour data, for copies that leave the archive.

A profile is a header and tagged blocks. Besides the colour data, it names the device, who made it
and when (header), and carries free text: its description, copyright, device names, viewing notes
and any private tag. A calibrated display or scanner profile is often named after its owner
("Anna's MacBook Pro"). What leaves keeps only the matrix and tone curves of an RGB or grey
profile, each tag copied at the size its type defines (so nothing hidden behind a curve's declared
size travels with it), under a neutral description. Anything else (LUT-based, CMYK) cannot be
reduced this way: the caller converts the picture to sRGB instead.
"""

from __future__ import annotations

import struct

DESCRIPTION = "Colour profile"
COPYRIGHT = "No copyright, use freely"
_HEADER = 128
# Tags a matrix/TRC profile needs, and the few that refine it; each with the types it may have.
_XYZ = (b"wtpt", b"bkpt", b"rXYZ", b"gXYZ", b"bXYZ", b"lumi")
_CURVES = (b"rTRC", b"gTRC", b"bTRC", b"kTRC")
_NEEDED = {b"RGB ": {b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"}, b"GRAY": {b"wtpt", b"kTRC"}}
_PARA_COUNTS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}


def _tag_size(sig: bytes, blob: bytes) -> int | None:
    """The size the tag's type defines, or None when the tag is not colour data we keep."""
    kind = blob[:4]
    if sig in _XYZ and kind == b"XYZ " and len(blob) >= 20:
        return 20
    if sig == b"chad" and kind == b"sf32" and len(blob) >= 44:
        return 44
    if sig in _CURVES and kind == b"curv" and len(blob) >= 12:
        size = 12 + 2 * int.from_bytes(blob[8:12], "big")
        return size if size <= len(blob) else None
    if sig in _CURVES and kind == b"para" and len(blob) >= 12:
        count = _PARA_COUNTS.get(int.from_bytes(blob[8:10], "big"))
        return 12 + 4 * count if count and 12 + 4 * count <= len(blob) else None
    return None


def _text(version: int, text: str) -> bytes:
    if version >= 4:  # multiLocalizedUnicodeType
        encoded = text.encode("utf-16-be")
        return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded
    return b"text" + bytes(4) + text.encode("ascii") + b"\x00"


def _description(version: int, text: str) -> bytes:
    if version >= 4:
        return _text(version, text)
    ascii_text = text.encode("ascii") + b"\x00"  # textDescriptionType: ASCII, no Unicode, no ScriptCode
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)


def sanitise(profile: bytes) -> bytes | None:
    """The profile's colour data under a neutral description and header, or None when it is not a
    matrix/TRC RGB or grey profile that can be reduced to that."""
    if len(profile) < _HEADER + 4 or profile[36:40] != b"acsp" or profile[20:24] != b"XYZ ":
        return None
    space = profile[16:20]
    if space not in _NEEDED:
        return None
    count = int.from_bytes(profile[128:132], "big")
    if count > 200 or _HEADER + 4 + 12 * count > len(profile):
        return None
    kept: dict[bytes, bytes] = {}
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i])
        blob = profile[offset:offset + size] if offset + size <= len(profile) else b""
        exact = _tag_size(sig, blob)
        if exact is not None and sig not in kept:
            blob = bytearray(blob[:exact])
            blob[4:8] = bytes(4)                   # reserved
            if blob[:4] == b"para":
                blob[10:12] = bytes(2)             # reserved
            kept[sig] = bytes(blob)
    if not _NEEDED[space] <= set(kept):
        return None
    version = profile[8]
    kept[b"desc"] = _description(version, DESCRIPTION)
    kept[b"cprt"] = _text(version, COPYRIGHT)
    table = _HEADER + 4 + 12 * len(kept)
    entries, data, placed = [], b"", {}
    for sig, blob in kept.items():
        if blob not in placed:  # tags that shared one block (the three TRCs of sRGB) still do
            placed[blob] = table + len(data)
            data += blob + bytes(-len(blob) % 4)
        entries.append(struct.pack(">4sII", sig, placed[blob], len(blob)))
    header = bytearray(_HEADER)
    header[8:24] = profile[8:24]                    # version, class, colour space, connection space
    header[36:40] = b"acsp"
    header[44:48] = profile[44:48]                  # flags
    header[64:80] = profile[64:80]                  # rendering intent, illuminant
    header[0:4] = struct.pack(">I", table + len(data))
    return bytes(header) + struct.pack(">I", len(kept)) + b"".join(entries) + data
