"""EXIF: exifread first, Pillow where exifread fails or finds nothing (some WebP, AVIF, HEIF)."""

from __future__ import annotations

import io
import logging
from fractions import Fraction
from typing import Any

import exifread

from ingest.errors import MetadataProblem
from ingest.importer.read import as_text, clean_date, clean_text, decode_text, valid_gps
from ingest.media import exifblock
from ingest.media.tags import EXIF, EXIF_IFD, GPS_IFD, exifread_name

# exifread logs every oddity of every camera at WARNING; they are not the user's problem.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

# exifread's tag name -> our key, by kind; and Pillow's (IFD, tag) -> our key (from media/tags.py)
_EXIFREAD = {kind: {exifread_name(key): key for key, (_, _, k) in EXIF.items() if k == kind}
             for kind in ("text", "date", "number", "ucs2")}
_TEXT_TAGS, _DATE_TAGS, _NUMBER_TAGS = _EXIFREAD["text"], _EXIFREAD["date"], _EXIFREAD["number"]
_UCS2_TAGS = _EXIFREAD["ucs2"]
_PILLOW = {(ifd, tag): key for key, (ifd, tag, _) in EXIF.items()}
_DATES = set(_DATE_TAGS.values())
_NUMBERS = set(_NUMBER_TAGS.values())
_UCS2 = set(_UCS2_TAGS.values())


