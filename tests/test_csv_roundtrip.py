"""The spreadsheet round trip: `ingest export-csv`, edit the cells, `ingest import-csv [--apply]`.

A real archive (real JPEGs with EXIF and an XMP sidecar, the flyer's registry, a real SQLite file),
files written and edited with Python's csv module the way a spreadsheet saves them (UTF-8 BOM, CRLF,
columns moved), and the real command through click's runner; one case runs the installed script.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.synth import make_photo

from ingest.catalogue.csv_roundtrip import EDITABLE
from ingest.cli import main
from ingest.media.write.xmp import xmp_packet

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_REGISTRY = ROOT / "samples" / "registry.yml"
_seeds = itertools.count(9600)


# ---- helpers ------------------------------------------------------------------------------------

def photo(path: Path, **meta) -> Path:
    return make_photo(path, width=64, height=48, seed=next(_seeds), **meta)


def shot(when: str, place: tuple[float, float], offset: str, **extra) -> dict:
    return {"DateTimeOriginal": when.replace("-", ":", 2), "OffsetTimeOriginal": offset,
            "GPSLatitude": place[0], "GPSLongitude": place[1], **extra}


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def no_crash(result) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output


def refused_file(result, *fragments: str) -> str:
    """Refused before any row is read: one `Error:` line naming the problem."""
    no_crash(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def refused_lines(result, path: Path) -> dict[int, list[str]]:
    """Refused row by row: `FILE:LINE: ...` for each problem, then one `Error:` line. Returns line -> messages."""
    no_crash(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error:") and "nothing was changed" in lines[-1], result.stderr
    found: dict[int, list[str]] = {}
    prefix = f"{path}:"
    for line in lines[:-1]:
        assert line.startswith(prefix), (line, result.stderr)
        number, _, message = line[len(prefix):].partition(": ")
        assert number.isdigit(), line
        found.setdefault(int(number), []).append(message)
    assert f"{len(lines) - 1} problem" in lines[-1], result.stderr
    return found


def query(db_path: str, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def photo_row(db_path: str, photo_id: int) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute(
            """SELECT p.*, c.name AS city, d.slug AS demo_slug FROM photos p
               LEFT JOIN cities c ON c.id = p.city_id LEFT JOIN demonstrations d ON d.id = p.demonstration_id
               WHERE p.id = ?""", [photo_id]).fetchone())
    finally:
        conn.close()


def corrections(db_path: str, photo_id: int) -> dict:
    return {f: json.loads(v) if v is not None else None
            for f, v in query(db_path, "SELECT field, value FROM corrections WHERE photo_id = ?", photo_id)}


def edits(db_path: str) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM edits ORDER BY id")]
    finally:
        conn.close()


def dump(db_path: str) -> dict:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'photos_fts%' ORDER BY name")]
        return {t: conn.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict], *, bom: bool = False, crlf: bool = False) -> Path:
    """As a spreadsheet saves: optionally with a UTF-8 byte-order mark and CRLF line endings."""
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\r\n" if crlf else "\n",
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def by_id(rows: list[dict], photo_id: int) -> dict:
    return next(r for r in rows if r["id"] == str(photo_id))


# ---- the archive --------------------------------------------------------------------------------

class Catalogue:
    def __init__(self, cli, base: Path, ids: dict[str, int]):
        self.cli, self.base, self.ids = cli, base, ids

    @property
    def db(self) -> str:
        return self.cli.db_path

    def export(self, name: str = "photos.csv") -> Path:
        out = self.base / name
        result = self.cli("export-csv", "-o", str(out))
        assert result.exit_code == 0 and "3 photos written" in result.stderr, result.output
        return out


def _build(base: Path, cli) -> dict[str, int]:
    assert cli("demos", "import", str(SAMPLE_REGISTRY)).exit_code == 0
    card = base / "in" / "card" / "DCIM" / "100TEST"
    photo(card / "odeon.jpg", exif=shot("2024-05-18 14:22:10", (48.1424, 11.5775), "+02:00", Artist="Olena Kovalenko"))
    photo(card / "white.jpg", exif=shot("2024-08-03 12:41:00", (51.5045, -0.1263), "+01:00", Copyright="CC BY-SA 4.0"))
    photo(card / "side.jpg")
    (card / "side.jpg.xmp").write_bytes(xmp_packet({
        "dc:title": "Sidecar title", "dc:description": "Sidecar caption", "dc:creator": ["Marek Horváth"],
        "photoshop:City": "Brussels", "Iptc4xmpCore:CountryCode": "BE", "photoshop:DateCreated": "2025-05-17T15:30:00",
        "cc:license": "https://creativecommons.org/licenses/by/4.0/"}))
    ok(cli("--jobs", "1", "--publish", str(base / "in")))
    return {name: pid for pid, name in query(cli.db_path, "SELECT id, original_filename FROM photos")}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    base = tmp_path_factory.mktemp("csv-template")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--db", str(base / "gallery.db"), "--store", str(base / "archive"), *args],
                             catch_exceptions=False)

    run.db_path = str(base / "gallery.db")
    return run.db_path, _build(base, run)


@pytest.fixture
def catalogue(template, cli, tmp_path) -> Catalogue:
    """Each test's own copy of the template catalogue (the photo files are not needed here)."""
    db_path, ids = template
    for suffix in ("", "-wal"):
        if Path(db_path + suffix).exists():
            shutil.copyfile(db_path + suffix, cli.db_path + suffix)
    return Catalogue(cli, tmp_path, dict(ids))


