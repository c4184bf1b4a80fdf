"""Hostile and broken input, each through the real CLI: one clear line per bad file, the batch goes on.

Every case puts a good photo beside the bad file and checks that it is still imported, that the bad
file gets exactly one line on stderr naming it and the problem, that no traceback leaks out, and the
exit status from README's table (1 when a file was not imported; 0 when only metadata was ignored).
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from fixtures.synth import make_photo
from fixtures.writers import insert_jpeg_segments
from PIL import Image

INGEST = Path(sys.executable).parent / "ingest"
HEIC_AS_JPG = "exif-py/tests/resources/heic/heic_hdlr_box.jpg"


@pytest.fixture(autouse=True)
def _restore_pillow_limit():
    """open_image sets Pillow's global MAX_IMAGE_PIXELS (see test_max_megapixels_is_not_left_global)."""
    saved = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = saved


# ---------------------------------------------------------------- helpers

def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the import's workers): unlike wall
    time, it does not grow when the machine is busy with other work."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def good_photo(folder: Path, name: str = "good.jpg", seed: int = 1) -> Path:
    return make_photo(folder / name, width=800, height=600, seed=seed,
                      exif={"DateTimeOriginal": "2024:05:18 14:00:00"})


def rows(db_path: str, sql: str, params=()) -> list[tuple]:
    if not Path(db_path).exists():
        return []
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def imported_names(cli) -> set[str]:
    return {r[0] for r in rows(cli.db_path, "SELECT original_filename FROM photos")}


