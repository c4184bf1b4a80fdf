"""Corrections travel: `ingest sidecars` writes XMP sidecars with the current, corrected catalogue values
beside exported copies, and exiftool, our own reader and a second archive read them back."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.corrections import apply_changes, parse_changes
from ingest.catalogue.schema import connect
from ingest.importer.read.xmp import read_sidecar, read_xmp
from ingest.media.store import Store
from ingest.outputs.export import export
from ingest.outputs.sidecars import _offset, copy_ext, sidecar_name

EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None and not os.environ.get("CI"),
                                    reason="exiftool is not installed (.ci/run installs libimage-exiftool-perl)")

CAMERA = {"DateTimeOriginal": "2024:11:02 14:30:12", "OffsetTimeOriginal": "+00:00", "Make": "Canon",
          "Model": "Canon EOS R6", "BodySerialNumber": "012345678901", "Artist": "Olena Kovalenko",
          "GPSLatitude": 51.5045, "GPSLongitude": -0.1263}
RIGHTS = {"dc:title": "Ceasefire march", "cc:license": "https://creativecommons.org/licenses/by-sa/4.0/"}
REGISTRY = [("National march for a ceasefire in Gaza", "London", "2024-11-02"),
            ("Climate strike", "Manchester", "2024-11-03")]
CORRECTED = {"title": "Climate strike at Piccadilly Gardens", "caption": "Students block Oxford Road.",
             "creator": "Zoë Müller", "keywords": "climate, strike", "licence": "CC-BY-4.0",
             "city": "Manchester", "demonstration": "Climate strike", "taken_at": "2024-11-03T11:00:00+00:00"}


def exiftool(*args: str | Path) -> list[dict]:
    done = subprocess.run([EXIFTOOL, "-j", "-G1", *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def register(cli) -> None:
    for name, city, date in REGISTRY:
        assert cli("demos", "add", "--name", name, "--city", city, "--date", date).exit_code == 0


def photo_row(db_path, photo_id: int = 1) -> dict:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute(
            "SELECT p.*, c.name AS city, d.name AS demonstration FROM photos p LEFT JOIN cities c ON c.id = p.city_id "
            "LEFT JOIN demonstrations d ON d.id = p.demonstration_id WHERE p.id = ?", [photo_id]).fetchone())
    finally:
        conn.close()


@pytest.fixture
def gallery(cli, tmp_path):
    """An archive of three photos; photo 1 exported to out/, then corrected by an archivist."""
    card = tmp_path / "card"
    make_photo(card / "IMG_0001.jpg", width=600, height=400, seed=1, exif=CAMERA, xmp=RIGHTS)
    make_photo(card / "flyer.png", width=300, height=200, seed=2, fmt="PNG",
               xmp={"cc:license": "https://creativecommons.org/publicdomain/zero/1.0/"})
    make_photo(card / "summer.jpg", width=300, height=200, seed=3,   # no offset: London's zone gives it
               exif={"DateTimeOriginal": "2024:07:06 15:00:00", "GPSLatitude": 51.5045, "GPSLongitude": -0.1263})
    register(cli)
    assert cli(str(card), "--licence", "CC-BY-SA-4.0", "--jobs", "1", "--creator", "Photo desk", "--publish").exit_code == 0
    out = tmp_path / "out"
    assert cli("export", "1", "--to", str(out)).exit_code == 0
    (stale,) = out.glob("*-1.jpg")
    db = connect(cli.db_path)
    try:
        assert [r[0] for r in db.execute("SELECT original_filename FROM photos ORDER BY id")] == \
            ["IMG_0001.jpg", "flyer.png", "summer.jpg"]
        apply_changes(db, [1], parse_changes(db, CORRECTED), who="archivist", via="cli")
    finally:
        db.conn.close()
    return out, stale


@needs_exiftool
def test_sidecar_beside_an_earlier_copy_carries_the_corrected_values(cli, gallery):
    out, stale = gallery
    result = cli("sidecars", "1", "--to", str(out))
    assert result.exit_code == 0, result.output
    # The title (so the export name) changed since: the sidecar goes beside the copy already there.
    sidecar = stale.with_name(stale.name + ".xmp")
    assert result.stdout.split() == [str(sidecar)]
    assert "1 sidecars written, 0 unchanged" in result.stderr
    (tags,) = exiftool(sidecar)
    assert tags["XMP-dc:Title"] == "Climate strike at Piccadilly Gardens"
    assert tags["XMP-dc:Description"] == "Students block Oxford Road."
    assert tags["XMP-dc:Creator"] == "Zoë Müller"
    assert tags["XMP-dc:Subject"] == ["climate", "strike"]
    assert tags["XMP-cc:License"] == "https://creativecommons.org/licenses/by/4.0/"
    assert tags["XMP-xmpRights:WebStatement"] == "https://creativecommons.org/licenses/by/4.0/"
    assert tags["XMP-dc:Rights"] == "© Zoë Müller, CC BY 4.0"
    assert tags["XMP-cc:AttributionName"] == "Zoë Müller"
    assert tags["XMP-photoshop:City"] == "Manchester"
    assert tags["XMP-photoshop:Country"] == "United Kingdom" and tags["XMP-iptcCore:CountryCode"] == "GB"
    assert tags["XMP-iptcExt:Event"] == "Climate strike"
    assert tags["XMP-photoshop:DateCreated"] == "2024:11:03 11:00:00+00:00"
    assert tags["XMP-exif:DateTimeOriginal"] == tags["XMP-xmp:CreateDate"] == "2024:11:03 11:00:00+00:00"
    # Nothing private: no GPS (public-location defaults to city), no serial, no source path, no old name.
    assert not [k for k in tags if "GPS" in k or "Serial" in k]
    text = sidecar.read_text(encoding="utf-8")
    for private in ("012345678901", "card", "IMG_0001", "Olena", "Canon"):
        assert private not in text
    # Our own reader sees the same, as the sidecar of the copy.
    facts = read_sidecar(stale)
    assert facts["dc:title"] == "Climate strike at Piccadilly Gardens" and facts["dc:creator"] == ["Zoë Müller"]
    assert facts["photoshop:City"] == "Manchester" and facts["Iptc4xmpExt:Event"] == "Climate strike"
    assert facts["cc:license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert facts["photoshop:DateCreated"] == "2024-11-03T11:00:00+00:00"
    assert not any(k.startswith("exif:GPS") for k in facts)


@needs_exiftool
@pytest.mark.parametrize("naming, source", [("digikam", "%d%f.%e.xmp"), ("lightroom", "%d%f.xmp")])
def test_exiftool_reads_the_sidecar_of_the_copy(cli, gallery, naming, source):
    out, stale = gallery
    assert cli("sidecars", "1", "--to", str(out), "--naming", naming).exit_code == 0
    expected = {"digikam": stale.name + ".xmp", "lightroom": stale.stem + ".xmp"}[naming]
    assert sorted(p.name for p in out.glob("*.xmp")) == [expected]
    # exiftool's sidecar idiom: process the copy's sidecar in its place (-srcfile), named by pattern.
    (tags,) = exiftool("-srcfile", source, stale)
    assert tags["SourceFile"].endswith(expected)
    assert tags["XMP-dc:Title"] == "Climate strike at Piccadilly Gardens" and tags["XMP-photoshop:City"] == "Manchester"
    # ...and embed it into the copy: the copy's stale XMP gives way to the corrected values.
    merged = out / "merged.jpg"
    subprocess.run([EXIFTOOL, "-q", "-tagsfromfile", source, "-xmp:all", "-o", str(merged), str(stale)], check=True)
    assert read_xmp(merged.read_bytes())["dc:title"] == "Climate strike at Piccadilly Gardens"
    assert exiftool(merged)[0]["XMP-iptcExt:Event"] == "Climate strike"


@needs_exiftool
def test_gps_only_when_the_archive_publishes_exact_locations_or_asked(cli, gallery):
    out, _ = gallery

    def gps(*args: str) -> tuple | None:
        assert cli("sidecars", "1", "--to", str(out), *args).exit_code == 0
        (tags,) = exiftool("-n", *out.glob("*-1.jpg.xmp"))
        if "XMP-exif:GPSLatitude" not in tags:
            return None
        return round(tags["XMP-exif:GPSLatitude"], 5), round(tags["XMP-exif:GPSLongitude"], 5)

    assert gps() is None
    assert gps("--with-gps") == (51.5045, -0.1263)          # the archive's own backup
    assert cli("settings", "public-location", "exact").exit_code == 0
    assert gps() == (51.5045, -0.1263)
    assert gps("--no-gps") is None
    assert cli("settings", "public-location", "none").exit_code == 0
    assert gps() is None
    assert read_sidecar(next(out.glob("*-1.jpg"))).get("exif:GPSLatitude") is None


def test_round_trip_through_a_new_archive(cli, gallery, tmp_path):
    """A copy exported after the corrections, with its sidecar, imported into another archive."""
    fresh = tmp_path / "fresh"
    result = cli("export", "1", "--to", str(fresh), "--sidecars")
    assert result.exit_code == 0, result.output
    (copy,) = fresh.glob("*.jpg")
    assert copy.name.startswith("2024-11-03-manchester-climate-strike-at-piccadilly-gardens-1")
    assert (fresh / (copy.name + ".xmp")).is_file() and str(fresh / (copy.name + ".xmp")) in result.stdout
    other = tmp_path / "other"
    other.mkdir()
    again = lambda *a: cli("--db", str(other / "gallery.db"), "--store", str(other / "archive"), *a,  # noqa: E731
                           archive_args=False)
    for name, city, date in REGISTRY:
        assert again("demos", "add", "--name", name, "--city", city, "--date", date).exit_code == 0
    assert again(str(fresh)).exit_code == 0
    row = photo_row(other / "gallery.db")
    assert (row["title"], row["title_source"]) == ("Climate strike at Piccadilly Gardens", "xmp")
    assert row["caption"] == "Students block Oxford Road."
    assert (row["creator"], row["creator_source"]) == ("Zoë Müller", "xmp")
    assert json.loads(row["keywords"]) == ["climate", "strike"]
    assert (row["licence_id"], row["licence_source"]) == ("CC-BY-4.0", "xmp")
    assert (row["city"], row["city_source"]) == ("Manchester", "xmp")
    assert (row["demonstration"], row["demonstration_source"]) == ("Climate strike", "xmp")
    assert row["latitude"] is None and row["longitude"] is None


def test_corrected_date_survives_export(cli, gallery, tmp_path):
    fresh = tmp_path / "fresh"
    assert cli("export", "1", "--to", str(fresh), "--sidecars").exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    assert cli("--db", str(other / "gallery.db"), "--store", str(other / "archive"), str(fresh),
               archive_args=False).exit_code == 0
    assert photo_row(other / "gallery.db")["taken_at"] == "2024-11-03T11:00:00+00:00"


def test_an_earlier_copy_with_its_new_sidecar_in_a_new_archive(cli, gallery, tmp_path):
    """The sidecar beats the copy's embedded XMP; the copy's stale EXIF copyright is a disagreement a
    person settles, never a silent return to the old licence."""
    out, stale = gallery
    assert cli("sidecars", "1", "--to", str(out)).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    again = lambda *a: cli("--db", str(other / "gallery.db"), "--store", str(other / "archive"), *a,  # noqa: E731
                           archive_args=False)
    for name, city, date in REGISTRY:
        assert again("demos", "add", "--name", name, "--city", city, "--date", date).exit_code == 0
    assert again(str(out)).exit_code == 0
    row = photo_row(other / "gallery.db")
    assert row["title"] == "Climate strike at Piccadilly Gardens" and row["creator"] == "Zoë Müller"
    assert row["city"] == "Manchester" and row["demonstration"] == "Climate strike"
    assert row["licence_id"] is None and "licences disagree" in row["review_reason"]


def test_offset_comes_from_the_places_time_zone(cli, gallery):
    out, _ = gallery
    assert photo_row(cli.db_path, 3)["taken_at"] == "2024-07-06T15:00:00"
    assert cli("sidecars", "3", "--to", str(out)).exit_code == 0
    (sidecar,) = out.glob("*-3.jpg.xmp")
    assert read_sidecar(sidecar.with_suffix(""))["photoshop:DateCreated"] == "2024-07-06T15:00:00+01:00"
    assert _offset("2024-11-02T23:30:00", "2024-11-03T03:30:00+00:00") == "2024-11-02T23:30:00-04:00"
    assert _offset("2024-11-02T10:00:00.250", "2024-11-02T04:30:00.250+00:00") == "2024-11-02T10:00:00.250+05:30"
    assert _offset("2024-11-02T10:00:00+02:00", "2024-11-02T08:00:00+00:00") == "2024-11-02T10:00:00+02:00"
    assert _offset("2024-11-02", None) == "2024-11-02" and _offset("2024-11", "x") == "2024-11"
    assert _offset("2024-11-02T10:00:00", None) == "2024-11-02T10:00:00"


def test_names_follow_the_copies_export_writes(cli, gallery, tmp_path):
    db = connect(cli.db_path)
    try:
        for size in ("original", "web"):
            target = tmp_path / f"empty-{size}"
            result = cli("sidecars", "1", "2", "3", "--to", str(target), "--size", size)
            assert result.exit_code == 0 and result.stdout.count("(no copy beside it yet)") == 3
            names = [name for name, _, _ in export(db, Store(cli.store_path), [1, 2, 3], size, "x")]
            assert sorted(p.name for p in target.iterdir()) == sorted(sidecar_name(n) for n in names)
            formats = [r[0] for r in db.execute("SELECT format FROM photos ORDER BY id")]
            assert [n.rsplit(".", 1)[1] for n in names] == [copy_ext(f, size) for f in formats]
    finally:
        db.conn.close()
    assert sidecar_name("a-1.png", "lightroom") == "a-1.xmp" and sidecar_name("a-1.png") == "a-1.png.xmp"


def test_withheld_photos_need_include_withheld(cli, gallery):
    out, _ = gallery
    db = connect(cli.db_path)
    try:
        apply_changes(db, [2], parse_changes(db, {"withheld": "yes"}), who="archivist", via="cli")
    finally:
        db.conn.close()
    result = cli("sidecars", "1", "2", "--to", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "photo 2 is withheld, not public" in result.stderr and "--include-withheld" in result.stderr
    assert not list(out.glob("*.xmp"))                        # nothing written, not even photo 1's
    result = cli("sidecars", "--all", "--to", str(out))
    assert result.exit_code == 0
    assert "2 sidecars written, 0 unchanged; 1 withheld photo skipped (2): --include-withheld" in result.stderr
    assert not list(out.glob("*-2.png.xmp"))
    assert cli("settings", "public-location", "exact").exit_code == 0
    result = cli("sidecars", "2", "--to", str(out), "--include-withheld")
    assert result.exit_code == 0
    (sidecar,) = out.glob("*-2.png.xmp")
    assert read_sidecar(sidecar.with_suffix(""))["cc:license"] == "https://creativecommons.org/publicdomain/zero/1.0/"


def test_refreshes_its_own_sidecars_and_keeps_other_programs(cli, gallery):
    out, stale = gallery
    sidecar = stale.with_name(stale.name + ".xmp")
    assert cli("sidecars", "1", "--to", str(out)).exit_code == 0
    again = cli("sidecars", "1", "--to", str(out))
    assert again.exit_code == 0 and "0 sidecars written, 1 unchanged" in again.stderr
    db = connect(cli.db_path)
    try:
        apply_changes(db, [1], parse_changes(db, {"title": "Die-in at Piccadilly"}), who="archivist", via="cli")
    finally:
        db.conn.close()
    assert cli("sidecars", "1", "--to", str(out)).exit_code == 0      # ours: refreshed without asking
    assert read_sidecar(stale)["dc:title"] == "Die-in at Piccadilly"
    theirs = sidecar.read_text(encoding="utf-8").replace('x:xmptk="ingest"', 'x:xmptk="XMP Core 4.4.0-Exiv2"')
    sidecar.write_text(theirs, encoding="utf-8")                     # as digiKam rewrites it
    db = connect(cli.db_path)
    try:
        apply_changes(db, [1], parse_changes(db, {"title": "Sit-in"}), who="archivist", via="cli")
    finally:
        db.conn.close()
    result = cli("sidecars", "1", "--to", str(out))
    assert result.exit_code == 1 and "written by another program" in result.stderr and "--overwrite" in result.stderr
    assert sidecar.read_text(encoding="utf-8") == theirs
    assert cli("sidecars", "1", "--to", str(out), "--overwrite").exit_code == 0
    assert read_sidecar(stale)["dc:title"] == "Sit-in"
    assert not list(out.glob(".tmp-*"))


def test_selection_and_errors(cli, gallery, tmp_path):
    out = tmp_path / "by-demo"
    result = cli("sidecars", "--demo", "Climate strike", "--to", str(out))
    assert result.exit_code == 0 and [p.name for p in out.iterdir()] == [
        "2024-11-03-manchester-climate-strike-at-piccadilly-gardens-1.jpg.xmp"]
    sha = photo_row(cli.db_path, 2)["sha256"]
    assert cli("sidecars", sha[:8], "--out", str(out)).exit_code == 0
    assert len(list(out.glob("*-2.png.xmp"))) == 1
    usage = cli("sidecars", "--to", str(out))
    assert usage.exit_code == 2 and "--all" in usage.stderr
    for args, message in ((["ffffff"], "no such photo"), (["--demo", "Nope"], "no demonstration 'Nope'")):
        result = cli("sidecars", *args, "--to", str(out))
        assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    zipped = cli("export", "1", "--zip", "--sidecars", "--to", str(out))
    assert zipped.exit_code == 2 and "--sidecars" in zipped.stderr
