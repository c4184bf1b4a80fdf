"""Write what ingest learned into the catalogue, one transaction per photo.

Machine values are written only to columns an archivist has not corrected; the `corrections`
table is never written here. A photo row is inserted only after its original is in the store.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

import sqlite_utils

from ingest.catalogue import faces, review
from ingest.catalogue.pairs import add_original, pair_key, partner, photo_of_original
from ingest.catalogue.publication import state_sql
from ingest.catalogue.registry import Registry, city_for, demo_for
from ingest.catalogue.schema import GOVERNED_BY, NEW_RENDITION, PERMISSIONS, transaction
from ingest.media import similar
from ingest.media.images import FORMATS
from ingest.model import Face, Facts, FileResult, Tags
from ingest.text import shown
from ingest.times import now


def stored_path(path: str) -> str | bytes:
    """A source path as the catalogue keeps it: text, or its exact bytes (a BLOB) when the name is
    not UTF-8. Lossless, so a re-scan finds the file again; SQLite takes no lone surrogates."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def source_path(value: str | bytes) -> str:
    """A path as `stored_path` kept it, back as the scan gives it."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def held_reason(like: int) -> str:
    return f"looks like withheld photo {like}"


def lookalike(db: sqlite_utils.Database, phash: int | None) -> int | None:
    """The withheld photo that `phash` is nearest to, within `similar.NEAR` bits (lowest id on a
    tie), or None. Withheld photos are few, so they are all compared (the index covers the scan)."""
    if phash is None:
        return None
    best = None
    for photo_id, theirs in db.execute("SELECT id, phash FROM photos WHERE withheld = 1 AND phash IS NOT NULL "
                                       "ORDER BY id"):
        d = similar.distance(phash, similar.from_column(theirs))
        if d <= similar.NEAR and (best is None or d < best[0]):
            best = (d, photo_id)
    return best[1] if best else None


def _link(db: sqlite_utils.Database, registry: Registry, tags: Tags, photo_id: int | None = None) -> dict[str, Any]:
    values = dict(tags.values)
    if values.get("city_id") is None and tags.city is not None:
        values["city_id"] = city_for(db, registry, tags.city)
    if values.get("demonstration_id") is None and tags.demo_name:
        values["demonstration_id"] = demo_for(db, registry, tags.demo_name, None, None)
    elif values.get("demonstration_id") is None and tags.provisional and values.get("city_id") is not None:
        values["demonstration_id"] = demo_for(db, registry, None, values["date"], values["city_id"], provisional=True)
        values["demonstration_source"] = "provisional"
    reasons = list(tags.reasons)
    if photo_id is not None:  # a held photo keeps saying why through retag and sidecar edits
        row = db.execute("SELECT near_duplicate_of FROM photos WHERE id = ?", [photo_id]).fetchone()
        if row and row[0] is not None:
            reasons.insert(0, held_reason(row[0]))
        reasons = review.open_reasons(reasons, corrected_fields(db, photo_id))
    values.update(review.flag(reasons))
    return values


def corrected_fields(db: sqlite_utils.Database, photo_id: int) -> set[str]:
    return {r[0] for r in db.execute("SELECT field FROM corrections WHERE photo_id = ?", [photo_id])}


def write_tags(db: sqlite_utils.Database, photo_id: int, values: dict[str, Any]) -> list[str]:
    """Update machine values, skipping every field an archivist corrected; returns changed columns."""
    corrected = corrected_fields(db, photo_id)
    keep = {k: v for k, v in values.items() if not corrected.intersection(GOVERNED_BY.get(k, (k,)))}
    row = db.execute(f"SELECT {', '.join(keep)} FROM photos WHERE id = ?", [photo_id]).fetchone()
    changed = [k for k, old in zip(keep, row) if old != keep[k]]
    if changed:
        db.conn.execute(
            f"UPDATE photos SET {', '.join(f'{k} = ?' for k in changed)}, updated_at = ? WHERE id = ?",
            [keep[k] for k in changed] + [now(), photo_id],
        )
    return changed


# A photo's facts in one multi-row INSERT (up to _FACT_ROWS rows each): a statement that fires
# triggers (the retag queue's) opens a statement journal of its own, so 34 one-row INSERTs
# (executemany) cost ~3x one of 34 rows; JSON unpacked by SQLite (json_each) costs ~1.4x.
_FACT_ROWS = 64


@lru_cache(maxsize=_FACT_ROWS)
def _insert_facts_sql(rows: int) -> str:
    return f"INSERT INTO metadata (photo_id, source, key, value) VALUES {', '.join(['(?, ?, ?, ?)'] * rows)}"


def insert_facts(db: sqlite_utils.Database, photo_id: int, facts: Facts) -> None:
    """Store `facts` as `metadata` rows, every value JSON-encoded, so that types survive the round
    trip ("20240518" stays a string)."""
    items = [(source, k, value) for source, values in facts.items() for k, value in values.items()]
    for at in range(0, len(items), _FACT_ROWS):
        chunk = items[at:at + _FACT_ROWS]
        sql = _insert_facts_sql(len(chunk))
        try:
            db.conn.execute(sql, [x for source, k, value in chunk for x in (photo_id, source, k, (
                _STRING(value) if type(value) is str else repr(value) if type(value) is int else _READABLE(value)))])
        except UnicodeEncodeError:   # a lone surrogate (a name's undecodable byte): that value escaped, still lossless
            db.conn.execute(sql, [x for source, k, value in chunk for x in (photo_id, source, k, _json(value))])


_READABLE = json.JSONEncoder(ensure_ascii=False).encode   # one encoder: `dumps` with options builds one per call
_STRING = json.encoder.encode_basestring   # what _READABLE makes of a str (and repr of an int), without its dispatch


def _json(value: Any) -> str:
    """Readable JSON; escaped (still lossless) if a value holds a lone surrogate SQLite would refuse."""
    text = _READABLE(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def load_facts(db: sqlite_utils.Database, photo_id: int) -> Facts:
    facts: Facts = {}
    for source, k, value in db.execute("SELECT source, key, value FROM metadata WHERE photo_id = ?", [photo_id]):
        facts.setdefault(source, {})[k] = json.loads(value) if value is not None else None
    return facts


def record_file(db: sqlite_utils.Database, registry: Registry, result: FileResult, tags: Tags, *,
                hold: bool = False) -> tuple[int, str]:
    """Insert the photo (or find it by hash) and remember its source path. Returns (id, status):
    imported, held (imported withheld: it looks like a withheld photo), paired (the other half of a
    RAW+JPEG pair, kept as the photo's second original), duplicate, updated, unchanged.
    With `hold`, a new photo waits for an archivist's approval (publication.py)."""
    stamp = now()
    with transaction(db):
        row = db.execute("SELECT id FROM photos WHERE sha256 = ?", [result.sha256]).fetchone()
        second = None if row else photo_of_original(db, result.sha256)
        pair = None if row or second else partner(db, result, tags.values.get("taken_at"), stored_path)
        if row:
            photo_id, status = row[0], "duplicate"
            known = db.execute("SELECT photo_id FROM photo_sources WHERE path = ?", [stored_path(result.path)]).fetchone()
            if known and known[0] == photo_id:
                status = "updated" if _refresh_sidecar(db, registry, photo_id, result, tags) else "unchanged"
        elif second is not None:   # the second original of a RAW+JPEG pair, seen again
            known = db.execute("SELECT photo_id FROM photo_sources WHERE path = ?", [stored_path(result.path)]).fetchone()
            photo_id, status = second, "unchanged" if known and known[0] == second else "duplicate"
        elif pair is not None:
            photo_id, status = pair, "paired"
            add_original(db, pair, result, stamp)
        else:
            values = _link(db, registry, tags)
            values.update(
                sha256=result.sha256, original_filename=shown(result.path.rsplit("/", 1)[-1]),
                format=result.format, mime_type=FORMATS[result.format][2], file_size=result.size,
                width=result.width, height=result.height, imported_at=stamp, updated_at=stamp,
                phash=None if result.phash is None else similar.to_column(result.phash),
                pending=int(hold),
            )
            status = "imported"
            if (like := lookalike(db, result.phash)) is not None:
                # The same picture as a withheld photo, edited elsewhere: never public by accident.
                values.update(withheld=1, near_duplicate_of=like,
                              **review.flag([held_reason(like), *review.split(values["review_reason"])]))
                status = "held"
            for column, default in _STATE_DEFAULTS:
                values.setdefault(column, default)
            photo_id = db.conn.execute(_insert_photo_sql(tuple(values)), list(values.values())).lastrowid
            insert_facts(db, photo_id, result.facts)
            derived(db, photo_id)
        _record_faces(db, photo_id, result)
        db.conn.execute(
            """INSERT INTO photo_sources (photo_id, path, size, mtime_ns, first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(path) DO UPDATE SET photo_id = excluded.photo_id, size = excluded.size,
               mtime_ns = excluded.mtime_ns, last_seen = excluded.last_seen""",
            [photo_id, stored_path(result.path), result.size, result.mtime_ns, stamp, stamp],
        )
    return photo_id, status


# Columns the state is derived from that an import leaves at their defaults, given so that the
# insert below can derive it.
_STATE_DEFAULTS = (("withheld", 0), ("faces_shown", 0), ("faces_status", None))


@lru_cache(maxsize=8)
def _insert_photo_sql(columns: tuple[str, ...]) -> str:
    """The photo's INSERT, with the columns the schema derives (licence permissions, year, state,
    rendition) computed in the same statement by the same expressions, so that the insert trigger
    (migration 20) finds them right and writes the row no second time; were they not, it would."""
    given = ", ".join(f"? AS {c}" for c in columns)
    return (f"INSERT INTO photos ({', '.join(columns)}, {', '.join(PERMISSIONS)}, year, state, rendition) "
            f"SELECT v.*, {', '.join(f'l.{c}' for c in PERMISSIONS)}, "
            f"CAST(substr(v.date, 1, 4) AS INTEGER), {state_sql('v')}, {NEW_RENDITION} "
            f"FROM (SELECT {given}) AS v LEFT JOIN licences AS l ON l.id = v.licence_id")


def _record_faces(db: sqlite_utils.Database, photo_id: int, result: FileResult) -> None:
    """The worker's detection, for a photo that has none yet (a duplicate's earlier one stands)."""
    if result.faces_status is None:
        return
    found = None if result.faces_status == "failed" else [
        Face(tuple(f[:4]), f[4]) for f in result.faces]
    faces.record_detection(db, photo_id, found)


def predict_outcome(db: sqlite_utils.Database, result: FileResult, hashes: set, taken_at: str | None = None) -> str:
    """What `record_file` would answer for this file, writing nothing (a dry run's prediction):
    imported, duplicate (of a photo in the catalogue or earlier in this run), updated, unchanged.
    `hashes` holds the files this run would import before it (hashes, and pair keys to find RAW+JPEG
    pairs within the run); this file's are added to it. `taken_at` is its resolved capture time."""
    if result.sha256 in hashes:
        return "duplicate"
    row = db.execute("SELECT id FROM photos WHERE sha256 = ?", [result.sha256]).fetchone()
    if row is None and photo_of_original(db, result.sha256) is not None:
        return "duplicate"
    if row is None:
        hashes.add(result.sha256)
        key = pair_key(result.path, result.format, taken_at)
        if key is not None and ((key[0], key[1], not key[2]) in hashes or partner(db, result, taken_at, stored_path)):
            return "paired"
        if key is not None:
            hashes.add(key)
        return "imported"
    known = db.execute("SELECT photo_id FROM photo_sources WHERE path = ?", [stored_path(result.path)]).fetchone()
    if not known or known[0] != row[0]:
        return "duplicate"
    same = result.facts.get("xmp-sidecar", {}) == load_facts(db, row[0]).get("xmp-sidecar", {})
    return "unchanged" if same else "updated"


def _refresh_sidecar(db: sqlite_utils.Database, registry: Registry, photo_id: int, result: FileResult,
                     tags: Tags) -> bool:
    """Same bytes, edited sidecar (captions fixed in Lightroom): take the new XMP, re-tag. Corrected
    fields stay as the archivist set them."""
    new = result.facts.get("xmp-sidecar", {})
    if new == load_facts(db, photo_id).get("xmp-sidecar", {}):
        return False
    db.conn.execute("DELETE FROM metadata WHERE photo_id = ? AND source = 'xmp-sidecar'", [photo_id])
    insert_facts(db, photo_id, {"xmp-sidecar": new})
    write_tags(db, photo_id, _link(db, registry, tags, photo_id))
    derived(db, photo_id)
    return True


def derived(db: sqlite_utils.Database, photo_id: int) -> None:
    """The photo's tags were just derived from its facts as they now stand: the next `ingest retag`
    need not redo it for them (a registry change noted meanwhile still covers it)."""
    db.conn.execute("DELETE FROM retag_queue WHERE item = ?", [f"photo:{photo_id}"])


def retag_photo(db: sqlite_utils.Database, registry: Registry, photo_id: int, tags: Tags) -> list[str]:
    with transaction(db):
        return write_tags(db, photo_id, _link(db, registry, tags, photo_id))


def known_unchanged(db: sqlite_utils.Database, path: str, size: int, mtime_ns: int) -> bool:
    row = db.execute("SELECT size, mtime_ns FROM photo_sources WHERE path = ?", [stored_path(path)]).fetchone()
    return bool(row and row[0] == size and row[1] == mtime_ns)


def start_run(db: sqlite_utils.Database, options: dict[str, Any]) -> int:
    with transaction(db):
        cur = db.conn.execute("INSERT INTO ingest_runs (started_at, status, options) VALUES (?, 'running', ?)",
                              [now(), json.dumps(options)])
    return cur.lastrowid


def finish_run(db: sqlite_utils.Database, run_id: int, counts: dict[str, int], status: str = "finished") -> None:
    with transaction(db):
        db.conn.execute(
            "UPDATE ingest_runs SET finished_at = ?, status = ?, files_seen = ?, imported = ?, duplicates = ?, "
            "unchanged = ?, problems = ? WHERE id = ?",
            [now(), status, counts.get("seen", 0), counts.get("imported", 0), counts.get("duplicates", 0),
             counts.get("unchanged", 0), counts.get("problems", 0), run_id],
        )


def record_problem(db: sqlite_utils.Database, run_id: int | None, path: str, kind: str, message: str) -> None:
    with transaction(db):
        db.conn.execute("INSERT INTO problems (run_id, path, kind, message, at) VALUES (?, ?, ?, ?, ?)",
                        [run_id, stored_path(path), kind, shown(message), now()])

