"""The Datasette plugin, through Datasette's own test client, over a gallery built by our ingest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from accounts_support import archivist_cookies
from datasette.app import Datasette
from datasette_versions import DATASETTE_1, csrf_cookies, databases_list, facet_results, sql_path
from fixtures.synth import make_photo

from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("gallery")
    photos = base / "photos"
    make_photo(photos / "march.jpg", width=1200, height=900, seed=1,
               exif={"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00",
                     "Artist": "Olena Kovalenko", "GPSLatitude": 51.5045, "GPSLongitude": -0.1263},
               xmp={"dc:title": "Ceasefire march", "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"})
    make_photo(photos / "IMG_20240518_120000.jpg", width=800, height=600, seed=2)
    db = connect(base / "gallery.db")
    summary = run_ingest(db, Store(base / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
    assert summary.imported == 2
    # The names in the photos' public image URLs (their rendition tokens), the 1200 px one first.
    shas = [r[0] for r in db.execute("SELECT rendition FROM photos ORDER BY width DESC")]
    db.conn.close()
    return base, shas


def make_ds(base: Path, **settings) -> Datasette:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    return Datasette([str(base / "gallery.db")], settings=settings or None, **datasette_options(metadata))


async def test_plugin_installed(gallery):
    response = await make_ds(gallery[0]).client.get("/-/plugins.json")
    plugins = {p["name"]: p for p in response.json()}
    assert "demonstration-photo-archive" in plugins
    assert plugins["demonstration-photo-archive"]["static"] and plugins["demonstration-photo-archive"]["templates"]
    permission_hook = "permission_resources_sql" if DATASETTE_1 else "permission_allowed"
    assert {"register_routes", "render_cell", permission_hook} <= set(plugins["demonstration-photo-archive"]["hooks"])


async def test_static_css_served_and_linked(gallery):
    ds = make_ds(gallery[0])
    css = await ds.client.get("/-/static-plugins/demonstration-photo-archive/gallery.css")
    assert css.status_code == 200 and "gallery-thumb" in css.text
    page = await ds.client.get("/gallery/photos")
    assert page.status_code == 200
    assert "/-/static-plugins/demonstration-photo-archive/gallery.css" in page.text


async def test_photos_table_shows_thumbnails(gallery):
    base, shas = gallery
    page = await make_ds(base).client.get("/gallery/photos")
    for sha in shas:
        assert f'src="/-/gallery/thumbs/{sha}.jpg"' in page.text


@pytest.mark.parametrize("kind,size", [("thumbs", 400), ("web", 1200)])
async def test_image_routes(gallery, kind, size):
    base, shas = gallery
    ds = make_ds(base)
    response = await ds.client.get(f"/-/gallery/{kind}/{shas[0]}.jpg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "immutable" in response.headers["cache-control"]
    from io import BytesIO

    from PIL import Image

    assert max(Image.open(BytesIO(response.content)).size) == size
    again = await ds.client.get(f"/-/gallery/{kind}/{shas[0]}.jpg", headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", [
    "/-/gallery/thumbs/" + "0" * 64 + ".jpg",       # unknown hash
    "/-/gallery/thumbs/..%2f..%2fgallery.db.jpg",  # traversal
    "/-/gallery/originals/" + "0" * 64 + ".jpg",    # not a derivative kind
    "/-/gallery/web/abc.jpg",                       # not a hash
    "/-/gallery/web/" + "0" * 32 + ".jpg",          # no photo's rendition token
])
async def test_image_routes_refuse(gallery, path):
    response = await make_ds(gallery[0]).client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize("path", [
    "/catalogue", "/catalogue/photos", "/catalogue/photo_sources.json", "/catalogue/metadata.json",
    "/catalogue/problems", "/catalogue.json?sql=select+path+from+photo_sources", "/catalogue?sql=select+1",
    "/catalogue/-/query.json?sql=select+path+from+photo_sources", "/catalogue/-/query?sql=select+1",
    "/catalogue.db",
])
async def test_catalogue_refused_to_anonymous(gallery, path):
    response = await make_ds(gallery[0]).client.get(path)
    assert response.status_code == 403


@pytest.mark.parametrize("path", [
    "/gallery/photo_sources", "/gallery/photo_sources.json", "/gallery/metadata.json", "/gallery/problems",
    "/gallery/corrections", "/gallery/settings", "/gallery/retag_queue", "/gallery/verify_runs",
])
async def test_private_tables_are_not_in_the_public_copy(gallery, path):
    response = await make_ds(gallery[0]).client.get(path)
    assert response.status_code == 404


async def test_sql_over_public_data_works_for_anonymous_visitors(gallery):
    response = await make_ds(gallery[0]).client.get(
        sql_path("gallery", ".json") + "?sql=select+count(*)+as+n,+min(licence_id)+as+l+from+photos&_shape=array")
    assert response.status_code == 200
    assert response.json() == [{"n": 2, "l": "CC-BY-4.0"}]
    denied = await make_ds(gallery[0]).client.get(sql_path("gallery", ".json") + "?sql=select+path+from+photo_sources")
    assert denied.status_code == 400 and "no such table" in denied.text


async def test_archivist_opens_the_catalogue(gallery, tmp_path):
    """Only a signed-in archivist: never an id alone, nor Datasette's --root."""
    import shutil

    from ingest.catalogue.accounts import add_archivist

    base = tmp_path / "site"
    shutil.copytree(gallery[0], base)
    db = connect(base / "gallery.db")
    add_archivist(db, "olena", "a long enough password")
    db.conn.close()
    ds = make_ds(base)
    root = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
    assert (await ds.client.get("/catalogue/photo_sources.json?_shape=array", cookies=root)).status_code == 403
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    signed = await ds.client.post("/-/login", cookies=csrf_cookies(page), data={
        "username": "olena", "password": "a long enough password", "csrftoken": token})
    assert signed.status_code == 302
    cookies = {**csrf_cookies(page), "ds_actor": signed.cookies["ds_actor"]}
    response = await ds.client.get("/catalogue/photo_sources.json?_shape=array", cookies=cookies)
    assert response.status_code == 200 and len(response.json()) == 2


