"""The demonstrations registry: a YAML list of {name, city, date} that tagging matches against."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from ingest.catalogue import settings
from ingest.catalogue.lookup import unique_slug
from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.model import CityChoice
from ingest.reference.places import city_from_name, gazetteer
from ingest.text import key, slugify

_FIELDS = {"name", "city", "date", "slug", "description", "url", "start", "end", "country_code"}


def check_date(value: Any) -> str:
    """YYYY-MM-DD, or YYYY-MM when only the month is known."""
    text = value.isoformat() if isinstance(value, Date) else str(value).strip()
    m = re.fullmatch(r"(\d{4})-(\d\d)(?:-(\d\d))?", text)
    if not m:
        raise ValueError(f"date {text!r} is not YYYY-MM-DD or YYYY-MM")
    try:
        Date(int(m[1]), int(m[2]), int(m[3] or 1))
    except ValueError:
        raise ValueError(f"date {text!r} does not exist") from None
    return text


def check_time(value: Any) -> str:
    """HH:MM (YAML reads an unquoted 14:00 as a number of minutes: accept that too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 14:00 as 840 (minutes) and 14:00:00 as 50400 (seconds).
        minutes = value if value < 24 * 60 else value // 60 if value < 24 * 3600 else -1
        if 0 <= minutes < 24 * 60:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"
    text = str(value).strip()
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?", text)
    if not m:
        raise ValueError(f"time {text!r} is not HH:MM")
    return f"{int(m[1]):02d}:{m[2]}"


def parse_registry(path: Path) -> list[dict[str, Any]]:
    """Validated entries, or an ArchiveError naming the file and entry; nothing partial."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ArchiveError(f"{path}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise ArchiveError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        raise ArchiveError(f"{path}:{line} not valid YAML ({getattr(e, 'problem', e)})") from None
    if isinstance(raw, dict) and "demonstrations" in raw:
        raw = raw["demonstrations"]
    if not isinstance(raw, list):
        raise ArchiveError(f"{path}: expected a list of demonstrations ({{name, city, date}})")
    entries = []
    for n, item in enumerate(raw, 1):
        try:
            if not isinstance(item, dict):
                raise ValueError("not a mapping with name, city and date")
            unknown = set(item) - _FIELDS
            if unknown:
                raise ValueError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
            name = str(item.get("name") or "").strip()
            if not name:
                raise ValueError("name is missing")
            city = str(item.get("city") or "").strip() or None
            entry = {"name": name, "city": city, "date": check_date(item.get("date")) if item.get("date") else None}
            for key in ("slug", "description", "url", "country_code"):
                if item.get(key):
                    entry[key] = str(item[key]).strip()
            for key in ("start", "end"):
                if item.get(key) is not None:
                    entry[key] = check_time(item[key])
            entries.append(entry)
        except ValueError as e:
            raise ArchiveError(f"{path}: entry {n}: {e}") from None
    return entries


def upsert_demo(db: sqlite_utils.Database, entry: dict[str, Any], registry=None) -> tuple[int, str]:
    """Insert or update one demonstration; identity is its slug, or its name, date and city."""
    registry = registry or load_registry(db)
    city_id = None
    if entry.get("city"):
        city_id = city_for(db, registry, city_from_name(entry["city"], entry.get("country_code"), "registry"))
    row = None
    slug = entry.get("slug") or slugify(f"{entry['date'] or ''} {entry['name']}")
    if entry.get("slug"):
        row = db.execute("SELECT id FROM demonstrations WHERE slug = ?", [slug]).fetchone()
    if row is None:
        for demo in registry.demos:
            if (demo.name and key(demo.name) == key(entry["name"]) and demo.date == entry["date"]
                    and demo.city_id == city_id):
                row = (demo.id,)
                break
    if row is None:  # a provisional group of that city and day becomes this demonstration
        for demo in registry.demos:
            if demo.provisional and demo.date == entry["date"] and demo.city_id == city_id and city_id:
                row = (demo.id,)
                break
    if row is None:  # an entry an archivist renamed or re-dated keeps the slug the registry gave it
        found = db.execute("SELECT id FROM demonstrations WHERE slug = ?", [slug]).fetchone()
        if found and corrected_demo_fields(db, found[0]):
            row = found
    values = {"name": entry["name"], "date": entry["date"], "city_id": city_id, "provisional": 0,
              "description": entry.get("description"), "url": entry.get("url"),
              "start_time": entry.get("start"), "end_time": entry.get("end")}
    if row:
        current = db.execute(f"SELECT {', '.join(values)}, slug FROM demonstrations WHERE id = ?", [row[0]]).fetchone()
        for column in corrected_demo_fields(db, row[0]):  # an archivist's rename or re-dating stands
            if column in values:
                values[column] = current[list(values).index(column)]
        if current[3]:  # a provisional group is named now: it takes the registry's slug
            values["slug"] = unique_slug(db, "demonstrations", slug)
        elif entry.get("slug"):
            values["slug"] = entry["slug"]
        if tuple(values.values()) == tuple(current[:len(values)]):
            return row[0], "unchanged"
        db.conn.execute(f"UPDATE demonstrations SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                        [*values.values(), row[0]])
        registry.demos = [d for d in registry.demos if d.id != row[0]]
        registry.demos.append(Demo(row[0], entry["name"], entry["date"], city_id, False))
        return row[0], "updated"
    if not entry.get("slug") and db.execute("SELECT 1 FROM demonstrations WHERE slug = ?", [slug]).fetchone():
        slug = slugify(f"{slug} {entry['city'] or ''}")  # the same name on the same day in two cities
    cur = db.conn.execute(
        f"INSERT INTO demonstrations ({', '.join(values)}, slug) VALUES ({', '.join('?' for _ in values)}, ?)",
        [*values.values(), unique_slug(db, "demonstrations", slug)])
    registry.demos.append(Demo(cur.lastrowid, entry["name"], entry["date"], city_id, False))
    return cur.lastrowid, "added"


def import_registry(db: sqlite_utils.Database, path: Path) -> dict[str, int]:
    """Load a registry file in one transaction; re-importing the same file changes nothing."""
    entries = parse_registry(path)
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    with transaction(db):
        registry = load_registry(db)
        for entry in entries:
            _, outcome = upsert_demo(db, entry, registry)
            counts[outcome] += 1
    return counts


def list_demos(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(
        """SELECT d.id, d.date, d.name, c.name AS city, d.slug, d.provisional,
                  (SELECT count(*) FROM photos p WHERE p.demonstration_id = d.id) AS photos
           FROM demonstrations d LEFT JOIN cities c ON c.id = d.city_id
           ORDER BY d.date DESC, d.name""")]


@dataclass(frozen=True)
class Demo:
    id: int
    name: str | None
    date: str | None               # YYYY-MM-DD or YYYY-MM
    city_id: int | None
    provisional: bool = False


@dataclass
class Registry:
    """What resolution needs to know of the catalogue: demonstrations and cities."""
    demos: list[Demo] = field(default_factory=list)
    city_ids: dict[str, int] = field(default_factory=dict)    # places.key(name or alias) -> id
    city_names: dict[int, str] = field(default_factory=dict)  # id -> name
    geonames: dict[int, int] = field(default_factory=dict)    # GeoNames id -> id
    settings: dict[str, str] = field(default_factory=dict)    # the archive's settings table
    # Demonstrations by id, date and name, so that tagging a photo does not read the whole registry
    # (a coalition's registry grows with its archive). Rebuilt when `demos` is replaced or grows;
    # holding the list keeps its identity from being reused.
    _index: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def _indexed(self) -> tuple[dict, dict, dict]:
        if self._index is None or self._index[0] is not self.demos or self._index[1] != len(self.demos):
            by_id, by_date, by_name = {}, {}, {}
            for order, d in enumerate(self.demos):
                by_id.setdefault(d.id, d)
                by_date.setdefault(d.date, []).append((order, d))
                if d.name:
                    by_name.setdefault(key(d.name), []).append((order, d))
            self._index = (self.demos, len(self.demos), (by_id, by_date, by_name))
        return self._index[2]

    def fitting(self, date: str | None) -> list[Demo]:
        """The demonstrations whose date `date` falls on (`demo_fits`), in registry order."""
        if not date:
            return []
        by_date = self._indexed()[1]
        found = by_date.get(date, []) + (by_date.get(date[:7], []) if len(date) == 10 else [])
        return [d for _, d in sorted(found, key=lambda pair: pair[0])]

    def called(self, name: str) -> list[Demo]:
        """The demonstrations called `name` (case and punctuation aside), in registry order."""
        return [d for _, d in self._indexed()[2].get(key(name), [])]

    def city_id(self, name: str | None) -> int | None:
        return self.city_ids.get(key(name)) if name else None

    def city_of(self, choice: CityChoice) -> int | None:
        """The row of a chosen city: by GeoNames id when the gazetteer knows it (London, Ontario
        is not London), else by name or alias."""
        if choice.city is not None:
            return self.geonames.get(choice.city.geonames_id)
        return self.city_id(choice.name)

    def demo(self, demo_id: int | None) -> Demo | None:
        return self._indexed()[0].get(demo_id) if demo_id else None

    def named(self, name: str, date: str | None, city_id: int | None = None) -> Demo | None:
        """The registered demonstration called `name` (case and punctuation aside); the dated one
        when the name recurs, and none when that still leaves more than one."""
        found = self.called(name)
        if len(found) > 1:
            found = [d for d in found if demo_fits(d, date)] or found
        if len(found) > 1 and city_id is not None:
            found = [d for d in found if d.city_id == city_id] or found
        return found[0] if len(found) == 1 else None

    def choice_for(self, city_id: int, source: str) -> CityChoice:
        """A city row of the archive as a choice, with its gazetteer entry (for its time zone)."""
        gid = next((g for g, c in self.geonames.items() if c == city_id), None)
        city = gazetteer().city(gid)
        return CityChoice(self.city_names.get(city_id, "?"), city.country_code if city else None, source, city)

    def place_of(self, demo: Demo) -> str:
        return self.city_names.get(demo.city_id, "?") if demo.city_id else "?"


def dates_fit(demo_date: str | None, date: str | None) -> bool:
    """A photo's date falls on a demonstration's (a YYYY-MM demonstration: any day of that month)."""
    return bool(date and demo_date and (demo_date == date or (len(demo_date) == 7 and date.startswith(demo_date))))


def demo_fits(demo: Demo, date: str | None) -> bool:
    return dates_fit(demo.date, date)


def load_registry(db: sqlite_utils.Database) -> Registry:
    registry = Registry()
    _load_demos(db, registry)
    _load_cities(db, registry)
    registry.settings = settings.stored(db)
    return registry


def _load_demos(db: sqlite_utils.Database, registry: Registry) -> None:
    registry.demos = [Demo(row[0], row[1], row[2], row[3], bool(row[4]))
                      for row in db.execute("SELECT id, name, date, city_id, provisional FROM demonstrations")]


def _load_cities(db: sqlite_utils.Database, registry: Registry) -> None:
    registry.city_ids, registry.city_names, registry.geonames = {}, {}, {}
    for city_id, name, geonames_id in db.execute("SELECT id, name, geonames_id FROM cities ORDER BY id"):
        registry.city_ids.setdefault(key(name), city_id)
        registry.city_names[city_id] = name
        if geonames_id is not None:
            registry.geonames[geonames_id] = city_id
    for alias, city_id in db.execute("SELECT alias, city_id FROM city_aliases"):
        registry.city_ids.setdefault(alias, city_id)


def city_for(db: sqlite_utils.Database, registry: Registry, choice: CityChoice) -> int:
    """The city row for a chosen city, created with its gazetteer data and aliases if it is new.

    `registry` may be older than the catalogue (another import, the web, `demos import` wrote since it
    was loaded): a city it lacks is looked for again inside the write transaction before one is
    added, so that it is never added twice (nor fails on the unique GeoNames id)."""
    if (found := registry.city_of(choice)) is not None:
        return found
    with transaction(db):
        _load_cities(db, registry)
        if (found := registry.city_of(choice)) is not None:
            return found
        return _add_city(db, registry, choice)


def _add_city(db: sqlite_utils.Database, registry: Registry, choice: CityChoice) -> int:
    city = choice.city
    cur = db.conn.execute(
        "INSERT INTO cities (name, country_code, latitude, longitude, geonames_id, slug) VALUES (?, ?, ?, ?, ?, ?)",
        [choice.name, choice.country_code, city and city.latitude, city and city.longitude,
         city and city.geonames_id, unique_slug(db, "cities", slugify(choice.name))],
    )
    city_id = cur.lastrowid
    names = gazetteer().aliases(city) if city is not None else [choice.name]
    aliases = {key(n) for n in names if key(n)} | {key(choice.name)}
    for alias in aliases:
        # An alias shared by two cities (two Londons) resolves to the first one the archive met.
        if db.conn.execute("INSERT OR IGNORE INTO city_aliases (alias, city_id) VALUES (?, ?)", [alias, city_id]).rowcount:
            registry.city_ids.setdefault(alias, city_id)
    registry.city_ids.setdefault(key(choice.name), city_id)
    registry.city_names[city_id] = choice.name
    if city is not None:
        registry.geonames[city.geonames_id] = city_id
    return city_id


def close_demos(registry: Registry, name: str, limit: int = 3) -> list[Demo]:
    """Registered demonstrations whose names come close to NAME (a mistyped --demo), best first."""
    named = {key(d.name): d for d in registry.demos if d.name and not d.provisional}
    close = difflib.get_close_matches(key(name), list(named), n=limit, cutoff=0.5)
    words = set(key(name).split())
    close += [k for k in named if k not in close and words and words <= set(k.split())]
    return [named[k] for k in close[:limit]]


def known_demo(registry: Registry, name: str) -> bool:
    """Whether NAME is a registered demonstration's name (case and punctuation aside)."""
    return bool(registry.called(name))


def demo_for(db: sqlite_utils.Database, registry: Registry, name: str | None, date: str | None,
             city_id: int | None, provisional: bool = False) -> int:
    """A demonstration the registry does not know: a forced --demo name, or a provisional group
    of photos from one city and day, which an archivist can name later. As with `city_for`, one
    that `registry` lacks is looked for again in the catalogue before it is added."""
    if provisional and (found := _provisional(registry, date, city_id)) is not None:
        return found
    with transaction(db):
        _load_demos(db, registry)
        if provisional and (found := _provisional(registry, date, city_id)) is not None:
            return found
        if not provisional and name and (same := registry.named(name, date)) is not None:
            return same.id
        return _add_demo(db, registry, name, date, city_id, provisional)


def _provisional(registry: Registry, date: str | None, city_id: int | None) -> int | None:
    return next((d.id for d in registry.demos if d.provisional and d.date == date and d.city_id == city_id), None)


def _add_demo(db: sqlite_utils.Database, registry: Registry, name: str | None, date: str | None,
              city_id: int | None, provisional: bool) -> int:
    base = slugify(f"{date or ''} {registry.city_names.get(city_id, '')} unnamed") if provisional else slugify(name or "")
    cur = db.conn.execute(
        "INSERT INTO demonstrations (name, slug, date, city_id, provisional) VALUES (?, ?, ?, ?, ?)",
        [name, unique_slug(db, "demonstrations", base), date, city_id, int(provisional)],
    )
    registry.demos.append(Demo(cur.lastrowid, name, date, city_id, provisional))
    return cur.lastrowid


def corrected_demo_fields(db: sqlite_utils.Database, demo_id: int) -> set[str]:
    """Registry fields an archivist set: re-importing the registry leaves them alone."""
    return {r[0] for r in db.execute("SELECT DISTINCT field FROM edits WHERE demonstration_id = ? "
                                     "AND photo_id IS NULL", [demo_id])}
