"""Re-run resolution over stored facts: after a registry import, or a better gazetteer."""

from __future__ import annotations

import json
from typing import Any, Iterable

import sqlite_utils

from ingest.catalogue.record import load_facts, retag_photo
from ingest.catalogue.registry import load_registry
from ingest.catalogue.schema import transaction
from ingest.importer.resolve import resolve
from ingest.media import similar
from ingest.media.store import Store


def retag_all(db: sqlite_utils.Database) -> tuple[int, int]:
    """(photos changed, photos seen). Corrected fields are skipped by the record stage."""
    ids = [r[0] for r in db.execute("SELECT id FROM photos ORDER BY id")]
    changed = retag_photos(db, ids)
    with transaction(db):  # provisional groups the registry has since named are left empty
        db.conn.execute("DELETE FROM demonstrations WHERE provisional = 1 AND id NOT IN "
                        "(SELECT demonstration_id FROM photos WHERE demonstration_id IS NOT NULL)")
    return changed, len(ids)


def retag_photos(db: sqlite_utils.Database, photo_ids: list[int]) -> int:
    """Re-derive these photos' machine tags (after an archivist corrected their date or city, the
    demonstration follows); returns how many changed."""
    registry = load_registry(db)
    changed = 0
    for photo_id in photo_ids:
        facts = load_facts(db, photo_id)
        facts["archivist"] = corrections(db, photo_id)
        if retag_photo(db, registry, photo_id, resolve(facts, registry)):
            changed += 1
    return changed


def follow_corrections(db: sqlite_utils.Database, edits: Iterable[Any]) -> int:
    """Retag the photos whose date or city these edits corrected: a demonstration the machine chose
    follows (corrections.py refuses only the ones archivists chose)."""
    ids = sorted({e.photo_id for e in edits if e.photo_id is not None and e.field in ("date", "taken_at", "city_id")})
    return retag_photos(db, ids) if ids else 0


def corrections(db: sqlite_utils.Database, photo_id: int) -> dict[str, Any]:
    """An archivist's values for one photo (stored as JSON, or as plain text)."""
    found = {}
    for field, value in db.execute("SELECT field, value FROM corrections WHERE photo_id = ?", [photo_id]):
        try:
            found[field] = json.loads(value) if value is not None else None
        except ValueError:
            found[field] = value
    return found


def fill_phashes(db: sqlite_utils.Database, store: Store, *, withheld_only: bool = False) -> int:
    """Compute the perceptual hash of photos imported before there were hashes, from their stored
    thumbnails (the same hash an import computes); returns how many. Each import fills those of
    withheld photos (what new photos are compared with); `ingest retag` fills all of them."""
    rows = db.execute("SELECT id, sha256 FROM photos WHERE phash IS NULL"
                      + (" AND withheld = 1" if withheld_only else "") + " ORDER BY id").fetchall()
    found = []
    for photo_id, sha256 in rows:
        try:
            found.append((similar.to_column(similar.phash_jpeg(store.derivative("thumbs", sha256).read_bytes())),
                          photo_id))
        except Exception:  # a missing or broken thumbnail is `ingest verify`'s to report
            continue
    if found:
        with transaction(db):
            db.conn.executemany("UPDATE photos SET phash = ? WHERE id = ? AND phash IS NULL", found)
    return len(found)
