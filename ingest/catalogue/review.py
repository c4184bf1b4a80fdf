"""Review flags: what the machine asks an archivist to look at, and when the question is answered.

Ingest and retag flag a photo (`needs_review`) with reasons (`review_reason`, '; '-separated), each
about one field: "no city", "licences disagree: ...", "2 demonstrations fit 2024-05-18 ...". An
archivist answers a reason by correcting its field (the web form, `ingest fix`, the CSV import), or
all of them at once with "looks right"; either clears it at once, and the machine does not raise it
again: a reason about a corrected field is no reason, and "looks right" is itself a correction.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ingest.catalogue.publication import reasons_sql

# Canned queries of the gallery's databases (metadata.yml) that only archivists may see or run: the
# plugin closes them to visitors (web/permissions.py); a published bundle leaves them out.
ARCHIVISTS_QUERIES = frozenset({"needs_review"})

# The corrections field a reason is about, by the words it uses; first match wins (a reason about
# the demonstration of a date is about the demonstration).
_FIELD_OF = (
    (re.compile(r"withheld photo"), "withheld"),
    (re.compile(r"demonstration"), "demonstration_id"),
    (re.compile(r"licen[cs]e|import default"), "licence_id"),
    (re.compile(r"\bcity\b|\bGPS\b|gazetteer"), "city_id"),
    (re.compile(r"\bdate|\btime\b|\bmonth\b|\byear\b|is known"), "date"),
    (re.compile(r"\bcreator\b|\bartist\b", re.I), "creator"),
)
# A correction of any of these answers a reason about the key.
_ANSWERED_BY = {"date": {"date", "taken_at"}, "city_id": {"city_id", "latitude", "longitude"}}


def field_of(reason: str) -> str | None:
    for pattern, field in _FIELD_OF:
        if pattern.search(reason):
            return field
    return None


def split(text: str | None) -> list[str]:
    """The reasons in a `review_reason`; a part naming no field continues the one before (a quoted
    licence text may itself hold '; ')."""
    reasons: list[str] = []
    for part in (text or "").split("; "):
        if not part.strip():
            continue
        if reasons and field_of(part) is None:
            reasons[-1] += "; " + part
        else:
            reasons.append(part)
    return reasons


def answered(reason: str, corrected: Iterable[str]) -> bool:
    field = field_of(reason)
    return field is not None and bool(_ANSWERED_BY.get(field, {field}) & set(corrected))


def open_reasons(reasons: Iterable[str], corrected: Iterable[str]) -> list[str]:
    """The reasons an archivist has not answered by correcting their field."""
    done = set(corrected)
    return [r for r in reasons if not answered(r, done)]


def flag(reasons: list[str]) -> dict[str, object]:
    """The photo columns that say these reasons (none: not flagged)."""
    return {"needs_review": 1 if reasons else 0, "review_reason": "; ".join(reasons) or None}


# ---------------------------------------------------------------- the queue

QUEUES = {
    "all": "waiting for approval or flagged",
    "waiting": "waiting for approval",
    "flagged": "flagged by the machine",
}
# Each queue as indexed selections of ids (a UNION of index range scans, never a table scan, so a
# page costs the same at 10,000 waiting photos as at 10).
_SELECT = {
    "waiting": ["SELECT id FROM photos WHERE state = 'pending' AND id > :after ORDER BY id LIMIT :size"],
    "flagged": ["SELECT id FROM photos WHERE needs_review = 1 AND id > :after ORDER BY id LIMIT :size"],
}
_SELECT["all"] = _SELECT["waiting"] + _SELECT["flagged"]


def counts(db: Any) -> dict[str, int]:
    conn = getattr(db, "conn", db)
    waiting = conn.execute("SELECT count(*) FROM photos WHERE state = 'pending'").fetchone()[0]
    flagged = conn.execute("SELECT count(*) FROM photos WHERE needs_review = 1").fetchone()[0]
    both = conn.execute("SELECT count(*) FROM photos WHERE needs_review = 1 AND state = 'pending'").fetchone()[0]
    return {"all": waiting + flagged - both, "waiting": waiting, "flagged": flagged}


def _photos(conn: Any, ids_sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The photos `ids_sql` selects, oldest first, each with what an archivist needs to decide."""
    rows = conn.execute(
        f"""SELECT p.id, p.sha256, p.title, p.original_filename, p.date, c.name, d.label, p.licence_id,
                   p.creator, p.state, p.needs_review, p.review_reason, {reasons_sql('p')}
            FROM ({ids_sql}) q JOIN photos p ON p.id = q.id LEFT JOIN cities c ON c.id = p.city_id
            LEFT JOIN demonstrations d ON d.id = p.demonstration_id ORDER BY p.id""", params).fetchall()
    keys = ("id", "sha256", "title", "filename", "date", "city", "demonstration", "licence", "creator", "state")
    found = []
    for row in rows:
        item = dict(zip(keys, row))
        item["waiting"] = [w for w in (row[12] or "").split("; ") if w]
        item["flags"] = split(row[11]) if row[10] else []
        found.append(item)
    return found


def queue_page(db: Any, kind: str = "all", after: int = 0, size: int = 48) -> list[dict[str, Any]]:
    """One page of the review queue: the photos after id `after`."""
    union = " UNION ".join(f"SELECT * FROM ({q})" for q in _SELECT[kind])
    return _photos(getattr(db, "conn", db), f"SELECT id FROM ({union}) ORDER BY id LIMIT :size",
                   {"after": after, "size": size})


def queue_photo(db: Any, photo_id: int) -> dict[str, Any] | None:
    """One photo as the queue shows it (in the queue or not), with the id of the queue's next photo."""
    found = _photos(getattr(db, "conn", db), "SELECT :id AS id", {"id": photo_id})
    if not found:
        return None
    following = queue_page(db, "all", photo_id, 1)
    return {**found[0], "next_id": following[0]["id"] if following else None}
