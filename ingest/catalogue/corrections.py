"""Archivists' edits: check, apply, audit, undo.

An edit writes the photo's column(s), marks the field corrected (the `corrections` row, which ingest
and retag never write over) and appends to `edits`, the audit trail: photo, field, old, new, who,
when, and via what (web, cli, csv, undo). Edits made together share a batch id and undo together.
An edit names the last change its author saw (`seen`): if someone changed the same field since,
nothing is written and the archivist is told, so two people never silently overwrite each other.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

import sqlite_utils

from ingest.catalogue import review
from ingest.catalogue.lookup import unique_slug
from ingest.catalogue.registry import check_date, city_for, dates_fit, load_registry
from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.reference.licences import exact_licence
from ingest.reference.places import city_from_name
from ingest.text import key, slugify
from ingest.times import local_date, now, utc

VIA = ("web", "cli", "csv", "undo", "merge")
# Fields that record a decision, not a value to protect from the machine: setting one to what it
# already is changes nothing (approving a photo that waits for nobody is no edit).
_STATES = {"pending", "needs_review", "review_reason"}


class Invalid(ArchiveError):
    """A value an archivist gave that cannot be stored as it is."""


class Conflict(ArchiveError):
    """Someone else changed the same field since the archivist loaded it."""


class Contradiction(Invalid):
    """The edit would put a photo in a demonstration of another day or city; allowed only on purpose."""


def _check_demonstration(db, photo_id: int, changes: dict[str, Any]) -> None:
    """Refuse a demonstration an archivist chose (now or before) that the photo's date or city
    contradicts. One the machine chose is left to retag, which follows the corrected date and city."""
    if not {"demonstration_id", "date", "taken_at", "city_id"} & set(changes):
        return
    if "demonstration_id" not in changes and not db.execute(
            "SELECT 1 FROM corrections WHERE photo_id = ? AND field = 'demonstration_id'", [photo_id]).fetchone():
        return
    row = db.execute("SELECT p.date, p.city_id, d.date, d.city_id, d.label, pc.name, dc.name FROM photos p "
                     "JOIN demonstrations d ON d.id = p.demonstration_id LEFT JOIN cities pc ON pc.id = p.city_id "
                     "LEFT JOIN cities dc ON dc.id = d.city_id WHERE p.id = ?", [photo_id]).fetchone()
    if row is None:
        return
    date, city_id, demo_date, demo_city, label, city, demo_city_name = row
    # Known to the month on either side is no contradiction within that month.
    if date and demo_date and not (dates_fit(demo_date, date) or dates_fit(date, demo_date)):
        raise Contradiction(f"photo {photo_id} is of {date} but {label!r} was on {demo_date}; "
                            "correct the date, or confirm that you mean it (--force, or 'save anyway')")
    if city_id is not None and demo_city is not None and city_id != demo_city:
        raise Contradiction(f"photo {photo_id} is in {city} but {label!r} was in {demo_city_name}; "
                            "correct the city, or confirm that you mean it (--force, or 'save anyway')")


@dataclass(frozen=True)
class Field:
    name: str                                   # what archivists type: title, city, date, ...
    column: str                                 # the photos column it corrects (corrections.field)
    parse: Callable[[sqlite_utils.Database, str], Any]
    label: str


def _text(db, raw: str) -> str | None:
    value = raw.strip()
    if len(value) > 5000:
        raise Invalid("is longer than 5,000 characters")
    return value or None


def _keywords(db, raw: str) -> str | None:
    raw = raw.strip()
    if raw.startswith("["):
        try:
            words = json.loads(raw)
        except ValueError:
            raise Invalid("is not a JSON list of words") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise Invalid("is not a JSON list of words")
    else:
        words = raw.split(",")
    words = list(dict.fromkeys(w.strip() for w in words if w.strip()))
    return json.dumps(words, ensure_ascii=False) if words else None


def _licence(db, raw: str) -> str | None:
    if not raw.strip():
        return None
    if not (found := exact_licence(raw)):
        raise Invalid(f"{raw!r} is not an exact licence; use an SPDX id such as CC-BY-SA-4.0")
    return found


def _city(db, raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.isdigit():
        if db.execute("SELECT 1 FROM cities WHERE id = ?", [int(raw)]).fetchone():
            return int(raw)
        raise Invalid(f"there is no city {raw}")
    name, _, country = raw.partition(",")
    row = db.execute("SELECT city_id FROM city_aliases WHERE alias = ?", [key(name)]).fetchone()
    if row and not country.strip():
        return row[0]
    choice = city_from_name(name, country.strip() or None, "archivist")
    if choice.city is None:
        raise Invalid(f"{raw!r} is not a city the gazetteer knows (try its English name, or 'Name, CC')")
    return city_for(db, load_registry(db), choice)


def _demonstration(db, raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.isdigit():
        rows = db.execute("SELECT id FROM demonstrations WHERE id = ?", [int(raw)]).fetchall()
    else:
        rows = db.execute("SELECT id FROM demonstrations WHERE slug = ?", [raw]).fetchall() or \
            db.execute("SELECT id FROM demonstrations WHERE label = ? COLLATE NOCASE", [raw]).fetchall() or \
            db.execute("SELECT id FROM demonstrations WHERE name = ? COLLATE NOCASE", [raw]).fetchall()
    if len(rows) == 1:
        return rows[0][0]
    if rows:
        raise Invalid(f"{len(rows)} demonstrations are called {raw!r}; give its id or slug (`ingest demos list`)")
    raise Invalid(f"no demonstration {raw!r} (add it with `ingest demos add`, or give an id or slug)")


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def _taken_at(db, raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if not _DATETIME.match(raw):
        raise Invalid(f"{raw!r} is not a date and time such as 2024-11-02T14:30:00+00:00")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{raw!r} is not a real date and time") from None
    return moment.isoformat().replace(" ", "T")


def _date(db, raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if _DATETIME.match(raw):
        raise Invalid("give the date alone (YYYY-MM-DD); a time goes in taken_at")
    try:
        return datetime.strptime(raw, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise Invalid(f"{raw!r} is not a date such as 2024-11-02") from None


def _flag(db, raw: str) -> int:
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "withheld", "withhold"):
        return 1
    if value in ("0", "no", "false", "public", "publish", ""):
        return 0
    raise Invalid(f"{raw!r} is not yes or no")


def _consent(db, raw: str) -> int:
    """Whether the photo's faces may be shown in public (consent, public figures)."""
    value = raw.strip().lower()
    if value in ("1", "yes", "true", "show", "shown"):
        return 1
    if value in ("0", "no", "false", "blur", "obscure", "hide", ""):
        return 0
    raise Invalid(f"{raw!r} is not yes (faces may be shown) or no (obscured)")


