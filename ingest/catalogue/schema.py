"""The catalogue: schema, numbered migrations and connection settings.

Table and column names are a contract (Datasette users and scripts see them): extend, never rename.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import sqlite_utils

from ingest import cache
from ingest.catalogue.publication import state_sql
from ingest.errors import ArchiveError
from ingest.reference.licences import Licence, catalogue
from ingest.text import key

# Columns of `photos` that hold a tag, each with a `<tag>_source` column beside it.
TAGGED = ("date", "city_id", "demonstration_id", "licence_id", "creator", "title", "caption")

# Fields an archivist can correct; ingest and retag never write over a corrected one.
CORRECTABLE = (
    "title", "caption", "creator", "taken_at", "date", "city_id", "demonstration_id",
    "licence_id", "keywords", "latitude", "longitude", "withheld", "pending", "needs_review", "faces_shown",
)
# Machine-written columns that a correction of another field also freezes (column -> fields).
GOVERNED_BY = {
    "date": ("date", "taken_at"),
    "date_source": ("date", "taken_at"),
    "taken_at_utc": ("taken_at",),
    "city_source": ("city_id",),
    "demonstration_source": ("demonstration_id",),
    "licence_source": ("licence_id",),
    "licence_text": ("licence_id",),
    "creator_source": ("creator",),
    "title_source": ("title",),
    "caption_source": ("caption",),
    "longitude": ("latitude", "longitude"),
    "latitude": ("latitude", "longitude"),
    "location_source": ("latitude", "longitude"),
    "review_reason": ("needs_review",),     # "looks right" answers every reason
}


_V1 = """
        CREATE TABLE licences (
            id TEXT PRIMARY KEY,            -- SPDX identifier, e.g. CC-BY-SA-4.0
            name TEXT NOT NULL,
            url TEXT,
            version TEXT,
            is_cc INTEGER NOT NULL DEFAULT 0,
            allows_commercial INTEGER,
            allows_adaptations INTEGER,
            share_alike INTEGER,
            attribution_required INTEGER,
            commons_compatible INTEGER
        );
        CREATE TABLE cities (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            country_code TEXT,
            latitude REAL,
            longitude REAL,
            geonames_id INTEGER UNIQUE,
            slug TEXT UNIQUE
        );
        CREATE UNIQUE INDEX idx_cities_name_country ON cities(name, country_code);
        CREATE TABLE city_aliases (
            alias TEXT PRIMARY KEY,         -- normalised: casefolded, accents kept
            city_id INTEGER NOT NULL REFERENCES cities(id)
        );
        CREATE TABLE demonstrations (
            id INTEGER PRIMARY KEY,
            name TEXT,
            slug TEXT UNIQUE NOT NULL,
            date TEXT,                      -- YYYY-MM-DD, or YYYY-MM when only the month is known
            city_id INTEGER REFERENCES cities(id),
            provisional INTEGER NOT NULL DEFAULT 0,
            description TEXT,
            url TEXT
        );
        CREATE INDEX idx_demonstrations_date ON demonstrations(date);
        CREATE TABLE photos (
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            original_filename TEXT,
            format TEXT,
            mime_type TEXT,
            file_size INTEGER,
            width INTEGER,
            height INTEGER,
            taken_at TEXT,
            taken_at_utc TEXT,
            date TEXT,
            date_source TEXT,
            city_id INTEGER REFERENCES cities(id),
            city_source TEXT,
            demonstration_id INTEGER REFERENCES demonstrations(id),
            demonstration_source TEXT,
            licence_id TEXT REFERENCES licences(id),
            licence_source TEXT,
            licence_text TEXT,
            creator TEXT,
            creator_source TEXT,
            title TEXT,
            title_source TEXT,
            caption TEXT,
            caption_source TEXT,
            keywords TEXT,                  -- JSON array
            latitude REAL,
            longitude REAL,
            location_source TEXT,
            camera_make TEXT,
            camera_model TEXT,
            lens_model TEXT,
            orientation INTEGER,
            needs_review INTEGER NOT NULL DEFAULT 0,
            review_reason TEXT,
            withheld INTEGER NOT NULL DEFAULT 0,
            imported_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX idx_photos_date ON photos(date);
        CREATE INDEX idx_photos_city ON photos(city_id);
        CREATE INDEX idx_photos_demonstration ON photos(demonstration_id);
        CREATE INDEX idx_photos_licence ON photos(licence_id);
        CREATE INDEX idx_photos_creator ON photos(creator);
        CREATE INDEX idx_photos_review ON photos(needs_review);
        CREATE INDEX idx_photos_taken ON photos(taken_at);
        CREATE TABLE photo_sources (
            id INTEGER PRIMARY KEY,
            photo_id INTEGER NOT NULL REFERENCES photos(id),
            path TEXT NOT NULL UNIQUE,      -- private: never published
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        CREATE INDEX idx_photo_sources_photo ON photo_sources(photo_id);
        CREATE TABLE metadata (
            photo_id INTEGER NOT NULL REFERENCES photos(id),
            source TEXT NOT NULL,           -- exif, xmp, xmp-sidecar, iptc, file-name, folder-name, image
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (photo_id, source, key)
        );
        CREATE TABLE corrections (
            photo_id INTEGER NOT NULL REFERENCES photos(id),
            field TEXT NOT NULL,
            value TEXT,
            who TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (photo_id, field)
        );
        CREATE TABLE ingest_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,           -- running, finished, interrupted
            options TEXT,
            files_seen INTEGER DEFAULT 0,
            imported INTEGER DEFAULT 0,
            duplicates INTEGER DEFAULT 0,
            unchanged INTEGER DEFAULT 0,
            problems INTEGER DEFAULT 0
        );
        CREATE TABLE problems (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES ingest_runs(id),
            path TEXT NOT NULL,             -- private: never published
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE photos_fts USING FTS5 (
            title, caption, creator, keywords, content="photos", tokenize="unicode61 remove_diacritics 2"
        );
        CREATE TRIGGER photos_ai AFTER INSERT ON photos BEGIN
          INSERT INTO photos_fts (rowid, title, caption, creator, keywords)
          VALUES (new.rowid, new.title, new.caption, new.creator, new.keywords);
        END;
        CREATE TRIGGER photos_ad AFTER DELETE ON photos BEGIN
          INSERT INTO photos_fts (photos_fts, rowid, title, caption, creator, keywords)
          VALUES ('delete', old.rowid, old.title, old.caption, old.creator, old.keywords);
        END;
        CREATE TRIGGER photos_au AFTER UPDATE OF title, caption, creator, keywords ON photos BEGIN
          INSERT INTO photos_fts (photos_fts, rowid, title, caption, creator, keywords)
          VALUES ('delete', old.rowid, old.title, old.caption, old.creator, old.keywords);
          INSERT INTO photos_fts (rowid, title, caption, creator, keywords)
          VALUES (new.rowid, new.title, new.caption, new.creator, new.keywords);
        END;
"""

_V2 = """
ALTER TABLE demonstrations ADD COLUMN start_time TEXT;   -- HH:MM local, when the registry says
ALTER TABLE demonstrations ADD COLUMN end_time TEXT;
"""

_V3 = """
-- Two towns may share a name in one country (Newport, Wales and Newport, Isle of Wight).
DROP INDEX idx_cities_name_country;
CREATE INDEX idx_cities_name ON cities(name, country_code);
"""

# What a photo's licence allows, copied onto the photo (migration 4).
PERMISSIONS = ("allows_commercial", "allows_adaptations", "share_alike", "commons_compatible")
_PERMISSIONS = ", ".join(PERMISSIONS)
_SET_PERMISSIONS = f"""
    UPDATE photos SET ({_PERMISSIONS}) =
        (SELECT {_PERMISSIONS} FROM licences WHERE licences.id = photos.licence_id)
"""
_V4 = f"""
-- What a photo's licence allows, on the photo itself so Datasette can facet and filter on it.
-- Derived from licence_id by triggers: never written by hand, never out of step.
ALTER TABLE photos ADD COLUMN allows_commercial INTEGER;
ALTER TABLE photos ADD COLUMN allows_adaptations INTEGER;
ALTER TABLE photos ADD COLUMN share_alike INTEGER;
ALTER TABLE photos ADD COLUMN commons_compatible INTEGER;
CREATE INDEX idx_photos_commercial ON photos(allows_commercial);
CREATE INDEX idx_photos_commons ON photos(commons_compatible);
CREATE TRIGGER photos_licence_ai AFTER INSERT ON photos BEGIN
  {_SET_PERMISSIONS} WHERE id = new.id;
END;
CREATE TRIGGER photos_licence_au AFTER UPDATE OF licence_id ON photos BEGIN
  {_SET_PERMISSIONS} WHERE id = new.id;
END;
{_SET_PERMISSIONS};
"""

_LABEL = """
    UPDATE demonstrations SET label =
        coalesce(name, 'Unnamed demonstration') || ' (' ||
        coalesce((SELECT cities.name FROM cities WHERE cities.id = demonstrations.city_id) || ', ', '') ||
        coalesce(date, 'undated') || ')'
"""
_V5 = f"""
-- The same march recurs ("National march for a ceasefire in Gaza" on five dates): facets and
-- links show a label that tells them apart. Derived by triggers, like the licence permissions.
ALTER TABLE demonstrations ADD COLUMN label TEXT;
CREATE TRIGGER demonstrations_label_ai AFTER INSERT ON demonstrations BEGIN
  {_LABEL} WHERE id = new.id;
END;
CREATE TRIGGER demonstrations_label_au AFTER UPDATE OF name, city_id, date ON demonstrations BEGIN
  {_LABEL} WHERE id = new.id;
END;
CREATE TRIGGER cities_rename_au AFTER UPDATE OF name ON cities BEGIN
  {_LABEL} WHERE city_id = new.id;
END;
{_LABEL};
"""

_V6 = """
-- The year, for the gallery's year facet; derived from the local date by triggers.
ALTER TABLE photos ADD COLUMN year INTEGER;
CREATE INDEX idx_photos_year ON photos(year);
CREATE TRIGGER photos_year_ai AFTER INSERT ON photos BEGIN
  UPDATE photos SET year = CAST(substr(new.date, 1, 4) AS INTEGER) WHERE id = new.id AND new.date IS NOT NULL;
END;
CREATE TRIGGER photos_year_au AFTER UPDATE OF date ON photos BEGIN
  UPDATE photos SET year = CASE WHEN new.date IS NULL THEN NULL ELSE CAST(substr(new.date, 1, 4) AS INTEGER) END
  WHERE id = new.id;
END;
UPDATE photos SET year = CAST(substr(date, 1, 4) AS INTEGER) WHERE date IS NOT NULL;
"""

_V7 = """
-- The archive's own settings (e.g. default-licence), which tagging reads like the registry.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT
);
"""

# Enough for any server that keeps up; one that falls further behind rebuilds its copy.
# Full-text search over photos: what migration 1 created in the catalogue, and what the public copy
# builds (public_copy.py), from this one definition. A change is a new migration plus this.
FTS_COLUMNS = ("title", "caption", "creator", "keywords")
FTS_TOKENIZER = "unicode61 remove_diacritics 2"


def photos_fts_sql(*, on_update: bool = True) -> list[str]:
    """The photos_fts table (external content: the photos table) and the triggers that keep it."""
    cols = ", ".join(FTS_COLUMNS)
    new = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    add = f"INSERT INTO photos_fts (rowid, {cols}) VALUES (new.rowid, {new});"
    drop = f"INSERT INTO photos_fts (photos_fts, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
    statements = [
        f'CREATE VIRTUAL TABLE photos_fts USING FTS5 ({cols}, content="photos", tokenize="{FTS_TOKENIZER}")',
        f"CREATE TRIGGER photos_ai AFTER INSERT ON photos BEGIN {add} END",
        f"CREATE TRIGGER photos_ad AFTER DELETE ON photos BEGIN {drop} END",
    ]
    if on_update:
        statements.append(f"CREATE TRIGGER photos_au AFTER UPDATE OF {cols} ON photos BEGIN {drop} {add} END")
    return statements


PUBLISH_LOG_KEEP = 100_000


def _log_changes(table: str, item: str) -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_publish_{op[0]} AFTER {op} ON {table} BEGIN "
        f"INSERT INTO publish_log (item) VALUES ({item.replace('ROW', 'old' if op == 'DELETE' else 'new')}); "
        f"DELETE FROM publish_log WHERE seq <= last_insert_rowid() - {PUBLISH_LOG_KEEP}; END;"
        for op in ("INSERT", "UPDATE", "DELETE"))


_V8 = f"""
-- What the public copy (ingest/publish.py) must refresh, appended by triggers so that every write
-- counts, however it is made (ingest, retag, fix, the web, or an archivist's own SQL).
-- seq is AUTOINCREMENT: committed entries are contiguous, so a reader that finds a gap knows the
-- log was pruned past it and rebuilds instead. Each write prunes what is PUBLISH_LOG_KEEP behind.
CREATE TABLE publish_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL              -- 'photo:<id>', or a table whose rows all republish
);
{_log_changes("photos", "'photo:' || ROW.id")}
{_log_changes("cities", "'cities'")}
{_log_changes("demonstrations", "'demonstrations'")}
{_log_changes("licences", "'licences'")}
{_log_changes("settings", "'settings'")}
"""

_V9 = """
-- The audit trail of archivists' edits (ingest/corrections.py): never updated, only appended.
-- old/new are the field's values as JSON; restore holds every column the edit set, as it was, so an
-- undo puts back exactly what was there; edits made together share a batch and undo together.
CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER REFERENCES photos(id),
    demonstration_id INTEGER,       -- set for edits of the registry itself (rename, merge)
    field TEXT NOT NULL,
    old TEXT,
    new TEXT,
    who TEXT NOT NULL,
    at TEXT NOT NULL,
    via TEXT NOT NULL,              -- web, cli, csv, undo, merge
    batch TEXT NOT NULL,
    undoes INTEGER REFERENCES edits(id),
    restore TEXT,
    was_corrected INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_edits_photo ON edits(photo_id, field, id);
CREATE INDEX idx_edits_batch ON edits(batch);
CREATE INDEX idx_edits_demonstration ON edits(demonstration_id);
"""

_V10 = """
-- Who may sign in to the gallery and edit (ingest archivists add); hashes only, never passwords.
CREATE TABLE archivists (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    added_at TEXT NOT NULL
);
"""

_V11 = """
-- One name-matching key (text.key) instead of two: aliases are re-keyed with it (name_key is
-- text.key, registered on every connection that migrates). Two aliases that now share a key keep
-- the first city's.
CREATE TEMP TABLE rekeyed AS SELECT name_key(alias) AS alias, min(city_id) AS city_id
    FROM city_aliases WHERE name_key(alias) != '' GROUP BY name_key(alias);
DELETE FROM city_aliases;
INSERT INTO city_aliases (alias, city_id) SELECT alias, city_id FROM temp.rekeyed;
DROP TABLE temp.rekeyed;
"""

_V12 = """
-- An archivist's account can be disabled (ingest archivists disable NAME): no sign-in, no session.
ALTER TABLE archivists ADD COLUMN disabled_at TEXT;
"""

_V13 = """
-- A copy of a withheld photo edited in another program (re-saved, resized, cropped) has other bytes,
-- so its sha256 is new: a perceptual hash (media/similar.py) recognises it, and ingest imports it
-- withheld, linked to the photo it looks like. phash is the unsigned 64-bit hash stored as a signed
-- INTEGER, NULL until computed (ingest retag fills in older photos). The index serves the lookup of
-- withheld photos' hashes at every import.
ALTER TABLE photos ADD COLUMN phash INTEGER;
ALTER TABLE photos ADD COLUMN near_duplicate_of INTEGER REFERENCES photos(id);
CREATE INDEX idx_photos_withheld_phash ON photos(withheld, phash);
"""

# A rendition token: 16 random bytes as hex. Any writer's SQL (the sqlite3 shell included) can make
# one, so triggers do; it need not be secret, only new (only tokens in the public copy resolve).
NEW_RENDITION = "lower(hex(randomblob(16)))"
_V14 = f"""
-- The token in a photo's public image URLs (/-/gallery/thumbs/<rendition>.jpg), so that a URL dies
-- with the publication it was made for: a new one whenever the photo is withheld or published again,
-- or its pixels may change (orientation, the file). The public copy resolves only its own tokens, so
-- a browser or proxy that kept an old URL gets nothing new from it, and nobody is sent to it.
ALTER TABLE photos ADD COLUMN rendition TEXT;
UPDATE photos SET rendition = {NEW_RENDITION};
CREATE UNIQUE INDEX idx_photos_rendition ON photos(rendition);
CREATE TRIGGER photos_rendition_ai AFTER INSERT ON photos WHEN new.rendition IS NULL BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.id;
END;
CREATE TRIGGER photos_rendition_au AFTER UPDATE OF withheld, orientation, sha256 ON photos
WHEN old.withheld IS NOT new.withheld OR old.orientation IS NOT new.orientation OR old.sha256 IS NOT new.sha256
BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.id;
END;
"""

_V15 = f"""
-- Publication states (catalogue/publication.py): every photo is pending, public or withheld, and
-- only public photos reach the public copy. `pending` is the archivist's approval still to come
-- (set at import unless publish-on-import is `immediate`); `state` is derived from it, `withheld`,
-- the licence and the creator by these triggers, whoever writes. A rendition token now dies with
-- any change of state (a photo withdrawn, or waiting again because its licence was cleared).
-- An archive that already has photos keeps publishing on import, as it did.
ALTER TABLE photos ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN state TEXT NOT NULL DEFAULT 'public';
UPDATE photos SET state = {state_sql("photos", faces=False)};
CREATE INDEX idx_photos_state ON photos(state, id);
CREATE TRIGGER photos_state_ai AFTER INSERT ON photos BEGIN
  UPDATE photos SET state = {state_sql("new", faces=False)} WHERE id = new.id;
END;
CREATE TRIGGER photos_state_au AFTER UPDATE OF withheld, pending, licence_id, creator ON photos BEGIN
  UPDATE photos SET state = {state_sql("new", faces=False)} WHERE id = new.id AND state IS NOT {state_sql("new", faces=False)};
END;
CREATE TRIGGER licences_state_au AFTER UPDATE OF attribution_required ON licences BEGIN
  UPDATE photos SET state = {state_sql("photos", faces=False)} WHERE licence_id = new.id AND state IS NOT {state_sql("photos", faces=False)};
END;
DROP TRIGGER photos_rendition_au;
CREATE TRIGGER photos_rendition_au AFTER UPDATE OF state, orientation, sha256 ON photos
WHEN old.state IS NOT new.state OR old.orientation IS NOT new.orientation OR old.sha256 IS NOT new.sha256
BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.id;
END;
INSERT INTO settings (key, value) SELECT 'publish-on-import', 'immediate' WHERE EXISTS (SELECT 1 FROM photos)
  ON CONFLICT(key) DO NOTHING;
"""

_V16 = f"""
-- Faces (catalogue/faces.py, media/faces.py): every public rendition has them obscured unless an
-- archivist cleared the photo. faces_status: NULL (not run yet), found, none, failed; a photo
-- whose detection has not settled is not public while the archive's public-faces is blur.
-- photo_faces holds the detector's boxes and archivists' own (fractions of the upright image);
-- an archivist's removal marks a box removed rather than deleting it, so re-detection keeps it out.
ALTER TABLE photos ADD COLUMN faces_status TEXT;
ALTER TABLE photos ADD COLUMN faces_shown INTEGER NOT NULL DEFAULT 0;
CREATE TABLE photo_faces (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    score REAL,                     -- the detector's confidence; NULL for an archivist's box
    source TEXT NOT NULL,           -- the detector's name (centerface), or archivist
    removed INTEGER NOT NULL DEFAULT 0,
    who TEXT,                       -- the archivist who added or removed it
    at TEXT
);
CREATE INDEX idx_photo_faces_photo ON photo_faces(photo_id);
-- Archives that already have photos keep showing what they showed; new archives obscure faces.
INSERT INTO settings (key, value) SELECT 'public-faces', 'show' WHERE EXISTS (SELECT 1 FROM photos)
    ON CONFLICT(key) DO NOTHING;
-- A public rendition's pixels change with its boxes, its consent or the setting: new URLs, old ones dead.
CREATE TRIGGER photos_rendition_faces AFTER UPDATE OF faces_status, faces_shown ON photos
WHEN old.faces_status IS NOT new.faces_status OR old.faces_shown IS NOT new.faces_shown
BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.id;
END;
CREATE TRIGGER photo_faces_rendition_i AFTER INSERT ON photo_faces BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.photo_id;
END;
CREATE TRIGGER photo_faces_rendition_u AFTER UPDATE ON photo_faces BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id IN (old.photo_id, new.photo_id);
END;
CREATE TRIGGER photo_faces_rendition_d AFTER DELETE ON photo_faces BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = old.photo_id;
END;
CREATE TRIGGER settings_faces_rendition_i AFTER INSERT ON settings WHEN new.key = 'public-faces' BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION};
END;
CREATE TRIGGER settings_faces_rendition_u AFTER UPDATE ON settings
WHEN new.key = 'public-faces' AND old.value IS NOT new.value BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION};
END;
CREATE TRIGGER settings_faces_rendition_d AFTER DELETE ON settings WHEN old.key = 'public-faces' BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION};
END;
-- A photo whose faces are not settled waits (publication.py) while public-faces is blur: the state
-- triggers now watch the detection, the consent and the setting too.
DROP TRIGGER photos_state_ai;
DROP TRIGGER photos_state_au;
DROP TRIGGER licences_state_au;
CREATE TRIGGER photos_state_ai AFTER INSERT ON photos BEGIN
  UPDATE photos SET state = {state_sql("new")} WHERE id = new.id;
