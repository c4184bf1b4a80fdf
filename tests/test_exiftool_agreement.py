"""The archive reads every file of the corpora as exiftool does (issue 15, item 7; design principle 10):
date and offset, GPS, displayed size, creator, rights, title and caption, for every file of
tests/corpus and ../shared/corpus. Where the archive reads differently and is right, the rule is in
`exiftool_agreement.archive_is_right` (junk dates never reach either side's comparison, GPS 0/0,
camera-junk captions); a single file's case goes in EXCEPTIONS below with its reason. A new
disagreement fails until it is fixed or explained there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exiftool_agreement import EXIFTOOL, disagreements

from conftest import CORPUS

pytestmark = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed (.ci/run installs it)")

# (path relative to its corpus, field) -> why the archive's reading stands.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("exif-py/tests/resources/raw/sony_alpha_a7iii_raw_image.ARW", "imported"):
        "8 KB, the raw's header only (exif-py keeps its tags, not its picture): exiftool reads the tags, "
        "but there is no picture to import; refused as cut short",
    ("exif-py/tests/resources/jxl/test_0001.jxl", "size"):
        "exiftool 12.57 (Debian 12's) reports no size for JPEG XL; 1280x1024 is what libjxl decodes",
}


def unexplained(root: Path) -> list[tuple[str, str, object, object]]:
    return [d for d in disagreements(root) if (d[0], d[1]) not in EXCEPTIONS]


def test_tests_corpus_agrees_with_exiftool():
    assert unexplained(CORPUS) == []


def test_shared_corpus_agrees_with_exiftool(shared_corpus):
    assert unexplained(shared_corpus) == []


def test_every_exception_is_still_needed(shared_corpus):
    """An exception that no longer happens is removed, so the list says what is true today."""
    found = {(d[0], d[1]) for root in (CORPUS, shared_corpus) for d in disagreements(root)}
    assert sorted(set(EXCEPTIONS) - found) == []


def test_the_rules_are_exercised_by_real_files(shared_corpus):
    """The corpus holds the cases the rules are for, so the rules are not dead letters."""
    from exiftool_agreement import archive_fields, archive_is_right, exiftool_fields, exiftool_json

    readings = exiftool_json(shared_corpus)
    reasons = set()
    for rel, entry in readings.items():
        ours = archive_fields(shared_corpus / rel)
        if isinstance(ours, str):
            continue
        theirs = exiftool_fields(entry)
        for field in ("gps", "caption"):
            if ours[field] != theirs[field] and (why := archive_is_right(field, ours[field], theirs[field], entry)):
                reasons.add(why.split(" (")[0])
    assert {"camera junk caption", "a caption that is only the camera's make or model"} <= reasons
