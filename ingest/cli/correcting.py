"""Archivists' corrections from the command line: fix, history, undo, the CSV round trip."""

from __future__ import annotations

import getpass
import os

import click

from ingest.catalogue import review as review_queue
from ingest.catalogue.corrections import BY_COLUMN, apply_changes, decide, describe, parse_changes, undone_ids
from ingest.catalogue.corrections import history as photo_history
from ingest.catalogue.corrections import undo as undo_edit
from ingest.catalogue.csv_roundtrip import export_csv, import_csv
from ingest.catalogue.schema import transaction
from ingest.cli.common import archive_options, get_archive
from ingest.errors import ArchiveError
from ingest.importer.retag import follow_corrections


def _who(who: str | None) -> str:
    if who:
        return who
    try:
        return os.environ.get("INGEST_ARCHIVIST") or getpass.getuser()
    except (KeyError, OSError):
        return "cli"


force_option = click.option("--force", is_flag=True,
                            help="Save even where a photo's date or city contradicts its demonstration's.")
who_option = click.option("--who", default=None, metavar="NAME",
                          help="Who is making the change, for the audit trail [default: $INGEST_ARCHIVIST or your login].")


def _show(value) -> str:
    return "(empty)" if value in (None, "") else repr(value)


def _change(db, e) -> str:
    name = BY_COLUMN[e.field].name if e.field in BY_COLUMN else e.field
    return f"{name} {_show(describe(db, e.field, e.old))} -> {_show(describe(db, e.field, e.new))}"


@click.command()
@click.argument("photos", nargs=-1, required=True, metavar="PHOTO...")
@click.option("--title")
@click.option("--caption")
@click.option("--creator")
@click.option("--keywords", help="Comma-separated.")
@click.option("--demo", help="A demonstration's id, slug or name.")
@click.option("--city", help="A city's name (in English, or 'Name, CC'), or its id.")
@click.option("--date", "date_", help="YYYY-MM-DD, or a date and time such as 2024-11-02T14:30:00+00:00.")
@click.option("--licence", help="SPDX id, e.g. CC-BY-SA-4.0.")
@click.option("--withhold/--publish", "withhold", default=None,
              help="Withhold from the public gallery, or approve it for publication.")
@click.option("--looks-right", is_flag=True, help="Answer the photo's review flag: the machine's doubts are unfounded.")
@force_option
@who_option
@archive_options
@click.pass_context
def fix(ctx, photos, title, caption, creator, keywords, demo, city, date_, licence, withhold, looks_right, force, who,
        db_path, store_path):
    """Correct PHOTO(s): an id, a sha256, or its first 6+ characters. An empty value ("") clears a field.

    Corrections are audited (`ingest history`), can be undone (`ingest undo`), and are never
    overwritten by re-importing or `ingest retag`."""
    raw = {k: v for k, v in {"title": title, "caption": caption, "creator": creator, "keywords": keywords,
                              "demonstration": demo, "city": city, "licence": licence}.items() if v is not None}
    if date_ is not None:
        raw["taken_at" if "T" in date_ or " " in date_.strip() else "date"] = date_
    if withhold is not None:
        raw["withheld"] = "yes" if withhold else "no"
    if looks_right:
        raw["needs_review"] = "no"
    if not raw:
        raise click.UsageError("say what to change (e.g. --title, --city, --withhold); see --help")
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    ids = [archive.photo(ref) for ref in photos]
    with transaction(db):  # a city the value adds is kept only if the whole change is
        edits = apply_changes(db, ids, parse_changes(db, raw), who=_who(who), via="cli", override=force)
        follow_corrections(db, edits)
    for e in edits:
        click.echo(f"photo {e.photo_id}: {_change(db, e)}  (edit {e.id})")
    click.echo(f"{len(edits)} change{'s' if len(edits) != 1 else ''} on {len({e.photo_id for e in edits})} "
               f"of {len(ids)} photo{'s' if len(ids) != 1 else ''}", err=True)


@click.command()
@click.argument("photo")
@archive_options
@click.pass_context
def history(ctx, photo, db_path, store_path):
    """Every change archivists made to PHOTO, newest first."""
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    undone = undone_ids(db)
    for e in photo_history(db, archive.photo(photo)):
        mark = " (undone)" if e.id in undone else ""
        note = f" undoes {e.undoes}" if e.undoes else ""
        click.echo(f"{e.id:6d}  {e.at}  {e.who} via {e.via}{note}: {_change(db, e)}{mark}")


