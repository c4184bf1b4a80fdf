"""The plugin touches only what it serves: another database served beside a gallery (or alone)
behaves for anonymous visitors exactly as in plain Datasette.

The issue: "its permission rules, routes and templates apply to the catalogue and public copy it
manages; any other database served beside them behaves exactly as in plain Datasette." The
unrelated database here is built to tempt the plugin: a `photos` table with a `sha256` column of
real-looking hashes (render_cell, the grid templates) and a `settings` table (a name the
catalogue also has). "Plain Datasette" is the installed Datasette in a subprocess that loads no
plugins; the same URLs are asked of both and their answers compared.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from accounts_support import archivist_cookies
from datasette.app import Datasette
from datasette_versions import databases_list, sql_path
from fixtures.synth import make_photo

from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

SHAS = [hashlib.sha256(f"other photo {i}".encode()).hexdigest() for i in range(3)]

# Plain Datasette: plugins are loaded from entry points unless sys._called_from_test is set.
_PLAIN = """
import asyncio, json, sys
sys._called_from_test = True
from datasette.app import Datasette

async def main():
    files, urls = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    ds = Datasette(files)
    out = {}
    for url in urls:
        r = await ds.client.get(url)
        out[url] = [r.status_code, r.headers.get("content-type", ""), r.text]
    print(json.dumps(out))

