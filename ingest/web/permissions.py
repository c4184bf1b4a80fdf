"""Who may do what on the databases the gallery manages, under Datasette 0.65 and 1.0 alike.

The plugin has an opinion about its own databases only: a private catalogue is closed to everyone
but archivists, and its public copy is left to Datasette's defaults (anyone reads and queries it:
whatever the copy does not hold cannot leak). Every other database gets no opinion at all, so it
behaves exactly as in plain Datasette.

The decision is `closed_to(datasette, actor)`: the databases this visitor may do nothing with.
plugin.py hands it to whichever permission hook the installed Datasette calls: 0.65's
`permission_allowed` (False for those databases) or 1.0's `permission_resources_sql` (deny rows,
`deny_rows`). The plugin's own pages ask through `allowed`, which speaks both generations.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ingest.catalogue import review
from ingest.web import serving

SESSION = "gs"  # the session token's key in an actor (auth.py)

# Datasette 1.0 checks actions against resources in SQL (`permission_resources_sql`, `allowed`);
# 0.65 asks `permission_allowed` hooks and `datasette.permission_allowed`.
try:
    from datasette.permissions import PermissionSQL
    from datasette.resources import DatabaseResource, TableResource
except ImportError:  # Datasette 0.65
    PermissionSQL = DatabaseResource = TableResource = None
DATASETTE_1 = PermissionSQL is not None

_CATALOGUE_FILES: dict[str, tuple[tuple, bool]] = {}  # path -> (its files' stat, is a catalogue)
# Canned queries only archivists may see or run (catalogue/review.py): closed here, not by a
# query-level `allow` in metadata.yml, which would break `datasette -m metadata.yml` on 1.0.
ARCHIVISTS_QUERIES = review.ARCHIVISTS_QUERIES


def is_archivist(actor: dict | None) -> bool:
    """Archivists see the catalogue; everyone else sees the public copy. An archivist is a signed-in
    session (auth.py checks it against the accounts on every request) whose account has the role:
    never an id alone, nor Datasette's --root."""
    return (isinstance(actor, dict) and bool(actor.get(SESSION))
            and "archivist" in (actor.get("roles") or ()))


def _roles(actor: dict | None) -> tuple[str, ...]:
    """A signed-in session's roles (auth.py checked them against the account); none for anything else."""
    if not (isinstance(actor, dict) and actor.get(SESSION)):
        return ()
    return tuple(r for r in actor.get("roles") or () if isinstance(r, str))


def is_photographer(actor: dict | None) -> bool:
    """A photographer uploads and sees their own photos; never the catalogue, never a publish."""
    return "photographer" in _roles(actor)


def is_admin(actor: dict | None) -> bool:
    """An admin is an archivist who also runs accounts and settings."""
    return "admin" in _roles(actor)


def may_upload(actor: dict | None) -> bool:
    """Photographers, archivists and admins upload; visitors and bare actors never."""
    return is_photographer(actor) or is_archivist(actor)


def may_edit_upload(actor: dict | None, uploader: str | None, state: str | None) -> bool:
    """May this actor correct a photo that UPLOADER sent and that is now in STATE? Archivists any;
    a photographer only their own, and only while it is not public (never one that was withheld:
    that is an archivist's decision)."""
    if is_archivist(actor):
        return True
    return (is_photographer(actor) and uploader is not None and actor.get("id") == uploader
            and state not in ("public", "withheld"))


def _stat(path: str) -> tuple:
    out = []
    for name in (path, path + "-wal"):
        try:
            st = os.stat(name)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _is_catalogue_file(path: str | None) -> bool:
    """serving.is_catalogue, remembered until the file (or its WAL) changes: permission checks are many."""
    if not path:
        return False
    stat = _stat(path)
    cached = _CATALOGUE_FILES.get(path)
    if cached is None or cached[0] != stat:
        cached = (stat, serving.is_catalogue(path))
        _CATALOGUE_FILES[path] = cached
    return cached[1]


