"""Face detection for photos already in the archive (imported before detection, or with --no-faces,
or whose detection failed): read from their stored web sizes, in a process pool like an import."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import sqlite_utils

from ingest.catalogue import faces as catalogue_faces
from ingest.catalogue.schema import transaction
from ingest.importer.worker import detect_faces, orphan_guard
from ingest.media.faces import DETECT_EDGE
from ingest.media.store import Store
from ingest.model import Face, FileResult


def _detect(job: tuple[str, int]) -> tuple[str, list[tuple[float, float, float, float, float]]]:
    path, edge = job
    result = FileResult(path, 0, 0)
    if not os.path.isfile(path):
        return "failed", []
    detect_faces(result, path, edge)
    return result.faces_status or "failed", result.faces


def detect_stored(db: sqlite_utils.Database, store: Store, *, again: bool = False, jobs: int = 1,
                  edge: int = DETECT_EDGE, advance: Callable[[int], None] | None = None) -> dict[str, int]:
    """Detect faces on every photo without a result (or, `again`, every photo; archivists' boxes
    and removals stay), at `edge` pixels (more finds smaller faces, slower). Returns how many
    photos ended found, none and failed."""
    todo = catalogue_faces.photos_to_detect(db, again=again)
    counts = {"found": 0, "none": 0, "failed": 0}
    if not todo:
        return counts
    paths = [(str(store.derivative("web", sha)), edge) for _, sha in todo]
    with ProcessPoolExecutor(max_workers=max(1, jobs), initializer=orphan_guard, initargs=(os.getpid(),)) as pool:
        for (photo_id, _), (status, found) in zip(todo, pool.map(_detect, paths, chunksize=4)):
            faces = None if status == "failed" else [Face(tuple(f[:4]), f[4]) for f in found]
            with transaction(db):
                counts[catalogue_faces.record_detection(db, photo_id, faces, replace=True)] += 1
            if advance:
                advance(1)
    return counts
