"""Issue 12.5: no way back to public by accident. A withheld photo must not become public again
through an ordinary workflow: importing a copy edited in another program, `ingest .` run inside the
archive's folder (its own store), or undoing an old withhold (tests/test_corrections.py)."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.synth import make_photo
from PIL import Image, ImageEnhance

from ingest.cli import main

EXIF = {"DateTimeOriginal": "2024:05:18 14:00:00", "Artist": "Ana", "GPSLatitude": 48.1424, "GPSLongitude": 11.5775}
XMP = {"dc:title": "Front row at Odeonsplatz", "dc:creator": ["Ana"]}


def query(db_path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def jpeg(im: Image.Image, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", **params)
    return out.getvalue()


def edits_of(path: Path) -> dict[str, bytes]:
    """What another program does to a photo: the same picture in other bytes."""
    data = path.read_bytes()
    im = Image.open(io.BytesIO(data))
    im.load()
    w, h = im.size
    dx, dy = round(w * 0.02), round(h * 0.02)
    return {
        "requality.jpg": jpeg(im, quality=60, exif=im.info["exif"]),                      # re-encoded
        "half.jpg": jpeg(im.resize((w // 2, h // 2), Image.Resampling.LANCZOS), quality=90),  # resized to 50%
        "stripped.jpg": jpeg(im, quality=88),                                              # metadata gone
        "brighter.jpg": jpeg(ImageEnhance.Brightness(im).enhance(1.05), quality=88),       # +5% brightness
        "cropped.jpg": jpeg(im.crop((dx, dy, w - dx, h - dy)), quality=88),                # 2% off each side
    }


@pytest.fixture
def withheld(tmp_path, cli):
    """An archive of two photos, the first withheld: (cli, its id, its file, the other's id)."""
    card = tmp_path / "card"
    secret = make_photo(card / "secret.jpg", seed=4101, exif=EXIF, xmp=XMP)
    make_photo(card / "other.jpg", seed=4102, exif=EXIF)
    ok(cli("--jobs", "1", str(card)))
    ids = dict(query(cli.db_path, "SELECT original_filename, id FROM photos"))
    ok(cli("fix", str(ids["secret.jpg"]), "--withhold", "--who", "ann"))
    return cli, ids["secret.jpg"], secret, ids["other.jpg"]


# ---------------------------------------------------------------- `ingest .` in the archive's folder

def test_ingest_dot_in_the_archive_folder_skips_its_own_store(withheld, tmp_path, monkeypatch):
    cli, secret_id, secret, _ = withheld
    # The archive's folder as `make demo` lays it out: gallery.db and archive/ side by side, used by default.
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(cli.db_path, home / "gallery.db")
    shutil.copytree(cli.store_path, home / "archive")
    before = query(home / "gallery.db", "SELECT id, withheld FROM photos ORDER BY id")
    monkeypatch.chdir(home)
    monkeypatch.delenv("INGEST_DB", raising=False)
    monkeypatch.delenv("INGEST_STORE", raising=False)
    result = CliRunner().invoke(main, ["--jobs", "1", "."], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "archive/: the archive's own store, skipped" in result.stderr.splitlines()
    assert result.stdout.startswith("0 imported, 0 duplicates, 0 unchanged")
    assert query(home / "gallery.db", "SELECT id, withheld FROM photos ORDER BY id") == before
    # Named, or a folder inside it: the same.
    result = CliRunner().invoke(main, ["--jobs", "1", "archive/web", str(home / "archive")], catch_exceptions=False)
    assert result.exit_code == 0 and result.stderr.count("the archive's own store, skipped") == 2, result.output
    assert query(home / "gallery.db", "SELECT id, withheld FROM photos ORDER BY id") == before


def test_ingest_dot_in_a_real_process(withheld):
    """The installed script, run in the archive's folder (its card/ imported already, gallery.db and
    archive/ beside it, both used by default)."""
    cli, secret_id, _, _ = withheld
    home = Path(cli.db_path).parent
    before = query(cli.db_path, "SELECT id, withheld FROM photos ORDER BY id")
    env = {k: v for k, v in os.environ.items() if k not in ("INGEST_DB", "INGEST_STORE")}
    run = subprocess.run([str(Path(sys.executable).with_name("ingest")), "--jobs", "2", "."], cwd=home,
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["archive/: the archive's own store, skipped"]
    assert run.stdout.startswith("0 imported, 0 duplicates, 2 unchanged"), run.stdout
    assert query(cli.db_path, "SELECT id, withheld FROM photos ORDER BY id") == before
