"""An archivist's session in a real browser (Debian's Chromium via Playwright, over `ingest serve`):
sign in, correct a photo, batch-assign a demonstration to a filtered view, read the history, undo.
An anonymous visitor then sees the results, no edit controls, and cannot post.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser-edit")
    ingest = str(Path(sys.executable).parent / "ingest")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(base / "photos"),
                    "--width", "480", "--height", "360"], check=True, capture_output=True)
    archive = ["--db", str(base / "gallery.db"), "--store", str(base / "archive")]
    for args in (["demos", "import", str(ROOT / "samples" / "registry.yml")],
                 [str(base / "photos"), "--licence", "CC-BY-SA-4.0"],
                 ["archivists", "add", "alice", "--password", PASSWORD]):
        subprocess.run([ingest, *args, *archive], check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([ingest, "serve", *archive, "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/-/plugins.json", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the gallery server did not start")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _photo(server: str, filename: str) -> dict:
    rows = _json(f"{server}/gallery/photos.json?_shape=array&original_filename={filename}")
    assert len(rows) == 1, rows
    return rows[0]


def test_archivist_corrects_batch_edits_reads_history_and_undoes(server, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server + "/-/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()

    # One photo: title and city.
    banner = _photo(server, "banner-01.jpg")
    page.goto(f"{server}/gallery/photos/{banner['id']}")
    assert page.locator("section.gallery-edit").is_visible()
    page.fill("#edit-title", "Banner at Whitehall")
    page.fill("#edit-caption", "The banner at the front of the march")
    page.click("button.gallery-save")
    page.wait_for_load_state()
    assert "Saved 2 changes" in page.content()
    assert page.locator("h2.photo-title").inner_text() == "Banner at Whitehall"
    _shot(page, "archivist-photo-page")
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
    _shot(page, "archivist-batch-edit")
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
    _shot(page, "archivist-history")
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