FIELDS = {f.name: f for f in (
    Field("title", "title", _text, "Title"),
    Field("caption", "caption", _text, "Caption"),
    Field("creator", "creator", _text, "Creator"),
    Field("keywords", "keywords", _keywords, "Keywords"),
    Field("demonstration", "demonstration_id", _demonstration, "Demonstration"),
    Field("city", "city_id", _city, "City"),
    Field("taken_at", "taken_at", _taken_at, "Date and time"),
    Field("date", "date", _date, "Date"),
    Field("licence", "licence_id", _licence, "Licence"),
    Field("withheld", "withheld", _flag, "Withheld"),
    Field("pending", "pending", _flag, "Waiting for approval"),
    Field("needs_review", "needs_review", _flag, "Flagged for review"),
    Field("review_reason", "review_reason", _text, "Review reasons"),
    Field("faces_shown", "faces_shown", _consent, "Faces may be shown"),
)}
BY_COLUMN = {f.column: f for f in FIELDS.values()}


def parse_changes(db: sqlite_utils.Database, raw: dict[str, str]) -> dict[str, Any]:
    """Archivist's text -> column values; one Invalid naming every bad field, or all of them parsed."""
    values, errors = {}, []
    for name, text in raw.items():
        field = FIELDS.get(name) or BY_COLUMN.get(name)
        if field is None:
            errors.append(f"{name}: not a field archivists can edit ({', '.join(FIELDS)})")
            continue
        try:
            values[field.column] = field.parse(db, "" if text is None else str(text))
        except Invalid as e:
            errors.append(f"{field.name}: {e}")
    if errors:
        raise Invalid("; ".join(errors))
    return values