# =================================================================================================
# export
# =================================================================================================

def test_export_writes_id_sha256_the_editable_fields_and_seen(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    assert header[:2] == ["id", "sha256"] and header[-2:] == ["seen", "exported"]
    assert all(len(r["exported"].split(".")) == len(EDITABLE) for r in rows)  # one fingerprint per cell
    assert set(EDITABLE) <= set(header)
    assert set(EDITABLE) == {"title", "caption", "creator", "keywords", "demonstration", "city", "taken_at", "date",
                             "licence", "withheld"}
    assert [int(r["id"]) for r in rows] == sorted(catalogue.ids.values())
    white = by_id(rows, catalogue.ids["white.jpg"])
    sha = query(catalogue.db, "SELECT sha256 FROM photos WHERE id = ?", catalogue.ids["white.jpg"])[0][0]
    assert {k: white[k] for k in ("sha256", "demonstration", "city", "taken_at", "date", "licence", "withheld",
                                  "title", "seen")} == {
        "sha256": sha, "demonstration": "2024-08-03-london-ceasefire-gaza", "city": "London",
        "taken_at": "2024-08-03T12:41:00+01:00", "date": "2024-08-03", "licence": "CC-BY-SA-4.0",
        "withheld": "no", "title": "", "seen": "0"}
    side = by_id(rows, catalogue.ids["side.jpg"])
    assert (side["title"], side["caption"], side["creator"], side["city"]) == (
        "Sidecar title", "Sidecar caption", "Marek Horváth", "Brussels")
    # stdout gives the same file
    assert catalogue.cli("export-csv").stdout == path.read_text(encoding="utf-8")


def test_export_seen_is_the_photos_last_edit(catalogue):
    ok(catalogue.cli("fix", str(catalogue.ids["odeon.jpg"]), "--title", "One"))
    ok(catalogue.cli("fix", str(catalogue.ids["white.jpg"]), "--title", "Two"))
    _, rows = read_csv(catalogue.export())
    last = {e["photo_id"]: e["id"] for e in edits(catalogue.db)}
    assert {int(r["id"]): int(r["seen"]) for r in rows} == {
        pid: last.get(pid, 0) for pid in catalogue.ids.values()}


def test_export_one_demonstration(catalogue):
    out = catalogue.base / "munich.csv"
    ok(catalogue.cli("export-csv", "--demo", "2024-05-18-munich", "-o", str(out)))
    assert [r["id"] for r in read_csv(out)[1]] == [str(catalogue.ids["odeon.jpg"])]


# =================================================================================================
# import: show, then apply only what changed
# =================================================================================================

def _edit_some_cells(rows: list[dict], ids: dict) -> None:
    by_id(rows, ids["odeon.jpg"])["title"] = "Odeonsplatz, 18 May"
    by_id(rows, ids["white.jpg"])["city"] = "Bratislava"
    by_id(rows, ids["white.jpg"])["withheld"] = "yes"
    by_id(rows, ids["side.jpg"])["keywords"] = "flags, Ukraine"


def _check_applied(catalogue: Catalogue, before: dict[int, dict]) -> None:
    ids, db = catalogue.ids, catalogue.db
    bratislava = query(db, "SELECT id FROM cities WHERE name = 'Bratislava'")[0][0]
    want = {ids["odeon.jpg"]: {"title": "Odeonsplatz, 18 May"},
            ids["white.jpg"]: {"city_id": bratislava, "withheld": 1},
            ids["side.jpg"]: {"keywords": json.dumps(["flags", "Ukraine"])}}
    for pid, changed in want.items():
        row = photo_row(db, pid)
        assert {k: row[k] for k in changed} == changed
        assert corrections(db, pid) == changed                   # only the changed cells are corrections
        untouched = [k for k in before[pid] if k not in changed and k not in (
            "updated_at", "title_source", "city_source", "city", "allows_commercial")
            and not (k in ("rendition", "state") and "withheld" in changed)  # withheld: a new token
            and not (k.startswith("demo") and "city_id" in changed)]  # the machine's demonstration follows the city
        assert {k: row[k] for k in untouched} == {k: before[pid][k] for k in untouched}, pid
    assert photo_row(db, ids["odeon.jpg"])["title_source"] == "archivist"
    assert photo_row(db, ids["white.jpg"])["city_source"] == "archivist"
    made = edits(db)
    assert sorted((e["photo_id"], e["field"]) for e in made) == sorted(
        (pid, field) for pid, changed in want.items() for field in changed)
    assert {e["via"] for e in made} == {"csv"} and {e["who"] for e in made} == {"ann"}
    assert len({e["batch"] for e in made}) == 1                   # one file, one batch: one undo


def test_import_shows_the_changes_and_changes_nothing(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    _edit_some_cells(rows, catalogue.ids)
    write_csv(path, header, rows)
    before = dump(catalogue.db)
    result = catalogue.cli("import-csv", str(path), "--who", "ann")
    out = ok(result)
    line_of = {int(r["id"]): n for n, r in enumerate(rows, start=2)}
    assert f"line {line_of[catalogue.ids['odeon.jpg']]}: photo {catalogue.ids['odeon.jpg']}: title (empty) -> " \
           f"'Odeonsplatz, 18 May'" in out
    assert f"photo {catalogue.ids['white.jpg']}: city 'London' -> 'Bratislava'" in out
    assert len(out.strip().splitlines()) == 4 and "4 cells would change" in result.stderr
    assert dump(catalogue.db) == before


@pytest.mark.parametrize("variant", ["plain", "bom", "crlf", "reordered", "bom-crlf-reordered-fewer-columns"])
def test_import_apply_changes_only_the_changed_cells(catalogue, variant):
    path = catalogue.export()
    header, rows = read_csv(path)
    _edit_some_cells(rows, catalogue.ids)
    if "reordered" in variant:
        header = list(reversed(header))
    if "fewer" in variant:   # the archivist deleted the columns they did not need
        header = [h for h in header if h not in ("original_filename", "demonstration_label", "caption", "date")]
    edited = write_csv(catalogue.base / "edited.csv", header, rows, bom="bom" in variant, crlf="crlf" in variant)
    raw = edited.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == ("bom" in variant) and (b"\r\n" in raw) == ("crlf" in variant)
    before = {pid: photo_row(catalogue.db, pid) for pid in catalogue.ids.values()}
    result = catalogue.cli("import-csv", str(edited), "--apply", "--who", "ann")
    assert "4 cells changed" in ok(result) + result.stderr
    _check_applied(catalogue, before)
    # the same file again: nothing left to change
    again = catalogue.cli("import-csv", str(edited), "--apply", "--who", "ann")
    assert "0 cells changed" in again.stderr and again.exit_code == 0
    assert len(edits(catalogue.db)) == 4
    assert "via csv" in ok(catalogue.cli("history", str(catalogue.ids["odeon.jpg"])))


def test_a_city_by_its_local_name(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["white.jpg"]
    by_id(rows, pid)["city"] = "München"
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows)), "--apply", "--who", "ann"))
    assert photo_row(catalogue.db, pid)["city"] == "Munich"


