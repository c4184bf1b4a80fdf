"""The photo browser: search results and every filtered view of the photos, as a journalist reads them.

    /-/gallery/photos?q=ceasefire+london&use=commercial&city=london&year=2024&sort=newest&page=2

Every filter is in the URL (so a view can be shared and paged), every label is in words: licence
chips as Openverse names them ("Use commercially", "Modify or adapt", "Commons-compatible",
"Public domain / CC0"), demonstration, city, year, photographer and a date range, never a column
name or a 1/0. Nothing typed is an error: what cannot be read as a filter is ignored, any search
text becomes a query that runs (catalogue/search.match_query), and no match says so.

Counts beside each filter cost a GROUP BY over the matching photos; they only change when the
public copy does, so they are cached per copy version and filter (cache.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from datasette.database import QueryInterrupted
from datasette.utils.asgi import Response

from ingest.catalogue import search
from ingest.times import date_words
from ingest.web.cache import cached
from ingest.web.context import PLUGIN
from ingest.web.pages import _CARD_SQL, _allowed, _public, _render, cards

PAGE_SIZE = 48
MAX_PAGE = 2000
# Licence chips, Openverse's words: (URL value, label, SQL over photos p). The unary + keeps SQLite
# off the yes/no columns' indexes, which it otherwise prefers to a photographer's or a city's
# (43 ms instead of 0.3 ms for one photographer's count at 100,000 photos).
USES = (
    ("commercial", "Use commercially", "+p.allows_commercial = 1"),
    ("modify", "Modify or adapt", "+p.allows_adaptations = 1"),
    ("commons", "Commons-compatible", "+p.commons_compatible = 1"),
    ("pd", "Public domain / CC0", "p.licence_id IN ('CC0-1.0', 'CC-PDM-1.0')"),
)
SORTS = (("relevance", "Best match"), ("newest", "Newest first"), ("oldest", "Oldest first"),
         ("added", "Recently added"))
# Each sort's column and direction; ties go by id the same way, as on the demonstration and city
# pages (pages.py), so the viewer steps through a set in the order those pages show it.
_ORDER = {"newest": ("p.taken_at", "DESC"), "oldest": ("p.taken_at", "ASC"), "added": ("p.imported_at", "DESC")}
POSITION_UP_TO = 10_000  # "12 of 340" on the photo page for sets this size; past it, counting costs more than it says
_DATE = re.compile(r"^\d{4}(-\d\d(-\d\d)?)?$", re.ASCII)
_NUMBER = re.compile(r"^\d{1,6}$", re.ASCII)
_SLUG = re.compile(r"^[\w.-]{1,200}$")


@dataclass(frozen=True)
class Filters:
    """What a visitor asked for, read leniently from the URL: a value that cannot be used is dropped."""
    q: str = ""
    demonstration: str = ""
    city: str = ""
    year: int | None = None
    creator: str = ""
    uses: tuple[str, ...] = ()
    start: str = ""
    end: str = ""
    sort: str = ""
    page: int = 1
    match: str | None = field(default=None, compare=False)

    @classmethod
    def from_args(cls, args) -> Filters:
        def one(name: str, pattern: re.Pattern | None = None) -> str:
            value = (args.get(name) or "").strip()[:200]
            return value if pattern is None or pattern.match(value) else ""

        q = (args.get("q") or "")[:search.MAX_INPUT].strip()
        match = search.match_query(q)
        year, page, sort = one("year", _NUMBER), one("page", _NUMBER), one("sort")
        return cls(
            q=q, demonstration=one("demonstration", _SLUG), city=one("city", _SLUG),
            year=int(year) if year and 1800 < int(year) < 2200 else None, creator=one("creator"),
            uses=tuple(u for u, _, _ in USES if u in args.getlist("use")),
            start=one("from", _DATE), end=one("to", _DATE),
            sort=sort if sort in {s for s, _ in SORTS} and (match or sort != "relevance") else "",
            page=min(int(page), MAX_PAGE) if page and int(page) > 0 else 1, match=match,
        )

    @property
    def order(self) -> str:
        return self.sort or ("relevance" if self.match else "newest")

    def args(self, **changes) -> list[tuple[str, str]]:
        """The URL arguments of this view (with `changes`), in a stable order, defaults left out."""
        f = replace(self, **changes)
        pairs: list[tuple[str, str]] = [(k, v) for k, v in (
            ("q", f.q), ("demonstration", f.demonstration), ("city", f.city), ("year", str(f.year or "")),
            ("creator", f.creator), ("from", f.start), ("to", f.end), ("sort", f.sort),
            ("page", str(f.page) if f.page > 1 else "")) if v]
        pairs += [("use", u) for u in f.uses]
        return pairs

    def query(self, **changes) -> str:
        return urlencode(self.args(**{"page": 1, **changes}))

    def where(self) -> tuple[str, dict]:
        """SQL conditions over photos p (the search itself is with_sql) and their parameters."""
        clauses: list[str] = []
        params: dict = {"match": self.match} if self.match else {}
        if self.demonstration:
            clauses.append("p.demonstration_id IN (SELECT id FROM demonstrations WHERE slug = :demonstration)")
            params["demonstration"] = self.demonstration
        if self.city:
            clauses.append("p.city_id IN (SELECT id FROM cities WHERE slug = :city)")
            params["city"] = self.city
        if self.year:
            clauses.append("p.year = :year")
            params["year"] = self.year
        if self.creator:
            clauses.append("p.creator = :creator")
            params["creator"] = self.creator
        for use, _, sql in USES:
            if use in self.uses:
                clauses.append(sql)
        if self.start:
            clauses.append("p.date >= :start")
            params["start"] = self.start
        if self.end:
            clauses.append("substr(p.date, 1, length(:end)) <= :end")
            params["end"] = self.end
        return " AND ".join(clauses) or "1", params

    @property
    def with_sql(self) -> str:
        """The search's hits, found once and ranked, before anything joins them (an FTS5 MATCH
        inside a join can be run once per photo)."""
        if not self.match:
            return ""
        return (f"WITH hits AS MATERIALIZED (SELECT rowid AS id, {search.rank_sql()} AS score "
                f"FROM {search.TABLE} WHERE {search.TABLE} MATCH :match) ")

    @property
    def counting_sql(self) -> str:
        """The hits as counts need them: ids only. Ranking every hit (bm25) is only for the page
        (0.42 s for 162,000 hits at 1,000,000 photos, against 0.1 s for their ids)."""
        if not self.match:
            return ""
        return f"WITH hits AS MATERIALIZED (SELECT rowid AS id FROM {search.TABLE} WHERE {search.TABLE} MATCH :match) "

    @property
    def source(self) -> str:
        return "hits JOIN photos p ON p.id = hits.id" if self.match else "photos p"

    @property
    def order_sql(self) -> str:
        if self.order == "relevance":
            return "hits.score, p.taken_at DESC, p.id DESC"
        column, direction = _ORDER[self.order]
        return f"{column} {direction}, p.id {direction}"

    @property
    def narrowed(self) -> bool:
        return bool(self.match or self.demonstration or self.city or self.year or self.creator or self.uses
                    or self.start or self.end)


# ---------------------------------------------------------------- counts, cached per copy version

_CHOICES = {
    "demonstration": ("SELECT d.slug AS value, coalesce(d.label, d.name) AS label, count(*) AS n FROM {source} "
                      "JOIN demonstrations d ON d.id = p.demonstration_id WHERE {where} "
                      "GROUP BY d.id ORDER BY d.date DESC, n DESC LIMIT 200"),
    "city": ("SELECT c.slug AS value, c.name || coalesce(' (' || c.country_code || ')', '') AS label, count(*) AS n "
             "FROM {source} JOIN cities c ON c.id = p.city_id WHERE {where} GROUP BY c.id ORDER BY c.name LIMIT 200"),
    "year": ("SELECT p.year AS value, p.year AS label, count(*) AS n FROM {source} WHERE {where} AND p.year IS NOT NULL "
             "GROUP BY p.year ORDER BY p.year DESC"),
    "creator": ("SELECT p.creator AS value, p.creator AS label, count(*) AS n FROM {source} WHERE {where} "
                "AND p.creator IS NOT NULL GROUP BY p.creator ORDER BY n DESC, p.creator LIMIT 100"),
}


def _without(filters: Filters, name: str) -> Filters:
    """The view without one filter: a filter's own choices are counted over the others."""
    if name in (u for u, _, _ in USES):
        return replace(filters, uses=tuple(u for u in filters.uses if u != name))
    return replace(filters, **{name: None if name == "year" else ""})


