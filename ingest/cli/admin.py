"""Running the archive: its settings and the accounts that may sign in."""

from __future__ import annotations

import click

from ingest.catalogue import settings
from ingest.catalogue.accounts import add_archivist, disable_archivist, list_archivists, remove_archivist
from ingest.catalogue.faces import settled
from ingest.catalogue.schema import transaction
from ingest.cli.common import archive_options, get_archive


@click.command(name="settings")
@click.argument("key", required=False)
@click.argument("value", required=False)
@archive_options
@click.option("--unset", is_flag=True, help="Remove KEY's value.")
@click.pass_context
def settings_(ctx, key, value, db_path, store_path, unset):
    """Show the archive's settings, or set KEY to VALUE (then `ingest retag` applies it).

    \b
    default-licence  licence (SPDX id) for photos whose file and import state none
    public-location  exact, city (default) or none: where the public gallery places photos
    public-faces     blur (default for new archives) or show: faces in public images
    title            the archive's name, the source in every credit line
    """
    db = get_archive(ctx, db_path, store_path).db
    if key is None:
        stored = settings.stored(db)
        for name, meaning in settings.SETTINGS.items():
            click.echo(f"{name} = {stored.get(name, '')}    # {meaning}")
        return
    if key not in settings.SETTINGS:
        raise click.BadParameter(f"unknown setting {key!r}; known: {', '.join(settings.SETTINGS)}", param_hint="KEY")
    if value is None and not unset:
        click.echo(settings.value(db, key) or "")
        return
    try:
        with transaction(db):
            value = settings.put(db, key, None if unset else value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="VALUE") from None
    click.echo(f"{key} = {value or ''}")
    if key == "default-licence" and db.execute("SELECT 1 FROM photos LIMIT 1").fetchone():
        click.echo("Run `ingest retag` to apply it to the photos already in the archive.", err=True)
    if key == "public-faces" and value == "blur":
        waiting = db.execute(f"SELECT count(*) FROM photos p WHERE NOT {settled('p')}").fetchone()[0]
        if waiting:
            are = "photos have" if waiting != 1 else "photo has"
            click.echo(f"{waiting} {are} no face detection yet, so not public: run `ingest faces detect`.", err=True)


@click.group()
def archivists() -> None:
    """Who may sign in to the gallery (/-/login) and correct photos there."""


@archivists.command(name="add")
@click.argument("name")
@click.password_option(help="Their password (asked for when not given; at least 10 characters).")
@archive_options
@click.pass_context
def archivists_add(ctx, name, password, db_path, store_path):
    """Add archivist NAME, or give them a new password. Only the hash is stored."""
    outcome = add_archivist(get_archive(ctx, db_path, store_path).db, name, password)
    click.echo(f"{outcome}: {name} (signs in at /-/login)")


@archivists.command(name="remove")
@click.argument("name")
@archive_options
@click.pass_context
def archivists_remove(ctx, name, db_path, store_path):
    """Remove archivist NAME: they can no longer sign in, and their sessions end at once (their past
    edits stay in the history)."""
    remove_archivist(get_archive(ctx, db_path, store_path).db, name)
    click.echo(f"removed: {name}")


@archivists.command(name="list")
@archive_options
@click.pass_context
def archivists_list(ctx, db_path, store_path):
    """The archivists who may sign in."""
    for name, added, disabled in list_archivists(get_archive(ctx, db_path, store_path).db):
        click.echo(f"{name}  (added {added}{f'; disabled {disabled}' if disabled else ''})")


@archivists.command(name="disable")
@click.argument("name")
@archive_options
@click.pass_context
def archivists_disable(ctx, name, db_path, store_path):
    """Stop NAME signing in and end their sessions at once, keeping the account and its history."""
    disable_archivist(get_archive(ctx, db_path, store_path).db, name)
    click.echo(f"disabled: {name} (signed out everywhere; `ingest archivists enable {name}` undoes it)")


@archivists.command(name="enable")
@click.argument("name")
@archive_options
@click.pass_context
def archivists_enable(ctx, name, db_path, store_path):
    """Let a disabled archivist NAME sign in again."""
    disable_archivist(get_archive(ctx, db_path, store_path).db, name, disabled=False)
    click.echo(f"enabled: {name}")