def _columns_for(column: str, value: Any) -> dict[str, Any]:
    """The photo columns one corrected field sets (its own, its source, and what derives from it)."""
    if column == "taken_at":
        return {"taken_at": value, "date": local_date(value), "taken_at_utc": utc(value), "date_source": "archivist"}
    if column == "date":
        return {"date": value, "date_source": "archivist"}
    if column in ("withheld", "pending", "faces_shown"):
        return {column: value}
    if column == "needs_review":  # "looks right" (0) answers every reason; 1 is an archivist's own flag
        return {"needs_review": value, "review_reason": "flagged by an archivist" if value else None}
    if column == "review_reason":  # what is left when a correction answered some reasons
        return review.flag(review.split(value))
    if column == "keywords":
        return {"keywords": value}
    if column.endswith("_id"):
        return {column: value, f"{column[:-3]}_source": "archivist"}
    return {column: value, f"{column}_source": "archivist"}


@dataclass
class Edit:
    id: int
    photo_id: int | None
    field: str
    old: Any
    new: Any
    who: str
    at: str
    via: str
    batch: str
    undoes: int | None = None
    demonstration_id: int | None = None


def last_edit(db: sqlite_utils.Database, photo_ids: Iterable[int] | None = None) -> int:
    """The newest edit id (of these photos): what an editor "saw" when it loaded them."""
    if photo_ids is None:
        return db.execute("SELECT coalesce(max(id), 0) FROM edits").fetchone()[0]
    ids = list(photo_ids)
    return db.execute(f"SELECT coalesce(max(id), 0) FROM edits WHERE photo_id IN ({','.join('?' * len(ids))})",
                      ids).fetchone()[0] if ids else 0


def apply_changes(db: sqlite_utils.Database, photo_ids: Iterable[int], changes: dict[str, Any], *,
                  who: str, via: str, seen: int | None = None, batch: str | None = None,
                  override: bool = False) -> list[Edit]:
    """Set parsed `changes` (column -> value) on every photo, all or nothing. Returns the edits made
    (fields already at the value are skipped). With `seen`, refuses if any of these fields of these
    photos was edited after edit `seen`. A photo left in a demonstration whose date or city
    contradicts its own is refused (Contradiction) unless `override` says the archivist means it."""
    if via not in VIA:
        raise ValueError(via)
    if changes.get("withheld") == 0:  # publishing a photo is approving it, from every edit path
        changes = {**changes, "pending": changes.get("pending", 0)}
    ids = list(dict.fromkeys(photo_ids))
    batch = batch or uuid.uuid4().hex[:12]
    made: list[Edit] = []
    with transaction(db):
        missing = [i for i in ids if not db.execute("SELECT 1 FROM photos WHERE id = ?", [i]).fetchone()]
        if missing:
            raise Invalid(f"no such photo: {', '.join(map(str, missing))}")
        if seen is not None and ids and changes:
            clash = db.execute(
                f"SELECT photo_id, field, who, at FROM edits WHERE id > ? AND photo_id IN ({','.join('?' * len(ids))}) "
                f"AND field IN ({','.join('?' * len(changes))}) ORDER BY id DESC LIMIT 1",
                [seen, *ids, *changes]).fetchone()
            if clash:
                raise Conflict(f"photo {clash[0]}: {BY_COLUMN[clash[1]].name} was changed by {clash[2]} at "
                               f"{clash[3]} after you loaded it; nothing was saved — reload and try again")
        stamp = now()
        for photo_id in ids:
            for column, value in changes.items():
                made.extend(_set(db, photo_id, column, value, who, via, batch, stamp))
            made.extend(_answer_flags(db, photo_id, [e.field for e in made if e.photo_id == photo_id],
                                      who, via, batch, stamp))
            if not override:
                _check_demonstration(db, photo_id, changes)
    return made


def _answer_flags(db, photo_id: int, fields: list[str], who: str, via: str, batch: str, stamp: str) -> list[Edit]:
    """Correcting a flagged field answers the flag's reasons about it: an audited edit of its own,
    in the same batch, so undoing the correction raises them again."""
    if not fields or "needs_review" in fields or "review_reason" in fields:
        return []
    text = db.execute("SELECT review_reason FROM photos WHERE id = ? AND needs_review = 1", [photo_id]).fetchone()
    if not text:
        return []
    reasons = review.split(text[0])
    left = review.open_reasons(reasons, fields)
    if left == reasons:
        return []
    return _set(db, photo_id, "review_reason", "; ".join(left) or None, who, via, batch, stamp, corrected=False)