async def counts(datasette, db, filters: Filters) -> dict:
    """The view's total, each filter's choices and each licence chip's count. Each is cached by the
    filters it depends on, so one photographer's page reuses the photographer list counted over
    everything else (a GROUP BY over the whole archive) instead of counting it again."""
    def key(f: Filters, *what) -> tuple:
        return (*what, tuple(f.args(page=1, sort="")))

    async def run(f: Filters, sql: str):
        where, params = f.where()
        return (await db.execute(f.counting_sql + sql.format(source=f.source, where=where), params)).rows

    async def count(f: Filters, extra: str = "") -> int | None:
        try:
            return (await run(f, "SELECT count(*) FROM {source} WHERE {where}" + extra))[0][0]
        except QueryInterrupted:
            return None

    async def choices(f: Filters, sql: str) -> list | None:
        try:
            return [(str(r["value"]), str(r["label"]), r["n"]) for r in await run(f, sql)]
        except QueryInterrupted:
            return None

    # A count that ran out of time (a very common word, a very large archive) is left out of the page,
    # not kept, and not an error: the photos still show.
    try:
        size = await total(datasette, db, filters)
    except QueryInterrupted:
        size = None
    out: dict = {"total": size, "choices": {}, "uses": {}}
    for name, sql in _CHOICES.items():
        f = _without(filters, name)
        out["choices"][name] = await cached(datasette, db, key(f, "choices", name),
                                            lambda f=f, sql=sql: choices(f, sql), keep=_counted) or []
    for use, _, sql in USES:
        f = _without(filters, use)
        out["uses"][use] = await cached(datasette, db, key(f, "use", use),
                                        lambda f=f, sql=sql: count(f, f" AND {sql}"), keep=_counted)
    return out


