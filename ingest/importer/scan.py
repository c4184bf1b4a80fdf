"""Walk the paths given on the command line; yield the files worth opening.

Unchanged files (same path, size and mtime as last time) are recognised here without being opened,
which is what makes re-running over the same card fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

# Files that are never photos, skipped silently when found inside a folder (named ones are reported).
_SKIP_SUFFIXES = {".xmp", ".txt", ".md", ".json", ".csv", ".db", ".ini", ".thm", ".lrv", ".aae",
                  ".mov", ".mp4", ".m4v", ".avi", ".mts", ".wav", ".mp3", ".pdf", ".html", ".yml", ".yaml"}
_SKIP_NAMES = {"Thumbs.db", "desktop.ini", ".DS_Store"}


@dataclass(frozen=True)
class Candidate:
    path: str       # absolute (from a resolved root): the key a re-scan matches on
    size: int
    mtime_ns: int   # the newer of the file's and its XMP sidecar's
    named: bool     # given explicitly on the command line
    sidecars: tuple[str, ...] = ()   # its XMP sidecars, as `sidecars_in` finds them


@dataclass(frozen=True)
class Missing:
    path: str
    reason: str


def sidecars_in(name: str, listing: dict[str, os.DirEntry]) -> list[os.DirEntry]:
    """The one rule for which XMP files belong to a photo: `NAME.xmp` (digiKam, darktable) first,
    then `STEM.xmp` (Lightroom), the letters in any case (`IMG.Xmp`). `listing` holds a folder's
    .xmp entries keyed by lower-case name."""
    found: list[os.DirEntry] = []
    for candidate in (f"{name}.xmp", f"{Path(name).stem}.xmp"):
        entry = listing.get(candidate.lower())
        if entry is not None and entry.name != name and entry not in found:
            found.append(entry)
    return found


def xmp_listing(folder: str | Path) -> dict[str, os.DirEntry]:
    """A folder's .xmp files keyed by lower-case name (empty when it cannot be read)."""
    try:
        return {e.name.lower(): e for e in os.scandir(folder) if e.name.lower().endswith(".xmp")}
    except OSError:
        return {}


def sidecar_paths(path: Path) -> list[Path]:
    """A file's sidecars by the same rule as the scan, for callers that have no listing."""
    return [Path(e.path) for e in sidecars_in(path.name, xmp_listing(path.parent))]


def _sidecars(name: str, listing: dict[str, os.DirEntry]) -> tuple[tuple[str, ...], int]:
    """(the file's sidecars, their newest mtime): editing a sidecar is a change to the photo."""
    paths, newest = [], 0
    for entry in sidecars_in(name, listing):
        try:
            newest = max(newest, entry.stat().st_mtime_ns)
        except OSError:
            continue
        paths.append(entry.path)
    return tuple(paths), newest


def _walk(root: Path) -> Iterator[tuple[Path, tuple[tuple[str, ...], int]]]:
    """(path, (sidecars, their mtime)) depth-first, sorted (so runs are reproducible), hidden files and folders skipped."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    listing = {e.name.lower(): e for e in entries if e.name.lower().endswith(".xmp")}
    for entry in entries:
        if entry.name.startswith(".") or entry.name in _SKIP_NAMES:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path))
            elif entry.is_file(follow_symlinks=True):
                if Path(entry.name).suffix.lower() not in _SKIP_SUFFIXES:
                    yield Path(entry.path), _sidecars(entry.name, listing) if listing else ((), 0)
        except OSError:
            continue


def scan(paths: Iterable[str | Path]) -> Iterator[Candidate | Missing]:
    """Files under `paths`, each once, in a stable order."""
    seen: set[str] = set()
    for given in paths:
        root = Path(given)
        if not root.exists():
            yield Missing(str(given), "no such file or folder")
            continue
        named = root.is_file()
        if not named and not root.is_dir():  # a FIFO or a device would block or never end
            yield Missing(str(given), "not a regular file or folder")
            continue
        # Resolve the root once; paths below it are absolute already (resolving each is half a re-scan).
        if named:
            path = root.resolve()
            found: Iterable[tuple[Path, tuple[tuple[str, ...], int]]] = [
                (path, _sidecars(path.name, xmp_listing(path.parent)))]
        else:
            found = _walk(root.resolve())
        for path, (sidecars, sidecar_mtime) in found:
            key = str(path)
            if key in seen:
                continue
            seen.add(key)
            try:
                st = os.stat(key)
            except OSError as e:
                yield Missing(key, f"cannot read: {e.strerror}")
                continue
            yield Candidate(key, st.st_size, max(st.st_mtime_ns, sidecar_mtime), named, sidecars)
