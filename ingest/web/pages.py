"""The gallery's own pages: one per demonstration and per city, and a listing of each.

    /-/gallery/demonstrations              every demonstration, newest first, with its photo count
    /-/gallery/demonstrations/<slug>       one demonstration: what the registry says, and its photos
    /-/gallery/cities                      every city, with its photo and demonstration counts
    /-/gallery/cities/<slug>               one city: its demonstrations, and its photos, newest first
    /-/gallery/{demonstrations,cities}/id/<id>   redirects to the slug's page (for links made from ids)

Everything is read from the public copy (plugin.public_db), never the catalogue: a withheld photo
is not there to show. Photos come 60 to a page, by keyset on (taken_at, id): `?next=<taken_at>,<id>`
names the last photo shown. Each page links to the same photos in Datasette's table (facets, JSON,
CSV, and the map) and to their Atom feed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from datasette.utils.asgi import Forbidden, NotFound, Response
from markupsafe import Markup

from ingest.text import xml_safe
from ingest.times import date_words
from ingest.web.context import PLUGIN, archive_name, image_url, public_db
from ingest.web.permissions import may_see_table

PAGE_SIZE = 60

# A photo with no date sorts as "" (first oldest-first, last newest-first), so that every photo has
# a place in the keyset order.
_KEY = "coalesce(p.taken_at, '')"

_CARD_SQL = f"""
SELECT p.id, p.rendition, p.title, p.caption, p.date, {_KEY} AS sort_key, p.width, p.height, p.creator,
       p.licence_id, p.allows_commercial, c.name AS city, c.slug AS city_slug,
       d.name AS demonstration, d.label AS demonstration_label, d.slug AS demonstration_slug
FROM photos p LEFT JOIN cities c ON c.id = p.city_id LEFT JOIN demonstrations d ON d.id = p.demonstration_id
"""


class BadRequest(Exception):
    pass


def clean_finalize(previous=None):
    """A Jinja `finalize` that drops control characters from whatever a template prints, Datasette's
    own pages included: titles and names come from files, and HTML cannot show them."""
    def finalize(value):
        if previous is not None:
            value = previous(value)
        if isinstance(value, Markup):
            return Markup(xml_safe(str(value)))
        return xml_safe(value) if isinstance(value, str) else value

    return finalize


def photo_alt(caption: str | None, title: str | None, demonstration: str | None, city: str | None,
              date: str | None) -> str:
    """A photo's alt text: its caption or title, else a sentence from where and when it was taken."""
    if caption or title:
        return (caption or title).strip()
    where = ", ".join(filter(None, [demonstration, city]))
    return " ".join(filter(None, ["Photo", f"at {where}" if where else "", f"{'in' if len(date) == 7 else 'on'} {date_words(date)}" if date else ""]))


def demonstration_name(row) -> str:
    return row["name"] or "Unnamed demonstration"


def _public(datasette):
    db = public_db(datasette)
    if db is None:
        raise NotFound("No gallery is served here")
    return db


async def _allowed(datasette, request, db) -> None:
    """The pages show the photos table: whoever may not see it (a private deployment) gets 403."""


    if not await may_see_table(datasette, request.actor, db.name, "photos"):
        raise Forbidden("You may not see the photos")


def page_url(datasette, kind: str, slug: str | None = None) -> str:
    return datasette.urls.path(f"/-/{PLUGIN}/{kind}" + (f"/{slug}" if slug else ""))


def feed_url(datasette, **filters) -> str:
    query = urlencode({k: v for k, v in filters.items() if v})
    return datasette.urls.path(f"/-/{PLUGIN}/feed.atom") + (f"?{query}" if query else "")


def _cursor(request) -> tuple[str, int] | None:
    raw = request.args.get("next")
    if not raw:
        return None
    key, _, last = raw.rpartition(",")
    if not _ or not last.isdigit():
        raise BadRequest("next must be <taken_at>,<id>, as the page's own link gives it")
    return key, int(last)


async def photo_page(db, where: str, params: dict, cursor, newest_first: bool):
    """One page of photos matching `where`: (rows, the next page's cursor or None, position of the first)."""
    op, order = ("<", "DESC") if newest_first else (">", "ASC")
    after = f"({_KEY} {op} :key OR ({_KEY} = :key AND p.id {op} :last))"
    if cursor is not None:
        where_page = f"{where} AND {after}"
        params = {**params, "key": cursor[0], "last": cursor[1]}
    else:
        where_page = where
    rows = list((await db.execute(
        f"{_CARD_SQL} WHERE {where_page} ORDER BY {_KEY} {order}, p.id {order} LIMIT {PAGE_SIZE + 1}",
        params)).rows)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    following = f"{rows[-1]['sort_key']},{rows[-1]['id']}" if more else None
    before = 0
    if cursor is not None:  # how many came before this page, for "photos 61-120 of 300"
        before = (await db.execute(f"SELECT count(*) FROM photos p WHERE {where} AND NOT {after}", params)).first()[0]
    return rows, following, before


