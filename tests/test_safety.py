"""A withheld photo, and everything private about any photo, is unreachable by anonymous visitors.

The issue: "A withheld photo, and its derivatives, must not be reachable by an anonymous visitor
through any route: table and row pages, JSON, CSV, arbitrary SQL, canned queries, search, facets
(counts included), map, feed, thumbnails, downloads ... write a test that walks every route pattern
the app exposes and proves it." Public JSON also never carries exact GPS (under the default `city`
setting), camera serial numbers, owner names or source paths.

A small real gallery is built with the project's own ingest: two public London photos with exact
GPS, serial numbers and an owner name in their EXIF, and one photo an archivist withholds (SQL on
the catalogue, as an archivist would), whose title, caption, creator, keywords and file name carry
the marker `zqxw`, taken in a city no public photo is in (Ljubljana) on a day of its own, so that it
alone makes a provisional demonstration and its city.

The route walk takes its route patterns from the running app (`Datasette._routes()`, which holds
Datasette's own, every plugin's `register_routes` and every static mount), so a route added later
fails `test_every_route_pattern_is_walked` until `route_urls()` covers it. Every URL is requested as
an anonymous visitor through Datasette's test client, and again over a real `ingest serve`.

Known bugs are shown by tests marked xfail(strict=True) with the bug in their reason: when one is
fixed, its test passes, strict xfail fails the run, and the marker comes off.
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import markupsafe
import pytest
import yaml
from accounts_support import archivist_cookies
from click.testing import CliRunner
from datasette.app import Datasette
from datasette.utils import resolve_routes
from datasette_versions import COUNT, FACETS, csrf_cookies, facet_results, index_databases, row_count, sql_path
from fixtures.synth import photo_like
from fixtures.writers import insert_jpeg_segments
from PIL import Image

from ingest.catalogue.schema import connect
from ingest.cli import main as ingest_main
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.media.write.exif import build_exif
from ingest.media.write.xmp import xmp_packet
from ingest.web.compat import datasette_options
from ingest.web.serving import refresh_now

ROOT = Path(__file__).resolve().parents[1]
INGEST = Path(sys.executable).parent / "ingest"
HOST = "127.0.0.1"

MARK = "zqxw"                               # in every text field of the withheld photo, and its file name
SOURCE_FOLDER = "cardzqsrc"                  # the card folder the photos were imported from (private)
SERIALS = ("SERIALZQ", "LENSSERIALZQ", "OWNERZQ")  # EXIF BodySerialNumber, LensSerialNumber, CameraOwnerName
WITHHELD_GPS = (46.048219, 14.508846)        # Ljubljana, 400 m from the city's centre (46.05108, 14.50513)
WITHHELD_CITY = "Ljubljana"
WITHHELD_DATE = "2024-06-01"
# Exact GPS of the public photos: published as London's centre (51.50853, -0.12574) by default.
PUBLIC_GPS = {"public-one.jpg": (51.504517, -0.126373), "public-two.jpg": (51.500952, -0.124683)}
LONDON = (51.50853, -0.12574)
FAIL_MARKERS = ("Traceback", "Caught this error", "OperationalError")


# ---------------------------------------------------------------- the gallery

def _photo(path: Path, seed: int, exif: dict, xmp: dict) -> None:
    """A real JPEG with EXIF (incl. serial numbers and owner name) and XMP, as a camera and Lightroom write.

    fixtures.synth.make_photo writes BodySerialNumber but not LensSerialNumber or CameraOwnerName,
    so the Exif sub-IFD gets those two here, with Pillow, before the XMP packet goes in."""
    exif_block = build_exif(exif)
    sub = exif_block.get_ifd(0x8769)
    sub[0xA430] = f"{SERIALS[2]} {path.stem}"            # CameraOwnerName
    sub[0xA435] = f"{SERIALS[1]}{seed:04d}"              # LensSerialNumber
    exif_block[0x8769] = sub
    buf = io.BytesIO()
    photo_like(480, 320, seed).save(buf, "JPEG", quality=85, exif=exif_block.tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(insert_jpeg_segments(buf.getvalue(), xmp=xmp_packet(xmp)))


@dataclass
class Gallery:
    base: Path
    db_path: Path
    store: Path
    public: dict[str, dict] = field(default_factory=dict)   # file name -> catalogue row
    withheld: dict = field(default_factory=dict)             # the withheld photo's catalogue row
    withheld_was: str = ""                                   # its rendition token while it was public
    pending: dict = field(default_factory=dict)              # a photo waiting for review (never public)
    city_id: int = 0                                         # the withheld photo's city (Ljubljana)
    demo_id: int = 0                                         # its provisional demonstration
    slugs: dict[str, str] = field(default_factory=dict)      # withheld/public city/demo -> its slug

    @property
    def public_ids(self) -> list[int]:
        return sorted(r["id"] for r in self.public.values())


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Gallery:
    base = tmp_path_factory.mktemp("safety")
    card = base / SOURCE_FOLDER
    common = {"Make": "Canon", "Model": "EOS R6", "OffsetTimeOriginal": "+00:00"}
    _photo(card / "public-one.jpg", 11,
           {**common, "DateTimeOriginal": "2024:11:02 14:30:12", "Artist": "Olena Kovalenko",
            "GPSLatitude": PUBLIC_GPS["public-one.jpg"][0], "GPSLongitude": PUBLIC_GPS["public-one.jpg"][1],
            "BodySerialNumber": f"{SERIALS[0]}0011"},
           {"dc:title": "Ceasefire march", "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"})
    _photo(card / "public-two.jpg", 12,
           {**common, "DateTimeOriginal": "2024:11:02 15:10:00", "Artist": "Olena Kovalenko",
            "GPSLatitude": PUBLIC_GPS["public-two.jpg"][0], "GPSLongitude": PUBLIC_GPS["public-two.jpg"][1],
            "BodySerialNumber": f"{SERIALS[0]}0012"},
           {"dc:title": "Vigil vigiltoken at Parliament Square", "dc:subject": ["vigil"]})
    _photo(card / f"{MARK}file.jpg", 13,
           {**common, "DateTimeOriginal": "2024:06:01 11:00:00", "Artist": f"{MARK}artist Hidden",
            "GPSLatitude": WITHHELD_GPS[0], "GPSLongitude": WITHHELD_GPS[1],
            "BodySerialNumber": f"{SERIALS[0]}0013"},
           {"dc:title": f"{MARK}title barricade", "dc:description": f"{MARK}caption kettled",
            "dc:creator": f"{MARK}creator Hidden", "dc:subject": [f"{MARK}keyword", "blockade"],
            "cc:license": "https://creativecommons.org/licenses/by/4.0/"})
    waiting = base / "waiting"
    _photo(waiting / "pending.jpg", 14,
           {**common, "DateTimeOriginal": "2024:11:02 16:00:00", "Artist": f"{MARK}pending artist",
            "GPSLatitude": PUBLIC_GPS["public-one.jpg"][0], "GPSLongitude": PUBLIC_GPS["public-one.jpg"][1],
            "BodySerialNumber": f"{SERIALS[0]}0014"},
           {"dc:title": f"{MARK}pending title barricade", "cc:license": "https://creativecommons.org/licenses/by/4.0/"})
    db_path, store = base / "gallery.db", base / "archive"
    db = connect(db_path)
    try:
        summary = run_ingest(db, Store(store), [str(card)], Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True)
        assert (summary.imported, summary.problems) == (3, 0), summary
        # A photo imported for review: licensed, credited, in a public photo's city and day, and waiting.
        held = run_ingest(db, Store(store), [str(waiting)], Options(), publish=False)
        assert (held.imported, held.waiting.total) == (1, 1), held
        # An archivist withholds the photo: plain SQL on the catalogue. Its URLs while public die with it.
        was = db.conn.execute("SELECT rendition FROM photos WHERE original_filename = ?", [f"{MARK}file.jpg"]).fetchone()[0]
        db.conn.execute("UPDATE photos SET withheld = 1 WHERE original_filename = ?", [f"{MARK}file.jpg"])
        rows = [dict(zip([d[0] for d in cur.description], r))
                for cur in [db.conn.execute("SELECT * FROM photos ORDER BY id")] for r in cur.fetchall()]
    finally:
        db.conn.close()
    g = Gallery(base, db_path, store, withheld_was=was)
    for row in rows:
        if row["withheld"]:
            g.withheld = row
        elif row["state"] == "pending":
            g.pending = row
        else:
            g.public[row["original_filename"]] = row
    assert g.pending["original_filename"] == "pending.jpg"
    assert set(g.public) == set(PUBLIC_GPS) and g.withheld
    assert g.withheld["rendition"] != was and len(was) == 32  # withholding gave it a new, unpublished token
    g.city_id, g.demo_id = g.withheld["city_id"], g.withheld["demonstration_id"]
    # The fixture is what it claims to be: exact GPS kept in the catalogue, the withheld photo alone in
    # its city and in a provisional demonstration of its own.
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT name FROM cities WHERE id = ?", [g.city_id]).fetchone()[0] == WITHHELD_CITY
        assert conn.execute("SELECT provisional, date FROM demonstrations WHERE id = ?",
                            [g.demo_id]).fetchone() == (1, WITHHELD_DATE)
        for row in g.public.values():
            assert row["city_id"] != g.city_id and row["demonstration_id"] != g.demo_id
            assert (row["latitude"], row["longitude"]) == PUBLIC_GPS[row["original_filename"]]
        assert (g.withheld["latitude"], g.withheld["longitude"]) == WITHHELD_GPS
        public = g.public["public-one.jpg"]
        for key, table, row_id in (("withheld city", "cities", g.city_id), ("withheld demo", "demonstrations", g.demo_id),
                                   ("public city", "cities", public["city_id"]),
                                   ("public demo", "demonstrations", public["demonstration_id"])):
            g.slugs[key] = conn.execute(f"SELECT slug FROM {table} WHERE id = ?", [row_id]).fetchone()[0]
    finally:
        conn.close()
    return g


def copy_catalogue(g: Gallery, folder: Path) -> Path:
    """A private copy of the catalogue (same store) for tests that change it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "gallery.db"
    src, dst = sqlite3.connect(g.db_path), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    connect(target).conn.close()  # WAL mode, as ingest leaves it
    return target


