"""What the archive reads from a file, beside what exiftool reads from it, field by field.

exiftool is the reference (design principle 10). For each file both readings are reduced to the
fields a journalist sees: date and offset, GPS, displayed size, creator, rights, title and caption.
exiftool's side follows the archive's precedence (README, "How photos are tagged") over exiftool's
own tags, so a disagreement is a value read differently, never a different choice of tag.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ingest.catalogue.registry import Registry
from ingest.importer.read import clean_date
from ingest.importer.resolve import _CAMERA_JUNK, resolve
from ingest.importer.worker import Job, process, read_only

EXIFTOOL = shutil.which("exiftool")
NOT_PHOTOS = ("md", "tsv", "txt", "rst", "json", "xmp")
FIELDS = ("date", "offset", "gps", "size", "creator", "rights", "title", "caption")


def exiftool_json(root: Path) -> dict[str, dict[str, Any]]:
    """exiftool's reading of every file under `root`, keyed by path relative to it (one run)."""
    skip = [arg for ext in NOT_PHOTOS for arg in ("--ext", ext)]
    out = subprocess.run([EXIFTOOL, "-json", "-n", "-G1", "-r", "-q", "-q", "-charset", "filename=utf8", *skip, str(root)],
                         capture_output=True, check=False).stdout
    return {str(Path(e["SourceFile"]).relative_to(root)): e for e in json.loads(out or b"[]")}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if str(v).strip())
    text = " ".join(str(value).replace("\x00", " ").split())
    return text or None


def _first(entry: dict[str, Any], *tags: str) -> str | None:
    for tag in tags:
        if (text := _text(entry.get(tag))) is not None:
            return text
    return None


_EXIF_DATE = re.compile(r"^(\d{4})[:-](\d\d)[:-](\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?)?")


def _when(text: Any) -> tuple[str, str | None] | None:
    """(local 'YYYY-MM-DD HH:MM:SS', offset or None) of a date as exiftool or the archive writes it;
    ('YYYY-MM-DD', None) for a day without a time."""
    if text is None or clean_date(str(text)) is None:
        return None
    m = _EXIF_DATE.match(str(text).strip())
    if not m or m[1] == "0000":
        return None
    y, mo, d, hh, mm, ss, tz = m.groups()
    if hh is None:
        return f"{y}-{mo}-{d}", None
    offset = "+00:00" if tz == "Z" else (f"{tz[:3]}:{tz[-2:]}" if tz else None)
    return f"{y}-{mo}-{d} {hh}:{mm}:{ss or '00'}", offset


