"""A signed-in archivist's cookies for tests: a real account in the catalogue and a session made
the way /-/login makes it (auth.session_actor), so the middleware accepts it."""

from __future__ import annotations

from pathlib import Path

from ingest.catalogue.accounts import accounts, add_archivist
from ingest.catalogue.schema import connect
from ingest.web.auth import session_actor

NAME, PASSWORD = "tester", "a long enough password"


def archivist_cookies(ds, catalogue: str | Path, name: str = NAME) -> dict:
    db = connect(catalogue, create=False)
    try:
        if name not in accounts(db):
            add_archivist(db, name, PASSWORD)
        account = accounts(db)[name]
    finally:
        db.conn.close()
    return {"ds_actor": ds.sign({"a": session_actor(account)}, "actor")}
