"""Photographers upload through the browser (issue 16): roles, the resumable protocol, limits,
CSRF, hostile names and files, the import through the same pipeline, and who may open what.

Real catalogue files, real Datasette (its test client, CSRF layer included), real image files;
the import runs the way the server runs it (importer/uploaded.py in a process of its own)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from datasette.app import Datasette
from datasette_versions import csrf_cookies
from fixtures.catalogue import rows
from fixtures.synth import make_photo

from ingest.catalogue.accounts import accounts, add_account
from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.cli import main
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media import staging
from ingest.media.store import Store
from ingest.web import upload
from ingest.web.compat import DATASETTE_1, datasette_options

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
LONDON = (51.5045, -0.1263)
FILES = "/-/gallery/upload/files"


def shoot(path: Path, seed: int, date="2024:05:18 12:00:00") -> bytes:
    make_photo(path, width=320, height=240, seed=seed,
               exif={"DateTimeOriginal": date, "GPSLatitude": LONDON[0], "GPSLongitude": LONDON[1]})
    return path.read_bytes()



@pytest.fixture
def site(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    shoot(card / "already.jpg", 1)
    db = connect(tmp_path / "gallery.db")
    (tmp_path / "registry.yml").write_text("- {name: London march, city: London, date: 2024-05-18}\n")
    import_registry(db, tmp_path / "registry.yml")
    run_ingest(db, Store(tmp_path / "archive"), [str(card)], Options(licence="CC-BY-4.0", creator="Earlier"))
    for name, role in (("pat", "photographer"), ("quinn", "photographer"), ("alice", "archivist"), ("ada", "admin")):
        add_account(db, name, PASSWORD, role)
    db.conn.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(tmp_path / "archive")}
    return Datasette([str(tmp_path / "gallery.db")], **datasette_options(metadata)), tmp_path


async def session(ds, name: str) -> dict:
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = csrf_cookies(page)
    response = await ds.client.post("/-/login", data={"username": name, "password": PASSWORD, "csrftoken": token},
                                    cookies=cookies)
    assert response.status_code == 302, response.text
    return {"cookies": {**cookies, "ds_actor": response.cookies["ds_actor"]}, "token": token}


def sent(s: dict) -> dict:
    return {"cookies": s["cookies"], "headers": {"x-csrftoken": s["token"]}}


async def announce(ds, s, name: str, data: bytes, batch="b1", defaults=None):
    body = {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "batch": batch,
            "defaults": defaults or {}}
    return await ds.client.post(FILES, content=json.dumps(body), **sent(s))


async def put(ds, s, upload_id: str, offset: int, data: bytes):
    return await ds.client.put(f"{FILES}/{upload_id}?offset={offset}", content=data, **sent(s))


async def send_whole(ds, s, name: str, data: bytes, chunk: int = 20_000, defaults=None) -> dict:
    made = await announce(ds, s, name, data, defaults=defaults)
    assert made.status_code in (200, 201), made.text
    answer = made.json()
    if answer.get("state") != "receiving":
        return answer
    offset = answer["offset"]
    while offset < len(data):
        r = await put(ds, s, answer["id"], offset, data[offset:offset + chunk])
        assert r.status_code == 200, r.text
        offset = r.json()["offset"]
    done = await ds.client.post(f"{FILES}/{answer['id']}/finish", **sent(s))
    assert done.status_code == 202, done.text
    return done.json()


async def imported(ds, s, upload_id: str) -> dict:
    """Run the import the way the server's worker does, and read the upload's state."""
    await asyncio.to_thread(upload.run_imports, ds)
    return (await ds.client.get(f"{FILES}/{upload_id}", cookies=s["cookies"])).json()


# ---------------------------------------------------------------- roles

def test_accounts_have_roles_and_archivists_keeps_working(tmp_path):
    runner = CliRunner()
    db = ["--db", str(tmp_path / "g.db"), "--store", str(tmp_path / "a")]
    made = runner.invoke(main, ["accounts", "add", "pat", "--role", "photographer", "--password", PASSWORD, *db])
    assert made.exit_code == 0 and "photographer" in made.output
    assert runner.invoke(main, ["archivists", "add", "alice", "--password", PASSWORD, *db]).exit_code == 0
    listed = runner.invoke(main, ["accounts", "list", *db]).output
    assert "pat  photographer" in listed and "alice  archivist" in listed
    assert "alice  (added" in runner.invoke(main, ["archivists", "list", *db]).output
    assert "pat" not in runner.invoke(main, ["archivists", "list", *db]).output  # the old list: who may edit
    assert runner.invoke(main, ["accounts", "role", "alice", "admin", *db]).exit_code == 0
    wrong = runner.invoke(main, ["accounts", "passwd", "nobody", "--password", PASSWORD, *db])
    assert wrong.exit_code == 1 and "no such account" in wrong.output and "Traceback" not in wrong.output
    bad = runner.invoke(main, ["accounts", "add", "x", "--role", "owner", "--password", PASSWORD, *db])
    assert bad.exit_code == 2
    conn = connect(tmp_path / "g.db")
    assert accounts(conn)["alice"].roles == ("admin", "archivist")
    assert accounts(conn)["pat"].roles == ("photographer",)


# ---------------------------------------------------------------- the protocol

async def test_an_upload_resumes_from_the_servers_offset_and_is_held_for_review(site):
    ds, base = site
    s = await session(ds, "pat")
    data = shoot(base / "march.jpg", 7)
    defaults = {"licence": "CC-BY-SA-4.0", "creator": "Pat Doe", "demo": "London march"}
    made = await announce(ds, s, "card/DCIM/march.jpg", data, defaults=defaults)
    assert made.status_code == 201, made.text
    upload_id = made.json()["id"]
    assert (await put(ds, s, upload_id, 0, data[:10_000])).json()["offset"] == 10_000
    # The page closed; announcing the same file again says where it stands.
    again = await announce(ds, s, "card/DCIM/march.jpg", data, defaults=defaults)
    assert again.status_code == 200 and again.json()["id"] == upload_id and again.json()["offset"] == 10_000
    wrong = await put(ds, s, upload_id, 0, data[:10_000])  # a chunk sent twice is refused, with the offset
    assert wrong.status_code == 409 and wrong.json()["offset"] == 10_000
    assert (await put(ds, s, upload_id, 10_000, data[10_000:])).json()["offset"] == len(data)
    assert (await ds.client.post(f"{FILES}/{upload_id}/finish", **sent(s))).status_code == 202
    state = await imported(ds, s, upload_id)
    assert state["state"] == "imported", state
    photo = rows(base, "SELECT state, licence_id, licence_source, creator, creator_source, demonstration_source, "
                       "original_filename FROM photos WHERE id = ?", [state["photo"]])[0]
    assert photo == ("pending", "CC-BY-SA-4.0", "upload", "Pat Doe", "upload", "upload", "march.jpg")
    assert rows(base, "SELECT account FROM uploads WHERE photo_id = ?", [state["photo"]]) == [("pat",)]
    assert not (await ds.client.get(f"/gallery/photos/{state['photo']}.json")).json().get("rows")
    assert not any((base / "uploads").rglob("*.jpg"))  # staged bytes gone once imported
    # The same bytes once more: known before a byte is sent.
    dup = await announce(ds, s, "other-name.jpg", data)
    assert dup.status_code == 200 and dup.json()["state"] == "duplicate"


async def test_a_file_already_in_the_archive_is_not_sent(site):
    ds, base = site
    s = await session(ds, "pat")
    answer = await announce(ds, s, "already.jpg", (base / "card" / "already.jpg").read_bytes())
    assert answer.status_code == 200 and answer.json()["state"] == "duplicate"
    assert rows(base, "SELECT count(*) FROM uploads") == [(0,)]


async def test_bytes_that_differ_from_the_announced_hash_are_refused(site):
    ds, base = site
    s = await session(ds, "pat")
    data = shoot(base / "x.jpg", 8)
    made = (await announce(ds, s, "x.jpg", data)).json()
    tampered = bytes([data[0] ^ 1]) + data[1:]
    assert (await put(ds, s, made["id"], 0, tampered)).status_code == 200
    answer = await ds.client.post(f"{FILES}/{made['id']}/finish", **sent(s))
    assert answer.status_code == 422 and "SHA-256" in answer.json()["error"]
    assert rows(base, "SELECT state FROM uploads WHERE id = ?", [made["id"]]) == [("problem",)]
    too_many = await put(ds, s, (await announce(ds, s, "y.jpg", data[:100])).json()["id"], 0, data[:200])
    assert too_many.status_code == 400 and "more bytes" in too_many.json()["error"]


async def test_hostile_names_stay_in_the_staging_folder(site):
    ds, base = site
    s = await session(ds, "pat")
    data = shoot(base / "h.jpg", 9)
    for name in ("../../../etc/passwd.jpg", "/abs/olute.jpg", "..\\..\\win.jpg", "a/b/c/d/.hidden.jpg",
                 "nul\x00byte.jpg", "..", ""):
        made = await announce(ds, s, name, data + name.encode())
        assert made.status_code == 201, (name, made.text)
        shown = made.json()["name"]
        assert ".." not in shown.split("/") and not shown.startswith("/") and "\x00" not in shown
        await put(ds, s, made.json()["id"], 0, (data + name.encode())[:10])
    staged = [p.resolve() for p in (base / "uploads").rglob("*") if p.is_file()]
    assert staged and all((base / "uploads").resolve() in p.parents for p in staged)
    assert staging.safe_name("x/y/z/w/IMG_1.jpg") == "z/w/IMG_1.jpg"
    assert not (base / "etc").exists()


async def test_a_corrupt_file_and_a_bomb_are_named_and_the_rest_goes_on(site):
    ds, base = site
    s = await session(ds, "pat")
    from PIL import Image
    bomb = base / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 MP, a few KB
    files = {"good.jpg": shoot(base / "good.jpg", 11), "broken.jpg": b"\xff\xd8\xff\xe0 not a jpeg" * 50,
             "bomb.png": bomb.read_bytes()}
    ids = {name: (await send_whole(ds, s, name, data))["id"] for name, data in files.items()}
    await asyncio.to_thread(upload.run_imports, ds)
    states = {name: (await ds.client.get(f"{FILES}/{i}", cookies=s["cookies"])).json() for name, i in ids.items()}
    assert states["good.jpg"]["state"] == "imported"
    assert states["broken.jpg"]["state"] == "problem" and states["broken.jpg"]["problem"]
    assert states["bomb.png"]["state"] == "problem" and "megapixels" in states["bomb.png"]["problem"]
    mine = await ds.client.get("/-/gallery/mine", cookies=s["cookies"])
    assert mine.status_code == 200 and "broken.jpg" in mine.text and "waiting for review" in mine.text


async def test_a_file_that_crashes_the_importer_is_named_and_the_others_import(site):
    """A decoder that kills the import process (a signal, not an error) must not leave the batch queued
    for ever: the server retries file by file, names the one that kills it, imports the rest."""
    ds, base = site
    s = await session(ds, "pat")
    upload._one_import.acquire()  # the server's own worker waits: this test runs the import itself
    try:
        ids = {name: (await send_whole(ds, s, name, shoot(base / name, seed)))["id"]
               for name, seed in (("fine.jpg", 21), ("deadly.jpg", 22))}
        await asyncio.to_thread(_crash_and_isolate, ds, base, ids)
    finally:
        upload._one_import.release()
    states = {n: (await ds.client.get(f"{FILES}/{i}", cookies=s["cookies"])).json() for n, i in ids.items()}
    assert states["fine.jpg"]["state"] == "imported"
    assert states["deadly.jpg"]["state"] == "problem" and "crashed" in states["deadly.jpg"]["problem"]
    assert not (upload.staging_root(ds) / ids["deadly.jpg"]).exists()


async def test_two_servers_importing_the_same_queue_import_each_upload_once(site):
    """Two `ingest serve` on one catalogue each start an importer for what is queued at once: no
    upload is imported twice or turned into a 'duplicate' or 'lost bytes' problem by the other (the
    importers take turns on a lock of their own beside the catalogue, so the second finds nothing
    left to do)."""
    ds, base = site
    s = await session(ds, "pat")
    upload._one_import.acquire()  # the server's own worker waits: the two importers below race instead
    try:
        ids = [(await send_whole(ds, s, f"twice{i}.jpg", shoot(base / f"twice{i}.jpg", 30 + i)))["id"] for i in range(3)]
        photos_before = rows(base, "SELECT count(*) FROM photos")[0][0]
        run = upload.importer_run(ds)
        codes = await asyncio.gather(asyncio.to_thread(run), asyncio.to_thread(run))
    finally:
        upload._one_import.release()
    assert codes == [0, 0]
    states = [(await ds.client.get(f"{FILES}/{i}", cookies=s["cookies"])).json() for i in ids]
    assert [x["state"] for x in states] == ["imported"] * 3, states
    assert rows(base, "SELECT count(*) FROM photos")[0][0] == photos_before + 3


def _crash_and_isolate(ds, base: Path, ids: dict[str, str]) -> None:
    real = upload.importer_run(ds)
    killed = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]

    def run(*extra: str) -> int:
        # the real importer, except that the run holding deadly.jpg dies by SIGKILL, as a crashing decoder would
        if not extra or extra == ("--only", ids["deadly.jpg"]):
            return subprocess.run(killed).returncode
        return real(*extra)

    assert run() < 0
    upload.isolate_crash(str(base / "gallery.db"), upload.staging_root(ds), run)


# ---------------------------------------------------------------- limits

async def test_limits_are_settings_and_refuse_before_any_byte(site):
    ds, base = site
    runner = CliRunner()
    archive = ["--db", str(base / "gallery.db"), "--store", str(base / "archive")]
    for key, value in (("upload-max-mb", "1"), ("upload-batch-files", "2"), ("upload-quota-mb", "3")):
        assert runner.invoke(main, ["settings", key, value, *archive]).exit_code == 0
    assert runner.invoke(main, ["settings", "upload-max-mb", "lots", *archive]).exit_code == 2
    s = await session(ds, "pat")
    big = await ds.client.post(FILES, content=json.dumps({"name": "big.tif", "size": 2_000_000, "sha256": "a" * 64}),
                               **sent(s))
    assert big.status_code == 413 and "above the archive's limit of 1 MB" in big.json()["error"]
    for i in range(2):
        ok = await ds.client.post(FILES, content=json.dumps({"name": f"{i}.jpg", "size": 900_000, "sha256": f"{i}" * 64,
                                                             "batch": "b"}), **sent(s))
        assert ok.status_code == 201
    third = await ds.client.post(FILES, content=json.dumps({"name": "2.jpg", "size": 900_000, "sha256": "2" * 64,
                                                            "batch": "b"}), **sent(s))
    assert third.status_code == 413 and "too many files in one batch" in third.json()["error"]
    for i in (3, 4):  # another batch: now the quota (3 MB, 1.8 MB used)
        r = await ds.client.post(FILES, content=json.dumps({"name": f"{i}.jpg", "size": 900_000, "sha256": f"{i}" * 64,
                                                            "batch": "c"}), **sent(s))
    assert r.status_code == 413 and "quota" in r.json()["error"]
    assert runner.invoke(main, ["settings", "upload-min-free-mb", str(10**9), *archive]).exit_code == 0
    full = await ds.client.post(FILES, content=json.dumps({"name": "5.jpg", "size": 10, "sha256": "5" * 64,
                                                           "batch": "d"}), **sent(s))
    assert full.status_code == 507 and "disk is too full" in full.json()["error"]
    assert not (base / "uploads" / "5.jpg").exists()


async def test_partial_uploads_older_than_a_day_are_cleaned_up(site):
    ds, base = site
    s = await session(ds, "pat")
    made = (await announce(ds, s, "old.jpg", b"x" * 100)).json()
    await put(ds, s, made["id"], 0, b"x" * 50)
    folder = base / "uploads" / made["id"]
    import os
    import time
    old = time.time() - 2 * 24 * 3600
    for p in folder.rglob("*"):
        os.utime(p, (old, old))
    conn = sqlite3.connect(base / "gallery.db")
    conn.execute("UPDATE uploads SET created_at = '2020-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    await asyncio.to_thread(upload.run_imports, ds)
    assert not folder.exists() and rows(base, "SELECT count(*) FROM uploads") == [(0,)]


# ---------------------------------------------------------------- CSRF and who may do what

@pytest.mark.skipif(DATASETTE_1, reason="Datasette 1.0 has no CSRF token: see the cross-site test below")
async def test_csrf_protects_every_write(site):
    ds, base = site
    s = await session(ds, "pat")
    body = json.dumps({"name": "a.jpg", "size": 10, "sha256": "b" * 64})
    no_header = await ds.client.post(FILES, content=body, cookies=s["cookies"],
                                     headers={"content-type": "application/json"})
    assert no_header.status_code == 403
    wrong = await ds.client.post(FILES, content=body, cookies=s["cookies"], headers={"x-csrftoken": "forged"})
    assert wrong.status_code == 403
    made = await ds.client.post(FILES, content=body, **sent(s))
    assert made.status_code == 201
    chunk = await ds.client.put(f"{FILES}/{made.json()['id']}?offset=0", content=b"x", cookies=s["cookies"])
    assert chunk.status_code == 403
    # The known trap: a multipart POST with cookies and no header (asgi-csrf 0.11 and python-multipart
    # 0.0.34); it must be refused, never reach the handler. And a plain form with the token in its body.
    multipart = await ds.client.post(FILES, files={"file": ("a.jpg", b"x")}, cookies=s["cookies"])
    assert multipart.status_code == 403 and "x-csrftoken" in multipart.text and rows(base, "SELECT count(*) FROM uploads") == [(1,)]
    form = await ds.client.post(FILES, data={"csrftoken": s["token"], "name": "a.jpg"}, cookies=s["cookies"])
    assert form.status_code == 400  # through CSRF, refused by the protocol (not JSON)


async def test_a_cross_site_write_is_refused(site):
    """What a forged page in the photographer's browser would send (Datasette 1.0 decides by the
    browser's Sec-Fetch-Site and Origin headers; 0.65 by its token): refused, nothing recorded."""
    ds, base = site
    s = await session(ds, "pat")
    forged = {"sec-fetch-site": "cross-site", "origin": "https://evil.example"}
    body = json.dumps({"name": "a.jpg", "size": 10, "sha256": "b" * 64})
    create = await ds.client.post(FILES, content=body, cookies=s["cookies"],
                                  headers={**forged, "content-type": "application/json"})
    plain = await ds.client.post(FILES, content=body, cookies=s["cookies"], headers={**forged, "content-type": "text/plain"})
    multipart = await ds.client.post(FILES, files={"file": ("a.jpg", b"x")}, cookies=s["cookies"], headers=forged)
    assert (create.status_code, plain.status_code, multipart.status_code) == (403, 403, 403)
    made = await ds.client.post(FILES, content=body, **sent(s))
    chunk = await ds.client.put(f"{FILES}/{made.json()['id']}?offset=0", content=b"x", cookies=s["cookies"],
                                headers=forged)
    assert chunk.status_code == 403
    assert rows(base, "SELECT count(*) FROM uploads") == [(1,)]
    assert (await ds.client.get(f"{FILES}/{made.json()['id']}", cookies=s["cookies"])).json()["offset"] == 0