def _set(db, photo_id: int, column: str, value: Any, who: str, via: str, batch: str, stamp: str,
         undoes: int | None = None, restore: dict[str, Any] | None = None, corrected: bool = True) -> list[Edit]:
    columns = restore if restore is not None else _columns_for(column, value)
    before = dict(zip(columns, db.execute(f"SELECT {', '.join(columns)} FROM photos WHERE id = ?",
                                          [photo_id]).fetchone()))
    was = db.execute("SELECT value FROM corrections WHERE photo_id = ? AND field = ?", [photo_id, column]).fetchone()
    if before == columns and undoes is None and ((was is not None) == corrected or column in _STATES):
        return []
    db.conn.execute(f"UPDATE photos SET {', '.join(f'{c} = ?' for c in columns)}, updated_at = ? WHERE id = ?",
                    [*columns.values(), stamp, photo_id])
    if corrected:
        db.conn.execute("INSERT INTO corrections (photo_id, field, value, who, at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(photo_id, field) DO UPDATE SET value = excluded.value, who = excluded.who, "
                        "at = excluded.at", [photo_id, column, json.dumps(value, ensure_ascii=False), who, stamp])
    else:
        db.conn.execute("DELETE FROM corrections WHERE photo_id = ? AND field = ?", [photo_id, column])
    cur = db.conn.execute(
        "INSERT INTO edits (photo_id, field, old, new, who, at, via, batch, undoes, restore, was_corrected) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [photo_id, column, json.dumps(before[column], ensure_ascii=False), json.dumps(value, ensure_ascii=False),
         who, stamp, via, batch, undoes, json.dumps(before, ensure_ascii=False), int(was is not None)])
    return [Edit(cur.lastrowid, photo_id, column, before[column], value, who, stamp, via, batch, undoes)]


def undo(db: sqlite_utils.Database, edit_id: int, *, who: str, via: str = "undo",
         whole_batch: bool = True) -> list[Edit]:
    """Undo an edit with every edit made together with it (or, `whole_batch=False`, that edit
    alone): itself an audited change. Refused if a later edit still in force changed the same field
    of the same photo (undo that one first), even when it put back the value this edit left."""
    with transaction(db):
        row = db.execute("SELECT batch FROM edits WHERE id = ?", [edit_id]).fetchone()
        if row is None:
            raise Invalid(f"no edit {edit_id}")
        targets = db.execute("SELECT id, photo_id, field, new, restore, was_corrected, demonstration_id FROM edits "
                             "WHERE batch = ? AND (? OR id = ?) ORDER BY id DESC",
                             [row[0], whole_batch, edit_id]).fetchall()
        batch, stamp, made = uuid.uuid4().hex[:12], now(), []
        for target_id, photo_id, column, new, restore, was_corrected, demo_id in targets:
            if photo_id is None:
                raise Invalid(f"edit {target_id} changed the registry; change the demonstration back instead")
            if column not in BY_COLUMN:  # a face box (catalogue/faces.py): add or remove a box instead
                raise Invalid(f"edit {target_id} changed a face box; add or remove the box instead")
            if db.execute("SELECT 1 FROM edits WHERE undoes = ?", [target_id]).fetchone():
                if target_id != edit_id:
                    continue  # undone on its own before: the rest of its batch still can be
                raise Conflict(f"edit {target_id} is already undone")
            if later := _in_force_since(db, photo_id, column, target_id, {t[0] for t in targets}):
                raise Conflict(f"photo {photo_id}'s {BY_COLUMN[column].name} was changed since edit {target_id} "
                               f"(by {later[1]} at {later[2]}): undo edit {later[0]} first")
            after = _after(db, target_id, column, new)
            now_set = dict(zip(after, db.execute(f"SELECT {', '.join(after)} FROM photos WHERE id = ?",
                                                 [photo_id]).fetchone()))
            if now_set != after and not any(t[0] > target_id and t[1] == photo_id for t in targets):
                later = db.execute("SELECT id, who FROM edits WHERE photo_id = ? AND id > ? ORDER BY id DESC LIMIT 1",
                                   [photo_id, target_id]).fetchone()
                by = f" (edit {later[0]} by {later[1]})" if later else ""
                raise Conflict(f"photo {photo_id}: {BY_COLUMN[column].name} was changed again{by}; undo that first")
            old = json.loads(restore)
            try:
                made.extend(_set(db, photo_id, column, old[column], who, via, batch, stamp, undoes=target_id,
                                 restore=old, corrected=bool(was_corrected)))
            except sqlite3.IntegrityError:
                raise Invalid(f"cannot undo edit {target_id}: the {BY_COLUMN[column].name} it would put back "
                              "no longer exists (set the value you want instead)") from None
    return made