def make_ds(db_path: Path, store: Path) -> Datasette:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(store)}
    return Datasette([str(db_path)], **datasette_options(metadata))


# ---------------------------------------------------------------- what must never show

def _fmt(value: float) -> str:
    """The digits that give a coordinate away (its first 5 decimals, ~1 m), however it is printed."""
    return f"{abs(value):.6f}"[:-1]


def needles(g: Gallery) -> dict[str, str]:
    """name -> text that no anonymous response may contain (compared case-insensitively)."""
    found = {
        "withheld marker": MARK,
        "withheld sha256": g.withheld["sha256"],
        "withheld rendition": g.withheld["rendition"],
        "withheld photo's rendition while public": g.withheld_was,
        "pending sha256": g.pending["sha256"],
        "pending rendition": g.pending["rendition"],
        "withheld latitude": _fmt(WITHHELD_GPS[0]),
        "withheld longitude": _fmt(WITHHELD_GPS[1]),
        "withheld city": WITHHELD_CITY,
        "withheld date": WITHHELD_DATE,
        "withheld search word": "barricade",
        "source folder": SOURCE_FOLDER,
        "source path": str(g.base / SOURCE_FOLDER),
    }
    for serial in SERIALS:
        found[f"EXIF {serial}"] = serial
    for name, (lat, lon) in PUBLIC_GPS.items():
        found[f"exact latitude of {name}"] = _fmt(lat)
        found[f"exact longitude of {name}"] = _fmt(lon)
    return found


def _blobs(value) -> list[bytes]:
    """Datasette's JSON carries BLOBs as {"$base64": true, "encoded": ...}: decode them to search them."""
    out = []
    if isinstance(value, dict):
        if value.get("$base64") and isinstance(value.get("encoded"), str):
            out.append(base64.b64decode(value["encoded"]))
        for v in value.values():
            out.extend(_blobs(v))
    elif isinstance(value, list):
        for v in value:
            out.extend(_blobs(v))
    return out


def _echoes(url: str) -> set[str]:
    """The request's own words (path segments, query values) in the forms a page may echo them in."""
    parts = urlsplit(url)
    words = {v for _, v in parse_qsl(parts.query, keep_blank_values=True) if v}
    words |= {s for s in parts.path.split("/") if s}
    forms = set()
    for w in words:
        forms |= {w, html.escape(w), html.escape(w, quote=False), str(markupsafe.escape(w)), json.dumps(w)[1:-1],
                  quote(w), quote_plus(w), quote(w, safe=""), w.replace(" ", "+")}
    return {f.lower() for f in forms if f}


def haystack(url: str, body: bytes, headers: dict) -> str:
    """Everything a visitor receives for `url`, as lower-case text, minus what the request itself said."""
    text = body.decode("utf-8", "replace")
    extra = [f"{k}: {v}" for k, v in headers.items()]
    if body[:1] in (b"{", b"["):
        try:
            extra += [b.decode("latin-1") for b in _blobs(json.loads(body))]
        except ValueError:
            pass
    text = "\n".join([text, *extra]).lower()
    for echo in sorted(_echoes(url), key=len, reverse=True):
        text = text.replace(echo, " ")
    return text


def leaks(g: Gallery, url: str, status: int, body: bytes, headers: dict) -> list[str]:
    problems = []
    text = haystack(url, body, headers)
    for name, needle in needles(g).items():
        if needle.lower() in text:
            at = text.index(needle.lower())
            problems.append(f"{url} [{status}]: {name} {needle!r} in ...{text[max(0, at - 80):at + 80]!r}...")
    if status >= 500 or any(m in body.decode("utf-8", "replace") for m in FAIL_MARKERS):
        problems.append(f"{url}: status {status}, {body[:300]!r}")
    return problems


TOKEN_IMAGE = re.compile(r"^/-/gallery/(thumbs|web)/[0-9a-f]{32}\.jpg$")
DEFAULT_TTL = 5  # Datasette's default_cache_ttl, which the gallery does not change


def cache_problems(url: str, status: int, headers: dict) -> list[str]:
    """Withdrawals reach every cache: nothing is kept as immutable but an image named by a rendition
    token (its URL dies with the photo's publication) or a static file, and nothing else for longer
    than default_cache_ttl, whatever ?_ttl= asks."""
    control = {k.lower(): v for k, v in headers.items()}.get("cache-control", "").lower()
    path = urlsplit(url).path
    problems = []
    if "immutable" in control and not (TOKEN_IMAGE.match(path) and status in (200, 304)) \
            and not path.startswith(("/-/static/", "/-/static-plugins/", "/favicon.ico")):
        problems.append(f"{url} [{status}]: Cache-Control {control!r} on a URL that outlives a withdrawal")
    ages = [int(a) for a in re.findall(r"max-age=(\d+)", control)]
    if "immutable" not in control and any(a > DEFAULT_TTL for a in ages):
        problems.append(f"{url} [{status}]: Cache-Control {control!r} keeps it longer than {DEFAULT_TTL} s")
    return problems


# ---------------------------------------------------------------- the route walk

def _sql_urls(tables: list[str]) -> list[str]:
    urls = []
    for table in tables:
        sql = f"select * from [{table}]"
        for fmt in ("", ".json", ".csv"):
            urls.append(f"/gallery{fmt}?" + urlencode({"sql": sql, "_size": "max"}))
        urls.append("/catalogue.json?" + urlencode({"sql": sql}))
    for sql in ("select * from sqlite_master", "select * from pragma_database_list",
                "select count(*) as n from photos", "select * from photos where title like '%barricade%'",
                "select * from photos_fts where photos_fts match 'barricade OR kettled OR blockade OR hidden'"):
        urls += ["/gallery.json?" + urlencode({"sql": sql}), "/gallery?" + urlencode({"sql": sql})]
    return urls


def _table_urls(g: Gallery, tables: list[str]) -> list[str]:
    facets = "&".join(f"_facet={c}" for c in ("demonstration_id", "city_id", "year", "licence_id", "creator",
                                              "date", "date_source", "city_source", "allows_commercial"))
    urls = []
    for db in ("gallery", "catalogue", "_internal"):
        for table in tables + ["photo_sources", "metadata", "corrections", "settings", "publish_log", "edits",
                               "archivists", "problems", "ingest_runs", "city_aliases"]:
            urls += [f"/{db}/{table}", f"/{db}/{table}.json?_size=max", f"/{db}/{table}.csv?_size=max"]
    urls += [
        "/gallery/photos?_view=table", "/gallery/photos.json?_shape=array&_size=max&_labels=on",
        "/gallery/photos.json?_shape=objects&_extras=all", "/gallery/photos.csv?_stream=on&_labels=on",
        "/gallery/photos.csv?_dl=1", f"/gallery/photos.json?{facets}&_facet_size=max",
        f"/gallery/photos?{facets}&_facet_size=max", "/gallery/photos.json?_facet_array=keywords",
        f"/gallery/photos.json?city_id={g.city_id}", f"/gallery/photos.json?demonstration_id={g.demo_id}",
        f"/gallery/photos.json?date={WITHHELD_DATE}", "/gallery/photos.json?withheld=1",
        f"/gallery/photos.json?id={g.withheld['id']}", f"/gallery/photos.json?sha256={g.withheld['sha256']}",
        "/gallery/photos.json?_where=1=1&_size=max", "/gallery/photos.json?_where=title+like+'%25barricade%25'",
        "/gallery/photos.json?_search=zqxwtitle", "/gallery/photos.json?_search=kettled",
        "/gallery/photos?_search=blockade", "/gallery/photos.json?_search=hidden",
        "/gallery/photos.json?_search=barricade&_searchmode=raw", "/gallery/photos_fts.json?_search=kettled",
        "/gallery/photos.json?_sort_desc=id&_size=1", "/gallery/photos.json?_sort=title&_size=max",
        "/gallery/photos.json?_ttl=31536000", "/gallery/photos?_ttl=31536000",
        "/gallery/cities.json?_facet=country_code&_size=max", "/gallery/demonstrations.json?_facet=city_id",
        "/gallery/demonstrations.json?provisional=1", f"/gallery/cities.json?name={WITHHELD_CITY}",
        # the map (datasette-cluster-map reads the table's JSON for rows with coordinates)
        "/gallery/photos.json?_shape=objects&_labels=on&_size=max&latitude__notnull=1&longitude__notnull=1",
        "/gallery/photos.json?_col=latitude&_col=longitude&_shape=array&_size=max",
        # canned queries (metadata.yml): they route as tables
        "/gallery/free_for_commercial_use", "/gallery/free_for_commercial_use.json?_shape=array",
        "/gallery/commons_compatible.csv", "/gallery/needs_review.json?_shape=array",
        f"/gallery/photos_of_a_demonstration.json?name=&date={WITHHELD_DATE}&_shape=array",
        "/gallery/photos_of_a_demonstration?name=Unnamed&date=", "/gallery/photos_of_a_demonstration.csv?name=&date=",
        "/catalogue/free_for_commercial_use.json", "/catalogue/photos.json?_search=barricade",
    ]
    return urls


