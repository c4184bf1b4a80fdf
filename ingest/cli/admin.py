"""Running the archive: its settings and the accounts that may sign in."""

from __future__ import annotations

import click

from ingest.catalogue import settings
from ingest.catalogue.accounts import (
    INVITE_DAYS,
    ROLES,
    accounts,
    add_account,
    create_invite,
    disable_archivist,
    list_accounts,
    remove_archivist,
    set_role,
)
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
    for line in settings.follow_up(db, key, value):
        click.echo(line, err=True)


def _account_commands(group: click.Group, *, with_roles: bool) -> click.Group:
    """The same commands under `ingest accounts` and, for archivists, its old name `ingest archivists`."""
    noun = "account" if with_roles else "archivist"

    @group.command(name="add")
    @click.argument("name")
    @click.password_option(help="Their password (asked for when not given; at least 10 characters).")
    @click.option("--role", type=click.Choice(ROLES), default=None, hidden=not with_roles,
                  help="photographer (uploads), archivist (reviews and publishes) or admin (also accounts and "
                       "settings) [default: archivist for a new account; an existing one keeps its role].")
    @archive_options
    @click.pass_context
    def add(ctx, name, password, role, db_path, store_path):
        """Add NAME, or give them a new password. Only the hash is stored."""
        outcome = add_account(get_archive(ctx, db_path, store_path).db, name, password, role)
        click.echo(f"{outcome}: {name}{f' ({role})' if role else ''} (signs in at /-/login)")

    @group.command(name="passwd")
    @click.argument("name")
    @click.password_option(help="The new password (asked for when not given; at least 10 characters).")
    @archive_options
    @click.pass_context
    def passwd(ctx, name, password, db_path, store_path):
        """Give NAME a new password (their sessions end; a disabled account is enabled)."""
        db = get_archive(ctx, db_path, store_path).db
        if name not in accounts(db):
            raise click.ClickException(f"{name!r}: no such {noun}")
        add_account(db, name, password)
        click.echo(f"new password: {name} (signed out everywhere)")

    @group.command(name="remove")
    @click.argument("name")
    @archive_options
    @click.pass_context
    def remove(ctx, name, db_path, store_path):
        """Remove NAME: they can no longer sign in, and their sessions end at once (their past
        edits and uploads stay in the history)."""
        remove_archivist(get_archive(ctx, db_path, store_path).db, name)
        click.echo(f"removed: {name}")

    @group.command(name="list")
    @archive_options
    @click.pass_context
    def list_(ctx, db_path, store_path):
        """The accounts that may sign in, with their roles."""
        for name, role, added, disabled in list_accounts(get_archive(ctx, db_path, store_path).db):
            when = f"(added {added}{f'; disabled {disabled}' if disabled else ''})"
            if with_roles:
                click.echo(f"{name}  {role}  {when}")
            elif role != "photographer":  # the old list, as it was: who may edit
                click.echo(f"{name}  {when}")

    @group.command(name="disable")
    @click.argument("name")
    @archive_options
    @click.pass_context
    def disable(ctx, name, db_path, store_path):
        """Stop NAME signing in and end their sessions at once, keeping the account and its history."""
        disable_archivist(get_archive(ctx, db_path, store_path).db, name)
        click.echo(f"disabled: {name} (signed out everywhere; `ingest {group.name} enable {name}` undoes it)")

    @group.command(name="enable")
    @click.argument("name")
    @archive_options
    @click.pass_context
    def enable(ctx, name, db_path, store_path):
        """Let a disabled account NAME sign in again."""
        disable_archivist(get_archive(ctx, db_path, store_path).db, name, disabled=False)
        click.echo(f"enabled: {name}")

    if with_roles:
        @group.command(name="role")
        @click.argument("name")
        @click.argument("role", type=click.Choice(ROLES))
        @archive_options
        @click.pass_context
        def role_(ctx, name, role, db_path, store_path):
            """Give NAME another role (their sessions end)."""
            set_role(get_archive(ctx, db_path, store_path).db, name, role)
            click.echo(f"{name} is now {'an' if role[0] in 'aeiou' else 'a'} {role} (signed out everywhere)")

        @group.command(name="invite")
        @click.option("--days", type=click.IntRange(1, 90), default=INVITE_DAYS, show_default=True,
                      help="How long the invitation may be used.")
        @click.option("--by", default="admin", show_default=True, help="Who invites (recorded with the invitation).")
        @archive_options
        @click.pass_context
        def invite(ctx, days, by, db_path, store_path):
            """A one-time link that makes one photographer account: /-/gallery/invite/TOKEN (shown only now)."""
            archive = get_archive(ctx, db_path, store_path)
            token = create_invite(archive.db, by, days)
            click.echo(f"{(archive.public_url or '')}/-/gallery/invite/{token}  (one account, within {days} days)")

    return group


@click.group(name="accounts")
def accounts_() -> None:
    """Who may sign in to the gallery (/-/login): photographers, archivists and admins."""


@click.group(name="archivists")
def archivists() -> None:
    """Who may sign in to the gallery (/-/login) and correct photos there (`ingest accounts` with roles)."""


_account_commands(accounts_, with_roles=True)
_account_commands(archivists, with_roles=False)
