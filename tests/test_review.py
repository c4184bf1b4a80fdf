"""Nothing public until it is safe (issue 12): publication states, the import gate and its summary,
the review queue (catalogue functions and the web page through Datasette's client), flags that
clear when answered, and demonstrations that contradict a photo's date or city."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from datasette.app import Datasette
from datasette_versions import csrf_cookies
from fixtures.catalogue import rows
from fixtures.synth import make_photo

from ingest.catalogue import review
from ingest.catalogue.accounts import add_archivist
from ingest.catalogue.corrections import Contradiction, apply_changes, decide, parse_changes, undo
from ingest.catalogue.registry import import_registry
from ingest.catalogue.schema import connect
from ingest.cli import main
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
LONDON, MUNICH = (51.5045, -0.1263), (48.1374, 11.5755)


def shoot(folder: Path, name: str, seed: int, *, date="2024:05:18 12:00:00", where=LONDON, **exif):
    make_photo(folder / name, width=320, height=240, seed=seed,
               exif={"DateTimeOriginal": date, "GPSLatitude": where[0], "GPSLongitude": where[1], **exif})


def cli(base: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(base / "gallery.db"), "--store", str(base / "archive"), *args])



def public_ids(base: Path) -> set[int]:
    from ingest.catalogue.public_copy import publish
    out = base / "public.db"
    publish(base / "gallery.db", out)
    conn = sqlite3.connect(out)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM photos")}
    finally:
        conn.close()


@pytest.fixture
def card(tmp_path) -> Path:
    folder = tmp_path / "card"
    shoot(folder, "credited.jpg", 1, Artist="Olena Kovalenko")
    shoot(folder, "anonymous.jpg", 2)
    shoot(folder, "munich.jpg", 3, where=MUNICH, Artist="Zoë Müller")
    return folder


# ---------------------------------------------------------------- the import gate

def test_a_new_archive_publishes_nothing_on_import_and_says_why(tmp_path, card):
    result = cli(tmp_path, str(card), "--licence", "CC-BY-4.0")
    assert result.exit_code == 0, result.output
    assert "3 waiting for review: 1 without the creator their licence requires, 3 not yet approved" in result.output
    assert rows(tmp_path, "SELECT DISTINCT state FROM photos") == [("pending",)]
    assert public_ids(tmp_path) == set()


def test_publish_flag_publishes_what_is_licensed_and_credited_only(tmp_path, card):
    result = cli(tmp_path, str(card), "--licence", "CC-BY-4.0", "--publish")
    assert result.exit_code == 0, result.output
    assert "1 waiting for review: 1 without the creator their licence requires" in result.output
    states = dict(rows(tmp_path, "SELECT original_filename, state FROM photos"))
    assert states == {"credited.jpg": "public", "anonymous.jpg": "pending", "munich.jpg": "public"}
    assert len(public_ids(tmp_path)) == 2


def test_publishing_approves_from_every_path(tmp_path, card):
    """`fix --publish`, the web form's "Public" and a CSV's withheld = no all approve the photo too."""
    assert cli(tmp_path, str(card / "credited.jpg"), "--licence", "CC-BY-4.0").exit_code == 0
    assert rows(tmp_path, "SELECT state, pending FROM photos") == [("pending", 1)]
    db = connect(tmp_path / "gallery.db")
    apply_changes(db, [1], parse_changes(db, {"withheld": "no"}), who="ann", via="csv")
    db.conn.close()
    assert rows(tmp_path, "SELECT state, pending FROM photos") == [("public", 0)]
    assert rows(tmp_path, "SELECT field, new FROM edits WHERE field = 'pending'") == [("pending", "0")]


def test_no_licence_waits_whatever_the_flags_say(tmp_path, card):
    result = cli(tmp_path, str(card), "--publish")
    assert "3 waiting for review: 3 without a licence" in result.output, result.output
    assert public_ids(tmp_path) == set()


def test_cc0_needs_no_creator(tmp_path, card):
    assert cli(tmp_path, str(card), "--licence", "CC0-1.0", "--publish").exit_code == 0
    assert rows(tmp_path, "SELECT DISTINCT state FROM photos") == [("public",)]


def test_the_setting_decides_and_hold_overrides_it(tmp_path, card):
    assert cli(tmp_path, "settings", "publish-on-import", "immediate").exit_code == 0
    assert cli(tmp_path, str(card / "credited.jpg"), "--licence", "CC-BY-4.0").exit_code == 0
    assert cli(tmp_path, str(card / "munich.jpg"), "--licence", "CC-BY-4.0", "--hold").exit_code == 0
    assert dict(rows(tmp_path, "SELECT original_filename, state FROM photos")) == {
        "credited.jpg": "public", "munich.jpg": "pending"}
    bad = cli(tmp_path, "settings", "publish-on-import", "sometimes")
    assert bad.exit_code != 0 and "review, immediate" in bad.output and "Traceback" not in bad.output


def test_an_existing_archive_keeps_publishing_on_import(tmp_path, card):
    """Migration 15 on a catalogue that has photos (made by the version before it) writes
    publish-on-import = immediate and derives every photo's state; a fresh archive has no setting."""
    from ingest.catalogue import schema
    fresh = connect(tmp_path / "fresh.db")
    assert fresh.execute("SELECT value FROM settings WHERE key = 'publish-on-import'").fetchone() is None
    fresh.conn.close()
    real = schema.MIGRATIONS[:]
    try:
        schema.MIGRATIONS[:] = real[:14]
        old = connect(tmp_path / "old.db")
    finally:
        schema.MIGRATIONS[:] = real
    old.conn.execute("INSERT INTO licences (id, name, attribution_required) VALUES ('X-BY', 'X', 1)")
    old.conn.execute("INSERT INTO photos (sha256, licence_id, creator, imported_at, updated_at) "
                     "VALUES ('a', 'X-BY', 'Ann', '', ''), ('b', 'X-BY', NULL, '', ''), ('c', NULL, 'Ann', '', '')")
    old.conn.commit()
    schema.migrate(old)
    assert old.execute("SELECT value FROM settings WHERE key = 'publish-on-import'").fetchone() == ("immediate",)
    assert old.execute("SELECT sha256, state FROM photos ORDER BY sha256").fetchall() == [
        ("a", "public"), ("b", "pending"), ("c", "pending")]
    old.conn.close()


