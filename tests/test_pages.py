"""The gallery's pages per demonstration and city, its Atom feed and its map, through Datasette's test
client, over a gallery built by our own ingest (registry import, then photos), with withheld photos."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urljoin, urlparse
from xml.etree import ElementTree as ET

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import COUNT, row_count
from fixtures.synth import make_photo

from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
MARCH = "2024-11-02-london-ceasefire"
LONDON_PHOTOS = 65          # more than one page (60) of the march, public
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
CARD_HREF = re.compile(r'class="gallery-card-image" href="([^"]+)"')

REGISTRY = """
- name: National march for a ceasefire in Gaza
  city: London
  country_code: GB
  date: "2024-11-02"
  slug: 2024-11-02-london-ceasefire
  description: At the national march demanding a ceasefire in Gaza
  url: https://example.org/marches/2024-11-02
- name: VE Day demonstration
  city: Barcelona
  country_code: ES
  date: "2025-05"
  slug: 2025-05-barcelona-ve-day
- name: Rally & <march> for Ukraine
  city: Munich
  country_code: DE
  date: "2024-05-18"
  slug: 2024-05-18-munich-rally
- name: Brussels demonstration
  city: Brussels
  country_code: BE
  date: "2025-05"
  slug: 2025-05-brussels
"""


def _camera(stamp: str, offset: str, lat: float, lon: float, **extra) -> dict:
    return {"DateTimeOriginal": stamp, "OffsetTimeOriginal": offset, "GPSLatitude": lat, "GPSLongitude": lon,
            "Artist": "Olena Kovalenko", **extra}


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("pages")
    photos = base / "photos"
    for i in range(LONDON_PHOTOS):  # pairs share a second (burst shots): the keyset's id breaks the tie
        minute = i // 2
        make_photo(photos / "march" / f"m{i:03}.jpg", width=64, height=48, seed=100 + i,
                   exif=_camera(f"2024:11:02 13:{minute:02}:00", "+00:00", 51.5045, -0.1263),
                   xmp={"dc:title": f"March photo {i:03}"} if i % 3 == 0 else None)
    make_photo(photos / "march" / "secret.jpg", width=64, height=48, seed=7,
               exif=_camera("2024:11:02 15:00:00", "+00:00", 51.5045, -0.1263),
               xmp={"dc:title": "Secret withheld photo"})
    make_photo(photos / "bratislava" / "only.jpg", width=64, height=48, seed=8,  # withheld: its city is not public
               exif=_camera("2024:09:28 16:03:19", "+02:00", 48.1447, 17.1077), xmp={"dc:title": "Withheld in Bratislava"})
    make_photo(photos / "barcelona" / "ve.jpg", width=64, height=48, seed=9,
               exif=_camera("2025:05:08 12:30:00", "+02:00", 41.3870, 2.1701), xmp={"dc:title": "VE Day, Barcelona"})
    for i in range(2):
        make_photo(photos / "munich" / f"r{i}.jpg", width=64, height=48, seed=20 + i,
                   exif=_camera(f"2024:05:18 14:2{i}:00", "+02:00", 48.1424, 11.5775))
    (base / "registry.yml").write_text(REGISTRY, encoding="utf-8")
    db = connect(base / "gallery.db")
    import_registry(db, base / "registry.yml")
    summary = run_ingest(db, Store(base / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
    assert summary.imported == LONDON_PHOTOS + 5
    withheld = [dict(zip(("id", "sha256", "title"), r)) for r in db.conn.execute(
        "SELECT id, sha256, title FROM photos WHERE title IN ('Secret withheld photo', 'Withheld in Bratislava')")]
    assert len(withheld) == 2
    db.conn.execute("UPDATE photos SET withheld = 1 WHERE id IN (?, ?)", [w["id"] for w in withheld])
    demos = {r[0]: r[1] for r in db.conn.execute("SELECT slug, id FROM demonstrations")}
    cities = {r[0]: r[1] for r in db.conn.execute("SELECT slug, id FROM cities")}
    db.conn.commit()
    db.conn.close()
    return {"base": base, "withheld": withheld, "demos": demos, "cities": cities}


def make_ds(base: Path, plugins: dict | None = None, metadata_extra: dict | None = None, **settings) -> Datasette:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    for name, config in (plugins or {}).items():
        metadata["plugins"][name] = {**metadata["plugins"].get(name, {}), **config}
    metadata.update(metadata_extra or {})
    return Datasette([str(base / "gallery.db")], settings=settings or None, **datasette_options(metadata))


async def _pages(ds, path: str) -> list[str]:
    """Every page of a paginated gallery page, following its "next" links."""
    pages = []
    while path:
        response = await ds.client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        pages.append(response.text)
        found = re.search(r'<a rel="next" href="([^"]+)"', response.text)
        base = ds.setting("base_url")  # the test client adds it again
        path = found and "/" + found[1].replace("&amp;", "&")[len(base):]
    return pages


async def _public_rows(ds, query: str) -> list[dict]:
    response = await ds.client.get(f"/gallery/photos.json?_shape=array&_size=max&{query}")
    assert response.status_code == 200
    return response.json()


def _photo_id(href: str) -> int:
    return int(href.split("?")[0].rstrip("/").rsplit("/", 1)[1])  # ?in= names the set the viewer steps through


# ---------------------------------------------------------------- a demonstration's page

async def test_demonstration_page(gallery):
    ds = make_ds(gallery["base"])
    response = await ds.client.get(f"/-/gallery/demonstrations/{MARCH}")
    assert response.status_code == 200
    html = response.text
    text = " ".join(html.split())
    assert "<h1>National march for a ceasefire in Gaza</h1>" in html
    assert '<time datetime="2024-11-02">2 November 2024</time>' in text
    assert '<a href="/-/gallery/cities/london">London</a>' in text
    assert f"<dt>Photos</dt><dd>{LONDON_PHOTOS}</dd>" in text                       # withheld not counted
    assert f"Photos 1–60 of {LONDON_PHOTOS}" in text
    assert "At the national march demanding a ceasefire in Gaza" in html
    assert 'href="https://example.org/marches/2024-11-02"' in html
    assert html.count('class="gallery-card"') == 60
    assert 'alt="March photo 000"' in html and 'alt="Photo ' in html              # alt from the title, else a name
    # Links to the same photos in Datasette (facets, JSON, CSV, map) and the feed.
    demo_id = gallery["demos"][MARCH]
    assert f'href="/gallery/photos?demonstration_id={demo_id}"' in html
    assert f'href="/gallery/photos.json?demonstration_id={demo_id}"' in html
    assert f'href="/gallery/photos.csv?demonstration_id={demo_id}&amp;_size=max"' in html
    assert f'href="/gallery/photos?demonstration_id={demo_id}&amp;_view=table&amp;_nofacet=1"' in html
    assert f'<link rel="alternate" type="application/atom+xml" title="New photos of National march for a ceasefire in Gaza" href="/-/gallery/feed.atom?demonstration={MARCH}">' in html
    table = await ds.client.get(f"/gallery/photos.json?demonstration_id={demo_id}&_size=0&{COUNT}")
    assert row_count(table.json()) == LONDON_PHOTOS


async def test_demonstration_pages_paginate_by_taken_at_then_id(gallery):
    ds = make_ds(gallery["base"])
    pages = await _pages(ds, f"/-/gallery/demonstrations/{MARCH}")
    assert len(pages) == 2
    first, second = ([_photo_id(h) for h in CARD_HREF.findall(p)] for p in pages)
    assert len(first) == 60 and len(second) == LONDON_PHOTOS - 60
    rows = await _public_rows(ds, f"demonstration_id={gallery['demos'][MARCH]}")
    expected = [r["id"] for r in sorted(rows, key=lambda r: (r["taken_at"] or "", r["id"]))]
    assert first + second == expected                     # oldest first, each once, ties broken by id
    text = " ".join(pages[1].split())
    assert f"Photos 61–{LONDON_PHOTOS} of {LONDON_PHOTOS}" in text
    assert f'<a href="/-/gallery/demonstrations/{MARCH}">First page</a>' in text
    assert 'rel="next"' not in pages[1]


async def test_bad_page_cursor_is_refused(gallery):
    ds = make_ds(gallery["base"])
    for bad in ("nonsense", "2024-11-02,x", ",", "2024"):
        response = await ds.client.get(f"/-/gallery/demonstrations/{MARCH}?next={bad}")
        assert response.status_code == 400, bad


async def test_month_only_and_provisional_names(gallery):
    ds = make_ds(gallery["base"])
    page = await ds.client.get("/-/gallery/demonstrations/2025-05-barcelona-ve-day")
    assert page.status_code == 200
    assert '<time datetime="2025-05">May 2025</time>' in page.text
    assert 'alt="VE Day, Barcelona"' in page.text
    empty = await ds.client.get("/-/gallery/demonstrations/2025-05-brussels")
    assert empty.status_code == 200 and "No photos yet" in empty.text


# ---------------------------------------------------------------- a city's page

async def test_city_page_lists_its_demonstrations_and_photos_newest_first(gallery):
    ds = make_ds(gallery["base"])
    pages = await _pages(ds, "/-/gallery/cities/london")
    assert len(pages) == 2
    text = " ".join(pages[0].split())
    assert "<h1>London" in text and f"<dt>Photos</dt><dd>{LONDON_PHOTOS}</dd>" in text
    assert f'<a href="/-/gallery/demonstrations/{MARCH}">National march for a ceasefire in Gaza</a>' in text
    ids = [_photo_id(h) for p in pages for h in CARD_HREF.findall(p)]
    rows = await _public_rows(ds, f"city_id={gallery['cities']['london']}")
    assert ids == [r["id"] for r in sorted(rows, key=lambda r: (r["taken_at"] or "", r["id"]), reverse=True)]
    assert f'href="/gallery/photos?city_id={gallery["cities"]["london"]}"' in pages[0]
    assert '<link rel="alternate" type="application/atom+xml" title="New photos from London" href="/-/gallery/feed.atom?city=london">' in pages[0]


async def test_listings(gallery):
    ds = make_ds(gallery["base"])
    demos = await ds.client.get("/-/gallery/demonstrations")
    assert demos.status_code == 200
    text = " ".join(demos.text.split())
    order = [text.index(name) for name in ("VE Day demonstration", "National march for a ceasefire in Gaza",
                                           "Rally &amp; &lt;march&gt; for Ukraine")]
    assert order == sorted(order)                                         # newest first
    assert "<march>" not in demos.text                                   # names are escaped
    assert f"{LONDON_PHOTOS} photos" in text and "2 photos" in text and "no photos yet" in text
    assert '<h2 id="year-2025">2025</h2>' in text and '<h2 id="year-2024">2024</h2>' in text
    assert '<link rel="alternate" type="application/atom+xml" title="New photos" href="/-/gallery/feed.atom">' in demos.text
    cities = await ds.client.get("/-/gallery/cities")
    assert cities.status_code == 200
    text = " ".join(cities.text.split())
    for slug in ("london", "barcelona", "munich", "brussels"):
        assert f'href="/-/gallery/cities/{slug}"' in text
    assert f"{LONDON_PHOTOS} photos · 1 demonstration" in text
    assert "Bratislava" not in cities.text                               # its only photo is withheld


# ---------------------------------------------------------------- 404s, links from ids, permissions

@pytest.mark.parametrize("path", [
    "/-/gallery/demonstrations/no-such-march", "/-/gallery/cities/atlantis", "/-/gallery/cities/bratislava",
    "/-/gallery/demonstrations/id/9999", "/-/gallery/cities/id/9999",
    "/-/gallery/feed.atom?demonstration=no-such-march", "/-/gallery/feed.atom?city=atlantis",
])
async def test_unknown_slugs_are_404(gallery, path):
    response = await make_ds(gallery["base"]).client.get(path)
    assert response.status_code == 404


async def test_grid_and_photo_page_link_names_to_the_pages(gallery):
    ds = make_ds(gallery["base"])
    london, march = gallery["cities"]["london"], gallery["demos"][MARCH]
    grid = await ds.client.get(f"/gallery/photos?demonstration_id={march}")
    assert grid.status_code == 200
    assert f'<a href="/-/gallery/cities/id/{london}">London</a>' in grid.text
    assert (f'<a href="/-/gallery/demonstrations/id/{march}">National march for a ceasefire in Gaza '
            "(London, 2024-11-02)</a>") in grid.text
    munich = await ds.client.get(f"/gallery/photos?demonstration_id={gallery['demos']['2024-05-18-munich-rally']}")
    assert "Rally &amp; &lt;march&gt; for Ukraine (Munich, 2024-05-18)</a>" in munich.text
    assert "gallery-card-text em" not in munich.text and "&nbsp;<em>" not in munich.text.split("gallery-grid")[1]
    redirect = await ds.client.get(f"/-/gallery/cities/id/{london}")
    assert redirect.status_code == 302 and redirect.headers["location"] == "/-/gallery/cities/london"
    redirect = await ds.client.get(f"/-/gallery/demonstrations/id/{march}")
    assert redirect.status_code == 302 and redirect.headers["location"] == f"/-/gallery/demonstrations/{MARCH}"
    photo = CARD_HREF.findall(grid.text)[0]
    page = await ds.client.get(photo)
    assert f'<dd><a href="/-/gallery/cities/id/{london}">London</a></dd>' in page.text
    assert f'<dd><a href="/-/gallery/demonstrations/id/{march}">National march for a ceasefire in Gaza</a></dd>' in page.text
    grid_all = await ds.client.get("/gallery/photos")
    assert 'href="/-/gallery/demonstrations">By demonstration</a>' in grid_all.text
    assert '<link rel="alternate" type="application/atom+xml" title="New photos" href="/-/gallery/feed.atom">' in grid_all.text


async def test_pages_respect_a_private_deployment(gallery):
    ds = make_ds(gallery["base"], metadata_extra={"allow": {"id": "root"}})
    for path in ("/-/gallery/demonstrations", f"/-/gallery/demonstrations/{MARCH}", "/-/gallery/cities/london",
                 "/-/gallery/feed.atom"):
        assert (await ds.client.get(path)).status_code == 403, path
    cookies = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
    assert (await ds.client.get(f"/-/gallery/demonstrations/{MARCH}", cookies=cookies)).status_code == 200


async def test_base_url_respected(gallery):
    ds = make_ds(gallery["base"], base_url="/archive/")
    response = await ds.client.get(f"/-/gallery/demonstrations/{MARCH}")  # the client prepends base_url
    assert response.status_code == 200
    html = response.text
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    local = [link for link in links if not link.startswith(("http://", "https://", "#"))]
    assert local and all(link.startswith("/archive/") for link in local), [l for l in local if not l.startswith("/archive/")]
    assert 'href="/archive/-/gallery/cities/london"' in html
    assert 'src="/archive/-/gallery/thumbs/' in html and 'href="/archive/gallery/photos/' in html
    assert 'href="/archive/-/gallery/feed.atom?demonstration=' in html
    assert f'rel="next" href="/archive/-/gallery/demonstrations/{MARCH}?next=' in html
    assert len(await _pages(ds, f"/-/gallery/demonstrations/{MARCH}")) == 2
    for path in ("/-/gallery/demonstrations", "/-/gallery/cities"):
        listing = await ds.client.get(path)
        assert listing.status_code == 200
        assert all(l.startswith("/archive/") for l in re.findall(r'(?:href|src)="(/[^"]*)"', listing.text))
    redirect = await ds.client.get(f"/-/gallery/cities/id/{gallery['cities']['london']}")
    assert redirect.headers["location"] == "/archive/-/gallery/cities/london"
    feed = ET.fromstring((await ds.client.get("/-/gallery/feed.atom")).content)
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link") if not link.get("rel") == "license"]
    assert hrefs and all(h.startswith("http://localhost/archive/") for h in hrefs)


# ---------------------------------------------------------------- the feed

def _check_atom(root: ET.Element) -> list[ET.Element]:
    """RFC 4287's musts for a feed and its entries; returns the entries."""
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{tag}")) == 1, tag
    assert RFC3339.match(root.find(f"{ATOM}updated").text)
    assert urlparse(root.find(f"{ATOM}id").text).scheme in ("http", "https")
    self_links = [l for l in root.findall(f"{ATOM}link") if l.get("rel") == "self"]
    assert len(self_links) == 1 and self_links[0].get("href") == root.find(f"{ATOM}id").text
    feed_author = root.find(f"{ATOM}author/{ATOM}name")
    entries = root.findall(f"{ATOM}entry")
    ids = set()
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
            assert (entry.find(f"{ATOM}{tag}").text or "").strip(), tag
        assert RFC3339.match(entry.find(f"{ATOM}updated").text)
        assert RFC3339.match(entry.find(f"{ATOM}published").text)
        assert entry.find(f"{ATOM}author/{ATOM}name") is not None or feed_author is not None
        alternates = [l for l in entry.findall(f"{ATOM}link") if l.get("rel") in (None, "alternate")]
        assert len(alternates) == 1 and alternates[0].get("type") == "text/html"
        assert urlparse(alternates[0].get("href")).scheme == "http"
        summary = entry.find(f"{ATOM}summary")
        assert summary is not None and summary.get("type") == "html"
        # Named by the rendition token (it dies with the publication), never by the file's sha256.
        assert re.search(r'<img src="http://localhost/-/gallery/thumbs/[0-9a-f]{32}\.jpg" alt="[^"]+">', summary.text)
        assert entry.find(f"{ATOM}rights").text
        ids.add(entry.find(f"{ATOM}id").text)
    assert len(ids) == len(entries)
    return entries


