"""EXIF blocks built from the archive's own field names (the EXIF tag table in media/tags.py)."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from PIL import Image, TiffImagePlugin

from ingest.media.tags import EXIF, EXIF_GPS, EXIF_IFD, EXIF_NOT_READ, GPS_IFD, IFD0

_WRITABLE = EXIF | EXIF_NOT_READ
_IFD0 = {name: tag for name, (ifd, tag, _) in _WRITABLE.items() if ifd is IFD0}
_EXIF_IFD = {name: tag for name, (ifd, tag, _) in _WRITABLE.items() if ifd == EXIF_IFD}
_RATIONAL = {"ExposureTime", "FNumber", "FocalLength"}
_GPS_KEYS = set(EXIF_GPS)


def _rational(value: Any, limit: int = 1_000_000) -> TiffImagePlugin.IFDRational:
    frac = Fraction(str(value) if isinstance(value, float) else value).limit_denominator(limit)
    return TiffImagePlugin.IFDRational(frac.numerator, frac.denominator)


def _dms(degrees: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    """Decimal degrees to the (deg, min, sec) rationals EXIF wants, to ~3 mm precision."""
    total = round(abs(degrees) * 3600 * 10000)  # ten-thousandths of an arc-second
    d, rem = divmod(total, 3600 * 10000)
    m, s = divmod(rem, 60 * 10000)
    return (TiffImagePlugin.IFDRational(d, 1), TiffImagePlugin.IFDRational(m, 1),
            TiffImagePlugin.IFDRational(s, 10000))


def _ascii(value: Any) -> str | bytes:
    # Pillow encodes str as ASCII with "?" for anything else; pass UTF-8 bytes instead,
    # which is what cameras and exiftool write in practice.
    text = str(value)
    return text if text.isascii() else text.encode("utf-8")


def _ucs2(value: Any) -> bytes:
    """Windows' XP fields: UCS-2 little-endian, NUL-terminated."""
    return str(value).encode("utf-16-le") + b"\x00\x00"


def _sub_ifd(exif: Image.Exif, tag: int, values: dict[int, Any]) -> None:
    # Also set the pointer tag itself: an Exif holding only sub-IFDs is empty (falsy) as a
    # mapping, and Pillow's AVIF and TIFF writers then drop it.
    ifd = exif.get_ifd(tag)
    ifd.update(values)
    exif[tag] = ifd


def build_exif(fields: Mapping[str, Any]) -> Image.Exif:
    """An ``Image.Exif`` from friendly names; None values are skipped.

    Sets IFD0 tags (Make, Model, Orientation, Artist, Copyright, ImageDescription,
    DateTime, Software), the Exif sub-IFD (DateTimeOriginal "YYYY:MM:DD HH:MM:SS",
    OffsetTimeOriginal "+01:00", SubSecTimeOriginal, ExposureTime, FNumber,
    ISOSpeedRatings, FocalLength, BodySerialNumber, LensModel...) and the GPS sub-IFD
    from signed decimal GPSLatitude/GPSLongitude and metres GPSAltitude (a negative
    value sets the below-sea-level ref). Non-ASCII text is stored as UTF-8 bytes: keep
    the object rather than re-loading its bytes, as Pillow's re-encoding turns them into "?".
    """
    unknown = set(fields) - set(_IFD0) - set(_EXIF_IFD) - _GPS_KEYS
    if unknown:
        raise ValueError(f"unknown EXIF field(s): {', '.join(sorted(unknown))}")
    exif = Image.Exif()
    for name, tag in _IFD0.items():
        if fields.get(name) is not None:
            value = fields[name]
            exif[tag] = int(value) if name == "Orientation" else _ucs2(value) if name.startswith("XP") else _ascii(value)
    sub = {}
    for name, tag in _EXIF_IFD.items():
        value = fields.get(name)
        if value is None:
            continue
        if name in _RATIONAL:
            sub[tag] = _rational(value)
        elif name == "ISOSpeedRatings":
            sub[tag] = int(value)
        else:
            sub[tag] = _ascii(value)
    if sub:
        sub[0x9000] = b"0232"  # ExifVersion: OffsetTime* arrived in EXIF 2.31
        _sub_ifd(exif, EXIF_IFD, sub)
    gps: dict[int, Any] = {}
    lat, lon, alt = fields.get("GPSLatitude"), fields.get("GPSLongitude"), fields.get("GPSAltitude")
    if lat is not None:
        if not -90 <= float(lat) <= 90:
            raise ValueError(f"GPSLatitude out of range: {lat}")
        gps[1], gps[2] = ("N" if float(lat) >= 0 else "S"), _dms(float(lat))
    if lon is not None:
        if not -180 <= float(lon) <= 180:
            raise ValueError(f"GPSLongitude out of range: {lon}")
        gps[3], gps[4] = ("E" if float(lon) >= 0 else "W"), _dms(float(lon))
    if alt is not None:
        gps[5], gps[6] = (0 if float(alt) >= 0 else 1), _rational(abs(float(alt)), 1000)
    if gps:
        gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3.0.0
        _sub_ifd(exif, GPS_IFD, gps)
    return exif
