"""The admin pages in a real browser (Chromium via Playwright, over `ingest serve`): an admin changes
a photographer's role and a setting with the keyboard alone, at desktop and phone widths, and
axe-core finds nothing critical or serious."""

from __future__ import annotations

import pytest
from browser_support import AXE, MARKS, axe_problems, sample_gallery, shot, sign_in, tab_to
from fixtures.catalogue import rows

pytestmark = MARKS
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-admin")
    setup = [["accounts", "add", "ada", "--role", "admin", "--password", PASSWORD],
             ["accounts", "add", "pat", "--role", "photographer", "--password", PASSWORD]]
    with sample_gallery(base, size=(320, 240), setup=setup) as url:
        yield url, base


def _press_enter_and_wait(page) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_an_admin_uses_the_accounts_and_settings_pages_with_the_keyboard(gallery, browser):
    url, base = gallery
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    sign_in(page, url, "ada", PASSWORD)
    page.goto(url + "/-/gallery/accounts")
    # pat's role: focus the select, choose "archivist" with the arrow keys, submit with Enter.
    row = page.locator("tr", has_text="pat")
    select_id = row.locator("select").get_attribute("id")
    tab_to(page, f"#{select_id}")
    page.keyboard.press("ArrowDown")
    tab_to(page, f"#{select_id} ~ button", limit=3)
    _press_enter_and_wait(page)
    assert "pat is now an archivist" in page.content()
    assert rows(base, "SELECT role FROM archivists WHERE name = 'pat'") == [("archivist",)]

    page.goto(url + "/-/gallery/settings")
    tab_to(page, "#setting-title")
    page.keyboard.type("Coalition photo archive")
    tab_to(page, "#setting-public-url")
    page.keyboard.type("ftp://photos.example.org")  # a URL to the browser; not an http(s) address
    tab_to(page, ".gallery-save")
    _press_enter_and_wait(page)
    assert page.locator("#settings-error").is_visible() and "public-url" in page.locator("#settings-error").inner_text()
    assert rows(base, "SELECT value FROM settings WHERE key = 'title'") == []
    page.fill("#setting-public-url", "")
    tab_to(page, ".gallery-save")
    _press_enter_and_wait(page)
    assert "Settings saved." in page.content()
    assert rows(base, "SELECT value FROM settings WHERE key = 'title'") == [("Coalition photo archive",)]
    page.close()


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core is not installed (npm install --prefix tests/node axe-core)")
@pytest.mark.parametrize("size", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}])
def test_axe_finds_nothing_critical_or_serious_on_the_admin_pages(gallery, browser, size):
    url, _ = gallery
    context = browser.new_context(viewport=size, bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    sign_in(page, url, "ada", PASSWORD)
    problems = []
    for path in ("/-/gallery/accounts", "/-/gallery/settings"):
        page.goto(url + path)
        problems += axe_problems(page, f"{path} at {size['width']} px")
        if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"):
            problems.append(f"{path} scrolls sideways at {size['width']} px")
        shot(page, f"admin{path.replace('/', '-')}-{size['width']}")
    context.close()
    assert not problems, "\n".join(problems)