def test_importing_an_applied_file_again_changes_nothing(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["white.jpg"]
    by_id(rows, pid)["city"] = "München"
    by_id(rows, pid)["licence"] = "cc-by-4.0"
    write_csv(path, header, rows)
    ok(catalogue.cli("import-csv", str(path), "--apply", "--who", "ann"))
    before = dump(catalogue.db)
    again = catalogue.cli("import-csv", str(path), "--apply", "--who", "ann")
    assert again.exit_code == 0 and "0 cells changed" in again.stderr, again.output
    assert dump(catalogue.db) == before


def test_a_file_without_changes_changes_nothing(catalogue):
    path = catalogue.export()
    before = dump(catalogue.db)
    result = catalogue.cli("import-csv", str(path), "--apply")
    assert result.exit_code == 0 and "0 cells changed" in result.stderr
    assert dump(catalogue.db) == before


def test_a_whole_csv_import_undoes_together(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    _edit_some_cells(rows, catalogue.ids)
    before = {pid: photo_row(catalogue.db, pid) for pid in catalogue.ids.values()}
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows)), "--apply"))
    ok(catalogue.cli("undo", str(edits(catalogue.db)[0]["id"])))
    for pid, row in before.items():
        after = photo_row(catalogue.db, pid)
        same = [k for k in row if k not in ("updated_at", "rendition")]  # withheld and back: a new token
        assert {k: after[k] for k in same} == {k: row[k] for k in same}
        assert corrections(catalogue.db, pid) == {}


