"""The demonstrations registry through the real command: `ingest demos import|list|add`.

Real YAML files in tmp_path, the real CLI (in-process, click's runner), a real SQLite catalogue.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from fixtures.synth import make_photo

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_REGISTRY = ROOT / "samples" / "registry.yml"
SAMPLE_ENTRIES = yaml.safe_load(SAMPLE_REGISTRY.read_text(encoding="utf-8"))


def demos(cli) -> list[dict]:
    if not Path(cli.db_path).exists():
        return []
    conn = sqlite3.connect(cli.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(
            """SELECT d.*, c.name AS city, c.country_code AS country
               FROM demonstrations d LEFT JOIN cities c ON c.id = d.city_id ORDER BY d.id""")]
    finally:
        conn.close()


def count(cli, sql: str) -> int:
    conn = sqlite3.connect(cli.db_path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


# ---- import: idempotent, updates in place -----------------------------------------------------------

def test_import_sample_registry(cli):
    out = ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    assert out.strip() == f"{len(SAMPLE_ENTRIES)} added, 0 updated, 0 unchanged"
    rows = demos(cli)
    assert len(rows) == len(SAMPLE_ENTRIES) == 14
    by_slug = {r["slug"]: r for r in rows}
    for entry in SAMPLE_ENTRIES:
        r = by_slug[entry["slug"]]
        assert (r["name"], r["city"], r["country"], r["date"], r["description"], r["provisional"]) == (
            entry["name"], entry["city"], entry["country_code"], entry["date"], entry["description"], 0)
    # the cities the registry names, one row each
    assert sorted({r["city"] for r in rows}) == ["Barcelona", "Bratislava", "Brussels", "London", "Munich"]
    assert count(cli, "SELECT count(*) FROM cities") == 5


def test_reimport_changes_nothing(cli):
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    before = demos(cli)
    result = cli("demos", "import", str(SAMPLE_REGISTRY))
    assert ok(result).strip() == f"0 added, 0 updated, {len(SAMPLE_ENTRIES)} unchanged"
    assert "ingest retag" not in result.stderr       # nothing new: no hint to retag
    assert demos(cli) == before


def test_changed_description_updates_the_row_never_duplicates(cli, tmp_path):
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    before = {r["slug"]: r for r in demos(cli)}
    entries = yaml.safe_load(SAMPLE_REGISTRY.read_text(encoding="utf-8"))
    entries[5]["description"] = "Corrected: the national march demanding a ceasefire, 2 November 2024"
    changed = tmp_path / "registry-v2.yml"
    changed.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = cli("demos", "import", str(changed))
    assert ok(result).strip() == f"0 added, 1 updated, {len(SAMPLE_ENTRIES) - 1} unchanged"
    assert "ingest retag" not in result.stderr  # no photos yet: nothing to retag, so no hint
    after = {r["slug"]: r for r in demos(cli)}
    assert len(after) == len(before)
    slug = entries[5]["slug"]
    assert after[slug]["id"] == before[slug]["id"]
    assert after[slug]["description"] == entries[5]["description"]
    assert {k: v for k, v in after.items() if k != slug} == {k: v for k, v in before.items() if k != slug}
    # and importing v2 again is a no-op
    assert ok(cli("demos", "import", str(changed))).strip() == f"0 added, 0 updated, {len(SAMPLE_ENTRIES)} unchanged"


def test_entries_without_slug_are_identified_by_name_date_and_city(cli, tmp_path):
    v1 = write_yaml(tmp_path / "r1.yml", """
- name: Vigil for Ukraine
  city: Kyiv
  date: "2024-02-24"
  description: first
""")
    v2 = write_yaml(tmp_path / "r2.yml", """
- name: VIGIL for Ukraine!
  city: Kiev
  date: "2024-02-24"
  description: second
""")
    assert ok(cli("demos", "import", str(v1))).strip() == "1 added, 0 updated, 0 unchanged"
    assert ok(cli("demos", "import", str(v2))).strip() == "0 added, 1 updated, 0 unchanged"
    rows = demos(cli)
    assert len(rows) == 1
    assert (rows[0]["city"], rows[0]["description"], rows[0]["name"]) == ("Kyiv", "second", "VIGIL for Ukraine!")


def test_same_name_on_other_dates_is_another_demonstration(cli, tmp_path):
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    ceasefire = [r for r in demos(cli) if r["name"] == "National march for a ceasefire in Gaza"]
    assert sorted(r["date"] for r in ceasefire) == ["2024-08-03", "2024-10-05", "2024-11-02"]
    assert len({r["id"] for r in ceasefire}) == len({r["slug"] for r in ceasefire}) == 3
    london = [r for r in demos(cli) if r["name"] == "London march"]
    assert sorted(r["date"] for r in london) == ["2024-03-30", "2024-05-18"]

    no_slugs = write_yaml(tmp_path / "r.yml", """
- {name: Solidarity march, city: Warsaw, date: "2024-03-02"}
- {name: Solidarity march, city: Warsaw, date: "2024-04-06"}
- {name: Solidarity march, city: Prague, date: "2024-04-06"}
""")
    assert ok(cli("demos", "import", str(no_slugs))).strip() == "3 added, 0 updated, 0 unchanged"
    assert ok(cli("demos", "import", str(no_slugs))).strip() == "0 added, 0 updated, 3 unchanged"
    solidarity = [r for r in demos(cli) if r["name"] == "Solidarity march"]
    assert sorted((r["date"], r["city"]) for r in solidarity) == [
        ("2024-03-02", "Warsaw"), ("2024-04-06", "Prague"), ("2024-04-06", "Warsaw")]
    assert len({r["slug"] for r in solidarity}) == 3


def test_month_only_entries(cli, tmp_path):
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    month = {r["city"]: r["date"] for r in demos(cli) if r["date"] and len(r["date"]) == 7}
    assert month == {"Barcelona": "2025-05", "Brussels": "2025-05"}
    # unquoted in YAML: 2025-06 stays text, 2025-06-14 loads as a date; both are kept as written
    unquoted = write_yaml(tmp_path / "r.yml", """
- {name: June march, city: Paris, date: 2025-06}
- {name: June rally, city: Paris, date: 2025-06-14}
""")
    assert ok(cli("demos", "import", str(unquoted))).strip() == "2 added, 0 updated, 0 unchanged"
    dates = {r["name"]: r["date"] for r in demos(cli)}
    assert (dates["June march"], dates["June rally"]) == ("2025-06", "2025-06-14")


GOOD = """
- {name: First, city: London, date: "2024-01-01"}
- {name: Second, city: London, date: "2024-02-01"}
"""
BAD_ENTRIES = {
    "impossible-date": ('- {name: Third, city: London, date: "2024-02-30"}', "does not exist"),
    "bad-month": ('- {name: Third, city: London, date: "2024-13"}', "does not exist"),
    "european-format": ('- {name: Third, city: London, date: "18/05/2024"}', "not YYYY-MM-DD or YYYY-MM"),
    "no-name": ('- {city: London, date: "2024-03-01"}', "name is missing"),
    "unknown-field": ('- {name: Third, city: London, date: "2024-03-01", organiser: X}', "unknown field(s) organiser"),
    "not-a-mapping": ("- just a string", "not a mapping"),
    "bad-time": ('- {name: Third, city: London, date: "2024-03-01", start: "25:00"}', "not HH:MM"),
}


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_invalid_entry_is_refused_with_file_and_entry_number_and_nothing_imported(cli, tmp_path, case):
    line, message = BAD_ENTRIES[case]
    path = write_yaml(tmp_path / f"{case}.yml", GOOD + line + "\n")
    result = cli("demos", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}: entry 3:" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert demos(cli) == []


def test_not_a_list_and_broken_yaml_are_refused(cli, tmp_path):
    mapping = write_yaml(tmp_path / "m.yml", "name: One\ncity: London\ndate: '2024-01-01'\n")
    result = cli("demos", "import", str(mapping))
    assert result.exit_code == 1 and f"{mapping}: expected a list" in result.stderr
    broken = write_yaml(tmp_path / "b.yml", GOOD + "- {name: [unclosed\n")
    result = cli("demos", "import", str(broken))
    assert result.exit_code == 1 and str(broken) in result.stderr and "not valid YAML" in result.stderr
    missing = tmp_path / "nowhere.yml"
    result = cli("demos", "import", str(missing))
    assert result.exit_code == 1 and "no such file" in result.stderr
    assert demos(cli) == []


def test_wrapped_in_a_demonstrations_key(cli, tmp_path):
    path = write_yaml(tmp_path / "w.yml", "demonstrations:\n" + "".join(f"  {l}\n" for l in GOOD.strip().splitlines()))
    assert ok(cli("demos", "import", str(path))).strip() == "2 added, 0 updated, 0 unchanged"


# ---- start and end times ---------------------------------------------------------------------------

def test_start_and_end_times(cli, tmp_path):
    path = write_yaml(tmp_path / "t.yml", """
- name: Quoted times
  city: London
  date: "2024-11-02"
  start: "12:00"
  end: "16:30"
- name: Unquoted times
  city: London
  date: "2024-11-03"
  start: 14:00
  end: 9:05
- name: No times
  city: London
  date: "2024-11-04"
""")
    assert ok(cli("demos", "import", str(path))).strip() == "3 added, 0 updated, 0 unchanged"
    times = {r["name"]: (r["start_time"], r["end_time"]) for r in demos(cli)}
    assert times == {"Quoted times": ("12:00", "16:30"), "Unquoted times": ("14:00", "09:05"), "No times": (None, None)}
    assert ok(cli("demos", "import", str(path))).strip() == "0 added, 0 updated, 3 unchanged"


def test_unquoted_time_with_seconds(cli, tmp_path):
    """YAML 1.1 reads an unquoted 14:00:00 as 50400 (base 60): it is 14:00, not an error."""
    path = write_yaml(tmp_path / "t.yml", '- {name: Rally, city: London, date: "2024-11-02", start: 14:00:00}\n')
    ok(cli("demos", "import", str(path)))
    assert demos(cli)[0]["start_time"] == "14:00"


# ---- list and add ------------------------------------------------------------------------------------

def test_demos_list(cli, tmp_path):
    ok(cli("demos", "import", str(SAMPLE_REGISTRY)))
    # one photo of the 15 March 2025 march (date in its name only: matched by date, the only one that day)
    make_photo(tmp_path / "phone" / "Camera" / "2025" / "PXL_20250315_131500123.jpg", width=64, height=48, seed=3)
    ok(cli("--jobs", "1", str(tmp_path / "phone")))
    lines = ok(cli("demos", "list")).splitlines()
    assert len(lines) == len(SAMPLE_ENTRIES)
    dates = [line.split()[0] for line in lines]
    assert dates == sorted(dates, reverse=True)                # newest first
    assert lines[0].split()[:2] == ["2025-06-01", "London"]
    genocide = next(line for line in lines if "Demonstration against Gaza genocide" in line)
    assert genocide.split()[:3] == ["2025-03-15", "London", "1"]
    vigils = [line for line in lines if line.startswith("2025-05 ")]
    assert sorted(line.split()[1] for line in vigils) == ["Barcelona", "Brussels"]
    assert all(line.split()[2] == "0" for line in vigils)


def test_demos_list_shows_provisional_groups(cli, tmp_path):
    make_photo(tmp_path / "card" / "DCIM" / "100GPS" / "paris.jpg", width=64, height=48, seed=4,
               exif={"DateTimeOriginal": "2024:06:01 12:00:00", "GPSLatitude": 48.8566, "GPSLongitude": 2.3522})
    ok(cli("--jobs", "1", str(tmp_path / "card")))
    lines = ok(cli("demos", "list")).splitlines()
    assert len(lines) == 1
    assert lines[0].split()[:3] == ["2024-06-01", "Paris", "1"]
    assert lines[0].endswith("(unnamed) (provisional)")


def test_demos_add(cli):
    out = ok(cli("demos", "add", "--name", "National march for a ceasefire in Gaza", "--city", "London",
                 "--date", "2024-11-02"))
    assert out.strip().startswith("added: demonstration ")
    demo_id = int(out.split()[-1])
    rows = demos(cli)
    assert [(r["id"], r["name"], r["city"], r["country"], r["date"], r["provisional"]) for r in rows] == [
        (demo_id, "National march for a ceasefire in Gaza", "London", "GB", "2024-11-02", 0)]
    assert ok(cli("demos", "add", "--name", "National march for a ceasefire in Gaza", "--city", "London",
                  "--date", "2024-11-02")).strip() == f"unchanged: demonstration {demo_id}"
    # the same demonstration spelt differently (case, punctuation) is updated in place, not added
    assert ok(cli("demos", "add", "--name", "National March for a Ceasefire in Gaza!", "--city", "London",
                  "--date", "2024-11-02")).strip() == f"updated: demonstration {demo_id}"
    assert [r["name"] for r in demos(cli)] == ["National March for a Ceasefire in Gaza!"]
    # another date, a month-only date, an alias for the city
    ok(cli("demos", "add", "--name", "National march for a ceasefire in Gaza", "--city", "London", "--date", "2024-10-05"))
    ok(cli("demos", "add", "--name", "Brussels demonstration", "--city", "Bruxelles", "--date", "2025-05"))
    rows = demos(cli)
    assert len(rows) == 3
    assert (rows[2]["city"], rows[2]["date"]) == ("Brussels", "2025-05")
    assert count(cli, "SELECT count(*) FROM cities") == 2


@pytest.mark.parametrize("bad", ["2024-02-30", "2024-13", "18/05/2024", "tomorrow", "2024-5-18"])
def test_demos_add_refuses_a_bad_date(cli, bad):
    result = cli("demos", "add", "--name", "Rally", "--city", "London", "--date", bad)
    assert result.exit_code == 2
    assert "Invalid value for --date" in result.stderr and bad in result.stderr
    assert demos(cli) == []


def test_registry_lookups_by_date_and_name_follow_the_list_as_it_changes():
    """Tagging asks the registry by date and name through an index; it must answer as a scan of
    `demos` would (a YYYY-MM entry fits every day of its month), in registry order, after appends
    and after the list is replaced."""
    from ingest.catalogue.registry import Demo, Registry, demo_fits

    registry = Registry(demos=[Demo(1, "March", "2024-05-18", 10), Demo(2, "Month of action", "2024-05", 11),
                               Demo(3, "march!", "2024-05-18", 12), Demo(4, "Vigil", None, None)])

    def scan(date):
        return [d for d in registry.demos if demo_fits(d, date)]

    for date in ("2024-05-18", "2024-05-19", "2024-05", "2024-06-01", None):
        assert registry.fitting(date) == scan(date), date
    assert [d.id for d in registry.called("MARCH")] == [1, 3]
    assert registry.demo(3).name == "march!"
    registry.demos.append(Demo(5, "March", "2024-05-19", 10))
    assert registry.fitting("2024-05-19") == scan("2024-05-19") and registry.demo(5).id == 5
    registry.demos = [d for d in registry.demos if d.id != 1]
    assert registry.fitting("2024-05-18") == scan("2024-05-18") and registry.demo(1) is None
    assert [d.id for d in registry.called("march")] == [3, 5]