asyncio.run(main())
"""


def make_other(path: Path) -> Path:
    """Someone else's database: photos with sha256 hashes, settings, a table of notes."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript("""
            CREATE TABLE photos (id INTEGER PRIMARY KEY, sha256 TEXT, title TEXT, kind TEXT);
            CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
        """)
        conn.executemany("INSERT INTO photos (id, sha256, title, kind) VALUES (?, ?, ?, ?)",
                         [(i + 1, sha, f"Holiday {i}", "beach" if i % 2 else "city") for i, sha in enumerate(SHAS)])
        conn.executemany("INSERT INTO settings VALUES (?, ?)", [("theme", "dark"), ("api-key", "not-a-secret")])
        conn.executemany("INSERT INTO notes (body) VALUES (?)", [("first",), ("second",)])
        conn.commit()
    finally:
        conn.close()
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A real gallery catalogue (our ingest) and an unrelated database, in one folder."""
    base = tmp_path_factory.mktemp("scope")
    photos = base / "photos"
    make_photo(photos / "march.jpg", width=800, height=600, seed=3,
               exif={"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00",
                     "GPSLatitude": 51.5045, "GPSLongitude": -0.1263},
               xmp={"dc:title": "Ceasefire march"})
    db = connect(base / "gallery.db")
    try:
        assert run_ingest(db, Store(base / "archive"), [str(photos)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True).imported == 1
        gallery_sha = db.execute("SELECT rendition FROM photos").fetchone()[0]  # its public images' name
    finally:
        db.conn.close()
    return {"base": base, "catalogue": base / "gallery.db", "other": make_other(base / "other.db"),
            "store": base / "archive", "gallery_sha": gallery_sha}


def with_plugin(files: list[Path], store: Path) -> Datasette:
    """Datasette with this plugin (installed), configured as `ingest serve` would, less metadata.yml
    (its title and licence would show on every database's pages, plugin or not)."""
    return Datasette([str(f) for f in files], **datasette_options({"plugins": {"gallery": {"store": str(store)}}}))


def plain(files: list[Path], urls: list[str]) -> dict[str, tuple[int, str, str]]:
    """The same URLs asked of plain Datasette (no plugins at all), in a process of its own."""
    result = subprocess.run([sys.executable, "-c", _PLAIN, json.dumps([str(f) for f in files]), json.dumps(urls)],
                            capture_output=True, text=True, timeout=120, check=True)
    return {url: tuple(answer) for url, answer in json.loads(result.stdout).items()}


async def ours(ds: Datasette, urls: list[str]) -> dict[str, tuple[int, str, str]]:
    out = {}
    for url in urls:
        r = await ds.client.get(url)
        out[url] = (r.status_code, r.headers.get("content-type", ""), r.text)
    return out


VOLATILE = {"query_ms"}  # how long a query took


def _stable(value, skip: set[str]):
    if isinstance(value, dict):
        return {k: _stable(v, skip) for k, v in value.items() if k not in VOLATILE | skip}
    if isinstance(value, list):
        return [_stable(v, skip) for v in value]
    return value


def _rows_table(html: str) -> str:
    """A page's table of rows (Datasette's _table.html), as the visitor reads it."""
    found = re.search(r'<table class="rows-and-columns">.*?</table>', html, re.S)
    assert found, html[:2000]
    return found.group(0)


def other_urls() -> dict[str, list[str]]:
    sql = {"sql": "select key, value from settings order by key", "_shape": "array"}
    return {
        "json": ["/other.json", "/other/settings.json", "/other/photos.json", "/other/photos.json?_shape=array",
                 "/other/photos/1.json", "/other/notes.json?_shape=array",
                 sql_path("other", ".json") + "?" + urlencode(sql),
                 sql_path("other", ".json") + "?" + urlencode({"sql": "select sha256 from photos", "_shape": "array"}),
                 "/other/photos.json?_facet=kind"],
        "html": ["/other/photos", "/other/photos?_sort=title", "/other/photos/1", "/other/settings",
                 sql_path("other") + "?" + urlencode({"sql": "select * from photos"})],
        "status": ["/other", "/other.db", "/other/photos.csv", "/other/settings.csv"],
    }


async def compare(ds: Datasette, files: list[Path], *, suggestions: bool) -> None:
    """Every URL of the unrelated database answers as plain Datasette answers it.

    `suggestions`: whether facet suggestions can be compared. Serving a catalogue turns Datasette's
    suggest_facets setting off for the whole instance (plugin.startup: they cost the gallery's grid
    half its time), so beside a gallery another table's JSON has no suggested facets."""
    urls = other_urls()
    everything = [u for group in urls.values() for u in group]
    theirs, mine = plain(files, everything), await ours(ds, everything)
    skip = set() if suggestions else {"suggested_facets"}
    for url in everything:
        assert mine[url][0] == theirs[url][0], (url, mine[url][0], theirs[url][0], mine[url][2][:300])
    for url in urls["json"]:
        assert mine[url][0] == 200, (url, mine[url])
        assert _stable(json.loads(mine[url][2]), skip) == _stable(json.loads(theirs[url][2]), skip), url
    for url in urls["html"]:
        assert mine[url][0] == 200, url
        assert _rows_table(mine[url][2]) == _rows_table(theirs[url][2]), url
        # None of the gallery's templates, thumbnails, styles or feed on another database's pages.
        for trace in ("gallery-thumb", "gallery-grid", "gallery-card", "/-/gallery/", "gallery.css", "gallery.js",
                      "photo-page"):
            assert trace not in mine[url][2], (url, trace)
    for url in urls["status"]:
        assert mine[url][1].split(";")[0] == theirs[url][1].split(";")[0], url
    # /-/databases lists it as Datasette lists it (its path included: it is not the gallery's).
    entry = {d["name"]: d for d in databases_list((await ds.client.get("/-/databases.json")).json())}["other"]
    plain_entry = {d["name"]: d for d in databases_list(json.loads(plain(files, ["/-/databases.json"])
                                                                   ["/-/databases.json"][2]))}["other"]
    assert entry == plain_entry


async def test_another_database_beside_the_gallery_is_plain_datasette(archive):
    ds = with_plugin([archive["catalogue"], archive["other"]], archive["store"])
    await compare(ds, [archive["other"]], suggestions=False)
    # What the issue names: anonymous SQL allowed, its `settings` table visible, no thumbnails.
    response = await ds.client.get(sql_path("other", ".json") + "?" + urlencode(
        {"sql": "select value from settings where key = 'theme'", "_shape": "array"}))
    assert response.status_code == 200 and response.json() == [{"value": "dark"}]
    assert (await ds.client.get("/other/settings")).status_code == 200
    page = (await ds.client.get("/other/photos")).text
    assert SHAS[0] in page and f"/-/gallery/thumbs/{SHAS[0]}.jpg" not in page
    assert (await ds.client.get(f"/-/gallery/thumbs/{SHAS[0]}.jpg")).status_code == 404


async def test_the_gallery_beside_it_is_still_the_gallery(archive):
    """The scoping closes nothing less: the catalogue stays closed, the public copy is the grid."""
    ds = with_plugin([archive["catalogue"], archive["other"]], archive["store"])
    for url in ("/catalogue", "/catalogue/photos", "/catalogue/settings.json", "/catalogue.db",
                sql_path("catalogue", ".json") + "?sql=select+1"):
        assert (await ds.client.get(url)).status_code == 403, url
    page = (await ds.client.get("/gallery/photos")).text
    assert f"/-/gallery/thumbs/{archive['gallery_sha']}.jpg" in page and "gallery-grid" in page
    assert "gallery.css" in page
    assert (await ds.client.get(f"/-/gallery/thumbs/{archive['gallery_sha']}.jpg")).status_code == 200
    listed = {d["name"]: d for d in databases_list((await ds.client.get("/-/databases.json")).json())}
    assert set(listed) == {"gallery", "other"} and "path" not in listed["gallery"]
    sql = await ds.client.get(sql_path("gallery", ".json") + "?sql=select+count(*)+as+n+from+photos&_shape=array")
    assert sql.status_code == 200 and sql.json() == [{"n": 1}]


async def test_only_another_database_with_the_plugin_installed(archive):
    """No catalogue served: the plugin has nothing to say, not even about facet suggestions."""
    ds = with_plugin([archive["other"]], archive["store"])
    await compare(ds, [archive["other"]], suggestions=True)
    settings = (await ds.client.get("/-/settings.json")).json()
    assert settings == json.loads(plain([archive["other"]], ["/-/settings.json"])["/-/settings.json"][2])
    for url in ("/-/gallery/demonstrations", "/-/gallery/cities", "/-/gallery/feed.atom",
                f"/-/gallery/thumbs/{SHAS[0]}.jpg", "/-/gallery/download/1", "/-/gallery/download.zip?id=1"):
        assert (await ds.client.get(url)).status_code == 404, url
    root = {"ds_actor": ds.sign({"a": {"id": "root", "roles": ["archivist"]}}, "actor")}
    for url in ("/-/gallery/batch?_db=other", "/-/gallery/manage/demonstrations"):
        assert (await ds.client.get(url, cookies=root)).status_code in (403, 404), url


async def test_another_database_named_like_the_gallery_gets_datasette_own_pages(archive, tmp_path):
    """The grid and photo-page templates are picked by name (_table-gallery-photos.html): another's
    gallery.db, not a catalogue, keeps Datasette's own table and row pages."""
    named = make_other(tmp_path / "gallery.db")
    ds = with_plugin([named], archive["store"])
    urls = ["/gallery/photos", "/gallery/photos/1", "/gallery/photos?_view=table"]
    theirs, mine = plain([named], urls), await ours(ds, urls)
    for url in urls:
        assert mine[url][0] == theirs[url][0] == 200, url
        assert _rows_table(mine[url][2]) == _rows_table(theirs[url][2]), url
        assert "gallery-grid" not in mine[url][2] and "feed.atom" not in mine[url][2], url


async def test_another_database_named_catalogue_keeps_its_name_and_stays_open(archive, tmp_path):
    """Served beside a gallery, another's catalogue.db keeps /catalogue (open, as plain Datasette
    serves it); the gallery's private catalogue takes the next free name, and that one is closed."""
    other = make_other(tmp_path / "catalogue.db")
    ds = with_plugin([archive["catalogue"], other], archive["store"])
    await ds.invoke_startup()
    names = set(ds.databases) - {"_internal"}
    assert names == {"gallery", "catalogue", "catalogue_2"}, names
    assert (await ds.client.get("/catalogue/settings.json?_shape=array")).status_code == 200
    sql = await ds.client.get(sql_path("catalogue", ".json") + "?sql=select+count(*)+as+n+from+photos&_shape=array")
    assert sql.status_code == 200 and sql.json() == [{"n": 3}]
    for url in ("/catalogue_2", "/catalogue_2/photos.json", "/catalogue_2/photo_sources.json",
                sql_path("catalogue_2", ".json") + "?sql=select+1"):
        assert (await ds.client.get(url)).status_code == 403, url
    archivist = archivist_cookies(ds, archive["catalogue"])
    assert (await ds.client.get("/catalogue_2/photos.json", cookies=archivist)).status_code == 200
