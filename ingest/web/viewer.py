"""The photo page as a viewer: its title and alt text in words, previous / next within the set the
visitor came from, and what link previews and search engines read (Open Graph, Twitter card,
schema.org ImageObject with its licence).

The set travels in the photo's URL, `?in=<the browser's query>` (browse.py puts it on every card),
so stepping through search results stays in them; without it, the photo's demonstration in the
order taken. URLs in the tags are absolute only with the archive's public address (web/urls.py):
this page is cached publicly, so the request's Host header must never reach it.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode

from datasette.database import QueryInterrupted
from markupsafe import Markup

from ingest.times import date_words
from ingest.web.browse import Filters, neighbours, total
from ingest.web.context import PLUGIN, image_url
from ingest.web.pages import photo_alt
from ingest.web.urls import public_url


class _Args(dict):
    """parse_qs's dict read like Datasette's request.args (get and getlist)."""

    def get(self, key, default=None):
        values = super().get(key)
        return values[0] if values else default

    def getlist(self, key):
        return list(super().get(key, []))


def photo_title(title: str | None, demonstration: str | None, city: str | None, date: str | None) -> str:
    """The page's <title> and <h1>: the photo's title, else its demonstration, city and date."""
    if title:
        return title.strip()
    return ", ".join(filter(None, [demonstration, city, date_words(date)])) or "Photo"


def json_ld(data: dict) -> Markup:
    """A <script type="application/ld+json"> body that no value can close early."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


async def viewer_context(datasette, request, db, row, photo, credit_text: str, archive: str) -> dict:
    """What row-gallery-photos.html needs beyond the photo's row: title, alt, neighbours, tags."""
    pid = row["id"]
    title = photo_title(photo.title, photo.demonstration, photo.city, row["date"])
    alt = photo_alt(photo.caption, photo.title, photo.demonstration, photo.city, row["date"])
    came = request.args.get("in")
    if came is not None:
        filters = Filters.from_args(_Args(parse_qs(came[:2000])))
        keep = {"in": came}
    else:
        demo = (await db.execute("SELECT slug FROM demonstrations WHERE id = ?", [row["demonstration_id"]])).first() \
            if row["demonstration_id"] is not None else None
        filters = Filters(demonstration=demo["slug"], sort="oldest") if demo else Filters(sort="newest")
        keep = {}
    try:
        size = await total(datasette, db, filters)
        prev_id, next_id, position = await neighbours(db, filters, pid, size)
    except QueryInterrupted:  # a set too large to step through in time: the photo shows without it
        size = prev_id = next_id = position = None

    def link(other: int | None) -> str | None:
        if other is None:
            return None
        path = datasette.urls.row(db.name, "photos", str(other))
        return f"{path}?{urlencode(keep)}" if keep else path

    page_path = datasette.urls.row(db.name, "photos", str(pid))
    page = public_url(datasette, page_path) or page_path
    web_path = image_url(datasette, "web", row["rendition"])
    image = public_url(datasette, web_path) or web_path
    description = photo.caption or ", ".join(filter(None, [photo.demonstration, photo.city, date_words(row["date"])]))
    licence = photo.licence_name or photo.licence_id or "No licence stated"
    back = datasette.urls.path(f"/-/{PLUGIN}/photos") + (f"?{came}" if came else "")
    ld = {
        "@context": "https://schema.org", "@type": "ImageObject", "name": title, "caption": alt,
        "contentUrl": image, "url": page, "creditText": credit_text,
        "creator": {"@type": "Person", "name": photo.creator} if photo.creator else None,
        "copyrightNotice": f"© {photo.creator}" + (f", {licence}" if photo.licence_url else "") if photo.creator else None,
        "license": photo.licence_url, "acquireLicensePage": page,
        "dateCreated": photo.taken_at, "contentLocation": {"@type": "Place", "name": photo.city} if photo.city else None,
        "width": row["width"], "height": row["height"],
        "publisher": {"@type": "Organization", "name": archive},
    }
    return {
        "title": title, "alt": alt, "description": f"{description} · {licence}" if description else licence,
        "image": image, "page": page, "licence": licence, "licence_url": photo.licence_url,
        "creator": photo.creator, "json_ld": json_ld({k: v for k, v in ld.items() if v is not None}),
        "prev": link(prev_id), "next": link(next_id), "position": position, "total": size,
        "back": back if came is not None else None, "web": web_path, "archive": archive,
    }