def test_clearing_a_licence_by_any_means_unpublishes_at_once(tmp_path, card):
    assert cli(tmp_path, str(card), "--licence", "CC-BY-4.0", "--publish").exit_code == 0
    conn = sqlite3.connect(tmp_path / "gallery.db")
    pid, token = conn.execute("SELECT id, rendition FROM photos WHERE original_filename = 'credited.jpg'").fetchone()
    conn.execute("UPDATE photos SET licence_id = NULL WHERE id = ?", [pid])  # an archivist's own SQL
    conn.commit()
    state, new_token = conn.execute("SELECT state, rendition FROM photos WHERE id = ?", [pid]).fetchone()
    conn.close()
    assert state == "pending" and new_token != token  # its old image URLs die with it
    assert pid not in public_ids(tmp_path)


# ---------------------------------------------------------------- decisions, flags, contradictions

@pytest.fixture
def archive(tmp_path, card):
    registry = tmp_path / "registry.yml"
    registry.write_text(yaml.safe_dump([{"name": "London march", "city": "London", "date": "2024-05-18"},
                                        {"name": "Spring rally", "city": "London", "date": "2025-03-15"}]))
    db = connect(tmp_path / "gallery.db")
    import_registry(db, registry)
    shoot(card, "nowhere.jpg", 4, where=(0.5, -30.0), Artist="Ann")  # mid-Atlantic: flagged, no city
    run_ingest(db, Store(tmp_path / "archive"), [str(card)], Options(licence="CC-BY-4.0"))
    ids = {r[0]: r[1] for r in db.execute("SELECT original_filename, id FROM photos")}
    yield db, ids
    db.conn.close()


