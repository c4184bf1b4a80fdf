"""Faces in the catalogue: detection results, archivists' boxes and consent, and what to obscure.

The detector's boxes and archivists' corrections live side by side in `photo_faces` (migration 16):
an archivist's box is never replaced by a re-detection, and a box an archivist removed stays
removed (a new detection where it was comes in removed too). Every change an archivist makes is
audited in `edits` (field `face_box`; consent is the correctable field `faces_shown`, audited and
undone like any other through corrections.py). Each change gives the photo a new rendition token
(triggers), so its public URLs change and the public copy follows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Iterable

import sqlite_utils

from ingest.catalogue import settings
from ingest.catalogue.publication import FACES_SETTLED
from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.model import FACE_DETECTOR, Box, Face
from ingest.times import now

ARCHIVIST = "archivist"
STATUSES = ("found", "none", "failed")
# A new detection this close (intersection over union) to a box an archivist removed is that box again.
SAME_BOX = 0.5


def settled(alias: str = "p") -> str:
    """SQL that is true for a photo whose faces are settled: detection ran (found or none), or an
    archivist cleared its faces. The publication gate adds it while public-faces is blur; a photo
    whose detection failed or has not run is not public then."""
    return FACES_SETTLED.format(p=alias)


def blurring(db) -> bool:
    """Whether public renditions obscure faces (the archive's `public-faces` setting)."""
    return settings.public_faces(db) == "blur"


@dataclass(frozen=True)
class FaceBox:
    id: int
    box: Box
    score: float | None
    source: str
    removed: bool
    who: str | None


def boxes(db: sqlite_utils.Database, photo_id: int, *, include_removed: bool = True) -> list[FaceBox]:
    rows = db.execute("SELECT id, x, y, w, h, score, source, removed, who FROM photo_faces WHERE photo_id = ? "
                      f"{'' if include_removed else 'AND removed = 0'} ORDER BY id", [photo_id]).fetchall()
    return [FaceBox(r[0], (r[1], r[2], r[3], r[4]), r[5], r[6], bool(r[7]), r[8]) for r in rows]


def to_obscure(db: sqlite_utils.Database, photo_id: int) -> list[Box]:
    """The boxes every public rendition of this photo must obscure: none when the archive shows
    faces or an archivist cleared the photo. A photo whose detection has not settled gets ArchiveError
    (it is not public while faces are obscured; nothing of it may be served)."""
    row = db.execute("SELECT faces_status, faces_shown FROM photos WHERE id = ?", [photo_id]).fetchone()
    if row is None:
        raise ArchiveError(f"no photo {photo_id}")
    if not blurring(db) or row[1]:
        return []
    if row[0] not in ("found", "none"):
        raise ArchiveError(f"photo {photo_id}: faces not detected yet")
    return [b.box for b in boxes(db, photo_id, include_removed=False)]


def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def record_detection(db: sqlite_utils.Database, photo_id: int, found: list[Face] | None, *,
                     replace: bool = False) -> str:
    """Store a detection's result (None: it failed) for a photo; the caller holds the transaction.
    Without `replace`, a photo that already has a result keeps it. Archivists' boxes stay; a new box
    where an archivist removed one comes in removed. Returns the photo's faces_status."""
    row = db.execute("SELECT faces_status FROM photos WHERE id = ?", [photo_id]).fetchone()
    if row is None:
        raise ArchiveError(f"no photo {photo_id}")
    if row[0] is not None and not replace:
        return row[0]
    status = "failed" if found is None else ("found" if found else "none")
    removed = [b.box for b in boxes(db, photo_id) if b.removed and b.source != ARCHIVIST]
    db.conn.execute("DELETE FROM photo_faces WHERE photo_id = ? AND source != ? AND removed = 0", [photo_id, ARCHIVIST])
    for face in found or []:
        if any(_iou(face.box, old) >= SAME_BOX for old in removed):
            continue  # the archivist said this is no face
        db.conn.execute("INSERT INTO photo_faces (photo_id, x, y, w, h, score, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [photo_id, *face.box, round(face.score, 4), FACE_DETECTOR])
    db.conn.execute("UPDATE photos SET faces_status = ? WHERE id = ?", [status, photo_id])
    return status


def _check_box(box: Iterable[float]) -> Box:
    values = tuple(float(v) for v in box)
    if len(values) != 4:
        raise ArchiveError("a face box is four numbers: x,y,w,h (fractions of the picture, 0 to 1)")
    x, y, w, h = values
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1.0001 and y + h <= 1.0001):
        raise ArchiveError(f"face box {x},{y},{w},{h} is not inside the picture: give x,y,w,h as fractions "
                           "(0 to 1) of its width and height")
    return (x, y, min(w, 1 - x), min(h, 1 - y))


def parse_box(text: str) -> Box:
    """'x,y,w,h' as fractions of the picture (or percentages with %), as archivists type it."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if all(p.endswith("%") for p in parts):
            return _check_box(float(p[:-1]) / 100 for p in parts)
        return _check_box(float(p) for p in parts)
    except ValueError:
        raise ArchiveError(f"{text!r} is not a face box: give x,y,w,h as fractions of the picture, "
                           "such as 0.4,0.1,0.1,0.15") from None


def _shown(box: Iterable[float]) -> str:
    return ",".join(f"{v:.4f}" for v in box)


def _audit(db: sqlite_utils.Database, photo_id: int, old, new, who: str, via: str, batch: str, stamp: str) -> int:
    cur = db.conn.execute("INSERT INTO edits (photo_id, field, old, new, who, at, via, batch) "
                          "VALUES (?, 'face_box', ?, ?, ?, ?, ?, ?)",
                          [photo_id, json.dumps(old), json.dumps(new), who, stamp, via, batch])
    return cur.lastrowid


def add_box(db: sqlite_utils.Database, photo_id: int, box: Iterable[float], *, who: str, via: str,
            batch: str | None = None) -> int:
    """An archivist's box (a face the detector missed); returns its id. Audited."""
    checked = _check_box(box)
    stamp = now()
    with transaction(db):
        if not db.execute("SELECT 1 FROM photos WHERE id = ?", [photo_id]).fetchone():
            raise ArchiveError(f"no such photo: {photo_id}")
        box_id = db.conn.execute(
            "INSERT INTO photo_faces (photo_id, x, y, w, h, source, who, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [photo_id, *checked, ARCHIVIST, who, stamp]).lastrowid
        _audit(db, photo_id, None, f"box {box_id} at {_shown(checked)} added", who, via,
               batch or uuid.uuid4().hex[:12], stamp)
    return box_id


def remove_box(db: sqlite_utils.Database, photo_id: int, box_id: int, *, who: str, via: str,
               batch: str | None = None) -> None:
    """Mark a box as no face (kept, so a re-detection does not bring it back). Audited."""
    stamp = now()
    with transaction(db):
        row = db.execute("SELECT x, y, w, h, source, removed FROM photo_faces WHERE id = ? AND photo_id = ?",
                         [box_id, photo_id]).fetchone()
        if row is None:
            raise ArchiveError(f"photo {photo_id} has no face box {box_id}")
        if row[5]:
            return
        db.conn.execute("UPDATE photo_faces SET removed = 1, who = ?, at = ? WHERE id = ?", [who, stamp, box_id])
        _audit(db, photo_id, f"box {box_id} at {_shown(row[:4])} ({row[4]})", f"box {box_id} removed: no face",
               who, via, batch or uuid.uuid4().hex[:12], stamp)


def photos_to_detect(db: sqlite_utils.Database, *, again: bool = False) -> list[tuple[int, str]]:
    """(id, sha256) of photos with no detection result yet (or that failed; with `again`, all)."""
    where = "" if again else "WHERE faces_status IS NULL OR faces_status = 'failed'"
    return db.execute(f"SELECT id, sha256 FROM photos {where} ORDER BY id").fetchall()
