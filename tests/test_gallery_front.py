"""The journalist's gallery through Datasette's test client, over test_pages' gallery (our own ingest,
a registry, withheld photos): the front page at `/`, the photo browser (search with hostile input,
licence chips, filters in words), and the photo page as a viewer (title, alt, previous / next,
Open Graph, Twitter and schema.org ImageObject)."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlencode

import pytest
from datasette_versions import FACETS, facet_results
from test_pages import CARD_HREF, LONDON_PHOTOS, MARCH, gallery, make_ds  # noqa: F401 (a fixture)
from test_search import HOSTILE

RAW = re.compile(r"allows_commercial|commons_compatible|demonstration_id|city_id|CREATE TABLE|needs_review|licence_id")


@pytest.fixture(scope="module")
def ds(gallery):  # noqa: F811
    return make_ds(gallery["base"])


def hrefs(text: str) -> list[str]:
    return [html.unescape(h) for h in CARD_HREF.findall(text)]


async def test_front_page_is_the_gallery(ds, gallery):  # noqa: F811
    response = await ds.client.get("/")
    assert response.status_code == 200
    text = response.text
    assert text.index('role="search"') < text.index("Latest demonstrations") < text.index("Recent photos")
    assert "National march for a ceasefire in Gaza" in text and "2 November 2024" in text
    assert f"{LONDON_PHOTOS} photos" in text
    assert "Use commercially" in text and "/-/gallery/data" in text and "_view=table" in text
    assert "Secret withheld photo" not in text and "Bratislava" not in text
    assert not RAW.search(text)
    data = await ds.client.get("/-/gallery/data")  # Datasette's index, still there
    assert data.status_code == 200 and "gallery" in data.text
    assert (await ds.client.get("/.json")).status_code == 200


@pytest.mark.parametrize("query", ["ceasefire London", "london ceasefire 2024-11-02", "2 November 2024",
                                   "National march Gaza", "november 2024 london"])
async def test_search_finds_every_photo_of_the_march(ds, query):
    found, path = [], "/-/gallery/photos?" + urlencode({"q": query})
    while path:
        response = await ds.client.get(path)
        assert response.status_code == 200
        found += hrefs(response.text)
        more = re.search(r'<a rel="next" href="([^"]+)"', response.text)
        path = html.unescape(more[1]) if more else None
    assert len({h.split("?")[0] for h in found}) == LONDON_PHOTOS, query
    assert all("Secret" not in h for h in found)


@pytest.mark.parametrize("query", HOSTILE + ["ceasefire \"london", "(ceasefire", "ceasefire)", "london*", "-london"])
async def test_any_search_answers_a_page(ds, query):
    response = await ds.client.get("/-/gallery/photos?" + urlencode({"q": query}))
    assert response.status_code == 200, query
    assert hrefs(response.text) or "No photos match" in response.text
    assert "Secret withheld photo" not in response.text


async def test_nonsense_filters_are_ignored_not_errors(ds):
    for query in ("page=abc", "page=-1", "page=99999999", "year=x", "from=yesterday", "use=everything",
                  "sort=;drop", "city=../../etc", "demonstration=%00", "q=%ff%fe", "year=%C2%B2", "page=%C2%B2",
                  "year=99999999999999999999", "to=2024-%C2%B2"):
        response = await ds.client.get(f"/-/gallery/photos?{query}")
        assert response.status_code == 200, query
    nothing = await ds.client.get("/-/gallery/photos?q=zqxwvy")
    assert nothing.status_code == 200 and "No photos match" in nothing.text


async def test_licence_chips_and_filters_in_words(ds, gallery):  # noqa: F811
    everything = await ds.client.get("/-/gallery/photos")
    text = everything.text
    for label in ("Use commercially", "Modify or adapt", "Commons-compatible", "Public domain / CC0",
                  "Demonstration", "City", "Year", "Photographer", "Taken from", "Taken until", "Sort"):
        assert label in text, label
    assert not RAW.search(text.split('class="gallery-data-links"')[0])
    assert 'aria-pressed="false"' in text
    # CC BY 4.0 allows commercial use: the chip keeps every photo; public domain keeps none
    commercial = await ds.client.get("/-/gallery/photos?use=commercial&q=ceasefire")
    assert 'aria-pressed="true"' in commercial.text and len(hrefs(commercial.text)) == 48
    assert "No photos match" in (await ds.client.get("/-/gallery/photos?use=pd")).text
    london = await ds.client.get("/-/gallery/photos?city=london&year=2024&sort=oldest")
    assert "London (GB)" in london.text and len(hrefs(london.text)) == 48
    munich = await ds.client.get("/-/gallery/photos?demonstration=2024-05-18-munich-rally")
    assert len(hrefs(munich.text)) == 2
    ranged = await ds.client.get("/-/gallery/photos?from=2025-01-01&to=2025-12-31")
    assert len(hrefs(ranged.text)) == 1  # VE Day in Barcelona


async def test_viewer_title_alt_neighbours_and_previews(ds):
    results = await ds.client.get("/-/gallery/photos?" + urlencode({"q": "ceasefire london", "sort": "oldest"}))
    first, second = hrefs(results.text)[:2]
    page = await ds.client.get(second)
    text = page.text
    assert page.status_code == 200
    title = re.search(r"<title>(.*?)</title>", text)[1]
    h1 = re.search(r'<h1 class="viewer-title">(.*?)</h1>', text)[1]
    assert title.startswith(h1) and h1 != "gallery: photos" and ("March photo" in h1 or "2 November 2024" in h1)
    assert f'rel="prev" href="{first}"' in html.unescape(text)
    assert 'data-key="ArrowRight"' in text and "Full screen" in text and "2 of 65" in text
    alt = re.search(r'<figure class="photo-figure">\s*<img [^>]*alt="([^"]*)"', text)[1]
    assert alt and not re.fullmatch(r"Photo \d+", alt)
    for tag in ("og:title", "og:image", "og:description", "og:license", "twitter:card", "twitter:image"):
        assert f'property="{tag}"' in text or f'name="{tag}"' in text, tag
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', text, re.DOTALL)[1])
    assert ld["@type"] == "ImageObject" and ld["license"] == "https://creativecommons.org/licenses/by/4.0/"
    for key in ("acquireLicensePage", "creditText", "creator", "copyrightNotice", "contentUrl"):
        assert ld[key], key
    assert ld["creator"]["name"] == "Olena Kovalenko" and "Olena Kovalenko" in ld["creditText"]


async def test_viewer_without_a_set_steps_through_the_demonstration(ds, gallery):  # noqa: F811
    march = await ds.client.get(f"/-/gallery/demonstrations/{MARCH}")
    first, second = (h for h in hrefs(march.text)[:2])
    text = (await ds.client.get(first)).text
    assert "Previous" not in text.split('class="viewer-nav"')[1].split("</nav>")[0]
    assert f'rel="next" href="{second}"' in text
    withheld = gallery["withheld"][0]["id"]
    assert (await ds.client.get(f"/gallery/photos/{withheld}")).status_code == 404


async def test_download_selected_names_the_zip_route(ds):
    text = (await ds.client.get("/-/gallery/photos?q=ceasefire")).text
    assert 'id="download-selected"' in text and 'form="download-selected"' in text
    ids = re.findall(r'name="id" value="(\d+)"', text)[:3]
    response = await ds.client.get("/-/gallery/download.zip?size=web&" + "&".join(f"id={i}" for i in ids))
    assert response.status_code == 200 and response.content[:2] == b"PK"


async def test_datasette_grid_speaks_words_and_hides_the_schema(ds):
    text = (await ds.client.get("/gallery/photos")).text
    names = re.findall(r'<p class="facet-info-name"><strong>(.*?)</strong>', text)
    assert names[:4] == ["Demonstration", "City", "Year", "Licence"] and "Use commercially" in names
    assert "CREATE TABLE" not in text and "CREATE INDEX" not in text
    assert '">Yes</a>' in text and "/-/gallery/photos" in text  # the way to the photo browser
    other = (await ds.client.get("/gallery/licences")).text  # any other table: Datasette's own facets
    assert "CREATE TABLE" in other


async def test_canned_queries_show_thumbnails_that_link_to_the_photo(ds):
    text = (await ds.client.get("/gallery/free_for_commercial_use")).text
    cell = re.search(r'<td class="col-photo">(.*?)</td>', text, re.S)[1]
    assert re.match(r'<a href="/gallery/photos/\d+"><img class="gallery-thumb"', cell) and 'alt="' in cell


@pytest.mark.parametrize("query", ["sort=newest", "sort=oldest", "sort=added", "q=march", "q=march&sort=oldest",
                                   "city=london&year=2024", "use=commercial&sort=oldest"])
async def test_previous_and_next_follow_the_set_the_visitor_came_from(ds, query):
    shown = hrefs((await ds.client.get(f"/-/gallery/photos?{query}")).text)
    assert len(shown) >= 6
    for i in (0, 1, 2, len(shown) - 2):
        text = html.unescape((await ds.client.get(shown[i])).text)
        assert f'rel="next" href="{shown[i + 1]}"' in text, (query, i)
        if i:
            assert f'rel="prev" href="{shown[i - 1]}"' in text, (query, i)
        else:
            assert 'rel="prev"' not in text
        assert f"{i + 1} of " in text


async def test_facet_counts_are_cached_until_the_public_copy_changes(gallery, tmp_path):  # noqa: F811
    import shutil
    import sqlite3

    from ingest.web import cache, serving

    base = tmp_path / "g"
    shutil.copytree(gallery["base"], base, ignore=shutil.ignore_patterns("photos"))
    fresh = make_ds(base)
    london = gallery["cities"]["london"]

    async def counts() -> dict:
        found = facet_results((await fresh.client.get(f"/gallery/photos.json?_size=0&{FACETS}")).json())
        return {str(v["value"]): v["count"] for v in found["city_id"]["results"]}

    before = await counts()
    entries = len(cache._entries[fresh])
    assert await counts() == before and len(cache._entries[fresh]) == entries  # the same page: counted once
    conn = sqlite3.connect(base / "gallery.db")
    conn.execute("UPDATE photos SET withheld = 1 WHERE id = (SELECT min(id) FROM photos WHERE city_id = ? "
                 "AND withheld = 0)", [london])
    conn.commit()
    conn.close()
    await fresh.client.get("/")  # started
    serving.refresh_now(fresh)
    after = await counts()
    assert after[str(london)] == before[str(london)] - 1
    front = (await fresh.client.get("/")).text
    assert f"{LONDON_PHOTOS - 1} photos" in front  # the front page's cached counts followed too


async def test_previous_and_next_with_undated_photos(gallery, tmp_path):  # noqa: F811
    import shutil
    import sqlite3

    base = tmp_path / "g"
    shutil.copytree(gallery["base"], base, ignore=shutil.ignore_patterns("photos"))
    conn = sqlite3.connect(base / "gallery.db")
    conn.execute("UPDATE photos SET taken_at = NULL, date = NULL, year = NULL WHERE id IN "
                 "(SELECT id FROM photos WHERE withheld = 0 ORDER BY id LIMIT 3)")
    conn.commit()
    conn.close()
    fresh = make_ds(base)
    for query in ("sort=oldest", "sort=newest&page=2"):
        shown = hrefs((await fresh.client.get(f"/-/gallery/photos?{query}")).text)
        assert len(shown) >= 6, query
        for i in range(len(shown) - 1):
            text = html.unescape((await fresh.client.get(shown[i])).text)
            assert f'rel="next" href="{shown[i + 1]}"' in text, (query, i)
            if i:
                assert f'rel="prev" href="{shown[i - 1]}"' in text, (query, i)