def _in_force_since(db, photo_id: int, column: str, edit_id: int, undoing: set[int]) -> tuple | None:
    """The newest later edit of the same photo and field (or one setting the same columns) that is
    still in force: (id, who, at), or None. Comparing values is not enough: withhold, publish,
    withhold again leaves the value edit 1 left, yet undoing edit 1 would publish the photo. A later
    edit and its own undo cancel out (so undoing newest first still works); an undo of that undo
    puts the edit back in force. Edits being undone now (`undoing`) are no obstacle."""
    touched = set(_columns_for(column, None))
    fields = [f for f in BY_COLUMN if touched & set(_columns_for(f, None))]
    in_force: dict[int, tuple] = {}
    for later_id, who, at, undoes in db.execute(
            f"SELECT id, who, at, undoes FROM edits WHERE photo_id = ? AND id > ? AND field IN "
            f"({','.join('?' * len(fields))}) ORDER BY id", [photo_id, edit_id, *fields]):
        if undoes is not None and undoes in in_force:
            del in_force[undoes]
        else:
            in_force[later_id] = (later_id, who, at)
    left = [e for i, e in in_force.items() if i not in undoing]
    return left[-1] if left else None


def _after(db, edit_id: int, column: str, new: str | None) -> dict[str, Any]:
    """The photo columns as an edit left them: what an undo may replace without losing anything."""
    row = db.execute("SELECT undoes FROM edits WHERE id = ?", [edit_id]).fetchone()
    if row and row[0] is not None:
        return json.loads(db.execute("SELECT restore FROM edits WHERE id = ?", [row[0]]).fetchone()[0])
    return _columns_for(column, json.loads(new) if new is not None else None)


def batch_sizes(db: sqlite_utils.Database, batches: Iterable[str], skip: set[int] = frozenset()) -> dict[str, int]:
    """How many edits of each batch can still be undone together (those not undone yet)."""
    found = list(set(batches))
    sizes: dict[str, int] = {}
    if found:
        for edit_id, batch in db.execute(f"SELECT id, batch FROM edits WHERE batch IN "
                                         f"({','.join('?' * len(found))})", found):
            if edit_id not in skip:
                sizes[batch] = sizes.get(batch, 0) + 1
    return sizes


def history(db: sqlite_utils.Database, photo_id: int) -> list[Edit]:
    rows = db.execute("SELECT id, photo_id, field, old, new, who, at, via, batch, undoes, demonstration_id "
                      "FROM edits WHERE photo_id = ? ORDER BY id DESC", [photo_id]).fetchall()
    return [Edit(r[0], r[1], r[2], json.loads(r[3]) if r[3] else None, json.loads(r[4]) if r[4] else None,
                 *r[5:]) for r in rows]


def describe(db: sqlite_utils.Database, column: str, value: Any) -> Any:
    """A value as archivists read it: a city's or demonstration's name rather than its id."""
    if value is None:
        return None
    if column == "city_id":
        row = db.execute("SELECT name FROM cities WHERE id = ?", [value]).fetchone()
    elif column in ("demonstration_id", "merged_into"):
        row = db.execute("SELECT label FROM demonstrations WHERE id = ?", [value]).fetchone()
    elif column in ("withheld", "faces_shown"):
        return "yes" if value else "no"
    elif column == "keywords" and isinstance(value, str) and value.startswith("["):
        return ", ".join(json.loads(value))
    else:
        return value
    return row[0] if row else value


def undone_ids(db: sqlite_utils.Database) -> set[int]:
    return {r[0] for r in db.execute("SELECT undoes FROM edits WHERE undoes IS NOT NULL")}


# ---------------------------------------------------------------- the registry

def _demo_name(db, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise Invalid("a demonstration needs a name")
    return value


def _demo_date(db, raw: str) -> str | None:
    if not raw.strip():
        return None
    try:
        return check_date(raw.strip())
    except (ValueError, ArchiveError) as e:
        raise Invalid(str(e)) from None


DEMO_FIELDS = {"name": ("name", _demo_name), "date": ("date", _demo_date), "city": ("city_id", _city),
               "description": ("description", _text), "url": ("url", _text)}


def _demo_edit(db, demo_id: int, column: str, old: Any, new: Any, who: str, via: str, batch: str,
               stamp: str) -> Edit:
    cur = db.conn.execute(
        "INSERT INTO edits (demonstration_id, field, old, new, who, at, via, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [demo_id, column, json.dumps(old, ensure_ascii=False), json.dumps(new, ensure_ascii=False),
         who, stamp, via, batch])
    return Edit(cur.lastrowid, None, column, old, new, who, stamp, via, batch, None, demo_id)


