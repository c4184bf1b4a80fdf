"""What the real-browser tests share: a gallery of the sample photos served by `ingest serve`, and
Debian's Chromium driven by Playwright (`playwright install` cannot download here)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sample_gallery(base: Path, *, size: tuple[int, int] = (640, 480), setup: list[list[str]] = (),
                   publish: bool = True) -> Iterator[str]:
    """The sample photos and the flyer's registry, imported and served; yields the server's address.
    `setup` holds more `ingest` commands to run before serving (without --db/--store); without
    `publish` the photos wait for review."""
    # This checkout's ingest (cwd first on sys.path), not whichever the venv's console script installed.
    ingest = [sys.executable, "-c", "import sys; sys.argv[0] = 'ingest'; from ingest.cli import main; main()"]
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_samples.py"), str(base / "photos"),
                    "--width", str(size[0]), "--height", str(size[1])], check=True, capture_output=True)
    archive = ["--db", str(base / "gallery.db"), "--store", str(base / "archive")]
    for args in (["demos", "import", str(ROOT / "samples" / "registry.yml")],
                 [str(base / "photos"), "--licence", "CC-BY-SA-4.0", "--creator", "Sample photographer",
                  "--publish" if publish else "--hold"], *setup):
        subprocess.run([*ingest, *args, *archive], check=True, capture_output=True, cwd=ROOT)
    port = free_port()
    proc = subprocess.Popen([*ingest, "serve", *archive, "--host", "127.0.0.1", "--port", str(port)],
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


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


AXE = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def axe_problems(page, label: str) -> list[str]:
    """axe-core's critical and serious violations on the page as it stands, one line each, named by label."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{label}: {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:160]}"
            for v in result["violations"] if v["impact"] in ("critical", "serious")]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, server: str, name: str, password: str) -> None:
    """Sign in through the gallery's own form, as a person would."""
    page.goto(server + "/-/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches `selector`, as someone without a mouse does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")
