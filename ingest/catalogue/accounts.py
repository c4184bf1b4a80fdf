"""Who may sign in and edit: names and password hashes in the catalogue (never in the public copy).

Hashes are PBKDF2-SHA256 in the `pbkdf2_sha256$iterations$salt$hash` form Django and
datasette-auth-passwords write, so hashes made by `datasette hash-password` work here too.
A signed-in session carries a token derived from the account's current hash: changing the
password, disabling or removing the account ends every session made before, at once.

Each account has one role (issue 16): `photographer` (uploads; sees and edits their own photos
until they are public), `archivist` (reviews, corrects, publishes) or `admin` (an archivist who
also runs accounts and settings). An admin's session carries both roles, so every check that asks
for an archivist lets an admin through.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import sqlite_utils

from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.times import now

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 480_000
ROLES = ("photographer", "archivist", "admin")
DEFAULT_ROLE = "archivist"  # what `ingest archivists add` makes, and what accounts made before roles are
# What a session of each role carries: an admin is an archivist too.
SESSION_ROLES = {"photographer": ("photographer",), "archivist": ("archivist",), "admin": ("admin", "archivist")}


@dataclass(frozen=True)
class Account:
    name: str
    password_hash: str
    roles: tuple[str, ...] = ("archivist",)
    disabled: bool = False


def hash_password(password: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether PASSWORD matches ENCODED; a malformed hash matches nothing (after the same work)."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
        rounds = int(iterations)
    except (AttributeError, ValueError):
        algorithm, rounds, salt, expected = "", ITERATIONS, "", ""
    if algorithm != ALGORITHM or not 1 <= rounds <= 10_000_000:
        rounds, expected = ITERATIONS, ""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("utf-8"), rounds)
    return hmac.compare_digest(base64.b64encode(digest).decode("ascii"), expected) and bool(expected)


@lru_cache(maxsize=1)
def decoy_hash() -> str:
    """What an unknown name is checked against, so that it costs what a real account costs and
    a sign-in's time does not tell whether the name exists."""
    return hash_password(secrets.token_hex(16))


def session_token(account: Account) -> str:
    """A short token that changes whenever the account's password hash does."""
    return hashlib.sha256(b"gallery-session\0" + account.password_hash.encode("utf-8")).hexdigest()[:24]


def add_account(db: sqlite_utils.Database, name: str, password: str, role: str | None = None) -> str:
    """Add NAME with ROLE (or set a new password, which also enables a disabled account, and the
    role when one is given); returns 'added' or 'updated'. A new password or role ends every
    session signed in before."""
    if not _NAME.match(name):
        raise ArchiveError(f"{name!r}: a name is letters, digits and . _ @ - (up to 64)")
    if len(password) < MIN_PASSWORD:
        raise ArchiveError(f"the password must have at least {MIN_PASSWORD} characters")
    if role is not None and role not in ROLES:
        raise ArchiveError(f"{role!r}: a role is one of {', '.join(ROLES)}")
    with transaction(db):
        known = db.execute("SELECT 1 FROM archivists WHERE name = ?", [name]).fetchone()
        db.conn.execute("INSERT INTO archivists (name, password_hash, added_at, role) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash, disabled_at = NULL, "
                        "role = coalesce(?, role)",
                        [name, hash_password(password), now(), role or DEFAULT_ROLE, role])
    return "updated" if known else "added"


def add_archivist(db: sqlite_utils.Database, name: str, password: str) -> str:
    """`ingest archivists add`: a new account is an archivist; an existing one keeps its role."""
    return add_account(db, name, password)


def set_role(db: sqlite_utils.Database, name: str, role: str) -> None:
    """Give NAME another role; their sessions end (a session carries the role it began with)."""
    if role not in ROLES:
        raise ArchiveError(f"{role!r}: a role is one of {', '.join(ROLES)}")
    with transaction(db):
        if not db.conn.execute("UPDATE archivists SET role = ? WHERE name = ?", [role, name]).rowcount:
            raise ArchiveError(f"{name!r}: no such account")


