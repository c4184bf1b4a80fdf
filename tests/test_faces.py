"""Issue 12.3 and 12.6: faces obscured in every public rendition, on real faces.

The faces are real photographs shipped by scikit-image (tests/fixtures/crowd.py): 42 LFW faces of
7 sizes pasted on a 4000x3000 street scene, and the astronaut portrait. Detection runs in the real
import; every public rendition is fetched through the real Datasette app and compared, region by
region, with what archivists see.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from datasette.app import Datasette
from fixtures.crowd import ASTRONAUT_FACE, astronaut, centre_inside, crowd, save
from fixtures.synth import make_photo
from PIL import Image

from ingest.catalogue import faces as catalogue_faces
from ingest.catalogue import schema, settings
from ingest.catalogue.corrections import apply_changes, undo
from ingest.catalogue.public_copy import publish
from ingest.catalogue.schema import connect, transaction
from ingest.importer.faces import detect_stored
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media import faces, images
from ingest.media.jpeg import strip_metadata
from ingest.media.store import Store
from ingest.web.compat import datasette_options
from ingest.web.serving import refresh_now

ROOT = Path(__file__).resolve().parents[1]
LICENSED = Options(licence="CC-BY-4.0", creator="Desk")


# ---------------------------------------------------------------- helpers

def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(images.to_srgb_rgb(images.rotate(im, 1)), dtype=np.float32)


def upright(path: Path) -> np.ndarray:
    data = path.read_bytes()
    opened = images.open_image(data, images.sniff(data[:64]))
    return np.asarray(images.to_srgb_rgb(images.rotate(opened.image, opened.orientation)), dtype=np.float32)


def check_obscured(public: np.ndarray, private: np.ndarray, boxes: list, what: str) -> dict:
    """Each box's region (with its margin) of `public` holds nothing of `private`'s face: at most
    BLOCKS x BLOCKS flat blocks whose colours are not the face's, while every pixel away from the
    regions is as archivists see it. Returns the figures measured."""
    assert public.shape == private.shape, what
    h, w = public.shape[:2]
    regions = [faces.region(b, (w, h)) for b in boxes]
    grey_pub, grey_priv = public.mean(axis=2), private.mean(axis=2)
    figures = {"flat": [], "detail": [], "shift": []}
    for n, (left, top, right, bottom) in enumerate(regions):
        pub, priv = grey_pub[top:bottom, left:right], grey_priv[top:bottom, left:right]
        # The block colours moved by the noise: the face's own colours are not there either.
        shift = float(np.abs(pub - priv).mean())
        figures["shift"].append(shift)
        assert shift > 6, f"{what}: region {n} is too close to the face (mean difference {shift:.1f})"
        cell = -(-max(right - left, bottom - top) // faces.BLOCKS)
        if cell < 12:
            continue  # blocks of a few pixels: JPEG's own 8x8 blocks blur them; the shift above still holds
        others = [r for i, r in enumerate(regions) if i != n]
        for y in range(top, bottom, cell):
            for x in range(left, right, cell):
                x2, y2 = min(x + cell, right), min(y + cell, bottom)
                if x2 - x < 8 or y2 - y < 8 or any(x < o[2] and o[0] < x2 and y < o[3] and o[1] < y2 for o in others):
                    continue
                inner = (slice(y + 3, y2 - 3), slice(x + 3, x2 - 3))  # JPEG rings at the blocks' edges
                figures["flat"].append(float(grey_pub[inner].std()))
                figures["detail"].append(float(grey_priv[inner].std()))
    if figures["flat"]:
        flat = float(np.median(figures["flat"]))
        detail = float(np.median(figures["detail"]))
        assert flat < 4, f"{what}: the blocks are not flat (median std {flat:.1f}): detail survives"
        assert detail > 2 * flat, f"{what}: the face had no detail to lose ({detail:.1f} vs {flat:.1f})"
    mask = np.ones((h, w), bool)
    pad = 8 if max(w, h) <= 1600 else 16
    for left, top, right, bottom in regions:
        mask[max(0, top - pad):bottom + pad, max(0, left - pad):right + pad] = False
    rest = float(np.abs(public - private)[mask].mean())
    figures["rest"] = rest
    assert rest < 2.5, f"{what}: the picture away from the faces changed (mean difference {rest:.2f})"
    return figures


def make_ds(base: Path) -> Datasette:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    return Datasette([str(base / "gallery.db")], **datasette_options(metadata))


def query(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- the gallery

@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("faces")
    im, truth = crowd()
    save(im, base / "card" / "crowd.jpg")
    portrait = astronaut().resize((1536, 1536), Image.Resampling.LANCZOS)
    save(portrait, base / "card" / "astronaut.jpg")
    portrait.convert("RGBA").save(base / "card" / "astronaut.png")
    db = connect(base / "gallery.db")
    summary = run_ingest(db, Store(base / "archive"), [str(base / "card")], LICENSED, jobs=2, publish=True)
    assert summary.imported == 3, summary.lines
    ids = dict(db.execute("SELECT original_filename, id FROM photos").fetchall())
    db.conn.close()
    return base, ids, truth


def detected(base: Path, photo_id: int) -> list[tuple]:
    return [tuple(r) for r in query(base / "gallery.db", "SELECT x, y, w, h FROM photo_faces WHERE photo_id = ? "
                                                          "AND removed = 0 ORDER BY id", [photo_id])]


def test_detection_finds_real_faces(gallery):
    """The figure: faces found among 42 real faces of 7 sizes, and the astronaut's."""
    base, ids, truth = gallery
    found = detected(base, ids["crowd.jpg"])
    by_size: dict[int, list[int]] = {}
    for face in truth:
        size = round(face[2] * 4000)
        hit = any(centre_inside(face, box) for box in found)
        by_size.setdefault(size, [0, 0])[0] += hit
        by_size[size][1] += 1
    spurious = [b for b in found if not any(centre_inside(b, f) or centre_inside(f, b) for f in truth)]
    total = sum(h for h, _ in by_size.values())
    print(f"\nfaces found in the crowd (face width in px of 4000): "
          + ", ".join(f"{s}: {h}/{n}" for s, (h, n) in sorted(by_size.items()))
          + f"; {total}/{len(truth)} in all; {len(spurious)} boxes on no face")
    # From 160 px (4% of the width; 64 px in the web size the detector reads) every face is found.
    assert all(h == n for s, (h, n) in by_size.items() if s >= 160), by_size
    assert total >= 24
    for name in ("astronaut.jpg", "astronaut.png"):
        boxes = detected(base, ids[name])
        assert any(centre_inside(ASTRONAUT_FACE, b) for b in boxes), (name, boxes)
    statuses = dict(query(base / "gallery.db", "SELECT original_filename, faces_status FROM photos"))
    assert set(statuses.values()) == {"found"}


