"""CLI wiring: spellings of the command, the summary line, flags, help text kept in step with README."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fixtures.synth import make_photo

from ingest.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SUMMARY = re.compile(
    r"^(?P<imported>\d+) (?:imported|would import), (?P<duplicates>\d+) duplicates, (?P<unchanged>\d+) unchanged"
    r"(?:, (?P<skipped>\d+) skipped \(not images\))?, (?P<problems>\d+) problems(?:, (?P<warnings>\d+) warnings)?"
    r" \((?P<seen>\d+) files in \d+\.\d s, \d+ files/s\)$"
)


def query(db_path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def card(tmp_path) -> Path:
    folder = tmp_path / "card"
    make_photo(folder / "a.jpg", width=640, height=480, seed=1,
               exif={"DateTimeOriginal": "2024:05:18 14:00:00", "Artist": "Ana"})
    make_photo(folder / "sub" / "b.png", width=320, height=240, seed=2, fmt="PNG")
    return folder


def walk(group: click.Group, prefix: tuple[str, ...] = ()):
    """(path, command) for every command under `group`, recursively."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, (*prefix, name))


COMMANDS = list(walk(main))
# Options each command does not have to document in README (click's own).
_IMPLICIT = {"--help", "--version"}


def _undocumented(cmd: click.Command) -> list[str]:
    missing = []
    for param in cmd.params:
        if not isinstance(param, click.Option):
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        if longs and not set(longs) & _IMPLICIT and not any(o in README for o in longs):
            missing.append(longs[0])
    return missing


# ---------------------------------------------------------------- help and docs

def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("import", "demos", "retag", "serve"):
        assert re.search(rf"^\s+{name}\*?\s+\S", result.stdout, re.M), f"{name} not listed:\n{result.stdout}"
    assert invoke("-h").stdout == result.stdout