def _row_urls(g: Gallery) -> list[str]:
    w, p = g.withheld["id"], g.public_ids[0]
    urls = []
    for db in ("gallery", "catalogue"):
        for table, key in (("photos", w), ("photos", p), ("cities", g.city_id), ("demonstrations", g.demo_id),
                           ("photos_fts", w), ("photo_sources", 1), ("metadata", f"{w},exif,Artist")):
            urls += [f"/{db}/{table}/{key}", f"/{db}/{table}/{key}.json", f"/{db}/{table}/{key}.json?_shape=array"]
    return urls + [f"/gallery/photos/{g.withheld['sha256']}", f"/gallery/photos/{p}.json?_extras=all"]


def _query_urls(tables: list[str]) -> list[str]:
    """Datasette 1.0's SQL page, /db/-/query (/db?sql= redirects there): the same SQL as _sql_urls."""
    urls = []
    for table in tables:
        sql = f"select * from [{table}]"
        for fmt in ("", ".json", ".csv"):
            urls.append(f"/gallery/-/query{fmt}?" + urlencode({"sql": sql, "_size": "max"}))
        urls += ["/catalogue/-/query.json?" + urlencode({"sql": sql}), "/catalogue/-/query?" + urlencode({"sql": sql})]
    for sql in ("select * from sqlite_master", "select * from pragma_database_list",
                "select count(*) as n from photos", "select * from photos where title like '%barricade%'",
                "select * from photos_fts where photos_fts match 'barricade OR kettled OR blockade OR hidden'"):
        urls += ["/gallery/-/query.json?" + urlencode({"sql": sql}), "/gallery/-/query?" + urlencode({"sql": sql})]
    return urls + ["/_internal/-/query.json?sql=select+*+from+catalog_tables", "/_memory/-/query.json?sql=select+1"]


def datasette1_route_urls(g: Gallery, public_tables: list[str]) -> dict[str, list[str]]:
    """The routes Datasette 1.0 adds (patterns it does not serve are dropped from the walk, so these
    cost nothing on 0.65). Writes are walked by GET here and POSTed in post_urls."""
    w, p = g.withheld["id"], g.public_ids[0]
    dbs = ("gallery", "catalogue", "_internal")
    tables = ("photos", "photo_sources", "cities", "demonstrations", "metadata", "archivists")
    db = "/(?P<database>[^\\/\\.]+)"
    table = db + "/(?P<table>[^\\/\\.]+)"
    row = db + "/(?P<table>[^/]+?)/(?P<pks>[^/]+?)"
    query = db + "/(?P<query>[^\\/\\.]+)"
    plan = {
        "/(\\.(?P<format>json))?$": ["/", "/.json"],
        "/-/(\\.(?P<format>json))?$": ["/-/", "/-/.json"],
        "/-/(\\.(?P<format>jsono?))?$": ["/-/", "/-/.json", "/-/.jsono"],  # up to 1.0a35
        "/-$": ["/-"],
        "/-/config(\\.(?P<format>json))?$": ["/-/config", "/-/config.json"],
        "/-/tasks(\\.(?P<format>json))?$": ["/-/tasks", "/-/tasks.json"],
        "/-/actions(\\.(?P<format>json))?$": ["/-/actions", "/-/actions.json"],
        "/-/create-token$": ["/-/create-token"],
        "/-/api$": ["/-/api"],
        "/-/jump(\\.(?P<format>json))?$": ["/-/jump", "/-/jump.json"] + [
            "/-/jump.json?" + urlencode({"q": q}) for q in ("photo", "catalogue", "barricade", MARK, "sources", "ljub")],
        "/-/queries(\\.(?P<format>json))?$": ["/-/queries", "/-/queries.json", "/-/queries.json?q=photos"],
        "/-/schema(\\.(?P<format>json|md))?$": ["/-/schema", "/-/schema.json", "/-/schema.md"],
        "/-/allowed(\\.(?P<format>json))?$": ["/-/allowed"] + [
            f"/-/allowed.json?action={a}" for a in ("view-database", "view-table", "execute-sql", "view-query")],
        "/-/rules(\\.(?P<format>json))?$": ["/-/rules", "/-/rules.json?action=view-table"],
        "/-/check(\\.(?P<format>json))?$": ["/-/check", "/-/check.json?action=view-table&parent=catalogue&child=photos"],
        "/-/debug/autocomplete$": ["/-/debug/autocomplete"],
        db + "/-/create$": [f"/{d}/-/create" for d in dbs],
        db + "/-/foreign-key-targets$": [f"/{d}/-/foreign-key-targets" for d in dbs],
        db + "/-/queries(\\.(?P<format>json))?$": [],  # shadowed: the plugin's route below answers first
        "^" + db + "/-/queries(\\.(?P<format>json))?$": [f"/{d}/-/queries{f}" for d in dbs for f in ("", ".json")]
        + ["/gallery/-/queries.json?q=photos", "/catalogue/-/queries.json?_size=max"],
        db + "/-/queries/analyze$": [f"/{d}/-/queries/analyze?sql=select+*+from+photos" for d in dbs],
        db + "/-/queries/store$": [f"/{d}/-/queries/store" for d in dbs],
        db + "/-/execute-write/analyze$": [f"/{d}/-/execute-write/analyze?sql=select+1" for d in dbs],
        db + "/-/execute-write$": [f"/{d}/-/execute-write" for d in dbs],
        db + "/-/schema(\\.(?P<format>json|md))?$": [f"/{d}/-/schema{f}" for d in dbs for f in ("", ".json", ".md")],
        db + "/-/query/parameters$": [f"/{d}/-/query/parameters?sql=select+*+from+photos+where+id+%3D+:id"
                                      for d in dbs],
        db + "/-/query(\\.(?P<format>\\w+))?$": _query_urls(public_tables),
        query + "/-/definition$": [f"/{d}/{q}/-/definition" for d in ("gallery", "catalogue")
                                   for q in ("free_for_commercial_use", "needs_review")],
        query + "/-/edit$": [f"/{d}/free_for_commercial_use/-/edit" for d in ("gallery", "catalogue")],
        query + "/-/update$": [f"/{d}/free_for_commercial_use/-/update" for d in ("gallery", "catalogue")],
        query + "/-/delete$": [f"/{d}/free_for_commercial_use/-/delete" for d in ("gallery", "catalogue")],
        table + "/-/count$": [f"/{d}/{t}/-/count" for d in ("gallery", "catalogue") for t in tables] + [
            f"/gallery/photos/-/count?city_id={g.city_id}", "/gallery/photos/-/count?_search=barricade",
            f"/gallery/photos/-/count?date={WITHHELD_DATE}", "/catalogue/photos/-/count?withheld=1"],
        table + "/-/fragment$": [f"/{d}/photos/-/fragment" for d in ("gallery", "catalogue")] + [
            "/gallery/photos/-/fragment?_search=barricade", f"/gallery/photos/-/fragment?id={w}",
            "/gallery/photo_sources/-/fragment"],
        table + "/-/autocomplete$": [f"/{d}/{t}/-/autocomplete?q={q}" for d in ("gallery", "catalogue")
                                     for t in ("photos", "cities", "demonstrations") for q in (MARK, "ljub", w)] + [
            "/gallery/cities/-/autocomplete?_initial=1", "/catalogue/photo_sources/-/autocomplete?_initial=1"],
        table + "/-/schema(\\.(?P<format>json|md))?$": [
            f"/{d}/{t}/-/schema{f}" for d in ("gallery", "catalogue") for t in ("photos", "photo_sources")
            for f in ("", ".json")],
        table + "/-/foreign-key-suggestions$": [f"/{d}/photos/-/foreign-key-suggestions" for d in ("gallery", "catalogue")],
        row + "/-/delete$": [f"/{d}/photos/{i}/-/delete" for d in ("gallery", "catalogue") for i in (w, p)],
        row + "/-/update$": [f"/{d}/photos/{i}/-/update" for d in ("gallery", "catalogue") for i in (w, p)],
    }
    for action in ("insert", "upsert", "alter", "set-column-type", "drop"):
        plan[table + f"/-/{action}$"] = [f"/{d}/{t}/-/{action}" for d in ("gallery", "catalogue")
                                         for t in ("photos", "photo_sources")]
    return plan