def test_import_date_and_time_cell_sets_the_date_too(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["white.jpg"]
    by_id(rows, pid)["taken_at"] = "2024-05-18T13:00:00+02:00"
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows)), "--apply"))
    r = photo_row(catalogue.db, pid)
    assert (r["taken_at"], r["date"], r["taken_at_utc"]) == (
        "2024-05-18T13:00:00+02:00", "2024-05-18", "2024-05-18T11:00:00+00:00")
    assert corrections(catalogue.db, pid) == {"taken_at": "2024-05-18T13:00:00+02:00"}


def test_import_clearing_a_cell_clears_the_field(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["side.jpg"]
    by_id(rows, pid)["caption"] = ""
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows)), "--apply"))
    assert photo_row(catalogue.db, pid)["caption"] is None
    assert corrections(catalogue.db, pid) == {"caption": None}


def test_import_a_multiline_cell(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["odeon.jpg"]
    by_id(rows, pid)["caption"] = "First line\nSecond line, with a comma and \"quotes\""
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows, crlf=True)), "--apply"))
    assert photo_row(catalogue.db, pid)["caption"].splitlines() == [
        "First line", "Second line, with a comma and \"quotes\""]


def test_a_new_city_is_added_only_when_applied(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    by_id(rows, catalogue.ids["odeon.jpg"])["city"] = "Paris"
    write_csv(path, header, rows)
    before = dump(catalogue.db)
    ok(catalogue.cli("import-csv", str(path)))
    assert dump(catalogue.db) == before
    ok(catalogue.cli("import-csv", str(path), "--apply"))
    assert photo_row(catalogue.db, catalogue.ids["odeon.jpg"])["city"] == "Paris"
    assert query(catalogue.db, "SELECT count(*) FROM cities WHERE name = 'Paris'") == [(1,)]


# =================================================================================================
# import: a file with a bad row is refused whole, every bad line named
# =================================================================================================

def test_a_file_with_bad_rows_is_refused_whole_with_every_line(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    odeon, white, side = (by_id(rows, catalogue.ids[n]) for n in ("odeon.jpg", "white.jpg", "side.jpg"))
    rows = [odeon, white, side]
    odeon["caption"] = "A caption\nover two lines"             # valid; its row spans lines 2-3
    odeon["city"] = "Paris"                                   # valid, and new to the archive
    white["licence"] = "Creative Commons"                     # line 4: bad
    white["date"] = "2024-02-30"                              # line 4: bad too
    side["title"] = "A fine new title"                        # valid
    side["city"] = "Xqzvilleburg"                             # line 5: bad
    write_csv(path, header, rows)
    before = dump(catalogue.db)
    for apply in ([], ["--apply"]):
        result = catalogue.cli("import-csv", str(path), *apply)
        problems = refused_lines(result, path)
        assert sorted(problems) == [4, 5], result.stderr
        assert any(m.startswith("licence:") for m in problems[4]) and any(m.startswith("date:") for m in problems[4])
        assert any("Xqzvilleburg" in m for m in problems[5])
        assert result.stdout == ""
        assert dump(catalogue.db) == before                       # not the good rows, not the new city


@pytest.mark.parametrize("case", ["sha256-mismatch", "duplicate-id", "unknown-id", "id-not-a-number", "seen-not-a-number"])
def test_bad_row_identity_is_refused_with_its_line(catalogue, case):
    path = catalogue.export()
    header, rows = read_csv(path)
    rows[0]["title"] = "Changed"
    if case == "sha256-mismatch":
        rows[1]["sha256"] = "0" * 64
        rows[1]["title"] = "From another catalogue"
        bad, fragment = 3, "another sha256"
    elif case == "duplicate-id":
        rows.append(dict(rows[1], title="Again"))
        bad, fragment = 5, "appears twice"
    elif case == "unknown-id":
        rows.append(dict(rows[1], id="4242", title="Who?"))
        bad, fragment = 5, "no photo 4242"
    elif case == "id-not-a-number":
        rows[2]["id"] = "three"
        bad, fragment = 4, "'three'"
    else:
        rows[2]["seen"] = "yesterday"
        rows[2]["title"] = "Changed too"
        bad, fragment = 4, "'yesterday'"
    write_csv(path, header, rows)
    before = dump(catalogue.db)
    problems = refused_lines(catalogue.cli("import-csv", str(path), "--apply"), path)
    assert list(problems) == [bad] and fragment in problems[bad][0], problems
    assert dump(catalogue.db) == before


def _file(catalogue: Catalogue, name: str, data: bytes) -> Path:
    path = catalogue.base / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", ["unknown-column", "no-id-column", "empty", "jpeg", "random-bytes", "utf-16",
                                  "latin-1", "json", "field-too-large"])
