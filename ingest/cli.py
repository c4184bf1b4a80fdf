"""The `ingest` command: thin click wrappers around plain functions.

`ingest PATH...` is the default command (`ingest import PATH...` is the same); subcommands manage
the registry, re-tag, verify and serve. Exit status: 0 when every file was imported or already
there, 1 when any file was not imported (the rest were), 2 for usage errors, 130 on Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from click_default_group import DefaultGroup

from . import __version__
from .errors import ArchiveError
from .store import Store

DB_DEFAULT = "gallery.db"
STORE_DEFAULT = "archive"


class Archive:
    """The catalogue and the store, opened once per command and closed when it ends."""

    def __init__(self, db_path: str, store_path: str):
        self.db_path = db_path
        self.store = Store(store_path)
        self._db = None

    @property
    def db(self):
        if self._db is None:
            from .db import connect

            self._db = connect(self.db_path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None


def _display(path: str) -> str:
    """Paths relative to where the user stands, when they are below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def archive_options(f):
    """--db/--store on every subcommand too, so they work before or after the command name."""
    f = click.option("--store", "store_path", type=click.Path(file_okay=False), default=None,
                     help=f"Photo store folder [default: {STORE_DEFAULT}, or $INGEST_STORE].")(f)
    f = click.option("--db", "db_path", type=click.Path(dir_okay=False), default=None,
                     help=f"Catalogue database [default: {DB_DEFAULT}, or $INGEST_DB].")(f)
    return f


def get_archive(ctx: click.Context, db_path: str | None, store_path: str | None) -> Archive:
    root = ctx.find_root()
    archive = Archive(db_path or root.params.get("db_path") or DB_DEFAULT,
                      store_path or root.params.get("store_path") or STORE_DEFAULT)
    ctx.call_on_close(archive.close)
    return archive


class Group(DefaultGroup):
    """Turns the project's errors into one clear line, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArchiveError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted: what was imported so far is kept; run the same command again to finish.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except BrokenPipeError:  # `ingest demos list | head`: the reader has gone, so have we
            sys.stderr.close()
            sys.exit(0)
        except Exception as e:  # a bug: one line for the user, the traceback only on request
            if isinstance(e, OSError) and e.filename is not None:  # a file or folder the user named
                raise click.ClickException(f"{e.filename}: {e.strerror or e}") from None
            if os.environ.get("INGEST_DEBUG"):
                raise
            raise click.ClickException(
                f"internal error ({type(e).__name__}: {e}); set INGEST_DEBUG=1 for details and please report it"
            ) from None


@click.group(cls=Group, default="import", default_if_no_args=False,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", envvar="INGEST_DB", type=click.Path(dir_okay=False), default=None,
              help=f"Catalogue database [default: {DB_DEFAULT}].")
@click.option("--store", "store_path", envvar="INGEST_STORE", type=click.Path(file_okay=False), default=None,
              help=f"Photo store folder [default: {STORE_DEFAULT}].")
@click.version_option(__version__, prog_name="ingest")
def main(db_path: str | None, store_path: str | None) -> None:
    """Import demonstration photos into a Creative Commons archive and publish it.

    \b
    ingest PATH...            import files and folders (same as `ingest import`)
    ingest demos import FILE  load the registry of demonstrations
    ingest serve              browse the archive with Datasette
    """


@main.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@archive_options
@click.option("--licence", "--license", "licence", metavar="SPDX",
              help="Licence for files that state none, e.g. CC-BY-SA-4.0.")
@click.option("--creator", metavar="NAME", help="Creator for files that name none.")
@click.option("--demo", metavar="NAME", help="Tag every file with this demonstration.")
@click.option("--city", metavar="NAME", help="Tag every file with this city.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes for decoding and hashing [default: number of cores].")
@click.option("--dry-run", "-n", is_flag=True, help="Read and report; write nothing.")
@click.option("--max-megapixels", type=click.IntRange(1, 2000), default=250, show_default=True,
              help="Refuse images larger than this (decompression bombs).")
@click.option("--timeout", type=click.IntRange(1, 3600), default=120, show_default=True,
              help="Seconds allowed per file.")
@click.pass_context
def import_(ctx, paths, db_path, store_path, licence, creator, demo, city, jobs, dry_run, max_megapixels, timeout):
    """Import photos from PATHS (files and folders, recursively).

    Files are recognised by their content, stored once by their SHA-256 in the store, and tagged
    from their EXIF, XMP (embedded and sidecar) and IPTC metadata. Unchanged files are skipped.
    Each file that cannot be imported gets one line on stderr; the rest go on. Exit status is 1
    when any file was not imported.
    """
    from .pipeline import default_jobs, run_ingest
    from .resolve import Options

    if licence:
        from .cli_more import _exact_licence

        licence = _exact_licence(licence, "--licence")
    archive = get_archive(ctx, db_path, store_path)
    if dry_run and not Path(archive.db_path).exists():
        archive.db_path = ":memory:"
    options = Options(licence=licence, creator=creator, demo=demo, city=city)
    from .scan import scan

    show_bar = sys.stderr.isatty()
    total = sum(1 for _ in scan(paths)) if show_bar else 0  # counted only for the bar's ETA
    show_bar = show_bar and total > 1

    def report(path: str, kind: str, message: str) -> None:
        click.echo(f"{_display(path)}: {message}", err=True)

    started = time.monotonic()

    def rate(done: int | None) -> str:
        return f"{done / max(time.monotonic() - started, 1e-3):.0f} files/s" if done else ""

    with click.progressbar(length=total, label="Importing", file=sys.stderr, show_eta=True, show_pos=True,
                           item_show_func=rate) if show_bar else NoBar() as bar:
        summary = run_ingest(archive.db, archive.store, list(paths), options, jobs=jobs or default_jobs(),
                             dry_run=dry_run, max_pixels=max_megapixels * 1_000_000, timeout=timeout,
                             report=report, advance=lambda n: bar.update(n, bar.pos + n))
    click.echo(summary.text())
    if summary.problems:
        ctx.exit(1)


class NoBar:
    """Stands in for click's progress bar when stderr is not a terminal: silence."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    pos = 0

    def update(self, n: int, current_item: object = None) -> None:
        pass


from .cli_fix import register as register_fixes  # noqa: E402
from .cli_more import register  # noqa: E402  (subcommands live beside, to keep this file small)

register(main)
register_fixes(main)