def route_urls(g: Gallery, public_tables: list[str]) -> dict[str, list[str]]:
    """Route pattern -> the URLs that walk it. A pattern the app serves and this table lacks fails the walk.

    Static mounts (/-/static/, every plugin's /-/static-plugins/NAME/) are walked file by file in
    `static_urls`, from the folders the app mounts."""
    w_sha, p_sha = g.withheld["sha256"], g.public[next(iter(PUBLIC_GPS))]["sha256"]
    p_token = g.public[next(iter(PUBLIC_GPS))]["rendition"]
    w_id, p_id = g.withheld["id"], g.public_ids[0]
    p_city, p_demo = g.public[next(iter(PUBLIC_GPS))]["city_id"], g.public[next(iter(PUBLIC_GPS))]["demonstration_id"]
    return {
        # Datasette's own
        "/(\\.(?P<format>jsono?))?$": ["/.json", "/.jsono"],  # "/" is the gallery's front page (below)
        "/favicon.ico": ["/favicon.ico"],
        "/:memory:(?P<rest>.*)$": ["/:memory:", "/:memory:.json?sql=select+1"],
        "/-/metadata(\\.(?P<format>json))?$": ["/-/metadata", "/-/metadata.json"],
        "/-/versions(\\.(?P<format>json))?$": ["/-/versions", "/-/versions.json"],
        "/-/plugins(\\.(?P<format>json))?$": ["/-/plugins", "/-/plugins.json", "/-/plugins.json?all=1"],
        "/-/settings(\\.(?P<format>json))?$": ["/-/settings", "/-/settings.json"],
        "/-/config.json": ["/-/config.json"],
        "/-/config": ["/-/config"],
        "/-/threads(\\.(?P<format>json))?$": ["/-/threads", "/-/threads.json"],
        "/-/databases(\\.(?P<format>json))?$": [],  # shadowed: the plugin's route below answers first
        "^/-/databases(\\.(?P<format>json))?$": ["/-/databases", "/-/databases.json"],  # the plugin's, first
        "/-/actor(\\.(?P<format>json))?$": ["/-/actor", "/-/actor.json"],
        "/-/auth-token$": ["/-/auth-token", "/-/auth-token?token=guess"],
        "/-/logout$": ["/-/logout"],
        "/-/permissions$": ["/-/permissions"],
        "/-/messages$": ["/-/messages"],
        "/-/allow-debug$": ["/-/allow-debug", "/-/allow-debug?" + urlencode(
            {"actor": json.dumps({"id": "root"}), "allow": json.dumps({"id": "root"})})],
        "/-/patterns$": ["/-/patterns"],
        "/(?P<database>[^\\/\\.]+)\\.db$": ["/gallery.db", "/catalogue.db", "/_internal.db"],
        "/(?P<database>[^\\/\\.]+)(\\.(?P<format>\\w+))?$": [
            "/gallery", "/gallery.json", "/catalogue", "/catalogue.json", "/_internal", "/_internal.json",
            "/_memory.json?sql=select+1", "/catalogue?sql=select+*+from+photos", *_sql_urls(public_tables)],
        "/(?P<database>[^\\/\\.]+)/(?P<table>[^\\/\\.]+)(\\.(?P<format>\\w+))?$": _table_urls(g, public_tables),
        "/(?P<database>[^\\/\\.]+)/(?P<table>[^/]+?)/(?P<pks>[^/]+?)(\\.(?P<format>\\w+))?$": _row_urls(g),
        # this project's plugin (ingest/web/plugin.py, ingest/web/edit.py)
        # by rendition token (the public URL: the withheld photo's current one, and the one it had
        # while public) and by sha256 (archivists' URL, and every image's before migration 14)
        "^/-/gallery/(?P<kind>thumbs|web)/(?P<sha256>[^/]+)\\.jpg$": [
            f"/-/gallery/{kind}/{name}.jpg" for kind in ("thumbs", "web")
            for name in (w_sha, p_sha, g.withheld["rendition"], g.withheld_was, p_token, g.pending["sha256"],
                         g.pending["rendition"])]
        + [f"/-/gallery/thumbs/{w_sha.upper()}.jpg", f"/-/gallery/thumbs/{g.withheld_was.upper()}.jpg",
           f"/-/gallery/thumbs/..%2f..%2f{SOURCE_FOLDER}.jpg"],
        "^/-/gallery/download/(?P<id>\\d+)$": [
            f"/-/gallery/download/{i}?size={s}" for i in (w_id, p_id, g.pending["id"]) for s in ("original", "web")]
        + [f"/-/gallery/download/{w_id}"],
        "^/-/gallery/download\\.zip$": [
            f"/-/gallery/download.zip?id={w_id}", f"/-/gallery/download.zip?id={p_id}&id={w_id}&size=web",
            f"/-/gallery/download.zip?id={p_id}&size=web"],
        "^/-/gallery/edit/(?P<id>\\d+)$": [f"/-/gallery/edit/{w_id}", f"/-/gallery/edit/{p_id}"],
        "^/-/gallery/undo/(?P<edit>\\d+)$": ["/-/gallery/undo/1"],
        "^/-/gallery/faces/(?P<id>\\d+)$": [f"/-/gallery/faces/{w_id}", f"/-/gallery/faces/{p_id}"],
        "^/-/gallery/batch$": ["/-/gallery/batch", "/-/gallery/batch?_db=catalogue",
                               "/-/gallery/batch?_db=catalogue&withheld=1", "/-/gallery/batch?_search=barricade"],
        "^/-/gallery/manage/demonstrations$": ["/-/gallery/manage/demonstrations"],
        "^/-/gallery/review$": ["/-/gallery/review", "/-/gallery/review?show=waiting",
                                "/-/gallery/review?show=flagged&after=0"],
        "^/-/gallery/review/(?P<id>\\d+)$": [f"/-/gallery/review/{g.pending['id']}", f"/-/gallery/review/{w_id}"],
        # the gallery's own pages and feed (ingest/web/pages.py, ingest/web/feed.py)
        "^/-/gallery/demonstrations$": ["/-/gallery/demonstrations", "/-/gallery/demonstrations?next=2099-01-01,999"],
        "^/-/gallery/cities$": ["/-/gallery/cities"],
        "^/-/gallery/(?P<kind>demonstrations|cities)/id/(?P<id>\\d+)$": [
            f"/-/gallery/demonstrations/id/{g.demo_id}", f"/-/gallery/cities/id/{g.city_id}",
            f"/-/gallery/demonstrations/id/{p_demo}", f"/-/gallery/cities/id/{p_city}"],
        "^/-/gallery/demonstrations/(?P<slug>[^/]+)$": [
            f"/-/gallery/demonstrations/{g.slugs['withheld demo']}", f"/-/gallery/demonstrations/{g.slugs['public demo']}",
            f"/-/gallery/demonstrations/{g.slugs['public demo']}?next=2099-01-01,999"],
        "^/-/gallery/cities/(?P<slug>[^/]+)$": [
            f"/-/gallery/cities/{g.slugs['withheld city']}", f"/-/gallery/cities/{g.slugs['public city']}"],
        "^/-/gallery/feed\\.atom$": [
            "/-/gallery/feed.atom", f"/-/gallery/feed.atom?city={g.slugs['withheld city']}",
            f"/-/gallery/feed.atom?demonstration={g.slugs['withheld demo']}",
            f"/-/gallery/feed.atom?city={g.slugs['public city']}&demonstration={g.slugs['public demo']}"],
        # the front page and the photo browser (ingest/web/front.py, ingest/web/browse.py)
        "^/$": ["/"],
        "^/-/gallery/data$": ["/-/gallery/data"],
        "^/-/gallery/photos$": [
            "/-/gallery/photos", "/-/gallery/photos?q=barricade", "/-/gallery/photos?q=kettled",
            f"/-/gallery/photos?q={WITHHELD_CITY}", f"/-/gallery/photos?q={WITHHELD_DATE}",
            f"/-/gallery/photos?city={g.slugs['withheld city']}", f"/-/gallery/photos?demonstration={g.slugs['withheld demo']}",
            "/-/gallery/photos?use=commercial&use=commons&sort=oldest", f"/-/gallery/photos?from={WITHHELD_DATE}&to={WITHHELD_DATE}"],
        "^/-/gallery/search$": ["/-/gallery/search?q=barricade", f"/-/gallery/search?q={WITHHELD_CITY}"],
        # the archivists' sign-in (ingest/web/auth.py); /-/login is rewritten to it
        "^/-/gallery/login$": ["/-/gallery/login"],
        "^/-/login$": ["/-/login", "/-/login?next=//elsewhere.example/"],
        # photographers' uploads and My photos (ingest/web/upload.py): nothing for a visitor
        "^/-/gallery/upload$": ["/-/gallery/upload"],
        "^/-/gallery/upload/files$": ["/-/gallery/upload/files"],
        "^/-/gallery/upload/files/(?P<id>[^/]+)$": ["/-/gallery/upload/files/" + "0" * 32, "/-/gallery/upload/files/x"],
        "^/-/gallery/upload/files/(?P<id>[^/]+)/finish$": ["/-/gallery/upload/files/" + "0" * 32 + "/finish"],
        "^/-/gallery/mine$": ["/-/gallery/mine"],
        "^/-/gallery/invites$": ["/-/gallery/invites"],
        "^/-/gallery/accounts$": ["/-/gallery/accounts"],
        "^/-/gallery/settings$": ["/-/gallery/settings"],
        "^/-/gallery/invite/(?P<token>[A-Za-z0-9_-]{16,64})$": ["/-/gallery/invite/" + "A" * 32],
        "^/-/gallery/mine/(?P<id>\\d+)$": [f"/-/gallery/mine/{w_id}", f"/-/gallery/mine/{p_id}"],
        **datasette1_route_urls(g, public_tables),
    }