def managed(datasette) -> set[str]:
    """The databases this plugin serves: each public copy and each catalogue behind one."""
    return serving.public_names(datasette) | serving.catalogue_names(datasette)


def closed(datasette) -> set[str]:
    """The private catalogues: those served behind a public copy, and any catalogue file served
    as it is (before startup published it, or added later): its withheld photos are in it."""
    names = set(serving.catalogue_names(datasette))
    copies = serving.public_names(datasette)
    for name, db in datasette.databases.items():
        if name in names or name in copies or name == "_internal" or db.is_memory:
            continue
        if _is_catalogue_file(db.path):
            names.add(name)
    return names


def closed_to(datasette, actor: dict | None) -> set[str]:
    """The databases this visitor may do nothing with (no action at all, not even seeing them)."""
    return set() if is_archivist(actor) else closed(datasette)


def decide(datasette, actor: dict | None, database: str | None, child: str | None = None,
           action: str | None = None) -> bool | None:
    """0.65's answer for one check: False on a closed database, and on an archivists' query of the
    gallery's for anyone else; otherwise no opinion (Datasette decides)."""
    if database is None:
        return None
    if database in closed_to(datasette, actor):
        return False
    if action == "view-query" and child in ARCHIVISTS_QUERIES and not is_archivist(actor) \
            and database in managed(datasette):
        return False
    return None


async def deny_rows(datasette, actor: dict | None, action: str) -> Any:
    """1.0's answer: a PermissionSQL denying `action` on every closed database and on each of its
    tables and queries (a table- or query-level allow in the configuration would otherwise win
    over a database-level deny). None when there is nothing to deny."""
    spec = datasette.actions.get(action)
    if spec is None or spec.resource_class is None:
        return None  # instance-wide actions: not ours to decide
    names = closed_to(datasette, actor)
    queries = [] if (action != "view-query" or is_archivist(actor)) else [
        [database, query] for database in sorted(managed(datasette) - names) for query in sorted(ARCHIVISTS_QUERIES)]
    if not names and not queries:
        return None

    reason = "the catalogue is for archivists (ingest gallery)"
    params = {"gallery_closed": json.dumps(sorted(names)), "gallery_reason": reason,
              "gallery_queries": json.dumps(queries), "gallery_query_reason": "a query for archivists (ingest gallery)"}
    sql = ("SELECT value AS parent, NULL AS child, 0 AS allow, :gallery_reason AS reason "
           "FROM json_each(:gallery_closed)")
    if spec.takes_child:
        children = await spec.resource_class.resources_sql(datasette)
        sql += (" UNION ALL SELECT parent, child, 0 AS allow, :gallery_reason AS reason "
                f"FROM ({children}) WHERE parent IN (SELECT value FROM json_each(:gallery_closed))")
    sql += (" UNION ALL SELECT json_extract(value, '$[0]') AS parent, json_extract(value, '$[1]') AS child, "
            "0 AS allow, :gallery_query_reason AS reason FROM json_each(:gallery_queries)")
    return PermissionSQL(sql=sql, params=params)


async def allowed(datasette, actor: dict | None, action: str, database: str | None = None,
                  table: str | None = None) -> bool:
    """May `actor` do `action` (on this database, or this table of it)? Datasette's full answer,
    every plugin's rules included, in whichever form the installed Datasette asks it."""
    if DATASETTE_1:

        resource = (TableResource(database, table) if table is not None
                    else DatabaseResource(database) if database is not None else None)
        return await datasette.allowed(action=action, resource=resource, actor=actor)
    resource = (database, table) if table is not None else database
    return await datasette.permission_allowed(actor, action, resource, default=True)


async def may_see_table(datasette, actor: dict | None, database: str, table: str) -> bool:
    """The instance, the database and the table all open to this visitor (0.65 and 1.0 alike:
    a private deployment closes the first, the plugin the second)."""
    return (await allowed(datasette, actor, "view-instance")
            and await allowed(datasette, actor, "view-database", database)
            and await allowed(datasette, actor, "view-table", database, table))
