"""Build the wheel, install it into a fresh venv outside the checkout, and use it from an empty
folder as a user would: import the registry and photos, name the archive, export a copy, serve the
gallery. Proves the wheel works alone (metadata, templates and static files ship inside it).

    python3 scripts/wheel_check.py            # make wheel-check
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "photos"
REGISTRY = ROOT / "samples" / "registry.yml"
TITLE = "Wheel Check Archive"


def run(*args: str | Path, cwd: Path, env: dict | None = None) -> str:
    print("$", " ".join(str(a) for a in args), flush=True)
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"wheel check failed: {args[0]} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    if not SAMPLES.is_dir():
        sys.exit(f"wheel check: {SAMPLES} is missing; run `make samples` first")
    work = Path(tempfile.mkdtemp(prefix="wheel-check-"))
    server = None
    try:
        run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "dist", ROOT, cwd=work)
        wheel = next((work / "dist").glob("*.whl"))
        names = subprocess.run([sys.executable, "-m", "zipfile", "-l", wheel], capture_output=True, text=True).stdout
        for needed in ("ingest/metadata.yml", "ingest/web/templates/", "ingest/web/static/gallery.css"):
            if needed not in names:
                sys.exit(f"wheel check failed: {wheel.name} lacks {needed}")
        if "fixtures/synth" in names or "ingest/synth" in names:
            sys.exit(f"wheel check failed: {wheel.name} ships a test fixture")
        run(sys.executable, "-m", "venv", work / "venv", cwd=work)
        pip, ingest = work / "venv" / "bin" / "pip", work / "venv" / "bin" / "ingest"
        run(pip, "install", "--quiet", wheel, cwd=work)
        site = work / "site"  # an empty folder, far from the checkout
        site.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "PYTHON", "VIRTUAL_ENV"))}
        run(ingest, "demos", "import", REGISTRY, cwd=site, env=env)
        print(run(ingest, SAMPLES, "--licence", "CC-BY-SA-4.0", "--creator", "Sample photographer", "--publish", cwd=site, env=env).strip())
        run(ingest, "settings", "title", TITLE, cwd=site, env=env)
        run(ingest, "archivists", "list", cwd=site, env=env)
        exported = run(ingest, "export", "1", "--to", site / "out", cwd=site, env=env)
        if TITLE not in exported:
            sys.exit(f"wheel check failed: the credit line does not name the archive:\n{exported}")
        port = free_port()
        log = open(work / "serve.log", "w")
        server = subprocess.Popen([str(ingest), "serve", "--port", str(port)], cwd=site, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = fetch(f"{base}/-/versions.json")
                if status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("wheel check failed: `ingest serve` did not answer\n" + (work / "serve.log").read_text())
            time.sleep(0.3)
        checks = {
            "/gallery/photos.json?_shape=array": lambda body: len(json.loads(body)) > 0,
            "/gallery/photos/1": lambda body: f"from {TITLE}, is licensed under" in body,  # the credit line
            "/gallery/free_for_commercial_use.json": lambda body: True,           # canned query from metadata
            "/-/static-plugins/demonstration-photo-archive/gallery.css": lambda body: ".gallery" in body,
            "/-/gallery/demonstrations": lambda body: "ceasefire" in body.lower(),
        }
        for path, good in checks.items():
            status, body = fetch(base + path)
            if status != 200 or not good(body):
                sys.exit(f"wheel check failed: {path} answered {status}\n{body[:500]}")
            print(f"ok  {path}")
        status, _ = fetch(base + "/catalogue/photos.json")
        if status != 403:
            sys.exit(f"wheel check failed: /catalogue/photos.json answered {status} to an anonymous visitor")
        print("ok  /catalogue/photos.json is 403")
        print(f"wheel check passed: {wheel.name} works alone")
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
