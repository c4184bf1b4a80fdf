"""Faces from the command line: detect them in older photos, list a photo's boxes, correct them."""

from __future__ import annotations

import sys

import click

from ingest.catalogue import faces
from ingest.catalogue.corrections import apply_changes
from ingest.catalogue.schema import transaction
from ingest.cli.common import NoBar, archive_options, get_archive
from ingest.cli.correcting import _who, who_option
from ingest.errors import ArchiveError
from ingest.importer.pipeline import default_jobs


@click.group(name="faces")
def faces_() -> None:
    """Faces in public images: detection, and archivists' corrections (audited)."""


@faces_.command(name="detect")
@click.option("--again", is_flag=True, help="Detect in every photo again (archivists' boxes and removals stay).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Worker processes [default: number of cores].")
@click.option("--edge", type=click.IntRange(256, 1600), default=None,
              help="Pixels on the long edge the detector sees: more finds smaller faces, slower [default: 512].")
@archive_options
@click.pass_context
def detect(ctx, again, jobs, edge, db_path, store_path):
    """Detect faces in photos that have no detection yet (imported before it existed, with
    --no-faces, or whose detection failed), from their stored web sizes."""
    from ingest.importer.faces import detect_stored
    from ingest.media.faces import DETECT_EDGE

    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    total = len(faces.photos_to_detect(db, again=again))
    bar = click.progressbar(length=total, label="Detecting faces", file=sys.stderr, show_eta=True, show_pos=True) \
        if sys.stderr.isatty() and total > 1 else NoBar()
    with bar:
        counts = detect_stored(db, archive.store, again=again, jobs=jobs or default_jobs(),
                               edge=edge or DETECT_EDGE, advance=lambda n: bar.update(n))
    click.echo(f"{counts['found']} with faces, {counts['none']} without, {counts['failed']} failed")
    if counts["failed"]:
        ctx.exit(1)


@faces_.command(name="list")
@click.argument("photo")
@archive_options
@click.pass_context
def list_(ctx, photo, db_path, store_path):
    """PHOTO's face boxes (x,y,w,h as fractions of the picture), with their ids."""
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    photo_id = archive.photo(photo)
    status, shown = db.execute("SELECT faces_status, faces_shown FROM photos WHERE id = ?", [photo_id]).fetchone()
    click.echo(f"photo {photo_id}: detection {status or 'not run'}; faces "
               f"{'may be shown' if shown else 'obscured' if faces.blurring(db) else 'shown (public-faces is show)'}")
    for b in faces.boxes(db, photo_id):
        by = f"{b.source}" + (f" {b.score:.2f}" if b.score is not None else "") + (f" by {b.who}" if b.who else "")
        click.echo(f"  box {b.id}: {','.join(f'{v:.4f}' for v in b.box)}  ({by}){'  removed' if b.removed else ''}")


@faces_.command(name="set")
@click.argument("photos", nargs=-1, required=True, metavar="PHOTO...")
@click.option("--show/--blur", "show", default=None,
              help="Faces may be shown in public (consent, public figures), or obscured again.")
@click.option("--add-box", "add", multiple=True, metavar="X,Y,W,H",
              help="A face the detector missed, as fractions of the picture (0.4,0.1,0.1,0.15) or percentages.")
@click.option("--remove-box", "remove", multiple=True, type=int, metavar="ID",
              help="A box that is no face (ids from `ingest faces list`).")
@who_option
@archive_options
@click.pass_context
def set_(ctx, photos, show, add, remove, who, db_path, store_path):
    """Correct PHOTO(s)' faces: consent, a missed face, a false box. Every change is audited
    (`ingest history`) and gives the photo new public URLs."""
    if show is None and not add and not remove:
        raise click.UsageError("say what to change (--show, --blur, --add-box, --remove-box); see --help")
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    ids = [archive.photo(ref) for ref in photos]
    if remove and len(ids) != 1:
        raise click.UsageError("--remove-box takes one photo (box ids belong to a photo)")
    try:
        boxes = [faces.parse_box(text) for text in add]
    except ArchiveError as e:
        raise click.BadParameter(str(e), param_hint="--add-box") from None
    name = _who(who)
    with transaction(db):
        if show is not None:
            for e in apply_changes(db, ids, {"faces_shown": int(show)}, who=name, via="cli"):
                click.echo(f"photo {e.photo_id}: faces {'may be shown' if e.new else 'obscured'}  (edit {e.id})")
        for photo_id in ids:
            for box in boxes:
                box_id = faces.add_box(db, photo_id, box, who=name, via="cli")
                click.echo(f"photo {photo_id}: box {box_id} added")
        for box_id in remove:
            faces.remove_box(db, ids[0], box_id, who=name, via="cli")
            click.echo(f"photo {ids[0]}: box {box_id} removed")
