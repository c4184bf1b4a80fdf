"""The demonstration pages and the map in a real browser: Debian's Chromium driven by Playwright, over
a real server (the samples, imported with the registry, served by `ingest serve`).

From the list of demonstrations to one march by keyboard, its photos, then its map; a one-photo map's
marker opens a popup with the thumbnail and a link to the photo. Requests that would leave this
machine are refused and recorded: only map tiles may ask to (Leaflet and its clusters are served
here). Screenshots at desktop and phone widths go to test-artifacts/.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import yaml
from browser_support import MARKS, ROOT, sample_gallery, shot

MARCH = "2024-11-02-london-ceasefire-gaza"

pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sample_gallery(tmp_path_factory.mktemp("browser-pages")) as url:
        yield url


def _local_only(context, server: str, outside: list[str]) -> None:
    """Requests for this server go through; any other is refused, and noted."""
    def handle(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()
    context.route("**/*", handle)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_demonstration_page_and_its_map(server, browser, device):
    size = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}[device]
    context = browser.new_context(viewport=size, is_mobile=device == "phone", has_touch=device == "phone")
    outside: list[str] = []
    _local_only(context, server, outside)
    page = context.new_page()

    page.goto(server + "/-/gallery/demonstrations")
    assert page.locator("h1").inner_text() == "Demonstrations"
    shot(page, f"demonstrations-{device}")

    # Open the march by keyboard.
    link = page.locator(f'a[href="/-/gallery/demonstrations/{MARCH}"]')
    link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{server}/-/gallery/demonstrations/{MARCH}"
    assert page.locator("h1").inner_text() == "National march for a ceasefire in Gaza"
    assert "2 November 2024" in page.locator(".gallery-facts").inner_text()
    cards = page.locator(".gallery-card")
    assert cards.count() == 4
    for i in range(4):  # every thumbnail loaded, with alt text
        img = cards.nth(i).locator("img")
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        assert img.get_attribute("alt")
    if device == "phone":
        first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
        assert first["width"] > 150 and abs(second["y"] - first["y"]) < 2  # two a row (issue 14), readable
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]  # nothing runs off the side
    shot(page, f"demonstration-{device}")

    # Its city, from the facts, and back to the march from the city's list.
    with page.expect_navigation():
        page.locator(".gallery-facts a", has_text="London").click()
    assert page.locator("h1").inner_text().startswith("London")
    assert page.locator(".gallery-demonstrations li").count() >= 5
    shot(page, f"city-{device}")
    with page.expect_navigation():
        page.locator(f'.gallery-demonstrations a[href="/-/gallery/demonstrations/{MARCH}"]').click()

    # Its map: Datasette's table of the same photos, with the cluster map above it.
    with page.expect_navigation():
        page.click("text=Table and map")
    page.wait_for_selector(".leaflet-container .marker-cluster, .leaflet-container .leaflet-marker-icon", timeout=15000)
    assert "4" in page.locator(".marker-cluster").first.inner_text()  # the four photos, at London's centre
    shot(page, f"demonstration-map-{device}")

    # A one-photo map: its marker opens a popup with the thumbnail, linking to the photo.
    page.goto(server + "/-/gallery/demonstrations/2025-05-barcelona-ve-day")
    with page.expect_navigation():
        page.click("text=Table and map")
    marker = page.wait_for_selector(".leaflet-marker-icon", timeout=15000)
    page.wait_for_function("m => m.complete && m.naturalWidth > 0", arg=marker)  # Leaflet's icon, served here
    marker.click()
    popup = page.wait_for_selector(".leaflet-popup-content img", timeout=5000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=popup)
    assert popup.get_attribute("alt") == "VE Day, Barcelona"
    target = page.evaluate("a => a.href", page.locator(".leaflet-popup-content a").first.element_handle())
    assert urlparse(target).path.startswith("/gallery/photos/")
    shot(page, f"map-popup-{device}")
    with page.expect_navigation():
        page.locator(".leaflet-popup-content a").first.click()
    assert page.url == target
    assert page.locator(".photo-figure img").is_visible()

    # Nothing but map tiles tried to leave the machine (none of the map's code or styles).
    tiles = yaml.safe_load((ROOT / "metadata.yml").read_text())["plugins"]["datasette-cluster-map"]["tile_layer"]
    assert outside, "the map asked for no tiles"
    assert all(urlparse(u).hostname == urlparse(tiles).hostname and u.endswith(".png") for u in outside), outside
    context.close()