def _ucs2(value: Any) -> str | None:
    """Windows' XP fields: UCS-2 little-endian bytes (a list of byte values from exifread)."""
    if isinstance(value, str):  # a reader that decoded it already
        return clean_text(value)
    try:
        raw = bytes(value)
    except (TypeError, ValueError):
        return None
    return clean_text(raw[:len(raw) // 2 * 2].decode("utf-16-le", "replace"))


def _values(tag: Any) -> Any:
    """An exifread tag's value as text, never its repr: `printable` of bytes is "b'...'"."""
    return as_text(tag.values)


def _number(value: Any) -> float | int | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    if type(value) is int:   # the common cases (exifblock's SHORT, LONG and rationals): no conversion
        return value
    if type(value) is float and value - value == 0:   # finite (inf - inf and nan - nan are nan)
        return int(value) if value.is_integer() else round(value, 6)
    try:
        if hasattr(value, "numerator") and hasattr(value, "denominator"):
            if not value.denominator:
                return None
            f = float(Fraction(int(value.numerator), int(value.denominator)))
        else:
            f = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return int(f) if f.is_integer() else round(f, 6)


def _dms(values: Any, ref: Any) -> float | None:
    """Degrees/minutes/seconds rationals (or odd decimal-degree encodings) with N/S/E/W -> signed degrees."""
    try:
        parts = [_number(v) for v in list(values)[:3]]
    except TypeError:
        return None
    if not parts or any(p is None for p in parts):
        return None
    parts += [0] * (3 - len(parts))
    deg = parts[0] + parts[1] / 60 + parts[2] / 3600
    ref_text = (clean_text(ref) or "").upper()[:1]
    if ref_text in ("S", "W"):
        deg = -abs(deg)
    return round(deg, 7)


def _finish(facts: dict[str, Any], lat: float | None, lon: float | None, alt: float | None) -> dict[str, Any]:
    if valid_gps(lat, lon):
        facts["GPSLatitude"], facts["GPSLongitude"] = lat, lon
        if alt is not None:
            facts["GPSAltitude"] = alt
    return facts


def read_exif(data: bytes) -> dict[str, Any]:
    """EXIF facts from a whole file's bytes, via exifread. Raises MetadataProblem if it cannot parse."""
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except Exception as e:  # exifread raises anything from struct.error to IndexError on odd files
        raise MetadataProblem(f"EXIF unreadable ({type(e).__name__})") from None
    facts: dict[str, Any] = {}
    for tag, key in _TEXT_TAGS.items():
        if tag in tags and (text := clean_text(_values(tags[tag]))):
            facts[key] = text
    for tag, key in _DATE_TAGS.items():
        if tag in tags and (text := clean_date(_values(tags[tag]))):
            facts[key] = text
    for tag, key in _UCS2_TAGS.items():
        if tag in tags and (text := _ucs2(tags[tag].values)):
            facts[key] = text
    for tag, key in _NUMBER_TAGS.items():
        if tag in tags and (n := _number(tags[tag].values)) is not None:
            facts[key] = n
    lat = lon = alt = None
    if "GPS GPSLatitude" in tags and "GPS GPSLongitude" in tags:
        lat = _dms(tags["GPS GPSLatitude"].values, tags.get("GPS GPSLatitudeRef", "N"))
        lon = _dms(tags["GPS GPSLongitude"].values, tags.get("GPS GPSLongitudeRef", "E"))
    if "GPS GPSAltitude" in tags:
        alt = _number(tags["GPS GPSAltitude"].values)
        ref = tags.get("GPS GPSAltitudeRef")
        if alt is not None and ref is not None and _number(ref.values) == 1:
            alt = -alt
    return _finish(facts, lat, lon, alt)


def _undo_latin1(value: Any) -> Any:
    """Pillow decodes EXIF ASCII as Latin-1; writers put UTF-8 there ("Zoë" came back as "ZoÃ«")."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value
    return value


def _ascii(value: Any) -> str | None:
    """An EXIF ASCII value up to its first NUL, as exifread and exiftool read it (Pillow keeps what
    follows: "ION230\\0F" would be "ION230F")."""
    text = as_text(value)
    return text.split("\x00", 1)[0] if text is not None else None


def read_exif_pillow(exif: Any) -> dict[str, Any]:
    """EXIF facts from a Pillow `Image.Exif` (TIFF files, and blocks `exifblock` cannot walk)."""
    try:
        ifds = {None: exif, EXIF_IFD: exif.get_ifd(EXIF_IFD), GPS_IFD: exif.get_ifd(GPS_IFD)}
    except Exception:
        return {}
    return read_exif_tags({(ifd, tag): value for ifd, tags in ifds.items() for tag, value in tags.items()
                           if (ifd, tag) in _PILLOW or ifd == GPS_IFD})


def read_exif_block(raw: bytes) -> dict[str, Any] | None:
    """EXIF facts from an EXIF block's bytes in one walk (`media.exifblock`); None when the block
    holds no TIFF structure (then Pillow or exifread try)."""
    tags = exifblock.parse(raw)
    return None if tags is None else read_exif_tags(tags)


def _text(value: Any) -> str | None:
    """An EXIF ASCII field: bytes up to the first NUL, UTF-8 where valid, else Latin-1; or a value
    Pillow decoded as Latin-1, undone the same way."""
    if isinstance(value, bytes):
        return clean_text(decode_text(value.split(b"\x00", 1)[0]))
    return clean_text(_undo_latin1(_ascii(value)))


def _date(value: Any) -> str | None:
    return clean_date(_ascii(value))


# (IFD, tag) -> (our key, how its value becomes a fact)
_CONVERT = {(ifd, tag): (key, _number if key in _NUMBERS else _ucs2 if key in _UCS2 else _date if key in _DATES else _text)
            for (ifd, tag), key in _PILLOW.items()}


def read_exif_tags(tags: dict[tuple[int | None, int], Any]) -> dict[str, Any]:
    """EXIF facts from parsed tags keyed (IFD, tag), valued as Pillow gives them."""
    facts: dict[str, Any] = {}
    for where, (key, convert) in _CONVERT.items():
        value = tags.get(where)
        if value is not None and (value := convert(value)) is not None:
            facts[key] = value
    lat = lon = alt = None
    gps = {tag: tags[(i, tag)] for i, tag in tags if i == GPS_IFD}
    if 2 in gps and 4 in gps:
        lat = _dms(gps[2], gps.get(1, "N"))
        lon = _dms(gps[4], gps.get(3, "E"))
    if 6 in gps:
        alt = _number(gps[6])
        if alt is not None and gps.get(5) in (1, b"\x01"):
            alt = -alt
    return _finish(facts, lat, lon, alt)
