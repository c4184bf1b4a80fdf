"""Readers: one per metadata family, each turning bytes into facts keyed by name.

Facts are plain data, `{source: {key: value}}`, so they can cross a process boundary, be stored
as they are in the `metadata` table, and be resolved again later without re-reading files.
Values are str, int, float or list[str]. Junk (blank dates, NUL padding, GPS 0/0) is not a fact.
"""

from __future__ import annotations

import re
from typing import Any

# Keys never kept: they identify a person or a device, and the archive has no use for them.
_PRIVATE = re.compile(r"serial|owner|imageuniqueid|documentid|instanceid|history|ancestors|thumbnail", re.I)

_MAX_TEXT = 10_000


def is_private(key: str) -> bool:
    return bool(_PRIVATE.search(key))


def clean_text(value: Any) -> str | None:
    """Strip NUL padding and whitespace; empty means absent."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = decode_text(value)
    text = str(value).replace("\x00", "").strip()
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
