"""What else differs between Datasette 0.65 and 1.0 for this plugin (permissions: permissions.py).

1.0 removed `datasette.metadata()` (instance metadata now lives in Datasette's internal database,
read with `get_instance_metadata()`) and the `get_metadata` hook; `/-/databases` became an object.
"""

from __future__ import annotations

import atexit
import copy
import re
import shutil
import tempfile
from pathlib import Path

import yaml
from datasette.version import __version__

from ingest.web.permissions import DATASETTE_1


async def instance_metadata(datasette, key: str) -> str | None:
    """One instance-level metadata value (title, source ...) as metadata.yml gives it."""
    read = getattr(datasette, "get_instance_metadata", None)
    if read is None:  # Datasette 0.65
        return datasette.metadata(key)
    value = (await read()).get(key)
    return value if isinstance(value, str) or value is None else str(value)


def _release(version: str) -> tuple[int, int, float]:
    """"0.65.5" -> (0, 65, inf), "1.0a41" -> (1, 0, 41): alphas before their release."""

    found = re.match(r"(\d+)\.(\d+)(?:\.\d+)?(?:a(\d+))?", version)
    if not found:
        return (0, 0, 0.0)
    major, minor, alpha = found.groups()
    return int(major), int(minor), float(alpha) if alpha else float("inf")


def _lists_as_objects() -> bool:
    """Datasette 1.0a36 made /-/databases.json (and /-/plugins.json) an object, not a list."""

    return _release(__version__) >= (1, 0, 36)


def databases_listing(entries: list[dict]):
    """/-/databases.json in the installed Datasette's shape: a list up to 1.0a35, then
    {"ok": true, "databases": [...]}."""
    return {"ok": True, "databases": entries} if _lists_as_objects() else entries


def split_metadata(metadata: dict) -> tuple[dict, dict]:
    """metadata.yml (0.65's kitchen sink) as (metadata, config) for the installed Datasette.

    Datasette 1.0 moves plugin settings, `allow` blocks and table settings out of metadata itself,
    but canned queries only count in its configuration (datasette.yaml): they move here. On 0.65
    everything stays in metadata, and the config is empty."""
    if not DATASETTE_1:
        return metadata, {}

    metadata, config = copy.deepcopy(metadata), {}
    for name, database in (metadata.get("databases") or {}).items():
        if isinstance(database, dict) and "queries" in database:
            config.setdefault("databases", {})[name] = {"queries": database.pop("queries")}
    return metadata, config


def datasette_options(metadata: dict) -> dict:
    """Datasette(...)'s keyword arguments for metadata.yml's content, on either generation."""
    metadata, config = split_metadata(metadata)
    return {"metadata": metadata, "config": config} if config else {"metadata": metadata}


def serve_arguments(metadata_file: str) -> list[str]:
    """`datasette serve`'s options for metadata.yml: itself on 0.65; on 1.0 its metadata and its
    configuration (split_metadata) as two files, kept until this process ends."""
    if not DATASETTE_1:
        return ["-m", metadata_file]


    metadata, config = split_metadata(yaml.safe_load(Path(metadata_file).read_text(encoding="utf-8")) or {})
    folder = Path(tempfile.mkdtemp(prefix="gallery-serve-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "metadata.yml").write_text(yaml.safe_dump(metadata, allow_unicode=True), encoding="utf-8")
    (folder / "datasette.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return ["-m", str(folder / "metadata.yml"), "-c", str(folder / "datasette.yml")]