def err_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def assert_one_problem(result, bad: Path, *words: str) -> str:
    """Exactly one stderr line, naming `bad` and containing each of `words` (case-insensitive)."""
    assert_no_traceback(result)
    lines = err_lines(result)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert bad.name in line, line
    assert line.split(": ", 1)[0].endswith(bad.name), line  # "path: message"
    for word in words:
        assert word.lower() in line.lower(), line
    return line


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny real PNG whose IHDR claims width x height (CRC fixed, so it parses as a valid header)."""
    buf = io.BytesIO()
    Image.new("1", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


XMP_BODY = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
    "<photoshop:City>Evilcity</photoshop:City>"
    '<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Evil {entity} title</rdf:li></rdf:Alt></dc:title>'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)
BILLION_LAUGHS = '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n' + "".join(
    f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10}">\n' for i in range(1, 10)
) + "]>\n" + XMP_BODY.format(entity="&lol9;")
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + XMP_BODY.format(entity="&xxe;")
)


def jpeg_with_xmp(path: Path, packet: str, seed: int = 2) -> Path:
    make_photo(path, width=640, height=480, seed=seed)
    path.write_bytes(insert_jpeg_segments(path.read_bytes(), xmp=packet.encode("utf-8")))
    return path


def db_text(db_path: str) -> str:
    conn = sqlite3.connect(db_path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


# ---------------------------------------------------------------- files that are not imported

def _zero_bytes(folder: Path) -> Path:
    p = folder / "empty.jpg"
    p.write_bytes(b"")
    return p


def _truncated(folder: Path) -> Path:
    data = make_photo(folder / "src" / "whole.jpg", width=800, height=600, seed=7).read_bytes()
    shutil.rmtree(folder / "src")
    p = folder / "truncated.jpg"
    p.write_bytes(data[: int(len(data) * 0.6)])
    return p


def _text_as_jpg(folder: Path) -> Path:
    p = folder / "letter.jpg"
    p.write_text("Dear archivist,\nthis is not a photo.\n")
    return p


@pytest.mark.parametrize("make_bad, words", [
    (_zero_bytes, ["empty", "0 bytes"]),
    (_truncated, ["truncated"]),
    (_text_as_jpg, ["not an image"]),
], ids=["zero-bytes", "truncated-jpeg", "text-named-jpg"])
def test_broken_file_is_one_line_and_the_batch_goes_on(cli, tmp_path, make_bad, words):
    folder = tmp_path / "card"
    good_photo(folder)
    bad = make_bad(folder)
    result = cli("import", str(folder))
    assert result.exit_code == 1, result.output
    assert_one_problem(result, bad, *words)
    assert imported_names(cli) == {"good.jpg"}
    assert result.stdout.startswith("1 imported, 0 duplicates, 0 unchanged, 1 problems"), result.stdout
    # The problem is kept in the catalogue too, with its run.
    kept = rows(cli.db_path, "SELECT path, run_id FROM problems")
    assert len(kept) == 1 and kept[0][0].endswith(bad.name) and kept[0][1] is not None


def test_problem_line_is_relative_to_where_the_user_stands(cli, tmp_path, monkeypatch):
    folder = tmp_path / "phone"
    good_photo(folder)
    _zero_bytes(folder)
    monkeypatch.chdir(tmp_path)
    result = cli("import", "phone")
    assert result.exit_code == 1
    assert result.stderr == "phone/empty.jpg: empty file (0 bytes)\n"


def test_truncated_jpeg_leaves_nothing_in_the_store(cli, tmp_path):
    folder = tmp_path / "card"
    bad = _truncated(folder)
    result = cli("import", str(folder))
    assert result.exit_code == 1
    assert_one_problem(result, bad)
    assert rows(cli.db_path, "SELECT count(*) FROM photos") == [(0,)]
    store = Path(cli.store_path)
    leftovers = [p for p in store.rglob("*") if p.is_file()] if store.exists() else []
    # A file that fails to decode may leave its original (content-addressed, harmless), but never a
    # derivative: derivatives are only written after a successful decode.
    assert not [p for p in leftovers if "web" in p.parts or "thumbs" in p.parts], leftovers


def test_heic_named_jpg_is_imported_as_heif(cli, tmp_path, shared_corpus):
    folder = tmp_path / "phone"
    good_photo(folder)
    src = shared_corpus / HEIC_AS_JPG
    if not src.is_file():
        src = make_photo(tmp_path / "made.jpg", width=640, height=480, seed=3, fmt="HEIF")
    shutil.copy(src, folder / "IMG_0001.jpg")
    result = cli("import", str(folder))
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert err_lines(result) == []
    got = dict(rows(cli.db_path, "SELECT original_filename, format FROM photos"))
    assert got == {"good.jpg": "JPEG", "IMG_0001.jpg": "HEIF"}
    sha = rows(cli.db_path, "SELECT sha256 FROM photos WHERE format = 'HEIF'")[0][0]
    assert (Path(cli.store_path) / "originals" / sha[:2] / sha[2:4] / f"{sha}.heic").is_file()


# ---------------------------------------------------------------- decompression bombs

@pytest.mark.parametrize("width, height", [(60000, 60000), (20000, 15000)], ids=["3600MP", "300MP"])
def test_decompression_bomb_refused_from_header(cli, tmp_path, width, height):
    folder = tmp_path / "press"
    good_photo(folder)
    bomb = png_claiming(folder / "bomb.png", width, height)
    assert bomb.stat().st_size < 200
    started = cpu_seconds()
    result = cli("import", str(folder))
    assert cpu_seconds() - started < 10  # CPU, not wall time: refused from the header, never decoded
    assert result.exit_code == 1, result.output
    assert_one_problem(result, bomb, "refused", "megapixels", "bomb")
    assert imported_names(cli) == {"good.jpg"}


def test_decompression_bomb_message_names_the_size(cli, tmp_path):
    bomb = png_claiming(tmp_path / "bomb.png", 60000, 60000)
    result = cli("import", str(bomb))
    assert result.exit_code == 1
    assert_one_problem(result, bomb, "refused: 60000x60000 is 3600 megapixels, above the 250 MP limit")


_RSS_PROBE = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    print(proc.returncode)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
    sys.stderr.write(proc.stderr)
""")


def _peak_rss_kib(args: list[str]) -> tuple[int, int, str]:
    """(exit status, peak RSS in KiB, stderr) of one `ingest` process tree, measured by a fresh parent."""
    probe = subprocess.run([sys.executable, "-c", _RSS_PROBE, *args], capture_output=True, text=True, timeout=60)
    code, rss = probe.stdout.split()
    return int(code), int(rss), probe.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or not INGEST.is_file(),
                    reason="ru_maxrss is in KiB on Linux; needs the installed `ingest` console script")
def test_decompression_bomb_does_not_allocate(tmp_path):
    """A 60000x60000 PNG would need 450 MB even as 1-bit pixels (10.8 GB as RGB): memory must stay flat."""
    small = tmp_path / "small"
    good_photo(small)
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    bomb = png_claiming(bombs / "bomb.png", 60000, 60000)
    common = ["--db", str(tmp_path / "g.db"), "--store", str(tmp_path / "archive"), "import", "--jobs", "1"]
    code, baseline, _ = _peak_rss_kib([str(INGEST), *common, str(small)])
    assert code == 0
    started = time.monotonic()
    code, peak, stderr = _peak_rss_kib([str(INGEST), *common, "--max-megapixels", "2000", str(bomb)])
    elapsed = time.monotonic() - started
    assert code == 1
    assert "bomb.png" in stderr and "megapixels" in stderr and "Traceback" not in stderr
    assert elapsed < 10
    assert peak < baseline + 60 * 1024, (baseline, peak)
    assert peak < 400 * 1024, peak


