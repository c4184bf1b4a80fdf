"""`ingest publish [DIR]`: the public copy beside the catalogue, or a bundle for other servers."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from ingest.catalogue import settings
from ingest.catalogue.public_copy import persisted_path, publish
from ingest.catalogue.review import ARCHIVISTS_QUERIES
from ingest.cli.common import NoBar, archive_options, get_archive
from ingest.outputs.bundle import PURGE, publish_bundle


@click.command(name="publish")
@click.argument("folder", required=False, metavar="[DIR]", type=click.Path(file_okay=False, path_type=Path))
@archive_options
@click.option("--rebuild", is_flag=True, help="Build the public copy whole instead of applying what changed.")
@click.option("--originals", is_flag=True,
              help="With DIR: also licence-carrying originals, as the gallery's downloads make them (large).")
@click.option("--base-url", envvar="INGEST_PUBLIC_URL", default=None,
              help="The bundle's public address, for absolute URLs in the purge list "
                   "[$INGEST_PUBLIC_URL; default: the public-url setting].")
@click.pass_context
def publish_(ctx, folder, db_path, store_path, rebuild, originals, base_url):
    """Bring the public copy up to date; with DIR, write the public side as a bundle.

    Without DIR: the copy the gallery serves (gallery.public.db beside gallery.db), which `ingest
    serve` also keeps up to date. With DIR: the public copy, its public images (named by rendition
    token), metadata.yml, settings.json, manifest.json and purge.txt (the URLs a CDN must forget),
    for `datasette serve DIR` on any number of servers. A second run writes only what changed.
    """
    archive = get_archive(ctx, db_path, store_path).require()
    db = archive.db  # migrated before publishing
    if folder is None:
        count = publish(archive.db_path, persisted_path(archive.db_path), rebuild=rebuild)
        click.echo(f"{persisted_path(archive.db_path)}: {count} public photos")
        return
    base = base_url or archive.public_url
    if base:
        try:
            base = settings.public_url(base)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--base-url") from None
    total = db.execute("SELECT count(*) FROM photos WHERE state = 'public'").fetchone()[0]
    metadata = yaml.safe_load(archive.metadata_path().read_text(encoding="utf-8")) or {}
    show_bar = sys.stderr.isatty() and total > 1
    with click.progressbar(length=total, label="Publishing", file=sys.stderr, show_eta=True) \
            if show_bar else NoBar() as bar:
        report = publish_bundle(archive.db_path, archive.store, folder, metadata, closed_queries=ARCHIVISTS_QUERIES,
                                rebuild=rebuild, base_url=base, originals=archive.name if originals else None, title=archive.name,
                                progress=bar.update)
    for problem in report.problems[:20]:
        click.echo(f"{problem}: its images are not in the bundle", err=True)
    if len(report.problems) > 20:
        click.echo(f"... and {len(report.problems) - 20} more photos without images (`ingest verify`)", err=True)
    click.echo(f"{folder}: {report.photos} public photos, {report.written} written, {report.removed} removed"
               f"{' (rebuilt)' if report.rebuilt else ''}; {len(report.purge)} URLs to purge in {folder / PURGE}")
