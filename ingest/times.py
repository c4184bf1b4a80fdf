"""Time rules shared by tagging and corrections: a photo's local date, its UTC instant, now."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")



def local_date(taken_at: str | None) -> str | None:
    """The calendar date where the photo was taken: the local part, never shifted to UTC."""
    if taken_at and len(taken_at) >= 10 and taken_at[4] == "-" and taken_at[7] == "-":
        return taken_at[:10]
    return None


def utc(taken_at: str | None) -> str | None:
    """UTC instant when the offset is known, else None (the place's zone is for the tagging stage)."""
    if not taken_at or "T" not in taken_at or not re.search(r"[+-]\d\d:\d\d$", taken_at):
        return None
    try:
        moment = datetime.fromisoformat(taken_at).astimezone(timezone.utc)
    except ValueError:
        return None
    return moment.isoformat(timespec="milliseconds" if "." in taken_at else "seconds")


def date_words(date: str | None) -> str:
    """2024-11-02 -> "2 November 2024"; 2025-05 -> "May 2025"; anything else as it is."""
    if not date:
        return ""
    parts = date.split("-")
    if len(parts) in (2, 3) and all(p.isdigit() for p in parts) and 1 <= int(parts[1]) <= 12:
        month = f"{calendar.month_name[int(parts[1])]} {int(parts[0])}"
        return f"{int(parts[2])} {month}" if len(parts) == 3 else month
    return date
