"""Edit in a spreadsheet: export the editable fields as CSV, import only the cells that changed.

The file says which photo each row is (id, sha256) and the last edit its writer saw (`seen`), so
an import applies only what the archivist changed, refuses the whole file when any cell is invalid
(with its line number), and refuses a cell someone else changed in the meantime.

Cells come from photo files, so a caption can be `=HYPERLINK(...)`: a cell a spreadsheet would run
as a formula is written with a leading apostrophe (OWASP's advice), and read back without it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, TextIO

import sqlite_utils

from ingest.catalogue.corrections import FIELDS, Conflict, Edit, Invalid, apply_changes
from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError

EDITABLE = ("title", "caption", "creator", "keywords", "demonstration", "city", "taken_at", "date",
            "licence", "withheld")
CONTEXT = ("id", "sha256", "original_filename", "demonstration_label")
# `exported` fingerprints each editable cell as written, so an import can tell the archivist's
# changes (cell differs from its fingerprint) from the catalogue's since (current value differs).
HEADER = (*CONTEXT, *EDITABLE, "seen", "exported")


# What makes a spreadsheet read a cell as a formula (OWASP, CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def to_cell(text: str) -> str:
    """A cell a spreadsheet shows and never runs: formula-like text gets a leading apostrophe.

    Text that already starts with apostrophes before a formula character gets one more, so that
    `from_cell` undoes exactly this and nothing else ("'Tis" stays as it is)."""
    return "'" + text if text.lstrip("'")[:1] in _FORMULA else text


def from_cell(cell: str) -> str:
    """The text `to_cell` wrote, or the archivist typed: one apostrophe before formula-like text
    goes (as a spreadsheet shows it, "'=x" means "=x"); a cell typed raw ("=x") stays."""
    return cell[1:] if cell[:1] == "'" and cell.lstrip("'")[:1] in _FORMULA else cell


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
        cells = dict(zip(HEADER, (r[0], r[1], r[2] or "", r[3] or "", r[4] or "", r[5] or "", r[6] or "",
                                  keywords, r[8] or "", city, r[11] or "", r[12] or "", r[13] or "",
                                  "yes" if r[14] else "no", r[15])))
        cells["exported"] = fingerprints(cells)
        yield cells


def current_cells(db: sqlite_utils.Database, photo_id: int) -> dict[str, str] | None:
    """One photo's editable fields as text, as a spreadsheet or a form shows them."""
    return next(iter(_rows(db, "WHERE p.id = ?", [photo_id])), None)


def changed_cells(current: dict[str, str], submitted: dict[str, str]) -> dict[str, str]:
    """The editable cells whose text differs from the catalogue's: only those become edits."""
    raw = {f: (submitted.get(f) or "") for f in EDITABLE
           if f in submitted and (submitted.get(f) or "").strip() != str(current[f]).strip()}
    if "taken_at" in raw and "date" in raw:
        del raw["date"]  # the date follows the corrected time
    return raw


def export_csv(db: sqlite_utils.Database, out: TextIO, where: str = "", params: Iterable[Any] = ()) -> int:
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in _rows(db, where, params):
        writer.writerow({k: to_cell(v) if isinstance(v, str) else v for k, v in row.items()})
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


def import_csv(db: sqlite_utils.Database, text: str, name: str, *, who: str, apply: bool,
               override: bool = False) -> Plan:
    """Compare the file with the catalogue; with `apply`, make its changes (all or none). A row that
    puts a photo in a demonstration of another date or city is refused unless `override`."""
    plan = Plan()
    if "\x00" in text:
        raise ArchiveError(f"{name}: not a CSV file (it holds NUL bytes)")
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
            _plan(db, reader, name, plan, who, f"csv-{uuid.uuid4().hex[:8]}", override)
            if plan.errors or not apply:
                raise _DryRun
    except _DryRun:
        plan.edits = []
    except csv.Error as e:
        raise ArchiveError(f"{name}: line {reader.line_num}: {e}") from None
    return plan


