"""Accounts under attack (issue 13): a revoked session, guessed passwords, unknown names, HTTP
Basic, an id alone, the password tool, and the headers and cookie flags every response carries.
Each attack is made for real against a real catalogue and Datasette's own test client."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import csrf_cookies
from fixtures.synth import make_photo

from ingest.catalogue.accounts import add_archivist, disable_archivist, hash_password, remove_archivist
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
CATALOGUE = "/catalogue/photo_sources.json?_shape=array"


def make_site(base: Path, **plugins) -> tuple[Datasette, Path]:
    make_photo(base / "photos" / "a.jpg", width=120, height=90, seed=1)
    db = connect(base / "gallery.db")
    run_ingest(db, Store(base / "archive"), [str(base / "photos")], Options(licence="CC-BY-4.0", creator="Ann"), publish=True)
    add_archivist(db, "alice", PASSWORD)
    db.conn.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    metadata["plugins"].update(plugins)
    return Datasette([str(base / "gallery.db")], **datasette_options(metadata)), base / "gallery.db"


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path)


async def attempt(ds, name: str, password: str, **kwargs):
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    response = await ds.client.post("/-/login", cookies=csrf_cookies(page), data={
        "username": name, "password": password, "csrftoken": token}, **kwargs)
    return response, csrf_cookies(page)


async def signed_in(ds, name="alice", password=PASSWORD) -> dict:
    response, cookies = await attempt(ds, name, password)
    assert response.status_code == 302, response.text
    return {**cookies, "ds_actor": response.cookies["ds_actor"]}


def change(db_path: Path, fn) -> None:
    """What `ingest archivists ...` does, from another connection (as the CLI would)."""
    db = connect(db_path)
    try:
        fn(db)
    finally:
        db.conn.close()


@pytest.mark.parametrize("revoke", [
    lambda db: remove_archivist(db, "alice"),
    lambda db: disable_archivist(db, "alice"),
    lambda db: add_archivist(db, "alice", "a brand new password"),
], ids=["removed", "disabled", "new-password"])
async def test_a_revoked_account_loses_its_session_at_once(site, revoke):
    ds, db_path = site
    cookies = await signed_in(ds)
    assert (await ds.client.get(CATALOGUE, cookies=cookies)).status_code == 200
    change(db_path, revoke)
    after = await ds.client.get(CATALOGUE, cookies=cookies)
    assert after.status_code == 403
    assert "ds_actor=;" in after.headers.get("set-cookie", "")  # and the browser is told to forget it
    edit = await ds.client.get("/-/gallery/manage/demonstrations", cookies=cookies)
    assert edit.status_code == 403


async def test_a_disabled_account_cannot_sign_in_until_enabled(site):
    ds, db_path = site
    change(db_path, lambda db: disable_archivist(db, "alice"))
    response, _ = await attempt(ds, "alice", PASSWORD)
    assert response.status_code == 403 and "ds_actor" not in response.cookies
    change(db_path, lambda db: disable_archivist(db, "alice", disabled=False))
    assert (await ds.client.get(CATALOGUE, cookies=await signed_in(ds))).status_code == 200


async def test_twenty_wrong_passwords_are_stopped_per_account(site):
    ds, _ = site
    statuses = [(await attempt(ds, "alice", f"wrong guess {i}"))[0].status_code for i in range(20)]
    assert statuses[:5] == [403] * 5 and set(statuses[5:]) == {429}
    locked, _ = await attempt(ds, "alice", PASSWORD)  # even the right password waits out the lock
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text


async def test_guessing_many_names_is_stopped_per_address(site):
    ds, _ = site
    statuses = [(await attempt(ds, f"name{i}", "wrong guess"))[0].status_code for i in range(21)]
    assert statuses[:20] == [403] * 20 and statuses[20] == 429
    assert (await attempt(ds, "alice", PASSWORD))[0].status_code == 429  # from the same address


async def test_unknown_and_known_names_cost_the_same(site):
    """The time a failed sign-in takes must not tell whether the name exists: both check one
    PBKDF2 hash. Measured in CPU time (the hash runs in this process's thread pool)."""
    ds, db_path = site
    await attempt(ds, "warm-up", "x")
    costs = {}
    for name in ("alice", "nobody-of-that-name"):
        started = time.process_time()
        response, _ = await attempt(ds, name, "a wrong password")
        costs[name] = time.process_time() - started
        assert response.status_code == 403 and "Wrong name or password" in response.text
    assert 0.5 < costs["alice"] / costs["nobody-of-that-name"] < 2.0, costs


async def test_password_checks_run_one_at_a_time_in_a_bounded_queue(site):
    """Guessers cannot pile up hashing work: past the queue, the form answers 503 at once."""
    ds, _ = site
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    responses = await asyncio.gather(*(ds.client.post("/-/login", cookies=csrf_cookies(page), data={
        "username": f"n{i}", "password": "wrong", "csrftoken": token}) for i in range(14)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(503) >= 1 and statuses.count(403) >= 1
    assert set(statuses) <= {403, 503}


async def test_http_basic_credentials_are_ignored(site):
    ds, _ = site
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = await ds.client.get(CATALOGUE, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 403


@pytest.mark.parametrize("actor", [{"id": "root"}, {"id": "alice", "roles": ["archivist"]},
                                   {"id": "alice", "roles": ["archivist"], "gs": "forged-token"}],
                         ids=["root", "id-and-role", "wrong-token"])
async def test_an_id_or_a_role_alone_is_no_archivist(site, actor):
    ds, _ = site
    response = await ds.client.get(CATALOGUE, cookies={"ds_actor": ds.sign({"a": actor}, "actor")})
    assert response.status_code == 403


async def test_the_password_tool_is_gone(site):
    ds, _ = site
    assert (await ds.client.get("/-/password-tool")).status_code == 404
    assert (await ds.client.post("/-/password-tool", data={"password": "x" * 20})).status_code == 404


async def test_accounts_from_configuration_sign_in_with_their_configured_roles(tmp_path):
    ds, _ = make_site(tmp_path, **{"datasette-auth-passwords": {
        "bob_password_hash": hash_password("bob's long password", iterations=1000),
        "actors": {"bob": {"id": "bob", "roles": ["archivist"]}}}})
    cookies = await signed_in(ds, "bob", "bob's long password")
    assert (await ds.client.get(CATALOGUE, cookies=cookies)).status_code == 200


@pytest.mark.parametrize("path", ["/", "/gallery/photos", "/gallery/photos/1", "/-/gallery/demonstrations",
                                  "/-/login", "/catalogue", "/-/gallery/feed.atom"])
async def test_security_headers_on_every_response(site, path):
    ds, _ = site
    response = await ds.client.get(path)
    h = response.headers
    assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] in ("same-origin", "no-referrer")
    assert h["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in h["content-security-policy"]
    if path.startswith(("/-/gallery", "/-/login")):  # the gallery's own pages: no inline script runs
        script_src = re.search(r"script-src ([^;]+)", h["content-security-policy"]).group(1)
        assert "unsafe-inline" not in script_src


async def test_session_cookie_flags(site, monkeypatch):
    ds, _ = site
    response, _ = await attempt(ds, "alice", PASSWORD)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Secure" not in cookie
    monkeypatch.setenv("INGEST_PUBLIC_URL", "https://photos.example.org")
    ds2, _ = make_site(Path(str(ds.files[0])).parent.parent / "secure")
    response, _ = await attempt(ds2, "alice", PASSWORD)
    assert "Secure" in response.headers["set-cookie"]


async def test_sign_in_never_redirects_off_the_site(site):
    ds, _ = site
    page = await ds.client.get("/-/login?next=//elsewhere.example/")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    response = await ds.client.post("/-/login", cookies=csrf_cookies(page), data={
        "username": "alice", "password": PASSWORD, "csrftoken": token, "next": "https://elsewhere.example/"})
    assert response.status_code == 302 and response.headers["location"] == "/"
