"""Edit in a spreadsheet: export the editable fields as CSV, import only the cells that changed.

The file says which photo each row is (id, sha256) and the last edit its writer saw (`seen`), so
an import applies only what the archivist changed, refuses the whole file when any cell is invalid
(with its line number), and refuses a cell someone else changed in the meantime.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, TextIO

import sqlite_utils

from .corrections import FIELDS, Conflict, Edit, Invalid, apply_changes
from .db import transaction
from .errors import ArchiveError

EDITABLE = ("title", "caption", "creator", "keywords", "demonstration", "city", "taken_at", "date",
            "licence", "withheld")
CONTEXT = ("id", "sha256", "original_filename", "demonstration_label")
HEADER = (*CONTEXT, *EDITABLE, "seen")


def _rows(db: sqlite_utils.Database, where: str = "", params: Iterable[Any] = ()) -> Iterable[dict[str, str]]:
    ambiguous = {r[0] for r in db.execute("SELECT name FROM cities GROUP BY name HAVING count(*) > 1")}
    sql = f"""SELECT p.id, p.sha256, p.original_filename, d.label, p.title, p.caption, p.creator, p.keywords,
                     d.slug, c.name, c.country_code, p.taken_at, p.date, p.licence_id, p.withheld,
                     (SELECT coalesce(max(e.id), 0) FROM edits e WHERE e.photo_id = p.id)
              FROM photos p LEFT JOIN demonstrations d ON d.id = p.demonstration_id
              LEFT JOIN cities c ON c.id = p.city_id {where} ORDER BY p.id"""
    for r in db.execute(sql, list(params)):
        keywords = ", ".join(json.loads(r[7])) if r[7] else ""
        city = "" if r[9] is None else (f"{r[9]}, {r[10]}" if r[9] in ambiguous and r[10] else r[9])
        yield dict(zip(HEADER, (r[0], r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "", r[6] or "",
                                keywords, r[8] or "", city, r[11] or "", r[12] or "", r[13] or "",
                                "yes" if r[14] else "no", r[15])))


def export_csv(db: sqlite_utils.Database, out: TextIO, where: str = "", params: Iterable[Any] = ()) -> int:
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in _rows(db, where, params):
        writer.writerow(row)
        count += 1
    return count


@dataclass
class Change:
    line: int
    photo_id: int
    field: str
    old: str
    new: str


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)


class _DryRun(Exception):
    pass


def import_csv(db: sqlite_utils.Database, text: str, name: str, *, who: str, apply: bool) -> Plan:
    """Compare the file with the catalogue; with `apply`, make its changes (all or none)."""
    plan = Plan()
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = reader.fieldnames or []
    except csv.Error as e:
        raise ArchiveError(f"{name}: not a CSV file ({e})") from None
    if "id" not in header:
        raise ArchiveError(f"{name}: no 'id' column (write the file with `ingest export-csv`)")
    unknown = [h for h in header if h not in HEADER]
    if unknown:
        raise ArchiveError(f"{name}: unknown column(s) {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
    try:
        with transaction(db):  # parsing may add a city: one transaction, rolled back unless applied
            _plan(db, reader, name, plan, who, f"csv-{uuid.uuid4().hex[:8]}")
            if plan.errors or not apply:
                raise _DryRun
    except _DryRun:
        plan.edits = []
    except csv.Error as e:
        raise ArchiveError(f"{name}: line {reader.line_num}: {e}") from None
    return plan


def _plan(db, reader: csv.DictReader, name: str, plan: Plan, who: str, batch: str) -> None:
    seen_ids: set[int] = set()
    for row in reader:
        line = reader.line_num
        raw_id = (row.get("id") or "").strip()
        if not raw_id.isdigit():
            plan.errors.append(f"{name}:{line}: id {raw_id!r} is not a photo id")
            continue
        photo_id = int(raw_id)
        if photo_id in seen_ids:
            plan.errors.append(f"{name}:{line}: photo {photo_id} appears twice")
            continue
        seen_ids.add(photo_id)
        current = next(iter(_rows(db, "WHERE p.id = ?", [photo_id])), None)
        if current is None:
            plan.errors.append(f"{name}:{line}: no photo {photo_id}")
            continue
        if row.get("sha256") and row["sha256"].strip() != current["sha256"]:
            plan.errors.append(f"{name}:{line}: photo {photo_id} has another sha256 in this archive "
                               "(is the file from another catalogue?)")
            continue
        raw = {f: (row.get(f) or "") for f in EDITABLE if f in row and (row.get(f) or "").strip() != str(current[f]).strip()}
        if "taken_at" in raw and "date" in raw:
            del raw["date"]  # the date follows the corrected time
        values = {}
        for fname, text in raw.items():
            try:
                values[FIELDS[fname].column] = FIELDS[fname].parse(db, text)
            except Invalid as e:
                plan.errors.append(f"{name}:{line}: {fname}: {e}")
        if not values or any(e.startswith(f"{name}:{line}:") for e in plan.errors):
            continue
        seen = row.get("seen", "").strip()
        if seen and not seen.isdigit():
            plan.errors.append(f"{name}:{line}: seen {seen!r} is not an edit number")
            continue
        try:
            edits = apply_changes(db, [photo_id], values, who=who, via="csv",
                                  seen=int(seen) if seen else None, batch=batch)
        except (Conflict, Invalid) as e:
            plan.errors.append(f"{name}:{line}: {e}")
            continue
        plan.edits.extend(edits)
        edited = {e.field for e in edits}
        for fname in raw:
            if FIELDS[fname].column in edited:
                plan.changes.append(Change(line, photo_id, fname, str(current[fname]), raw[fname].strip()))
