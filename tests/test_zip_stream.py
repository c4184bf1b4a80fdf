"""ZIP downloads are streamed one photo at a time, in memory that does not grow with the number
of photos, and at most MAX_ZIPS are made at once (ingest/web/media.py, ingest/outputs/export.py).

The memory test runs a real `ingest serve` and reads its peak RSS from /proc (VmHWM, reset
through clear_refs before each download): ratios between a small and a large ZIP, no absolute
figures and no clock.
"""

from __future__ import annotations

import http.client
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
import yaml
from browser_support import free_port
from datasette.app import Datasette
from fixtures.synth import make_photo

from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.web import limits, media
from ingest.web.compat import datasette_options

ROOT = Path(__file__).resolve().parents[1]
FEW, MANY = 6, 60  # photos in the small and the large ZIP


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment: another file (another hash), the same pixels."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def build(base: Path, count: int, width: int, height: int) -> list[int]:
    """`count` distinct JPEGs (and one PNG) imported into a new archive; their ids."""
    folder = base / "photos"
    folder.mkdir(parents=True)
    bases = [make_photo(base / f"base{i}.jpg", width=width, height=height, seed=i).read_bytes() for i in range(3)]
    for i in range(count):
        (folder / f"IMG_{i:04d}.jpg").write_bytes(with_comment(bases[i % 3], f"copy {i}"))
    make_photo(folder / "flyer.png", width=300, height=200, seed=7, fmt="PNG")
    db = connect(base / "gallery.db")
    # How ZIPs stream, not faces (tests/test_faces.py obscures ZIP members): the synthetic scenes'
    # drawn heads count as faces, and an obscured original is decoded whole, a 36 MB image at a time.
    db.conn.execute("INSERT INTO settings (key, value) VALUES ('public-faces', 'show')")
    db.conn.commit()
    summary = run_ingest(db, Store(base / "archive"), [str(folder)], Options(licence="CC-BY-4.0", creator="Photo desk"), jobs=2, publish=True)
    assert summary.imported == count + 1
    ids = [r[0] for r in db.execute("SELECT id FROM photos ORDER BY format = 'PNG', id")]  # the PNG last
    db.conn.close()
    return ids


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    base = tmp_path_factory.mktemp("zips")
    return base, build(base, 5, 400, 300)


def make_ds(base: Path) -> Datasette:
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    return Datasette([str(base / "gallery.db")], **datasette_options(metadata))


def zip_path(ids, size: str = "original") -> str:
    return "/-/gallery/download.zip?" + "&".join(f"id={i}" for i in ids) + f"&size={size}"


@pytest.mark.parametrize("size", ["original", "web"])
async def test_zip_has_each_photo_as_its_own_download_and_credits_last(small, size):
    base, ids = small
    ds = make_ds(base)
    response = await ds.client.get(zip_path(ids, size))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == f'attachment; filename="photos-{len(ids)}.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as z:
        assert z.testzip() is None
        infos = z.infolist()
        assert len(infos) == len(ids) + 1 and infos[-1].filename == "CREDITS.txt"
        assert all(info.flag_bits & 0x08 for info in infos)  # sizes after the data: written as a stream
        credits = z.read("CREDITS.txt").decode()
        for photo_id, info in zip(ids, infos):
            single = await ds.client.get(f"/-/gallery/download/{photo_id}?size={size}")
            assert single.status_code == 200
            assert info.filename.endswith(f"-{photo_id}.{'png' if single.headers['content-type'] == 'image/png' else 'jpg'}")
            assert z.read(info) == single.content
            assert info.filename in credits
    assert credits.count("is licensed under CC BY 4.0") == len(ids)


async def test_a_missing_original_is_404_before_anything_is_sent(small, tmp_path):
    base, ids = small
    db = connect(base / "gallery.db")
    sha = db.execute("SELECT sha256 FROM photos WHERE id = ?", [ids[0]]).fetchone()[0]
    db.conn.close()
    original = Store(base / "archive").original(sha, "jpg")
    moved = tmp_path / "moved.jpg"
    original.rename(moved)
    try:
        response = await make_ds(base).client.get(zip_path(ids))
        assert response.status_code == 404
    finally:
        moved.rename(original)