def test_help_imports_no_command_module_and_says_what_the_commands_say():
    """`ingest --help` lists the commands from ingest.cli.SUMMARIES, without importing their modules
    (a fixed cost of every call to it): the list is the one the loaded commands give."""
    code = """
import click, sys
from click.testing import CliRunner
from ingest.cli import main
lazy = CliRunner().invoke(main, ["--help"]).stdout
print(sorted(m for m in sys.modules if m.startswith("ingest.cli.") and m != "ingest.cli.common"))
ctx = click.Context(main)
for name in main.lazy:
    main.get_command(ctx, name)
print(lazy == CliRunner().invoke(main, ["--help"]).stdout, "Commands:" in lazy)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "True True"], out


def test_every_command_has_help_text_and_is_in_readme():
    assert {" ".join(path) for path, _ in COMMANDS} >= {"import", "demos", "demos import", "demos list",
                                                        "demos add", "retag", "serve"}
    for path, cmd in COMMANDS:
        spelled = "ingest " + " ".join(path)
        assert (cmd.help or "").strip() and cmd.get_short_help_str().strip(), f"`{spelled}` has no help text"
        assert spelled in README, f"`{spelled}` is not in README.md"
        result = invoke(*path, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout
        assert cmd.get_short_help_str()[:20] in " ".join(result.stdout.split()), spelled


@pytest.mark.parametrize("path, cmd", [
    pytest.param(path, cmd, id=" ".join(path)) for path, cmd in COMMANDS if not isinstance(cmd, click.Group)
])
def test_every_option_is_in_readme(path, cmd):
    assert _undocumented(cmd) == [], f"ingest {' '.join(path)}: options missing from README.md"


def test_import_help_documents_exit_status_and_defaults():
    text = " ".join(invoke("import", "--help").stdout.split())
    for words in ("--max-megapixels", "default: 250", "--timeout", "default: 120", "--dry-run", "--jobs"):
        assert words in text, words


# ---------------------------------------------------------------- spellings

def test_default_command_and_explicit_import(tmp_path, card, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INGEST_DB", raising=False)
    monkeypatch.delenv("INGEST_STORE", raising=False)
    result = invoke(str(card))                       # ingest PATH: gallery.db and archive/ here
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gallery.db").is_file() and (tmp_path / "archive" / "originals").is_dir()
    again = invoke("import", str(card))              # ingest import PATH: the same command
    assert again.exit_code == 0
    assert again.stdout.startswith("0 imported, 0 duplicates, 2 unchanged"), again.stdout


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_db_and_store_before_or_after_the_path(tmp_path, card, where, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db, store = tmp_path / "x" / "my.db", tmp_path / "x" / "my-store"
    db.parent.mkdir()
    flags = ["--db", str(db), "--store", str(store)]
    if where == "before":
        result = invoke(*flags, str(card))
    elif where == "after":
        result = invoke(str(card), *flags)
    else:
        result = invoke(str(card), env={"INGEST_DB": str(db), "INGEST_STORE": str(store)})
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT count(*) FROM photos") == [(2,)]
    assert (store / "originals").is_dir() and (store / "web").is_dir() and (store / "thumbs").is_dir()
    assert not (tmp_path / "gallery.db").exists() and not (tmp_path / "archive").exists()


def test_import_flags_after_import_with_db_after_path(tmp_path, card):
    db = tmp_path / "g.db"
    result = invoke("import", str(card), "--db", str(db), "--store", str(tmp_path / "s"), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT count(*) FROM photos") == [(2,)]


def test_paths_are_matched_resolved(tmp_path, card, monkeypatch):
    """The same file by another spelling (relative, twice, through a symlink) is one file, unchanged later."""
    monkeypatch.chdir(tmp_path)
    flags = ["--db", str(tmp_path / "g.db"), "--store", str(tmp_path / "s")]
    first = invoke(*flags, str(card / "a.jpg"), "card/a.jpg", str(card))
    assert first.exit_code == 0
    assert first.stdout.startswith("2 imported, 0 duplicates, 0 unchanged, 0 problems (2 files"), first.stdout
    (tmp_path / "link").symlink_to(card, target_is_directory=True)
    again = invoke(*flags, "link", "./card/../card")
    assert again.stdout.startswith("0 imported, 0 duplicates, 2 unchanged, 0 problems (2 files"), again.stdout
    assert query(tmp_path / "g.db", "SELECT count(*) FROM photo_sources") == [(2,)]


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and re.match(r"ingest, version \d+\.\d+", result.stdout)


# ---------------------------------------------------------------- summary line

def test_summary_line_format(cli, tmp_path, card):
    (card / "junk.bin").write_bytes(b"\x00" * 100)
    (card / "broken.jpg").write_bytes(b"")
    result = cli(str(card))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[1].startswith("2 waiting for review: 2 without a licence"), result.stdout
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    assert m.group("imported", "duplicates", "unchanged", "skipped", "problems", "seen") == (
        "2", "0", "0", "1", "1", "4")
    second = cli(str(card)).stdout.strip()  # files not imported are looked at again, every run
    m = SUMMARY.match(second)
    assert m, second
    assert m.group("imported", "unchanged", "skipped", "problems", "seen") == ("0", "2", "1", "1", "4"), second


# ---------------------------------------------------------------- --jobs

_VOLATILE = {"id", "imported_at", "updated_at", "demonstration_id", "city_id", "rendition"}  # rendition: random


def catalogue(db_path: Path) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        photos = {r["sha256"]: {k: r[k] for k in r.keys() if k not in _VOLATILE}
                  for r in conn.execute("SELECT * FROM photos")}
        metadata = sorted(tuple(r) for r in conn.execute(
            "SELECT p.sha256, m.source, m.key, m.value FROM metadata m JOIN photos p ON p.id = m.photo_id"))
        sources = sorted(tuple(r) for r in conn.execute(
            "SELECT p.sha256, s.path, s.size, s.mtime_ns FROM photo_sources s JOIN photos p ON p.id = s.photo_id"))
    finally:
        conn.close()
    return {"photos": photos, "metadata": metadata, "sources": sources}


def test_jobs_2_gives_the_same_rows_as_jobs_1(tmp_path):
    folder = tmp_path / "card"
    for i in range(8):
        make_photo(folder / f"IMG_{i}.jpg", width=640, height=480, seed=i,
                   exif={"DateTimeOriginal": f"2024:05:1{i} 1{i}:00:00", "Artist": f"A{i % 2}",
                         "GPSLatitude": 51.5 + i / 1000, "GPSLongitude": -0.12})
    (folder / "dup.jpg").write_bytes((folder / "IMG_0.jpg").read_bytes())
    make_photo(folder / "x.webp", width=320, height=240, seed=99, fmt="WEBP", xmp={"dc:title": "Webp"})
    out = {}
    for jobs in ("1", "2"):
        root = tmp_path / f"jobs{jobs}"
        root.mkdir()
        result = invoke("--db", str(root / "g.db"), "--store", str(root / "s"), str(folder), "--jobs", jobs)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("9 imported, 1 duplicates"), result.stdout
        out[jobs] = catalogue(root / "g.db")
        out[jobs]["files"] = sorted(p.relative_to(root / "s").as_posix() for p in (root / "s").rglob("*") if p.is_file())
    assert out["1"] == out["2"]


# ---------------------------------------------------------------- flags: defaults and forced values

def test_licence_creator_are_defaults_demo_city_are_forced(cli, tmp_path):
    folder = tmp_path / "card"
    make_photo(folder / "own.jpg", width=640, height=480, seed=3,
               exif={"DateTimeOriginal": "2024:05:18 14:00:00"},
               xmp={"dc:creator": ["Own Creator"], "cc:license": "https://creativecommons.org/licenses/by/4.0/",
                    "photoshop:City": "Paris", "Iptc4xmpCore:CountryCode": "FR"})
    make_photo(folder / "bare.jpg", width=640, height=480, seed=4, exif={"DateTimeOriginal": "2024:05:18 15:00:00"})
    result = cli(str(folder), "--licence", "cc-by-sa-4.0", "--creator", "Flag Creator",
                 "--demo", "Test march for peace", "--new-demo", "--city", "London")
    assert result.exit_code == 0, result.output
    got = {r[0]: r[1:] for r in query(cli.db_path, """
        SELECT p.original_filename, p.creator, p.creator_source, p.licence_id, p.licence_source,
               c.name, p.city_source, d.name, p.demonstration_source
        FROM photos p LEFT JOIN cities c ON c.id = p.city_id LEFT JOIN demonstrations d ON d.id = p.demonstration_id""")}
    own, bare = got["own.jpg"], got["bare.jpg"]
    assert own[:4] == ("Own Creator", "xmp", "CC-BY-4.0", "xmp")            # a file's own values win over defaults
    assert bare[:4] == ("Flag Creator", "flag", "CC-BY-SA-4.0", "flag")      # defaults fill the gaps (SPDX case fixed)
    for row in (own, bare):                                                  # forced on every file
        assert row[4:] == ("London", "flag", "Test march for peace", "flag"), row
    assert query(cli.db_path, "SELECT count(*) FROM demonstrations WHERE name = 'Test march for peace'") == [(1,)]


def test_license_spelling_is_accepted(cli, card):
    result = cli(str(card), "--license", "CC-BY-4.0")
    assert result.exit_code == 0, result.output
    assert query(cli.db_path, "SELECT DISTINCT licence_id FROM photos") == [("CC-BY-4.0",)]


# ---------------------------------------------------------------- the registry

REGISTRY = """\
- name: National march for a ceasefire
  city: London
  country_code: GB
  date: "2024-11-02"