def exiftool_fields(e: dict[str, Any]) -> dict[str, Any]:
    """The fields from exiftool's tags, by the archive's precedence."""
    when = None
    offset = None
    for tag, offset_tag in (("ExifIFD:DateTimeOriginal", "ExifIFD:OffsetTimeOriginal"), ("XMP-exif:DateTimeOriginal", None),
                            ("XMP-photoshop:DateCreated", None), ("IPTC:DateCreated", None),
                            ("ExifIFD:CreateDate", None), ("XMP-xmp:CreateDate", None),
                            ("XMP-exif:DateTimeDigitized", None), ("PNG:CreationTime", None)):
        value = e.get(tag)
        if tag == "IPTC:DateCreated" and value is not None and e.get("IPTC:TimeCreated"):
            value = f"{value} {e['IPTC:TimeCreated']}"
        if (found := _when(value)) is not None:
            when, offset = found
            if offset is None and offset_tag and e.get(offset_tag):
                offset = _when(f"2000:01:01 00:00:00{e[offset_tag]}")[1]
            break
    if when is None and (found := _when(e.get("IFD0:ModifyDate"))) is not None:
        when, offset = found
        if offset is None and e.get("ExifIFD:OffsetTime"):
            offset = _when(f"2000:01:01 00:00:00{e['ExifIFD:OffsetTime']}")[1]
    lat, lon = e.get("Composite:GPSLatitude"), e.get("Composite:GPSLongitude")
    gps = (round(float(lat), 5), round(float(lon), 5)) if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) else None
    size = None
    if isinstance(e.get("Composite:ImageSize"), str) and len(parts := e["Composite:ImageSize"].split()) == 2:
        w, h = (int(float(p)) for p in parts)
        turned = e.get("IFD0:Orientation") in (5, 6, 7, 8)
        if "QuickTime:Rotation" in e:   # HEIF: the irot box is the rotation
            turned = e["QuickTime:Rotation"] in (90, 270) or (turned and "QuickTime:Rotation" not in e)
        size = (h, w) if turned else (w, h)
    caption = _first(e, "XMP-dc:Description", "IPTC:Caption-Abstract", "PNG:Description")
    if caption is None:
        caption = _first(e, "IFD0:ImageDescription", "IFD0:XPComment", "IFD0:XPSubject")
    return {
        "date": when, "offset": offset, "gps": gps, "size": size,
        "creator": _first(e, "XMP-dc:Creator", "IPTC:By-line", "IFD0:Artist", "PNG:Author", "IFD0:XPAuthor"),
        "rights": _first(e, "XMP-xmpRights:UsageTerms", "XMP-dc:Rights", "IPTC:CopyrightNotice", "IFD0:Copyright", "PNG:Copyright"),
        "title": _first(e, "XMP-dc:Title", "IPTC:ObjectName", "XMP-photoshop:Headline", "IPTC:Headline", "PNG:Title", "IFD0:XPTitle"),
        "caption": caption,
    }


def archive_fields(path: Path) -> dict[str, Any] | str:
    """The same fields as the archive reads and resolves them; a string when it does not import the file."""
    result = process(Job(str(path), path.stat().st_size, 0, "/nonexistent-store", dry_run=True), read_only)
    if result.problem:
        return result.problem[1]
    v = resolve(result.facts, Registry()).values
    when = _when(v["taken_at"]) if v["taken_at"] and len(v["taken_at"]) >= 10 else None
    return {
        "date": when[0] if when else None, "offset": when[1] if when else None,
        "gps": (round(v["latitude"], 5), round(v["longitude"], 5)) if v["latitude"] is not None else None,
        "size": (result.width, result.height),
        "creator": _text(v["creator"]), "rights": _text(v["licence_text"]),
        "title": _text(v["title"]), "caption": _text(v["caption"]),
    }


def archive_is_right(field: str, ours: Any, theirs: Any, entry: dict[str, Any]) -> str | None:
    """The classes where the archive reads better than exiftool, by rule: the reason, or None."""
    if field == "gps" and ours is None and theirs is not None and abs(theirs[0]) < 1e-6 and abs(theirs[1]) < 1e-6:
        return "GPS 0/0 is a receiver without a fix, not a place"
    if field == "caption" and ours is None and theirs and _CAMERA_JUNK.search(theirs):
        return "camera junk caption (\"OLYMPUS DIGITAL CAMERA\")"
    if field == "caption" and ours is None and theirs in (_text(entry.get("IFD0:Make")), _text(entry.get("IFD0:Model"))):
        return "a caption that is only the camera's make or model"
    return None


def disagreements(root: Path, relative: list[str] | None = None) -> list[tuple[str, str, Any, Any]]:
    """(path, field, archive's value, exiftool's value) for every field where the two differ."""
    readings = exiftool_json(root)
    found = []
    for rel, entry in sorted(readings.items()):
        if relative is not None and rel not in relative:
            continue
        ours = archive_fields(root / rel)
        theirs = exiftool_fields(entry)
        if isinstance(ours, str):
            found.append((rel, "imported", ours, "readable"))
            continue
        for field in FIELDS:
            a, b = ours[field], theirs[field]
            if field == "offset" and (a is None or b is None):
                continue   # an offset only one side knows is no disagreement about a value
            if a != b and archive_is_right(field, a, b, entry) is None:
                found.append((rel, field, a, b))
    return found
