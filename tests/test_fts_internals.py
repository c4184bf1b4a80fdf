"""Visitors never read the search indexes' internal tables (web/internals.py): FTS5's shadow tables
keep a withdrawn photo's words until the merge after its withdrawal has run, so their table pages
and any SQL naming them, however quoted or sent, are refused; searching, other SQL and archivists
are not affected. Real catalogue, real Datasette (its test client), on 0.65 and 1.0."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from datasette_versions import sql_path
from test_upload import session, site  # noqa: F401

SHADOWS = ["photo_search_data", "photo_search_idx", "photo_search_docsize", "photo_search_config",
           "photos_fts_data", "photos_fts_idx"]


def _sql(sql: str, fmt: str = ".json") -> str:
    return f"{sql_path('gallery', fmt)}?sql={quote(sql)}"


@pytest.mark.parametrize("name", SHADOWS)
async def test_a_visitor_cannot_open_a_shadow_table(site, name):  # noqa: F811
    ds, _ = site
    for path in (f"/gallery/{name}", f"/gallery/{name}.json", f"/gallery/{name}.csv", f"/gallery/{name}/1.json"):
        answer = await ds.client.get(path)
        assert answer.status_code == 403, path


async def test_sql_naming_a_shadow_table_is_refused_however_written(site):  # noqa: F811
    ds, _ = site
    await ds.invoke_startup()
    for sql in ("SELECT * FROM photo_search_data", 'SELECT block FROM "PHOTO_SEARCH_DATA"',
                "SELECT * FROM [photos_fts_idx]", "select * from `photo_search_docsize` limit 1",
                "SELECT * FROM pragma_table_info('photo_search_data')",
                "SELECT * FROM photos WHERE id IN (SELECT id FROM photo_search_data)"):
        for fmt in (".json", ".csv", ""):
            answer = await ds.client.get(_sql(sql, fmt))
            assert answer.status_code == 403, (sql, fmt)
    where = await ds.client.get("/gallery/photos.json?_where=" + quote("id in (select id from photo_search_docsize)"))
    assert where.status_code == 403
    # In a POST's body (Datasette 1.0 takes SQL there): form-encoded or not.
    for body in ("sql=SELECT+*+FROM+photo_search_data", '{"sql": "SELECT * FROM photo_search_data"}'):
        answer = await ds.client.post(sql_path("gallery", ".json"), content=body,
                                      headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 403, body


async def test_search_other_sql_and_archivists_are_untouched(site):  # noqa: F811
    ds, _ = site
    assert (await ds.client.get(_sql("SELECT count(*) FROM photos"))).status_code == 200
    assert (await ds.client.get("/gallery/photos.json?_search=march")).status_code == 200
    assert (await ds.client.get("/-/gallery/photos?q=march")).status_code == 200
    alice = await session(ds, "alice")
    answer = await ds.client.get(_sql("SELECT count(*) FROM photo_search_data"), cookies=alice["cookies"])
    assert answer.status_code == 200
    # A photographer is a visitor here.
    pat = await session(ds, "pat")
    assert (await ds.client.get(_sql("SELECT * FROM photo_search_data"), cookies=pat["cookies"])).status_code == 403