- name: VE Day demonstration
  city: Barcelona
  date: "2025-05"
"""


def test_demos_import_is_idempotent(cli, tmp_path):
    reg = tmp_path / "registry.yml"
    reg.write_text(REGISTRY)
    first = cli("demos", "import", str(reg))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "2 added, 0 updated, 0 unchanged"
    again = cli("demos", "import", str(reg))
    assert again.exit_code == 0
    assert again.stdout.strip() == "0 added, 0 updated, 2 unchanged"
    assert query(cli.db_path, "SELECT name, date FROM demonstrations ORDER BY date") == [
        ("National march for a ceasefire", "2024-11-02"), ("VE Day demonstration", "2025-05")]
    listed = cli("demos", "list")
    assert listed.exit_code == 0
    assert "National march for a ceasefire" in listed.stdout and "Barcelona" in listed.stdout


@pytest.mark.parametrize("bad_date", ["2024-13-01", "2024-02-30", "18/05/2024"])
def test_demos_import_invalid_date_is_one_line_and_imports_nothing(cli, tmp_path, bad_date):
    reg = tmp_path / "registry.yml"
    reg.write_text(REGISTRY + f'- name: Bad one\n  city: Paris\n  date: "{bad_date}"\n')
    result = cli("demos", "import", str(reg))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and str(reg) in lines[0] and "entry 3" in lines[0] and bad_date in lines[0]
    assert query(cli.db_path, "SELECT count(*) FROM demonstrations") == [(0,)]
    assert query(cli.db_path, "SELECT count(*) FROM cities") == [(0,)]


def test_demos_import_missing_file(cli, tmp_path):
    result = cli("demos", "import", str(tmp_path / "nope.yml"))
    assert result.exit_code == 1 and "nope.yml" in result.stderr and "Traceback" not in result.output


def test_demos_add_bad_date_is_a_usage_error(cli):
    result = cli("demos", "add", "--name", "X", "--city", "London", "--date", "2024-5-1")
    assert result.exit_code == 2 and "--date" in result.stderr


# ---------------------------------------------------------------- retag and corrections

def test_retag_and_reingest_keep_a_corrected_value(cli, tmp_path):
    folder = tmp_path / "card"
    photo = make_photo(folder / "a.jpg", width=640, height=480, seed=5,
                       exif={"DateTimeOriginal": "2024:11:02 13:00:00", "Artist": "Machine Name"})
    assert cli(str(folder)).exit_code == 0
    (photo_id, creator), = query(cli.db_path, "SELECT id, creator FROM photos")
    assert creator == "Machine Name"

    conn = sqlite3.connect(cli.db_path)
    with conn:
        conn.execute("INSERT INTO corrections (photo_id, field, value, who, at) VALUES (?, 'creator', ?, ?, ?)",
                     [photo_id, "Corrected Name", "archivist", datetime.now(timezone.utc).isoformat()])
        conn.execute("UPDATE photos SET creator = 'Corrected Name' WHERE id = ?", [photo_id])
    conn.close()

    reg = tmp_path / "registry.yml"
    reg.write_text(REGISTRY)
    assert cli("demos", "import", str(reg)).exit_code == 0
    result = cli("retag")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ of 1 photos changed", result.stdout.strip()), result.stdout
    assert query(cli.db_path, "SELECT id, creator FROM photos") == [(photo_id, "Corrected Name")]

    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))
    again = cli(str(folder))
    assert again.exit_code == 0
    assert again.stdout.startswith("0 imported, 0 duplicates, 1 unchanged"), again.stdout
    assert query(cli.db_path, "SELECT id, creator FROM photos") == [(photo_id, "Corrected Name")]
    assert query(cli.db_path, "SELECT field, value FROM corrections") == [("creator", "Corrected Name")]
    assert cli("retag").exit_code == 0
    assert query(cli.db_path, "SELECT id, creator FROM photos") == [(photo_id, "Corrected Name")]


def test_retag_applies_a_new_registry(cli, tmp_path):
    folder = tmp_path / "card"
    make_photo(folder / "a.jpg", width=640, height=480, seed=6,
               exif={"DateTimeOriginal": "2024:11:02 13:00:00", "GPSLatitude": 51.5007, "GPSLongitude": -0.1246})
    assert cli(str(folder)).exit_code == 0
    reg = tmp_path / "registry.yml"
    reg.write_text(REGISTRY)
    assert cli("demos", "import", str(reg)).exit_code == 0
    result = cli("retag")
    assert result.exit_code == 0
    assert result.stdout.strip() == "1 of 1 photos changed"
    assert query(cli.db_path, """SELECT d.name, p.demonstration_source FROM photos p
                                 JOIN demonstrations d ON d.id = p.demonstration_id""") == [
        ("National march for a ceasefire", "registry")]
    assert cli("retag").stdout.strip() == "0 of 1 photos changed"


def test_a_mistyped_demo_is_refused_with_the_close_matches(cli, tmp_path):
    """`--demo` forces a demonstration on every file: a typo must not create a new, undated one."""
    from fixtures.synth import make_photo

    registry = tmp_path / "registry.yml"
    registry.write_text("- {name: National march for a ceasefire in Gaza, city: London, date: 2024-11-02}\n",
                        encoding="utf-8")
    assert cli("demos", "import", str(registry)).exit_code == 0
    make_photo(tmp_path / "in" / "a.jpg", width=64, height=48)
    typo = cli("import", str(tmp_path / "in"), "--demo", "National march for a cesefire in Gaza")
    assert typo.exit_code == 2 and "not a registered demonstration" in typo.output
    assert "'National march for a ceasefire in Gaza' (2024-11-02, London)" in typo.output and "--new-demo" in typo.output
    assert cli("import", str(tmp_path / "in"), "--demo", "national MARCH for a ceasefire in gaza").exit_code == 0
    make_photo(tmp_path / "in2" / "b.jpg", width=64, height=48, seed=2)
    assert cli("import", str(tmp_path / "in2"), "--demo", "Vigil for the detained").exit_code == 2
    assert cli("import", str(tmp_path / "in2"), "--demo", "Vigil for the detained", "--new-demo").exit_code == 0
    assert "Vigil for the detained" in cli("demos", "list").output
