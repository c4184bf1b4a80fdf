"""Who may sign in and edit: names and password hashes in the catalogue (never in the public copy).

Hashes are datasette-auth-passwords' (PBKDF2-SHA256), so its sign-in page checks them; the plugin
hands these accounts to it as configuration, each with the `archivist` role.
"""

from __future__ import annotations

import re

import sqlite_utils

from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.times import now

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


def add_archivist(db: sqlite_utils.Database, name: str, password: str) -> str:
    """Add NAME (or set a new password); returns 'added' or 'updated'."""
    # Imported here: the plugin's package loads Datasette (0.1 s), which only adding a password needs.
    from datasette_auth_passwords.utils import hash_password

    if not _NAME.match(name):
        raise ArchiveError(f"{name!r}: a name is letters, digits and . _ @ - (up to 64)")
    if len(password) < MIN_PASSWORD:
        raise ArchiveError(f"the password must have at least {MIN_PASSWORD} characters")
    with transaction(db):
        known = db.execute("SELECT 1 FROM archivists WHERE name = ?", [name]).fetchone()
        db.conn.execute("INSERT INTO archivists (name, password_hash, added_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash",
                        [name, hash_password(password), now()])
    return "updated" if known else "added"


def remove_archivist(db: sqlite_utils.Database, name: str) -> None:
    with transaction(db):
        if not db.conn.execute("DELETE FROM archivists WHERE name = ?", [name]).rowcount:
            raise ArchiveError(f"{name!r}: no such archivist")


def list_archivists(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    return db.execute("SELECT name, added_at FROM archivists ORDER BY name").fetchall()


def accounts(db: sqlite_utils.Database) -> dict[str, str]:
    return dict(db.execute("SELECT name, password_hash FROM archivists").fetchall())
