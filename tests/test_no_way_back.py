"""Issue 12.5: no way back to public by accident. A withheld photo must not become public again
through an ordinary workflow: importing a copy edited in another program, `ingest .` run inside the
archive's folder (its own store), or undoing an old withhold (tests/test_corrections.py)."""

from __future__ import annotations

import io
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.synth import make_photo, photo_like
from PIL import Image, ImageEnhance

from ingest.cli import main
from ingest.media import images, similar

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


def test_edited_copies_of_a_withheld_photo_are_imported_withheld(withheld, tmp_path):
    cli, secret_id, secret, _ = withheld
    inbox = tmp_path / "from-lightroom"
    inbox.mkdir()
    for name, data in edits_of(secret).items():
        (inbox / name).write_bytes(data)
    result = cli("--jobs", "2", str(inbox))
    out = ok(result)
    assert out.splitlines()[0].startswith("5 imported, 0 duplicates")
    assert out.splitlines()[1] == f"5 held: look like withheld photo {secret_id}"
    assert result.stderr.count(f"looks like withheld photo {secret_id}") == 5
    rows = query(cli.db_path, "SELECT original_filename, withheld, near_duplicate_of, needs_review, review_reason "
                              "FROM photos WHERE id != ? AND original_filename != 'other.jpg'", [secret_id])
    assert {r[0] for r in rows} == set(edits_of(secret))
    for name, is_withheld, like, review, reason in rows:
        assert (is_withheld, like, review) == (1, secret_id, 1), name
        assert reason.startswith(f"looks like withheld photo {secret_id}"), (name, reason)


def test_one_held_copy_says_so_in_the_summary(withheld, tmp_path):
    cli, secret_id, secret, _ = withheld
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(edits_of(secret)["stripped.jpg"])
    assert ok(cli(str(copy))).splitlines()[1] == f"1 held: looks like withheld photo {secret_id}"


def test_a_different_photo_and_a_copy_of_a_public_photo_are_not_held(withheld, tmp_path):
    cli, _, secret, other_id = withheld
    inbox = tmp_path / "inbox"
    make_photo(inbox / "new.jpg", seed=4103, exif=EXIF)
    other = Path(query(cli.db_path, "SELECT path FROM photo_sources WHERE photo_id = ?", [other_id])[0][0])
    (inbox / "other-stripped.jpg").write_bytes(edits_of(other)["stripped.jpg"])
    out = ok(cli(str(inbox)))
    assert "held" not in out and "2 waiting for review" in out  # waiting like any new photo, not held
    assert query(cli.db_path, "SELECT count(*) FROM photos WHERE withheld = 1") == [(1,)]


def test_a_held_photo_stays_held_and_explained_through_retag(withheld, tmp_path):
    cli, secret_id, secret, _ = withheld
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(edits_of(secret)["half.jpg"])
    ok(cli(str(copy)))
    ok(cli("retag"))
    assert query(cli.db_path, "SELECT withheld, near_duplicate_of, review_reason LIKE 'looks like withheld photo%' "
                              "FROM photos WHERE near_duplicate_of IS NOT NULL") == [(1, secret_id, 1)]


def test_photos_from_before_the_hashes_are_compared_too(withheld, tmp_path):
    """An archive upgraded from before phash: the import fills in the withheld photos' hashes from
    their thumbnails, and `ingest retag` everyone's."""
    cli, secret_id, secret, _ = withheld
    computed = query(cli.db_path, "SELECT id, phash FROM photos ORDER BY id")
    assert all(h is not None for _, h in computed)
    conn = sqlite3.connect(cli.db_path)
    conn.execute("UPDATE photos SET phash = NULL")
    conn.commit()
    conn.close()
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(edits_of(secret)["brighter.jpg"])
    assert "1 held" in ok(cli(str(copy)))
    assert query(cli.db_path, "SELECT phash FROM photos WHERE id = ?", [secret_id]) == [(dict(computed)[secret_id],)]
    result = cli("retag")
    assert result.exit_code == 0 and "1 perceptual hash computed" in result.stderr
    assert query(cli.db_path, "SELECT id, phash FROM photos WHERE id IN (?, ?) ORDER BY id",
                 [r[0] for r in computed]) == computed


def test_no_false_positives_among_different_photos():
    """Photos of the same kind of scene (sky, facades, crowd, banners: the synthetic generator's
    every photo) are still far apart; the edits above stay within NEAR."""
    hashes = []
    for seed in range(12):
        buf = io.BytesIO()
        photo_like(800, 600, seed).save(buf, "JPEG", quality=88)
        opened = images.open_image(buf.getvalue(), "JPEG")
        hashes.append(similar.phash_jpeg(images.derivatives(opened)[1]))
    nearest = min(similar.distance(a, b) for a, b in itertools.combinations(hashes, 2))
    assert nearest > similar.NEAR + 2, nearest


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


def test_a_derivative_copied_out_of_the_store_is_held(withheld, tmp_path):
    """The web size and thumbnail of a withheld photo, copied elsewhere (other bytes than any
    original): the perceptual hash recognises them, so they come in withheld."""
    cli, secret_id, _, _ = withheld
    sha = query(cli.db_path, "SELECT sha256 FROM photos WHERE id = ?", [secret_id])[0][0]
    out = tmp_path / "desktop"
    out.mkdir()
    for kind in ("web", "thumbs"):
        shutil.copyfile(Path(cli.store_path) / kind / sha[:2] / f"{sha}.jpg", out / f"{kind}.jpg")
    assert ok(cli(str(out))).splitlines()[1] == f"2 held: look like withheld photo {secret_id}"
    assert query(cli.db_path, "SELECT count(*) FROM photos WHERE withheld = 0") == [(1,)]