# Routes that change something, tried with POST by an anonymous visitor (no cookies, so no CSRF token
# is needed to reach the handler): they must refuse, and the withheld photo must stay withheld.
def post_urls(g: Gallery) -> list[tuple[str, dict | str]]:
    w_id = g.withheld["id"]
    return [
        (f"/-/gallery/edit/{w_id}", {"withheld": "no", "title": "now public"}),
        ("/-/gallery/batch", {"query": f"_db=catalogue&id={w_id}", "withheld": "no", "count": "1"}),
        ("/-/gallery/undo/1", {}),
        (f"/-/gallery/faces/{w_id}", {"action": "consent", "shown": "1"}),
        ("/-/gallery/manage/demonstrations", {"demonstration": str(g.demo_id), "name": "Named now"}),
        ("/-/gallery/review", {"decision": "approve", "photo": str(w_id)}),
        ("/-/gallery/upload/files", {"name": "x.jpg", "size": "10", "sha256": "0" * 64}),
        ("/-/gallery/invites", {"days": "7"}),
        ("/-/gallery/accounts", {"account": "root", "action": "role", "role": "admin"}),
        ("/-/gallery/settings", {"public-location": "exact", "public-faces": "show"}),
        ("/-/gallery/review", f"decision=approve&photo={g.pending['id']}&photo={w_id}"),
        ("/-/login", {"username": "root", "password": "root"}),
        ("/-/logout", {}),
        ("/-/messages", {"message": "x", "message_type": "INFO"}),
    ] + [(url, json.dumps(body)) for url, body in write_api(g)]


def write_api(g: Gallery) -> list[tuple[str, dict]]:
    """Datasette's JSON write API (1.0; 0.65 has /db/table/-/insert too): every write it offers,
    anonymously, on the catalogue and on the public copy."""
    w = g.withheld["id"]
    out = []
    for db in ("catalogue", "gallery"):
        out += [
            (f"/{db}/photos/{w}/-/update", {"update": {"withheld": 0, "title": "now public"}}),
            (f"/{db}/photos/{w}/-/delete", {}),
            (f"/{db}/photos/-/insert", {"row": {"sha256": "0" * 64, "title": MARK}}),
            (f"/{db}/photos/-/upsert", {"rows": [{"id": w, "withheld": 0}]}),
            (f"/{db}/photos/-/alter", {"operations": [{"type": "drop_column", "column": "withheld"}]}),
            (f"/{db}/photos/-/drop", {"confirm": True}),
            (f"/{db}/-/create", {"table": "leak", "rows": [{"x": 1}]}),
            (f"/{db}/-/execute-write", {"sql": f"update photos set withheld = 0 where id = {w}"}),
            (f"/{db}/-/queries/store", {"name": "leak", "sql": "select * from photos"}),
            (f"/{db}/free_for_commercial_use/-/delete", {}),
        ]
    return out


def static_urls(ds: Datasette, routes) -> dict[str, list[str]]:
    """Every static mount: each file it serves, plus a path traversal try."""
    from datasette.app import app_root
    from datasette.plugins import get_plugins

    folders = {"/-/static/(?P<path>.*)$": app_root / "datasette" / "static"}
    for plugin in get_plugins():
        if plugin["static_path"]:
            for name in {plugin["name"], plugin["name"].replace("-", "_")}:
                folders[f"/-/static-plugins/{name}/(?P<path>.*)$"] = Path(plugin["static_path"])
    out = {}
    for pattern, folder in folders.items():
        prefix = pattern.split("(?P<path>")[0]
        files = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())
        out[pattern] = [prefix + f for f in files] + [prefix + "..%2f..%2fgallery.db", prefix + "../../gallery.db"]
    return out


def public_tables(g: Gallery) -> list[str]:
    """Every table the public copy holds, shadow tables included (what anonymous SQL can read)."""
    from ingest.catalogue.public_copy import publish

    out = g.base / "probe" / "public.db"
    out.parent.mkdir(exist_ok=True)
    publish(g.db_path, out)
    conn = sqlite3.connect(out)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        conn.close()


@dataclass
class Walk:
    plan: dict[str, list[str]]        # pattern -> urls
    uncovered: list[str]              # patterns the app serves that the plan lacks
    misrouted: list[str]              # urls that do not reach the pattern they are listed under


def walk_plan(g: Gallery, ds: Datasette) -> Walk:
    routes = ds._routes()
    plan = route_urls(g, public_tables(g))
    plan.update(static_urls(ds, routes))
    served = [r.pattern for r, _ in routes]
    uncovered = [p for p in served if p not in plan]
    # Custom pages (templates/pages/*.html) route too: none may exist unwalked.
    env = ds.jinja_env if hasattr(ds, "jinja_env") else ds.get_jinja_environment()  # 1.0: per request
    pages = [t for t in env.list_templates() if t.startswith("pages/")]
    uncovered += [f"template {t}" for t in pages]
    misrouted = []
    for pattern, urls in plan.items():
        if pattern not in served:
            continue  # a route the app no longer has (a plugin not installed here): nothing to walk
        for url in urls:
            match, view = resolve_routes(routes, urlsplit(url).path)
            got = next((r.pattern for r, v in routes if v is view), None) if match else None
            if got != pattern:
                misrouted.append(f"{url}: listed under {pattern!r}, routed to {got!r}")
    plan = {p: u for p, u in plan.items() if p in served}
    return Walk(plan, uncovered, misrouted)


async def _get(ds: Datasette, url: str, **kwargs):
    response = await ds.client.get(url, **kwargs)
    return response.status_code, response.content, dict(response.headers)


async def get_all(ds: Datasette, urls: list[str], parallel: int = 8) -> dict[str, tuple[int, bytes, dict]]:
    """GET every URL through the test client, a few at a time (Datasette answers from its threads)."""
    gate = asyncio.Semaphore(parallel)

    async def one(url):
        async with gate:
            return url, await _get(ds, url)

    return dict(await asyncio.gather(*(one(u) for u in urls)))


def fetch_all(base: str, urls: list[str], parallel: int = 8) -> dict[str, tuple[int, bytes, dict]]:
    """GET every URL from a real server over HTTP, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(parallel) as pool:
        return dict(zip(urls, pool.map(lambda u: _fetch(base + u), urls)))


# ---------------------------------------------------------------- tests: the walk

async def test_every_route_pattern_is_walked(gallery):
    """The route table is the app's own: a new route (plugin or Datasette) fails here until it is walked."""
    ds = make_ds(gallery.db_path, gallery.store)
    await ds.invoke_startup()
    walk = walk_plan(gallery, ds)
    assert not walk.uncovered, f"routes the safety walk does not cover; add them to route_urls(): {walk.uncovered}"
    assert not walk.misrouted, "\n".join(walk.misrouted)
    assert sum(len(u) for u in walk.plan.values()) > 200


