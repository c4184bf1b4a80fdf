"""An archivist's session in a real browser (Debian's Chromium via Playwright, over `ingest serve`):
sign in, correct a photo, batch-assign a demonstration to a filtered view, read the history, undo.
An anonymous visitor then sees the results, no edit controls, and cannot post.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from browser_support import MARKS, sample_gallery, shot, sign_in

PASSWORD = "correct horse battery"

pytestmark = MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sample_gallery(tmp_path_factory.mktemp("browser-edit"), size=(480, 360), setup=[["archivists", "add", "alice", "--password", PASSWORD]]) as url:
        yield url


def _json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _photo(server: str, filename: str) -> dict:
    rows = _json(f"{server}/gallery/photos.json?_shape=array&original_filename={filename}")
    assert len(rows) == 1, rows
    return rows[0]


def test_archivist_corrects_batch_edits_reads_history_and_undoes(server, browser):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server, "alice", PASSWORD)

    # One photo: title and city.
    banner = _photo(server, "banner-01.jpg")
    page.goto(f"{server}/gallery/photos/{banner['id']}")
    assert page.locator("section.gallery-edit").is_visible()
    page.fill("#edit-title", "Banner at Whitehall")
    page.fill("#edit-caption", "The banner at the front of the march")
    page.click("button.gallery-save")
    page.wait_for_load_state()
    assert "Saved 2 changes" in page.content()
    assert page.locator("h1.viewer-title").inner_text() == "Banner at Whitehall"  # the viewer's heading
    shot(page, "archivist-photo-page")
    assert _photo(server, "banner-01.jpg")["title"] == "Banner at Whitehall"  # the public copy has it at once

    # A wrong value is refused and nothing changes.
    page.fill("#edit-title", "Another title")
    page.fill("#edit-taken-at", "2024-02-30T10:00:00")
    page.click("button.gallery-save")
    page.wait_for_load_state()
    assert "Nothing was saved" in page.content() and "not a real date" in page.content()
    assert _photo(server, "banner-01.jpg")["title"] == "Banner at Whitehall"

    # Batch: the photos of 2024-05-18 that no demonstration claims go to the London march.
    page.goto(f"{server}/gallery/photos?date=2024-05-18&demonstration_id__isnull=1")
    count = page.locator(".gallery-card").count()
    assert count >= 1
    page.click("a.gallery-batch-link")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"Edit {count} photo{'s' if count != 1 else ''}"
    page.select_option("#batch-demonstration", label="London march (London, 2024-05-18)")
    page.fill("#batch-city", "London")
    shot(page, "archivist-batch-edit")
    page.click("button.gallery-save")
    page.wait_for_load_state()
    assert f"of {count} photos" in page.content()
    whatsapp = _photo(server, "IMG-20240518-WA0003.jpg")
    london_march = _json(f"{server}/gallery/demonstrations.json?_shape=array&slug=2024-05-18-london-march")[0]
    assert whatsapp["demonstration_id"] == london_march["id"]

    # History and undo: the title goes back, the caption stays.
    page.goto(f"{server}/gallery/photos/{banner['id']}")
    history = page.locator("table.gallery-history")
    assert history.locator("tbody tr").count() == 2
    assert "alice" in history.inner_text() and "Banner at Whitehall" in history.inner_text()
    title_row = history.locator("tbody tr", has_text="Title")
    page.once("dialog", lambda d: d.accept())
    title_row.locator("button.gallery-undo").click()
    page.wait_for_load_state()
    assert "Undone" in page.content()
    assert page.locator("table.gallery-history tbody tr").count() == 3  # the undo is itself in the history
    shot(page, "archivist-history")
    photo = _photo(server, "banner-01.jpg")
    assert photo["title"] == banner["title"] and photo["caption"] == "The banner at the front of the march"
    context.close()

    # An anonymous visitor sees the corrections, but no edit controls, and cannot post.
    anonymous = browser.new_context()
    page = anonymous.new_page()
    page.goto(f"{server}/gallery/photos/{banner['id']}")
    assert "The banner at the front of the march" in page.content()
    assert page.locator("section.gallery-edit").count() == 0
    assert page.locator("a.gallery-batch-link").count() == 0
    page.goto(f"{server}/gallery/photos?date=2024-05-18")
    assert page.locator("a.gallery-batch-link").count() == 0
    for path, form in ((f"/-/gallery/edit/{banner['id']}", {"title": "vandalised"}),
                       ("/-/gallery/undo/1", {}), ("/-/gallery/batch", {"query": "", "count": "26", "creator": "x"})):
        response = page.request.post(server + path, form=form)
        assert response.status in (403, 400), (path, response.status)  # 400: Datasette's CSRF check
    assert page.request.get(server + "/-/gallery/batch?date=2024-05-18").status == 403
    assert _photo(server, "banner-01.jpg")["title"] == banner["title"]
    anonymous.close()
