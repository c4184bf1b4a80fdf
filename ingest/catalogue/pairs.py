"""RAW+JPEG: a camera set to save both writes one shot twice, `DSC_0042.ARW` and `DSC_0042.JPG`.
They are one photo with two originals, not two photos: whichever is imported first is the photo
(its pixels are the derivatives), the other is kept as its second original (`photo_originals`).

A pair is: the same folder, the same file name but for the extension, one of them a camera raw and
the other not, and the same capture time to the second. Anything less (a JPEG edited later, a
name reused on another day) stays two photos.
"""

from __future__ import annotations

import os

import sqlite_utils

from ingest.media.images import FORMATS
from ingest.media.raw import RAW_FORMATS, RAW_SUFFIXES
from ingest.model import FileResult

_PICTURE_SUFFIXES = (".jpg", ".jpeg", ".heic", ".heif", ".hif", ".tif", ".tiff")


def _partner_paths(path: str, raw: bool) -> list[str]:
    stem, _ = os.path.splitext(path)
    suffixes = _PICTURE_SUFFIXES if raw else tuple(RAW_SUFFIXES)
    return [stem + s for suffix in suffixes for s in (suffix, suffix.upper())]


def pair_key(path: str, fmt: str | None, taken_at: str | None) -> tuple[str, str, bool] | None:
    """What two files of one shot share (folder and stem, capture second) and which side this is."""
    if not taken_at or len(taken_at) < 19 or fmt is None:
        return None
    stem, _ = os.path.splitext(path)
    return stem.casefold(), taken_at[:19], fmt in RAW_FORMATS


def partner(db: sqlite_utils.Database, result: FileResult, taken_at: str | None, stored) -> int | None:
    """The photo this file is the other half of, if its partner was imported already."""
    key = pair_key(result.path, result.format, taken_at)
    if key is None:
        return None
    # Every path of this stem with an extension, from one index range ("." + 1 is "/"), rather than
    # one lookup per possible suffix: the partner is among them (and there is seldom any).
    stem, _ = os.path.splitext(result.path)
    rows = db.execute("""SELECT s.path, p.id, p.format, p.taken_at FROM photo_sources s JOIN photos p ON p.id = s.photo_id
                         WHERE s.path >= ? AND s.path < ?""", [stored(stem + "."), stored(stem + "/")]).fetchall()
    if not rows:
        return None
    others = {stored(p) for p in _partner_paths(result.path, key[2]) if p != result.path}
    return next((pid for path, pid, fmt, taken in rows
                 if path in others and (fmt in RAW_FORMATS) != key[2] and (taken or "")[:19] == key[1]), None)


def add_original(db: sqlite_utils.Database, photo_id: int, result: FileResult, stamp: str) -> None:
    db.conn.execute(
        """INSERT INTO photo_originals (sha256, photo_id, format, mime_type, file_size, added_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING""",
        [result.sha256, photo_id, result.format, FORMATS[result.format][2], result.size, stamp])


def photo_of_original(db: sqlite_utils.Database, sha256: str) -> int | None:
    """The photo whose second original has these bytes."""
    row = db.execute("SELECT photo_id FROM photo_originals WHERE sha256 = ?", [sha256]).fetchone()
    return row[0] if row else None