def test_a_file_that_is_not_our_csv_is_refused_clearly(catalogue, case):
    header = "id,sha256,title,seen\n"
    data, fragments = {
        "unknown-column": (b"id,title,colour\n1,x,red\n", ["unknown column", "colour"]),
        "no-id-column": (b"sha256,title\nabc,x\n", ["no 'id' column"]),
        "empty": (b"", ["no 'id' column"]),
        "jpeg": (make_photo(catalogue.base / "p.jpg", width=32, height=24).read_bytes(), ["UTF-8"]),
        "random-bytes": (bytes(range(256)) * 8, ["UTF-8"]),
        "utf-16": ((header + "1,,Titel,0\n").encode("utf-16"), ["UTF-8"]),
        "latin-1": ((header + "1,,Zoë,0\n").encode("latin-1"), ["UTF-8"]),
        "json": (b'[{"id": 1, "title": "x"}]\n', ["no 'id' column"]),
        "field-too-large": ((header + '1,,"' + "x" * 200_000 + '",0\n').encode(), ["field larger"]),
    }[case]
    path = _file(catalogue, f"{case}.csv", data)
    before = dump(catalogue.db)
    line = refused_file(catalogue.cli("import-csv", str(path), "--apply"), *fragments)
    assert str(path) in line
    assert dump(catalogue.db) == before


def test_a_missing_file_is_refused_clearly(catalogue):
    refused_file(catalogue.cli("import-csv", str(catalogue.base / "nope.csv")), "nope.csv")


