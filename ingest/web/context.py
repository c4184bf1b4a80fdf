"""What the plugin's hooks and routes share: which databases it serves, who is an archivist, the
archive behind them, and the URLs of its images. Plain helpers; the hooks stay in plugin.py."""

from __future__ import annotations

import asyncio
import os
import re
import time
import weakref
from typing import Any

import sqlite_utils
from markupsafe import Markup, escape

from ingest.archive import Archive
from ingest.catalogue import settings
from ingest.media.store import Store
from ingest.outputs import bundle
from ingest.web import serving
from ingest.web.compat import instance_metadata
from ingest.web.permissions import is_archivist

PLUGIN = "gallery"
DISTRIBUTION = "demonstration-photo-archive"  # Datasette names a plugin (and its static files' URL) by its distribution
SHA = re.compile(r"^[0-9a-f]{64}$")
TOKEN = re.compile(r"^[0-9a-f]{32}$")  # a rendition token (catalogue/schema.py, migration 14)


def store_for(datasette) -> Store:
    config = datasette.plugin_config(PLUGIN) or {}
    return Store(config.get("store") or os.environ.get("INGEST_STORE") or "archive")


def archive_for(datasette) -> Archive | None:
    """The archive this server publishes (its catalogue and store), or None when it serves none."""
    path = catalogue_path(datasette)
    return Archive(path, store_for(datasette).root) if path else None


def image_url(datasette, kind: str, name: str) -> str:
    """A thumbnail's or web size's URL. `name` is the photo's rendition token wherever the public sees
    it (the URL dies with that publication), or its sha256 in archivists' views of the catalogue
    (a URL only archivists can open, which also shows withheld photos)."""
    return datasette.urls.path(f"/-/{PLUGIN}/{kind}/{name}.jpg")


def image_column(datasette, database: str | None) -> str:
    """The column of a photos row that names its images in `database`: sha256 in the catalogue,
    the rendition token in the public copy (and anywhere else)."""
    return "sha256" if database in serving.catalogue_names(datasette) else "rendition"


def thumbnail_html(datasette, name: str, alt: str = "") -> Markup:
    return Markup(
        f'<img class="gallery-thumb" loading="lazy" src="{escape(image_url(datasette, "thumbs", name))}" '
        f'alt="{escape(alt)}" width="200">'
    )


def query_thumbnail(datasette, database: str, row, token: str) -> Markup:
    """A canned query's photo: its thumbnail, linking to its page (the row's id), alt from its title."""
    try:
        pid, title = row["id"], row["title"]
    except (IndexError, KeyError):
        return thumbnail_html(datasette, token)
    href = datasette.urls.row(database, "photos", str(pid))
    return Markup(f'<a href="{escape(href)}">') + thumbnail_html(datasette, token, title or f"Photo {pid}") + Markup("</a>")


def cache_ttl(datasette) -> int:
    """How long a public answer that names photos may be kept: Datasette's default_cache_ttl (5 s
    unless the operator says otherwise), so a withdrawal reaches every cache that soon."""
    return int(datasette.setting("default_cache_ttl") or 0)


async def visible(datasette, actor, column: str, value) -> bool:
    """Whether this visitor may see the photo: anonymous visitors only those in the public copy."""
    db = catalogue_db(datasette) if is_archivist(actor) else None
    db = db or public_db(datasette)
    if db is None:
        return False
    rows = await db.execute(f"SELECT 1 FROM photos WHERE {column} = ?", [value])
    return bool(rows.first())


def public_db(datasette):
    """The public copy (gallery.db's is /gallery); None when no catalogue is served (the plugin's
    pages, images and downloads then have nothing to show, whatever else Datasette serves)."""
    names = sorted(serving.public_names(datasette))
    return datasette.databases.get(names[0]) if names else None


def catalogue_db(datasette):
    """The private catalogue, served to archivists only (None when only a public copy is served)."""
    names = sorted(serving.catalogue_names(datasette))
    return datasette.databases.get(names[0]) if names else None


async def on_catalogue(db, fn):
    """Run `fn(sqlite_utils.Database)` on Datasette's connection, in its thread, off the event loop."""
    return await db.execute_fn(lambda conn: fn(sqlite_utils.Database(conn)))


def catalogue_path(datasette) -> str | None:
    db = catalogue_db(datasette)
    return db.path if db is not None else None


_settings: "weakref.WeakKeyDictionary[Any, dict[str, tuple[float, str | None]]]" = weakref.WeakKeyDictionary()


def archive_setting(datasette, key: str) -> str | None:
    """A setting of the archive this server publishes, read from its catalogue at most every 2
    seconds (hooks and every request ask). None, and nothing remembered, before a catalogue is served.
    A bundle server has no catalogue: the settings the bundle carries (outputs/bundle.py)."""
    if catalogue_db(datasette) is None:
        for folder in serving.bundles(datasette).values():
            return bundle.public_settings(folder).get(key)
        return None
    now = time.monotonic()
    cached = _settings.get(datasette, {}).get(key)
    if cached and now - cached[0] < 2:
        return cached[1]
    archive = archive_for(datasette)
    if archive is None:
        return None
    found = archive.setting(key)
    _settings.setdefault(datasette, {})[key] = (now, found)
    return found


def forget_settings(datasette) -> None:
    """After this process changed a setting: the next read goes to the catalogue."""
    _settings.pop(datasette, None)


async def archive_name(datasette) -> str:
    """The archive's name, the source of every credit line: its `title` setting, else the title in
    Datasette's metadata, else the default."""
    title = await asyncio.to_thread(archive_setting, datasette, "title")
    return title or await instance_metadata(datasette, "title") or settings.DEFAULT_TITLE
