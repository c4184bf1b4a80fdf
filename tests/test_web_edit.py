"""Archivists' editing through Datasette's own test client: sign-in, roles, CSRF, conflicts, batch
counts, withholding, the registry page. Each test gets its own catalogue (they write)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import COUNT, DATASETTE_1, cross_site, csrf_cookies, row_count
from fixtures.synth import make_photo

from ingest.catalogue.accounts import add_archivist
from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"


@pytest.fixture
def site(tmp_path):
    photos = tmp_path / "photos"
    for i, (name, city) in enumerate([("london-1.jpg", (51.5045, -0.1263)), ("london-2.jpg", (51.5033, -0.1196)),
                                      ("munich.jpg", (48.1374, 11.5755))]):
        make_photo(photos / name, width=400, height=300, seed=i,
                   exif={"DateTimeOriginal": "2024:05:18 12:00:00", "GPSLatitude": city[0], "GPSLongitude": city[1]})
    registry = tmp_path / "registry.yml"
    registry.write_text(yaml.safe_dump([{"name": "London march", "city": "London", "date": "2024-05-18"}]))
    db = connect(tmp_path / "gallery.db")
    import_registry(db, registry)
    run_ingest(db, Store(tmp_path / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
    add_archivist(db, "alice", PASSWORD)
    ids = {r[0]: r[1] for r in db.execute("SELECT original_filename, id FROM photos")}
    db.conn.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(tmp_path / "archive")}
    ds = Datasette([str(tmp_path / "gallery.db")], **datasette_options(metadata))
    return ds, tmp_path / "gallery.db", ids


async def sign_in(ds, name="alice", password=PASSWORD) -> dict:
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = csrf_cookies(page)
    response = await ds.client.post("/-/login", data={"username": name, "password": password, "csrftoken": token},
                                    cookies=cookies)
    if response.status_code != 302:
        return {}
    return {"cookies": {**cookies, "ds_actor": response.cookies["ds_actor"]}, "token": token}


def catalogue(path: Path, sql: str, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def test_archivists_sign_in_with_their_password_only(site):
    ds, _, _ = site
    assert await sign_in(ds, password="wrong password!") == {}
    assert await sign_in(ds, name="mallory") == {}
    session = await sign_in(ds)
    page = await ds.client.get("/gallery/photos", cookies=session["cookies"])
    assert "alice" in page.text and "Edit these photos" in page.text


async def test_edit_one_photo_then_the_public_copy_shows_it(site):
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["london-1.jpg"]
    page = await ds.client.get(f"/gallery/photos/{photo}", cookies=s["cookies"])
    seen = re.search(r'name="seen" value="(\d+)"', page.text).group(1)
    response = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "seen": seen, "title": "Whitehall", "keywords": "banner, ceasefire",
        "licence": "CC-BY-SA-4.0", "city": "London", "next": f"/gallery/photos/{photo}"})
    assert response.status_code == 302 and response.headers["location"] == f"/gallery/photos/{photo}"
    public = (await ds.client.get(f"/gallery/photos/{photo}.json?_shape=array")).json()[0]
    assert (public["title"], public["keywords"], public["licence_id"]) == ("Whitehall", '["banner", "ceasefire"]', "CC-BY-SA-4.0")
    edits = catalogue(path, "SELECT field, who, via FROM edits WHERE photo_id = ? ORDER BY id", [photo])
    assert edits == [("title", "alice", "web"), ("keywords", "alice", "web"), ("licence_id", "alice", "web")]


async def test_invalid_values_change_nothing(site):
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["london-1.jpg"]
    before = catalogue(path, "SELECT * FROM photos WHERE id = ?", [photo])
    response = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "title": "New title", "licence": "CC-BY-FOO", "next": "/"})
    assert response.status_code == 302
    assert catalogue(path, "SELECT * FROM photos WHERE id = ?", [photo]) == before
    assert catalogue(path, "SELECT count(*) FROM edits") == [(0,)]


async def test_a_stale_form_does_not_overwrite_a_newer_edit(site):
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["london-2.jpg"]
    page = await ds.client.get(f"/gallery/photos/{photo}", cookies=s["cookies"])
    seen = re.search(r'name="seen" value="(\d+)"', page.text).group(1)
    for title in ("First archivist's title", "Second archivist's title"):  # both loaded the same page
        await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
            "csrftoken": s["token"], "seen": seen, "title": title, "next": "/"})
    assert catalogue(path, "SELECT title FROM photos WHERE id = ?", [photo]) == [("First archivist's title",)]
    # a different field from the same stale page is no conflict
    await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "seen": seen, "caption": "A caption", "next": "/"})
    assert catalogue(path, "SELECT caption FROM photos WHERE id = ?", [photo]) == [("A caption",)]


async def test_withholding_on_the_web_hides_the_photo_at_once(site):
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["munich.jpg"]
    sha, token = catalogue(path, "SELECT sha256, rendition FROM photos WHERE id = ?", [photo])[0]
    assert (await ds.client.get(f"/-/gallery/thumbs/{token}.jpg")).status_code == 200
    await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "withheld": "yes", "next": "/"})
    assert (await ds.client.get(f"/gallery/photos/{photo}.json")).status_code == 404
    for name in (token, sha):  # for anonymous visitors, and for the archivist too on the public URL
        assert (await ds.client.get(f"/-/gallery/thumbs/{name}.jpg")).status_code == 404
    assert (await ds.client.get(f"/-/gallery/web/{token}.jpg", cookies=s["cookies"])).status_code == 404
    # the archivist sees its images by sha256, never stored by the browser
    mine = await ds.client.get(f"/-/gallery/thumbs/{sha}.jpg", cookies=s["cookies"])
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert row_count((await ds.client.get(f"/gallery/photos.json?_size=0&{COUNT}")).json()) == 2
    # the archivist still reaches it in the catalogue, and can publish it again
    assert (await ds.client.get(f"/catalogue/photos/{photo}", cookies=s["cookies"])).status_code == 200
    await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "withheld": "no", "next": "/"})
    assert (await ds.client.get(f"/gallery/photos/{photo}.json")).status_code == 200
    # published again under a new URL; the old one stays dead
    again = catalogue(path, "SELECT rendition FROM photos WHERE id = ?", [photo])[0][0]
    assert again != token and (await ds.client.get(f"/-/gallery/thumbs/{again}.jpg")).status_code == 200
    assert (await ds.client.get(f"/-/gallery/thumbs/{token}.jpg")).status_code == 404


async def test_batch_edit_shows_the_count_and_refuses_a_changed_set(site):
    ds, path, ids = site
    s = await sign_in(ds)
    london = catalogue(path, "SELECT id FROM cities WHERE name = 'London'")[0][0]
    query = f"_db=gallery&city_id={london}"
    page = await ds.client.get(f"/-/gallery/batch?{query}", cookies=s["cookies"])
    assert page.status_code == 200 and "<h1>Edit 2 photos</h1>" in page.text
    response = await ds.client.post("/-/gallery/batch", cookies=s["cookies"], data={
        "csrftoken": s["token"], "query": query, "count": "3", "creator": "Olena Kovalenko", "withheld": "unchanged"})
    assert response.status_code == 302  # refused: the archivist saw 3, the set has 2
    assert catalogue(path, "SELECT count(*) FROM edits") == [(0,)]
    response = await ds.client.post("/-/gallery/batch", cookies=s["cookies"], data={
        "csrftoken": s["token"], "query": query, "count": "2", "creator": "Olena Kovalenko", "withheld": "unchanged"})
    assert response.status_code == 302 and response.headers["location"] == f"/gallery/photos?city_id={london}"
    assert catalogue(path, "SELECT creator, count(*) FROM photos GROUP BY creator ORDER BY creator") == \
        [("Olena Kovalenko", 2), ("Photo desk", 1)]
    assert len({r[0] for r in catalogue(path, "SELECT batch FROM edits")}) == 1


async def test_batch_edit_refuses_unknown_filters(site):
    ds, _, _ = site
    s = await sign_in(ds)
    page = await ds.client.get("/-/gallery/batch?_db=gallery&no_such_column=1", cookies=s["cookies"])
    assert page.status_code == 400 and "no_such_column" in page.text


async def test_history_and_undo_on_the_web(site):
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["london-1.jpg"]
    await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "title": "Wrong title", "next": "/"})
    page = await ds.client.get(f"/gallery/photos/{photo}", cookies=s["cookies"])
    assert "Wrong title" in page.text and "gallery-history" in page.text
    edit_id = catalogue(path, "SELECT id FROM edits")[0][0]
    await ds.client.post(f"/-/gallery/undo/{edit_id}", cookies=s["cookies"], data={"csrftoken": s["token"], "next": "/"})
    assert catalogue(path, "SELECT title FROM photos WHERE id = ?", [photo]) == [(None,)]
    assert catalogue(path, "SELECT count(*) FROM corrections WHERE photo_id = ?", [photo]) == [(0,)]
    assert catalogue(path, "SELECT via, undoes FROM edits ORDER BY id DESC LIMIT 1") == [("undo", edit_id)]


async def test_undo_of_an_old_withhold_after_a_later_one_is_refused_on_the_web(site):
    """Withhold, publish, withhold again, then the Undo button of the first: the photo stays withheld
    and the archivist is told which edit to undo first."""
    ds, path, ids = site
    s = await sign_in(ds)
    photo = ids["london-1.jpg"]
    for withheld in ("yes", "no", "yes"):
        response = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
            "csrftoken": s["token"], "withheld": withheld, "next": "/"})
        assert response.status_code == 302
    (first,), *_, (third,) = catalogue(path, "SELECT id FROM edits WHERE photo_id = ? ORDER BY id", [photo])
    response = await ds.client.post(f"/-/gallery/undo/{first}", cookies=s["cookies"],
                                    data={"csrftoken": s["token"], "next": "/"})
    assert response.status_code == 302
    assert catalogue(path, "SELECT withheld FROM photos WHERE id = ?", [photo]) == [(1,)]
    assert catalogue(path, "SELECT count(*) FROM edits WHERE via = 'undo'") == [(0,)]
    message = ds.unsign(response.cookies["ds_messages"], "messages")
    assert message == [[f"Not undone: photo {photo}'s withheld was changed since edit {first} (by alice at "
                        f"{message[0][0].split(' at ')[1].split(')')[0]}): undo edit {third} first", ds.ERROR]]
    public = (await ds.client.get(f"/gallery/photos/{photo}.json")).status_code
    assert public == 404


async def test_manage_demonstrations_rename_and_merge(site):
    ds, path, _ = site
    s = await sign_in(ds)
    page = await ds.client.get("/-/gallery/manage/demonstrations", cookies=s["cookies"])
    assert page.status_code == 200 and "(provisional)" in page.text  # Munich's photos formed a group
    munich = catalogue(path, "SELECT id FROM demonstrations WHERE provisional = 1")[0][0]
    march = catalogue(path, "SELECT id FROM demonstrations WHERE name = 'London march'")[0][0]
    await ds.client.post("/-/gallery/manage/demonstrations", cookies=s["cookies"], data={
        "csrftoken": s["token"], "demonstration": str(munich), "name": "Munich solidarity rally"})
    assert catalogue(path, "SELECT name, provisional FROM demonstrations WHERE id = ?", [munich]) == \
        [("Munich solidarity rally", 0)]
    public = (await ds.client.get("/gallery/demonstrations.json?_shape=array")).json()
    assert "Munich solidarity rally" in {d["name"] for d in public}
    await ds.client.post("/-/gallery/manage/demonstrations", cookies=s["cookies"], data={
        "csrftoken": s["token"], "demonstration": str(munich), "merge_into": str(march)})
    assert catalogue(path, "SELECT count(*) FROM demonstrations WHERE id = ?", [munich]) == [(1,)]  # Munich is not London
    await ds.client.post("/-/gallery/manage/demonstrations", cookies=s["cookies"], data={
        "csrftoken": s["token"], "demonstration": str(munich), "merge_into": str(march), "force": "1"})
    assert catalogue(path, "SELECT count(*) FROM demonstrations WHERE id = ?", [munich]) == [(0,)]
    assert catalogue(path, "SELECT count(*) FROM photos WHERE demonstration_id = ?", [march]) == [(3,)]


@pytest.mark.parametrize("method,path", [
    ("get", "/-/gallery/batch?_db=gallery"), ("get", "/-/gallery/manage/demonstrations"),
    ("post", "/-/gallery/edit/1"), ("post", "/-/gallery/undo/1"), ("post", "/-/gallery/batch"),
    ("post", "/-/gallery/manage/demonstrations"),
])
async def test_anonymous_visitors_and_other_actors_cannot_edit(site, method, path):
    ds, db_path, _ = site
    before = catalogue(db_path, "SELECT * FROM photos")
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    reader = ds.sign({"a": {"id": "reader"}}, "actor")  # signed in, but not an archivist
    for cookies in (csrf_cookies(page), {**csrf_cookies(page), "ds_actor": reader}):
        if method == "get":
            response = await ds.client.get(path, cookies=cookies)
        else:
            response = await ds.client.post(path, cookies=cookies, data={
                "csrftoken": token, "title": "x", "query": "", "count": "3", "creator": "x",
                "demonstration": "1", "name": "x"})
        assert response.status_code == 403
    assert catalogue(db_path, "SELECT * FROM photos") == before


async def test_a_form_without_its_csrf_token_is_refused(site):
    """0.65 wants the form's token; 1.0 refuses what a browser marks as sent from another site."""
    ds, path, ids = site
    s = await sign_in(ds)
    response = await ds.client.post(f"/-/gallery/edit/{ids['london-1.jpg']}", cookies=s["cookies"],
                                    data={"title": "no token"}, headers=cross_site if DATASETTE_1 else None)
    assert response.status_code == 403
    assert catalogue(path, "SELECT count(*) FROM edits") == [(0,)]


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/", "javascript:alert(1)"])
async def test_the_form_never_redirects_off_the_site(site, target):
    ds, _, ids = site
    s = await sign_in(ds)
    photo = ids["london-1.jpg"]
    response = await ds.client.post(f"/-/gallery/edit/{photo}", cookies=s["cookies"], data={
        "csrftoken": s["token"], "title": "Moved", "next": target})
    assert response.status_code == 302 and response.headers["location"] == f"/gallery/photos/{photo}"