async def test_zips_past_the_limit_wait_then_get_429(small):
    base, ids = small
    ds = make_ds(base)
    await ds.invoke_startup()
    gate = limits.gate_for(ds, "zip", media.MAX_ZIPS, 0, 0.0)  # no queue: refused at once
    for _ in range(media.MAX_ZIPS):
        assert await gate.acquire()
    try:
        busy = await ds.client.get(zip_path(ids))
        assert busy.status_code == 429 and busy.text == media.ZIP_BUSY + "\n"
        assert busy.headers["retry-after"] == str(media.ZIP_RETRY_AFTER)
        png = ids[-1]  # decoded in full to be copied: counted like a ZIP
        single = await ds.client.get(f"/-/gallery/download/{png}")
        assert single.status_code == 429 and single.text == busy.text
        assert (await ds.client.get(f"/-/gallery/download/{ids[0]}")).status_code == 200  # a JPEG: bytes copied
        assert (await ds.client.get(f"/-/gallery/download/{png}?size=web")).status_code == 200
    finally:
        for _ in range(media.MAX_ZIPS):
            gate.release()
    assert (await ds.client.get(zip_path(ids))).status_code == 200
    assert gate.active == 0


# ---------------------------------------------------------------- a real server's memory

def peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`ingest serve` over MANY 2-megapixel photos; (address, pid, ids)."""
    base = tmp_path_factory.mktemp("zip-server")
    ids = build(base, MANY, 1632, 1224)
    port = free_port()
    ingest = str(Path(sys.executable).parent / "ingest")
    proc = subprocess.Popen([ingest, "serve", "--db", str(base / "gallery.db"), "--store", str(base / "archive"),
                             "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/plugins.json", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "the server exited"
                time.sleep(0.1)
        yield port, proc.pid, ids
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def download(port: int, ids: list[int]) -> tuple[int, int]:
    """A ZIP read in 64 KB pieces, as a browser saves it; (bytes, members)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", zip_path(ids))
    response = conn.getresponse()
    assert response.status == 200
    body = bytearray()
    while piece := response.read(1 << 16):
        body += piece
    conn.close()
    with zipfile.ZipFile(io.BytesIO(bytes(body))) as z:
        assert z.testzip() is None
        return len(body), len(z.namelist())


def test_server_memory_does_not_grow_with_the_number_of_photos(server):
    port, pid, ids = server
    jpegs = ids[:MANY]
    try:
        reset_peak(pid)
    except OSError:
        pytest.skip("this kernel does not let us reset a process's peak RSS (/proc/PID/clear_refs)")
    download(port, jpegs[:FEW])  # warm: modules, caches, Datasette's threads
    peaks = {}
    for count in (FEW, MANY):
        reset_peak(pid)
        before = peak_rss_kb(pid)
        size, members = download(port, jpegs[:count])
        assert members == count + 1
        peaks[count] = (before, peak_rss_kb(pid), size)
    (few_before, few_peak, few_size), (many_before, many_peak, many_size) = peaks[FEW], peaks[MANY]
    assert many_size > 8 * few_size  # ten times the photos, ten times the bytes sent ...
    # ... and yet the server's peak grows by far less than the large ZIP's size (holding every copy,
    # as the ZIP used to be made, adds the copies, the originals read and the ZIP: 2-3 times it).
    assert many_peak - many_before < max(few_peak - few_before, 0) + many_size / 4 / 1024, peaks
    assert many_peak / few_peak < 1.25, peaks


async def test_paced_pieces_reassemble_the_zip():
    parts = [b"a" * (media.ZIP_PIECE * 2 + 5), b"", b"b" * 7]
    sent = [0]
    pieces = [p async for p in media.paced(parts, sent, 0.0, float("inf"))]
    assert b"".join(pieces) == b"".join(parts) and sent == [len(b"".join(parts))]
    assert [len(p) for p in pieces] == [media.ZIP_PIECE, media.ZIP_PIECE, 5, 7]