def cards(datasette, db, rows, *, show_city: bool = True, show_demonstration: bool = True,
          within: str = "") -> list[dict]:
    """What _gallery-card.html shows for each row of _CARD_SQL. `within` is the photo browser's query
    for the set these photos belong to: the photo page steps through it (viewer.py)."""
    out = []
    suffix = "?" + urlencode({"in": within}) if within else ""
    for r in rows:
        title = r["title"] or r["caption"]
        date = r["date"]
        out.append({
            "id": r["id"], "href": datasette.urls.row(db.name, "photos", str(r["id"])) + suffix,
            "thumb": image_url(datasette, "thumbs", r["rendition"]),
            "alt": photo_alt(r["caption"], r["title"], r["demonstration"], r["city"], date),
            "width": r["width"], "height": r["height"],
            "title": title, "date": date,
            "city": r["city"] if show_city else None,
            "city_href": page_url(datasette, "cities", r["city_slug"]) if r["city_slug"] else None,
            "demonstration": (r["demonstration_label"] or "Unnamed demonstration") if show_demonstration and
            r["demonstration_slug"] else None,
            "demonstration_href": page_url(datasette, "demonstrations", r["demonstration_slug"])
            if r["demonstration_slug"] else None,
            "creator": r["creator"], "licence_id": r["licence_id"], "free": bool(r["allows_commercial"]),
        })
    return out


ZIP_PART = 200  # photos per "Download all" ZIP: the download route's own limit (media.MAX_ZIP)


async def download_parts(datasette, db, where: str, params: dict) -> list[dict]:
    """"Download all" as streamed ZIPs of web sizes with CREDITS.txt, one link per ZIP_PART photos."""
    ids = [r[0] for r in (await db.execute(
        f"SELECT p.id FROM photos p WHERE {where} ORDER BY {_KEY}, p.id", params)).rows]
    base = datasette.urls.path(f"/-/{PLUGIN}/download.zip")
    parts = [ids[i:i + ZIP_PART] for i in range(0, len(ids), ZIP_PART)]
    return [{"href": f"{base}?{urlencode([('size', 'web'), *(('id', i) for i in part)])}",
             "label": "Download all" if len(parts) == 1 else f"Download all, part {n} of {len(parts)}",
             "count": len(part)} for n, part in enumerate(parts, 1)]


def _pager(request, here: str, following: str | None, before: int, shown: int, total: int) -> dict:
    return {
        "first": here if request.args.get("next") else None,
        "next": f"{here}?{urlencode({'next': following})}" if following else None,
        "start": before + 1 if shown else 0, "end": before + shown, "total": total,
    }


def _links(datasette, db, column: str, value, browse: dict, **feed) -> dict:
    """The same photos in Datasette (facets, JSON, CSV; ?_view=table adds the map) and as a feed."""
    table = datasette.urls.table(db.name, "photos")
    query = urlencode({column: value})
    return {
        "browse": datasette.urls.path(f"/-/{PLUGIN}/photos") + "?" + urlencode(browse),
        "table": f"{table}?{query}",
        "map": f"{table}?{urlencode({column: value, '_view': 'table', '_nofacet': 1})}",  # the map near the top
        "json": f"{datasette.urls.table(db.name, 'photos', format='json')}?{query}",
        "csv": f"{datasette.urls.table(db.name, 'photos', format='csv')}?{query}&_size=max",
        "feed": feed_url(datasette, **feed),
    }


async def archive_title(datasette) -> str:
    return await archive_name(datasette)