@click.command()
@click.argument("edit", type=int)
@click.option("--only", is_flag=True, help="Undo EDIT alone, not the edits made together with it.")
@who_option
@archive_options
@click.pass_context
def undo(ctx, edit, only, who, db_path, store_path):
    """Undo EDIT (a number from `ingest history`) and the edits made with it (one `fix` on several
    photos, one CSV import, one batch edit); itself an audited change."""
    db = get_archive(ctx, db_path, store_path).db
    with transaction(db):
        made = undo_edit(db, edit, who=_who(who), whole_batch=not only)
        follow_corrections(db, made)
    for e in made:
        click.echo(f"photo {e.photo_id}: {_change(db, e)}  (edit {e.id})")


@click.command(name="export-csv")
@click.option("-o", "--out", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="File to write [default: standard output].")
@click.option("--demo", help="Only this demonstration's photos (id, slug or name).")
@click.option("--needs-review", is_flag=True, help="Only photos marked for review.")
@archive_options
@click.pass_context
def export_csv_(ctx, out, demo, needs_review, db_path, store_path):
    """Write the editable fields as CSV, for a spreadsheet; `ingest import-csv` reads it back."""
    db = get_archive(ctx, db_path, store_path).db
    where, params = [], []
    if demo:
        where.append("p.demonstration_id = ?")
        params.append(parse_changes(db, {"demonstration": demo})["demonstration_id"])
    if needs_review:
        where.append("p.needs_review = 1")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with click.open_file(out, "w", encoding="utf-8") as f:
        count = export_csv(db, f, clause, params)
    click.echo(f"{count} photos written to {'standard output' if out == '-' else out}", err=True)


@click.command(name="import-csv")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--apply", "apply_", is_flag=True, help="Make the changes (without it, only show them).")
@force_option
@who_option
@archive_options
@click.pass_context
def import_csv_(ctx, file, apply_, force, who, db_path, store_path):
    """Show what FILE (from `ingest export-csv`, edited) would change; with --apply, change it.

    Only cells that differ from the catalogue are changed. If any row is invalid, or changes a field
    someone edited since the file was written, nothing is changed and every such line is listed."""
    try:
        with click.open_file(file, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{file}: cannot read it as UTF-8 text ({e})") from None
    db = get_archive(ctx, db_path, store_path).db
    plan = import_csv(db, text, "-" if file == "-" else file, who=_who(who), apply=apply_, override=force)
    if plan.errors:
        for line in plan.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"{file}: {len(plan.errors)} problem{'s' if len(plan.errors) != 1 else ''}; "
                                   "nothing was changed")
    if apply_:
        follow_corrections(db, plan.edits)
    for c in plan.changes:
        click.echo(f"line {c.line}: photo {c.photo_id}: {c.field} {_show(c.old)} -> {_show(c.new)}")
    verb = "changed" if apply_ else "would change (run again with --apply)"
    click.echo(f"{len(plan.changes)} cell{'s' if len(plan.changes) != 1 else ''} {verb}", err=True)


@click.command(name="review")
@click.option("--show", type=click.Choice(list(review_queue.QUEUES)), default="all", show_default=True,
              help="Which photos: waiting for approval, flagged by the machine, or both.")
@click.option("--approve", "decision", flag_value="approve", help="Approve PHOTO(s): publish them (if licensed and credited).")
@click.option("--withhold", "decision", flag_value="withhold", help="Withhold PHOTO(s) from the public gallery.")
@click.option("--looks-right", "decision", flag_value="looks-right", help="Answer PHOTO(s)' review flags.")
@click.argument("photos", nargs=-1, metavar="[PHOTO...]")
@who_option
@archive_options
@click.pass_context
def review_(ctx, show, decision, photos, who, db_path, store_path):
    """List the review queue (photos waiting for approval, or flagged), or decide on PHOTO(s).

    The same queue archivists work through on the web at /-/gallery/review. Every decision is an
    audited edit (`ingest history`, `ingest undo`)."""
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    if decision or photos:
        if not (decision and photos):
            raise click.UsageError("give PHOTO(s) and one of --approve, --withhold, --looks-right")
        ids = [archive.photo(ref) for ref in photos]
        edits = decide(db, ids, decision, who=_who(who), via="cli")
        click.echo(f"{len(ids)} photo{'s' if len(ids) != 1 else ''}: {decision} ({len(edits)} changes)", err=True)
        return
    counts = review_queue.counts(db)
    after = 0
    while page := review_queue.queue_page(db, show, after, 500):
        for p in page:
            why = "; ".join(p["waiting"] + p["flags"] + (["withheld"] if p["state"] == "withheld" else []))
            click.echo(f"{p['id']:6d}  {p['state']:8s}  {p['filename'] or ''}: {why}")
        after = page[-1]["id"]
    click.echo(f"{counts['waiting']} waiting for approval, {counts['flagged']} flagged "
               f"({counts['all']} in the queue)", err=True)
