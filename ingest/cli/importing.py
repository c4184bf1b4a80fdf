"""Getting photos in and keeping the store sound: import, retag, verify."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ingest.catalogue.registry import Registry, close_demos, known_demo, load_registry
from ingest.cli.common import NoBar, archive_options, display, exact_licence_param, get_archive
from ingest.errors import ArchiveError
from ingest.importer.pipeline import default_jobs, run_ingest
from ingest.importer.resolve import Options
from ingest.importer.retag import fill_phashes, note_all, pending, retag_pending
from ingest.importer.scan import Ignored, Skipped, scan
from ingest.media.verify import parse_share, record_run, sample_rows, store_bytes
from ingest.media.verify import verify as check


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@archive_options
@click.option("--licence", "--license", "licence", metavar="SPDX",
              help="Licence for files that state none, e.g. CC-BY-SA-4.0.")
@click.option("--creator", metavar="NAME", help="Creator for files that name none.")
@click.option("--demo", metavar="NAME", help="Tag every file with this registered demonstration.")
@click.option("--new-demo", is_flag=True, help="--demo names a demonstration to create (it is not in the registry).")
@click.option("--city", metavar="NAME", help="Tag every file with this city.")
@click.option("--publish/--hold", "publish", default=None,
              help="Publish the new photos at once (if licensed and credited), or hold them for review "
                   "[default: the archive's publish-on-import setting: review, unless set to immediate].")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes for decoding and hashing [default: number of cores].")
@click.option("--dry-run", "-n", is_flag=True, help="Read and report; write nothing.")
@click.option("--max-megapixels", type=click.IntRange(1, 2000), default=250, show_default=True,
              help="Refuse images larger than this (decompression bombs).")
@click.option("--timeout", type=click.IntRange(1, 3600), default=120, show_default=True,
              help="Seconds allowed per file.")
@click.option("--no-faces", is_flag=True,
              help="Skip face detection (while faces are obscured, such photos are not public until `ingest faces detect`).")
@click.pass_context
def import_(ctx, paths, db_path, store_path, licence, creator, demo, new_demo, city, publish, jobs, dry_run,
            max_megapixels, timeout, no_faces):
    """Import photos from PATHS (files and folders, recursively).

    Files are recognised by their content, stored once by their SHA-256 in the store, and tagged
    from their EXIF, XMP (embedded and sidecar) and IPTC metadata. Unchanged files are skipped, and
    so is the archive's own store. A photo that looks like a withheld one (the same picture edited
    in another program) is imported withheld, for review.
    New photos wait for an archivist's approval (`ingest review`) unless --publish or the
    publish-on-import setting says otherwise; a photo without a licence, or without the creator its
    licence requires, waits whatever they say.
    Each file that cannot be imported gets one line on stderr; the rest go on. Exit status is 1
    when any file was not imported.
    """
    if licence:
        licence = exact_licence_param(licence, "--licence")
    archive = get_archive(ctx, db_path, store_path)
    if demo and not new_demo:
        registry = load_registry(archive.db) if archive.exists() else Registry()
        if not known_demo(registry, demo):
            close = close_demos(registry, demo)
            hint = ("; did you mean " + " or ".join(f"{d.name!r} ({d.date}, {registry.place_of(d)})" for d in close)
                    if close else "")
            raise click.BadParameter(f"{demo!r} is not a registered demonstration{hint}? "
                                     "Give --new-demo to create it.", param_hint="--demo")
    if dry_run and not Path(archive.db_path).exists():
        archive.db_path = ":memory:"
    options = Options(licence=licence, creator=creator, demo=demo, city=city)
    show_bar = sys.stderr.isatty()
    # Counted only for the bar's ETA.
    total = sum(not isinstance(item, (Skipped, Ignored)) for item in scan(paths, archive.store.root)) if show_bar else 0
    show_bar = show_bar and total > 1

    def report(path: str, kind: str, message: str) -> None:
        click.echo(f"{display(path)}: {message}", err=True)

    started = time.monotonic()

    def rate(done: int | None) -> str:
        return f"{done / max(time.monotonic() - started, 1e-3):.0f} files/s" if done else ""

    with click.progressbar(length=total, label="Importing", file=sys.stderr, show_eta=True, show_pos=True,
                           item_show_func=rate) if show_bar else NoBar() as bar:
        summary = run_ingest(archive.db, archive.store, list(paths), options, jobs=jobs or default_jobs(),
                             dry_run=dry_run, max_pixels=max_megapixels * 1_000_000, timeout=timeout,
                             publish=publish, report=report, advance=lambda n: bar.update(n, bar.pos + n),
                             notice=lambda line: click.echo(line, err=True), detect_faces=not no_faces)
    click.echo(summary.text())
    if summary.problems:
        ctx.exit(1)


@click.command()
@archive_options
@click.option("--all", "every", is_flag=True,
              help="Re-derive every photo, not only those whose facts or registry entries changed "
                   "(after upgrading ingest or its gazetteer).")
@click.pass_context
def retag(ctx, db_path, store_path, every):
    """Re-run tagging from stored metadata, without re-reading files.

    Only photos whose facts, corrections or registry entries (demonstrations, cities, the
    default-licence setting) changed since the last retag are re-derived, unless --all.
    Values an archivist corrected are never changed. Photos imported before perceptual hashes
    existed get theirs, from their thumbnails.
    """
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    if every:
        note_all(db)
    bar = click.progressbar(length=len(pending(db)[1]), label="Retagging", file=sys.stderr, show_eta=True,
                            show_pos=True) if sys.stderr.isatty() else NoBar()
    with bar:
        report = retag_pending(db, advance=bar.update)
    click.echo(f"{report.changed} of {report.total} photos changed")
    click.echo(f"{report.derived} photo{'s' if report.derived != 1 else ''} re-derived"
               f"{'' if every else ' (the rest had nothing new; --all re-derives every photo)'}", err=True)
    if hashed := fill_phashes(db, archive.store):
        click.echo(f"{hashed} perceptual hash{'es' if hashed != 1 else ''} computed", err=True)


@click.command()
@archive_options
@click.option("--sample", metavar="SHARE",
              help="Check only a share of the photos (5%, 0.05, or a number such as 2000), continuing "
                   "where the previous sample stopped; orphans are left to a full run.")
@click.pass_context
def verify(ctx, db_path, store_path, sample):
    """Re-hash the store against the catalogue: report missing, corrupt and orphan files.

    Safe beside a running ingest or gallery: run it from cron, e.g. a share each night and all of
    it each month: `0 3 * * * cd /srv/archive && ingest verify --sample 5% || mail -s "archive fixity" you@example.org`.
    Exit status 1 when anything is wrong.
    """
    archive = get_archive(ctx, db_path, store_path)
    if not Path(archive.db_path).exists():
        raise ArchiveError(f"{archive.db_path}: no such catalogue")
    db = archive.db
    rows = None
    if sample is not None:
        try:
            rows = sample_rows(db, parse_share(sample))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--sample") from None
    show_bar = sys.stderr.isatty()
    total = store_bytes(db, rows) if show_bar else 0
    with click.progressbar(length=max(total, 1), label="Verifying", file=sys.stderr,
                           show_eta=True) if show_bar else NoBar() as bar:
        report = check(db, archive.store, advance=bar.update, rows=rows)
    record_run(db, report, rows)
    for finding in report.findings:
        click.echo(f"{finding.kind}: {finding.path}: {finding.detail}", err=True)
    click.echo(report.text())
    if not report.ok:
        ctx.exit(1)
