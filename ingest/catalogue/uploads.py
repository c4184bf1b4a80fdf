"""Files sent through the browser (`uploads`, private): who sent them, what became of them.

A row is made when the browser announces a file (name, size, SHA-256) and says where the upload
stands: `receiving` (bytes arriving in the staging folder, media/staging.py), `queued` (complete
and checked, waiting for the import worker), then `imported` (photo_id names the photo: the
uploader is recorded here), `duplicate` (those bytes were already in the archive) or `problem`
(the import refused the file; `problem` says why in one line). Chunks never touch this table, so
an upload in progress costs the catalogue nothing but its first and last write.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from ingest.catalogue import settings
from ingest.catalogue.schema import transaction
from ingest.times import now

LIVE = ("receiving", "queued", "imported")   # what counts against an account's quota
DEFAULT_FIELDS = ("licence", "creator", "demo")


@dataclass(frozen=True)
class Upload:
    id: str
    account: str
    batch: str
    file_name: str
    size: int
    sha256: str
    state: str
    photo_id: int | None
    problem: str | None
    defaults: dict[str, str]
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.file_name, "size": self.size, "state": self.state,
                "photo": self.photo_id, "problem": self.problem}


_COLUMNS = "id, account, batch, file_name, size, sha256, state, photo_id, problem, defaults, created_at"


def _upload(row) -> Upload:
    *head, defaults, created = row
    return Upload(*head, json.loads(defaults or "{}"), created)


def get(db: sqlite_utils.Database, upload_id: str) -> Upload | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE id = ?", [upload_id]).fetchone()
    return _upload(row) if row else None


def in_archive(db: sqlite_utils.Database, sha256: str) -> int | None:
    """The photo already holding these bytes (as its original or its second one), or None."""
    row = db.execute("SELECT id FROM photos WHERE sha256 = ? UNION ALL "
                     "SELECT photo_id FROM photo_originals WHERE sha256 = ? LIMIT 1", [sha256, sha256]).fetchone()
    return row[0] if row else None


def open_upload(db: sqlite_utils.Database, account: str, sha256: str) -> Upload | None:
    """ACCOUNT's earlier upload of these bytes that has not failed (to resume, or to report)."""
    row = db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE account = ? AND sha256 = ? "
                     "AND state IN ('receiving', 'queued', 'imported') ORDER BY created_at DESC LIMIT 1",
                     [account, sha256]).fetchone()
    return _upload(row) if row else None


def used_bytes(db: sqlite_utils.Database, account: str) -> int:
    marks = ",".join("?" * len(LIVE))
    return db.execute(f"SELECT coalesce(sum(size), 0) FROM uploads WHERE account = ? AND state IN ({marks})",
                      [account, *LIVE]).fetchone()[0]


def batch_files(db: sqlite_utils.Database, account: str, batch: str) -> int:
    return db.execute("SELECT count(*) FROM uploads WHERE account = ? AND batch = ?", [account, batch]).fetchone()[0]


def limit_refusal(db: sqlite_utils.Database, account: str, batch: str, size: int) -> str | None:
    """Why the archive's limits refuse this file (one line for the uploader), or None."""
    most = settings.upload_limit(db, "upload-max-mb")
    if size > most * 1_000_000:
        return f"too large: {size / 1_000_000:.0f} MB, above the archive's limit of {most} MB per file"
    files = settings.upload_limit(db, "upload-batch-files")
    if batch_files(db, account, batch) >= files:
        return f"too many files in one batch: the archive takes at most {files}; send the rest as another batch"
    quota = settings.upload_limit(db, "upload-quota-mb")
    if used_bytes(db, account) + size > quota * 1_000_000:
        return f"over your quota of {quota} MB of uploads; ask an archivist for more room"
    return None