async def _renditions(ds: Datasette, base: Path, photo_id: int) -> dict[str, bytes]:
    """Every public rendition of the photo, as a visitor reaches it."""
    await ds.invoke_startup()
    public = ds.get_database("gallery")
    token, popup = (await public.execute("SELECT rendition, popup FROM photos WHERE id = ?", [photo_id])).first()
    got = {}
    for kind in ("thumbs", "web"):
        r = await ds.client.get(f"/-/gallery/{kind}/{token}.jpg")
        assert r.status_code == 200, kind
        got[kind] = r.content
    for size in ("web", "original"):
        r = await ds.client.get(f"/-/gallery/download/{photo_id}?size={size}")
        assert r.status_code == 200, size
        got[f"download-{size}"] = r.content
    r = await ds.client.get(f"/-/gallery/download.zip?id={photo_id}&size=original")
    assert r.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(r.content))
    got["zip"] = z.read(next(n for n in z.namelist() if n != "CREDITS.txt"))
    feed = (await ds.client.get("/-/gallery/feed.atom")).text
    for kind in ("thumbs", "web"):
        url = re.search(rf'[^"]*/-/gallery/{kind}/{token}\.jpg', feed)
        assert url, f"the feed names no {kind} of photo {photo_id}"
        got[f"feed-{kind}"] = (await ds.client.get(url.group(0).split("localhost", 1)[-1])).content
    image = json.loads(popup)["image"]
    assert image == f"../-/gallery/thumbs/{token}.jpg"
    got["map-popup"] = (await ds.client.get(image[2:])).content
    return got


