"""Uploaded files into the archive: the same pipeline as `ingest PATH`, held for review.

The web server runs this in a process of its own (`python -m ingest.importer.uploaded`), one at a
time: decoding a hostile file never runs in the server, the pipeline's worker pool is forked from
a plain process rather than a threaded server, and the catalogue's import lock makes a CLI import
and the uploads take turns. Every upload waiting (`queued`) is imported, grouped by its batch's
defaults (licence, creator, demonstration: tag sources `upload`), with `publish=False`; each
upload then records its photo, or `duplicate`, or its one-line problem, and its staged bytes go.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import sqlite_utils

from ingest.catalogue import uploads
from ingest.catalogue.lock import import_lock
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import default_jobs, run_ingest
from ingest.importer.resolve import Options
from ingest.media import staging
from ingest.media.store import Store


def _options(defaults: dict[str, str]) -> Options:
    return Options(licence=defaults.get("licence") or None, creator=defaults.get("creator") or None,
                   demo=defaults.get("demo") or None, via="upload")


def import_queued(db: sqlite_utils.Database, store: Store, root: Path, *, jobs: int = 1,
                  only: str | None = None) -> dict[str, str]:
    """Import every queued upload (or only the one named); returns upload id -> its new state."""
    outcome: dict[str, str] = {}
    while queued := [u for u in uploads.in_state(db, "queued") if only in (None, u.id)]:
        groups: dict[str, list[uploads.Upload]] = {}
        for item in queued:
            groups.setdefault(json.dumps(item.defaults, sort_keys=True), []).append(item)
        for key, items in groups.items():
            outcome.update(_import_group(db, store, root, items, _options(json.loads(key)), jobs))
    return outcome


def _import_group(db, store: Store, root: Path, items: list[uploads.Upload], options: Options,
                  jobs: int) -> dict[str, str]:
    paths = {str(staging.staged_path(root, u.id, u.file_name)): u for u in items}
    before = {u.id: uploads.in_archive(db, u.sha256) for u in items}
    problems: dict[str, str] = {}

    def report(path: str, kind: str, message: str) -> None:
        if kind not in ("held",) and path in paths:
            problems.setdefault(path, message)

    present = [p for p in paths if os.path.isfile(p)]
    if present:
        run_ingest(db, store, present, options, jobs=max(1, min(jobs, len(present))), publish=False,
                   report=report)
    outcome = {}
    for path, item in paths.items():
        photo = uploads.in_archive(db, item.sha256)
        if before[item.id] is not None:
            state, problem, photo = "duplicate", None, None
        elif photo is not None:
            state, problem = "imported", None
        else:
            state = "problem"
            problem = problems.get(path) or ("its bytes were lost before the import; send it again"
                                             if path not in present else "not imported")
        uploads.mark(db, item.id, state, photo_id=photo, problem=problem)
        staging.discard(root, item.id)
        outcome[item.id] = state
    return outcome


# The server's pages come first: an import of uploads runs at a lower CPU priority, so visitors
# browsing the gallery while a photographer's batch is imported wait less (bench/upload.py).
NICE = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--staging", required=True)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--only", help="import this upload id alone (the server isolates a file that crashed a run)")
    parser.add_argument("--nice", type=int, default=NICE, help="lower this process's CPU priority by this much")
    args = parser.parse_args(argv)
    if args.nice and hasattr(os, "nice"):
        os.nice(args.nice)  # its workers, forked from it, inherit it
    db = connect(args.db, create=False)
    try:
        # Two servers on one catalogue each run this: the second waits, then finds nothing queued,
        # instead of importing (and marking) the same uploads again.
        with import_lock(db, suffix=".uploads.lock"):
            import_queued(db, Store(args.store), Path(args.staging), jobs=args.jobs, only=args.only)
    finally:
        db.conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
