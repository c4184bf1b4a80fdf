"""The archive's settings: their names, what each may hold, and the one way to read and write them.

Settings live in the catalogue's `settings` table (private), so tagging, the public copy, sidecars
and the CLI all read the same values, and a change reaches the public copy through its triggers.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlsplit

from ingest.catalogue.publication import DEFAULT_FACES, DEFAULT_PUBLISH_ON_IMPORT, FACES_SETTLED, PUBLISH_ON_IMPORT
from ingest.reference.licences import exact_licence

DEFAULT_TITLE = "Demonstration photo archive"
PUBLIC_LOCATIONS = ("exact", "city", "none")
DEFAULT_LOCATION = "city"
PUBLIC_FACES = ("blur", "show")

SETTINGS = {
    "default-licence": "licence (SPDX id) for photos whose file and import state none",
    "public-location": "where the public gallery places photos: exact, city (default) or none",
    "publish-on-import": ("what an import does with new photos: review (they wait for an archivist; the default "
                          "for new archives) or immediate (public at once if licensed and credited)"),
    "public-faces": "faces in public images, downloads and feeds: blur (obscured, the default) or show",
    "public-url": "the gallery's public address (https://...): every absolute link, feed and credit line starts with it",
    "title": f"the archive's name: the source of every credit line [default: {DEFAULT_TITLE}]",
    "upload-max-mb": "the largest file a photographer may upload, in MB [default: 200]",
    "upload-batch-files": "the most files in one upload batch [default: 2000]",
    "upload-quota-mb": "what one account may upload in all, in MB (imported and in progress) [default: 50000]",
    "upload-min-free-mb": "uploads are refused when they would leave less free disk than this, in MB [default: 1024]",
}
# Upload limits (web/upload.py): a whole number each, with these defaults.
UPLOAD_LIMITS = {"upload-max-mb": 200, "upload-batch-files": 2000, "upload-quota-mb": 50_000,
                 "upload-min-free-mb": 1024}


def _conn(db: Any) -> sqlite3.Connection:
    """A sqlite_utils.Database or a plain connection: both hold the catalogue."""
    return getattr(db, "conn", db)


def stored(db: Any, schema: str = "main") -> dict[str, str]:
    """Every setting that has a value (`schema` names an attached catalogue)."""
    return dict(_conn(db).execute(f"SELECT key, value FROM [{schema}].settings").fetchall())


def value(db: Any, key: str, schema: str = "main") -> str | None:
    row = _conn(db).execute(f"SELECT value FROM [{schema}].settings WHERE key = ?", [key]).fetchone()
    return row[0] if row and row[0] not in (None, "") else None


def title(db: Any) -> str:
    return value(db, "title") or DEFAULT_TITLE


def public_location(db: Any, schema: str = "main") -> str:
    found = value(db, "public-location", schema)
    return found if found in PUBLIC_LOCATIONS else DEFAULT_LOCATION


def public_faces(db: Any, schema: str = "main") -> str:
    found = value(db, "public-faces", schema)
    return found if found in PUBLIC_FACES else DEFAULT_FACES


def publish_on_import(db: Any) -> str:
    found = value(db, "publish-on-import")
    return found if found in PUBLISH_ON_IMPORT else DEFAULT_PUBLISH_ON_IMPORT


def upload_limit(db: Any, key: str) -> int:
    """An upload limit as set, or its default."""
    found = value(db, key)
    return int(found) if found and found.isdigit() else UPLOAD_LIMITS[key]


def public_url(raw: str) -> str:
    """The gallery's public address as absolute URLs start with it (no trailing slash), or ValueError.

    Absolute URLs come from here, never from a request's Host header, which anyone can set."""
    text = raw.strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(f"{raw!r} is not a URL; give the gallery's address, such as https://photos.example.org") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{raw!r}: the public URL is an http:// or https:// address, such as https://photos.example.org")
    if "?" in text or "#" in text:
        raise ValueError(f"{raw!r}: the public URL takes no query (?) or fragment (#)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{raw!r}: the public URL takes no user name or password")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError(f"{raw!r}: the public URL takes no space or control character")
    return text.rstrip("/")


def check(key: str, raw: str) -> str:
    """The value to store for KEY, or ValueError saying what is wrong with RAW."""
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    if key == "default-licence":
        if not (found := exact_licence(raw)):
            raise ValueError(f"{raw!r} is not an exact licence; use an SPDX id such as CC-BY-SA-4.0")
        return found
    if key == "public-location" and raw not in PUBLIC_LOCATIONS:
        raise ValueError(f"{raw!r}: public-location is one of {', '.join(PUBLIC_LOCATIONS)}")
    if key == "public-faces" and raw not in PUBLIC_FACES:
        raise ValueError(f"{raw!r}: public-faces is one of {', '.join(PUBLIC_FACES)}")
    if key == "public-url":
        return public_url(raw)
    if key == "publish-on-import" and raw not in PUBLISH_ON_IMPORT:
        raise ValueError(f"{raw!r}: publish-on-import is one of {', '.join(PUBLISH_ON_IMPORT)}")
    if key in UPLOAD_LIMITS:
        if not raw.strip().isdigit() or int(raw) < 1:
            raise ValueError(f"{raw!r}: {key} is a whole number above 0")
        return str(int(raw))
    if key == "title":
        text = " ".join(raw.split())
        if not text or len(text) > 200:
            raise ValueError("the title is 1 to 200 characters")
        return text
    return raw


def put(db: Any, key: str, raw: str | None) -> str | None:
    """Set KEY (checked) or, with None, unset it. The caller holds the transaction."""
    if raw is None:
        _conn(db).execute("DELETE FROM settings WHERE key = ?", [key])
        return None
    checked = check(key, raw)
    _conn(db).execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, checked])
    return checked


def follow_up(db: Any, key: str, value: str | None) -> list[str]:
    """What else to do after KEY was set to VALUE, in words (the CLI and the settings page say it)."""
    if key == "default-licence" and _conn(db).execute("SELECT 1 FROM photos LIMIT 1").fetchone():
        return ["Run `ingest retag` to apply it to the photos already in the archive."]
    if key == "public-faces" and value == "blur":
        waiting = _conn(db).execute(f"SELECT count(*) FROM photos p WHERE NOT {FACES_SETTLED.format(p='p')}").fetchone()[0]
        if waiting:
            are = "photos have" if waiting != 1 else "photo has"
            return [f"{waiting} {are} no face detection yet, so not public: run `ingest faces detect`."]
    return []
