"""`ingest serve`: the gallery in Datasette. Its own module, so no other command loads Datasette
(or the web layer, which is the only one the CLI sits on top of for this command)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from datasette.cli import cli as datasette_cli

from ingest.cli.common import archive_options, get_archive
from ingest.web.compat import serve_arguments


@click.command()
@archive_options
@click.option("--metadata", "-m", type=click.Path(dir_okay=False), default=None,
              help="Datasette metadata [default: metadata.yml here, else the packaged one].")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "-p", type=int, default=8001, show_default=True)
@click.pass_context
def serve(ctx, db_path, store_path, metadata, host, port):
    """Browse the archive with Datasette (the database keeps its name: gallery.db is /gallery)."""
    archive = get_archive(ctx, db_path, store_path).require()
    archive.db  # migrate before serving
    public_url = os.environ.get("INGEST_PUBLIC_URL") or archive.public_url
    archive.close()
    meta = metadata or archive.metadata_path()
    os.environ["INGEST_STORE"] = str(Path(archive.store.root).resolve())
    args = ["datasette", "serve", archive.db_path, *serve_arguments(str(meta)), "-h", host, "-p", str(port)]
    name = Path(archive.db_path).stem
    click.echo(f"Serving {archive.db_path}: open http://{host}:{port}/{name}/photos (Ctrl-C to stop)", err=True)
    if not public_url:
        click.echo("No public address set: credit lines link root-relative and feeds are not cached publicly "
                   "(`ingest settings public-url https://...`; see README, Safety).", err=True)
    sys.argv = args
    datasette_cli.main(args=args[1:], prog_name="datasette")
