"""An Atom 1.0 feed of the photos added last: /-/gallery/feed.atom[?demonstration=<slug>][&city=<slug>].

The newest 50 by imported_at, read from the public copy (a withheld photo is not there). Each entry
links to the photo's page, carries its creator as author, a summary with its thumbnail, its licence
as <link rel="license"> (RFC 4946) and its credit line as <rights>. Every URL is absolute, so the
feed reads the same wherever it is copied: from the configured public address (web/urls.py), or,
when none is set, from the request, and then the feed is not cached publicly.
"""

from __future__ import annotations

import hashlib
import html
from datetime import datetime, timezone
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from datasette.utils.asgi import NotFound, Response

from ingest.outputs.credit import credit
from ingest.text import xml_safe
from ingest.web.compat import instance_metadata
from ingest.web.context import cache_ttl, image_url
from ingest.web.pages import PLUGIN, _allowed, _public, archive_title, date_words, page_url
from ingest.web.urls import PRIVATE, absolute_url

ATOM = "http://www.w3.org/2005/Atom"
SIZE = 50
ET.register_namespace("", ATOM)


def rfc3339(value: str | None) -> str | None:
    """The catalogue's ISO 8601 stamps as Atom dates (RFC 3339, UTC); None for what does not parse."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:  # imported_at and updated_at are written in UTC
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    """An Atom element. ElementTree writes control characters as they are, and one in one title makes
    the whole feed unreadable: every text and attribute goes through xml_safe."""
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_safe(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = xml_safe(text)
    return element


def _summary(photo, page: str, thumb: str, alt: str, credit_html: str) -> str:
    facts = [date_words(photo["date"]), photo["city"], photo["demonstration"]]
    parts = [f'<p><a href="{html.escape(page)}"><img src="{html.escape(thumb)}" alt="{html.escape(alt)}"></a></p>']
    if photo["caption"] and photo["caption"] != photo["title"]:
        parts.append(f"<p>{html.escape(photo['caption'])}</p>")
    if any(facts):
        parts.append(f"<p>{html.escape(' · '.join(f for f in facts if f))}</p>")
    parts.append(f"<p>{credit_html}</p>")
    return "".join(parts)


async def feed(request, datasette) -> Response:
    db = _public(datasette)
    await _allowed(datasette, request, db)
    where, params, about, alternate = [], {}, [], datasette.urls.table(db.name, "photos")
    for kind, column, table in (("demonstration", "demonstration_id", "demonstrations"), ("city", "city_id", "cities")):
        slug = request.args.get(kind)
        if not slug:
            continue
        row = (await db.execute(f"SELECT id, {'label' if table == 'demonstrations' else 'name'} AS name "
                                f"FROM {table} WHERE slug = ?", [slug])).first()
        if row is None:
            raise NotFound(f"No such {kind}: {slug}")
        where.append(f"p.{column} = :{kind}")
        params[kind] = row["id"]
        about.append(row["name"] or "an unnamed demonstration")
        alternate = page_url(datasette, table, slug)
    rows = (await db.execute(
        "SELECT p.id, p.rendition, p.title, p.caption, p.date, p.creator, p.licence_id, p.imported_at, p.updated_at, "
        "l.url AS licence_url, c.name AS city, d.name AS demonstration "
        "FROM photos p LEFT JOIN licences l ON l.id = p.licence_id LEFT JOIN cities c ON c.id = p.city_id "
        "LEFT JOIN demonstrations d ON d.id = p.demonstration_id "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY p.imported_at DESC, p.id DESC LIMIT {SIZE}", params)).rows

    name = await archive_title(datasette)
    cacheable = True

    def url(path: str) -> str:
        nonlocal cacheable
        found, public = absolute_url(datasette, request, path)
        cacheable = cacheable and public
        return found

    query = {k: request.args[k] for k in ("demonstration", "city") if request.args.get(k)}
    self_url = url(datasette.urls.path(f"/-/{PLUGIN}/feed.atom") + (f"?{urlencode(query)}" if query else ""))
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, "id", self_url)
    _el(root, "title", f"{name}: new photos" + (f" of {' in '.join(about)}" if about else ""))
    _el(root, "subtitle", "Photos from street demonstrations, each under its own licence: credit as each entry's rights say.")
    stamps = [s for r in rows for s in (rfc3339(r["updated_at"]), rfc3339(r["imported_at"])) if s]
    _el(root, "updated", max(stamps) if stamps else "1970-01-01T00:00:00Z")
    _el(root, "link", rel="self", type="application/atom+xml", href=self_url)
    _el(root, "link", rel="alternate", type="text/html", href=url(alternate))
    _el(_el(root, "author"), "name", await instance_metadata(datasette, "source") or name)  # for photos whose creator is unknown
    _el(root, "generator", "ingest gallery (Datasette)")

    for photo in rows:
        page = url(datasette.urls.row(db.name, "photos", str(photo["id"])))
        thumb = url(image_url(datasette, "thumbs", photo["rendition"]))
        web = url(image_url(datasette, "web", photo["rendition"]))
        title = photo["title"] or photo["caption"]
        alt = title or f"Photo {photo['id']}"
        line = credit(title=photo["title"], creator=photo["creator"], licence_id=photo["licence_id"],
                      licence_url=photo["licence_url"], source_url=page, archive_name=name)
        entry = _el(root, "entry")
        _el(entry, "id", page)
        _el(entry, "title", (title if len(title or "") <= 120 else title[:119] + "…") if title else
            ", ".join(filter(None, [f"Photo {photo['id']}", photo["city"], date_words(photo["date"])])))
        published = rfc3339(photo["imported_at"]) or "1970-01-01T00:00:00Z"
        _el(entry, "updated", max(published, rfc3339(photo["updated_at"]) or published))
        _el(entry, "published", published)
        if photo["creator"]:
            _el(_el(entry, "author"), "name", photo["creator"])
        _el(entry, "link", rel="alternate", type="text/html", href=page)
        _el(entry, "link", rel="enclosure", type="image/jpeg", href=web)
        if photo["licence_url"]:
            _el(entry, "link", rel="license", type="text/html", href=photo["licence_url"])
        _el(entry, "rights", line.text)
        _el(entry, "summary", _summary(photo, page, thumb, alt, line.html), type="html")

    body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    # Kept no longer than Datasette keeps its pages: the feed names photos, and a withdrawn one must
    # leave every copy of it soon (its image URLs are dead at once anyway).
    ttl = cache_ttl(datasette)
    headers = {"ETag": etag, "Cache-Control": (f"public, max-age={ttl}" if ttl else "no-cache") if cacheable else PRIVATE}
    if request.headers.get("if-none-match") == etag:
        return Response("", status=304, headers=headers)
    return Response(body, content_type="application/atom+xml; charset=utf-8", headers=headers)


ROUTES = [
    (rf"^/-/{PLUGIN}/feed\.atom$", feed),
]