END;
CREATE TRIGGER photos_state_au AFTER UPDATE OF withheld, pending, licence_id, creator, faces_status, faces_shown
ON photos BEGIN
  UPDATE photos SET state = {state_sql("new")} WHERE id = new.id AND state IS NOT {state_sql("new")};
END;
CREATE TRIGGER licences_state_au AFTER UPDATE OF attribution_required ON licences BEGIN
  UPDATE photos SET state = {state_sql("photos")} WHERE licence_id = new.id AND state IS NOT {state_sql("photos")};
END;
CREATE TRIGGER settings_state_i AFTER INSERT ON settings WHEN new.key = 'public-faces' BEGIN
  UPDATE photos SET state = {state_sql("photos")} WHERE state IS NOT {state_sql("photos")};
END;
CREATE TRIGGER settings_state_u AFTER UPDATE ON settings WHEN new.key = 'public-faces' BEGIN
  UPDATE photos SET state = {state_sql("photos")} WHERE state IS NOT {state_sql("photos")};
END;
CREATE TRIGGER settings_state_d AFTER DELETE ON settings WHEN old.key = 'public-faces' BEGIN
  UPDATE photos SET state = {state_sql("photos")} WHERE state IS NOT {state_sql("photos")};
END;
UPDATE photos SET state = {state_sql("photos")} WHERE state IS NOT {state_sql("photos")};
"""

_V17 = """
-- A photo's second original: the camera raw of a RAW+JPEG pair (or the JPEG, when the raw came
-- first), stored by its own hash beside the photo's (catalogue/pairs.py). Private, like photo_sources.
CREATE TABLE photo_originals (
    sha256 TEXT PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id),
    format TEXT NOT NULL,
    mime_type TEXT,
    file_size INTEGER,
    added_at TEXT NOT NULL
);
CREATE INDEX idx_photo_originals_photo ON photo_originals(photo_id);
"""

_V18 = """
-- Roles (issue 16): a photographer uploads and edits their own photos before they are public, an
-- archivist reviews and publishes, an admin also runs accounts and settings. Accounts made before
-- roles existed were archivists and stay so. `uploads` is every file a signed-in account sent
-- through /-/gallery/upload: who sent it (the photo's uploader), the name and hash the browser
-- declared, the batch's defaults, and what became of it. Private, like `archivists`.
ALTER TABLE archivists ADD COLUMN role TEXT NOT NULL DEFAULT 'archivist'
    CHECK (role IN ('photographer', 'archivist', 'admin'));
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    batch TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'receiving'
        CHECK (state IN ('receiving', 'queued', 'imported', 'duplicate', 'problem')),
    photo_id INTEGER REFERENCES photos(id),
    problem TEXT,
    defaults TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_uploads_account ON uploads(account, created_at);
CREATE INDEX idx_uploads_photo ON uploads(photo_id);
CREATE INDEX idx_uploads_state ON uploads(state, updated_at);
-- One-time links an admin makes for a new photographer (/-/gallery/invite/TOKEN): only the
-- token's SHA-256 is kept, so the table cannot be used to sign anyone up.
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    role TEXT NOT NULL DEFAULT 'photographer' CHECK (role IN ('photographer')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
"""

# An upsert, not INSERT OR REPLACE: a trigger's conflict clause gives way to the outer statement's.
_RETAG_NOTE = ("INSERT INTO retag_queue (item) VALUES ({}) "
               "ON CONFLICT(item) DO UPDATE SET seq = (SELECT max(seq) + 1 FROM retag_queue)")


# The item noted last: an import notes each of a photo's facts in a row, and once is enough.
_LAST = "(SELECT item FROM retag_queue ORDER BY seq DESC LIMIT 1)"


def _retag_on(table: str, when: dict[str, str], items: dict[str, list[str]]) -> str:
    """Triggers that note, for `ingest retag`, what a write to `table` may change (ROW: old or new)."""
    out = []
    for op, ops in items.items():
        rows = [i.replace("ROW", r) for i in ops for r in (("old",) if op == "DELETE" else ("new",) if op == "INSERT"
                                                              else ("old", "new"))]
        body = " ".join(_RETAG_NOTE.format(i) + ";" for i in dict.fromkeys(rows))
        out.append(f"CREATE TRIGGER {table}_retag_{op.split()[0][0].lower()} AFTER {op} ON {table} "
                   f"{when.get(op, '')} BEGIN {body} END;")
    return "\n".join(out)


_V19 = f"""
-- What `ingest retag` must re-derive (importer/retag.py): triggers note each change of a photo's
-- facts or corrections, and each registry entry as it was and as it is, whoever writes, so that a
-- retag re-derives only those photos and the candidates of those entries, not the whole archive.
-- Items: photo:<id>; demo:<id> (photos tagged with it); day:<YYYY-MM-DD|YYYY-MM> (photos of that
-- day or month); named (photos whose facts name an event); cities (photos whose city came from
-- names: a renamed city or alias); cities-new (a new city or alias, as every import in a new place
-- adds: photos whose city came from folder names or the registry, or is unknown); city:<id>;
-- licence-default; all. A provisional
-- group (unnamed, never matched by date) changes no other photo's tags as it comes and goes.
-- A re-noted item moves to the end, so a retag clears only what it saw before it began.
CREATE TABLE retag_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item TEXT NOT NULL UNIQUE
);
{_retag_on("metadata", {"INSERT": f"WHEN {_LAST} IS NOT 'photo:' || new.photo_id"},
           {"INSERT": ["'photo:' || ROW.photo_id"], "UPDATE": ["'photo:' || ROW.photo_id"],
            "DELETE": ["'photo:' || ROW.photo_id"]})}
{_retag_on("corrections", {}, {"INSERT": ["'photo:' || ROW.photo_id"], "UPDATE": ["'photo:' || ROW.photo_id"],
                               "DELETE": ["'photo:' || ROW.photo_id"]})}
{_retag_on("demonstrations",
           {"INSERT": "WHEN new.provisional = 0", "DELETE": "WHEN old.provisional = 0",
            "UPDATE OF name, date, city_id, provisional":
            "WHEN old.name IS NOT new.name OR old.date IS NOT new.date OR old.city_id IS NOT new.city_id "
            "OR old.provisional IS NOT new.provisional"},
           {"INSERT": ["'demo:' || ROW.id", "'day:' || coalesce(ROW.date, '')", "'named'"],
            "UPDATE OF name, date, city_id, provisional": ["'demo:' || ROW.id", "'day:' || coalesce(ROW.date, '')", "'named'"],
            "DELETE": ["'demo:' || ROW.id", "'day:' || coalesce(ROW.date, '')", "'named'"]})}
{_retag_on("cities", {"UPDATE OF name, geonames_id": "WHEN old.name IS NOT new.name OR old.geonames_id IS NOT new.geonames_id"},
           {"INSERT": ["'cities-new'"], "UPDATE OF name, geonames_id": ["'cities'", "'city:' || ROW.id"],
            "DELETE": ["'cities'", "'city:' || ROW.id"]})}
{_retag_on("city_aliases", {}, {"INSERT": ["'cities-new'"], "UPDATE": ["'cities'"], "DELETE": ["'cities'"]})}
{_retag_on("settings", {"INSERT": "WHEN new.key = 'default-licence'", "UPDATE": "WHEN new.key = 'default-licence'",
                        "DELETE": "WHEN old.key = 'default-licence'"},
           {"INSERT": ["'licence-default'"], "UPDATE": ["'licence-default'"], "DELETE": ["'licence-default'"]})}
-- `ingest verify` runs (media/verify.py): when the store was last checked in full, and where a
-- nightly --sample stopped (the next one starts after last_id). Not in settings: a settings write
-- republishes every photo.
CREATE TABLE verify_runs (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    mode TEXT NOT NULL,             -- full or sample
    first_id INTEGER,               -- the photos checked, in id order (a sample may wrap around)
    last_id INTEGER,
    checked INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    seconds REAL NOT NULL,
    findings INTEGER NOT NULL
);
-- Each `ingest retag` looks for photos without a perceptual hash (importer/retag.py fill_phashes):
-- this index finds them without reading every row.
CREATE INDEX idx_photos_no_phash ON photos(id) WHERE phash IS NULL;
-- An archive that already has photos was retagged in full until now: its first retag is full too.
INSERT INTO retag_queue (item) SELECT 'all' WHERE EXISTS (SELECT 1 FROM photos);
"""

_V20 = f"""
-- Fewer writes per imported photo (issue 15 item 8): a new row's derived columns (what its licence
-- allows, year, state, rendition) set by one UPDATE instead of four, each of which logged the photo
-- for the public copy again and one of which renewed the rendition a second time; none when the
-- insert brought them right already (as ingest's does: record.py). A change of state, orientation
-- or file renews the rendition unless the same write already did.
DROP TRIGGER photos_licence_ai;
DROP TRIGGER photos_year_ai;
DROP TRIGGER photos_rendition_ai;
DROP TRIGGER photos_state_ai;
CREATE TRIGGER photos_derive_ai AFTER INSERT ON photos
WHEN new.rendition IS NULL OR new.state IS NOT {state_sql("new")}
  OR new.year IS NOT CASE WHEN new.date IS NULL THEN new.year ELSE CAST(substr(new.date, 1, 4) AS INTEGER) END
  OR ({", ".join(f"new.{c}" for c in PERMISSIONS)}) IS NOT
     (SELECT {_PERMISSIONS} FROM licences WHERE licences.id = new.licence_id)
BEGIN
  UPDATE photos SET ({_PERMISSIONS}) =
      (SELECT {_PERMISSIONS} FROM licences WHERE licences.id = new.licence_id),
    year = CASE WHEN new.date IS NULL THEN new.year ELSE CAST(substr(new.date, 1, 4) AS INTEGER) END,
    state = {state_sql("new")},
    rendition = coalesce(new.rendition, {NEW_RENDITION})
  WHERE id = new.id;
END;
DROP TRIGGER photos_rendition_au;
CREATE TRIGGER photos_rendition_au AFTER UPDATE OF state, orientation, sha256 ON photos
WHEN (old.state IS NOT new.state OR old.orientation IS NOT new.orientation OR old.sha256 IS NOT new.sha256)
  AND old.rendition IS new.rendition
BEGIN
  UPDATE photos SET rendition = {NEW_RENDITION} WHERE id = new.id;
END;
"""

# Each step is one SQL script, applied atomically together with its version number.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12, _V13, _V14, _V15, _V16,
                         _V17, _V18, _V19, _V20]

@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One unit of writes: all of it lands or none of it (a kill mid-way rolls back).

    Inside a `Batch` it is a savepoint of the batch's transaction, so one photo's rows still go
    together while the commit (the costly part) is shared by many photos.
    """
    conn = db.conn
    if conn.in_transaction:
        conn.execute("SAVEPOINT unit")
        try:
            yield db
        except BaseException:
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
            raise
        conn.execute("RELEASE unit")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Batch:
    """Commit every `seconds` or `size` units instead of after each: a kill loses at most that much
    recent work (never consistency: files are in the store before their rows), and re-running redoes it."""

    def __init__(self, db: sqlite_utils.Database, seconds: float = 0.5, size: int = 200):
        self.db, self.seconds, self.size = db, seconds, size
        self.count, self.started = 0, 0.0

    def begin(self) -> None:
        if not self.db.conn.in_transaction:
            self.db.conn.execute("BEGIN IMMEDIATE")
            self.count, self.started = 0, time.monotonic()

    def tick(self) -> None:
        self.count += 1
        if self.count >= self.size or time.monotonic() - self.started >= self.seconds:
            self.commit()

    def commit(self) -> None:
        if self.db.conn.in_transaction:
            self.db.conn.execute("COMMIT")


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def _statements(script: str) -> Iterator[str]:
    """A migration script's statements, one at a time (triggers' BEGIN ... END kept whole)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the numbered migrations not yet applied, each in its own transaction."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise ArchiveError(
            f"{db.conn.execute('PRAGMA database_list').fetchone()[2]}: schema version {version} "
            f"is newer than this ingest understands ({len(MIGRATIONS)}); upgrade the package"
        )
    conn = db.conn
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # Under the write lock, look again: another command opening the catalogue at the same
        # moment may have applied this step already (executescript would commit before its own
        # BEGIN, so the statements run one by one in this transaction).
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db) < number:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    with transaction(db):
        seed_licences(db)
    return len(MIGRATIONS)


def connect(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open the catalogue in WAL mode so Datasette can read while ingest writes."""
    path = Path(path)
    if not create and not path.exists():
        raise ArchiveError(f"{path}: no such catalogue (run `ingest PATH...` first)")
    if str(path) != ":memory:" and not path.parent.exists():
        raise ArchiveError(f"{path}: folder {path.parent} does not exist")
    if create and str(path) != ":memory:":
        _from_template(path)
    try:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        mode = _wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.create_function("name_key", 1, lambda v: key(v) if isinstance(v, str) else v, deterministic=True)
    except sqlite3.DatabaseError as e:
        raise ArchiveError(f"{path}: not a usable SQLite database ({e})") from None
    if mode.lower() != "wal" and not (str(path) == ":memory:" and mode.lower() == "memory"):
        raise ArchiveError(f"{path}: cannot switch to WAL mode (got {mode})")
    db = sqlite_utils.Database(conn)
    try:
        migrate(db)
    except sqlite3.DatabaseError as e:
        raise ArchiveError(f"{path}: cannot set up the catalogue ({e})") from None
    return db


def _from_template(path: Path) -> None:
    """A new catalogue starts as a copy of one with every migration applied, instead of applying
    them (~15 ms of CPU and a commit each). Only where nothing is yet (a WAL file left behind would be
    replayed over it), and atomically: a hard link that fails if another command created it first.
    Anything unusual leaves the file to `migrate`, as before."""
    if any(os.path.lexists(f"{path}{end}") for end in ("", "-wal", "-shm")):
        return
    try:
        data = _template(tuple(MIGRATIONS))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink()
    except (OSError, sqlite3.Error):
        pass


@lru_cache(maxsize=2)
def _template(migrations: tuple[str, ...]) -> bytes:
    """A catalogue's bytes after `migrations` (MIGRATIONS, as `migrate` applies them), kept in the
    cache folder under their hash and the SQLite version (a cached copy whose header says another
    schema version is made again)."""
    digest = hashlib.sha256("\0".join(migrations).encode()).hexdigest()[:16]
    name = f"catalogue-v{len(migrations)}-{sqlite3.sqlite_version}-{digest}-wal.db"
    data = cache.read(name)
    if data is None or data[:16] != b"SQLite format 3\x00" or int.from_bytes(data[60:64], "big") != len(migrations):
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            conn.create_function("name_key", 1, lambda v: key(v) if isinstance(v, str) else v, deterministic=True)
            migrate(sqlite_utils.Database(conn))
            data = conn.serialize()
        finally:
            conn.close()
        data = data[:18] + b"\x02\x02" + data[20:]   # the header's WAL mark, as `PRAGMA journal_mode = WAL` writes it
        cache.write(name, data)
    return data


def _wal(conn: sqlite3.Connection, patience: float = 30) -> str:
    """Switch to WAL. Two commands creating the catalogue at once both try, and the loser gets
    "database is locked" at once, without SQLite's busy handler waiting: so wait here instead."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def seed_licences(db: sqlite_utils.Database) -> None:
    """Insert or refresh the catalogue rows (an upsert: photos reference them).

    Rows already right are left alone, so opening the catalogue writes nothing (and the public copy
    has nothing to republish)."""
    cols = list(Licence.__dataclass_fields__)
    rest = cols[1:]
    sql = (
        f"INSERT INTO licences ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c}=excluded.{c}' for c in rest)} "
        f"WHERE ({', '.join(f'licences.{c}' for c in rest)}) IS NOT ({', '.join(f'excluded.{c}' for c in rest)})"
    )
    db.conn.executemany(sql, [tuple(getattr(lic, c) for c in cols) for lic in catalogue()])