@pytest.mark.parametrize("name", ["crowd.jpg", "astronaut.jpg", "astronaut.png"])
async def test_every_public_rendition_has_its_faces_obscured_and_the_rest_untouched(gallery, name):
    base, ids, _ = gallery
    photo_id = ids[name]
    sha = query(base / "gallery.db", "SELECT sha256 FROM photos WHERE id = ?", [photo_id])[0][0]
    boxes = detected(base, photo_id)
    assert boxes
    store = Store(base / "archive")
    private = {"thumbs": decode(store.derivative("thumbs", sha).read_bytes()),
               "web": decode(store.derivative("web", sha).read_bytes()),
               "original": upright(next((base / "archive" / "originals").rglob(f"{sha}.*")))}
    ds = make_ds(base)
    got = await _renditions(ds, base, photo_id)
    reference = {"thumbs": "thumbs", "web": "web", "download-web": "web", "download-original": "original",
                 "zip": "original", "feed-thumbs": "thumbs", "feed-web": "web", "map-popup": "thumbs"}
    for what, data in got.items():
        public = decode(data)[..., :3]
        figures = check_obscured(public, private[reference[what]][..., :3], boxes, f"{name} {what}")
        print(f"{name} {what}: {len(boxes)} regions, mean change {np.mean(figures['shift']):.0f} levels inside, "
              f"{figures['rest']:.2f} outside")
    # Archivists' URL (by sha256) shows the unobscured derivative; the stored original is untouched.
    assert (base / "archive" / "originals").rglob(f"{sha}.*")


async def test_archivists_see_the_photo_unobscured(gallery):
    from accounts_support import archivist_cookies

    base, ids, _ = gallery
    sha = query(base / "gallery.db", "SELECT sha256 FROM photos WHERE id = ?", [ids["astronaut.jpg"]])[0][0]
    ds = make_ds(base)
    cookies = archivist_cookies(ds, base / "gallery.db")
    r = await ds.client.get(f"/-/gallery/web/{sha}.jpg", cookies=cookies)
    assert r.status_code == 200
    assert r.content == strip_metadata(Store(base / "archive").derivative("web", sha).read_bytes())


# ---------------------------------------------------------------- corrections, settings, URLs

@pytest.fixture
def one(tmp_path):
    """An archive of the astronaut portrait alone: (base, db, photo id)."""
    save(astronaut().resize((1024, 1024), Image.Resampling.LANCZOS), tmp_path / "card" / "astronaut.jpg")
    db = connect(tmp_path / "gallery.db")
    run_ingest(db, Store(tmp_path / "archive"), [str(tmp_path / "card")], LICENSED, publish=True)
    photo_id = db.execute("SELECT id FROM photos").fetchone()[0]
    yield tmp_path, db, photo_id
    db.conn.close()


async def _web(ds, photo_id) -> tuple[str, bytes]:
    refresh_now(ds)
    token = (await ds.get_database("gallery").execute("SELECT rendition FROM photos WHERE id = ?", [photo_id])).first()[0]
    r = await ds.client.get(f"/-/gallery/web/{token}.jpg")
    assert r.status_code == 200
    return token, r.content


def _stored_web(base: Path, db, photo_id) -> bytes:
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [photo_id]).fetchone()[0]
    return strip_metadata(Store(base / "archive").derivative("web", sha).read_bytes())