def _counted(value) -> bool:
    return value is not None


async def page_rows(db, filters: Filters):
    where, params = filters.where()
    sql = (filters.with_sql + _CARD_SQL.replace("FROM photos p", f"FROM {filters.source}", 1)
           + f" WHERE {where} ORDER BY {filters.order_sql} LIMIT {PAGE_SIZE} OFFSET {(filters.page - 1) * PAGE_SIZE}")
    return (await db.execute(sql, params)).rows


def _around(column: str, direction: str, key) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The photos after and before (key, :id) in the order `column direction` (ties by id the same
    way, NULLs first ascending, as SQLite puts them): each a list of (condition, order) segments,
    nearest first. Each condition is a range on the sort's index, so finding a neighbour reads a
    few index entries, however deep the photo sits in the set."""
    c = column
    later = (f"{c} >= :key AND ({c} > :key OR p.id > :id)", f"{c} ASC, p.id ASC")
    earlier = (f"{c} <= :key AND ({c} < :key OR p.id < :id)", f"{c} DESC, p.id DESC")
    if direction == "DESC":
        if key is None:
            return ([(f"{c} IS NULL AND p.id < :id", "p.id DESC")],
                    [(f"{c} IS NULL AND p.id > :id", "p.id ASC"), (f"{c} IS NOT NULL", f"{c} ASC, p.id ASC")])
        return [earlier, (f"{c} IS NULL", "p.id DESC")], [later]
    if key is None:
        return ([(f"{c} IS NULL AND p.id > :id", "p.id ASC"), (f"{c} IS NOT NULL", f"{c} ASC, p.id ASC")],
                [(f"{c} IS NULL AND p.id < :id", "p.id DESC")])
    return [later], [earlier, (f"{c} IS NULL", "p.id DESC")]


async def total(datasette, db, filters: Filters) -> int:
    """How many photos a view holds: from its counts when they are cached, else one count, cached."""
    where, params = filters.where()
    key = ("total", tuple(filters.args(page=1, sort="")))
    return await cached(datasette, db, key, lambda: _count(db, filters, where, params))


async def _count(db, filters: Filters, where: str, params: dict) -> int:
    """A view's size. A search with nothing else asked is counted in its index alone: every row of
    it is a photo of the copy (search.py), so the hits need not be looked up (13 ms for 162,000 hits
    at 1,000,000 photos, against 0.2-0.8 s joined to the photos)."""
    if filters.match and where == "1":
        sql, params = f"SELECT count(*) FROM {search.TABLE} WHERE {search.TABLE} MATCH :match", {"match": filters.match}
    else:
        sql = f"{filters.counting_sql}SELECT count(*) FROM {filters.source} WHERE {where}"
    return (await db.execute(sql, params)).first()[0]


async def neighbours(db, filters: Filters, photo_id: int, size: int) -> tuple[int | None, int | None, int | None]:
    """(previous id, next id, position from 1 or None) of a photo within a browser view of `size`
    photos. By keyset on the sort's index; a search's ranking, by a window over its hits."""
    where, params = filters.where()
    params = {**params, "id": photo_id}
    head, source = filters.with_sql, filters.source
    if filters.order == "relevance":
        row = (await db.execute(
            f"{head}SELECT prev, next, pos FROM (SELECT p.id, lag(p.id) OVER w AS prev, lead(p.id) OVER w AS next, "
            f"row_number() OVER w AS pos FROM {source} WHERE {where} WINDOW w AS (ORDER BY {filters.order_sql})) "
            "WHERE id = :id", params)).first()
        return (row["prev"], row["next"], row["pos"]) if row else (None, None, None)
    column, direction = _ORDER[filters.order]
    me = (await db.execute(f"{head}SELECT {column} AS key FROM {source} WHERE {where} AND p.id = :id", params)).first()
    if me is None:
        return None, None, None
    after, before = _around(column, direction, me["key"])
    params["key"] = me["key"]

    async def nearest(segments: list[tuple[str, str]]) -> int | None:
        for condition, order in segments:
            row = (await db.execute(f"{head}SELECT p.id FROM {source} WHERE {where} AND {condition} "
                                    f"ORDER BY {order} LIMIT 1", params)).first()
            if row:
                return row[0]
        return None

    position = None
    if size <= POSITION_UP_TO:
        position = 1
        for condition, _ in before:
            position += (await db.execute(f"{head}SELECT count(*) FROM {source} WHERE {where} AND {condition}",
                                          params)).first()[0]
    return await nearest(before), await nearest(after), position


# ---------------------------------------------------------------- the page

def browser_url(datasette, filters: Filters | None = None, **changes) -> str:
    base = datasette.urls.path(f"/-/{PLUGIN}/photos")
    query = (filters or Filters()).query(**changes)
    return f"{base}?{query}" if query else base


def describe(filters: Filters, labels: dict) -> str:
    """The view in words, for its heading and title: 'ceasefire london: Use commercially, London (GB)'."""
    parts = []
    for name, value in (("demonstration", filters.demonstration), ("city", filters.city),
                        ("year", str(filters.year or "")), ("creator", filters.creator)):
        if value:
            parts.append(labels.get(name, {}).get(value, value) if name != "creator" else f"by {value}")
    parts += [label for use, label, _ in USES if use in filters.uses]
    if filters.start or filters.end:
        parts.append(f"{date_words(filters.start) or 'any date'} to {date_words(filters.end) or 'today'}")
    head = f"“{filters.q}”" if filters.q else "Photos"
    return head + (": " + ", ".join(parts) if parts else "")


async def photos(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    filters = Filters.from_args(request.args)
    found = await counts(datasette, db, filters)
    rows = await page_rows(db, filters) if found["total"] != 0 else []
    here = filters.query(page=filters.page)
    shown = cards(datasette, db, rows, within=here)
    labels = {name: {v: label for v, label, _ in choices} for name, choices in found["choices"].items()}
    pages = -(-found["total"] // PAGE_SIZE) if found["total"] is not None else filters.page + (len(rows) == PAGE_SIZE)
    chips = [{"label": label, "count": found["uses"][use], "pressed": use in filters.uses,
              "href": browser_url(datasette, filters, uses=tuple(u for u in filters.uses if u != use)
                                  if use in filters.uses else filters.uses + (use,))}
             for use, label, _ in USES]
    title = describe(filters, labels)
    return await _render(datasette, request, "gallery-browse.html", {
        "page_title": title, "heading": title, "filters": filters, "found": found, "cards": shown,
        "chips": chips, "sorts": [s for s in SORTS if s[0] != "relevance" or filters.match],
        "action": datasette.urls.path(f"/-/{PLUGIN}/photos"),
        "clear_url": browser_url(datasette, Filters(q=filters.q)) if filters.narrowed else None,
        "prev_url": browser_url(datasette, filters, page=filters.page - 1) if filters.page > 1 else None,
        "next_url": browser_url(datasette, filters, page=filters.page + 1) if filters.page < pages else None,
        "first": (filters.page - 1) * PAGE_SIZE + 1, "last": (filters.page - 1) * PAGE_SIZE + len(rows),
        "download_url": datasette.urls.path(f"/-/{PLUGIN}/download.zip"),
        "table_url": datasette.urls.table(db.name, "photos"),
        "crumb": ("Photos", datasette.urls.path(f"/-/{PLUGIN}/photos")),
    })


ROUTES = [(rf"^/-/{PLUGIN}/photos$", photos), (rf"^/-/{PLUGIN}/search$", photos)]