async def test_no_source_paths_in_public_json(gallery):
    base, _ = gallery
    response = await make_ds(base).client.get("/gallery/photos.json?_shape=array")
    assert response.status_code == 200
    assert str(base) not in response.text
    rows = response.json()
    assert {r["licence_id"] for r in rows} == {"CC-BY-SA-4.0", "CC-BY-4.0"}


async def test_base_url_respected(gallery):
    base, shas = gallery
    ds = make_ds(base, base_url="/archive/")
    page = await ds.client.get("/gallery/photos")  # the client prepends base_url
    assert page.status_code == 200
    assert f'src="/archive/-/gallery/thumbs/{shas[0]}.jpg"' in page.text
    assert "/archive/-/static-plugins/demonstration-photo-archive/gallery.css" in page.text
    image = await ds.client.get(f"/-/gallery/thumbs/{shas[0]}.jpg")
    assert image.status_code == 200


async def test_search(gallery):
    response = await make_ds(gallery[0]).client.get("/gallery/photos.json?_search=ceasefire&_shape=array")
    assert [r["title"] for r in response.json()] == ["Ceasefire march"]


async def test_download_carries_licence_and_credit(gallery):
    from ingest.importer.read.xmp import read_xmp

    base, shas = gallery
    ds = make_ds(base)
    photo_id = (await ds.client.get("/gallery/photos.json?_shape=array&title=Ceasefire+march")).json()[0]["id"]
    for size in ("original", "web"):
        response = await ds.client.get(f"/-/gallery/download/{photo_id}?size={size}")
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        assert "attachment" in response.headers["content-disposition"]
        xmp = read_xmp(response.content)
        assert xmp["cc:license"] == "https://creativecommons.org/licenses/by-sa/4.0/"
        assert xmp["dc:creator"] == ["Olena Kovalenko"]
        assert xmp["cc:attributionURL"].endswith(f"/gallery/photos/{photo_id}")
        assert "Demonstration photo archive" in xmp["photoshop:Credit"]
        assert b"GPS" not in response.content


async def test_download_zip_with_credits(gallery):
    import io
    import zipfile

    response = await make_ds(gallery[0]).client.get("/-/gallery/download.zip?id=1&id=2&size=web")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        assert len(z.namelist()) == 3 and "is licensed under CC BY" in z.read("CREDITS.txt").decode()


@pytest.mark.parametrize("path,status", [
    ("/-/gallery/download/999", 404), ("/-/gallery/download/1?size=huge", 400),
    ("/-/gallery/download.zip", 400), ("/-/gallery/download.zip?id=1&id=x", 400),
])
async def test_download_refusals(gallery, path, status):
    assert (await make_ds(gallery[0]).client.get(path)).status_code == status