async def test_anonymous_walk_of_every_route_leaks_nothing(gallery):
    ds = make_ds(gallery.db_path, gallery.store)
    await ds.invoke_startup()
    walk = walk_plan(gallery, ds)
    problems, statuses = [], {}
    responses = await get_all(ds, [u for urls in walk.plan.values() for u in urls])
    for url, (status, body, headers) in responses.items():
        statuses[url] = status
        problems += leaks(gallery, url, status, body, headers) + cache_problems(url, status, headers)
        if status in (301, 302) and headers.get("location", "").startswith("/"):
            s2, b2, h2 = await _get(ds, headers["location"])
            problems += leaks(gallery, headers["location"], s2, b2, h2)
    # Routes that take only POST (Datasette 1.0's write API, and its /-/count read) answer a GET
    # with 405: they are POSTed too, with an empty JSON body.
    for url in [u for u, s in statuses.items() if s == 405]:
        response = await ds.client.post(url, content="{}", headers={"content-type": "application/json"})
        statuses[url] = response.status_code
        problems += leaks(gallery, url, response.status_code, response.content, dict(response.headers))
    for url, data in post_urls(gallery):
        if isinstance(data, str):  # JSON
            response = await ds.client.post(url, content=data, headers={"content-type": "application/json"})
        else:
            response = await ds.client.post(url, data=data)
        problems += leaks(gallery, url, response.status_code, response.content, dict(response.headers))
        if url.startswith("/-/gallery/"):
            assert response.status_code == 403, (url, response.status_code, response.text[:200])
    assert not problems, "\n".join(problems)
    conn = sqlite3.connect(gallery.db_path)
    try:  # the anonymous POSTs changed nothing
        assert conn.execute("SELECT withheld, title FROM photos WHERE id = ?", [gallery.withheld["id"]]).fetchone() \
            == (1, f"{MARK}title barricade")
        assert conn.execute("SELECT provisional, name FROM demonstrations WHERE id = ?", [gallery.demo_id]).fetchone() \
            == (1, None)
    finally:
        conn.close()

    w, w_sha = gallery.withheld["id"], gallery.withheld["sha256"]
    # The withheld photo, its city and its demonstration do not exist for an anonymous visitor; its
    # image URLs are dead, the ones it had while public among them ...
    for url in (f"/gallery/photos/{w}", f"/gallery/photos/{w}.json", f"/gallery/cities/{gallery.city_id}",
                f"/gallery/demonstrations/{gallery.demo_id}", f"/-/gallery/thumbs/{w_sha}.jpg",
                f"/-/gallery/web/{w_sha}.jpg", f"/-/gallery/thumbs/{gallery.withheld_was}.jpg",
                f"/-/gallery/web/{gallery.withheld_was}.jpg", f"/-/gallery/thumbs/{gallery.withheld['rendition']}.jpg",
                f"/-/gallery/download/{w}?size=original",
                f"/-/gallery/download.zip?id={w}", f"/-/gallery/demonstrations/{gallery.slugs['withheld demo']}",
                f"/-/gallery/cities/{gallery.slugs['withheld city']}", f"/-/gallery/demonstrations/id/{gallery.demo_id}",
                f"/-/gallery/cities/id/{gallery.city_id}", f"/-/gallery/feed.atom?city={gallery.slugs['withheld city']}",
                f"/-/gallery/feed.atom?demonstration={gallery.slugs['withheld demo']}"):
        assert statuses.get(url, 404) == 404, (url, statuses[url])
    # ... the catalogue, its downloads and the databases' files are closed ...
    for url in ("/catalogue", "/catalogue.json", "/catalogue/photos", f"/catalogue/photos/{w}.json",
                "/catalogue/photo_sources.json?_size=max", "/catalogue.json?" + urlencode({"sql": "select * from [photos]"}),
                "/catalogue.db", "/gallery.db"):
        assert statuses[url] == 403, (url, statuses[url])
    # ... as is every route under it, whatever Datasette version serves it ...
    opened = {u: s for u, s in statuses.items() if u.startswith(("/catalogue/", "/catalogue.", "/catalogue?"))
              and s not in (403, 404)}
    assert not opened, opened
    assert len([u for u in statuses if u.startswith("/catalogue")]) > 90
    # ... private tables are not even in the public copy ...
    for table in ("photo_sources", "metadata", "corrections", "settings", "publish_log", "edits", "problems"):
        assert statuses[f"/gallery/{table}.json?_size=max"] == 404
    # ... while the public photos really are served (the walk saw real pages, not errors).
    p_sha, p_token = gallery.public["public-one.jpg"]["sha256"], gallery.public["public-one.jpg"]["rendition"]
    assert statuses[f"/-/gallery/thumbs/{p_sha}.jpg"] == 302  # a public photo's old URL leads to its current one
    assert responses[f"/-/gallery/thumbs/{p_sha}.jpg"][2]["location"] == f"/-/gallery/thumbs/{p_token}.jpg"
    sql = sql_path("gallery", ".json") + "?" + urlencode({"sql": "select count(*) as n from photos"})
    for url in ("/gallery/photos", f"/gallery/photos/{gallery.public_ids[0]}", f"/-/gallery/thumbs/{p_token}.jpg",
                f"/-/gallery/web/{p_token}.jpg",
                f"/-/gallery/download/{gallery.public_ids[0]}?size=original", "/gallery/free_for_commercial_use", sql):
        assert statuses[url] == 200, (url, statuses[url])


async def test_counts_and_facets_count_public_photos_only(gallery):
    ds = make_ds(gallery.db_path, gallery.store)
    n = len(gallery.public)
    facets = ("demonstration_id", "city_id", "year", "licence_id", "allows_commercial", "commons_compatible",
              "creator", "needs_review", "date_source", "city_source", "date")
    data = (await ds.client.get(f"/gallery/photos.json?_facet_size=max&{COUNT}&"
                                + "&".join(f"_facet={f}" for f in facets))).json()
    assert row_count(data) == n
    results = facet_results(data)
    assert set(facets) <= set(results), set(facets) - set(results)
    for name in facets:
        values = results[name]["results"]
        assert sum(v["count"] for v in values) <= n, (name, values)
    withheld_values = {"city_id": gallery.city_id, "demonstration_id": gallery.demo_id, "date": WITHHELD_DATE,
                       "creator": gallery.withheld["creator"]}
    for name, value in withheld_values.items():
        assert value not in [v["value"] for v in results[name]["results"]], (name, results[name])
    for name in ("city_id", "year", "licence_id", "date_source", "needs_review", "date", "demonstration_id"):
        assert sum(v["count"] for v in results[name]["results"]) == n, (name, results[name])
    assert {v["label"] for v in results["city_id"]["results"]} == {"London"}
    # The default facets (metadata.yml) of the plain table JSON and page count public photos only.
    defaults = facet_results((await ds.client.get(f"/gallery/photos.json?{FACETS}")).json())
    assert len(defaults) >= 7  # demonstration, city, year, licence, commercial, Commons, creator
    for name, facet in defaults.items():
        assert sum(v["count"] for v in facet["results"]) <= n, (name, facet)
        if name in withheld_values:
            assert withheld_values[name] not in [v["value"] for v in facet["results"]], (name, facet)
    page = await ds.client.get("/gallery/photos")
    assert f"{n} photos" in page.text or f"{n} rows" in page.text
    # Counts wherever Datasette shows them.
    index = index_databases((await ds.client.get("/.json")).json())
    assert set(index) == {"gallery"}, "the catalogue is not listed for anonymous visitors"
    tables = {t["name"]: t for t in index["gallery"]["tables_and_views_truncated"]}
    assert tables["photos"]["count"] == n
    database = (await ds.client.get("/gallery.json")).json()
    counts = {t["name"]: t["count"] for t in database["tables"]}
    assert counts["photos"] == n and counts["cities"] == 1
    assert counts["demonstrations"] == 1, "only the London group: the withheld photo's group is not public"
    sql = (await ds.client.get(sql_path("gallery", ".json") + "?sql=select+count(*)+as+n+from+photos_fts&_shape=array")).json()
    assert sql == [{"n": n}]
    for query in ("free_for_commercial_use", "commons_compatible"):
        rows = (await ds.client.get(f"/gallery/{query}.json?_shape=array")).json()
        assert sorted(r["id"] for r in rows) == gallery.public_ids
    rows = (await ds.client.get("/gallery/photos_of_a_demonstration.json?name=&date=&_shape=array")).json()
    assert rows == []  # the only groups are unnamed; the withheld one is absent all the same
    facet = facet_results((await ds.client.get("/gallery/demonstrations.json?_facet=city_id")).json())["city_id"]
    assert [v["label"] for v in facet["results"]] == ["London"]


async def test_public_json_has_city_centre_not_exact_gps_serials_owners_or_paths(gallery):
    ds = make_ds(gallery.db_path, gallery.store)
    response = await ds.client.get("/gallery/photos.json?_shape=array&_size=max")
    rows = response.json()
    assert sorted(r["id"] for r in rows) == gallery.public_ids
    for row in rows:
        assert (row["latitude"], row["longitude"]) == LONDON
        assert row["location_source"] == "city"
        assert not {"withheld", "review_reason", "orientation"} & set(row)
    text = response.text.lower()
    for needle in [*SERIALS, SOURCE_FOLDER, str(gallery.base)]:
        assert needle.lower() not in text
    # The downloads a journalist gets carry no GPS, serial numbers or owner name either.
    for size in ("original", "web"):
        data = (await ds.client.get(f"/-/gallery/download/{gallery.public_ids[0]}?size={size}")).content
        exif = Image.open(io.BytesIO(data)).getexif()
        assert not exif.get_ifd(0x8825), f"GPS in the {size} download"
        assert not {0xA430, 0xA431, 0xA435} & set(exif.get_ifd(0x8769)), f"serial/owner in the {size} download"
        assert not any(s.encode() in data for s in SERIALS)


