"""JPEG copies whose metadata segments are replaced while the picture's bytes stay untouched."""

from __future__ import annotations

from ingest.media import icc as icc_profiles
from ingest.media.jpeg import APP1, APP13, XMP_APP1, NotJpeg, icc_segments, picture, segment


def replace_jpeg_metadata(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                          app13: bytes | None = None) -> bytes:
    """JPEG bytes with every metadata segment (EXIF, XMP, IPTC, maker data, comments, those between
    a progressive file's scans included, and trailing thumbnails and depth maps after the image)
    replaced by exactly the ones given. An ICC profile stays reduced to its colour data
    (media/icc.py), or goes when it cannot be: see `keeps_colours`.

    The scan data is copied untouched: the picture is not re-encoded.
    """
    try:
        found = picture(jpeg)
    except NotJpeg as e:
        raise ValueError(str(e)) from None
    profile = icc_profiles.sanitise(found.icc) if found.icc else None
    new = []
    if exif is not None:
        new.append(segment(APP1, exif))
    if xmp is not None:
        new.append(segment(APP1, XMP_APP1 + xmp))
    if profile is not None:
        new.extend(icc_segments(profile))
    if app13 is not None:
        new.append(segment(APP13, app13))
    return found.bytes(*new)


def keeps_colours(jpeg: bytes) -> bool:
    """Whether `replace_jpeg_metadata` keeps the picture's colours: it has no ICC profile, or one
    reduced without loss. A copy of a picture for which this is False is converted to sRGB."""
    try:
        found = picture(jpeg)
    except NotJpeg:
        return True  # replace_jpeg_metadata says what is wrong
    return found.icc is None or icc_profiles.sanitise(found.icc) is not None