async def test_withheld_photo_cannot_be_downloaded(tmp_path):
    photos = tmp_path / "photos"
    make_photo(photos / "a.jpg", width=300, height=200, seed=9)
    db = connect(tmp_path / "gallery.db")
    run_ingest(db, Store(tmp_path / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
    db.conn.execute("UPDATE photos SET withheld = 1")
    db.conn.close()
    ds = make_ds(tmp_path)
    assert (await ds.client.get("/-/gallery/download/1")).status_code == 404
    assert (await ds.client.get("/-/gallery/download.zip?id=1")).status_code == 404


async def test_photos_table_is_a_grid_of_cards(gallery):
    base, shas = gallery
    ds = make_ds(base)
    page = await ds.client.get("/gallery/photos")
    assert page.status_code == 200
    html = page.text
    assert '<ul class="gallery-grid">' in html and html.count('class="gallery-card"') == 2
    assert 'alt="Ceasefire march"' in html and 'alt="Photo ' in html      # alt text from the title, else a name
    assert f'src="/-/gallery/thumbs/{shas[0]}.jpg"' in html
    flat = " ".join(html.split())
    assert '<span class="licence-badge licence-free" title="CC-BY-SA-4.0">CC BY-SA 4.0</span>' in flat
    assert '<span class="licence-badge licence-free" title="CC-BY-4.0">CC BY 4.0</span>' in flat
    assert 'href="/gallery/photos/' in html
    # Datasette's own parts are all still there around the grid.
    assert "This data as" in html and ".json" in html and ".csv" in html
    assert 'class="facet-info' in html or "facet-results" in html
    table = await ds.client.get("/gallery/photos?_view=table")
    assert 'class="rows-and-columns"' in table.text and "gallery-grid" not in table.text
    narrow = await ds.client.get("/gallery/photos?_col=title")   # without the thumbnail column: the table
    assert "gallery-grid" not in narrow.text
    empty = await ds.client.get("/gallery/photos?title=nothing-like-this")
    assert "0 photos" in empty.text or "0 rows" in empty.text


async def test_grid_respects_base_url(gallery):
    base, shas = gallery
    page = await make_ds(base, base_url="/archive/").client.get("/gallery/photos")
    assert f'src="/archive/-/gallery/thumbs/{shas[0]}.jpg"' in page.text
    assert 'href="/archive/gallery/photos/' in page.text


async def test_photo_page_has_picture_tags_licence_credit_and_downloads(gallery):
    import html as html_lib

    base, shas = gallery
    ds = make_ds(base)
    photo_id = (await ds.client.get("/gallery/photos.json?_shape=array&title=Ceasefire+march")).json()[0]["id"]
    page = await ds.client.get(f"/gallery/photos/{photo_id}")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert f'src="/-/gallery/web/{shas[0]}.jpg" alt="Ceasefire march"' in text
    assert '<a href="/gallery/photos?date=2024-11-02">2024-11-02</a>' in text
    assert '<a href="/gallery/photos?creator=Olena%20Kovalenko">Olena Kovalenko</a>' in text
    assert '<a rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">' in text
    assert "Free to share and reuse, also commercially." in text
    assert "Adaptations must be shared under the same licence." in text
    credit = html_lib.unescape(text)
    assert "“Ceasefire march” by Olena Kovalenko, from Demonstration photo archive, is licensed under CC BY-SA 4.0" in credit
    assert f"Source: /gallery/photos/{photo_id}" in credit  # this page; root-relative without a public-url
    for kind in ("text", "html", "markdown"):
        assert f'id="credit-{kind}"' in text and f'data-copy="credit-{kind}"' in text
    assert f'href="/-/gallery/download/{photo_id}?size=web"' in text
    assert f'href="/-/gallery/download/{photo_id}?size=original"' in text
    assert "gallery.js" in text
    js = await ds.client.get("/-/static-plugins/demonstration-photo-archive/gallery.js")
    assert js.status_code == 200 and "clipboard" in js.text


async def test_photo_page_without_licence_says_so(gallery):
    base, _ = gallery
    ds = make_ds(base)
    row = (await ds.client.get("/gallery/photos.json?_shape=array&title__isnull=1")).json()[0]
    page = await ds.client.get(f"/gallery/photos/{row['id']}")
    assert page.status_code == 200
    assert ("No licence is stated" in page.text) == (row["licence_id"] is None)


@pytest.mark.parametrize("query,params", [
    ("free_for_commercial_use", ""), ("commons_compatible", ""),
    ("photos_of_a_demonstration", "?name=march&date="),
])
async def test_canned_queries_work_for_anonymous_visitors(gallery, query, params):
    response = await make_ds(gallery[0]).client.get(f"/gallery/{query}.json{params}{'&' if params else '?'}_shape=array")
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list)
    if query in ("free_for_commercial_use", "commons_compatible"):
        assert {r["licence_id"] for r in rows} == {"CC-BY-SA-4.0", "CC-BY-4.0"}


async def test_archivists_query_is_for_archivists_only(gallery):
    """"Needs review" is an archivists' query: anonymous visitors neither see it listed nor run it."""
    from accounts_support import archivist_cookies
    ds = make_ds(gallery[0])
    assert (await ds.client.get("/gallery/needs_review.json?_shape=array")).status_code == 403
    assert "Needs review" not in (await ds.client.get("/gallery")).text  # not listed among the queries
    cookies = archivist_cookies(ds, gallery[0] / "gallery.db")
    response = await ds.client.get("/gallery/needs_review.json?_shape=array", cookies=cookies)
    assert response.status_code == 200 and isinstance(response.json(), list)


async def test_visitors_read_no_column_names_archivists_keep_the_pickers(gallery):
    """Issue 14: Datasette's filter and sort pickers and its "sorted by taken_at" are for archivists;
    a visitor's page has the search box, facets in words and the way to the photo browser."""
    from accounts_support import archivist_cookies
    ds = make_ds(gallery[0])
    url = "/gallery/photos?_sort_desc=taken_at&year=2024"
    page = (await ds.client.get(url)).text
    assert "<option>taken_at</option>" not in page and "sorted by taken_at" not in page
    assert "licence_id" not in page.split("</style>")[-1].split("column-descriptions")[0]  # the visible text
    assert 'name="_search"' in page and "/-/gallery/photos" in page
    archivist = (await ds.client.get(url, cookies=archivist_cookies(ds, gallery[0] / "gallery.db"))).text
    assert "<option>taken_at</option>" in archivist and "sorted by taken_at" in archivist


@pytest.mark.parametrize("path", ["/gallery/photos", "/gallery", "/-/gallery/data", "/-/gallery/photos", "/"])
async def test_every_page_says_its_language_without_javascript(gallery, path):
    response = await make_ds(gallery[0]).client.get(path)
    assert response.status_code == 200
    assert '<html lang="en">' in response.text[:600] and "<html>" not in response.text[:600]
    if "content-length" in response.headers:
        assert int(response.headers["content-length"]) == len(response.content)


async def test_year_facet(gallery):
    response = await make_ds(gallery[0]).client.get("/gallery/photos.json?_facet=year&_size=0")
    years = {r["value"]: r["count"] for r in facet_results(response.json())["year"]["results"]}
    assert years == {2024: 2}


async def test_next_page_link_skips_facets_once(gallery):
    ds = make_ds(gallery[0])
    page = await ds.client.get("/gallery/photos?_size=1")
    link = re.search(r'<a href="([^"]*)">Next page</a>', page.text).group(1).replace("&amp;", "&")
    assert link.count("_nofacet=1") == 1 and "_next=" in link
    second = await ds.client.get(link.split("localhost", 1)[-1])
    assert 'class="facet-info ' in page.text
    assert second.status_code == 200 and 'class="facet-info ' not in second.text
    first = await ds.client.get("/gallery/photos?_size=1&_facet=creator")
    assert re.search(r'<a href="([^"]*)">Next page</a>', first.text).group(1).count("_nofacet") == 0


async def test_databases_list_names_no_paths(gallery):
    ds = make_ds(gallery[0])
    listed = databases_list((await ds.client.get("/-/databases.json")).json())
    assert [d["name"] for d in listed] == ["gallery"]  # the catalogue is not the visitor's to open
    assert "path" not in listed[0] and str(gallery[0]) not in str(listed)
    archivist = archivist_cookies(ds, gallery[0] / "gallery.db")
    names = {d["name"] for d in databases_list((await ds.client.get("/-/databases.json", cookies=archivist)).json())}
    assert names == {"gallery", "catalogue"}


async def test_no_answer_is_kept_longer_than_default_cache_ttl(gallery):
    """?_ttl= may shorten Datasette's max-age, never lengthen it: nobody can make a shared cache keep
    a page that names a photo after its withdrawal. Only a rendition token's image is immutable."""
    base, tokens = gallery
    ds = make_ds(base)
    for url in ("/gallery/photos.json?_ttl=31536000", "/gallery/photos?_ttl=31536000", "/gallery/photos.json"):
        assert (await ds.client.get(url)).headers["cache-control"] == "private, max-age=5", url
    assert (await ds.client.get("/gallery/photos.json?_ttl=0")).headers["cache-control"] == "private, no-cache"
    feed = await ds.client.get("/-/gallery/feed.atom")
    assert feed.headers["cache-control"] == "private, no-store"  # no public address: built from the request
    image = await ds.client.get(f"/-/gallery/thumbs/{tokens[0]}.jpg")
    assert image.headers["cache-control"] == "public, max-age=86400, immutable"