async def test_consent_shows_the_faces_audited_and_with_new_urls(one):
    base, db, photo_id = one
    ds = make_ds(base)
    await ds.invoke_startup()
    old, obscured = await _web(ds, photo_id)
    assert obscured != _stored_web(base, db, photo_id)
    (edit,) = apply_changes(db, [photo_id], {"faces_shown": 1}, who="ana", via="cli")
    new, shown = await _web(ds, photo_id)
    assert new != old and shown == _stored_web(base, db, photo_id)
    assert (await ds.client.get(f"/-/gallery/web/{old}.jpg")).status_code == 404
    assert db.execute("SELECT field, old, new, who FROM edits WHERE id = ?", [edit.id]).fetchone() == \
        ("faces_shown", "0", "1", "ana")
    undo(db, edit.id, who="ana")  # consent withdrawn: obscured again, at yet another URL
    again, data = await _web(ds, photo_id)
    assert again not in (old, new) and data != _stored_web(base, db, photo_id)
    assert (await ds.client.get(f"/-/gallery/web/{new}.jpg")).status_code == 404


async def test_boxes_added_and_removed_change_the_image_and_are_audited(one):
    base, db, photo_id = one
    ds = make_ds(base)
    await ds.invoke_startup()
    old, before = await _web(ds, photo_id)
    private = decode(_stored_web(base, db, photo_id))
    (detected_box,) = catalogue_faces.boxes(db, photo_id)
    missed = (0.05, 0.55, 0.2, 0.2)  # the flag on her sleeve, say: a face the detector missed
    box_id = catalogue_faces.add_box(db, photo_id, missed, who="ana", via="web")
    token, added = await _web(ds, photo_id)
    assert token != old and (await ds.client.get(f"/-/gallery/web/{old}.jpg")).status_code == 404
    check_obscured(decode(added), private, [detected_box.box, missed], "added box")
    catalogue_faces.remove_box(db, photo_id, detected_box.id, who="ana", via="web")
    token2, removed = await _web(ds, photo_id)
    assert token2 != token
    figures = check_obscured(decode(removed), private, [missed], "removed box")
    # The removed box's face is back as archivists see it.
    left, top, right, bottom = faces.region(detected_box.box, (private.shape[1], private.shape[0]), 0)
    assert np.abs(decode(removed) - private)[top:bottom, left:right].mean() < 3 < min(figures["shift"])
    audit = db.execute("SELECT field, who, via, new FROM edits WHERE photo_id = ? ORDER BY id", [photo_id]).fetchall()
    assert [a[:3] for a in audit] == [("face_box", "ana", "web")] * 2
    assert f"box {box_id}" in audit[0][3] and "added" in audit[0][3] and "removed" in audit[1][3]
    # Re-detection keeps both corrections: the archivist's box stays, the removed one stays out.
    detect_stored(db, Store(base / "archive"), again=True)
    kept = catalogue_faces.boxes(db, photo_id, include_removed=False)
    assert [b.box for b in kept] == [pytest.approx(missed)]


async def test_the_setting_decides_and_changes_every_url(one):
    base, db, photo_id = one
    ds = make_ds(base)
    await ds.invoke_startup()
    assert settings.public_faces(db) == "blur"  # a new archive obscures faces
    old, obscured = await _web(ds, photo_id)
    with transaction(db):
        settings.put(db, "public-faces", "show")
    new, shown = await _web(ds, photo_id)
    assert new != old and shown == _stored_web(base, db, photo_id)
    assert (await ds.client.get(f"/-/gallery/web/{old}.jpg")).status_code == 404
    with pytest.raises(ValueError, match="blur, show"):
        settings.check("public-faces", "pixelate")