def create(db: sqlite_utils.Database, account: str, batch: str, file_name: str, size: int, sha256: str,
           defaults: dict[str, str]) -> Upload:
    stamp = now()
    upload_id = secrets.token_hex(16)
    kept = {k: v for k, v in defaults.items() if k in DEFAULT_FIELDS and v}
    with transaction(db):
        db.conn.execute(f"INSERT INTO uploads ({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'receiving', NULL, "
                        "NULL, ?, ?, ?)", [upload_id, account, batch, file_name, size, sha256,
                                           json.dumps(kept, ensure_ascii=False), stamp, stamp])
    return get(db, upload_id)


def mark(db: sqlite_utils.Database, upload_id: str, state: str, *, photo_id: int | None = None,
         problem: str | None = None) -> None:
    with transaction(db):
        db.conn.execute("UPDATE uploads SET state = ?, photo_id = ?, problem = ?, updated_at = ? WHERE id = ?",
                        [state, photo_id, problem, now(), upload_id])


def forget(db: sqlite_utils.Database, upload_ids: list[str]) -> None:
    """Drop rows of partial uploads that were abandoned (their staged bytes are gone)."""
    with transaction(db):
        db.conn.executemany("DELETE FROM uploads WHERE id = ? AND state = 'receiving'", [[i] for i in upload_ids])


def in_state(db: sqlite_utils.Database, state: str) -> list[Upload]:
    return [_upload(r) for r in db.execute(f"SELECT {_COLUMNS} FROM uploads WHERE state = ? ORDER BY created_at",
                                           [state]).fetchall()]


def last_defaults(db: sqlite_utils.Database, account: str) -> dict[str, str]:
    """The batch defaults of ACCOUNT's last upload: what the next batch's form starts from."""
    row = db.execute("SELECT defaults FROM uploads WHERE account = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                     [account]).fetchone()
    return json.loads(row[0] or "{}") if row else {}


def uploader(db: sqlite_utils.Database, photo_id: int) -> str | None:
    """Who uploaded the photo (the first to send its bytes), or None for a photo imported otherwise."""
    row = db.execute("SELECT account FROM uploads WHERE photo_id = ? AND state = 'imported' "
                     "ORDER BY created_at LIMIT 1", [photo_id]).fetchone()
    return row[0] if row else None


def owns_image(db: sqlite_utils.Database, account: str, sha256: str) -> bool:
    """Whether the photo with this sha256 is one ACCOUNT uploaded."""
    return db.execute("SELECT 1 FROM uploads u JOIN photos p ON p.id = u.photo_id WHERE u.account = ? "
                      "AND u.state = 'imported' AND p.sha256 = ?", [account, sha256]).fetchone() is not None


STATE_WORDS = {"pending": "waiting for review", "public": "published", "withheld": "withheld"}


def mine(db: sqlite_utils.Database, account: str, limit: int = 500) -> list[dict[str, Any]]:
    """ACCOUNT's uploads, newest first, each with the state a photographer reads: waiting,
    published, withheld, problem, already in the archive, or still arriving."""
    rows = db.execute(
        "SELECT u.id, u.file_name, u.state, u.problem, u.created_at, p.id, p.state, p.sha256, p.title "
        "FROM uploads u LEFT JOIN photos p ON p.id = u.photo_id AND u.state = 'imported' "
        "WHERE u.account = ? ORDER BY u.created_at DESC, u.rowid DESC LIMIT ?", [account, limit]).fetchall()
    out = []
    for upload_id, name, state, problem, created, photo_id, photo_state, sha, title in rows:
        if state == "imported" and photo_id is not None:
            status, words = photo_state, STATE_WORDS.get(photo_state, photo_state)
        else:
            status = state
            words = {"receiving": "not finished: drop it again to resume", "queued": "being imported",
                     "duplicate": "already in the archive", "problem": f"problem: {problem}"}.get(state, state)
        out.append({"upload": upload_id, "name": name, "status": status, "words": words, "created": created,
                    "photo": photo_id, "sha256": sha if photo_id else None, "title": title})
    return out
