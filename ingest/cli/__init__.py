"""The `ingest` command: thin click wrappers around plain functions.

`ingest PATH...` is the default command (`ingest import PATH...` is the same). Subcommands live in
one module per topic and are loaded when named, so `ingest archivists list` never loads the image
decoders and `ingest export` never loads Datasette. Exit status: 0 when every file was imported or
already there, 1 when any file was not imported (the rest were), 2 for usage errors, 130 on Ctrl-C.
"""

from __future__ import annotations

import click

from ingest import __version__
from ingest.archive import DB_DEFAULT, STORE_DEFAULT
from ingest.cli.common import Group

# name -> "module:attribute", imported on first use (click's documented lazy-loading pattern)
COMMANDS = {
    "import": "importing:import_", "retag": "importing:retag", "verify": "importing:verify",
    "demos": "registry:demos",
    "fix": "correcting:fix", "review": "correcting:review_", "history": "correcting:history", "undo": "correcting:undo",
    "export-csv": "correcting:export_csv_", "import-csv": "correcting:import_csv_",
    "export": "sharing:export_", "sidecars": "sharing:sidecars_",
    "serve": "serving:serve", "publish": "publishing:publish_",
    "settings": "admin:settings_", "archivists": "admin:archivists", "accounts": "admin:accounts_",
    "faces": "faces:faces_",
}
# name -> the first paragraph of its help, for `ingest --help` without importing every module
# (tests/test_ingest_cli.py checks that these are the commands' own words).
SUMMARIES = {
    "import": "Import photos from PATHS (files and folders, recursively).",
    "retag": "Re-run tagging from stored metadata, without re-reading files.",
    "verify": "Re-hash the store against the catalogue: report missing, corrupt and orphan files.",
    "demos": "The registry of demonstrations that photos are matched to.",
    "fix": 'Correct PHOTO(s): an id, a sha256, or its first 6+ characters. An empty value ("") clears a field.',
    "review": "List the review queue (photos waiting for approval, or flagged), or decide on PHOTO(s).",
    "history": "Every change archivists made to PHOTO, newest first.",
    "undo": "Undo EDIT (a number from `ingest history`) and the edits made with it (one `fix` on several photos, "
            "one CSV import, one batch edit); itself an audited change.",
    "export-csv": "Write the editable fields as CSV, for a spreadsheet; `ingest import-csv` reads it back.",
    "import-csv": "Show what FILE (from `ingest export-csv`, edited) would change; with --apply, change it.",
    "export": "Write licence-carrying copies of PHOTOS (ids, or sha256 prefixes).",
    "sidecars": "Write XMP sidecars with PHOTOS' current, corrected metadata beside their exported copies.",
    "serve": "Browse the archive with Datasette (the database keeps its name: gallery.db is /gallery).",
    "publish": "Bring the public copy up to date; with DIR, write the public side as a bundle.",
    "settings": "Show the archive's settings, or set KEY to VALUE (then `ingest retag` applies it).",
    "archivists": "Who may sign in to the gallery (/-/login) and correct photos there (`ingest accounts` with roles).",
    "accounts": "Who may sign in to the gallery (/-/login): photographers, archivists and admins.",
    "faces": "Faces in public images: detection, and archivists' corrections (audited).",
}


@click.group(cls=Group, lazy=COMMANDS, summaries=SUMMARIES, default="import", default_if_no_args=False,
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
