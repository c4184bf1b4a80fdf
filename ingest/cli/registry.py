"""The registry of demonstrations: import, list, add, edit, merge."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.catalogue.corrections import edit_demonstration, merge_demonstrations, parse_changes
from ingest.catalogue.registry import check_date, import_registry, list_demos, upsert_demo
from ingest.catalogue.schema import transaction
from ingest.cli.common import archive_options, get_archive
from ingest.cli.correcting import _change, _who, force_option, who_option


@click.group()
def demos() -> None:
    """The registry of demonstrations that photos are matched to."""


@demos.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@archive_options
@click.pass_context
def demos_import(ctx, file, db_path, store_path):
    """Load FILE.yml, a list of {name, city, date} (date YYYY-MM-DD or YYYY-MM). Idempotent."""
    if not file.exists():
        raise click.ClickException(f"{file}: no such file")
    db = get_archive(ctx, db_path, store_path).db
    counts = import_registry(db, file)
    click.echo(f"{counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged")
    if (counts['added'] or counts['updated']) and db.execute("SELECT 1 FROM photos LIMIT 1").fetchone():
        click.echo("Run `ingest retag` to match the archive's photos against the new registry.", err=True)


@demos.command(name="list")
@archive_options
@click.pass_context
def demos_list(ctx, db_path, store_path):
    """List the registered demonstrations, newest first, with their photo counts."""
    for d in list_demos(get_archive(ctx, db_path, store_path).db):
        flag = " (provisional)" if d["provisional"] else ""
        click.echo(f"{d['date'] or '?':10}  {d['city'] or '?':14}  {d['photos']:5d}  {d['name'] or '(unnamed)'}{flag}")


@demos.command(name="add")
@click.option("--name", required=True, help="What people call it.")
@click.option("--city", required=True, help="Where it was.")
@click.option("--date", "date_", required=True, help="YYYY-MM-DD, or YYYY-MM if only the month is known.")
@archive_options
@click.pass_context
def demos_add(ctx, name, city, date_, db_path, store_path):
    """Register one demonstration."""
    try:
        date_ = check_date(date_)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--date") from None
    db = get_archive(ctx, db_path, store_path).db
    with transaction(db):
        demo_id, outcome = upsert_demo(db, {"name": name, "city": city, "date": date_})
    click.echo(f"{outcome}: demonstration {demo_id}")


@demos.command(name="edit")
@click.argument("demo")
@click.option("--name")
@click.option("--date", "date_", help="YYYY-MM-DD or YYYY-MM.")
@click.option("--city")
@click.option("--description")
@click.option("--url")
@force_option
@who_option
@archive_options
@click.pass_context
def demos_edit(ctx, demo, name, date_, city, description, url, force, who, db_path, store_path):
    """Rename, re-date or re-place DEMO (id, slug or name); naming a provisional group registers it.
    Re-importing the registry keeps what you set."""
    raw = {k: v for k, v in {"name": name, "date": date_, "city": city, "description": description,
                              "url": url}.items() if v is not None}
    if not raw:
        raise click.UsageError("say what to change (--name, --date, --city, --description, --url)")
    db = get_archive(ctx, db_path, store_path).db
    demo_id = parse_changes(db, {"demonstration": demo})["demonstration_id"]
    for e in edit_demonstration(db, demo_id, raw, who=_who(who), via="cli", override=force):
        click.echo(f"demonstration {demo_id}: {_change(db, e)}")


@demos.command(name="merge")
@click.argument("keep")
@click.argument("gone")
@force_option
@who_option
@archive_options
@click.pass_context
def demos_merge(ctx, keep, gone, force, who, db_path, store_path):
    """Move every photo of GONE to KEEP and remove GONE (both: id, slug or name)."""
    db = get_archive(ctx, db_path, store_path).db
    keep_id = parse_changes(db, {"demonstration": keep})["demonstration_id"]
    gone_id = parse_changes(db, {"demonstration": gone})["demonstration_id"]
    edits = merge_demonstrations(db, keep_id, gone_id, who=_who(who), via="cli", override=force)
    click.echo(f"{sum(1 for e in edits if e.photo_id)} photos moved to demonstration {keep_id}; "
               f"demonstration {gone_id} removed")
