"""Archivists' corrections end to end: `ingest fix`, `history`, `undo`, `demos edit|merge`, conflicts,
and corrections that survive re-ingest, retag, registry re-imports and edited XMP sidecars.

Every case builds a real archive: real JPEGs (fixtures.synth.make_photo) with real EXIF and XMP sidecars,
imported by the real `ingest` command into a real SQLite file, with the flyer's registry
(samples/registry.yml). Commands run through click's runner over the real command group (the `cli`
fixture), and one case runs the installed `ingest` script in a subprocess. Nothing is mocked.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.corrections import Conflict, apply_changes, last_edit, parse_changes
from ingest.catalogue.schema import connect
from ingest.media.write.xmp import xmp_packet

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_REGISTRY = ROOT / "samples" / "registry.yml"

WHITEHALL = (51.5045, -0.1263)
ODEONSPLATZ = (48.1424, 11.5775)
PARIS = (48.8566, 2.3522)

_seeds = itertools.count(9100)

SIDECAR_V1 = {
    "dc:title": "Sidecar title", "dc:description": "Sidecar caption", "dc:creator": ["Marek Horváth"],
    "photoshop:City": "Brussels", "Iptc4xmpCore:CountryCode": "BE", "photoshop:DateCreated": "2025-05-17T15:30:00",
    "cc:license": "https://creativecommons.org/licenses/by/4.0/",
}
SIDECAR_V2 = {  # the photographer fixed everything again in Lightroom
    "dc:title": "Sidecar title, second version", "dc:description": "Sidecar caption, second version",
    "dc:creator": ["Zoë Müller"], "photoshop:City": "Bratislava", "Iptc4xmpCore:CountryCode": "SK",
    "photoshop:DateCreated": "2024-09-28T11:00:00",
    "cc:license": "https://creativecommons.org/licenses/by-nc/4.0/",
}


# ---- helpers ------------------------------------------------------------------------------------

def photo(path: Path, **meta) -> Path:
    """A small real JPEG; each has its own pixels (never a duplicate)."""
    return make_photo(path, width=64, height=48, seed=next(_seeds), **meta)


def shot(when: str, place: tuple[float, float], offset: str, **extra) -> dict:
    return {"DateTimeOriginal": when.replace("-", ":", 2), "OffsetTimeOriginal": offset,
            "GPSLatitude": place[0], "GPSLongitude": place[1], **extra}


def write_sidecar(path: Path, fields: dict, bump: int = 0) -> None:
    """Write an XMP sidecar; `bump` moves its mtime forward so a re-scan sees the edit."""
    path.write_bytes(xmp_packet(fields))
    if bump:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def refused(result, *fragments: str) -> str:
    """A refusal: non-zero exit, one `Error:` line naming the problem, no traceback, no internal error."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    other = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("Error:", "Usage:", "Try "))]
    assert other == [], result.stderr
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), (fragment, errors[0])
    return errors[0]