def test_approve_withhold_and_looks_right_are_audited_and_empty_the_queue(archive):
    db, ids = archive
    before = review.counts(db)
    assert before["waiting"] == 4 and before["flagged"] >= 1 and before["all"] == 4
    decide(db, [ids["credited.jpg"], ids["munich.jpg"]], "approve", who="ann", via="web")
    decide(db, [ids["nowhere.jpg"]], "withhold", who="ann", via="web")
    assert review.counts(db)["waiting"] == 1  # anonymous.jpg: approval is not enough without a creator
    assert dict(db.execute("SELECT original_filename, state FROM photos").fetchall()) == {
        "credited.jpg": "public", "munich.jpg": "public", "nowhere.jpg": "withheld", "anonymous.jpg": "pending"}
    decide(db, [ids["anonymous.jpg"]], "approve", who="ann", via="web")
    waiting = review.queue_page(db, "waiting")
    assert [p["id"] for p in waiting] == [ids["anonymous.jpg"]]
    assert waiting[0]["waiting"] == ["its licence requires a creator to credit, and none is known"]
    apply_changes(db, [ids["anonymous.jpg"]], parse_changes(db, {"creator": "Desk"}), who="ann", via="cli")
    assert review.counts(db) == {"all": 0, "waiting": 0, "flagged": 0}
    fields = {r[0] for r in db.execute("SELECT field FROM edits WHERE who = 'ann'")}
    assert {"pending", "withheld", "needs_review", "creator"} <= fields


def test_correcting_the_flagged_field_clears_the_flag_and_undo_raises_it(archive):
    db, ids = archive
    pid = ids["nowhere.jpg"]
    assert db.execute("SELECT needs_review FROM photos WHERE id = ?", [pid]).fetchone()[0] == 1
    reason = db.execute("SELECT review_reason FROM photos WHERE id = ?", [pid]).fetchone()[0]
    fields = [review.field_of(r) for r in review.split(reason)]
    assert fields == ["demonstration_id"], reason  # "demonstration matched by date only (city unknown)"
    made = apply_changes(db, [pid], parse_changes(db, {"title": "At sea"}), who="ann", via="cli")
    assert db.execute("SELECT review_reason FROM photos WHERE id = ?", [pid]).fetchone()[0] == reason  # not its field
    made = apply_changes(db, [pid], parse_changes(db, {"demonstration": "London march"}), who="ann", via="cli")
    left = [r for r in review.split(reason) if review.field_of(r) != "demonstration_id"]
    assert db.execute("SELECT needs_review, review_reason FROM photos WHERE id = ?", [pid]).fetchone() == (
        int(bool(left)), "; ".join(left) or None)
    assert "review_reason" in {e.field for e in made}
    if left:
        decide(db, [pid], "looks-right", who="ann", via="web")
        assert db.execute("SELECT needs_review, review_reason FROM photos WHERE id = ?", [pid]).fetchone() == (0, None)
        undo(db, db.execute("SELECT max(id) FROM edits").fetchone()[0], who="ann")
    undo(db, made[0].id, who="ann")
    assert db.execute("SELECT needs_review, review_reason FROM photos WHERE id = ?", [pid]).fetchone() == (1, reason)


def test_retag_does_not_raise_an_answered_flag_again(tmp_path, archive):
    from ingest.importer.retag import retag_all
    db, ids = archive
    pid = ids["nowhere.jpg"]
    decide(db, [pid], "looks-right", who="ann", via="cli")
    retag_all(db)
    assert db.execute("SELECT needs_review FROM photos WHERE id = ?", [pid]).fetchone()[0] == 0


def test_a_contradicting_demonstration_is_refused_in_every_path_unless_forced(tmp_path, archive):
    db, ids = archive
    pid = ids["credited.jpg"]  # London, 2024-05-18
    with pytest.raises(Contradiction, match="2025-03-15"):
        apply_changes(db, [pid], parse_changes(db, {"demonstration": "Spring rally"}), who="ann", via="web")
    assert cli(tmp_path, "fix", str(pid), "--demo", "Spring rally").exit_code != 0
    forced = cli(tmp_path, "fix", str(pid), "--demo", "Spring rally", "--force")
    assert forced.exit_code == 0, forced.output
    # Re-dating a demonstration its photos contradict: refused the same way.
    result = cli(tmp_path, "demos", "edit", "London march", "--date", "2024-06-01")
    assert result.exit_code != 0 and "2024-05-18" in result.output and "Traceback" not in result.output


