"""What every subcommand shares: the archive options, the archive object, one error boundary, a quiet bar."""

from __future__ import annotations

import os
import sys
from importlib import import_module

import click
from click_default_group import DefaultGroup

from ingest.archive import DB_DEFAULT, STORE_DEFAULT, Archive
from ingest.errors import ArchiveError
from ingest.reference.licences import exact_licence


def display(path: str) -> str:
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


def exact_licence_param(text: str, param: str) -> str:
    """An SPDX id from what the user typed, or a usage error naming the option."""
    if not (found := exact_licence(text)):
        raise click.BadParameter(f"{text!r} is not an exact licence; use an SPDX id such as CC-BY-SA-4.0",
                                 param_hint=param)
    return found


class Group(DefaultGroup):
    """Loads each subcommand's module when it is named, and turns the project's errors into one
    clear line, never a traceback."""
    def __init__(self, *args, lazy: dict[str, str] | None = None, summaries: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.summaries = dict(summaries or {})   # name -> its help's first paragraph, for the list
        self._listing = False

    def _load(self, name: str | None) -> None:
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(import_module(f"ingest.cli.{module}"), attr), name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list in `--help` from the commands' summaries: listing them imports none of their
        modules (Datasette's alone takes a third of a second)."""
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: click.Context, cmd_name: str):
        if self._listing and cmd_name in self.summaries and cmd_name not in self.commands:
            return click.Command(cmd_name, help=self.summaries[cmd_name])
        self._load(cmd_name)
        if cmd_name not in self.commands:
            self._load(self.default_cmd_name)
        return super().get_command(ctx, cmd_name)

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


class NoBar:
    """Stands in for click's progress bar when stderr is not a terminal: silence."""
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    pos = 0

    def update(self, n: int, current_item: object = None) -> None:
        pass
