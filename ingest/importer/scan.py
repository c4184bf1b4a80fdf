"""Walk the paths given on the command line; yield the files worth opening.

Unchanged files (same path, size and mtime as last time) are recognised here without being opened,
which is what makes re-running over the same card fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

# Files that are never photos, found inside a folder: not opened, but named as skipped.
_SKIP_SUFFIXES = {".txt", ".md", ".json", ".csv", ".ini", ".thm", ".lrv", ".aae",
                  ".mov", ".mp4", ".m4v", ".avi", ".mts", ".wav", ".mp3", ".pdf", ".html", ".yml", ".yaml"}
# Skipped without a word: sidecars (read with their photo), a catalogue's own files beside its store,
# and the files operating systems leave in every folder.
_SILENT_SUFFIXES = {".xmp", ".db", ".db-wal", ".db-shm", ".lock"}
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


@dataclass(frozen=True)
class Ignored:
    """A file in a folder that is not a photo by its name (a video, notes): not opened, but named."""
    path: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A folder not walked: the archive's own store (its originals and derivatives would come back
    as new photos, a public twin for every withheld one)."""
    path: str
    reason: str = "the archive's own store, skipped"


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


def _walk(root: Path, store: str | None = None) -> Iterator[tuple[str, tuple[tuple[str, ...], int]] | Skipped | Ignored]:
    """(path, (sidecars, their mtime)) depth-first, sorted (so runs are reproducible), hidden files and
    folders skipped; the store (a resolved path) is not entered but reported."""
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
                if entry.path == store:
                    yield Skipped(entry.path)
                    continue
                yield from _walk(Path(entry.path), store)
            elif entry.is_file(follow_symlinks=True):
                suffix = os.path.splitext(entry.name)[1].lower()
                if suffix in _SKIP_SUFFIXES:
                    yield Ignored(entry.path, f"not a photo ({suffix} file)")
                elif suffix not in _SILENT_SUFFIXES:
                    yield entry.path, _sidecars(entry.name, listing) if listing else ((), 0)
        except OSError:
            continue


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and (path == folder or folder in path.parents)


def scan(paths: Iterable[str | Path], store: str | Path | None = None) -> Iterator[Candidate | Missing | Skipped | Ignored]:
    """Files under `paths`, each once, in a stable order; nothing in the `store` folder."""
    seen: set[str] = set()
    own = Path(store).resolve() if store is not None else None
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
        resolved = root.resolve()
        if _inside(resolved, own):
            yield Skipped(str(own))
            continue
        if named:
            found: Iterable[tuple[str | Path, tuple[tuple[str, ...], int]] | Skipped | Ignored] = [
                (resolved, _sidecars(resolved.name, xmp_listing(resolved.parent)))]
        else:
            found = _walk(resolved, str(own) if own is not None else None)
        for item in found:
            if isinstance(item, (Skipped, Ignored)):
                yield item
                continue
            path, (sidecars, sidecar_mtime) = item
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