def test_max_megapixels_refuses_a_2mp_photo(cli, tmp_path):
    folder = tmp_path / "card"
    good_photo(folder)  # 0.48 MP
    big = make_photo(folder / "big.jpg", width=1600, height=1250, seed=4)  # 2.0 MP
    result = cli("import", "--max-megapixels", "1", str(folder))
    assert result.exit_code == 1, result.output
    assert_one_problem(result, big, "refused", "megapixels", "1")
    assert imported_names(cli) == {"good.jpg"}


def test_max_megapixels_is_not_left_global(cli, tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    folder = tmp_path / "card"
    good_photo(folder)
    assert cli("import", "--jobs", "1", "--max-megapixels", "1", str(folder)).exit_code == 0
    assert Image.MAX_IMAGE_PIXELS == before


# ---------------------------------------------------------------- metadata that is ignored, photo kept

@pytest.mark.parametrize("packet", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_hostile_xmp_is_ignored_and_the_photo_imported(cli, tmp_path, packet):
    folder = tmp_path / "press"
    good_photo(folder)
    evil = jpeg_with_xmp(folder / "evil.jpg", packet)
    started = cpu_seconds()
    result = cli("import", str(folder))
    assert cpu_seconds() - started < 10  # CPU, not wall time: the entities are never expanded
    assert result.exit_code == 0, result.output          # a metadata warning does not change the status
    assert_one_problem(result, evil, "XMP")
    assert imported_names(cli) == {"good.jpg", "evil.jpg"}
    photo_id = rows(cli.db_path, "SELECT id FROM photos WHERE original_filename = 'evil.jpg'")[0][0]
    assert rows(cli.db_path, "SELECT key FROM metadata WHERE photo_id = ? AND source LIKE 'xmp%'", [photo_id]) == []
    title, city_id = rows(cli.db_path, "SELECT title, city_id FROM photos WHERE id = ?", [photo_id])[0]
    assert title is None and city_id is None
    text = db_text(cli.db_path)
    assert "Evilcity" not in text and "lollol" not in text
    if Path("/etc/passwd").is_file() and "root:" in Path("/etc/passwd").read_text(errors="replace"):
        assert "root:" not in text
    assert "warnings" in result.stdout


@pytest.mark.parametrize("packet", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_hostile_xmp_is_named_as_hostile(cli, tmp_path, packet):
    folder = tmp_path / "press"
    evil = jpeg_with_xmp(folder / "evil.jpg", packet)
    result = cli("import", str(folder))
    assert result.exit_code == 0
    assert_one_problem(result, evil, "XMP refused", "hostile")


def test_xmp_packet_over_4_mib_is_a_warning(cli, tmp_path):
    folder = tmp_path / "press"
    good_photo(folder)
    big = make_photo(folder / "big-xmp.png", width=320, height=240, seed=5, fmt="PNG",
                     xmp={"dc:description": "x" * (5 * 1024 * 1024), "photoshop:City": "Bigxmpcity"})
    assert big.stat().st_size > 4 * 1024 * 1024
    result = cli("import", str(folder))
    assert result.exit_code == 0, result.output
    assert_one_problem(result, big, "XMP", "4 MiB")
    assert imported_names(cli) == {"good.jpg", "big-xmp.png"}
    assert "Bigxmpcity" not in db_text(cli.db_path)


def test_corrupt_exif_block_is_imported(cli, tmp_path):
    folder = tmp_path / "card"
    good_photo(folder)
    bad = make_photo(folder / "bad-exif.jpg", width=640, height=480, seed=6)
    payload = b"Exif\x00\x00" + bytes((i * 7919 + 13) % 256 for i in range(3000))
    data = bad.read_bytes()
    bad.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])
    result = cli("import", str(folder))
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    lines = err_lines(result)
    assert len(lines) <= 1 and all("bad-exif.jpg" in line for line in lines), lines  # at most a warning
    assert imported_names(cli) == {"good.jpg", "bad-exif.jpg"}
    assert rows(cli.db_path, "SELECT width, height FROM photos WHERE original_filename = 'bad-exif.jpg'") == [(640, 480)]


def test_timeout_option_is_validated(cli, tmp_path):
    # A file that reliably takes more than a second to read needs hundreds of megapixels (draft mode
    # makes even big JPEGs fast), too slow and memory-hungry for this suite: only the option is checked.
    good_photo(tmp_path / "card")
    result = cli("import", "--timeout", "0", str(tmp_path / "card"))
    assert result.exit_code == 2
    assert "--timeout" in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------- paths and options

def test_missing_path_is_one_line_and_the_rest_goes_on(cli, tmp_path):
    folder = tmp_path / "card"
    good_photo(folder)
    missing = tmp_path / "no-such-card"
    result = cli("import", str(missing), str(folder))
    assert result.exit_code == 1, result.output
    line = assert_one_problem(result, missing, "no such file or folder")
    assert line.endswith("no such file or folder")
    assert imported_names(cli) == {"good.jpg"}


def test_unknown_flag_is_a_usage_error(cli, tmp_path):
    good_photo(tmp_path / "card")
    result = cli("import", "--frobnicate", str(tmp_path / "card"))
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "No such option" in result.stderr and "--frobnicate" in result.stderr
    assert "Traceback" not in result.output
    assert imported_names(cli) == set()


def test_inexact_licence_is_a_usage_error(cli, tmp_path):
    good_photo(tmp_path / "card")
    result = cli("import", "--licence", "CC BY-NC", str(tmp_path / "card"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error = [line for line in err_lines(result) if line.startswith("Error:")]
    assert len(error) == 1, result.stderr
    assert "--licence" in error[0] and "CC BY-NC" in error[0] and "SPDX" in error[0]
    assert imported_names(cli) == set()


def test_db_in_missing_folder_is_one_error_line(cli, tmp_path):
    good_photo(tmp_path / "card")
    db = tmp_path / "no" / "such" / "folder" / "gallery.db"
    result = cli("--db", str(db), "--store", str(tmp_path / "archive"), str(tmp_path / "card"), archive_args=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = err_lines(result)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert str(db.parent) in lines[0]
    assert not db.parent.exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file_is_one_line(cli, tmp_path):
    folder = tmp_path / "card"
    good_photo(folder)
    locked = good_photo(folder, "locked.jpg", seed=9)
    locked.chmod(0)
    try:
        result = cli("import", str(folder))
    finally:
        locked.chmod(0o644)
    assert result.exit_code == 1
    assert_one_problem(result, locked, "cannot read")
    assert imported_names(cli) == {"good.jpg"}


def test_non_images_in_a_folder_are_skipped_and_named(cli, tmp_path):
    # Issue 15: every file not imported is named with a reason, never silently counted; but a
    # skipped file is not a problem (the exit code stays 0). Sidecars are read with their photo.
    folder = tmp_path / "card"
    good_photo(folder)
    (folder / "notes.txt").write_text("shot list\n")
    (folder / "data.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "good.xmp").write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>")
    result = cli("import", str(folder))
    assert result.exit_code == 0, result.output
    assert sorted(result.stderr.splitlines()) == [
        f"{folder / 'data.bin'}: skipped: not an image (unrecognised content)",
        f"{folder / 'notes.txt'}: skipped: not a photo (.txt file)",
    ]
    assert imported_names(cli) == {"good.jpg"}
    # data.bin is opened and found not to be an image; notes.txt is a known non-photo suffix, never opened.
    assert "2 skipped (not images)" in result.stdout and "0 problems" in result.stdout
    assert rows(cli.db_path, "SELECT count(*) FROM problems") == [(0,)]


@pytest.mark.parametrize("name, content", [("notes.txt", b"shot list\n"), ("data.bin", bytes(range(256)) * 4)])
def test_non_image_named_on_the_command_line_is_a_problem(cli, tmp_path, name, content):
    folder = tmp_path / "card"
    good = good_photo(folder)
    bad = folder / name
    bad.write_bytes(content)
    result = cli("import", str(good), str(bad))
    assert result.exit_code == 1, result.output
    assert_one_problem(result, bad, "not an image")
    assert imported_names(cli) == {"good.jpg"}


def test_named_fifo_is_reported(cli, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = cli("import", "--timeout", "2", "--jobs", "1", str(fifo))
    assert result.exit_code == 1
    assert_one_problem(result, fifo)