def test_a_corrected_date_moves_a_machine_chosen_demonstration(tmp_path, archive):
    db, ids = archive
    pid = ids["credited.jpg"]
    assert db.execute("SELECT d.name FROM photos p JOIN demonstrations d ON d.id = p.demonstration_id "
                      "WHERE p.id = ?", [pid]).fetchone() == ("London march",)
    db.conn.close()
    result = cli(tmp_path, "fix", str(pid), "--date", "2025-03-15")
    assert result.exit_code == 0, result.output
    assert rows(tmp_path, "SELECT d.name FROM photos p JOIN demonstrations d ON d.id = p.demonstration_id "
                          "WHERE p.id = ?", [pid]) == [("Spring rally",)]


# ---------------------------------------------------------------- the web queue

@pytest.fixture
def site(tmp_path, card):
    for i in range(5, 30):
        shoot(card, f"crowd-{i:02d}.jpg", i, Artist="Olena Kovalenko")
    db = connect(tmp_path / "gallery.db")
    run_ingest(db, Store(tmp_path / "archive"), [str(card)], Options(licence="CC-BY-4.0"))
    add_archivist(db, "alice", PASSWORD)
    db.conn.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(tmp_path / "archive")}
    return Datasette([str(tmp_path / "gallery.db")], **datasette_options(metadata)), tmp_path


async def signed_in(ds) -> dict:
    page = await ds.client.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
    cookies = csrf_cookies(page)
    response = await ds.client.post("/-/login", data={"username": "alice", "password": PASSWORD,
                                                      "csrftoken": token}, cookies=cookies)
    return {"cookies": {**cookies, "ds_actor": response.cookies["ds_actor"]}, "token": token}


async def test_the_queue_is_for_archivists_only(site):
    ds, _ = site
    assert (await ds.client.get("/-/gallery/review")).status_code == 403
    assert (await ds.client.post("/-/gallery/review", data={"decision": "approve", "photo": "1"})).status_code in (403, 400)


async def test_the_queue_pages_and_its_decisions_make_the_counts_go_down(site):
    ds, base = site
    s = await signed_in(ds)
    page = await ds.client.get("/-/gallery/review", cookies=s["cookies"])
    assert page.status_code == 200
    assert re.search(r'data-count="waiting">28<', page.text)
    assert page.text.count('class="gallery-review-card"') == 28
    assert "without a licence" not in page.text and "its licence requires a creator" in page.text
    assert 'rel="next"' not in page.text
    # Approve three at once, the way the page's script does (JSON), and one without it (redirect).
    ids = [r[0] for r in rows(base, "SELECT id FROM photos WHERE creator IS NOT NULL ORDER BY id LIMIT 4")]
    answer = await ds.client.post("/-/gallery/review", cookies=s["cookies"], headers={"Accept": "application/json"},
                                  data={"csrftoken": s["token"], "decision": "approve",
                                        "photo": [str(i) for i in ids[:3]]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["waiting"] == 25
    plain = await ds.client.post("/-/gallery/review", cookies=s["cookies"],
                                 data={"csrftoken": s["token"], "decision": "withhold", "photo": str(ids[3])})
    assert plain.status_code == 302
    assert rows(base, "SELECT count(*) FROM photos WHERE state = 'public'") == [(3,)]
    public = (await ds.client.get("/gallery/photos.json?_shape=array")).json()
    assert sorted(p["id"] for p in public) == sorted(ids[:3])
    one = await ds.client.get(f"/-/gallery/review/{ids[3]}", cookies=s["cookies"])
    assert one.status_code == 200 and "Correct this photo" in one.text


async def test_a_hostile_decision_is_a_clear_refusal(site):
    ds, base = site
    s = await signed_in(ds)
    answer = await ds.client.post("/-/gallery/review", cookies=s["cookies"], headers={"Accept": "application/json"},
                                  data={"csrftoken": s["token"], "decision": "publish-everything", "photo": "1"})
    assert answer.status_code == 400 and "Unknown decision" in answer.json()["error"]
    answer = await ds.client.post("/-/gallery/review", cookies=s["cookies"], headers={"Accept": "application/json"},
                                  data={"csrftoken": s["token"], "decision": "approve", "photo": "99999"})
    assert answer.status_code == 400 and "no such photo" in answer.json()["error"]
    assert rows(base, "SELECT count(*) FROM photos WHERE state = 'public'") == [(0,)]
