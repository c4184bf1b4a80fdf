"""Finding rows by the references people type: a photo by id or sha256 prefix, a free slug."""

from __future__ import annotations

import re

import sqlite_utils

from ingest.errors import ArchiveError


def unique_slug(db: sqlite_utils.Database, table: str, base: str) -> str:
    slug, n = base, 1
    while db.execute(f"SELECT 1 FROM [{table}] WHERE slug = ?", [slug]).fetchone():
        n += 1
        slug = f"{base}-{n}"
    return slug


def find_photo(db: sqlite_utils.Database, ref: str) -> int:
    """A photo by its id, its sha256, or a unique prefix of the sha256 (at least 6 characters)."""

    ref = ref.strip().lower()
    if ref.isdigit() and len(ref) < 12:
        if db.execute("SELECT 1 FROM photos WHERE id = ?", [int(ref)]).fetchone():
            return int(ref)
    if re.fullmatch(r"[0-9a-f]{6,64}", ref):
        rows = db.execute("SELECT id FROM photos WHERE sha256 >= ? AND sha256 < ? LIMIT 2",
                          [ref, ref + "g"]).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if len(rows) > 1:
            raise ArchiveError(f"{ref}: more than one photo's sha256 starts with this; give more characters")
    raise ArchiveError(f"{ref}: no such photo (give an id, a sha256, or its first 6+ characters)")
