"""The front page, `/`: the gallery, not the database. A search box first, the latest demonstrations
as cards (cover photo, date, city, photo count), the newest photos, and links to every
demonstration, city, the map and the data. Datasette's own index moves to /-/gallery/data.

Where no catalogue is served (the plugin manages nothing), `/` stays Datasette's index.
"""

from __future__ import annotations

from datasette.utils.asgi import Response

from ingest.times import date_words
from ingest.web import serving
from ingest.web.browse import USES, browser_url
from ingest.web.cache import cached
from ingest.web.context import PLUGIN, image_url
from ingest.web.pages import (
    _CARD_SQL,
    _allowed,
    _public,
    _render,
    cards,
    demonstration_name,
    page_url,
)

DEMONSTRATIONS = 6
RECENT = 12

_LATEST = """
SELECT d.id, d.name, d.label, d.slug, d.date, d.photo_count, c.name AS city,
  (SELECT p.rendition FROM photos p WHERE p.demonstration_id = d.id ORDER BY p.taken_at LIMIT 1) AS cover,
  (SELECT coalesce(p.caption, p.title) FROM photos p WHERE p.demonstration_id = d.id ORDER BY p.taken_at LIMIT 1) AS cover_text
FROM demonstrations d LEFT JOIN cities c ON c.id = d.city_id
WHERE d.photo_count > 0
ORDER BY d.date IS NULL, d.date DESC, d.id DESC LIMIT :n
"""


async def datasette_index(request, send, datasette):
    """Datasette's index page (databases, tables, counts), kept for whoever wants the data."""
    # Imported here: datasette.views.index imports datasette.plugins, which loads every plugin's
    # entry point, this one included, half-imported, when the plugin is imported first.
    from datasette.views.index import IndexView

    request.scope.setdefault("url_route", {}).setdefault("kwargs", {}).setdefault("format", None)
    return await IndexView.as_view(datasette)(request, send)


async def front(request, send, datasette) -> Response:
    if not serving.publishing(datasette):
        return await datasette_index(request, send, datasette)
    db = _public(datasette)
    await _allowed(datasette, request, db)

    async def compute():
        demos = [dict(r) for r in (await db.execute(_LATEST, {"n": DEMONSTRATIONS})).rows]
        recent = (await db.execute(f"{_CARD_SQL} ORDER BY p.taken_at DESC, p.id DESC LIMIT {RECENT}")).rows
        total = (await db.execute("SELECT count(*) FROM photos")).first()[0]
        return demos, list(recent), total

    demos, recent, total = await cached(datasette, db, ("front",), compute)
    demo_cards = [{
        "name": demonstration_name(d), "href": page_url(datasette, "demonstrations", d["slug"]),
        "date": d["date"], "date_words": date_words(d["date"]), "city": d["city"], "count": d["photo_count"],
        "cover": image_url(datasette, "thumbs", d["cover"]) if d["cover"] else None,
    } for d in demos]
    return await _render(datasette, request, "gallery-front.html", {
        "page_title": "Photos of demonstrations", "total": total, "demonstrations": demo_cards,
        "cards": cards(datasette, db, recent, within="sort=newest"),
        "chips": [{"label": label, "href": browser_url(datasette, uses=(use,))} for use, label, _ in USES],
        "links": {"photos": browser_url(datasette), "demonstrations": page_url(datasette, "demonstrations"),
                  "cities": page_url(datasette, "cities"),
                  "map": datasette.urls.table(db.name, "photos") + "?_view=table&_nofacet=1",
                  "data": datasette.urls.path(f"/-/{PLUGIN}/data"), "feed": datasette.urls.path(f"/-/{PLUGIN}/feed.atom")},
        "feed_url": datasette.urls.path(f"/-/{PLUGIN}/feed.atom"), "feed_title": "New photos",
    })


ROUTES = [(r"^/$", front), (rf"^/-/{PLUGIN}/data$", datasette_index)]