@pytest.mark.parametrize("who", [None, "pat", "alice", "ada"])
async def test_every_role_against_every_route(site, who):
    ds, _ = site
    s = await session(ds, who) if who else {"cookies": {}, "token": ""}
    page = await ds.client.get("/-/gallery/upload", cookies=s["cookies"])
    mine = await ds.client.get("/-/gallery/mine", cookies=s["cookies"])
    queue = await ds.client.get("/-/gallery/review", cookies=s["cookies"])
    create = await ds.client.post(FILES, content=json.dumps({"name": "r.jpg", "size": 5, "sha256": "c" * 64}), **sent(s))
    catalogue = await ds.client.get("/catalogue/photos.json", cookies=s["cookies"])
    menu = (await ds.client.get("/", cookies=s["cookies"])).text
    if who is None:
        assert page.status_code == 302 and mine.status_code == 302
        assert queue.status_code == 403 and create.status_code == 403
        assert "Upload photos" not in menu
    else:
        assert page.status_code == 200 and 'id="upload-form"' in page.text
        assert mine.status_code == 200 and create.status_code == 201
        assert "Upload photos" in menu and "My photos" in menu
    archivist = who in ("alice", "ada")
    assert (queue.status_code == 200) == archivist
    assert (catalogue.status_code == 200) == archivist
    assert ("Review queue" in menu) == archivist