def test_a_bad_file_in_a_real_process_has_no_traceback(catalogue):
    exe = Path(sys.executable).with_name("ingest")
    path = _file(catalogue, "photo.csv", make_photo(catalogue.base / "q.jpg", width=32, height=24).read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "INGEST_DEBUG"}
    before = dump(catalogue.db)
    proc = subprocess.run([str(exe), "import-csv", "--db", catalogue.db, str(path), "--apply"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and "photo.csv" in lines[0], proc.stderr
    assert dump(catalogue.db) == before


def test_a_short_row_is_refused_with_its_line(catalogue):
    path = catalogue.export()
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    pid = catalogue.ids["odeon.jpg"]
    line = next(n for n, t in enumerate(text) if t.startswith(f"{pid},"))
    text[line] = ",".join(text[line].split(",")[:2]) + "\n"  # cut short after id and sha256 (a hand edit)
    path.write_text("".join(text), encoding="utf-8")
    before = dump(catalogue.db)
    problems = refused_lines(catalogue.cli("import-csv", str(path), "--apply"), path)
    assert list(problems) == [line + 1]
    assert dump(catalogue.db) == before


def test_a_short_row_never_clears_the_cells_it_lacks(catalogue):
    pid = catalogue.ids["side.jpg"]
    path = _file(catalogue, "short.csv", f"id,title,caption\n{pid},A new title\n".encode())
    result = catalogue.cli("import-csv", str(path), "--apply")
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert photo_row(catalogue.db, pid)["caption"] == "Sidecar caption"
    assert "caption" not in corrections(catalogue.db, pid)


def test_a_file_with_nul_bytes_is_refused(catalogue):
    pid = catalogue.ids["odeon.jpg"]
    path = _file(catalogue, "nul.csv", f"id,title\n{pid},a\x00b\n".encode())
    before = dump(catalogue.db)
    no_crash(catalogue.cli("import-csv", str(path), "--apply"))
    assert dump(catalogue.db) == before


# =================================================================================================
# import: someone else changed the photo since the file was written
# =================================================================================================

def test_a_cell_someone_else_changed_since_the_export_is_refused(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["white.jpg"]
    ok(catalogue.cli("fix", str(pid), "--title", "Bob's title", "--who", "bob"))
    by_id(rows, pid)["title"] = "Ann's title"
    by_id(rows, catalogue.ids["odeon.jpg"])["title"] = "Ann's other title"      # fine on its own
    write_csv(path, header, rows)
    before = dump(catalogue.db)
    result = catalogue.cli("import-csv", str(path), "--apply", "--who", "ann")
    problems = refused_lines(result, path)
    line = [n for n, r in enumerate(rows, start=2) if r["id"] == str(pid)][0]
    assert list(problems) == [line] and "title was changed in the catalogue after the export" in problems[line][0], problems
    assert dump(catalogue.db) == before
    assert photo_row(catalogue.db, pid)["title"] == "Bob's title"
    # exported again, ann's change goes in over bob's (she has seen it now)
    header, rows = read_csv(catalogue.export("again.csv"))
    by_id(rows, pid)["title"] = "Ann's title"
    ok(catalogue.cli("import-csv", str(write_csv(path, header, rows)), "--apply", "--who", "ann"))
    assert photo_row(catalogue.db, pid)["title"] == "Ann's title"


def test_someone_elses_edit_of_another_cell_neither_blocks_nor_is_reverted(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["side.jpg"]
    ok(catalogue.cli("fix", str(pid), "--caption", "Bob's caption", "--who", "bob"))
    by_id(rows, pid)["title"] = "Ann's title"           # ann changes the title only
    write_csv(path, header, rows)
    result = catalogue.cli("import-csv", str(path), "--apply", "--who", "ann")
    assert result.exit_code == 0, result.output          # refused: "caption was changed by bob ..."
    r = photo_row(catalogue.db, pid)
    assert (r["title"], r["caption"]) == ("Ann's title", "Bob's caption")


def test_a_machine_value_changed_since_the_export_is_not_reverted(catalogue):
    path = catalogue.export()
    header, rows = read_csv(path)
    pid = catalogue.ids["odeon.jpg"]
    assert by_id(rows, pid)["licence"] == ""
    ok(catalogue.cli("settings", "default-licence", "CC-BY-4.0"))     # the archive's default licence ...
    ok(catalogue.cli("retag"))                                         # ... reaches the photo
    assert photo_row(catalogue.db, pid)["licence_id"] == "CC-BY-4.0"
    by_id(rows, pid)["title"] = "Odeonsplatz"                        # the archivist's only change
    write_csv(path, header, rows)
    ok(catalogue.cli("import-csv", str(path), "--apply", "--who", "ann"))
    r = photo_row(catalogue.db, pid)
    assert r["title"] == "Odeonsplatz"
    assert r["licence_id"] == "CC-BY-4.0", "the stale empty licence cell was applied"
    assert corrections(catalogue.db, pid) == {"title": "Odeonsplatz"}
