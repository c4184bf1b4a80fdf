"""The faces panel in a real browser (Debian's Chromium via Playwright, over `ingest serve`): an
archivist sees the photo unobscured with its boxes drawn over it, adds a box from the keyboard,
removes one and clears the photo; a visitor's page shows the obscured rendition only."""

from __future__ import annotations

import json
import urllib.request

import pytest
from browser_support import MARKS, sample_gallery, shot
from fixtures.crowd import astronaut, save
from PIL import Image

PASSWORD = "correct horse battery"
pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-faces")
    portrait = save(astronaut().resize((900, 900), Image.Resampling.LANCZOS), base / "portrait" / "astronaut.jpg")
    with sample_gallery(base, size=(480, 360), setup=[
            [str(portrait.parent), "--licence", "CC0-1.0", "--publish"],
            ["archivists", "add", "alice", "--password", PASSWORD]]) as url:
        yield url


def _photo(server: str) -> dict:
    with urllib.request.urlopen(f"{server}/gallery/photos.json?_shape=array&original_filename=astronaut.jpg",
                                timeout=10) as r:
        (row,) = json.loads(r.read())
    return row


def test_archivist_corrects_faces_and_visitors_see_them_obscured(server, browser):
    photo = _photo(server)
    visitor = browser.new_page()
    visitor.goto(f"{server}/gallery/photos/{photo['id']}")
    assert visitor.locator("section.gallery-faces").count() == 0
    assert photo["rendition"] in visitor.content()

    page = browser.new_context().new_page()
    page.goto(server + "/-/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server}/gallery/photos/{photo['id']}")
    frame = page.locator(".gallery-faces-frame img")
    frame.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=frame.element_handle())
    box = page.locator(".gallery-face-box").first
    first = box.inner_text().strip()
    image, drawn = frame.bounding_box(), box.bounding_box()
    # The detected box lies over the face: inside the picture, a fifth of it wide or so.
    assert image["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= image["x"] + image["width"]
    assert 0.1 < drawn["width"] / image["width"] < 0.3
    # Add a box from the keyboard alone: the fields are labelled and reachable with Tab.
    page.get_by_label("Left").focus()
    page.keyboard.type("5")
    for value in ("55", "20", "20"):
        page.keyboard.press("Tab")
        page.keyboard.type(value)
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "added." in page.content()
    assert page.locator(".gallery-face-box").count() == 2
    shot(page, "archivist-faces-panel")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Remove box {first}: not a face").click()
    assert f"Box {first} removed." in page.content() and page.locator(".gallery-face-box").count() == 1
    page.get_by_label("Faces may be shown").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save consent").click()
    assert "Faces may be shown." in page.content()
    after = _photo(server)
    assert after["rendition"] != photo["rendition"]  # new public URLs
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(f"{server}/-/gallery/web/{photo['rendition']}.jpg", timeout=10)
    assert gone.value.code == 404