async def test_a_photographer_sees_and_edits_only_their_own_waiting_photos(site):
    ds, base = site
    pat, quinn, alice = [await session(ds, n) for n in ("pat", "quinn", "alice")]
    done = await send_whole(ds, pat, "mine.jpg", shoot(base / "mine.jpg", 21),
                            defaults={"licence": "CC-BY-4.0", "creator": "Pat Doe"})
    photo = (await imported(ds, pat, done["id"]))["photo"]
    sha = rows(base, "SELECT sha256 FROM photos WHERE id = ?", [photo])[0][0]
    assert (await ds.client.get(f"/-/gallery/thumbs/{sha}.jpg", cookies=pat["cookies"])).status_code == 200
    assert (await ds.client.get(f"/-/gallery/thumbs/{sha}.jpg", cookies=quinn["cookies"])).status_code == 404
    assert (await ds.client.get(f"/-/gallery/thumbs/{sha}.jpg")).status_code == 404
    assert (await ds.client.get(f"{FILES}/{done['id']}", cookies=quinn["cookies"])).status_code == 404
    assert "mine.jpg" not in (await ds.client.get("/-/gallery/mine", cookies=quinn["cookies"])).text
    page = await ds.client.get(f"/-/gallery/mine/{photo}", cookies=pat["cookies"])
    assert page.status_code == 200 and "Save" in page.text
    assert (await ds.client.get(f"/-/gallery/mine/{photo}", cookies=quinn["cookies"])).status_code == 404
    edit = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=pat["cookies"],
                                data={"csrftoken": pat["token"], "title": "Banner at the bridge", "withheld": "no",
                                      "next": f"/-/gallery/mine/{photo}"})
    assert edit.status_code == 302
    assert rows(base, "SELECT title, state FROM photos WHERE id = ?", [photo]) == [("Banner at the bridge", "pending")]
    # A bare date, as a photographer whose phone stripped the time knows it.
    assert 'name="date"' in page.text
    dated = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=pat["cookies"],
                                 data={"csrftoken": pat["token"], "date": "2024-05-17"})
    assert dated.status_code == 302
    assert rows(base, "SELECT date, date_source FROM photos WHERE id = ?", [photo]) == [("2024-05-17", "archivist")]
    stolen = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=quinn["cookies"],
                                  data={"csrftoken": quinn["token"], "title": "Not mine"})
    assert stolen.status_code == 403
    never = await ds.client.post("/-/gallery/review", cookies=pat["cookies"],
                                 data={"csrftoken": pat["token"], "decision": "approve", "photo": str(photo)})
    assert never.status_code == 403
    approve = await ds.client.post("/-/gallery/review", cookies=alice["cookies"],
                                   data={"csrftoken": alice["token"], "decision": "approve", "photo": str(photo)})
    assert approve.status_code == 302
    assert rows(base, "SELECT state FROM photos WHERE id = ?", [photo]) == [("public",)]
    late = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=pat["cookies"],
                                data={"csrftoken": pat["token"], "title": "After publication"})
    assert late.status_code == 403  # published: an archivist's to change now
    assert "published" in (await ds.client.get("/-/gallery/mine", cookies=pat["cookies"])).text


