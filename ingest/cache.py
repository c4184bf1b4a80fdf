"""Derived data kept between runs, so that every command does not redo it (a parsed gazetteer, a
prepared face model): files in one folder, each written whole or not at all, any of them safe to
delete. Only ever derived from files the package ships, never from a user's photos."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$INGEST_CACHE, else the user's cache folder ($XDG_CACHE_HOME or ~/.cache)."""
    if (chosen := os.environ.get("INGEST_CACHE")):
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "demonstration-photo-archive"


def read(name: str) -> bytes | None:
    """The bytes kept under `name`, or None when there are none (or they cannot be read)."""
    try:
        return (cache_dir() / name).read_bytes()
    except OSError:
        return None


def write(name: str, data: bytes) -> None:
    """Keep `data` under `name`: a temporary file renamed, so a reader never sees half of it. A
    folder that cannot be written (a read-only home) only means the work is redone next time."""
    path = cache_dir() / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass
