"""The archive's default licence: the last resort after the file and the import's --licence."""

from __future__ import annotations

import sqlite3

from fixtures.synth import make_photo


def _rows(cli):
    conn = sqlite3.connect(cli.db_path)
    return {r[0]: r[1:] for r in conn.execute(
        "SELECT original_filename, licence_id, licence_source, "
        "coalesce(review_reason, '') LIKE '%no licence%' FROM photos")}


def test_file_beats_flag_beats_archive_default_and_retag_applies_a_change(cli, tmp_path):
    folder = tmp_path / "in"
    make_photo(folder / "own.jpg", width=80, height=60, seed=1,
               xmp={"cc:license": "https://creativecommons.org/licenses/by-nc/4.0/"})
    make_photo(folder / "bare.jpg", width=80, height=60, seed=2)
    assert cli("settings", "default-licence", "CC BY-SA 4.0").stdout == "default-licence = CC-BY-SA-4.0\n"
    assert cli(str(folder)).exit_code == 0
    assert _rows(cli) == {"own.jpg": ("CC-BY-NC-4.0", "xmp", 0), "bare.jpg": ("CC-BY-SA-4.0", "archive", 0)}

    make_photo(tmp_path / "more" / "bare2.jpg", width=80, height=60, seed=3)
    assert cli(str(tmp_path / "more"), "--licence", "CC0-1.0").exit_code == 0
    assert _rows(cli)["bare2.jpg"] == ("CC0-1.0", "flag", 0)

    result = cli("settings", "default-licence", "CC-BY-4.0")
    assert "ingest retag" in result.stderr
    assert cli("retag").exit_code == 0
    rows = _rows(cli)
    assert rows["bare.jpg"] == ("CC-BY-4.0", "archive", 0)       # the archive default moved
    assert rows["bare2.jpg"] == ("CC0-1.0", "flag", 0)          # the import's flag still beats it
    assert rows["own.jpg"] == ("CC-BY-NC-4.0", "xmp", 0)        # the file beats both

    assert cli("settings", "default-licence", "--unset").exit_code == 0
    assert cli("retag").exit_code == 0
    assert _rows(cli)["bare.jpg"] == (None, None, 1)            # no licence at all: flagged


def test_settings_refuse_bad_values_in_one_line(cli):
    bad = cli("settings", "default-licence", "CC BY-NC")
    assert bad.exit_code == 2 and "not an exact licence" in bad.output
    unknown = cli("settings", "colour", "red")
    assert unknown.exit_code == 2 and "unknown setting" in unknown.output
    listing = cli("settings")
    assert listing.exit_code == 0 and listing.stdout.startswith("default-licence = ")


def test_the_archive_title_names_the_source_of_every_credit_line(cli, tmp_path, monkeypatch):
    """`ingest settings title` is the archive's name in credit lines; before it is set, an older
    archive's own metadata.yml title still counts, and else the default."""
    from fixtures.synth import make_photo

    from ingest.archive import Archive
    from ingest.catalogue.settings import DEFAULT_TITLE

    monkeypatch.chdir(tmp_path)
    make_photo(tmp_path / "in" / "a.jpg", width=64, height=48)
    assert cli("import", str(tmp_path / "in"), "--licence", "CC-BY-4.0", "--creator", "Zoë").exit_code == 0
    archive = Archive(cli.db_path, cli.store_path)
    assert archive.name == DEFAULT_TITLE
    (tmp_path / "metadata.yml").write_text("title: Older Archive\n", encoding="utf-8")
    assert archive.name == "Older Archive"
    assert cli("settings", "title", "  Kyiv   Solidarity Photos ").exit_code == 0
    assert archive.name == "Kyiv Solidarity Photos"
    out = cli("export", "1", "--to", str(tmp_path / "out"))
    assert out.exit_code == 0 and "from Kyiv Solidarity Photos" in out.output
    assert cli("settings", "title", "").exit_code == 2