# ---------------------------------------------------------------- invitations

async def test_an_admin_invites_a_photographer_with_a_one_time_link(site):
    ds, base = site
    for who, status in ((None, 403), ("pat", 403), ("alice", 403), ("ada", 200)):
        s = await session(ds, who) if who else {"cookies": {}}
        assert (await ds.client.get("/-/gallery/invites", cookies=s["cookies"])).status_code == status, who
    ada = await session(ds, "ada")
    made = await ds.client.post("/-/gallery/invites", cookies=ada["cookies"], data={"csrftoken": ada["token"], "days": "3"})
    assert made.status_code == 200
    link = re.search(r'value="(http[^"]+/-/gallery/invite/([^"]+))"', made.text)
    assert link, made.text
    token = link.group(2)
    assert rows(base, "SELECT count(*) FROM invites WHERE token_hash LIKE ?", [f"%{token}%"]) == [(0,)]  # only a hash
    page = await ds.client.get(f"/-/gallery/invite/{token}")
    assert page.status_code == 200 and "Join as a photographer" in page.text
    csrf = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    joined = await ds.client.post(f"/-/gallery/invite/{token}", cookies=csrf_cookies(page),
                                  data={"csrftoken": csrf, "username": "newbie", "password": PASSWORD, "password2": PASSWORD})
    assert joined.status_code == 302
    assert rows(base, "SELECT role FROM archivists WHERE name = 'newbie'") == [("photographer",)]
    again = await ds.client.post(f"/-/gallery/invite/{token}", cookies=csrf_cookies(page),
                                 data={"csrftoken": csrf, "username": "second", "password": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 404 and "used or has expired" in again.text
    assert rows(base, "SELECT count(*) FROM archivists WHERE name = 'second'") == [(0,)]
    forged = await ds.client.post("/-/gallery/invite/" + "A" * 32, cookies=csrf_cookies(page),
                                  data={"csrftoken": csrf, "username": "intruder", "password": PASSWORD, "password2": PASSWORD})
    assert forged.status_code == 404 and rows(base, "SELECT count(*) FROM archivists WHERE name = 'intruder'") == [(0,)]
    newbie = await session(ds, "newbie")
    assert (await ds.client.get("/-/gallery/upload", cookies=newbie["cookies"])).status_code == 200


def test_an_invitation_expires_and_the_cli_makes_one(site):
    _, base = site
    result = CliRunner().invoke(main, ["accounts", "invite", "--days", "1", "--db", str(base / "gallery.db"),
                                       "--store", str(base / "archive")])
    assert result.exit_code == 0 and "/-/gallery/invite/" in result.output
    token = result.output.split("/-/gallery/invite/")[1].split()[0]
    conn = sqlite3.connect(base / "gallery.db")
    conn.execute("UPDATE invites SET expires_at = '2020-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    db = connect(base / "gallery.db")
    from ingest.catalogue.accounts import invite_open, redeem_invite
    from ingest.errors import ArchiveError
    assert not invite_open(db, token)
    with pytest.raises(ArchiveError, match="expired"):
        redeem_invite(db, token, "late", PASSWORD)
    assert "late" not in accounts(db)


# ---------------------------------------------------------------- uploads and a CLI import at once

async def test_uploads_and_a_cli_import_at_once_lose_nothing_and_never_see_a_locked_database(site):
    import subprocess
    import sys
    ds, base = site
    s = await session(ds, "pat")
    card = base / "cli-card"
    card.mkdir()
    for i in range(30):
        shoot(card / f"cli-{i:02d}.jpg", 100 + i)
    cli = subprocess.Popen([sys.executable, "-c", "from ingest.cli import main; main()", str(card), "--jobs", "2",
                            "--db", str(base / "gallery.db"), "--store", str(base / "archive")],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ids = []
    for i in range(8):
        ids.append((await send_whole(ds, s, f"web-{i}.jpg", shoot(base / f"web-{i}.jpg", 200 + i)))["id"])
        if i % 3 == 0:
            await asyncio.to_thread(upload.run_imports, ds)
    await asyncio.to_thread(upload.run_imports, ds)
    out, err = cli.communicate(timeout=600)
    assert cli.returncode == 0, err.decode()
    assert "locked" not in err.decode() and "30 imported" in out.decode() + err.decode()
    states = [(await ds.client.get(f"{FILES}/{i}", cookies=s["cookies"])).json()["state"] for i in ids]
    assert states == ["imported"] * 8
    assert rows(base, "SELECT count(*) FROM photos")[0][0] == 1 + 30 + 8


async def test_a_new_demonstration_named_in_an_upload_waits_for_an_archivist(site):
    """The registry is public: a photographer's new name must not reach it unreviewed."""
    ds, base = site
    s = await session(ds, "pat")
    refused = await announce(ds, s, "x.jpg", b"x" * 10, defaults={"demo": "Typo march"})
    assert refused.status_code == 400 and "not a registered demonstration" in refused.json()["error"]
    done = await send_whole(ds, s, "new.jpg", shoot(base / "new.jpg", 31),
                            defaults={"demo": "Bridge blockade", "new_demo": True, "licence": "CC0-1.0"})
    photo = (await imported(ds, s, done["id"]))["photo"]
    assert rows(base, "SELECT count(*) FROM demonstrations WHERE name = 'Bridge blockade'") == [(0,)]
    reason, provisional = rows(base, "SELECT p.review_reason, d.provisional FROM photos p LEFT JOIN demonstrations d "
                                     "ON d.id = p.demonstration_id WHERE p.id = ?", [photo])[0]
    assert "Bridge blockade" in reason and provisional == 1
