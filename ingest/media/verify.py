"""Fixity: re-hash the store against the catalogue, so that nothing rots or vanishes unnoticed.

Read-only, so it is safe to run from cron while an ingest or the gallery runs. Files younger than
an hour that no row names yet are an ingest in progress, not orphans.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sqlite_utils

from ingest.media.images import FORMATS
from ingest.media.store import KINDS, Store, sha256_file

RECENT = 3600


@dataclass
class Finding:
    kind: str          # missing, corrupt, orphan, missing-derivative
    path: str
    detail: str


@dataclass
class FixityReport:
    checked: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    elapsed: float = 0.0

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def ok(self) -> bool:
        return not self.findings

    def text(self) -> str:
        rate = self.bytes / 1e6 / self.elapsed if self.elapsed > 0 else 0
        return (f"{self.checked} originals verified: {self.count('missing')} missing, {self.count('corrupt')} corrupt, "
                f"{self.count('orphan')} orphans, {self.count('missing-derivative')} missing derivatives "
                f"({self.elapsed:.1f} s, {rate:.0f} MB/s)")


def verify(db: sqlite_utils.Database, store: Store, advance: Callable[[int], None] | None = None) -> FixityReport:
    """Check every photo's original (present, and its bytes still hash to its name) and
    derivatives, then look for files in the store that no photo names."""
    started = time.monotonic()
    report = FixityReport()
    known: set[str] = set()
    rows = db.execute("SELECT id, sha256, format FROM photos ORDER BY id").fetchall()
    # A RAW+JPEG pair's second original (catalogue/pairs.py), checked like the photo's own.
    rows += db.execute("SELECT photo_id, sha256, format FROM photo_originals ORDER BY photo_id").fetchall()
    for photo_id, sha, fmt in rows:
        original = store.original(sha, FORMATS.get(fmt, ("", "bin", ""))[1])
        known.add(sha)
        report.checked += 1
        try:
            size = original.stat().st_size
            actual = sha256_file(original)
        except OSError:
            report.findings.append(Finding("missing", str(original), f"photo {photo_id}: original is missing"))
            size = 0
        else:
            report.bytes += size
            if actual != sha:
                report.findings.append(Finding("corrupt", str(original),
                                               f"photo {photo_id}: bytes hash to {actual[:12]}…, not {sha[:12]}…"))
        for kind in KINDS:
            if not store.derivative(kind, sha).is_file():
                report.findings.append(Finding("missing-derivative", str(store.derivative(kind, sha)),
                                               f"photo {photo_id}: no {kind} image"))
        if advance:
            advance(size)
    report.findings += _orphans(store, known)
    report.elapsed = time.monotonic() - started
    return report


def _orphans(store: Store, known: set[str]) -> list[Finding]:
    found = []
    cutoff = time.time() - RECENT
    for folder in ("originals", *KINDS):
        root = store.root / folder
        if not root.is_dir():
            continue
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = Path(dirpath) / name
                sha = name.split(".")[0]
                if sha in known and not name.startswith(".tmp-"):
                    continue
                try:
                    if path.stat().st_mtime > cutoff:
                        continue  # an ingest in progress, most likely
                except OSError:
                    continue
                what = "temporary file left by an interrupted run" if name.startswith(".tmp-") else "no photo names this file"
                found.append(Finding("orphan", str(path), what))
    return found


def store_bytes(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT coalesce(sum(file_size), 0) FROM photos").fetchone()[0]