async def test_an_archivist_does_see_the_withheld_photo(gallery, tmp_path):
    """The markers really are in the catalogue: the walk found nothing because nothing leaks."""
    db_path = copy_catalogue(gallery, tmp_path)
    ds = make_ds(db_path, gallery.store)
    cookies = archivist_cookies(ds, db_path)
    w = gallery.withheld
    row = (await ds.client.get(f"/catalogue/photos/{w['id']}.json?_shape=array", cookies=cookies)).json()[0]
    assert row["title"] == f"{MARK}title barricade" and row["withheld"] == 1
    assert (row["latitude"], row["longitude"]) == WITHHELD_GPS
    found = (await ds.client.get("/catalogue/photos.json?_search=barricade&_shape=array", cookies=cookies)).json()
    assert sorted(r["id"] for r in found) == sorted([w["id"], gallery.pending["id"]])  # both hidden, both found
    queue = await ds.client.get("/-/gallery/review", cookies=cookies)  # the pending photo waits in the queue
    assert queue.status_code == 200 and f"{MARK}pending title" in queue.text
    paths = (await ds.client.get("/catalogue/photo_sources.json?_shape=array", cookies=cookies)).json()
    assert any(SOURCE_FOLDER in r["path"] for r in paths)
    city = (await ds.client.get(f"/catalogue/cities/{gallery.city_id}.json?_shape=array", cookies=cookies)).json()
    assert city[0]["name"] == WITHHELD_CITY
    thumb = await ds.client.get(f"/-/gallery/thumbs/{w['sha256']}.jpg", cookies=cookies)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    # The walk's detector is not blind: on the archivist's own pages it finds what it looks for.
    found = set()
    for url in ("/catalogue/photos.json?_labels=on&_shape=array", "/catalogue/photo_sources.json?_shape=array",
                "/catalogue/demonstrations.json?_shape=array"):
        status, body, headers = await _get(ds, url, cookies=cookies)
        found |= {name for name in needles(gallery) for problem in leaks(gallery, url, status, body, headers)
                  if f": {name} " in problem}
    # (the token the photo had while public is gone from the catalogue too: withholding replaced it)
    assert found == set(needles(gallery)) - {f"EXIF {s}" for s in SERIALS} - {"withheld photo's rendition while public"}, found
    # Serial numbers and owner names are never read into the catalogue (README, "Metadata with provenance").
    conn = sqlite3.connect(gallery.db_path)
    try:
        dump = "\n".join(conn.iterdump()).lower()
    finally:
        conn.close()
    assert MARK in dump and SOURCE_FOLDER in dump
    assert not [s for s in SERIALS if s.lower() in dump]


async def test_archivists_accounts_reach_no_anonymous_visitor(gallery, tmp_path):
    archivists = pytest.importorskip("ingest.catalogue.accounts")
    db_path = copy_catalogue(gallery, tmp_path)
    db = connect(db_path, create=False)
    try:
        archivists.add_archivist(db, "zqarchivist", "correct horse battery staple")
        password_hash = db.execute("SELECT password_hash FROM archivists").fetchone()[0]
    finally:
        db.conn.close()
    ds = make_ds(db_path, gallery.store)
    await ds.invoke_startup()
    walk = walk_plan(gallery, ds)
    secrets = ("zqarchivist", password_hash.split("$")[-1], "pbkdf2_sha256$")
    problems = []
    # Static files are files on disk, and the closed databases answer with one fixed page: neither can
    # hold the catalogue's accounts.
    urls = [u for pattern, urls in walk.plan.items() if "static" not in pattern for u in urls
            if not u.startswith(("/catalogue/", "/_internal/"))]
    for url, (status, body, headers) in (await get_all(ds, urls)).items():
        text = haystack(url, body, headers)
        problems += [f"{url} [{status}]: {s}" for s in secrets if s.lower() in text]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- withholding while serving

async def _poll(ds: Datasette, url: str, gone, seconds: float = 5.0) -> float:
    start = time.monotonic()
    while True:
        if gone(await ds.client.get(url)):
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"{url} still shows the photo after {seconds} s")
        await asyncio.sleep(0.1)


@pytest.fixture
def serving_copy(gallery, tmp_path):
    """A catalogue copy (same store) whose photo 'public-two.jpg' a test withholds while serving."""
    return copy_catalogue(gallery, tmp_path), gallery.public["public-two.jpg"]


def _withhold(db_path: Path, photo_id: int) -> None:
    """An archivist's SQL from another connection (another process would do the same)."""
    db = connect(db_path, create=False)
    try:
        db.conn.execute("UPDATE photos SET withheld = 1 WHERE id = ?", [photo_id])
    finally:
        db.conn.close()


async def test_withholding_while_serving_hides_the_photo_within_seconds(gallery, serving_copy):
    db_path, photo = serving_copy
    ds = make_ds(db_path, gallery.store)
    pid, sha, token = photo["id"], photo["sha256"], photo["rendition"]
    listed = f"/gallery/photos.json?_shape=array&id={pid}"
    assert len((await ds.client.get(listed)).json()) == 1
    assert (await ds.client.get(f"/-/gallery/thumbs/{token}.jpg")).status_code == 200
    assert [r["id"] for r in (await ds.client.get("/gallery/photos.json?_search=vigiltoken&_shape=array")).json()] == [pid]

    _withhold(db_path, pid)
    took = await _poll(ds, listed, lambda r: r.json() == [])  # the background refresh, no help
    assert took <= 5.0
    refresh_now(ds)
    for url in (f"/-/gallery/thumbs/{sha}.jpg", f"/-/gallery/web/{sha}.jpg", f"/-/gallery/thumbs/{token}.jpg",
                f"/-/gallery/web/{token}.jpg", f"/gallery/photos/{pid}",
                f"/gallery/photos/{pid}.json", f"/-/gallery/download/{pid}?size=web", f"/-/gallery/download.zip?id={pid}"):
        assert (await ds.client.get(url)).status_code == 404, url
    assert (await ds.client.get("/gallery/photos.json?_search=vigiltoken&_shape=array")).json() == []
    rows = (await ds.client.get(
        sql_path("gallery", ".json?") + urlencode({"sql": "select rowid from photos_fts where photos_fts match 'vigiltoken'",
                                      "_shape": "array"}))).json()
    assert rows == []
    data = (await ds.client.get(f"/gallery/photos.json?_facet=city_id&{COUNT}")).json()
    assert row_count(data) == len(gallery.public) - 1
    assert sum(v["count"] for v in facet_results(data)["city_id"]["results"]) == len(gallery.public) - 1


async def test_withholding_while_serving_leaves_no_text_in_the_public_search_index(gallery, serving_copy):
    db_path, photo = serving_copy
    ds = make_ds(db_path, gallery.store)
    # Words only this photo has. FTS5 stores terms prefix-compressed ("vigil", then "token" for
    # "vigiltoken"), so these are the exclusive ones that stand whole in the index.
    exclusive = ("parliament", "square")
    # Visitors may not read the index's internal tables at all (web/internals.py); an archivist's
    # SQL reads them, to see that the words themselves are gone too.
    assert (await ds.client.get(sql_path("gallery", ".json?") + urlencode({"sql": "select * from photos_fts_data"}))
            ).status_code == 403
    cookies = archivist_cookies(ds, db_path)
    before = await _shadow_text(ds, cookies)
    assert all(w in before for w in exclusive)  # the probe does see the index's words
    _withhold(db_path, photo["id"])
    refresh_now(ds)
    assert (await ds.client.get("/gallery/photos.json?_search=vigiltoken&_shape=array")).json() == []
    shadow = await _shadow_text(ds, cookies)
    assert [w for w in exclusive if w in shadow] == []


# Every public answer that names a public photo's images: the feed, the grid, the table and its map
# (datasette-cluster-map reads the JSON, popups included), the photo's city and demonstration pages.
def _naming_urls(g: Gallery) -> list[str]:
    return ["/-/gallery/feed.atom", "/gallery/photos", "/gallery/photos?_view=table",
            "/gallery/photos.json?_shape=objects&_labels=on&_size=max&latitude__notnull=1&longitude__notnull=1",
            f"/-/gallery/cities/{g.slugs['public city']}", f"/-/gallery/demonstrations/{g.slugs['public demo']}"]


async def _naming(ds: Datasette, g: Gallery, name: str) -> list[str]:
    """Which of those answers name `name` (a rendition token or a sha256) to an anonymous visitor."""
    return [u for u in _naming_urls(g) if name in (await ds.client.get(u)).text]


def _cli_withhold(db_path: Path, photo_id: int, withhold: bool) -> None:
    result = CliRunner().invoke(ingest_main, ["--db", str(db_path), "fix", str(photo_id),
                                       "--withhold" if withhold else "--publish"], catch_exceptions=False)
    assert result.exit_code == 0, result.output


async def _web_withhold(ds: Datasette, db_path: Path, photo_id: int, withhold: bool) -> None:
    """An archivist's edit on the photo's page (publishes at once: serving.refresh_now)."""
    cookies = archivist_cookies(ds, db_path)
    page = await ds.client.get(f"/catalogue/photos/{photo_id}", cookies=cookies)
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)[1]
    response = await ds.client.post(f"/-/gallery/edit/{photo_id}", cookies={**cookies, **csrf_cookies(page)},
                                    data={"csrftoken": token, "withheld": "yes" if withhold else "no", "next": "/"})
    assert response.status_code == 302, response.text[:300]


