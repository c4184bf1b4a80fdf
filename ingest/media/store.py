"""The photo store: originals by content hash, never modified; derivatives beside them.

Every file is written to a temporary name in its final folder, synced, then renamed, so a kill at
any moment leaves either the whole file or none (a leftover `.tmp-*` is swept on the next run).
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

from ingest.errors import ArchiveError

KINDS = ("web", "thumbs")


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def original(self, sha256: str, ext: str) -> Path:
        return self.root / "originals" / sha256[:2] / sha256[2:4] / f"{sha256}.{ext}"

    def derivative(self, kind: str, sha256: str) -> Path:
        if kind not in KINDS:
            raise ValueError(kind)
        return self.root / kind / sha256[:2] / f"{sha256}.jpg"

    def has_derivatives(self, sha256: str) -> bool:
        return all(self.derivative(kind, sha256).is_file() for kind in KINDS)

    def ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArchiveError(f"{self.root}: cannot create the store ({e.strerror})") from None
        if not os.access(self.root, os.W_OK):
            raise ArchiveError(f"{self.root}: the store is not writable")


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file, or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def put_original(store: Store, sha256: str, ext: str, data: bytes) -> Path:
    """Store an original once; an existing file with the right size is the same bytes (named by hash)."""
    path = store.original(sha256, ext)
    if path.is_file() and path.stat().st_size == len(data):
        return path
    write_atomic(path, data)
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sweep_temporaries(store: Store, older_than: float = 3600) -> int:
    """Remove temporary files a killed run left behind; returns how many.

    Only old ones: a temporary file of a run still going on in another process is not debris.
    """
    count = 0
    if not store.root.is_dir():
        return 0
    cutoff = time.time() - older_than
    for tmp in store.root.rglob(".tmp-*"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                count += 1
        except OSError:
            pass
    return count