def edit_demonstration(db: sqlite_utils.Database, demo_id: int, raw: dict[str, str], *, who: str,
                       via: str, override: bool = False) -> list[Edit]:
    """Rename, re-date or re-place a demonstration; naming a provisional group makes it a registry entry.
    A date or city its photos contradict is refused unless `override`."""
    made, batch, stamp = [], uuid.uuid4().hex[:12], now()
    with transaction(db):  # a city the value adds is kept only if the whole edit is
        errors, values = [], {}
        for name, text in raw.items():
            if name not in DEMO_FIELDS:
                errors.append(f"{name}: not a demonstration field ({', '.join(DEMO_FIELDS)})")
                continue
            column, parse = DEMO_FIELDS[name]
            try:
                values[column] = parse(db, text or "")
            except Invalid as e:
                errors.append(f"{name}: {e}")
        if errors:
            raise Invalid("; ".join(errors))
        row = db.execute("SELECT name, date, city_id, description, url, provisional, date FROM demonstrations "
                         "WHERE id = ?", [demo_id]).fetchone()
        if row is None:
            raise Invalid(f"no demonstration {demo_id}")
        current = dict(zip(("name", "date", "city_id", "description", "url"), row[:5]))
        for column, value in values.items():
            if current[column] != value:
                db.conn.execute(f"UPDATE demonstrations SET {column} = ? WHERE id = ?", [value, demo_id])
                made.append(_demo_edit(db, demo_id, column, current[column], value, who, via, batch, stamp))
        if row[5] and values.get("name"):  # a provisional group named: now a registry entry with a real slug
            date = values.get("date", row[6]) or ""
            db.conn.execute("UPDATE demonstrations SET provisional = 0, slug = ? WHERE id = ?",
                            [unique_slug(db, "demonstrations", slugify(f"{date} {values['name']}")), demo_id])
            made.append(_demo_edit(db, demo_id, "provisional", 1, 0, who, via, batch, stamp))
        if not override and {"date", "city_id"} & {e.field for e in made}:
            for (photo_id,) in db.execute("SELECT id FROM photos WHERE demonstration_id = ? ORDER BY id", [demo_id]):
                _check_demonstration(db, photo_id, {"demonstration_id": demo_id})
    return made


def merge_demonstrations(db: sqlite_utils.Database, keep: int, gone: int, *, who: str, via: str,
                         override: bool = False) -> list[Edit]:
    """Move every photo of `gone` to `keep` (as corrections: retag will not split them again) and
    remove `gone` from the registry."""
    if keep == gone:
        raise Invalid("cannot merge a demonstration into itself")
    batch = uuid.uuid4().hex[:12]
    with transaction(db):
        for demo in (keep, gone):
            if not db.execute("SELECT 1 FROM demonstrations WHERE id = ?", [demo]).fetchone():
                raise Invalid(f"no demonstration {demo}")
        ids = [r[0] for r in db.execute("SELECT id FROM photos WHERE demonstration_id = ?", [gone])]
        made = apply_changes(db, ids, {"demonstration_id": keep}, who=who, via="merge", batch=batch, override=override)
        label = db.execute("SELECT label FROM demonstrations WHERE id = ?", [gone]).fetchone()[0]
        db.conn.execute("DELETE FROM demonstrations WHERE id = ?", [gone])
        made.append(_demo_edit(db, gone, "merged_into", label, keep, who, via, batch, now()))
    return made


# ---------------------------------------------------------------- review decisions

DECISIONS = {
    # An approval publishes and answers the flags: the archivist looked at the photo as it is.
    "approve": {"withheld": 0, "pending": 0, "needs_review": 0},
    "withhold": {"withheld": 1, "needs_review": 0},
    "looks-right": {"needs_review": 0},
}


def decide(db: sqlite_utils.Database, photo_ids: Iterable[int], decision: str, *, who: str, via: str) -> list[Edit]:
    """An archivist's verdict on photos in the review queue: audited edits, made together (one undo)."""
    if decision not in DECISIONS:
        raise Invalid(f"{decision!r} is not a decision ({', '.join(DECISIONS)})")
    return apply_changes(db, photo_ids, DECISIONS[decision], who=who, via=via)
