"""Where uploaded bytes wait before the import: a folder the server chooses, never the client.

Each upload gets `<staging>/<upload id>/[<folder>/...]<name>`: the id is the server's random
token, and the browser's file name (with at most two of its folders, which the importer reads
dates and places from, as it does for `ingest PATH`) is cut down to plain components, so no
name can climb out (`..`, `/`, `\\`, NUL, a leading dot). Chunks are appended at the offset the
server holds; the file's size on disk is that offset, so a resumed upload asks the disk, not
the catalogue.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import time
from pathlib import Path

DAY = 24 * 3600
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
MAX_COMPONENT = 120
MAX_FOLDERS = 2


def _component(text: str) -> str:
    text = _UNSAFE.sub("_", text).strip().lstrip(".").strip()
    return text[:MAX_COMPONENT].rstrip(". ")


def safe_name(client_name: str) -> str:
    """The client's name ('march/day 1/IMG_1.jpg', perhaps hostile) as a relative path of plain
    components: its file name and at most two folders; 'upload' when nothing usable is left."""
    parts = [p for p in re.split(r"[/\\]+", client_name or "") if p not in ("", ".", "..")]
    cleaned = [c for c in (_component(p) for p in parts) if c and c not in (".", "..")]
    if not cleaned:
        return "upload"
    return "/".join([*cleaned[:-1][-MAX_FOLDERS:], cleaned[-1]])


def staged_path(root: Path, upload_id: str, name: str) -> Path:
    """The staged file of an upload (upload_id is the server's hex token)."""
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise ValueError("not an upload id")
    path = (root / upload_id / safe_name(name)).resolve()
    if root.resolve() / upload_id not in path.parents:
        raise ValueError("a staged file must stay in its upload's folder")
    return path


def received(path: Path) -> int:
    """Bytes held so far (the offset a resumed upload continues from)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def free_bytes(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free


def append(path: Path, offset: int, data: bytes, size: int) -> int:
    """Write DATA at OFFSET, which must be what the file holds, never past SIZE; returns the new
    offset. ValueError when the offset is not the file's (the client resumes from the answer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # two tabs sending the same file: one chunk at a time
        held = f.seek(0, os.SEEK_END)
        if offset != held:
            raise ValueError(f"offset {offset}, but {held} bytes are held")
        if held + len(data) > size:
            raise OverflowError(f"{held + len(data)} bytes, more than the {size} announced")
        f.write(data)
        return f.tell()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def discard(root: Path, upload_id: str) -> None:
    if re.fullmatch(r"[0-9a-f]{32}", upload_id):
        shutil.rmtree(root / upload_id, ignore_errors=True)


def stale(root: Path, upload_ids: list[str], older_than: float = DAY) -> list[str]:
    """Which of these partial uploads nobody has added to for OLDER_THAN seconds."""
    cutoff = time.time() - older_than
    out = []
    for upload_id in upload_ids:
        folder = root / upload_id
        newest = 0.0
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                try:
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
                except OSError:
                    continue
        if newest < cutoff:
            out.append(upload_id)
    return out
