"""The journalist's whole journey in a real Chromium, over the sample photos served by `ingest serve`:
from `/`, search "ceasefire London", narrow to "Use commercially", open a photo, step to the next
with the arrow key, copy the credit line, download all photos of the demonstration and read the
ZIP's credits. Then axe-core (tests/node, from npm; .ci/run installs it) over every public page,
desktop and 390 px phone: no critical or serious violation. Screenshots go to test-artifacts/."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, AXE, MARKS, axe_problems, sample_gallery, tab_to

pytestmark = MARKS
SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
SCHEMES = {"desktop": ("desktop", "light"), "phone": ("phone", "light"), "phone-dark": ("phone", "dark")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sample_gallery(tmp_path_factory.mktemp("journey")) as url:
        yield url


def test_journey_from_the_front_page_to_the_credits(browser, server):
    page = browser.new_page(viewport=SIZES["desktop"], accept_downloads=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.goto(server + "/")
    page.get_by_label("Search photos").fill("ceasefire London")
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/gallery/photos?q=ceasefire*")
    assert page.locator(".gallery-card").count() > 0
    page.get_by_role("button", name="Use commercially").click()
    page.wait_for_url("**use=commercial*")
    cards = page.locator(".gallery-card-image")
    count = cards.count()
    assert count >= 2
    cards.first.click()
    page.wait_for_selector(".viewer-title")
    first = page.url
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda url: url != first)
    assert "in=" in page.url and "use%3Dcommercial" in page.url  # still in the visitor's set
    page.get_by_role("button", name="Copy Text").click()
    credit = page.evaluate("navigator.clipboard.readText()")
    assert "is licensed under CC BY" in credit and "from Demonstration photo archive" in credit, credit  # commercial: BY or BY-SA
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey-photo-desktop.png"))
    page.locator(".photo-tags a[href*='/demonstrations/']").first.click()
    page.wait_for_selector(".gallery-download-all")
    with page.expect_download() as info:
        page.locator(".gallery-download-all a").first.click()
    data = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        credits = z.read("CREDITS.txt").decode()
    assert len(names) > 1 and "CC BY" in credits, credits
    page.close()


PAGES = {
    "front": "/", "grid": "/-/gallery/photos", "search": "/-/gallery/photos?q=ceasefire+London",
    "photo": None, "demonstration": "/-/gallery/demonstrations/2024-11-02-london-ceasefire-gaza",
    "city": "/-/gallery/cities/london",
}


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install --prefix tests/node axe-core)")
@pytest.mark.parametrize("case", SCHEMES)
def test_axe_finds_nothing_critical_or_serious(browser, server, case):
    size, scheme = SCHEMES[case]
    page = browser.new_page(viewport=SIZES[size], color_scheme=scheme, bypass_csp=True)  # axe is injected inline
    problems = []
    for name, path in PAGES.items():
        if path is None:
            page.goto(server + "/-/gallery/photos?q=ceasefire")
            path = page.locator(".gallery-card-image").first.get_attribute("href")
        page.goto(server + path)
        problems += axe_problems(page, f"{case} {name}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{name} overflows"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"gallery-{name}-{case}.png"))
        if name in ("grid", "search"):
            first = page.locator(".gallery-card img").first.bounding_box()
            assert first["y"] < SIZES[size]["height"], f"{name}: the first photo is below the fold"
            if size == "phone":
                second = page.locator(".gallery-card img").nth(1).bounding_box()
                assert abs(second["y"] - first["y"]) < 2, "two photos a row on a phone"
    page.close()
    assert not problems, "\n".join(problems)


def test_keyboard_only_search_filter_view_and_download(browser, server):
    page = browser.new_page(viewport=SIZES["desktop"], accept_downloads=True)
    page.goto(server + "/")
    tab_to(page, "#gallery-q")
    page.keyboard.type("ceasefire London")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=ceasefire*")
    tab_to(page, "a.chip[href*='use=commercial']")
    page.keyboard.press(" ")
    page.wait_for_url("**use=commercial*")
    tab_to(page, "#select-" + page.locator(".gallery-card input[name=id]").first.get_attribute("value"))
    page.keyboard.press(" ")
    tab_to(page, "a.gallery-card-image")
    page.keyboard.press("Enter")
    page.wait_for_selector(".viewer-title")
    first = page.url
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda url: url != first)
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(lambda url: url == first)
    tab_to(page, ".viewer-fullscreen")
    tab_to(page, "a.download-button")
    with page.expect_download():
        page.keyboard.press("Enter")
    page.close()
