"""Search that finds what people type: the public copy's `photo_search` index and the query for it.

`photos_fts` (the catalogue's) covers a photo's own words only: title, caption, creator and
keywords, so "ceasefire London" found nothing when the words were the demonstration's name and its
city's. `photo_search` indexes, per public photo, those words plus its demonstration's name, its
city with the country's name and code, and its date as people write it (2024-11-02, 2 November
2024, Nov 2024), accent-insensitive and stemmed (porter over unicode61 remove_diacritics 2: Zoe
finds Zoë, Munchen München, march marches). It lives in the public copy only (public rows, nothing
else), rowid = the photo's id, and follows the copy's refresh: the photos it republishes, and every
photo of a demonstration or city whose name, date or place changed.

`match_query` turns any text into an FTS5 query that cannot fail: every word quoted (so quotes,
`*`, `-`, brackets and FTS5 keywords are plain words), all words required, dates read as dates.
"""

from __future__ import annotations

import re
import sqlite3

from ingest.reference.places import country_name
from ingest.times import date_words

TABLE = "photo_search"
COLUMNS = ("title", "caption", "keywords", "creator", "demonstration", "place", "date")
TOKENIZER = "porter unicode61 remove_diacritics 2"
# bm25 weights, in COLUMNS order: a demonstration's or place's name and a title say more than a caption.
WEIGHTS = (4.0, 1.0, 2.0, 1.0, 4.0, 3.0, 2.0)
MAX_TERMS = 16
MAX_INPUT = 1000  # characters read of what was typed: enough for any real question

# What people call a country besides its GeoNames name.
_COUNTRY_ALIASES = {"GB": "UK Britain England Scotland Wales", "US": "USA America", "NL": "Holland",
                    "CZ": "Czechia", "RU": "Russia", "KR": "Korea", "PS": "Palestine"}
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\b")
_DMY = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def schema_sql() -> str:
    """The index: its own rows (not external content), so it can hold words the photos table has not."""
    return (f"CREATE VIRTUAL TABLE {TABLE} USING FTS5 ({', '.join(COLUMNS)}, "
            f"tokenize=\"{TOKENIZER}\")")


def date_text(*dates: str | None) -> str:
    """The ways people write each date: ISO, words, the month's short name (2024-11-02 2 November 2024 Nov)."""
    out = []
    for date in dict.fromkeys(d for d in dates if d):
        words = date_words(date)
        out.append(date if words == date else f"{date} {words} {words.split()[-2][:3]}")
    return " ".join(out)


def place_text(city: str | None, country: str | None) -> str:
    return " ".join(filter(None, [city, country_name(country), country, _COUNTRY_ALIASES.get((country or "").upper())]))


def register(conn: sqlite3.Connection) -> None:
    """The SQL functions the index's rows are built with, on the connection that builds them."""
    conn.create_function("search_date", 2, date_text, deterministic=True)
    conn.create_function("search_place", 2, place_text, deterministic=True)


def _documents(where: str) -> str:
    return f"""
INSERT INTO main.{TABLE} (rowid, {', '.join(COLUMNS)})
SELECT p.id, p.title, p.caption, p.keywords, p.creator, coalesce(d.name, d.label),
       search_place(c.name, c.country_code), search_date(p.date, d.date)
FROM main.photos p LEFT JOIN main.demonstrations d ON d.id = p.demonstration_id
LEFT JOIN main.cities c ON c.id = coalesce(p.city_id, d.city_id)
WHERE {where}"""


def rebuild(conn: sqlite3.Connection) -> None:
    """The whole index again. Dropped, not emptied: an FTS5 delete only marks words gone, and the
    copy (secure_delete) overwrites a dropped table's pages."""
    conn.execute(f"DROP TABLE IF EXISTS main.{TABLE}")
    conn.execute(schema_sql())
    conn.execute(_documents("1"))


_DEMO_FACTS = "id, name, label, date, city_id"
_CITY_FACTS = "id, name, country_code"


