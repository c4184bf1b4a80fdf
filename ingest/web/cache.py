"""Answers that only change when the public copy does, kept until it does.

Counting facets over the whole archive or a filter is what a gallery page costs (bench/gallery.py):
the counts only change when the public copy is refreshed, and the copy records the catalogue's log
position it reflects (publish_state), so a result keyed by that version is never stale: a
withdrawal moves the version, and the next request counts again. Per Datasette instance, the
oldest entries go first.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

SIZE = 512
_entries: weakref.WeakKeyDictionary[Any, OrderedDict] = weakref.WeakKeyDictionary()


VERSION_SQL = "SELECT key, value FROM publish_state ORDER BY key"


def version_text(rows) -> str:
    """The copy's version from its publish_state rows (VERSION_SQL)."""
    return ";".join(f"{r[0]}={r[1]}" for r in rows)


async def copy_version(db) -> str:
    """Changes whenever the public copy does (its refresh records the catalogue's log position and
    the location setting it published)."""
    return version_text((await db.execute(VERSION_SQL)).rows)


async def cached(datasette, db, key: tuple, compute: Callable[[], Awaitable[Any]],
                 keep: Callable[[Any], bool] = lambda value: True) -> Any:
    """compute() once per public-copy version and key; a value `keep` refuses is not remembered."""
    entries = _entries.setdefault(datasette, OrderedDict())
    full = (db.name, await copy_version(db), *key)
    if full in entries:
        entries.move_to_end(full)
        return entries[full]
    value = await compute()
    if keep(value):
        entries[full] = value
        while len(entries) > SIZE:
            entries.popitem(last=False)
    return value