def query(cli, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(cli.db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(cli, sql: str, *params):
    rows = query(cli, sql, *params)
    return rows[0][0] if rows else None


def photo_row(cli, photo_id: int) -> dict:
    conn = sqlite3.connect(cli.db_path)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(
            """SELECT p.*, c.name AS city, d.slug AS demo_slug, d.name AS demo_name
               FROM photos p LEFT JOIN cities c ON c.id = p.city_id
               LEFT JOIN demonstrations d ON d.id = p.demonstration_id WHERE p.id = ?""", [photo_id]).fetchone()
        return dict(row)
    finally:
        conn.close()


def corrections(cli, photo_id: int) -> dict:
    return {f: json.loads(v) if v is not None else None
            for f, v in query(cli, "SELECT field, value FROM corrections WHERE photo_id = ?", photo_id)}


def edits(cli, where: str = "1", *params) -> list[dict]:
    conn = sqlite3.connect(cli.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM edits WHERE {where} ORDER BY id", params)]
    finally:
        conn.close()


def dump(db_path) -> dict:
    """Every row of every table (the FTS index's shadow tables aside: they follow `photos`)."""
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'photos_fts%' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables} | {
            "user_version": conn.execute("PRAGMA user_version").fetchone()[0]}
    finally:
        conn.close()


def demo_id(cli, slug: str) -> int:
    found = scalar(cli, "SELECT id FROM demonstrations WHERE slug = ?", slug)
    assert found is not None, slug
    return found


def city_id(cli, name: str) -> int | None:
    return scalar(cli, "SELECT id FROM cities WHERE name = ?", name)


@dataclass
class Gallery:
    cli: object
    inbox: Path     # the folder imported
    card: Path      # where the files are
    ids: dict       # file name -> photo id
    own_files: bool = True

    @property
    def db_path(self) -> str:
        return self.cli.db_path

    def ingest(self, *paths: Path) -> str:
        assert self.own_files or paths, "a copied gallery shares its files: use fresh_gallery to re-import them"
        return ok(self.cli("--jobs", "1", "--publish", *[str(p) for p in (paths or (self.inbox,))]))


def build_gallery(base: Path, cli) -> Gallery:
    """The flyer's registry, then three photos: Munich (GPS), London (GPS, CC BY-SA in EXIF), and one
    described only by its XMP sidecar (Brussels, May 2025, CC BY 4.0)."""
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    inbox = base / "in"
    card = inbox / "card" / "DCIM" / "100TEST"
    photo(card / "odeon.jpg", exif=shot("2024-05-18 14:22:10", ODEONSPLATZ, "+02:00", Artist="Olena Kovalenko"))
    photo(card / "white.jpg", exif=shot("2024-08-03 12:41:00", WHITEHALL, "+01:00", Copyright="CC BY-SA 4.0"))
    photo(card / "side.jpg")
    write_sidecar(card / "side.jpg.xmp", SIDECAR_V1)
    g = Gallery(cli, inbox, card, {})
    g.ingest()
    g.ids = {name: pid for pid, name in query(cli, "SELECT id, original_filename FROM photos")}
    assert set(g.ids) == {"odeon.jpg", "white.jpg", "side.jpg"}
    return g


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Gallery:
    """One gallery built per module; `gallery` gives each test its own copy of the catalogue."""
    from click.testing import CliRunner

    from ingest.cli import main

    base = tmp_path_factory.mktemp("template")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--db", str(base / "gallery.db"), "--store", str(base / "archive"), *args],
                             catch_exceptions=False)

    run.db_path, run.store_path = str(base / "gallery.db"), str(base / "archive")
    return build_gallery(base, run)


@pytest.fixture
def gallery(template, cli) -> Gallery:
    """A copy of the template's catalogue (a real SQLite file) for this test; the photo files are shared,
    so a test that re-imports or edits them uses `fresh_gallery`."""
    for suffix in ("", "-wal"):
        src = Path(template.db_path + suffix)
        if src.exists():
            shutil.copyfile(src, cli.db_path + suffix)
    return Gallery(cli, template.inbox, template.card, dict(template.ids), own_files=False)


@pytest.fixture
def fresh_gallery(tmp_path, cli) -> Gallery:
    return build_gallery(tmp_path, cli)


def test_the_gallery_is_what_the_tests_assume(gallery):
    cli, ids = gallery.cli, gallery.ids
    odeon, white, side = (photo_row(cli, ids[n]) for n in ("odeon.jpg", "white.jpg", "side.jpg"))
    assert (odeon["city"], odeon["date"], odeon["demo_slug"], odeon["licence_id"], odeon["creator"]) == (
        "Munich", "2024-05-18", "2024-05-18-munich", None, "Olena Kovalenko")
    assert (white["city"], white["date"], white["demo_slug"], white["licence_id"]) == (
        "London", "2024-08-03", "2024-08-03-london-ceasefire-gaza", "CC-BY-SA-4.0")
    assert (side["title"], side["caption"], side["creator"], side["city"], side["date"], side["demo_slug"],
            side["licence_id"]) == ("Sidecar title", "Sidecar caption", "Marek Horváth", "Brussels", "2025-05-17",
                                    "2025-05-brussels", "CC-BY-4.0")
    assert query(cli, "SELECT count(*) FROM corrections") == [(0,)]
    assert query(cli, "SELECT count(*) FROM edits") == [(0,)]


# =================================================================================================
# ingest fix: every field, and how a photo is named
# =================================================================================================

def test_fix_title_caption_creator(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    out = ok(cli("fix", str(pid), "--title", "Whitehall, 3 August", "--caption", "Banners at Whitehall",
                 "--creator", "Sam Okafor", "--who", "ann"))
    assert "title (empty) -> 'Whitehall, 3 August'" in out
    r = photo_row(cli, pid)
    assert (r["title"], r["title_source"], r["caption"], r["caption_source"], r["creator"], r["creator_source"]) == (
        "Whitehall, 3 August", "archivist", "Banners at Whitehall", "archivist", "Sam Okafor", "archivist")
    assert corrections(cli, pid) == {"title": "Whitehall, 3 August", "caption": "Banners at Whitehall",
                                     "creator": "Sam Okafor"}
    # the full-text index follows the edit
    assert query(cli, "SELECT rowid FROM photos_fts WHERE photos_fts MATCH 'banners'") == [(pid,)]


def test_fix_licence_sets_the_permissions_too(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    ok(cli("fix", str(pid), "--licence", "cc-by-nc-4.0"))           # case aside, an exact SPDX id
    r = photo_row(cli, pid)
    assert (r["licence_id"], r["licence_source"], r["allows_commercial"]) == ("CC-BY-NC-4.0", "archivist", 0)
    assert corrections(cli, pid) == {"licence_id": "CC-BY-NC-4.0"}


def test_fix_date_alone_sets_the_date(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    before = photo_row(cli, pid)
    ok(cli("fix", str(pid), "--date", "2024-05-18"))
    r = photo_row(cli, pid)
    assert (r["date"], r["date_source"], r["year"]) == ("2024-05-18", "archivist", 2024)
    assert (r["taken_at"], r["taken_at_utc"]) == (before["taken_at"], before["taken_at_utc"])
    assert corrections(cli, pid) == {"date": "2024-05-18"}


def test_fix_date_and_time_sets_taken_at_date_and_utc(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    ok(cli("fix", str(pid), "--date", "2024-05-18T13:00:00+02:00"))
    r = photo_row(cli, pid)
    assert (r["taken_at"], r["date"], r["taken_at_utc"], r["date_source"]) == (
        "2024-05-18T13:00:00+02:00", "2024-05-18", "2024-05-18T11:00:00+00:00", "archivist")
    assert corrections(cli, pid) == {"taken_at": "2024-05-18T13:00:00+02:00"}


def test_fix_late_evening_keeps_its_local_day(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    ok(cli("fix", str(pid), "--date", "2024-11-02T23:30:00-04:00"))
    r = photo_row(cli, pid)
    assert (r["date"], r["taken_at_utc"]) == ("2024-11-02", "2024-11-03T03:30:00+00:00")


def test_fix_city_by_its_local_name(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    cities = scalar(cli, "SELECT count(*) FROM cities")
    out = ok(cli("fix", str(pid), "--city", "München"))
    assert "city 'London' -> 'Munich'" in out
    r = photo_row(cli, pid)
    assert (r["city"], r["city_id"], r["city_source"]) == ("Munich", city_id(cli, "Munich"), "archivist")
    assert scalar(cli, "SELECT count(*) FROM cities") == cities       # the registry's Munich, not a new one
    assert corrections(cli, pid) == {"city_id": city_id(cli, "Munich")}


def test_fix_city_new_to_the_archive_is_added_once(gallery):
    cli, ids = gallery.cli, gallery.ids
    assert city_id(cli, "Paris") is None
    ok(cli("fix", str(ids["white.jpg"]), "--city", "Paris"))
    ok(cli("fix", str(ids["odeon.jpg"]), "--city", "paris, FR"))
    paris = city_id(cli, "Paris")
    assert paris is not None and scalar(cli, "SELECT count(*) FROM cities WHERE name = 'Paris'") == 1
    assert photo_row(cli, ids["white.jpg"])["city_id"] == photo_row(cli, ids["odeon.jpg"])["city_id"] == paris
    ok(cli("fix", str(ids["side.jpg"]), "--city", str(paris)))          # or by its id
    assert photo_row(cli, ids["side.jpg"])["city_id"] == paris


@pytest.mark.parametrize("how", ["id", "slug", "name", "label"])
def test_fix_demonstration_by_id_slug_or_name(gallery, how):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    target = demo_id(cli, "2024-09-28-bratislava")
    ref = {"id": str(target), "slug": "2024-09-28-bratislava", "name": "bratislava DEMONSTRATION",
           "label": "Bratislava demonstration (Bratislava, 2024-09-28)"}[how]
    ok(cli("fix", str(pid), "--demo", ref, "--force"))  # another day: the archivist means it
    r = photo_row(cli, pid)
    assert (r["demonstration_id"], r["demonstration_source"]) == (target, "archivist")
    assert corrections(cli, pid) == {"demonstration_id": target}


def test_fix_withhold_and_publish(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--withhold"))
    assert photo_row(cli, pid)["withheld"] == 1
    ok(cli("fix", str(pid), "--publish"))
    assert photo_row(cli, pid)["withheld"] == 0
    assert [(e["field"], e["old"], e["new"]) for e in edits(cli)] == [("withheld", "0", "1"), ("withheld", "1", "0")]


def test_fix_keywords_and_clearing_a_field(gallery):
    cli, pid = gallery.cli, gallery.ids["side.jpg"]
    ok(cli("fix", str(pid), "--keywords", "flags, Ukraine, flags", "--caption", ""))
    r = photo_row(cli, pid)
    assert (json.loads(r["keywords"]), r["caption"]) == (["flags", "Ukraine"], None)
    assert corrections(cli, pid)["caption"] is None


@pytest.mark.parametrize("how", ["sha256", "SHA256-UPPER", "prefix"])
def test_fix_photo_by_sha256_or_a_unique_prefix(gallery, how):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    sha = scalar(cli, "SELECT sha256 FROM photos WHERE id = ?", pid)
    ref = {"sha256": sha, "SHA256-UPPER": sha.upper(), "prefix": sha[:6]}[how]
    ok(cli("fix", ref, "--title", "Found by its hash"))
    assert photo_row(cli, pid)["title"] == "Found by its hash"
    assert ok(cli("history", sha[:8])).count("Found by its hash") == 1


def test_fix_the_same_value_again_changes_nothing(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--title", "Odeonsplatz"))
    before = dump(cli.db_path)
    result = cli("fix", str(pid), "--title", "Odeonsplatz")
    assert result.exit_code == 0 and "0 changes" in result.stderr
    assert dump(cli.db_path) == before


def test_fix_confirming_a_machine_value_makes_it_a_correction(gallery):
    """`--city Munich` on a photo the GPS put in Munich: same value, but now the archivist's."""
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--city", "Munich"))
    r = photo_row(cli, pid)
    assert (r["city"], r["city_source"]) == ("Munich", "archivist")
    assert corrections(cli, pid) == {"city_id": city_id(cli, "Munich")}


# =================================================================================================
# ingest fix: invalid values are refused with one line, and nothing changes
# =================================================================================================

REFUSALS = {
    # case: (arguments after `fix PHOTO`, what the one error line must name)
    "licence-words": (["--licence", "Creative Commons, some rights"], ["licence", "not an exact licence"]),
    "licence-unknown-version": (["--licence", "CC-BY-9.0"], ["licence"]),
    "impossible-date": (["--date", "2024-02-30"], ["date", "2024-02-30"]),
    "impossible-date-time": (["--date", "2024-02-30T10:00:00+01:00"], ["2024-02-30"]),
    "date-words": (["--date", "last Tuesday"], ["date", "last Tuesday"]),
    "unknown-city": (["--city", "Xqzvilleburg"], ["city", "Xqzvilleburg"]),
    "unknown-city-id": (["--city", "9999"], ["city", "9999"]),
    "unknown-demonstration": (["--demo", "2031-01-01-nowhere"], ["demonstration", "2031-01-01-nowhere"]),
    "unknown-demonstration-id": (["--demo", "9999"], ["demonstration", "9999"]),
    "ambiguous-demonstration": (["--demo", "National march for a ceasefire in Gaza"],
                                ["3 demonstrations", "National march for a ceasefire in Gaza"]),
    "ambiguous-demonstration-name": (["--demo", "London march"], ["2 demonstrations", "London march"]),
    "title-too-long": (["--title", "x" * 5001], ["title", "5,000"]),
    # a valid value (a city new to the archive) with an invalid one: the city must not stay behind
    "new-city-and-bad-licence": (["--city", "Paris", "--licence", "some rights"], ["licence"]),
    "new-city-and-bad-date": (["--city", "Paris", "--date", "2024-13-01"], ["date"]),
    "two-problems-one-line": (["--licence", "nope", "--date", "2024-02-30"], ["licence", "date"]),
    "nothing-to-change": ([], ["say what to change"]),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_fix_refuses_invalid_values_and_changes_nothing(gallery, case):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    args, fragments = REFUSALS[case]
    before = dump(cli.db_path)
    refused(cli("fix", str(pid), *args), *fragments)
    assert dump(cli.db_path) == before
    assert city_id(cli, "Paris") is None


def test_fix_refuses_an_unknown_photo_and_changes_none_of_the_others(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    before = dump(cli.db_path)
    refused(cli("fix", str(pid), "999", "--title", "Never saved"), "999", "no such photo")
    refused(cli("fix", "deadbeefcafe", "--title", "Never saved"), "deadbeefcafe", "no such photo")
    refused(cli("fix", "abc", "--title", "Never saved"), "abc", "no such photo")   # too short for a prefix
    assert dump(cli.db_path) == before


def test_fix_refuses_an_ambiguous_sha256_prefix(gallery):
    cli, ids = gallery.cli, gallery.ids
    sha = scalar(cli, "SELECT sha256 FROM photos WHERE id = ?", ids["odeon.jpg"])
    # Two real files sharing 6 hex digits would take millions of tries: give one photo a hash that
    # shares the first 8 digits with another (only the catalogue row; fix never reads the store).
    conn = sqlite3.connect(cli.db_path)
    with conn:
        conn.execute("UPDATE photos SET sha256 = ? WHERE id = ?",
                     [sha[:8] + ("e" if sha[8] == "f" else "f") * 56, ids["white.jpg"]])
    conn.close()
    before = dump(cli.db_path)
    refused(cli("fix", sha[:7], "--title", "Which one?"), sha[:7], "more than one photo")
    assert dump(cli.db_path) == before
    ok(cli("fix", sha[:9], "--title", "This one"))      # more characters: unique again
    assert photo_row(cli, ids["odeon.jpg"])["title"] == "This one"


def test_fix_refusal_in_a_real_process_has_no_traceback(gallery):
    """The installed `ingest` script, as an archivist runs it: one line on stderr, exit 1."""
    exe = Path(sys.executable).with_name("ingest")
    assert exe.exists(), exe
    env = {k: v for k, v in os.environ.items() if k != "INGEST_DEBUG"}
    db = gallery.db_path
    before = dump(db)
    proc = subprocess.run([str(exe), "fix", "--db", db, str(gallery.ids["white.jpg"]), "--date", "2024-02-30",
                           "--licence", "nope", "--demo", "National march for a ceasefire in Gaza"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), proc.stderr
    assert all(f in lines[0] for f in ("2024-02-30", "licence", "3 demonstrations")), proc.stderr
    assert dump(db) == before
    proc = subprocess.run([str(exe), "fix", "--db", db, str(gallery.ids["white.jpg"]), "--title", "Whitehall",
                           "--who", "ann"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert photo_row(gallery.cli, gallery.ids["white.jpg"])["title"] == "Whitehall"


# =================================================================================================
# The audit trail: every change recorded, `ingest history` shows it
# =================================================================================================

def test_every_change_is_recorded_with_who_when_and_how(gallery):
    cli, ids = gallery.cli, gallery.ids
    pid = ids["odeon.jpg"]
    before = photo_row(cli, pid)
    ok(cli("fix", str(pid), "--title", "Odeonsplatz", "--who", "ann"))
    ok(cli("fix", str(pid), "--city", "London", "--licence", "CC-BY-4.0", "--who", "bob"))
    rows = edits(cli)
    assert [(e["photo_id"], e["field"], json.loads(e["old"]), json.loads(e["new"]), e["who"], e["via"])
            for e in rows] == [
        (pid, "title", None, "Odeonsplatz", "ann", "cli"),
        (pid, "city_id", before["city_id"], city_id(cli, "London"), "bob", "cli"),
        (pid, "licence_id", None, "CC-BY-4.0", "bob", "cli"),
        (pid, "review_reason", "no licence", None, "bob", "cli"),            # the licence answers the flag
    ]
    for e in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", e["at"]), e["at"]
    assert rows[1]["batch"] == rows[2]["batch"] == rows[3]["batch"] != rows[0]["batch"]  # one command, one batch

    out = ok(cli("history", str(pid)))
    lines = out.strip().splitlines()
    assert len(lines) == 4
    assert re.match(rf"\s*{rows[3]['id']}\s+\S+\s+bob via cli: review_reason 'no licence' -> \(empty\)$", lines[0]), lines
    assert re.match(rf"\s*{rows[2]['id']}\s+\S+\s+bob via cli: licence \(empty\) -> 'CC-BY-4.0'$", lines[1]), lines
    assert re.match(rf"\s*{rows[1]['id']}\s+\S+\s+bob via cli: city 'Munich' -> 'London'$", lines[2]), lines
    assert re.match(rf"\s*{rows[0]['id']}\s+\S+\s+ann via cli: title \(empty\) -> 'Odeonsplatz'$", lines[3]), lines
    assert ok(cli("history", str(ids["white.jpg"]))) == ""             # another photo: its own history


def test_who_defaults_to_the_environment(gallery, monkeypatch):
    monkeypatch.setenv("INGEST_ARCHIVIST", "carol@example.org")
    ok(gallery.cli("fix", str(gallery.ids["odeon.jpg"]), "--title", "x"))
    assert edits(gallery.cli)[0]["who"] == "carol@example.org"


def test_history_of_an_unknown_photo_is_refused(gallery):
    refused(gallery.cli("history", "4242"), "4242", "no such photo")


# =================================================================================================
# ingest undo
# =================================================================================================

def test_undo_a_correction_of_a_machine_value_gives_the_machine_value_back(gallery):
    cli, pid = gallery.cli, gallery.ids["side.jpg"]
    before = photo_row(cli, pid)
    ok(cli("fix", str(pid), "--title", "Archivist's title", "--who", "ann"))
    edit = edits(cli)[-1]
    out = ok(cli("undo", str(edit["id"]), "--who", "bob"))
    assert "title \"Archivist's title\" -> 'Sidecar title'" in out
    after = photo_row(cli, pid)
    assert (after["title"], after["title_source"]) == ("Sidecar title", "xmp")
    assert {k: after[k] for k in before if k != "updated_at"} == {k: before[k] for k in before if k != "updated_at"}
    assert corrections(cli, pid) == {}                      # a machine value again: retag may change it
    undo_row = edits(cli)[-1]
    assert (undo_row["via"], undo_row["who"], undo_row["undoes"], undo_row["field"]) == ("undo", "bob", edit["id"], "title")
    history = ok(cli("history", str(pid))).splitlines()
    assert f"undoes {edit['id']}" in history[0] and history[1].endswith("(undone)")


def test_undo_a_change_of_a_corrected_value_restores_the_correction(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    ok(cli("fix", str(pid), "--city", "München", "--who", "ann"))
    ok(cli("fix", str(pid), "--city", "Bratislava", "--who", "bob"))
    ok(cli("undo", str(edits(cli)[-1]["id"]), "--who", "bob"))
    r = photo_row(cli, pid)
    assert (r["city"], r["city_source"]) == ("Munich", "archivist")
    assert corrections(cli, pid) == {"city_id": city_id(cli, "Munich")}


def test_undo_a_date_and_time_restores_every_column_it_set(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    before = photo_row(cli, pid)
    ok(cli("fix", str(pid), "--date", "2024-05-18T13:00:00+02:00"))
    ok(cli("undo", str(edits(cli)[-1]["id"])))
    after = photo_row(cli, pid)
    cols = ("taken_at", "taken_at_utc", "date", "date_source", "year")
    assert {k: after[k] for k in cols} == {k: before[k] for k in cols}
    assert corrections(cli, pid) == {}


def test_undo_twice_is_refused(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--title", "Once"))
    edit = edits(cli)[-1]["id"]
    ok(cli("undo", str(edit)))
    before = dump(cli.db_path)
    refused(cli("undo", str(edit)), str(edit), "already undone")
    assert dump(cli.db_path) == before


def test_undo_an_edit_a_later_edit_overwrote_is_refused(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--title", "First", "--who", "ann"))
    first = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--title", "Second", "--who", "bob"))
    second = edits(cli)[-1]["id"]
    before = dump(cli.db_path)
    refused(cli("undo", str(first), "--who", "ann"), "title", f"edit {second}", "bob")
    assert dump(cli.db_path) == before
    assert photo_row(cli, pid)["title"] == "Second"


def test_undo_is_not_blocked_by_edits_of_other_fields(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--title", "First"))
    first = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--caption", "Caption"))
    ok(cli("undo", str(first)))
    r = photo_row(cli, pid)
    assert (r["title"], r["caption"]) == (None, "Caption")


def test_undo_the_newest_then_the_one_before(gallery):
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--title", "First", "--who", "ann"))
    first = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--title", "Second", "--who", "bob"))
    second = edits(cli)[-1]["id"]
    ok(cli("undo", str(second)))
    assert photo_row(cli, pid)["title"] == "First"
    ok(cli("undo", str(first)))                       # refused: "title was changed again (edit N ...)"
    assert photo_row(cli, pid)["title"] is None and corrections(cli, pid) == {}


def test_undo_a_date_and_time_keeps_a_later_date_correction(gallery):
    cli, pid = gallery.cli, gallery.ids["white.jpg"]
    ok(cli("fix", str(pid), "--date", "2024-05-18T13:00:00+02:00", "--who", "ann"))
    timed = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--date", "2024-05-19", "--who", "bob"))
    result = cli("undo", str(timed))
    ok(cli("retag"))
    r = photo_row(cli, pid)
    # Either the undo is refused (bob's later edit changed the date) or it keeps bob's date; in no
    # case may the photo's date disagree with its correction.
    assert corrections(cli, pid).get("date") == "2024-05-19"
    assert (r["date"], r["date_source"]) == ("2024-05-19", "archivist"), (result.output, r["date"])


def test_undo_a_batch_undoes_all_of_it(gallery):
    cli, ids = gallery.cli, gallery.ids
    refs = [str(ids[n]) for n in ("odeon.jpg", "white.jpg", "side.jpg")]
    before = {pid: photo_row(cli, pid) for pid in ids.values()}
    out = ok(cli("fix", *refs, "--withhold", "--creator", "Press desk"))
    assert len(out.strip().splitlines()) == 6
    batch = edits(cli)
    assert len({e["batch"] for e in batch}) == 1 and len(batch) == 6
    assert all(photo_row(cli, pid)["withheld"] == 1 for pid in ids.values())
    ok(cli("undo", str(batch[3]["id"])))                        # any edit of the batch names it
    for pid, row in before.items():
        after = photo_row(cli, pid)
        # All as it was, but the image URLs: public again, the photo has a new rendition token.
        assert after["rendition"] != row["rendition"]
        same = [k for k in row if k not in ("updated_at", "rendition")]
        assert {k: after[k] for k in same} == {k: row[k] for k in same}
        assert corrections(cli, pid) == {}
    undos = edits(cli, "via = 'undo'")
    assert sorted(e["undoes"] for e in undos) == sorted(e["id"] for e in batch)
    assert len({e["batch"] for e in undos}) == 1
    refused(cli("undo", str(batch[0]["id"])), "already undone")


def test_undo_a_batch_is_refused_whole_when_one_photo_was_changed_since(gallery):
    cli, ids = gallery.cli, gallery.ids
    ok(cli("fix", str(ids["odeon.jpg"]), str(ids["white.jpg"]), "--title", "Batch"))
    batch = edits(cli)
    ok(cli("fix", str(ids["white.jpg"]), "--title", "Later", "--who", "bob"))
    before = dump(cli.db_path)
    refused(cli("undo", str(batch[0]["id"])), "changed since", "undo edit")
    assert dump(cli.db_path) == before


def test_undoing_an_old_withhold_after_a_publish_and_a_new_withhold_is_refused(gallery):
    """Withhold, publish, withhold again: the photo is withheld as edit 1 left it, but undoing edit 1
    must not publish it: the archivist who withheld it last (edit 3) did not ask for that."""
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--withhold", "--who", "ann"))
    first = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--publish", "--who", "bob"))
    ok(cli("fix", str(pid), "--withhold", "--who", "cem"))
    third = edits(cli)[-1]["id"]
    before = dump(cli.db_path)
    error = refused(cli("undo", str(first), "--who", "ann"), f"photo {pid}'s withheld was changed since edit {first}",
                    "cem", f"undo edit {third} first")
    assert dump(cli.db_path) == before and photo_row(cli, pid)["withheld"] == 1, error
    refused(cli("undo", str(first), "--only"), f"undo edit {third} first")
    assert photo_row(cli, pid)["withheld"] == 1


def test_undoing_an_old_withhold_in_a_batch_after_a_later_withhold_is_refused_whole(gallery):
    cli, ids = gallery.cli, gallery.ids
    odeon, white = ids["odeon.jpg"], ids["white.jpg"]
    ok(cli("fix", str(odeon), str(white), "--withhold", "--who", "ann"))
    batch = edits(cli)
    ok(cli("fix", str(white), "--publish", "--who", "bob"))
    ok(cli("fix", str(white), "--withhold", "--who", "bob"))
    again = edits(cli)[-1]["id"]
    before = dump(cli.db_path)
    refused(cli("undo", str(batch[0]["id"])), f"photo {white}'s withheld", f"undo edit {again} first")
    assert dump(cli.db_path) == before
    assert (photo_row(cli, odeon)["withheld"], photo_row(cli, white)["withheld"]) == (1, 1)


def test_undo_after_later_edits_that_were_themselves_undone(gallery):
    """Undoing newest first stays possible: a later edit and its own undo cancel out; an undo of
    that undo (the later edit back in force) does not."""
    cli, pid = gallery.cli, gallery.ids["odeon.jpg"]
    ok(cli("fix", str(pid), "--withhold"))
    first = edits(cli)[-1]["id"]
    ok(cli("fix", str(pid), "--publish"))
    second = edits(cli)[-1]["id"]
    ok(cli("undo", str(second)))                        # withheld again, by undoing the publish
    undo_of_second = edits(cli)[-1]["id"]
    ok(cli("undo", str(undo_of_second)))                # ... and published again by undoing that undo
    redo = edits(cli)[-1]["id"]
    refused(cli("undo", str(first)), f"undo edit {redo} first")
    assert photo_row(cli, pid)["withheld"] == 0
    ok(cli("undo", str(redo)))                          # withheld once more
    ok(cli("undo", str(first)))                         # now edit 1 is the change in force: undo it
    assert photo_row(cli, pid)["withheld"] == 0 and corrections(cli, pid) == {}


def test_undo_of_an_unknown_edit_is_refused(gallery):
    refused(gallery.cli("undo", "777"), "no edit 777")


def test_undo_when_the_old_demonstration_is_gone_is_a_clear_refusal(tmp_path, cli):
    card = tmp_path / "in" / "card" / "DCIM" / "100TEST"
    photo(card / "p1.jpg", exif=shot("2024-06-01 12:00:00", PARIS, "+02:00"))
    ok(cli("--jobs", "1", str(tmp_path / "in")))
    ok(cli("demos", "add", "--name", "Paris march", "--city", "Paris", "--date", "2024-06-02"))
    ok(cli("fix", "1", "--demo", "Paris march", "--force"))
    ok(cli("retag"))                                 # the provisional group of 1 June is empty now: removed
    before = dump(cli.db_path)
    refused(cli("undo", str(edits(cli)[-1]["id"])))
    assert dump(cli.db_path) == before


# =================================================================================================
# Two archivists at once: `seen` (the last edit the archivist saw)
# =================================================================================================

def test_a_later_edit_of_the_same_field_by_someone_else_is_a_conflict(gallery):
    ids = gallery.ids
    db = connect(gallery.db_path)
    try:
        pid = ids["odeon.jpg"]
        seen = last_edit(db, [pid])                       # ann opens the photo
        apply_changes(db, [pid], parse_changes(db, {"title": "Bob's title"}), who="bob", via="web")
        before = dump(gallery.db_path)
        with pytest.raises(Conflict, match=r"photo \d+: title was changed by bob .* nothing was saved"):
            apply_changes(db, [pid], parse_changes(db, {"title": "Ann's title"}), who="ann", via="web", seen=seen)
        assert dump(gallery.db_path) == before
        # the whole change is refused, also its fields nobody else touched, also on the other photos
        with pytest.raises(Conflict):
            apply_changes(db, [ids["white.jpg"], pid], parse_changes(db, {"caption": "c", "title": "t"}),
                          who="ann", via="web", seen=seen)
        assert dump(gallery.db_path) == before
        assert photo_row(gallery.cli, pid)["title"] == "Bob's title"
        # other fields of the same photo do not conflict
        made = apply_changes(db, [pid], parse_changes(db, {"caption": "Ann's caption"}), who="ann", via="web",
                             seen=seen)
        assert [(e.field, e.new) for e in made] == [("caption", "Ann's caption")]
        # having seen bob's edit, ann may change the title
        apply_changes(db, [pid], parse_changes(db, {"title": "Ann's title"}), who="ann", via="web",
                      seen=last_edit(db, [pid]))
        assert photo_row(gallery.cli, pid)["title"] == "Ann's title"
    finally:
        db.conn.close()


def test_an_undo_by_someone_else_is_a_conflict_too(gallery):
    db = connect(gallery.db_path)
    try:
        pid = gallery.ids["white.jpg"]
        ok(gallery.cli("fix", str(pid), "--title", "Ann's", "--who", "ann"))
        seen = last_edit(db, [pid])
        ok(gallery.cli("undo", str(seen), "--who", "bob"))
        with pytest.raises(Conflict):
            apply_changes(db, [pid], {"title": "Ann's again"}, who="ann", via="web", seen=seen)
        assert photo_row(gallery.cli, pid)["title"] is None
    finally:
        db.conn.close()


# =================================================================================================
# Corrections win: re-ingest, retag, registry re-import, edited sidecars
# =================================================================================================

def test_corrections_and_ids_survive_reingest_retag_registry_and_sidecar_edits(fresh_gallery, tmp_path):
    gallery = fresh_gallery
    cli, ids = gallery.cli, gallery.ids
    side, odeon, white = ids["side.jpg"], ids["odeon.jpg"], ids["white.jpg"]
    ok(cli("fix", str(side), "--title", "The archivist's title", "--city", "München", "--date", "2024-05-18",
           "--demo", "2024-05-18-munich", "--licence", "CC-BY-SA-4.0", "--who", "ann"))
    ok(cli("fix", str(odeon), "--date", "2024-05-18T13:05:00+02:00", "--creator", "Olena K.", "--who", "ann"))
    ok(cli("fix", str(white), "--demo", "2024-09-28-bratislava", "--withhold", "--force", "--who", "ann"))
    frozen = {
        side: ("title", "title_source", "city_id", "city_source", "date", "date_source", "demonstration_id",
               "demonstration_source", "licence_id", "licence_source"),
        odeon: ("taken_at", "taken_at_utc", "date", "date_source", "creator", "creator_source"),
        white: ("demonstration_id", "demonstration_source", "withheld"),
    }

    def corrected():
        return {pid: {c: photo_row(cli, pid)[c] for c in cols} for pid, cols in frozen.items()}

    want = corrected()
    assert want[side]["demonstration_id"] == demo_id(cli, "2024-05-18-munich")
    saved = {pid: corrections(cli, pid) for pid in ids.values()}
    n_photos = scalar(cli, "SELECT count(*) FROM photos")

    def unchanged(step: str):
        assert corrected() == want, step
        assert {pid: corrections(cli, pid) for pid in ids.values()} == saved, step
        assert scalar(cli, "SELECT count(*) FROM photos") == n_photos, step
        assert {n: pid for pid, n in query(cli, "SELECT id, original_filename FROM photos")} == ids, step

    # 1. the same folder again, files untouched, then touched (read again), then a copy elsewhere
    assert "3 unchanged" in gallery.ingest()
    unchanged("re-ingest")
    for f in gallery.card.glob("*.jpg"):
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 7_000_000_000))
    gallery.ingest()
    unchanged("re-ingest, touched")
    copy = tmp_path / "copy" / "x" / "y"
    copy.mkdir(parents=True)
    for f in gallery.card.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    assert "3 duplicates" in gallery.ingest(tmp_path / "copy")
    unchanged("a copy elsewhere")

    # 2. retag
    ok(cli("retag"))
    unchanged("retag")

    # 3. the registry again, and a registry that would move the corrected photos
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    more = tmp_path / "more.yml"
    more.write_text('- {name: Brussels march, city: Brussels, country_code: BE, date: "2025-05-17", '
                    'slug: 2025-05-17-brussels-march}\n'
                    '- {name: Munich vigil, city: Munich, country_code: DE, date: "2024-05-18", '
                    'slug: 2024-05-18-munich-vigil}\n'
                    '- {name: Whitehall rally, city: London, country_code: GB, date: "2024-08-03", '
                    'slug: 2024-08-03-whitehall-rally}\n', encoding="utf-8")
    ok(cli("demos", "import", str(more)))
    ok(cli("retag"))
    unchanged("registry re-import and retag")
    # ... which did reach what nobody corrected: two demonstrations now fit Munich on 18 May
    assert photo_row(cli, odeon)["demonstration_id"] is None

    # 4. the photographer edits the sidecar: uncorrected fields follow it, corrected ones stay
    write_sidecar(gallery.card / "side.jpg.xmp", SIDECAR_V2, bump=30)
    assert "1 updated from sidecars" in gallery.ingest()
    unchanged("edited sidecar")
    r = photo_row(cli, side)
    assert (r["caption"], r["caption_source"], r["creator"], r["creator_source"]) == (
        "Sidecar caption, second version", "xmp", "Zoë Müller", "xmp")
    assert (r["title"], r["city"], r["date"], r["demo_slug"], r["licence_id"]) == (
        "The archivist's title", "Munich", "2024-05-18", "2024-05-18-munich", "CC-BY-SA-4.0")
    ok(cli("retag"))
    unchanged("retag after the sidecar")
    assert ok(cli("retag")).strip() == "0 of 3 photos changed"

    # the audit trail holds the archivist's edits only: machines never write to it
    assert {e["via"] for e in edits(cli)} == {"cli"}


def test_an_undone_correction_follows_the_sidecar_again(fresh_gallery):
    gallery = fresh_gallery
    cli, pid = gallery.cli, gallery.ids["side.jpg"]
    ok(cli("fix", str(pid), "--caption", "Archivist's caption"))
    ok(cli("undo", str(edits(cli)[-1]["id"])))
    write_sidecar(gallery.card / "side.jpg.xmp", SIDECAR_V2, bump=30)
    gallery.ingest()
    assert photo_row(cli, pid)["caption"] == "Sidecar caption, second version"


def test_a_corrected_city_and_date_choose_the_demonstration(gallery):
    """Not a frozen demonstration: retag matches the registry from the archivist's city and date."""
    cli, pid = gallery.cli, gallery.ids["side.jpg"]
    ok(cli("fix", str(pid), "--city", "London", "--date", "2024-09-07"))
    ok(cli("retag"))
    r = photo_row(cli, pid)
    assert (r["city"], r["date"], r["demo_slug"], r["demonstration_source"]) == (
        "London", "2024-09-07", "2024-09-07-london-no-weapons-to-israel", "registry")


# =================================================================================================
# The registry: demos edit, naming provisional groups, demos merge
# =================================================================================================

def test_demos_edit_rename_redate_and_move_survive_a_registry_reimport(gallery):
    cli = gallery.cli
    munich = demo_id(cli, "2024-05-18-munich")
    count = scalar(cli, "SELECT count(*) FROM demonstrations")
    out = ok(cli("demos", "edit", "2024-05-18-munich", "--name", "Munich rally for Ukraine", "--date", "2024-05-19",
                 "--city", "Bratislava", "--description", "Corrected from the photographer's notes", "--force",
                 "--who", "ann"))
    assert "name 'Munich demonstration' -> 'Munich rally for Ukraine'" in out
    row = query(cli, "SELECT d.name, d.date, c.name, d.description, d.label, d.slug FROM demonstrations d "
                     "JOIN cities c ON c.id = d.city_id WHERE d.id = ?", munich)[0]
    want = ("Munich rally for Ukraine", "2024-05-19", "Bratislava", "Corrected from the photographer's notes",
            "Munich rally for Ukraine (Bratislava, 2024-05-19)", "2024-05-18-munich")
    assert row == want
    registry_edits = edits(cli, "demonstration_id = ?", munich)
    assert {(e["field"], e["who"], e["via"], e["photo_id"]) for e in registry_edits} == {
        ("name", "ann", "cli", None), ("date", "ann", "cli", None), ("city_id", "ann", "cli", None),
        ("description", "ann", "cli", None)}

    assert ok(cli("demos", "import", str(SAMPLE_REGISTRY))).strip().startswith("0 added")
    assert query(cli, "SELECT d.name, d.date, c.name, d.description, d.label, d.slug FROM demonstrations d "
                      "JOIN cities c ON c.id = d.city_id WHERE d.id = ?", munich)[0] == want
    assert scalar(cli, "SELECT count(*) FROM demonstrations") == count


def test_demos_edit_an_entry_without_a_slug_survives_a_registry_reimport(tmp_path, cli):
    reg = tmp_path / "reg.yml"
    reg.write_text('- {name: Vigil for Ukraine, city: London, country_code: GB, date: "2024-02-24"}\n',
                   encoding="utf-8")
    ok(cli("demos", "import", str(reg)))
    ok(cli("demos", "edit", "Vigil for Ukraine", "--name", "Candlelit vigil for Ukraine", "--date", "2024-02-25"))
    ok(cli("demos", "import", str(reg)))
    assert query(cli, "SELECT name, date, provisional FROM demonstrations") == [
        ("Candlelit vigil for Ukraine", "2024-02-25", 0)]


def test_naming_a_provisional_group_registers_it_and_a_reimport_keeps_it(tmp_path, cli):
    card = tmp_path / "in" / "card" / "DCIM" / "100TEST"
    photo(card / "p1.jpg", exif=shot("2024-06-01 12:00:00", PARIS, "+02:00"))
    photo(card / "p2.jpg", exif=shot("2024-06-01 16:45:00", PARIS, "+02:00"))
    ok(cli("--jobs", "1", str(tmp_path / "in")))
    group = demo_id(cli, "2024-06-01-paris-unnamed")
    assert query(cli, "SELECT provisional FROM demonstrations WHERE id = ?", group) == [(1,)]

    ok(cli("demos", "edit", "2024-06-01-paris-unnamed", "--name", "Paris march for Ukraine"))
    assert query(cli, "SELECT name, provisional, slug FROM demonstrations WHERE id = ?", group) == [
        ("Paris march for Ukraine", 0, "2024-06-01-paris-march-for-ukraine")]
    assert {e["field"] for e in edits(cli, "demonstration_id = ?", group)} == {"name", "provisional"}

    # the registry names it too, with its own slug and wording: still one demonstration, the archivist's name
    reg = tmp_path / "reg.yml"
    reg.write_text('- {name: Paris march for Ukraine, city: Paris, country_code: FR, date: "2024-06-01", '
                   'description: From the flyer}\n', encoding="utf-8")
    ok(cli("demos", "import", str(reg)))
    ok(cli("demos", "import", str(reg)))
    ok(cli("retag"))
    assert query(cli, "SELECT id, name, provisional, description FROM demonstrations") == [
        (group, "Paris march for Ukraine", 0, "From the flyer")]
    assert query(cli, "SELECT DISTINCT demonstration_id FROM photos") == [(group,)]


def test_a_registry_rename_does_not_undo_the_archivists_name(tmp_path, cli):
    reg = tmp_path / "reg.yml"
    reg.write_text('- {name: Paris march, city: Paris, date: "2024-06-01", slug: 2024-06-01-paris}\n',
                   encoding="utf-8")
    ok(cli("demos", "import", str(reg)))
    ok(cli("demos", "edit", "2024-06-01-paris", "--name", "Paris march for Ukraine"))
    reg.write_text('- {name: Paris march (flyer v2), city: Paris, date: "2024-06-01", slug: 2024-06-01-paris,'
                   ' description: v2}\n', encoding="utf-8")
    ok(cli("demos", "import", str(reg)))
    assert query(cli, "SELECT name, description, slug FROM demonstrations") == [
        ("Paris march for Ukraine", "v2", "2024-06-01-paris")]


def test_demos_edit_refused_leaves_no_new_city(gallery):
    cli = gallery.cli
    before = dump(cli.db_path)
    refused(cli("demos", "edit", "2024-05-18-munich", "--city", "Paris", "--date", "2024-13"), "date")
    assert city_id(cli, "Paris") is None
    assert dump(cli.db_path) == before


@pytest.mark.parametrize("args, fragments", [
    (["2024-05-18-munich", "--date", "2024-13"], ["date", "2024-13"]),
    (["2024-05-18-munich", "--name", ""], ["name"]),
    (["2024-05-18-munich", "--city", "Xqzvilleburg"], ["Xqzvilleburg"]),
    (["no-such-demo", "--name", "x"], ["no-such-demo"]),
    (["London march", "--name", "x"], ["2 demonstrations"]),
    (["2024-05-18-munich"], ["say what to change"]),
])
def test_demos_edit_refusals(gallery, args, fragments):
    before = dump(gallery.db_path)
    refused(gallery.cli("demos", "edit", *args), *fragments)
    assert dump(gallery.db_path) == before


def test_demos_merge_moves_the_photos_as_corrections_and_removes_the_other(tmp_path, cli):
    card = tmp_path / "in" / "card" / "DCIM" / "100TEST"
    photo(card / "day1.jpg", exif=shot("2024-06-01 12:00:00", PARIS, "+02:00"))
    photo(card / "day2a.jpg", exif=shot("2024-06-02 00:30:00", PARIS, "+02:00"))   # the march went past midnight
    photo(card / "day2b.jpg", exif=shot("2024-06-02 01:10:00", PARIS, "+02:00"))
    ok(cli("--jobs", "1", str(tmp_path / "in")))
    ok(cli("demos", "edit", "2024-06-01-paris-unnamed", "--name", "Paris night march"))
    keep = demo_id(cli, "2024-06-01-paris-night-march")
    gone = demo_id(cli, "2024-06-02-paris-unnamed")
    moved = [pid for pid, in query(cli, "SELECT id FROM photos WHERE demonstration_id = ?", gone)]
    assert len(moved) == 2

    out = ok(cli("demos", "merge", "Paris night march", "2024-06-02-paris-unnamed", "--force", "--who", "ann"))
    assert "2 photos moved" in out
    assert query(cli, "SELECT count(*) FROM demonstrations WHERE id = ?", gone) == [(0,)]
    assert query(cli, "SELECT DISTINCT demonstration_id FROM photos") == [(keep,)]
    for pid in moved:
        assert photo_row(cli, pid)["demonstration_source"] == "archivist"
        assert corrections(cli, pid) == {"demonstration_id": keep}
    merge_edits = edits(cli, "via = 'merge'")
    assert sorted(e["photo_id"] for e in merge_edits) == sorted(moved)
    assert all((e["field"], json.loads(e["old"]), json.loads(e["new"]), e["who"]) == ("demonstration_id", gone, keep,
                                                                                     "ann") for e in merge_edits)
    assert ok(cli("history", str(moved[0]))).count("via merge") == 1

    # retag and re-ingest do not split them again, nor bring the removed group back
    ok(cli("retag"))
    ok(cli("--jobs", "1", str(tmp_path / "in")))
    assert query(cli, "SELECT DISTINCT demonstration_id FROM photos") == [(keep,)]
    assert query(cli, "SELECT count(*) FROM demonstrations") == [(1,)]


@pytest.mark.parametrize("keep, gone, fragments", [
    ("2024-05-18-munich", "2024-05-18-munich", ["into itself"]),
    ("2024-05-18-munich", "no-such-demo", ["no-such-demo"]),
    ("National march for a ceasefire in Gaza", "2024-05-18-munich", ["3 demonstrations"]),
])
def test_demos_merge_refusals(gallery, keep, gone, fragments):
    before = dump(gallery.db_path)
    refused(gallery.cli("demos", "merge", keep, gone), *fragments)
    assert dump(gallery.db_path) == before


def test_undoing_a_merge_is_a_clear_refusal(gallery):
    cli = gallery.cli
    ok(cli("demos", "merge", "2024-05-18-london-march", "2024-05-18-munich", "--force"))
    before = dump(cli.db_path)
    refused(cli("undo", str(edits(cli, "via = 'merge'")[0]["id"])))
    assert dump(cli.db_path) == before
