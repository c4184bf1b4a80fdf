"""The one JPEG segment walker: headers, progressive scans, restart markers, trailers, broken files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fixtures.synth import photo_like
from PIL import Image

from ingest.media.jpeg import APP1, COM, EOI, SOS, NotJpeg, header_segments, segment, segments
from ingest.media.write.jpeg import replace_jpeg_metadata

CORPUS = Path(__file__).parent / "corpus"
SECRET = b"home address: 12 Example Street; phone +44 7000 000000"


def _jpeg(**save) -> bytes:
    out = io.BytesIO()
    photo_like(320, 240, seed=3).save(out, "JPEG", quality=85, **save)
    return out.getvalue()


def _comment_between_scans(data: bytes) -> bytes:
    """A COM segment inserted before the second scan, where some tools leave notes."""
    scans = [s for s in segments(data, through_scans=True) if s.marker == SOS]
    assert len(scans) > 1, "expected a progressive JPEG"
    at = scans[1].start
    return data[:at] + segment(COM, SECRET) + data[at:]


def test_progressive_scans_and_the_segments_between_them_are_walked():
    data = _comment_between_scans(_jpeg(progressive=True))
    walked = list(segments(data, through_scans=True))
    assert walked[-1].marker == EOI and walked[-1].end == len(data)
    assert sum(s.marker == SOS for s in walked) > 1
    assert [s.payload for s in walked if s.marker == COM] == [SECRET]
    assert b"".join(data[s.start:s.end] for s in walked) == data[2:]  # every byte accounted for


def test_restart_markers_stay_inside_their_scan():
    data = _jpeg(restart_marker_blocks=1)
    walked = list(segments(data, through_scans=True))
    assert [s.marker for s in walked if 0xD0 <= s.marker <= 0xD7] == []
    assert walked[-1].marker == EOI


def test_a_comment_between_progressive_scans_does_not_survive_a_copy():
    original = _comment_between_scans(_jpeg(progressive=True))
    copy = replace_jpeg_metadata(original, xmp=b"<x/>")
    assert SECRET not in copy
    assert [s.marker for s in segments(copy, through_scans=True)].count(COM) == 0
    assert Image.open(io.BytesIO(copy)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_trailers_after_the_image_are_dropped_and_a_cut_file_still_ends():
    data = _jpeg() + b"\xff\xd8 a second image appended by a phone " + SECRET
    copy = replace_jpeg_metadata(data)
    assert SECRET not in copy and copy.endswith(b"\xff\xd9")
    cut = _jpeg()[:-200]
    assert replace_jpeg_metadata(cut).endswith(b"\xff\xd9")


def test_header_segments_stop_at_the_picture_and_survive_breakage():
    data = _jpeg(exif=b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00\x00\x00")
    found = header_segments(data)
    assert found and all(s.marker != SOS for s in found) and found[0].marker in (0xE0, APP1)
    broken = data[:found[-1].end] + b"\x00garbage"
    assert [s.marker for s in header_segments(broken)] == [s.marker for s in found]
    assert header_segments(b"not a jpeg") == []
    with pytest.raises(NotJpeg):
        list(segments(b"\x89PNG\r\n"))


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg")),
                         ids=lambda p: str(p.relative_to(CORPUS)))
def test_real_camera_files_walk_to_their_end(path):
    data = path.read_bytes()
    try:
        walked = list(segments(data, through_scans=True))
    except NotJpeg:
        pytest.skip(f"{path.name}: not a well-formed JPEG (the corpus keeps some on purpose)")
    assert any(s.marker == SOS for s in walked)
    assert walked[-1].marker in (EOI, SOS)  # a file cut short ends in its last scan
