"""Fixity: re-hash the store against the catalogue, so that nothing rots or vanishes unnoticed.

Safe to run from cron while an ingest or the gallery runs: it reads the store and writes only one
row of `verify_runs`. Files younger than an hour that no row names yet are an ingest in progress,
not orphans. A large store is checked in rotating shares (`sample`): each run continues after the
last photo the previous one checked, so a nightly 5% checks everything every 20 nights.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timezone
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
    sample: str = ""        # which share a sample checked; empty for a full run

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def rate(self) -> float:
        """MB/s of originals read and hashed."""
        return self.bytes / 1e6 / self.elapsed if self.elapsed > 0 else 0.0

    def text(self) -> str:
        orphans = f"{self.count('orphan')} orphans, " if not self.sample else ""
        return (f"{self.checked} originals verified{f' ({self.sample})' if self.sample else ''}: "
                f"{self.count('missing')} missing, {self.count('corrupt')} corrupt, "
                f"{orphans}{self.count('missing-derivative')} missing derivatives "
                f"({self.elapsed:.1f} s, {self.bytes / 1e6:.0f} MB at {self.rate:.0f} MB/s)")


Row = tuple  # (photo id, sha256, format)


def verify(db: sqlite_utils.Database, store: Store, advance: Callable[[int], None] | None = None,
           rows: list[Row] | None = None) -> FixityReport:
    """Check every photo's original (present, and its bytes still hash to its name) and
    derivatives, then look for files in the store that no photo names. With `rows` (from
    `sample_rows`), check only those photos, and no orphans."""
    started = time.monotonic()
    report = FixityReport()
    known: set[str] = set()
    full = rows is None
    if full:
        rows = db.execute("SELECT id, sha256, format FROM photos ORDER BY id").fetchall()
    # A RAW+JPEG pair's second original (catalogue/pairs.py), checked like the photo's own.
    seconds = db.execute("SELECT photo_id, sha256, format FROM photo_originals ORDER BY photo_id").fetchall()
    if not full:
        chosen = {r[0] for r in rows}
        seconds = [r for r in seconds if r[0] in chosen]
    for photo_id, sha, fmt in [*rows, *seconds]:
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
    if full:
        report.findings += _orphans(store, known)
    report.elapsed = time.monotonic() - started
    return report


def parse_share(text: str) -> float | int:
    """A sample's size: a share of the photos ("5%", "0.05") or a number of them ("2000")."""
    raw = text.strip()
    try:
        if raw.endswith("%"):
            share = float(raw[:-1]) / 100
        elif raw.isdigit():
            if int(raw) < 1:
                raise ValueError
            return int(raw)
        else:
            share = float(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a share (5%, 0.05) or a number of photos (2000)") from None
    if not 0 < share <= 1:
        raise ValueError(f"{text!r}: a share is more than 0 and at most 100%")
    return share


def sample_rows(db: sqlite_utils.Database, share: float | int) -> list[Row]:
    """The next photos to check: `share` of them (a fraction, or a number), in id order after the
    last photo the previous sample checked, wrapping round to the first."""
    total = db.execute("SELECT count(*) FROM photos").fetchone()[0]
    count = min(total, share if isinstance(share, int) else max(1, math.ceil(total * share)))
    after = db.execute("SELECT last_id FROM verify_runs WHERE mode = 'sample' ORDER BY id DESC LIMIT 1").fetchone()
    after = after[0] if after and after[0] is not None else 0
    rows = db.execute("SELECT id, sha256, format FROM photos WHERE id > ? ORDER BY id LIMIT ?", [after, count]).fetchall()
    if len(rows) < count:
        rows += db.execute("SELECT id, sha256, format FROM photos WHERE id <= ? ORDER BY id LIMIT ?",
                           [after, count - len(rows)]).fetchall()
    return rows


def record_run(db: sqlite_utils.Database, report: FixityReport, rows: list[Row] | None = None) -> None:
    """Remember the run (and, for a sample, where the next one starts)."""
    if rows is not None and rows:
        total = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        report.sample = (f"photos {rows[0][0]} to {rows[-1][0]}, {len(rows)} of {total}; "
                         f"the next sample starts after {rows[-1][0]}")
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        db.conn.execute(
            "INSERT INTO verify_runs (at, mode, first_id, last_id, checked, bytes, seconds, findings) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [datetime.now(timezone.utc).isoformat(timespec="seconds"), "full" if rows is None else "sample",
             rows[0][0] if rows else None, rows[-1][0] if rows else None, report.checked, report.bytes,
             round(report.elapsed, 3), len(report.findings)])
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


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


def store_bytes(db: sqlite_utils.Database, rows: list[Row] | None = None) -> int:
    """Bytes of the originals a run will read (for its progress bar)."""
    if rows is None:
        return db.execute("SELECT coalesce(sum(file_size), 0) FROM photos").fetchone()[0]
    return sum(db.execute("SELECT coalesce(file_size, 0) FROM photos WHERE id = ?", [r[0]]).fetchone()[0]
               for r in rows)