async def test_feed_is_valid_atom_of_the_newest_photos(gallery):
    ds = make_ds(gallery["base"])
    response = await ds.client.get("/-/gallery/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.content)
    entries = _check_atom(root)
    assert len(entries) == 50
    rows = await _public_rows(ds, "")
    newest = sorted(rows, key=lambda r: (r["imported_at"], r["id"]), reverse=True)[:50]
    assert [e.find(f"{ATOM}id").text for e in entries] == [f"http://localhost/gallery/photos/{r['id']}" for r in newest]
    by_id = {r["id"]: r for r in rows}
    for entry in entries:
        photo = by_id[_photo_id(entry.find(f"{ATOM}id").text)]
        links = {l.get("rel"): l.get("href") for l in entry.findall(f"{ATOM}link")}
        assert links["alternate"] == f"http://localhost/gallery/photos/{photo['id']}"
        assert links["license"] == "https://creativecommons.org/licenses/by/4.0/"
        assert links["enclosure"] == f"http://localhost/-/gallery/web/{photo['rendition']}.jpg"
        assert entry.find(f"{ATOM}author/{ATOM}name").text == "Olena Kovalenko"
        assert "is licensed under CC BY 4.0" in entry.find(f"{ATOM}rights").text
        assert photo["rendition"] in entry.find(f"{ATOM}summary").text
        assert photo["sha256"] not in ET.tostring(entry, encoding="unicode")
    titled = [e for e in entries if e.find(f"{ATOM}title").text.startswith("March photo")]
    assert titled and all(e.find(f"{ATOM}summary").text.count('alt="March photo') == 1 for e in titled)
    # The thumbnail and the page the feed points to are served.
    thumb = re.search(r'src="http://localhost(/-/gallery/thumbs/[^"]+)"', entries[0].find(f"{ATOM}summary").text)[1]
    assert (await ds.client.get(thumb)).status_code == 200
    # Unchanged feed: 304 for a reader that sends its ETag.
    again = await ds.client.get("/-/gallery/feed.atom", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("query,kind,slug", [
    (f"demonstration={MARCH}", "demos", MARCH),
    ("city=munich", "cities", "munich"),
    ("demonstration=2025-05-brussels", "demos", "2025-05-brussels"),
])
async def test_feed_filters(gallery, query, kind, slug):
    ds = make_ds(gallery["base"])
    root = ET.fromstring((await ds.client.get(f"/-/gallery/feed.atom?{query}")).content)
    entries = _check_atom(root)
    column = "demonstration_id" if kind == "demos" else "city_id"
    rows = await _public_rows(ds, f"{column}={gallery[kind][slug]}")
    assert {_photo_id(e.find(f"{ATOM}id").text) for e in entries} == {r["id"] for r in sorted(
        rows, key=lambda r: (r["imported_at"], r["id"]), reverse=True)[:50]}
    assert root.find(f"{ATOM}id").text == f"http://localhost/-/gallery/feed.atom?{query}"
    alternate = [l.get("href") for l in root.findall(f"{ATOM}link") if l.get("rel") == "alternate"][0]
    assert alternate == f"http://localhost/-/gallery/{'demonstrations' if kind == 'demos' else 'cities'}/{slug}"


# ---------------------------------------------------------------- withheld photos

async def test_withheld_photos_appear_nowhere(gallery):
    ds = make_ds(gallery["base"])
    texts = []
    for path in (f"/-/gallery/demonstrations/{MARCH}", "/-/gallery/cities/london", "/-/gallery/cities/barcelona"):
        texts += await _pages(ds, path)
    for path in ("/-/gallery/demonstrations", "/-/gallery/cities", "/-/gallery/feed.atom",
                 f"/-/gallery/feed.atom?demonstration={MARCH}", "/-/gallery/feed.atom?city=london",
                 # what the map reads (datasette-cluster-map fetches the table's JSON), and the map's page
                 "/gallery/photos.json?_size=max&_labels=on&_shape=objects", "/gallery/photos?_view=table&_size=max",
                 f"/gallery/photos.json?demonstration_id={gallery['demos'][MARCH]}&_size=max&_labels=on&_shape=objects",
                 "/gallery/cities.json?_shape=objects&_size=max"):
        response = await ds.client.get(path)
        assert response.status_code == 200, path
        texts.append(response.text)
    for photo in gallery["withheld"]:
        for text in texts:
            assert photo["sha256"] not in text and photo["title"] not in text
            assert f"/gallery/photos/{photo['id']}\"" not in text and f"photos/{photo['id']}\"" not in text
    assert "Bratislava" not in texts[-1]  # cities.json: the city of a withheld photo only is not public


# ---------------------------------------------------------------- the map

async def test_cluster_map_is_installed_configured_and_local(gallery):
    ds = make_ds(gallery["base"])
    plugins = {p["name"] for p in (await ds.client.get("/-/plugins.json")).json()}
    assert {"datasette-cluster-map", "datasette-leaflet"} <= plugins
    page = await ds.client.get("/gallery/photos?_view=table")
    html = page.text
    tile_layer = yaml.safe_load((ROOT / "metadata.yml").read_text())["plugins"]["datasette-cluster-map"]["tile_layer"]
    assert f"window.DATASETTE_CLUSTER_MAP_TILE_LAYER = {json.dumps(tile_layer)};" in html
    assert 'window.DATASETTE_CLUSTER_MAP_LATITUDE_COLUMN = "latitude";' in html
    # Every script and stylesheet the page or the map loads is served here, not from a CDN.
    assets = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assets += re.findall(r"(?:JAVASCRIPT_URL|CSS_URL|MARKERCLUSTER_URL|MARKERCLUSTER_CSS_URL): '([^']+)'", html)
    assert any("datasette-cluster-map.js" in a for a in assets) and any("leaflet-v1.7.1.js" in a for a in assets)
    assert any("leaflet.markercluster" in a for a in assets) and any("leaflet-v1.7.1.css" in a for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        response = await ds.client.get(asset.split("?")[0])
        assert response.status_code == 200, asset
        if asset.endswith(".js"):  # nothing the map runs loads code or styles from elsewhere
            assert not re.search(r"""(import\(|fetch\(|src\s*=|rel=.stylesheet.)\s*["']?https?://""", response.text), asset
    marker = await ds.client.get("/-/static-plugins/datasette-leaflet/images/marker-icon.png")
    assert marker.status_code == 200 and marker.headers["content-type"] == "image/png"


async def test_tile_layer_is_configurable(gallery):
    ds = make_ds(gallery["base"], plugins={"datasette-cluster-map": {
        "tile_layer": "http://tiles.internal.example/{z}/{x}/{y}.png",
        "tile_layer_options": {"maxZoom": 17, "attribution": "Our own tiles"}}})
    html = (await ds.client.get("/gallery/photos?_view=table")).text
    assert 'window.DATASETTE_CLUSTER_MAP_TILE_LAYER = "http://tiles.internal.example/{z}/{x}/{y}.png";' in html
    assert '"attribution": "Our own tiles"' in html and "openstreetmap" not in html


@pytest.mark.parametrize("base_url", ["/", "/archive/"])
async def test_map_popups_show_the_thumbnail_and_link_the_photo(gallery, base_url):
    ds = make_ds(gallery["base"], **({"base_url": base_url} if base_url != "/" else {}))
    table = "http://localhost" + base_url + "gallery/photos"  # the page the map runs on
    rows = (await ds.client.get(f"/gallery/photos.json?_size=max&_labels=on&_shape=objects&city_id={gallery['cities']['barcelona']}")).json()["rows"]
    assert len(rows) == 1
    popup = json.loads(rows[0]["popup"])
    assert popup["title"] == popup["alt"] == "VE Day, Barcelona"
    assert popup["description"] == "2025-05-08 · by Olena Kovalenko · CC-BY-4.0"
    image, link = urljoin(table, popup["image"]), urljoin(table, popup["link"])
    assert image == f"http://localhost{base_url}-/gallery/thumbs/{rows[0]['rendition']}.jpg"
    assert link == f"http://localhost{base_url}gallery/photos/{rows[0]['id']}"
    for url in (image, link):
        path = urlparse(url).path
        response = await ds.client.get("/" + path[len(base_url):])
        assert response.status_code == 200, url
    # The city's centre (the default public location), not the photo's own GPS.
    assert (rows[0]["latitude"], rows[0]["longitude"]) != (41.3870, 2.1701)


async def test_empty_feed_filter_is_no_filter(gallery):
    ds = make_ds(gallery["base"])
    root = ET.fromstring((await ds.client.get("/-/gallery/feed.atom?city=&demonstration=")).content)
    assert len(_check_atom(root)) == 50 and root.find(f"{ATOM}id").text == "http://localhost/-/gallery/feed.atom"


@pytest.mark.parametrize("date,words", [
    ("2024-11-02", "2 November 2024"), ("2025-05", "May 2025"), (None, ""), ("2024", "2024"), ("2024-13-01", "2024-13-01"),
])
def test_date_words(date, words):
    from ingest.web.pages import date_words

    assert date_words(date) == words