async def _render(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    context = {"archive_title": await archive_title(datasette), "gallery_links": {
        "photos": datasette.urls.path(f"/-/{PLUGIN}/photos"),  # the photo browser (browse.py)
        "demonstrations": page_url(datasette, "demonstrations"), "cities": page_url(datasette, "cities")},
        **context}
    html = await datasette.render_template(template, context, request=request)
    return Response.html(html, status=status)


async def _one(db, table: str, slug: str):
    row = (await db.execute(f"SELECT * FROM {table} WHERE slug = ?", [slug])).first()
    if row is None:
        raise NotFound(f"No such {table[:-1] if table == 'demonstrations' else 'city'}: {slug}")
    return row


async def demonstration(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    demo = await _one(db, "demonstrations", request.url_vars["slug"])
    city = (await db.execute("SELECT name, slug, country_code FROM cities WHERE id = ?", [demo["city_id"]])).first() \
        if demo["city_id"] is not None else None
    try:
        rows, following, before = await photo_page(db, "p.demonstration_id = :id", {"id": demo["id"]},
                                                   _cursor(request), newest_first=False)
    except BadRequest as e:
        return Response.text(str(e), status=400)
    name = demonstration_name(demo)
    return await _render(datasette, request, "gallery-demonstration.html", {
        "page_title": f"{name}, {date_words(demo['date'])}" if demo["date"] else name,
        "demonstration": dict(demo), "name": name, "date_words": date_words(demo["date"]),
        "demonstration_url": demo["url"] if (demo["url"] or "").startswith(("https://", "http://")) else None,
        "city": dict(city) if city else None,
        "city_href": page_url(datasette, "cities", city["slug"]) if city and city["slug"] else None,
        "cards": cards(datasette, db, rows, show_demonstration=False),
        "pager": _pager(request, page_url(datasette, "demonstrations", demo["slug"]), following, before, len(rows),
                        demo["photo_count"]),
        "links": _links(datasette, db, "demonstration_id", demo["id"], {"demonstration": demo["slug"]},
                        demonstration=demo["slug"]),
        "feed_title": f"New photos of {name}",
        "downloads": await download_parts(datasette, db, "p.demonstration_id = :id", {"id": demo["id"]}),
        "crumb": ("Demonstrations", page_url(datasette, "demonstrations")),
    })


async def city(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    place = await _one(db, "cities", request.url_vars["slug"])
    demos = [dict(r) | {"href": page_url(datasette, "demonstrations", r["slug"]), "date_words": date_words(r["date"]),
                        "display_name": demonstration_name(r)}
             for r in (await db.execute(
                 "SELECT id, name, slug, date, photo_count, provisional FROM demonstrations WHERE city_id = ? "
                 "ORDER BY date DESC, name", [place["id"]])).rows]
    try:
        rows, following, before = await photo_page(db, "p.city_id = :id", {"id": place["id"]},
                                                   _cursor(request), newest_first=True)
    except BadRequest as e:
        return Response.text(str(e), status=400)
    return await _render(datasette, request, "gallery-city.html", {
        "page_title": place["name"], "city": dict(place), "demonstrations": demos,
        "cards": cards(datasette, db, rows, show_city=False, within=urlencode({"city": place["slug"]})),
        "pager": _pager(request, page_url(datasette, "cities", place["slug"]), following, before, len(rows),
                        place["photo_count"]),
        "links": _links(datasette, db, "city_id", place["id"], {"city": place["slug"]}, city=place["slug"]),
        "feed_title": f"New photos from {place['name']}",
        "downloads": await download_parts(datasette, db, "p.city_id = :id", {"id": place["id"]}),
        "crumb": ("Cities", page_url(datasette, "cities")),
    })


async def demonstrations(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    rows = (await db.execute(
        "SELECT d.id, d.name, d.slug, d.date, d.provisional, d.photo_count, c.name AS city, c.slug AS city_slug "
        "FROM demonstrations d LEFT JOIN cities c ON c.id = d.city_id "
        "ORDER BY d.date IS NULL, d.date DESC, d.name, d.id")).rows
    years: list[tuple[str, list[dict]]] = []
    for r in rows:
        year = (r["date"] or "")[:4] or "Undated"
        if not years or years[-1][0] != year:
            years.append((year, []))
        years[-1][1].append(dict(r) | {
            "display_name": demonstration_name(r), "date_words": date_words(r["date"]),
            "href": page_url(datasette, "demonstrations", r["slug"]),
            "city_href": page_url(datasette, "cities", r["city_slug"]) if r["city_slug"] else None})
    return await _render(datasette, request, "gallery-demonstrations.html", {
        "page_title": "Demonstrations", "years": years, "count": len(rows),
        "feed_url": feed_url(datasette), "feed_title": "New photos",
        "table_url": datasette.urls.table(db.name, "demonstrations"),
    })


async def cities(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    rows = (await db.execute(
        "SELECT c.id, c.name, c.slug, c.country_code, c.photo_count, "
        "(SELECT count(*) FROM demonstrations d WHERE d.city_id = c.id) AS demonstration_count "
        "FROM cities c ORDER BY c.name, c.country_code")).rows
    return await _render(datasette, request, "gallery-cities.html", {
        "page_title": "Cities",
        "cities": [dict(r) | {"href": page_url(datasette, "cities", r["slug"]) if r["slug"] else None} for r in rows],
        "feed_url": feed_url(datasette), "feed_title": "New photos",
        "table_url": datasette.urls.table(db.name, "cities"),
    })


async def by_id(request, datasette) -> Response:
    """Links built from ids (the photos grid, the photo page) land here and go on to the slug's page."""
    db = _public(datasette)
    await _allowed(datasette, request, db)
    kind = request.url_vars["kind"]
    row = (await db.execute(f"SELECT slug FROM {kind} WHERE id = ?", [int(request.url_vars["id"])])).first()
    if row is None or not row["slug"]:
        raise NotFound(f"No such {kind[:-1] if kind == 'demonstrations' else 'city'}")
    return Response.redirect(page_url(datasette, kind, row["slug"]), status=302)


ROUTES = [
    (rf"^/-/{PLUGIN}/demonstrations$", demonstrations),
    (rf"^/-/{PLUGIN}/cities$", cities),
    (rf"^/-/{PLUGIN}/(?P<kind>demonstrations|cities)/id/(?P<id>\d+)$", by_id),
    (rf"^/-/{PLUGIN}/demonstrations/(?P<slug>[^/]+)$", demonstration),
    (rf"^/-/{PLUGIN}/cities/(?P<slug>[^/]+)$", city),
]
