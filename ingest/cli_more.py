"""Subcommands: the demonstrations registry, retag and serve."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .cli import NoBar, archive_options, get_archive
from .errors import ArchiveError


@click.group()
def demos() -> None:
    """The registry of demonstrations that photos are matched to."""


@demos.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@archive_options
@click.pass_context
def demos_import(ctx, file, db_path, store_path):
    """Load FILE.yml, a list of {name, city, date} (date YYYY-MM-DD or YYYY-MM). Idempotent."""
    from .demos import import_registry

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
    from .demos import list_demos

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
    from .db import transaction
    from .demos import check_date, upsert_demo

    try:
        date_ = check_date(date_)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--date") from None
    db = get_archive(ctx, db_path, store_path).db
    with transaction(db):
        demo_id, outcome = upsert_demo(db, {"name": name, "city": city, "date": date_})
    click.echo(f"{outcome}: demonstration {demo_id}")


@click.command()
@archive_options
@click.pass_context
def retag(ctx, db_path, store_path):
    """Re-run tagging over the archive from stored metadata, without re-reading files.

    Values an archivist corrected are never changed.
    """
    from .retag import retag_all

    db = get_archive(ctx, db_path, store_path).db
    changed, total = retag_all(db)
    click.echo(f"{changed} of {total} photos changed")


@click.command()
@archive_options
@click.option("--metadata", "-m", type=click.Path(dir_okay=False), default=None,
              help="Datasette metadata [default: metadata.yml here, else the packaged one].")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "-p", type=int, default=8001, show_default=True)
@click.pass_context
def serve(ctx, db_path, store_path, metadata, host, port):
    """Browse the archive with Datasette (the database keeps its name: gallery.db is /gallery)."""
    archive = get_archive(ctx, db_path, store_path)
    if not Path(archive.db_path).exists():
        raise ArchiveError(f"{archive.db_path}: no such catalogue (run `ingest PATH...` first)")
    archive.db  # migrate before serving
    archive.close()
    from .web.compat import serve_arguments
    from .web.plugin import metadata_path

    meta = metadata or metadata_path()
    os.environ["INGEST_STORE"] = str(Path(archive.store.root).resolve())
    args = ["datasette", "serve", archive.db_path, *serve_arguments(str(meta)), "-h", host, "-p", str(port)]
    name = Path(archive.db_path).stem
    click.echo(f"Serving {archive.db_path}: open http://{host}:{port}/{name}/photos (Ctrl-C to stop)", err=True)
    from datasette.cli import cli as datasette_cli

    sys.argv = args
    datasette_cli.main(args=args[1:], prog_name="datasette")


@click.command(name="export")
@click.argument("photos", nargs=-1, required=True)
@archive_options
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write the copies into.")
@click.option("--size", type=click.Choice(["original", "web"]), default="original", show_default=True)
@click.option("--zip", "as_zip", is_flag=True, help="Write one ZIP with a CREDITS.txt instead of files.")
@click.option("--base-url", envvar="INGEST_PUBLIC_URL", default=None,
              help="The gallery's public address, for the credit line's source link [$INGEST_PUBLIC_URL].")
@click.option("--sidecars", is_flag=True, help="Also write each copy's XMP sidecar beside it (see `ingest sidecars`).")
@click.pass_context
def export_(ctx, photos, db_path, store_path, target, size, as_zip, base_url, sidecars):
    """Write licence-carrying copies of PHOTOS (ids, or sha256 prefixes).

    Each copy carries its creator, licence and credit line in XMP and no private metadata
    (no GPS, serial numbers or source paths); the stored originals are not touched.
    """
    from .downloads import export, zip_bundle
    from .record import find_photo
    from .store import write_atomic
    from .web.plugin import archive_name

    if sidecars and as_zip:
        raise click.BadParameter("sidecars go beside files, not into a ZIP", param_hint="--sidecars")
    archive = get_archive(ctx, db_path, store_path)
    db = archive.db
    ids = [find_photo(db, ref) for ref in photos]
    page = (lambda i: f"{base_url.rstrip('/')}/gallery/photos/{i}") if base_url else None
    files = export(db, archive.store, ids, size, archive_name(), page, allow_withheld=True)
    target.mkdir(parents=True, exist_ok=True)
    if as_zip:
        path = target / f"photos-{len(files)}.zip"
        write_atomic(path, zip_bundle(files, archive_name()))
        click.echo(f"{path} ({len(files)} photos, with CREDITS.txt)")
        return
    for photo_id, (name, data, line) in zip(ids, files):
        write_atomic(target / name, data)
        click.echo(f"{target / name}\n  {line.text}")
        if sidecars:
            from .sidecars import write_beside

            click.echo(f"{write_beside(db, target / name, photo_id, archive_name(), page and page(photo_id))}")


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
              help="The gallery's public address, for the credit line's source link [$INGEST_PUBLIC_URL].")
@click.pass_context
def sidecars_(ctx, photos, db_path, store_path, target, every, demo, size, naming, with_gps, include_withheld,
              overwrite, base_url):
    """Write XMP sidecars with PHOTOS' current, corrected metadata beside their exported copies.

    digiKam, darktable and exiftool read them; sidecars this command wrote are refreshed, others
    are kept unless --overwrite. No serial numbers, owner names or source paths; GPS per --with-gps.
    """
    from .sidecars import plan, select_photos, write
    from .web.plugin import archive_name

    if not (photos or every or demo):
        raise click.UsageError("say which photos: PHOTO..., --demo NAME or --all")
    db = get_archive(ctx, db_path, store_path).db
    ids, named = select_photos(db, photos, every=every, demo=demo)
    page = (lambda i: f"{base_url.rstrip('/')}/gallery/photos/{i}") if base_url else None
    result = plan(db, ids, target, archive_name(), page, size=size, naming=naming, named=named,
                  include_withheld=include_withheld, with_gps=with_gps)
    write(result, overwrite=overwrite)
    for sidecar in result.sidecars:
        click.echo(f"{sidecar.path}{'' if sidecar.copy.exists() else '  (no copy beside it yet)'}")
    click.echo(result.text(), err=True)


@click.command()
@archive_options
@click.pass_context
def verify(ctx, db_path, store_path):
    """Re-hash the store against the catalogue: report missing, corrupt and orphan files.

    Read-only and safe beside a running ingest or gallery: run it from cron, e.g.
    `0 3 * * 0 cd /srv/archive && ingest verify || mail -s "archive fixity" you@example.org`.
    Exit status 1 when anything is wrong.
    """
    from .verify import store_bytes, verify as check

    archive = get_archive(ctx, db_path, store_path)
    if not Path(archive.db_path).exists():
        raise ArchiveError(f"{archive.db_path}: no such catalogue")
    db = archive.db
    show_bar = sys.stderr.isatty()
    total = store_bytes(db) if show_bar else 0
    with click.progressbar(length=max(total, 1), label="Verifying", file=sys.stderr,
                           show_eta=True) if show_bar else NoBar() as bar:
        report = check(db, archive.store, advance=bar.update)
    for finding in report.findings:
        click.echo(f"{finding.kind}: {finding.path}: {finding.detail}", err=True)
    click.echo(report.text())
    if not report.ok:
        ctx.exit(1)


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
    """
    from .db import PUBLIC_LOCATIONS, SETTINGS, transaction

    db = get_archive(ctx, db_path, store_path).db
    if key is None:
        stored = dict(db.execute("SELECT key, value FROM settings").fetchall())
        for name, meaning in SETTINGS.items():
            click.echo(f"{name} = {stored.get(name, '')}    # {meaning}")
        return
    if key not in SETTINGS:
        raise click.BadParameter(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}", param_hint="KEY")
    if value is None and not unset:
        row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        click.echo(row[0] if row else "")
        return
    if key == "default-licence" and value is not None:
        value = _exact_licence(value, "VALUE")
    if key == "public-location" and value is not None and value not in PUBLIC_LOCATIONS:
        raise click.BadParameter(f"{value!r}: public-location is one of {', '.join(PUBLIC_LOCATIONS)}",
                                 param_hint="VALUE")
    with transaction(db):
        if unset:
            db.conn.execute("DELETE FROM settings WHERE key = ?", [key])
        else:
            db.conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])
    click.echo(f"{key} = {'' if unset else value}")
    if key == "default-licence" and db.execute("SELECT 1 FROM photos LIMIT 1").fetchone():
        click.echo("Run `ingest retag` to apply it to the photos already in the archive.", err=True)


def _exact_licence(text: str, param: str) -> str:
    from .licences import catalogue, parse_licence

    known = {lic.id.lower(): lic.id for lic in catalogue()}
    found = known.get(text.lower()) or parse_licence(text)
    if not found:
        raise click.BadParameter(f"{text!r} is not an exact licence; use an SPDX id such as CC-BY-SA-4.0",
                                 param_hint=param)
    return found


def register(main: click.Group) -> None:
    main.add_command(settings_)
    main.add_command(verify)
    main.add_command(export_)
    main.add_command(sidecars_)
    main.add_command(demos)
    main.add_command(retag)
    main.add_command(serve)