def remove_archivist(db: sqlite_utils.Database, name: str) -> None:
    with transaction(db):
        if not db.conn.execute("DELETE FROM archivists WHERE name = ?", [name]).rowcount:
            raise ArchiveError(f"{name!r}: no such account")


def disable_archivist(db: sqlite_utils.Database, name: str, disabled: bool = True) -> None:
    """Stop NAME signing in, and end their sessions, keeping the account (enable it again later)."""
    with transaction(db):
        changed = db.conn.execute("UPDATE archivists SET disabled_at = ? WHERE name = ?",
                                  [now() if disabled else None, name]).rowcount
        if not changed:
            raise ArchiveError(f"{name!r}: no such account")


def list_archivists(db: sqlite_utils.Database) -> list[tuple[str, str, str | None]]:
    """(name, added, disabled) of every account."""
    return db.execute("SELECT name, added_at, disabled_at FROM archivists ORDER BY name").fetchall()


def list_accounts(db: sqlite_utils.Database) -> list[tuple[str, str, str, str | None]]:
    """(name, role, added, disabled) of every account."""
    return db.execute("SELECT name, role, added_at, disabled_at FROM archivists ORDER BY name").fetchall()


def accounts(db: sqlite_utils.Database) -> dict[str, Account]:
    return {name: Account(name, password_hash, SESSION_ROLES.get(role, ()), bool(disabled))
            for name, password_hash, disabled, role in db.execute(
                "SELECT name, password_hash, disabled_at, role FROM archivists").fetchall()}


# ---------------------------------------------------------------- invitations

INVITE_DAYS = 7


def _token_hash(token: str) -> str:
    return hashlib.sha256(b"gallery-invite\0" + token.encode("utf-8")).hexdigest()


def create_invite(db: sqlite_utils.Database, by: str, days: int = INVITE_DAYS) -> str:
    """A one-time token that lets its holder make a photographer account within DAYS; only its
    hash is stored, so the link is shown once, to the admin who made it."""
    if not 1 <= days <= 90:
        raise ArchiveError("an invitation lasts 1 to 90 days")
    token = secrets.token_urlsafe(24)
    made = datetime.now(timezone.utc)
    with transaction(db):
        db.conn.execute("INSERT INTO invites (token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
                        [_token_hash(token), by, made.isoformat(timespec="seconds"),
                         (made + timedelta(days=days)).isoformat(timespec="seconds")])
    return token


def invite_open(db: sqlite_utils.Database, token: str) -> bool:
    """Whether TOKEN is an invitation not used and not expired."""
    row = db.execute("SELECT expires_at, used_at FROM invites WHERE token_hash = ?", [_token_hash(token)]).fetchone()
    return row is not None and row[1] is None and row[0] > now()


def redeem_invite(db: sqlite_utils.Database, token: str, name: str, password: str) -> None:
    """Make photographer NAME with TOKEN, which then is spent; refused (ArchiveError) when the token
    is unknown, used or expired, or the name is taken."""
    with transaction(db):
        spent = db.conn.execute("UPDATE invites SET used_at = ?, used_by = ? WHERE token_hash = ? AND used_at IS NULL "
                                "AND expires_at > ?", [now(), name, _token_hash(token), now()]).rowcount
        if not spent:
            raise ArchiveError("this invitation has been used or has expired; ask for a new one")
        if db.execute("SELECT 1 FROM archivists WHERE name = ?", [name]).fetchone():
            raise ArchiveError(f"{name!r} is taken; choose another name")
        add_account(db, name, password, "photographer")


def open_invites(db: sqlite_utils.Database) -> list[tuple[str, str, str]]:
    """(made by, made at, expires at) of the invitations still usable."""
    return db.execute("SELECT created_by, created_at, expires_at FROM invites WHERE used_at IS NULL AND expires_at > ? "
                      "ORDER BY created_at DESC", [now()]).fetchall()