async def test_a_photo_without_detection_is_not_public_until_detected(tmp_path):
    save(astronaut(), tmp_path / "card" / "astronaut.jpg")
    make_photo(tmp_path / "card" / "street.jpg", width=800, height=600, seed=5)
    db = connect(tmp_path / "gallery.db")
    store = Store(tmp_path / "archive")
    run_ingest(db, store, [str(tmp_path / "card")], LICENSED, detect_faces=False, publish=True)
    ids = dict(db.execute("SELECT original_filename, id FROM photos").fetchall())
    assert db.execute("SELECT count(*) FROM photos WHERE faces_status IS NULL").fetchone()[0] == 2
    ds = make_ds(tmp_path)
    await ds.invoke_startup()
    public = ds.get_database("gallery")
    assert (await public.execute("SELECT count(*) FROM photos")).first()[0] == 0
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [ids["astronaut.jpg"]]).fetchone()[0]
    assert (await ds.client.get(f"/-/gallery/web/{sha}.jpg")).status_code == 404
    assert (await ds.client.get(f"/-/gallery/download/{ids['astronaut.jpg']}")).status_code == 404
    # A detection that fails (here: the web size it reads is gone) keeps the photo out too.
    web = store.derivative("web", sha)
    saved = web.read_bytes()
    web.unlink()
    counts = detect_stored(db, store)
    assert counts["failed"] == 1 and counts["found"] + counts["none"] == 1  # the street scene's heads may count
    refresh_now(ds)
    assert [r[0] for r in (await public.execute("SELECT original_filename FROM photos")).rows] == ["street.jpg"]
    web.write_bytes(saved)
    assert detect_stored(db, store) == {"found": 1, "none": 0, "failed": 0}
    refresh_now(ds)
    assert (await public.execute("SELECT count(*) FROM photos")).first()[0] == 2
    # Faces cleared by an archivist publish a photo whatever its detection (show = consent).
    assert catalogue_faces.settled("p") in publish.__globals__["_photo_select"]("city", True)


def test_existing_archives_keep_showing_faces(tmp_path, monkeypatch):
    """Migration 16: an archive that already has photos gets public-faces = show (README says how
    to switch); a new one obscures faces."""
    path = tmp_path / "old.db"
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:15])  # up to the version before faces (16)
    db = connect(path)  # the version before faces: a photo row as that version wrote it
    db.conn.execute("INSERT INTO photos (sha256, licence_id, creator, imported_at, updated_at) "
                    "VALUES ('0123', 'CC-BY-4.0', 'Desk', '', '')")
    db.conn.commit()
    assert db.execute("SELECT state FROM photos").fetchone() == ("public",)
    db.conn.close()
    monkeypatch.undo()
    db = connect(path)
    assert settings.value(db, "public-faces") == "show"
    assert db.execute("SELECT state, faces_status FROM photos").fetchone() == ("public", None)  # undetected, public
    db.conn.close()
    fresh = connect(tmp_path / "new.db")
    assert settings.value(fresh, "public-faces") is None and settings.public_faces(fresh) == "blur"


def test_obscuring_is_irreversible_and_stable():
    im = astronaut()
    box = ASTRONAUT_FACE
    a, b = faces.obscure(im, [box], seed=1), faces.obscure(im, [box], seed=1)
    assert np.array_equal(np.asarray(a), np.asarray(b))  # the same rendition, the same bytes
    c = faces.obscure(im, [box], seed=2)
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    left, top, right, bottom = faces.region(box, im.size)
    patch = np.asarray(a)[top:bottom, left:right]
    assert len({tuple(p) for p in patch.reshape(-1, 3)}) <= faces.BLOCKS ** 2
    assert np.array_equal(np.asarray(a)[:top], np.asarray(im)[:top])