def changed_places(conn: sqlite3.Connection) -> tuple[str, str]:
    """Before the copy takes the catalogue's demonstrations and cities: temp tables naming those whose
    searchable facts differ between the two (renamed, re-dated, moved, added or gone)."""
    for temp, table, facts in (("search_demos", "demonstrations", _DEMO_FACTS), ("search_cities", "cities", _CITY_FACTS)):
        conn.execute(f"DROP TABLE IF EXISTS temp.{temp}")
        conn.execute(f"CREATE TEMP TABLE {temp} AS SELECT id FROM ("
                     f"SELECT {facts} FROM src.{table} EXCEPT SELECT {facts} FROM main.{table}) "
                     f"UNION SELECT id FROM (SELECT {facts} FROM main.{table} EXCEPT SELECT {facts} FROM src.{table})")
    return "temp.search_demos", "temp.search_cities"


def update(conn: sqlite3.Connection, republished: str) -> bool:
    """Re-index the photos in `republished` (a table of ids) and those of changed demonstrations and
    cities (changed_places, called before the small tables were copied). True when words left the
    index (a document gone, or back with other text): then `merge` must drop them from its data."""
    affected = (f"p.id IN (SELECT id FROM {republished}) "
                "OR p.demonstration_id IN (SELECT id FROM temp.search_demos) "
                "OR p.city_id IN (SELECT id FROM temp.search_cities) "
                "OR (p.city_id IS NULL AND p.demonstration_id IN (SELECT d.id FROM main.demonstrations d "
                "    WHERE d.city_id IN (SELECT id FROM temp.search_cities)))")
    leaving = (f"rowid IN (SELECT id FROM {republished}) OR rowid IN "
               f"(SELECT p.id FROM main.photos p WHERE {affected})")
    conn.execute("DROP TABLE IF EXISTS temp.search_before")
    conn.execute(f"CREATE TEMP TABLE search_before AS SELECT rowid AS id, {', '.join(COLUMNS)} "
                 f"FROM main.{TABLE} WHERE {leaving}")
    conn.execute(f"DELETE FROM main.{TABLE} WHERE {leaving}")
    conn.execute(_documents(affected))
    same = " AND ".join(f"s.{c} IS b.{c}" for c in COLUMNS)
    return conn.execute(f"SELECT 1 FROM temp.search_before b LEFT JOIN main.{TABLE} s ON s.rowid = b.id "
                        f"WHERE s.rowid IS NULL OR NOT ({same}) LIMIT 1").fetchone() is not None


def merge(conn: sqlite3.Connection) -> None:
    """Drop deleted words from the index's data, not only mark them gone (an FTS5 delete only marks)."""
    conn.execute(f"INSERT INTO main.{TABLE} ({TABLE}) VALUES ('optimize')")


def _normalise_dates(text: str) -> str:
    """Dates typed as digits become the words the index holds for them, in its order."""
    def iso(m: re.Match) -> str:
        year, month, day = m.group(1), int(m.group(2)), m.group(3)
        if not 1 <= month <= 12:
            return m.group(0)
        return f'"{year} {month:02}' + (f' {int(day):02}"' if day else '"')

    def dmy(m: re.Match) -> str:
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return m.group(0)
        return f'"{year} {month:02} {day:02}"'

    return _ORDINAL.sub(r"\1", _DMY.sub(dmy, _ISO.sub(iso, text)))


def match_query(text: str | None) -> str | None:
    """An FTS5 MATCH expression for what someone typed, or None when it holds no word at all.

    Every word is a quoted string, so nothing typed is FTS5 syntax; dates become phrases of the
    index's date tokens; all words are required (FTS5's implicit AND)."""
    text = (text or "")[:MAX_INPUT]
    terms: list[str] = []
    for part in re.split(r'("[^"]*")', _normalise_dates(text)):
        if part.startswith('"') and part.endswith('"') and len(part) > 1 and re.fullmatch(r'"[\d ]+"', part):
            words = part.strip('"').split()
            if words:
                terms.append('"' + " ".join(words) + '"')
            continue
        for word in _WORD.findall(part.replace("_", " ")):
            terms.append(f'"{word.casefold()}"')
    terms = list(dict.fromkeys(terms))[:MAX_TERMS]
    return " ".join(terms) or None


def rank_sql() -> str:
    """The ORDER BY expression for results, best first (bm25 is lower for better matches)."""
    return f"bm25({TABLE}, {', '.join(str(w) for w in WEIGHTS)})"
