"""`ingest publish DIR` (outputs/bundle.py): a self-contained folder that stateless Datasette
processes serve read-only. Built from test_safety's gallery (two public photos, one withheld, one
pending, serial numbers, exact GPS and source paths in the catalogue), served by two real
`datasette serve DIR` processes on different ports: both answer the same; a withdrawal followed by
`ingest publish DIR` removes the photo from both (page, JSON, search, image URLs) and lists its URLs
in purge.txt; nothing private is anywhere in the folder; a run with nothing new writes nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_safety import (  # noqa: F401
    HOST,
    MARK,
    _fetch,
    _free_port,
    _stop,
    copy_catalogue,
    gallery,
    needles,
)

from ingest.cli import main as ingest_main

ROOT = Path(__file__).resolve().parents[1]


def _publish(db_path: Path, store: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(ingest_main, ["publish", str(out), "--db", str(db_path), "--store", str(store), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def _private_in_bundle(g, out: Path) -> list[str]:
    """Every file of the bundle, bytes as text, searched for what test_safety never lets out."""
    found = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("latin-1").lower()
        found += [f"{path.relative_to(out)}: {name}" for name, needle in needles(g).items() if needle.lower() in text]
    return found


def _start(out: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`datasette serve DIR` (configuration-directory mode), this checkout's plugin installed."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "datasette", "serve", str(out), "-h", HOST, "-p", str(port)],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"datasette exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if _fetch(url + "/gallery.json")[0] == 200:
                return proc, url
        except OSError:
            pass
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail("datasette did not answer within 30 s")
        time.sleep(0.1)


def _answers(url: str, paths: list[str]) -> dict[str, tuple[int, bytes]]:
    """Each path's status and body; in HTML, the server's own address and query timings left out."""
    out = {}
    for path in paths:
        status, body, _ = _fetch(url + path)
        if body.lstrip().startswith(b"<!DOCTYPE"):
            body = re.sub(rb"Queries took [0-9.]+ms", b"", body.replace(url.encode(), b""))
        out[path] = (status, body)
    return out


def test_a_bundle_served_by_two_servers_follows_a_withdrawal(gallery, tmp_path):  # noqa: F811
    db_path = copy_catalogue(gallery, tmp_path / "archive-copy")
    out = tmp_path / "bundle"
    said = _publish(db_path, gallery.store, out, "--originals")
    assert "2 public photos, 2 written, 0 removed" in said

    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"gallery.db", "metadata.yml", "settings.json", "archive.json"}
    public = {str(r["id"]): r for r in gallery.public.values()}
    assert set(manifest["photos"]) == set(public)
    leaving = gallery.public["public-two.jpg"]
    token = manifest["photos"][str(leaving["id"])][1]
    assert sorted(p.name for p in (out / "static" / "thumbs").iterdir()) == sorted(
        f"{v[1]}.jpg" for v in manifest["photos"].values())
    assert not (out / "gallery.db-wal").exists()
    # Originals as the gallery's downloads make them: its licence and credit line in XMP, a new
    # name when the row changes.
    assert len(manifest["originals"]) == 2
    original = next(n for n in manifest["originals"] if n.startswith(token))
    assert b"creativecommons.org/licenses/by/4.0" in (out / "static" / "originals" / original).read_bytes()
    assert _private_in_bundle(gallery, out) == []
    # The bundle is self-contained: no path into the archive or its store.
    assert str(gallery.store) not in (out / "metadata.yml").read_text()

    # Nothing changed: nothing written, nothing to purge, the rendition files untouched.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "static").rglob("*.jpg")}
    assert "2 public photos, 0 written, 0 removed" in _publish(db_path, gallery.store, out, "--originals")
    assert (out / "purge.txt").read_text() == ""
    assert {p: p.stat().st_mtime_ns for p in (out / "static").rglob("*.jpg")} == stamps

    servers = [_start(out, tmp_path / f"server-{i}.log") for i in (1, 2)]
    try:
        pid = leaving["id"]
        paths = ["/gallery/photos.json?_shape=array", f"/gallery/photos/{pid}.json?_shape=array",
                 f"/gallery/photos/{pid}", "/gallery/photos.json?_search=vigiltoken&_shape=array",
                 f"/-/gallery/thumbs/{token}.jpg", f"/-/gallery/web/{token}.jpg", f"/static/thumbs/{token}.jpg"]
        first, second = (_answers(url, paths) for _, url in servers)
        assert first == second
        assert all(status == 200 for status, _ in first.values()), {p: s for p, (s, _) in first.items()}
        assert [r["id"] for r in json.loads(first[paths[3]][1])] == [pid]
        assert first[paths[4]][1] == (out / "static" / "thumbs" / f"{token}.jpg").read_bytes()
        assert first[paths[4]][1][:2] == b"\xff\xd8"

        # An archivist withholds it in the catalogue; the bundle is published again.
        conn = sqlite3.connect(db_path)
        conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [pid])
        conn.commit()
        conn.close()
        assert "1 public photos, 0 written, 1 removed" in _publish(db_path, gallery.store, out, "--originals")
        for _, url in servers:  # the same database file, brought up to date in place: no restart
            after = _answers(url, paths)
            assert after[paths[1]][0] == 404 and after[paths[2]][0] == 404
            assert json.loads(after[paths[3]][1]) == []
            assert [r["id"] for r in json.loads(after[paths[0]][1])] == [r["id"] for r in gallery.public.values()
                                                                         if r["id"] != pid]
            assert [after[p][0] for p in paths[4:]] == [404, 404, 404]
        purge = (out / "purge.txt").read_text().split()
        for path in (f"/-/gallery/thumbs/{token}.jpg", f"/-/gallery/web/{token}.jpg", f"/static/thumbs/{token}.jpg",
                     f"/static/web/{token}.jpg", f"/gallery/photos/{pid}", f"/gallery/photos/{pid}.json"):
            assert path in purge
        assert not (out / "static" / "thumbs" / f"{token}.jpg").exists()
        assert f"/static/originals/{original}" in purge and not (out / "static" / "originals" / original).exists()
        # Its words are gone from the bundle's bytes too (the search indexes' data included).
        assert b"vigiltoken" not in (out / "gallery.db").read_bytes().lower()
        assert _private_in_bundle(gallery, out) == []
    finally:
        for proc, _ in servers:
            _stop(proc)


def test_purge_urls_are_absolute_with_a_base_url_and_rebuild_rewrites_everything(gallery, tmp_path):  # noqa: F811
    db_path = copy_catalogue(gallery, tmp_path / "archive-copy")
    out = tmp_path / "bundle"
    _publish(db_path, gallery.store, out)
    said = _publish(db_path, gallery.store, out, "--rebuild", "--base-url", "https://photos.example.org")
    assert "2 written" in said and "(rebuilt)" in said
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE photos SET title = 'Ceasefire march, renamed' WHERE id = ?",
                 [gallery.public["public-one.jpg"]["id"]])
    conn.commit()
    conn.close()
    _publish(db_path, gallery.store, out, "--base-url", "https://photos.example.org")
    purge = (out / "purge.txt").read_text().split()
    assert f"https://photos.example.org/gallery/photos/{gallery.public['public-one.jpg']['id']}" in purge
    assert all(u.startswith("https://photos.example.org/") for u in purge)


def test_publish_without_a_folder_brings_the_persisted_copy_up_to_date(gallery, tmp_path):  # noqa: F811
    db_path = copy_catalogue(gallery, tmp_path / "archive-copy")
    result = CliRunner().invoke(ingest_main, ["publish", "--db", str(db_path), "--store", str(gallery.store)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("gallery.public.db: 2 public photos")
    result = CliRunner().invoke(ingest_main, ["publish", "--rebuild", "--db", str(db_path), "--store", str(gallery.store)])
    assert result.exit_code == 0 and "2 public photos" in result.output


def test_a_bundle_server_shows_the_whole_gallery_and_follows_a_withdrawal(gallery, tmp_path):  # noqa: F811
    """With this package installed, `datasette serve DIR` shows the gallery journalists use, from
    the bundle's files alone: front page, photo browser and its search, photo pages with their
    credit line, the feed and licence-carrying downloads; a withdrawal published to the bundle
    leaves all of them, and nothing private is in any answer."""
    db_path = copy_catalogue(gallery, tmp_path / "archive-copy")
    out = tmp_path / "bundle"
    _publish(db_path, gallery.store, out, "--base-url", "https://photos.example.org")
    leaving, staying = gallery.public["public-two.jpg"], gallery.public["public-one.jpg"]
    pid, token = leaving["id"], leaving["rendition"]
    proc, url = _start(out, tmp_path / "server.log")
    try:
        pages = {"front": "/", "browser": "/-/gallery/photos", "search": "/-/gallery/photos?q=vigiltoken",
                 "photo": f"/gallery/photos/{pid}", "feed": "/-/gallery/feed.atom",
                 "demonstrations": "/-/gallery/demonstrations", "cities": "/-/gallery/cities"}
        got = {name: _fetch(url + path) for name, path in pages.items()}
        assert {name: g[0] for name, g in got.items()} == dict.fromkeys(pages, 200)
        for name in ("front", "browser", "search", "feed"):
            assert token.encode() in got[name][1], name  # its thumbnail is shown
        assert staying["rendition"].encode() not in got["search"][1]  # search narrows
        photo_page = got["photo"][1].decode()
        # The credit line names the archive and links to the photo's public address, not this server's.
        assert f"Source: https://photos.example.org/gallery/photos/{pid}" in photo_page
        assert "Download web size" in photo_page and "Download original" not in photo_page  # no originals published
        assert _fetch(f"{url}/-/gallery/download/{pid}?size=original")[0] == 404

        status, body, headers = _fetch(f"{url}/-/gallery/download/{pid}?size=web")
        assert status == 200 and body[:2] == b"\xff\xd8"
        assert b"creativecommons.org/licenses/by/4.0" in body and f"photos.example.org/gallery/photos/{pid}".encode() in body
        status, zipped, _ = _fetch(f"{url}/-/gallery/download.zip?id={pid}&id={staying['id']}&size=web")
        assert status == 200 and zipped[:2] == b"PK" and b"CREDITS.txt" in zipped
        for name, (_, answer, _) in {**got, "web": (0, body, {}), "zip": (0, zipped, {})}.items():
            text = answer.decode("latin-1").lower()
            assert [n for n, needle in needles(gallery).items() if needle.lower() in text] == [], name

        conn = sqlite3.connect(db_path)
        conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [pid])
        conn.commit()
        conn.close()
        _publish(db_path, gallery.store, out, "--base-url", "https://photos.example.org")
        after = {name: _fetch(url + path) for name, path in pages.items()}
        assert after["photo"][0] == 404
        for name in ("front", "browser", "search", "feed"):
            assert after[name][0] == 200 and token.encode() not in after[name][1], name
        assert staying["rendition"].encode() in after["browser"][1]
        assert _fetch(f"{url}/-/gallery/download/{pid}?size=web")[0] == 404
        assert _fetch(f"{url}/-/gallery/web/{token}.jpg")[0] == 404
        purge = (out / "purge.txt").read_text().split()
        assert "https://photos.example.org/-/gallery/photos" in purge and "https://photos.example.org/-/gallery/feed.atom" in purge
    finally:
        _stop(proc)


def test_a_bundle_with_originals_serves_them_as_published(gallery, tmp_path):  # noqa: F811
    db_path = copy_catalogue(gallery, tmp_path / "archive-copy")
    out = tmp_path / "bundle"
    _publish(db_path, gallery.store, out, "--originals")
    photo = gallery.public["public-one.jpg"]
    proc, url = _start(out, tmp_path / "server.log")
    try:
        assert "Download original" in _fetch(f"{url}/gallery/photos/{photo['id']}")[1].decode()
        status, body, headers = _fetch(f"{url}/-/gallery/download/{photo['id']}?size=original")
        stored = next((out / "static" / "originals").glob(f"{photo['rendition']}-*"))
        assert status == 200 and body == stored.read_bytes()
        assert "filename=" in headers.get("Content-Disposition", headers.get("content-disposition", ""))
    finally:
        _stop(proc)
