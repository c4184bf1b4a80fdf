"""Dates in file and folder names: phones strip EXIF but keep the time in the name."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.text import shown

_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9

# File names: IMG_20241102_143012, PXL_20250315_131500123, 20250315_141000, Screenshot_2024-11-02-14-30-12,
# VID/IMG-20240518-WA0003 (WhatsApp: date only), signal-2024-11-02-143012.
_FILE_DATETIME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)[-_.]?(?P<m>[01]\d)[-_.]?(?P<d>[0-3]\d)"
    r"(?:[-_ T.]+(?P<H>[0-2]\d)[-_.:]?(?P<M>[0-5]\d)[-_.:]?(?P<S>[0-5]\d)(?P<ms>\d{1,3})?)?(?!\d)"
)
_FOLDER_ISO = re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)[-_.](?P<m>[01]\d)(?:[-_.](?P<d>[0-3]\d))?(?!\d)")
_FOLDER_WORDS = re.compile(
    r"(?<!\d)(?:(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+)?(?P<mon>[a-z]{3,9})\.?,?\s+(?P<y>(?:19|20)\d\d)(?!\d)", re.I
)


def _valid(y: int, m: int, d: int) -> bool:
    try:
        date(y, m, d)
    except ValueError:
        return False
    return 1990 <= y <= 2100


def date_from_filename(name: str) -> str | None:
    """An ISO date or local date-time from a camera or phone file name, else None."""
    for m in _FILE_DATETIME.finditer(name):
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
        if not _valid(y, mo, d):
            continue
        if m["H"] is not None:
            try:
                t = datetime(y, mo, d, int(m["H"]), int(m["M"]), int(m["S"]))
            except ValueError:
                return f"{y:04d}-{mo:02d}-{d:02d}"
            return t.isoformat()
        return f"{y:04d}-{mo:02d}-{d:02d}"
    return None


@lru_cache(maxsize=4096)   # a card's files share their few folders
def date_from_folder(name: str) -> str | None:
    """`2024-11-02`, `2024-05` or `2 November 2024` in one folder name -> YYYY-MM-DD or YYYY-MM."""
    m = _FOLDER_ISO.search(name)
    if m:
        y, mo = int(m["y"]), int(m["m"])
        if m["d"] and _valid(y, mo, int(m["d"])):
            return f"{y:04d}-{mo:02d}-{int(m['d']):02d}"
        if not m["d"] and 1 <= mo <= 12:
            return f"{y:04d}-{mo:02d}"
    for m in _FOLDER_WORDS.finditer(name):
        mo = _MONTHS.get(m["mon"].lower())
        if not mo:
            continue
        y = int(m["y"])
        if m["d"] and _valid(y, mo, int(m["d"])):
            return f"{y:04d}-{mo:02d}-{int(m['d']):02d}"
        # Without a day, "March 2024" is a month only when it is the whole name: in
        # "Gaza ceasefire march 2024", march is what people did.
        if not m["d"] and not re.sub(r"[\W_]+", "", name[:m.start()] + name[m.end():]):
            return f"{y:04d}-{mo:02d}"
    return None


def read_names(path: Path) -> dict[str, dict[str, Any]]:
    """Facts from the file name and the nearest dated folder, as sources `file-name` and `folder-name`."""
    facts: dict[str, dict[str, Any]] = {}
    if (d := date_from_filename(path.stem)):
        facts["file-name"] = {"date": d, "name": shown(path.name)}
    folders, dated = _folders(str(path.parent))
    if folders:
        facts["folder-name"] = {"folders": list(folders), **dated}
    return facts


@lru_cache(maxsize=1024)   # a card's files share their few folders: their parents walked once
def _folders(parent: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The names of a file's three nearest folders (as text: facts are not bytes), and the date and
    name of the nearest dated one."""
    folder = Path(parent)
    folders = tuple(shown(f.name) for f in [folder, *folder.parents][:3] if f.name)
    for name in folders:
        if (d := date_from_folder(name)):
            return folders, {"date": d, "folder": name}
    return folders, {}
