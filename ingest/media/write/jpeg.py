"""JPEG copies whose metadata segments are replaced while the picture's bytes stay untouched."""

from __future__ import annotations

from ingest.media.jpeg import APP0, APP1, APP13, COM, EOI, SOS, XMP_APP1, NotJpeg, segment, segments


def _keep_segment(marker: int, payload: bytes) -> bool:
    """What a public copy keeps of the original's segments: only what decoding needs."""
    if marker == APP0:                     # JFIF
        return payload.startswith(b"JFIF")
    if marker == 0xE2:                     # colour profile, not MPF or FlashPix data
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:                     # Adobe: tells decoders how CMYK/YCCK is coded
        return payload.startswith(b"Adobe")
    return not (0xE0 <= marker <= 0xEF or marker == COM)  # other APPn and comments go


def replace_jpeg_metadata(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                          app13: bytes | None = None) -> bytes:
    """JPEG bytes with every metadata segment (EXIF, XMP, IPTC, maker data, comments, those between
    a progressive file's scans included, and trailing thumbnails and depth maps after the image)
    replaced by exactly the ones given.

    The scan data is copied untouched: the picture is not re-encoded.
    """
    kept: list[bytes] = []
    try:
        for s in segments(jpeg, through_scans=True):
            if s.marker in (SOS, EOI) or (0xD0 <= s.marker <= 0xD7) or _keep_segment(s.marker, s.payload):
                kept.append(jpeg[s.start:s.end])
            if s.marker == EOI:
                break
    except NotJpeg as e:
        raise ValueError(str(e)) from None
    if not kept or kept[-1] != b"\xff\xd9":
        kept.append(b"\xff\xd9")       # a file cut short still ends as a JPEG must
    new = []
    if exif is not None:
        new.append(segment(APP1, exif))
    if xmp is not None:
        new.append(segment(APP1, XMP_APP1 + xmp))
    if app13 is not None:
        new.append(segment(APP13, app13))
    jfif = [s for s in kept if s[1] == APP0]
    others = [s for s in kept if s[1] != APP0]
    return b"\xff\xd8" + b"".join(jfif + new + others)
