"""A journalist's visit in a real browser: Debian's Chromium driven by Playwright, over a real server.

Find one demonstration's photos, narrow to those free for commercial use, open one, copy its credit
line, and download the original: the file must carry its licence. Screenshots of the main pages are
saved under test-artifacts/ for people to look at.
"""

from __future__ import annotations

import pytest
from browser_support import MARKS, sample_gallery, shot
from datasette_versions import DATASETTE_1

from ingest.importer.read.xmp import read_xmp

pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sample_gallery(tmp_path_factory.mktemp("browser")) as url:
        yield url


def test_journalist_finds_filters_credits_and_downloads(server, browser, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.goto(server + "/gallery/photos")
    cards = page.locator(".gallery-card")
    assert cards.count() == 26
    shot(page, "gallery-grid")

    # One demonstration, from its facet.
    with page.expect_navigation():
        page.locator(".facet-info a", has_text="National march for a ceasefire in Gaza (London, 2024-11-02)").first.click()
    assert "demonstration_id=" in page.url
    assert cards.count() == 4

    # Only photos free for commercial use.
    page.goto(server + "/gallery/photos?allows_commercial=1")
    free = cards.count()
    assert 0 < free < 26
    assert page.locator(".licence-restricted").count() == 0

    # Search.
    page.goto(server + "/gallery/photos")
    page.fill("input#_search", "Kundgebung")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "_search=Kundgebung" in page.url
    assert cards.count() == 1

    # Open the photo (keyboard: Enter on the focused card link).
    page.locator(".gallery-card-image").first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".photo-figure img").is_visible()
    shot(page, "photo-page")
    assert "by Zoë Müller" in page.input_value("#credit-text")
    assert "CC BY-NC-SA 4.0" in page.input_value("#credit-text")

    # Copy the credit line.
    page.click("button[data-copy=credit-text]")
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value("#credit-text")

    # Download the original: it carries its licence and creator.
    with page.expect_download() as info:
        page.click("text=Download original")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    xmp = read_xmp(path.read_bytes())
    assert xmp["cc:license"] == "https://creativecommons.org/licenses/by-nc-sa/4.0/"
    assert xmp["dc:creator"] == ["Zoë Müller"]
    context.close()


def test_anonymous_visitor_cannot_open_the_catalogue_or_find_private_tables(server, browser):
    page = browser.new_page()
    for path in ("/catalogue?sql=select+path+from+photo_sources", "/catalogue/photo_sources", "/catalogue"):
        response = page.goto(server + path)
        assert response.status == 403, path
    for path in ("/gallery/photo_sources", "/gallery/metadata"):
        assert page.goto(server + path).status == 404, path
    response = page.goto(server + "/gallery?sql=select+path+from+photo_sources")
    # Datasette 1.0 shows a query's error on its page with status 200; 0.65 answers 400.
    assert response.status == (200 if DATASETTE_1 else 400) and "no such table" in page.content()
    page.close()


def test_gallery_is_readable_on_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(server + "/gallery/photos")
    first, second = (page.locator(".gallery-card").nth(i).bounding_box() for i in (0, 1))
    assert first["width"] > 150 and abs(second["y"] - first["y"]) < 2  # two photos a row (issue 14), not a squeezed table
    assert page.locator("dl.column-descriptions").is_hidden()  # the column notes do not push the photos down
    assert page.locator(".facet-results").is_hidden()  # the facets fold away...
    page.locator("details.gallery-facets > summary").click()
    assert page.locator(".facet-results").is_visible()  # ...and open with one tap
    assert first["y"] < 844 * 1.5, first  # the first photo is near the top, not screens below the facets
    shot(page, "gallery-phone")
    context.close()