def test_cli_faces_set_list_and_settings(cli, tmp_path):
    save(astronaut(), tmp_path / "card" / "astronaut.jpg")
    assert cli("--jobs", "1", "--publish", str(tmp_path / "card")).exit_code == 0
    listed = cli("faces", "list", "1")
    assert listed.exit_code == 0 and "detection found; faces obscured" in listed.output and "centerface" in listed.output
    r = cli("faces", "set", "1", "--add-box", "5%,55%,20%,20%", "--who", "ana")
    assert r.exit_code == 0 and "box 2 added" in r.output
    r = cli("faces", "set", "1", "--add-box", "0.9,0.9,0.5,0.5")
    assert r.exit_code == 2 and "not inside the picture" in r.output and "Traceback" not in r.output
    r = cli("faces", "set", "1", "--remove-box", "1", "--show", "--who", "ana")
    assert r.exit_code == 0 and "faces may be shown" in r.output and "box 1 removed" in r.output
    history = cli("history", "1").output
    assert history.count("face_box") == 2 and "faces_shown" in history
    r = cli("settings", "public-faces", "blurry")
    assert r.exit_code == 2 and "public-faces is one of blur, show" in r.output
    assert cli("settings", "public-faces", "show").output.strip() == "public-faces = show"


# ---------------------------------------------------------------- the photo page

async def test_archivists_correct_faces_on_the_photo_page(one):
    from test_web_edit import sign_in

    from ingest.catalogue.accounts import add_archivist

    base, db, photo_id = one
    add_archivist(db, "alice", "correct horse battery")
    ds = make_ds(base)
    await ds.invoke_startup()
    anonymous = await ds.client.get(f"/gallery/photos/{photo_id}")
    assert anonymous.status_code == 200 and "Faces may be shown" not in anonymous.text
    refused = await ds.client.post(f"/-/gallery/faces/{photo_id}", data={"action": "consent", "shown": "1"})
    assert refused.status_code == 403
    s = await sign_in(ds, "alice", "correct horse battery")
    page = await ds.client.get(f"/gallery/photos/{photo_id}", cookies=s["cookies"])
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [photo_id]).fetchone()[0]
    assert f'/-/gallery/web/{sha}.jpg' in page.text and 'class="gallery-face-box"' in page.text
    assert '<label for="face-x">Left</label>' in page.text and "Public copies obscure the boxes below" in page.text
    old, _ = await _web(ds, photo_id)

    async def post(**data):
        r = await ds.client.post(f"/-/gallery/faces/{photo_id}", cookies=s["cookies"],
                                 data={"csrftoken": s["token"], "next": f"/gallery/photos/{photo_id}", **data})
        assert r.status_code == 302
        return r

    await post(action="add", x="5", y="55", w="20", h="20")
    await post(action="remove:1")
    await post(action="add", x="90", y="90", w="50", h="50")  # outside the picture: refused, nothing saved
    await post(action="consent", shown="1")
    edits = db.execute("SELECT field, who, via FROM edits WHERE photo_id = ? ORDER BY id", [photo_id]).fetchall()
    assert edits == [("face_box", "alice", "web"), ("face_box", "alice", "web"), ("faces_shown", "alice", "web")]
    boxes = catalogue_faces.boxes(db, photo_id)
    assert [(b.source, b.removed) for b in boxes] == [("centerface", True), ("archivist", False)]
    assert boxes[1].box == pytest.approx((0.05, 0.55, 0.2, 0.2))
    new, shown = await _web(ds, photo_id)
    assert new != old and shown == _stored_web(base, db, photo_id)
    assert (await ds.client.get(f"/-/gallery/web/{old}.jpg")).status_code == 404


def test_prepared_model_is_kept_and_a_broken_copy_is_replaced(tmp_path, monkeypatch):
    """The prepared CenterFace model is kept in the cache folder (no onnx import, no preparing in
    every worker of every command); a kept copy that does not load is prepared and kept again."""
    from ingest.media import faces

    monkeypatch.setenv("INGEST_CACHE", str(tmp_path))
    image = Image.new("RGB", (640, 480), "grey")
    for broken in (False, True):
        monkeypatch.setattr(faces, "_session", None)
        if broken:
            next(tmp_path.glob("centerface-*.onnx")).write_bytes(b"cut short")
        assert faces.detect(image) == []
        kept = list(tmp_path.glob("centerface-*.onnx"))
        assert len(kept) == 1 and kept[0].stat().st_size > 1_000_000
