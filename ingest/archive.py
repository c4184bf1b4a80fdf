"""The archive a command or the web plugin works on: its catalogue, its store and its settings.

One object, built once (by the CLI's root group, or by the plugin from Datasette's configuration)
and handed down, so every stage gets the same paths, the same connection and the same settings.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import sqlite_utils
import yaml

from ingest.catalogue import settings
from ingest.catalogue.lookup import find_photo
from ingest.catalogue.schema import connect
from ingest.errors import ArchiveError
from ingest.media.store import Store

DB_DEFAULT = "gallery.db"
STORE_DEFAULT = "archive"
METADATA = "metadata.yml"


def default_metadata() -> Path:
    """The Datasette metadata the package ships (facets, canned queries, descriptions)."""
    return Path(str(files("ingest") / METADATA))


class Archive:
    """The catalogue (opened, and migrated, on first use) and the photo store."""

    def __init__(self, db_path: str | Path | None = None, store_path: str | Path | None = None):
        self.db_path = str(db_path or os.environ.get("INGEST_DB") or DB_DEFAULT)
        self.store = Store(store_path or os.environ.get("INGEST_STORE") or STORE_DEFAULT)
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self.db_path)
        return self._db

    def exists(self) -> bool:
        return self.db_path == ":memory:" or Path(self.db_path).is_file()

    def require(self) -> "Archive":
        """This archive, or a clear error when its catalogue has not been made yet."""
        if not self.exists():
            raise ArchiveError(f"{self.db_path}: no such catalogue (run `ingest PATH...` first)")
        return self

    def close(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None

    @contextmanager
    def connection(self, *, readonly: bool = False) -> Iterator[sqlite_utils.Database]:
        """A connection of its own, for a thread of its own (the web plugin's handlers): read-only
        ones never migrate or write; writable ones are the catalogue as `db` opens it."""
        if readonly:
            self.require()
            db = sqlite_utils.Database(sqlite3.connect(Path(self.db_path).resolve().as_uri() + "?mode=ro", uri=True))
        else:
            db = connect(self.db_path, create=False)
        try:
            yield db
        finally:
            db.conn.close()

    def setting(self, key: str) -> str | None:
        """A setting's value as set, or None: through the open catalogue if this archive has one,
        else a read-only look (the web plugin's archives never migrate or write)."""
        if self._db is not None:
            return settings.value(self._db, key)
        if not self.exists():
            return None
        try:
            with self.connection(readonly=True) as db:
                return settings.value(db, key)
        except sqlite3.Error:
            return None

    @property
    def title(self) -> str | None:
        """The archive's name as set (`ingest settings title`), or None."""
        return self.setting("title")

    @property
    def public_url(self) -> str | None:
        """The gallery's public address as set (`ingest settings public-url`), or None."""
        return self.setting("public-url")

    @property
    def name(self) -> str:
        """The archive's name: the source named in every credit line. An archive from before the
        setting existed keeps the title of its own metadata.yml."""
        return self.title or self._metadata_title() or settings.DEFAULT_TITLE

    def _metadata_title(self) -> str | None:
        path = self.metadata_path()
        if path == default_metadata():
            return None
        try:
            title = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("title")
        except (OSError, yaml.YAMLError, AttributeError):
            return None
        return title if isinstance(title, str) and title.strip() else None

    def metadata_path(self) -> Path:
        """Datasette metadata: the archive's own metadata.yml (beside its catalogue, or in the
        current folder), else the packaged one."""
        for folder in (Path(self.db_path).resolve().parent, Path.cwd()):
            if (folder / METADATA).is_file():
                return folder / METADATA
        return default_metadata()

    def photo(self, ref: str) -> int:
        """A photo's id from what people type: an id, a sha256 or its first 6+ characters."""
        return find_photo(self.db, ref)