@pytest.mark.parametrize("how", ["ingest fix", "web edit"])
async def test_a_withdrawal_kills_the_photos_image_urls_and_publishing_again_gives_new_ones(gallery, serving_copy, how):
    """Withheld, a photo's image URLs answer 404 at once, and nothing public names them: not the feed,
    not the grid, not the map's popups. Published again, it has new URLs, and the old stay dead."""
    db_path, photo = serving_copy
    ds = make_ds(db_path, gallery.store)
    pid, sha, token = photo["id"], photo["sha256"], photo["rendition"]
    old = [f"/-/gallery/{kind}/{token}.jpg" for kind in ("thumbs", "web")]
    for url in old:
        r = await ds.client.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=86400, immutable", url
    assert await _naming(ds, gallery, token) == _naming_urls(gallery)  # the probe sees what it looks for
    # No URL carries the sha256 (the JSON does, as the photo's public sha256 column)
    assert [u for u in await _naming(ds, gallery, sha) if ".json" not in u] == []

    async def withhold(flag: bool) -> None:
        if how == "web edit":
            await _web_withhold(ds, db_path, pid, flag)
        else:
            _cli_withhold(db_path, pid, flag)
            refresh_now(ds)  # what the serving thread does within a second

    await withhold(True)
    for url in old + [f"/-/gallery/thumbs/{sha}.jpg", f"/-/gallery/web/{sha}.jpg"]:
        r = await ds.client.get(url)
        assert r.status_code == 404 and "immutable" not in r.headers.get("cache-control", ""), url
    assert await _naming(ds, gallery, token) == []
    assert await _naming(ds, gallery, str(photo["title"])) == []

    await withhold(False)
    new = (await ds.client.get(f"/gallery/photos/{pid}.json?_shape=array")).json()[0]["rendition"]
    assert new != token and len(new) == 32
    for url in old:
        assert (await ds.client.get(url)).status_code == 404, url
    for kind in ("thumbs", "web"):
        r = await ds.client.get(f"/-/gallery/{kind}/{new}.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        moved = await ds.client.get(f"/-/gallery/{kind}/{sha}.jpg")
        assert moved.status_code == 302 and moved.headers["location"] == f"/-/gallery/{kind}/{new}.jpg"
        assert moved.headers["cache-control"] == "no-store"
    assert await _naming(ds, gallery, new) == _naming_urls(gallery)
    assert await _naming(ds, gallery, token) == []


async def _shadow_text(ds: Datasette, cookies: dict) -> str:
    """What SQL on the public copy reads from every FTS5 shadow table, BLOBs decoded."""
    out = []
    for table in ("photos_fts_data", "photos_fts_idx", "photos_fts_docsize", "photos_fts_config"):
        response = await ds.client.get(sql_path("gallery", ".json?") + urlencode({"sql": f"select * from [{table}]",
                                                                      "_size": "max"}), cookies=cookies)
        assert response.status_code == 200, response.text
        out.append(response.text)
        out += [b.decode("latin-1") for b in _blobs(response.json())]
    return "\n".join(out).lower()


# ---------------------------------------------------------------- the public-location setting

@pytest.mark.parametrize("setting", ["exact", "city", "none", None])
async def test_public_location_setting(gallery, tmp_path, setting):
    db_path = copy_catalogue(gallery, tmp_path)
    if setting:
        db = connect(db_path, create=False)
        db.conn.execute("INSERT INTO settings (key, value) VALUES ('public-location', ?)", [setting])
        db.conn.close()
    ds = make_ds(db_path, gallery.store)
    response = await ds.client.get("/gallery/photos.json?_shape=array&_size=max")
    rows = {r["original_filename"]: r for r in response.json()}
    assert set(rows) == set(PUBLIC_GPS)
    for name, row in rows.items():
        expected = {"exact": PUBLIC_GPS[name], "none": (None, None)}.get(setting, LONDON)
        assert (row["latitude"], row["longitude"]) == expected, (setting, name, row)
    text = response.text
    exact_shown = any(_fmt(lat) in text for lat, _ in PUBLIC_GPS.values())
    assert exact_shown == (setting == "exact")
    # The withheld photo's GPS stays private whatever the setting says.
    assert _fmt(WITHHELD_GPS[0]) not in text and _fmt(WITHHELD_GPS[1]) not in text
    sql = (await ds.client.get(sql_path("gallery", ".json?") + urlencode(
        {"sql": "select latitude, longitude from photos", "_shape": "array"}))).text
    assert any(_fmt(lat) in sql for lat, _ in PUBLIC_GPS.values()) == (setting == "exact")


async def test_public_location_change_while_serving(gallery, tmp_path):
    db_path = copy_catalogue(gallery, tmp_path)
    ds = make_ds(db_path, gallery.store)
    url = "/gallery/photos.json?_shape=array&_size=max"
    assert {(r["latitude"], r["longitude"]) for r in (await ds.client.get(url)).json()} == {LONDON}
    for setting, expected in (("exact", set(PUBLIC_GPS.values())), ("none", {(None, None)}), ("city", {LONDON})):
        db = connect(db_path, create=False)
        db.conn.execute("INSERT INTO settings (key, value) VALUES ('public-location', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [setting])
        db.conn.close()
        refresh_now(ds)
        got = {(r["latitude"], r["longitude"]) for r in (await ds.client.get(url)).json()}
        assert got == expected, setting


# ---------------------------------------------------------------- over a real server

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End the server we started (its own session), by its id."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def _fetch(url: str, data: bytes | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, data=data, headers={"Accept-Encoding": "identity"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=20) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def served(gallery, tmp_path):
    """`ingest serve` over a copy of the catalogue, on a free loopback port."""
    db_path = copy_catalogue(gallery, tmp_path)
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(
        [str(INGEST), "serve", "--db", str(db_path), "--store", str(gallery.store), "--host", HOST, "--port", str(port)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"ingest serve exited {proc.returncode}:\n{(tmp_path / 'serve.log').read_text()[-3000:]}")
            try:
                if _fetch(url + "/-/plugins.json")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("ingest serve did not answer within 20 s")
            time.sleep(0.1)
        yield url, db_path
    finally:
        _stop(proc)
        log.close()


async def test_real_server_walk_and_withholding(gallery, served):
    """The same walk over HTTP from a real `ingest serve`; then a photo withheld by SQL from another
    process's connection disappears from it within 5 seconds, its images and downloads with it."""
    url, db_path = served
    ds = make_ds(gallery.db_path, gallery.store)  # only for the route table: the server has the same routes
    await ds.invoke_startup()
    walk = walk_plan(gallery, ds)
    problems = []
    # Every route; of the static mounts (files on disk, walked whole in-process) the first three files.
    paths = [u for pattern, urls in walk.plan.items() for u in (urls[:3] if "static" in pattern else urls)]
    responses = await asyncio.to_thread(fetch_all, url, paths)
    for path, (status, body, headers) in responses.items():
        problems += leaks(gallery, path, status, body, headers) + cache_problems(path, status, headers)
    assert not problems, "\n".join(problems)
    for name in (gallery.withheld["sha256"], gallery.withheld_was, gallery.withheld["rendition"]):
        assert _fetch(url + f"/-/gallery/thumbs/{name}.jpg")[0] == 404
    assert _fetch(url + "/catalogue.json")[0] == 403

    photo = gallery.public["public-two.jpg"]
    listed = f"{url}/gallery/photos.json?_shape=array&id={photo['id']}"
    assert len(json.loads(_fetch(listed)[1])) == 1
    old = [f"/-/gallery/{kind}/{photo['rendition']}.jpg" for kind in ("thumbs", "web")]
    for path in old:
        status, _, headers = _fetch(url + path)
        assert status == 200 and headers["Cache-Control"] == "public, max-age=86400, immutable", (path, headers)
    status, _, headers = _fetch(f"{url}/-/gallery/thumbs/{photo['sha256']}.jpg")
    assert status == 302 and headers["Location"] == old[0] and headers["Cache-Control"] == "no-store"
    _withhold(db_path, photo["id"])
    start = time.monotonic()
    while json.loads(_fetch(listed)[1]) != []:
        assert time.monotonic() - start < 5, "the withheld photo is still public after 5 s"
        time.sleep(0.1)
    for path in old + [f"/-/gallery/thumbs/{photo['sha256']}.jpg", f"/-/gallery/web/{photo['sha256']}.jpg",
                       f"/gallery/photos/{photo['id']}", f"/-/gallery/download/{photo['id']}?size=original"]:
        assert _fetch(url + path)[0] == 404, path
    for path in ("/-/gallery/feed.atom", "/gallery/photos",
                 "/gallery/photos.json?_shape=objects&_labels=on&_size=max&latitude__notnull=1&longitude__notnull=1"):
        assert photo["rendition"] not in _fetch(url + path)[1].decode(), path
    assert json.loads(_fetch(f"{url}/gallery/photos.json?_search=vigiltoken&_shape=array")[1]) == []
