"""The review queue in a real browser (Debian's Chromium via Playwright, over `ingest serve`): the
sample photos imported for review, an archivist approves 20 by keyboard, withholds one, fixes one on
its page and approves it, and the counts reach 0; the public gallery then has exactly what was let
through."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
from browser_support import AXE, MARKS, axe_problems, sample_gallery, shot, sign_in

PASSWORD = "correct horse battery"
pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # 26 samples, held for review; 4 approved from the command line first, so 22 are left.
    setup = [["archivists", "add", "alice", "--password", PASSWORD], ["review", "--approve", "1", "2", "3", "4"]]
    with sample_gallery(tmp_path_factory.mktemp("browser-review"), size=(480, 360), setup=setup,
                        publish=False) as url:
        yield url


def _json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _count(page, key: str) -> int:
    return int(page.locator(f'[data-count="{key}"]').first.inner_text())


def _wait_count(page, key: str, value: int) -> None:
    from playwright.sync_api import expect
    expect(page.locator(f'[data-count="{key}"]').first).to_have_text(str(value), timeout=15000)




@pytest.mark.skipif(not AXE.exists() and not os.environ.get("CI"),
                    reason="axe-core is not installed (npm install --prefix tests/node axe-core)")
@pytest.mark.parametrize("size", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}])
def test_axe_finds_nothing_critical_or_serious_in_the_queue(server, browser, size):
    context = browser.new_context(viewport=size, bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    sign_in(page, server, "alice", PASSWORD)
    problems = []
    for path in ("/-/gallery/review", "/-/gallery/review/5"):
        page.goto(server + path)
        problems += axe_problems(page, f"{path} at {size['width']} px")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    shot(page, f"review-photo-{size['width']}")
    context.close()
    assert not problems, "\n".join(problems)


def test_archivist_empties_the_queue_by_keyboard(server, browser):
    assert len(_json(f"{server}/gallery/photos.json?_shape=array&_size=100")) == 4
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in(page, server, "alice", PASSWORD)

    page.goto(server + "/-/gallery/review")
    assert _count(page, "all") == 22 and page.locator(".gallery-review-card").count() == 22
    assert page.locator(".gallery-review-card.current").count() == 1  # the first card has the focus
    shot(page, "review-queue-desktop")
    for done in range(1, 21):  # a: approve the current photo, and the next one becomes current
        page.keyboard.press("a")
        _wait_count(page, "all", 22 - done)
    assert page.locator(".gallery-review-card").count() == 2
    # w: withhold the current one.
    withheld = int(page.locator(".gallery-review-card.current").get_attribute("data-id"))
    page.keyboard.press("w")
    _wait_count(page, "all", 1)
    # Enter: open the last one, correct its title on its page, approve it there.
    last = int(page.locator(".gallery-review-card.current").get_attribute("data-id"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/-/gallery/review/{last}")
    shot(page, "review-photo-desktop")
    page.fill("#edit-title", "Fixed in review")
    page.click("button.gallery-save >> text=Save corrections")
    page.wait_for_load_state()
    assert "Saved 1 change" in page.content()
    page.click("button[value=approve]")
    page.wait_for_load_state()
    assert "Nothing to review" in page.content()
    assert _count(page, "all") == 0 and _count(page, "waiting") == 0 and _count(page, "flagged") == 0
    shot(page, "review-queue-empty")

    public = _json(f"{server}/gallery/photos.json?_shape=array&_size=100")
    ids = {p["id"] for p in public}
    assert len(public) == 25 and withheld not in ids and last in ids
    assert next(p for p in public if p["id"] == last)["title"] == "Fixed in review"
    context.close()


def test_the_queue_on_a_phone_and_for_visitors(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    response = page.goto(server + "/-/gallery/review")
    assert response.status == 403  # anonymous visitors get nothing
    sign_in(page, server, "alice", PASSWORD)
    page.goto(server + "/-/gallery/review")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scroll
    shot(page, "review-queue-phone")
    context.close()
