"""Dates: when a photo was taken, from the best source that says, in local time.

Local time is what people mean: `date` is the calendar date where the photo was taken, never
shifted to UTC. A file's modification time is not when the photo was taken and is never used.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ingest.model import Facts

_OFFSET = re.compile(r"^([+-])(\d\d):?(\d\d)$")
_ISO = re.compile(
    r"^(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?)?)?\s*(Z|[+-]\d\d:?\d\d)?$"
)


def _offset(text: Any) -> str | None:
    m = _OFFSET.match(str(text).strip()) if text else None
    if not m or int(m[2]) > 14 or int(m[3]) >= 60:
        return None
    return f"{m[1]}{m[2]}:{m[3]}"


def _iso(date: str, time: str | None = None, frac: str | None = None, offset: str | None = None) -> str:
    out = date
    if time:
        out += f"T{time}" + (f".{frac}" if frac else "") + (offset or "")
    return out


def _exif_datetime(text: str, subsec: Any = None, offset: Any = None) -> str | None:
    m = re.match(r"^(\d{4})[:\-](\d\d)[:\-](\d\d)[ T](\d\d):(\d\d):(\d\d)", text)
    if not m:
        return None
    try:
        datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None
    frac = re.sub(r"\D", "", str(subsec))[:6] if subsec not in (None, "") else None
    return _iso(f"{m[1]}-{m[2]}-{m[3]}", f"{m[4]}:{m[5]}:{m[6]}", frac or None, _offset(offset))


def _xmp_datetime(text: str) -> str | None:
    m = _ISO.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    try:
        datetime(int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    date = y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "")
    if not hh:
        return date
    offset = "+00:00" if tz == "Z" else _offset(tz)
    return _iso(date, f"{hh}:{mm}:{ss or '00'}", frac, offset)


def _iptc_datetime(day: str, time: Any) -> str | None:
    m = re.match(r"^(\d{4})(\d\d)(\d\d)$", day.strip())
    if not m:
        return None
    t = re.match(r"^(\d\d)(\d\d)(\d\d)([+-]\d{4})?$", str(time or "").strip())
    try:
        datetime(int(m[1]), int(m[2]), int(m[3]), *(int(g) for g in t.groups()[:3])) if t else datetime(
            int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    date = f"{m[1]}-{m[2]}-{m[3]}"
    if not t:
        return date
    return _iso(date, f"{t[1]}:{t[2]}:{t[3]}", None, _offset(t[4]))


def _png_datetime(text: str) -> str | None:
    """PNG `Creation Time`: RFC 1123 by the specification ("Fri, 20 Sep 2019 11:30:00 +0200"),
    ISO 8601 or EXIF's layout as tools write it."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return _xmp_datetime(text) or _exif_datetime(text)
    offset = when.strftime("%z")
    return _iso(when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S"), None, _offset(offset) if offset else None)


def _candidates(facts: Facts):
    """(taken_at, source) from each source in order of trust: capture dates, then digitisation
    dates (the same moment for a digital camera; what some editors keep), then names."""
    exif, xmp, iptc = facts.get("exif", {}), facts.get("xmp", {}), facts.get("iptc", {})
    if isinstance(v := exif.get("DateTimeOriginal"), str):
        yield _exif_datetime(v, exif.get("SubSecTimeOriginal"), exif.get("OffsetTimeOriginal")), "exif"
    for key in ("exif:DateTimeOriginal", "photoshop:DateCreated"):
        if isinstance(v := xmp.get(key), str):
            yield _xmp_datetime(v) or _exif_datetime(v), "xmp"
    if isinstance(v := iptc.get("Date Created"), str):
        yield _iptc_datetime(v, iptc.get("Time Created")), "iptc"
    if isinstance(v := exif.get("DateTimeDigitized"), str):
        yield _exif_datetime(v), "exif"
    for key in ("xmp:CreateDate", "exif:DateTimeDigitized"):
        if isinstance(v := xmp.get(key), str):
            yield _xmp_datetime(v) or _exif_datetime(v), "xmp"
    if isinstance(v := facts.get("png", {}).get("Creation Time"), str):
        yield _png_datetime(v), "png"
    yield facts.get("file-name", {}).get("date"), "file-name"
    yield facts.get("folder-name", {}).get("date"), "folder-name"


def resolve_date(facts: Facts) -> tuple[str | None, str | None, list[str]]:
    """(taken_at, source, review reasons) in the order of `_candidates` (the README's table).

    A partial date (only the year or month) gives way to a complete one further down that agrees
    with it; alone, it is kept and flagged. EXIF `DateTime` (exiftool's ModifyDate: when the file
    was last written, by the camera or an editor) is the last resort, with its `OffsetTime`, flagged.
    """
    partial: tuple[str, str] | None = None
    for taken, source in _candidates(facts):
        if not isinstance(taken, str) or not taken:
            continue
        if len(taken) >= 10:
            if partial is None or taken.startswith(partial[0]):
                return taken, source, []
            continue
        partial = partial or (taken, source)
    if partial:
        what = "month" if len(partial[0]) == 7 else "year"
        return partial[0], partial[1], [f"only the {what} is known"]
    exif = facts.get("exif", {})
    if isinstance(v := exif.get("DateTime"), str) and (t := _exif_datetime(v, None, exif.get("OffsetTime"))):
        return t, "exif", ["date from EXIF DateTime, which may be when the file was edited"]
    return None, None, ["no date"]
