"""Copies that leave the archive with their licence: export and sidecars."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.catalogue import settings
from ingest.cli.common import archive_options, get_archive
from ingest.media.store import write_atomic
from ingest.outputs.export import export, zip_bundle
from ingest.outputs.sidecars import plan, select_photos, write, write_beside


def _pages(base_url: str | None, archive):
    """Each photo's public page, from --base-url (or INGEST_PUBLIC_URL), else the archive's
    public-url setting; None when neither is set."""
    base = base_url or archive.public_url
    if not base:
        return None
    try:
        base = settings.public_url(base)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--base-url") from None
    return lambda i: f"{base}/gallery/photos/{i}"


@click.command(name="export")
@click.argument("photos", nargs=-1, required=True)
@archive_options
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write the copies into.")
@click.option("--size", type=click.Choice(["original", "web"]), default="original", show_default=True)
@click.option("--zip", "as_zip", is_flag=True, help="Write one ZIP with a CREDITS.txt instead of files.")
@click.option("--base-url", envvar="INGEST_PUBLIC_URL", default=None,
              help="The gallery's public address, for the credit line's source link "
                   "[$INGEST_PUBLIC_URL; default: the public-url setting].")
@click.option("--sidecars", is_flag=True, help="Also write each copy's XMP sidecar beside it (see `ingest sidecars`).")
@click.pass_context
def export_(ctx, photos, db_path, store_path, target, size, as_zip, base_url, sidecars):
    """Write licence-carrying copies of PHOTOS (ids, or sha256 prefixes).

    Each copy carries its creator, licence and credit line in XMP and no private metadata
    (no GPS, serial numbers or source paths); the stored originals are not touched.
    """
    if sidecars and as_zip:
        raise click.BadParameter("sidecars go beside files, not into a ZIP", param_hint="--sidecars")
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    ids = [archive.photo(ref) for ref in photos]
    page = _pages(base_url, archive)
    files = export(db, archive.store, ids, size, archive.name, page, allow_withheld=True)
    target.mkdir(parents=True, exist_ok=True)
    if as_zip:
        path = target / f"photos-{len(files)}.zip"
        write_atomic(path, zip_bundle(files, archive.name))
        click.echo(f"{path} ({len(files)} photos, with CREDITS.txt)")
        return
    for photo_id, (name, data, line) in zip(ids, files):
        write_atomic(target / name, data)
        click.echo(f"{target / name}\n  {line.text}")
        if sidecars:
            click.echo(f"{write_beside(db, target / name, photo_id, archive.name, page and page(photo_id))}")


@click.command(name="sidecars")
@click.argument("photos", nargs=-1, metavar="[PHOTO]...")
@archive_options
@click.option("--to", "--out", "target", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              metavar="DIR", show_default=True, help="The folder `ingest export --to` wrote the copies into.")
@click.option("--all", "every", is_flag=True, help="Every photo in the archive.")
@click.option("--demo", metavar="NAME", help="Every photo of this demonstration (its id, slug or name).")
@click.option("--size", type=click.Choice(["original", "web"]), default="original", show_default=True,
              help="Name a sidecar for this size of copy when DIR holds no copy of the photo yet.")
@click.option("--naming", type=click.Choice(["digikam", "lightroom"]), default="digikam", show_default=True,
              help="photo.jpg.xmp (digiKam, darktable) or photo.xmp (Lightroom, Bridge).")
@click.option("--with-gps/--no-gps", "with_gps", default=None,
              help="Write GPS, or never [default: only when the public-location setting is exact].")
@click.option("--include-withheld", is_flag=True, help="Withheld photos too (a private backup).")
@click.option("--overwrite", is_flag=True, help="Replace sidecars another program wrote or edited.")
@click.option("--base-url", envvar="INGEST_PUBLIC_URL", default=None,
              help="The gallery's public address, for the credit line's source link "
                   "[$INGEST_PUBLIC_URL; default: the public-url setting].")
@click.pass_context
def sidecars_(ctx, photos, db_path, store_path, target, every, demo, size, naming, with_gps, include_withheld,
              overwrite, base_url):
    """Write XMP sidecars with PHOTOS' current, corrected metadata beside their exported copies.

    digiKam, darktable and exiftool read them; sidecars this command wrote are refreshed, others
    are kept unless --overwrite. No serial numbers, owner names or source paths; GPS per --with-gps.
    """
    if not (photos or every or demo):
        raise click.UsageError("say which photos: PHOTO..., --demo NAME or --all")
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    ids, named = select_photos(db, photos, every=every, demo=demo)
    page = _pages(base_url, archive)
    result = plan(db, ids, target, archive.name, page, size=size, naming=naming, named=named,
                  include_withheld=include_withheld, with_gps=with_gps)
    write(result, overwrite=overwrite)
    for sidecar in result.sidecars:
        click.echo(f"{sidecar.path}{'' if sidecar.copy.exists() else '  (no copy beside it yet)'}")
    click.echo(result.text(), err=True)