def _plan(db, reader: csv.DictReader, name: str, plan: Plan, who: str, batch: str, override: bool) -> None:
    seen_ids: set[int] = set()
    for row in reader:
        line = reader.line_num
        if None in row:
            plan.errors.append(f"{name}:{line}: more cells than the header has columns")
            continue
        if any(v is None for v in row.values()):  # never read a missing cell as an empty one
            plan.errors.append(f"{name}:{line}: fewer cells than the header has columns")
            continue
        row = {k: from_cell(v) for k, v in row.items()}
        raw_id = (row.get("id") or "").strip()
        if not raw_id.isdigit():
            plan.errors.append(f"{name}:{line}: id {raw_id!r} is not a photo id")
            continue
        photo_id = int(raw_id)
        if photo_id in seen_ids:
            plan.errors.append(f"{name}:{line}: photo {photo_id} appears twice")
            continue
        seen_ids.add(photo_id)
        current = current_cells(db, photo_id)
        if current is None:
            plan.errors.append(f"{name}:{line}: no photo {photo_id}")
            continue
        if row.get("sha256") and row["sha256"].strip() != current["sha256"]:
            plan.errors.append(f"{name}:{line}: photo {photo_id} has another sha256 in this archive "
                               "(is the file from another catalogue?)")
            continue
        exported = _unpack(row.get("exported", ""))
        if row.get("exported") and exported is None:
            plan.errors.append(f"{name}:{line}: the exported column was changed; export the photos again")
            continue
        seen = (row.get("seen") or "").strip()
        if seen and not seen.isdigit():
            plan.errors.append(f"{name}:{line}: seen {seen!r} is not an edit number")
            continue
        raw = changed_cells(current, row)
        values, texts = {}, {}
        for fname, text in raw.items():
            column = FIELDS[fname].column
            if exported is not None and _print(text) == exported[fname]:
                continue  # the archivist left this cell as exported: whatever the catalogue says now stands
            try:
                value = FIELDS[fname].parse(db, text)
            except Invalid as e:
                plan.errors.append(f"{name}:{line}: {fname}: {e}")
                continue
            if value == _column_value(db, photo_id, column):
                continue  # the same value written another way (München for Munich, cc-by-4.0)
            if exported is not None and _print(current[fname]) != exported[fname]:
                plan.errors.append(f"{name}:{line}: {fname} was changed in the catalogue after the export "
                                   f"(now {current[fname]!r}); export again and redo this cell")
                continue
            values[column], texts[fname] = value, text
        if not values or any(e.startswith(f"{name}:{line}:") for e in plan.errors):
            continue
        try:
            edits = apply_changes(db, [photo_id], values, who=who, via="csv", batch=batch,
                                  seen=int(seen) if seen and exported is None else None, override=override)
        except (Conflict, Invalid) as e:
            plan.errors.append(f"{name}:{line}: {e}")
            continue
        plan.edits.extend(edits)
        edited = {e.field for e in edits}
        for fname, text in texts.items():
            if FIELDS[fname].column in edited:
                plan.changes.append(Change(line, photo_id, fname, str(current[fname]), text.strip()))


def _column_value(db, photo_id: int, column: str):
    return db.execute(f"SELECT {column} FROM photos WHERE id = ?", [photo_id]).fetchone()[0]


def _print(text) -> str:
    """A cell's fingerprint: enough to tell whether it changed, too short to carry its value."""
    return hashlib.blake2s(str(text).strip().encode("utf-8"), digest_size=3).hexdigest()


def fingerprints(cells: dict[str, str]) -> str:
    return ".".join(_print(cells[f]) for f in EDITABLE)


def _unpack(token: str) -> dict[str, str] | None:
    parts = (token or "").strip().split(".")
    if len(parts) != len(EDITABLE) or not all(re.fullmatch(r"[0-9a-f]{6}", p) for p in parts):
        return None
    return dict(zip(EDITABLE, parts))
