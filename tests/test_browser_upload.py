"""Uploading in a real browser (Debian's Chromium via Playwright, over `ingest serve`): a photographer
chooses a folder of real camera files and a broken one, the page closes halfway, reopens and the
upload goes on; every good photo arrives once, the broken one is named, nothing is public until
an archivist approves, and My photos shows the states. Then axe-core over the pages, at 1366 and
390 px, with screenshots."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import AXE, MARKS, axe_problems, sample_gallery, shot, sign_in
from fixtures.catalogue import rows
from playwright.sync_api import expect

pytestmark = MARKS
PASSWORD = "correct horse battery"
CORPUS = Path(__file__).parent / "corpus" / "exif-samples"
CAMERA_FILES = ["jpg/Canon_40D.jpg", "jpg/Kodak_CX7530.jpg", "jpg/Nikon_D70.jpg", "jpg/gps/DSCN0010.jpg",
                "jpg/orientation/landscape_6.jpg", "jpg/tests/32-lens_data.jpeg", "heic/IMG_5195.HEIC"]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    if not all((CORPUS / f).is_file() for f in CAMERA_FILES):
        pytest.skip("the camera files of tests/corpus are missing")
    base = tmp_path_factory.mktemp("browser-upload")
    setup = [["accounts", "add", "pat", "--role", "photographer", "--password", PASSWORD],
             ["accounts", "add", "alice", "--role", "archivist", "--password", PASSWORD]]
    card = base / "card" / "2024-05-18 march"
    card.mkdir(parents=True)
    for name in CAMERA_FILES:
        shutil.copy(CORPUS / name, card / Path(name).name)
    (card / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a photo" * 100)
    with sample_gallery(base, size=(480, 360), setup=setup) as url:
        yield url, base, card


def _public_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/gallery/photos.json?_shape=array&_size=200", timeout=10) as r:
        return len(json.loads(r.read()))



def _fill_defaults(page) -> None:
    page.select_option("#upload-licence", "CC-BY-4.0")
    page.fill("#upload-creator", "Pat Doe")


def test_upload_a_folder_close_halfway_resume_review_and_publish(gallery, browser):
    url, base, card = gallery
    public_before = _public_count(url)
    good = len(CAMERA_FILES)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, url, "pat", PASSWORD)
    page.goto(url + "/-/gallery/upload")
    assert page.locator("nav").get_by_text("My photos").count() or page.get_by_role("link", name="My photos").count()
    _fill_defaults(page)

    # Hold every chunk after the first three: the connection "drops", and the page is closed.
    sent = {"n": 0}

    def chunks(route):
        sent["n"] += 1
        if sent["n"] <= 3:
            route.continue_()
        else:
            route.abort()

    page.route("**/-/gallery/upload/files/*?offset=*", chunks)
    page.set_input_files("#upload-folder", str(card.parent))
    expect(page.locator("#upload-list li[data-state=failed]").first).to_be_visible(timeout=30000)
    time.sleep(1)
    shot(page, "upload-interrupted-1366")
    page.close()
    partial = rows(base, "SELECT count(*) FROM uploads WHERE state = 'receiving'")[0][0]
    assert partial >= 1, "some uploads must be left unfinished by the closed page"

    # Reopen: the page says what did not finish; choose the folder again and it goes on.
    page = context.new_page()
    page.goto(url + "/-/gallery/upload")
    assert page.locator("#upload-resume").is_visible()
    assert "did not finish" in page.locator("#upload-resume").inner_text()
    assert page.input_value("#upload-creator") == "Pat Doe"  # prefilled from the last upload
    page.set_input_files("#upload-folder", str(card.parent))
    expect(page.locator("#upload-status")).to_contain_text("Done", timeout=120000)
    shot(page, "upload-done-1366")
    failed = page.locator("#upload-list li[data-state=failed]")
    assert failed.count() == 1 and "broken.jpg" in failed.inner_text()
    states = page.locator("#upload-list li .gallery-upload-state").all_inner_texts()
    assert sum("waiting for review" in s or "you sent it before" in s for s in states) == good

    # Every good photo arrived once, held; nothing new is public.
    uploaded = rows(base, "SELECT DISTINCT photo_id FROM uploads WHERE state = 'imported' AND account = 'pat'")
    assert len(uploaded) == good
    assert rows(base, "SELECT count(*) FROM photos WHERE id IN (SELECT photo_id FROM uploads)")[0][0] == good
    assert rows(base, "SELECT count(DISTINCT sha256) FROM photos")[0][0] == rows(base, "SELECT count(*) FROM photos")[0][0]
    assert {r[0] for r in rows(base, "SELECT state FROM photos WHERE id IN (SELECT photo_id FROM uploads)")} == {"pending"}
    assert _public_count(url) == public_before
    assert rows(base, "SELECT problem FROM uploads WHERE state = 'problem' AND file_name LIKE '%broken.jpg'")

    page.goto(url + "/-/gallery/mine")
    assert page.locator("tr[data-state=pending]").count() == good
    assert page.locator("tr[data-state=problem]").count() >= 1
    shot(page, "upload-mine-1366")
    context.close()

    # An archivist approves them in the review queue; then they are public, and My photos says so.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, url, "alice", PASSWORD)
    page.goto(url + "/-/gallery/review?show=waiting")
    for box in page.locator(".gallery-review-card input[type=checkbox]").all():
        box.check()
    page.get_by_role("button", name="Approve selected").click()
    page.wait_for_load_state()
    context.close()
    deadline = time.monotonic() + 15
    while _public_count(url) < public_before + good and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _public_count(url) == public_before + good
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, url, "pat", PASSWORD)
    page.goto(url + "/-/gallery/mine")
    assert page.locator("tr[data-state=public]").count() == good
    shot(page, "upload-mine-390")
    context.close()


@pytest.mark.skipif(not AXE.exists() and not os.environ.get("CI"),
                    reason="axe-core is not installed (npm install --prefix tests/node axe-core)")
@pytest.mark.parametrize("size", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}])
def test_axe_finds_nothing_critical_or_serious_on_the_upload_pages(gallery, browser, size):
    url, _, _ = gallery
    context = browser.new_context(viewport=size, bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    sign_in(page, url, "pat", PASSWORD)
    problems = []
    for path in ("/-/gallery/upload", "/-/gallery/mine"):
        page.goto(url + path)
        problems += axe_problems(page, f"{path} at {size['width']} px")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shot(page, f"upload-page{path.replace('/', '-')}-{size['width']}")
    # The file pickers are reachable from the keyboard.
    page.goto(url + "/-/gallery/upload")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "upload-files":
            break
    else:
        problems.append("the photo picker cannot be reached with Tab")
    context.close()
    assert not problems, "\n".join(problems)


def test_a_page_without_crypto_subtle_hashes_in_javascript_and_uploads(gallery, browser, tmp_path):
    """Over http on a LAN address (a phone on the venue's Wi-Fi) browsers give no crypto.subtle: the
    page hashes with sha256.js instead, slice by slice, and the server's SHA-256 check agrees."""
    import hashlib
    url, base, _ = gallery
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_init_script("Object.defineProperty(window.crypto, 'subtle', {get: function () { return undefined; }});")
    page = context.new_page()
    sign_in(page, url, "pat", PASSWORD)
    page.goto(url + "/-/gallery/upload")
    assert page.evaluate("window.crypto.subtle === undefined")
    # Several 4 MB slices and a tail that is not a whole block: deterministic bytes Python can rebuild.
    size = 9 * 1024 * 1024 + 37
    expected = hashlib.sha256(bytes((i * 31 + (i >> 8)) % 251 for i in range(size))).hexdigest()
    got = page.evaluate("""size => { const a = new Uint8Array(size);
        for (let i = 0; i < size; i++) a[i] = (i * 31 + (i >> 8)) % 251;
        return gallerySha256(new Blob([a])); }""", size)
    assert got == expected
    for length in (0, 55, 56, 64, 119):  # the padding's edge cases
        data = bytes(range(length))
        assert page.evaluate("n => gallerySha256(new Blob([new Uint8Array([...Array(n).keys()])]))",
                             length) == hashlib.sha256(data).hexdigest()
    # And a real upload through the page: the server refuses bytes whose hash differs from the announced one.
    photo = tmp_path / "BlueSquare.jpg"
    shutil.copy(CORPUS / "jpg" / "xmp" / "BlueSquare.jpg", photo)
    _fill_defaults(page)
    page.set_input_files("#upload-files", str(photo))
    expect(page.locator("#upload-status")).to_contain_text("Done", timeout=60000)
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert rows(base, "SELECT state FROM uploads WHERE sha256 = ?", [digest]) in ([("queued",)], [("imported",)])
    context.close()
