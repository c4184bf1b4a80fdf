"""Re-run resolution over stored facts: after a registry import, or a better gazetteer."""

from __future__ import annotations

import sqlite_utils

from .record import load_facts, load_registry, retag_photo
from .resolve import resolve


def retag_all(db: sqlite_utils.Database) -> tuple[int, int]:
    """(photos changed, photos seen). Corrected fields are skipped by the record stage."""
    registry = load_registry(db)
    ids = [r[0] for r in db.execute("SELECT id FROM photos ORDER BY id")]
    changed = 0
    for photo_id in ids:
        tags = resolve(load_facts(db, photo_id), registry)
        if retag_photo(db, registry, photo_id, tags):
            changed += 1
    return changed, len(ids)
