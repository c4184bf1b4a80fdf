"""Re-run resolution over stored facts: after a registry import, or a better gazetteer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import sqlite_utils

from ingest.catalogue.record import load_facts, retag_photo
from ingest.catalogue.registry import load_registry
from ingest.catalogue.schema import transaction
from ingest.importer.resolve import resolve
from ingest.media import similar
from ingest.media.store import Store


# What each noted item (schema._V19's retag_queue) may change: the photos to re-derive.
_CANDIDATES = {
    "all": "SELECT id FROM photos",
    "demo": "SELECT id FROM photos WHERE demonstration_id = :v",
    "day": "SELECT id FROM photos WHERE date BETWEEN :v AND :v || '~' UNION SELECT id FROM photos "
           "WHERE taken_at BETWEEN :v AND :v || '~'",
    # An event named in the facts (or --demo) matches a registered name at any date.
    "named": "SELECT DISTINCT photo_id FROM metadata WHERE key = 'Iptc4xmpExt:Event' OR (source = 'flag' AND key = 'demo')",
    # Folder names and place names map to the registry's cities and aliases; GPS goes by GeoNames id.
    "cities": "SELECT id FROM photos WHERE city_source IS NULL OR city_source NOT IN ('gps', 'archivist')",
    # A new name gives a city only to photos whose own place facts gave none (a photo whose named
    # place was new to the registry made its city under that name, which keeps precedence).
    "cities-new": "SELECT id FROM photos WHERE city_source IS NULL OR city_source IN ('folder-name', 'registry')",
    "city": "SELECT id FROM photos WHERE city_id = :v",
    "licence-default": "SELECT id FROM photos WHERE licence_id IS NULL OR licence_source = 'archive'",
}
ROUNDS = 3   # a retag's own writes (a provisional group, a city) are noted too: a round or two settles them


@dataclass
class RetagReport:
    changed: int = 0     # photos whose tags changed
    derived: int = 0     # photos re-derived
    total: int = 0       # photos in the archive


def retag_all(db: sqlite_utils.Database) -> tuple[int, int]:
    """(photos changed, photos seen): every photo re-derived (`ingest retag --all`, after a better
    gazetteer or a new version of the rules). Corrected fields are skipped by the record stage."""
    note_all(db)
    report = retag_pending(db)
    return report.changed, report.total


def note_all(db: sqlite_utils.Database) -> None:
    """Make the next retag re-derive every photo."""
    with transaction(db):
        db.conn.execute("INSERT OR REPLACE INTO retag_queue (item) VALUES ('all')")


def retag_pending(db: sqlite_utils.Database, advance: Callable[[int], None] | None = None) -> RetagReport:
    """Re-derive only the photos whose facts, corrections or registry entries changed since the
    last retag (as the catalogue's triggers noted them); nothing noted, nothing re-derived."""
    report = RetagReport(total=db.execute("SELECT count(*) FROM photos").fetchone()[0])
    for _ in range(ROUNDS):
        seen, ids = pending(db)
        if seen is None:
            break
        report.derived += len(ids)
        report.changed += retag_photos(db, ids, advance)
        with transaction(db):
            # What this round saw is done; a change made meanwhile (by another writer, or by this
            # retag: a provisional group, a city) stays noted for the next round.
            db.conn.execute("DELETE FROM retag_queue WHERE seq <= ?", [seen])
            before = db.execute("SELECT coalesce(max(seq), 0) FROM retag_queue").fetchone()[0]
            # Provisional groups the registry has since named are left empty: removing one changes
            # no photo's tags, so what it notes is dropped with it.
            db.conn.execute("DELETE FROM demonstrations WHERE provisional = 1 AND id NOT IN "
                            "(SELECT demonstration_id FROM photos WHERE demonstration_id IS NOT NULL)")
            db.conn.execute("DELETE FROM retag_queue WHERE seq > ?", [before])
    return report


def pending(db: sqlite_utils.Database) -> tuple[int | None, list[int]]:
    """(the last noted item, the photos the noted items may change), or (None, []) when none is noted."""
    items = db.execute("SELECT seq, item FROM retag_queue ORDER BY seq").fetchall()
    if not items:
        return None, []
    ids: set[int] = set()
    for _, item in items:
        kind, _, value = item.partition(":")
        if kind == "photo":
            ids.add(int(value))
        elif kind == "day" and not value:
            continue
        else:
            sql = _CANDIDATES.get(kind, _CANDIDATES["all"])  # an item this version does not know: all
            ids.update(r[0] for r in db.execute(sql, {"v": value}))
    if len(ids) > 10_000:
        existing = ids & {r[0] for r in db.execute("SELECT id FROM photos")}
    else:  # a noted photo may have been deleted since
        existing = {i for i in ids if db.execute("SELECT 1 FROM photos WHERE id = ?", [i]).fetchone()}
    return items[-1][0], sorted(existing)


def retag_photos(db: sqlite_utils.Database, photo_ids: list[int],
                 advance: Callable[[int], None] | None = None) -> int:
    """Re-derive these photos' machine tags (after an archivist corrected their date or city, the
    demonstration follows); returns how many changed."""
    registry = load_registry(db)
    changed = 0
    for photo_id in photo_ids:
        facts = load_facts(db, photo_id)
        facts["archivist"] = corrections(db, photo_id)
        if retag_photo(db, registry, photo_id, resolve(facts, registry)):
            changed += 1
        if advance:
            advance(1)
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
