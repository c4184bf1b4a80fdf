"""Readers: one per metadata family, each turning bytes into facts keyed by name.

Facts are plain data, `{source: {key: value}}`, so they can cross a process boundary, be stored
as they are in the `metadata` table, and be resolved again later without re-reading files.
Values are str, int, float or list[str]. Junk (blank dates, NUL padding, GPS 0/0) is not a fact.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.text import xml_safe

# Keys never kept: they identify a person or a device, and the archive has no use for them.
_PRIVATE = re.compile(r"serial|owner|imageuniqueid|documentid|instanceid|history|ancestors|thumbnail", re.I)

_MAX_TEXT = 10_000


def is_private(key: str) -> bool:
    return bool(_PRIVATE.search(key))


def as_text(value: Any) -> str | None:
    """A stored value as text, never as a Python repr: bytes (and the lists of byte values some
    readers give for BYTE or UNDEFINED fields) decode as UTF-8 where valid, else Latin-1."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return decode_text(bytes(value))
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        return decode_text(bytes(value))
    return str(value)


def clean_text(value: Any) -> str | None:
    """Strip NUL padding, C0/C1 control characters (but tab and newline: no person typed them,
    and one in a caption breaks XML outputs and terminals) and whitespace; empty means absent."""
    text = value if type(value) is str else as_text(value)
    if text is None:
        return None
    if text.isascii() and text.isprintable():   # the common case: nothing to replace or drop
        text = text.strip()
    else:
        text = xml_safe(text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        return None
    return text[:_MAX_TEXT]


def decode_text(raw: bytes) -> str:
    """UTF-8 where it is valid, else Latin-1 (what older cameras and press software write)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_JUNK_DATE = re.compile(r"^[\s0:.\-T+Z]*$")


def clean_date(value: Any) -> str | None:
    """A date string, or None for the blank and zero dates cameras write when their clock is unset."""
    text = clean_text(value)
    if text is None or _JUNK_DATE.match(text):
        return None
    return text


def valid_gps(lat: float | None, lon: float | None) -> bool:
    """GPS 0/0 is a receiver without a fix, not a place in the Gulf of Guinea."""
    if lat is None or lon is None:
        return False
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return False
    return not (abs(lat) < 1e-6 and abs(lon) < 1e-6)
