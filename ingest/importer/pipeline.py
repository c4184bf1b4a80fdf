"""The stages put together: scan -> extract (in a process pool) -> resolve -> record.

Per-file problems are collected and reported, never raised: one bad file costs only itself.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import sqlite_utils

from ingest.catalogue import settings
from ingest.catalogue.lock import import_lock
from ingest.catalogue.publication import Waiting, waiting
from ingest.catalogue.record import (
    finish_run,
    held_reason,
    known_unchanged,
    predict_outcome,
    record_file,
    record_problem,
    start_run,
)
from ingest.catalogue.registry import load_registry
from ingest.catalogue.schema import Batch
from ingest.importer.resolve import Options, resolve
from ingest.importer.retag import fill_phashes
from ingest.importer.scan import Ignored, Missing, Skipped, scan
from ingest.importer.worker import Job, process, start_worker, warm_up
from ingest.media import images
from ingest.media.store import Store, sweep_temporaries
from ingest.model import FileResult
from ingest.text import shown

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".hif", ".avif"}


@dataclass
class Summary:
    seen: int = 0
    imported: int = 0
    duplicates: int = 0
    unchanged: int = 0
    updated: int = 0            # same bytes, edited sidecar: re-tagged
    paired: int = 0             # the other half of a RAW+JPEG pair: a second original of a photo
    skipped: int = 0            # not images, found inside folders: not a problem
    problems: int = 0           # files not imported, each reported
    warnings: int = 0           # files imported, with a metadata block ignored
    held: list[tuple[int, int]] = field(default_factory=list)  # (new photo, the withheld photo it looks like)
    added: list[int] = field(default_factory=list)             # photos this run added
    waiting: Waiting = field(default_factory=Waiting)          # of those, the ones not public, and why
    elapsed: float = 0.0
    dry_run: bool = False
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (path, kind, message)

    def counts(self) -> dict[str, int]:
        return {"seen": self.seen, "imported": self.imported, "duplicates": self.duplicates,
                "unchanged": self.unchanged, "problems": self.problems}

    def text(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        parts = [f"{self.imported} {verb}", f"{self.duplicates} duplicates", f"{self.unchanged} unchanged"]
        if self.updated:
            parts.append(f"{self.updated} updated from sidecars")
        if self.paired:
            parts.append(f"{self.paired} {'would join' if self.dry_run else 'joined'} their RAW+JPEG pair")
        if self.skipped:
            parts.append(f"{self.skipped} skipped (not images)")
        parts.append(f"{self.problems} problems")
        if self.warnings:
            parts.append(f"{self.warnings} warnings")
        rate = self.seen / self.elapsed if self.elapsed > 0 else 0
        line = f"{', '.join(parts)} ({self.seen} files in {self.elapsed:.1f} s, {rate:.0f} files/s)"
        if self.held:
            likes = sorted({like for _, like in self.held})
            verb = "looks like withheld photo" if len(self.held) == 1 else (
                "look like withheld photo" if len(likes) == 1 else "look like withheld photos")
            line += f"\n{len(self.held)} held: {verb} {', '.join(map(str, likes))}"
        if self.waiting.total:
            line += f"\n{self.waiting.text()} (see `ingest review`)"
        return line


Report = Callable[[str, str, str], None]       # path, kind, message
Advance = Callable[[int], None]
Notice = Callable[[str], None]                 # a line for the user about the run, not about a file


def _results(jobs: Iterable[Job], workers: int, detect_faces: bool = True) -> Iterator[FileResult]:
    """Results in completion order; at most a few jobs in flight per worker, so memory stays flat.
    Each worker loads its libraries while it reads its first file (`warm_up`); so does this process
    when there is no pool, from the first file on (not for a re-scan that finds nothing new), and
    waits for that thread before it returns (a later pool must not fork while it runs)."""
    if workers <= 1:
        warming = None
        try:
            for job in jobs:
                warming = warming or warm_up(detect_faces)
                yield process(job)
        finally:
            if warming is not None:
                warming.join()
        return
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=start_worker,
                             initargs=(os.getpid(), detect_faces)) as pool:
        pending: set[Future] = set()
        for job in jobs:
            pending.add(pool.submit(process, job))
            if len(pending) >= workers * 3:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)


def run_ingest(
    db: sqlite_utils.Database,
    store: Store,
    paths: list[str],
    options: Options = Options(),
    *,
    jobs: int = 1,
    dry_run: bool = False,
    max_pixels: int = images.MAX_PIXELS,
    timeout: int = 120,
    publish: bool | None = None,
    report: Report | None = None,
    advance: Advance | None = None,
    notice: Notice | None = None,
    detect_faces: bool = True,
) -> Summary:
    """Import files and folders into the catalogue and the store; returns what happened.

    One import at a time per catalogue: a second one waits for the first (and `notice` says so), then
    reads the registry the first one left, so a city and day is never split into two groups. A dry
    run writes nothing and does not wait. New photos wait for an archivist's approval unless
    `publish` (or, when it is None, the archive's `publish-on-import` setting) says otherwise."""
    hold = not publish if publish is not None else settings.publish_on_import(db) == "review"
    with nullcontext() if dry_run else import_lock(db, notice):
        return _run(db, store, paths, options, jobs=jobs, dry_run=dry_run, max_pixels=max_pixels,
                    timeout=timeout, hold=hold, report=report, advance=advance, notice=notice,
                    detect_faces=detect_faces)


def _shown_folder(path: str) -> str:
    """A folder as the user would type it: relative when below where they stand, with a slash."""
    rel = os.path.relpath(path)
    return f"{shown(path if rel.startswith('..') else rel)}/"


def _run(db: sqlite_utils.Database, store: Store, paths: list[str], options: Options, *, jobs: int,
         dry_run: bool, max_pixels: int, timeout: int, hold: bool, report: Report | None,
         advance: Advance | None, notice: Notice | None, detect_faces: bool = True) -> Summary:
    started = time.monotonic()
    summary = Summary(dry_run=dry_run)
    registry = load_registry(db)
    flags = options.as_facts()
    run_id = None
    if not dry_run:
        store.ensure()
        sweep_temporaries(store)
        run_id = start_run(db, {"paths": len(paths), "jobs": jobs, **flags})
        fill_phashes(db, store, withheld_only=True)  # what a copy is compared with; cheap: few, small

    def problem(path: str, kind: str, message: str, *, fatal: bool = True) -> None:
        if fatal:
            summary.problems += 1
        else:
            summary.warnings += 1
        message = shown(message)  # printable whatever the file's name: one line, never an exception
        summary.lines.append((shown(path), kind, message))
        if run_id is not None:
            record_problem(db, run_id, path, kind, message)
        if report:
            report(shown(path), kind, message)

    def skipped(path: str, reason: str) -> None:
        """Not a photo, found in a folder: counted apart from problems, but named, never silent."""
        summary.skipped += 1
        summary.lines.append((shown(path), "skipped", f"skipped: {reason}"))
        if report:
            report(shown(path), "skipped", f"skipped: {reason}")

    named: set[str] = set()
    hashes: set = set()   # a dry run's: what it would have imported so far (hashes, pair keys)

    def candidates() -> Iterator[Job]:
        for item in scan(paths, store.root):
            if isinstance(item, Skipped):
                if notice:
                    notice(f"{_shown_folder(item.path)}: {item.reason}")
                continue
            if isinstance(item, Ignored):
                skipped(item.path, item.reason)
                continue
            summary.seen += 1
            if isinstance(item, Missing):
                problem(item.path, "missing", item.reason)
                if advance:
                    advance(1)
                continue
            if known_unchanged(db, item.path, item.size, item.mtime_ns):
                summary.unchanged += 1
                if advance:
                    advance(1)
                continue
            if item.named:
                named.add(item.path)
            yield Job(item.path, item.size, item.mtime_ns, str(store.root), dry_run, max_pixels, timeout, item.sidecars,
                      detect_faces)

    status = "interrupted"
    batch = Batch(db)
    try:
        for result in _results(candidates(), max(1, jobs), detect_faces and not dry_run):
            if advance:
                advance(1)
            if result.problem:
                kind, message = result.problem
                if kind == "not-image" and result.path not in named and Path(result.path).suffix.lower() not in IMAGE_SUFFIXES:
                    skipped(result.path, message)
                    continue
                problem(result.path, kind, message)
                continue
            for kind, message in result.warnings:
                problem(result.path, kind, message, fatal=False)
            if flags:
                result.facts["flag"] = dict(flags)
            tags = resolve(result.facts, registry)
            if dry_run:
                photo_id, outcome = None, predict_outcome(db, result, hashes, tags.values.get("taken_at"))
            else:
                batch.begin()
                photo_id, outcome = record_file(db, registry, result, tags, hold=hold)
                batch.tick()
            if outcome == "held":
                like = db.execute("SELECT near_duplicate_of FROM photos WHERE id = ?", [photo_id]).fetchone()[0]
                summary.held.append((photo_id, like))
                if report:
                    report(shown(result.path), "held", f"imported withheld (photo {photo_id}): {held_reason(like)}")
            if outcome in ("imported", "held"):
                summary.imported += 1
                summary.added.append(photo_id)
            elif outcome == "duplicate":
                summary.duplicates += 1
            elif outcome == "updated":
                summary.updated += 1
            elif outcome == "paired":
                summary.paired += 1
            else:
                summary.unchanged += 1
        status = "finished"
    finally:
        batch.commit()
        summary.waiting = waiting(db, summary.added)
        summary.elapsed = time.monotonic() - started
        if run_id is not None:
            finish_run(db, run_id, summary.counts(), status)
    return summary


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
