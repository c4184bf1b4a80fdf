"""The public copy: what anonymous visitors may see, and nothing else.

The catalogue (gallery.db) holds everything: withheld photos, exact GPS, source paths, raw metadata,
corrections. Rather than filter it on every route (and miss one), the gallery serves a separate
SQLite file built from it that holds public rows and public columns only. What is not in the file
cannot leak through any page, JSON, CSV, facet count, search or SQL query, so anonymous visitors can
even be given SQL.

- photos: not withheld; no review notes, orientation or withheld flag; latitude/longitude per the
  archive's `public-location` setting (`exact`, `city`: the city's centre, the default; `none`).
- demonstrations: registry entries, and provisional groups that have a public photo.
- cities: those a public photo or demonstration names. licences: the whole catalogue.

The copy follows the catalogue through `publish_log` (filled by triggers in the catalogue, so any
writer counts): `refresh` applies what changed since its last run, in one transaction, and rebuilds
when the log was pruned past it (or went back: a catalogue restored from a backup), the location
setting or licences changed, or the copy's layout (SCHEMA_VERSION) is not this code's. The copy
persists beside its catalogue (`persisted_path`), so a server starts by applying what changed
while it was down; `refresh(check=True)` then also compares the copy with the catalogue (counts and
ids per table, photos by id and rendition token) and rebuilds it whole when they disagree.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ingest.catalogue import faces, search, settings
from ingest.catalogue.schema import FTS_COLUMNS, connect, photos_fts_sql

# Public columns of photos, in the order a journalist reads them (the table view and CSV follow it).
PHOTO_COLUMNS = (
    "id", "sha256", "title", "caption", "date", "taken_at", "city_id", "demonstration_id", "creator",
    "licence_id", "allows_commercial", "allows_adaptations", "share_alike", "commons_compatible",
    "keywords", "latitude", "longitude", "width", "height", "original_filename", "format", "mime_type",
    "file_size", "camera_make", "camera_model", "lens_model", "year", "taken_at_utc", "licence_text",
    "date_source", "city_source", "demonstration_source", "licence_source", "creator_source",
    "title_source", "caption_source", "location_source", "needs_review", "imported_at", "updated_at",
    "rendition",
)
# Computed, after PHOTO_COLUMNS: the map's marker popup (datasette-cluster-map reads a `popup` column
# of JSON): the thumbnail, the title and the photo's page. Only the photo's own columns go in, so it
# republishes with the photo; its URLs are relative to the photos table's page (/<db>/photos), so
# they follow Datasette's base_url. The thumbnail is named by the photo's rendition token (schema.py,
# migration 14), so the URL dies when the photo leaves the copy.
POPUP = ("json_object('image', '../-/gallery/thumbs/' || p.rendition || '.jpg', "
         "'alt', coalesce(p.title, p.caption, 'Photo ' || p.id), "
         "'title', coalesce(p.title, 'Photo ' || p.id), "
         "'description', nullif(trim(coalesce(p.date, '') || coalesce(' · by ' || p.creator, '') "
         "|| coalesce(' · ' || p.licence_id, ''), ' ·'), ''), "
         "'link', 'photos/' || p.id)")
_PUBLISHED = PHOTO_COLUMNS + ("popup",)
_FOREIGN = {"city_id": "cities(id)", "demonstration_id": "demonstrations(id)", "licence_id": "licences(id)"}
_COPIED = ("licences", "cities", "demonstrations")
_UNIQUE = ("sha256", "rendition")
_INDEXES = ("date", "city_id", "demonstration_id", "licence_id", "creator", "taken_at", "year",
            "allows_commercial", "commons_compatible", "needs_review", "date_source", "city_source",
            "taken_at DESC, id", "city_id, taken_at DESC", "demonstration_id, taken_at DESC",
            "year, taken_at DESC", "licence_id, taken_at DESC", "creator, taken_at DESC",
            # a city's photos of one year, the commonest narrowing (bench/gallery.py: the plan used
            # year alone, 40,444 candidates for 5,255 matches)
            "city_id, year, taken_at DESC",
            "imported_at DESC, id DESC")  # the photo browser's "Recently added"


def _location(column: str, setting: str) -> str:
    if setting == "exact":
        return f"p.{column}"
    if setting == "city":
        return "NULL" if column == "location_source" else f"c.{column}"
    return "NULL"


def _photo_select(location: str, blur: bool = False) -> str:
    picked = []
    for column in PHOTO_COLUMNS:
        if column in ("latitude", "longitude"):
            picked.append(_location(column, location))
        elif column == "location_source":
            picked.append({"exact": "p.location_source", "city": "CASE WHEN c.id IS NOT NULL THEN 'city' END"}
                          .get(location, "NULL"))
        else:
            picked.append(f"p.{column}")
    picked.append(POPUP)
    return (f"SELECT {', '.join(picked)} FROM src.photos p LEFT JOIN src.cities c ON c.id = p.city_id "
            "WHERE p.state = 'public' AND p.rendition IS NOT NULL"
            # The state says it already (publication.py); kept here too, so that the copy never holds a
            # photo it could not obscure, whatever a catalogue's triggers say.
            + (f" AND {faces.settled('p')}" if blur else ""))


# The public copy's rows change by delete and insert only, so it needs no update trigger.
_FTS_SCHEMA = (
    *photos_fts_sql(on_update=False),
    search.schema_sql(),
    "CREATE TABLE publish_state (key TEXT PRIMARY KEY, value TEXT)",
)


# The copy's layout: a persisted copy written by code with another layout is rebuilt whole.
SCHEMA_VERSION = hashlib.sha256(repr((_PUBLISHED, _INDEXES, _UNIQUE, _FTS_SCHEMA, POPUP)).encode()).hexdigest()[:16]


def persisted_path(catalogue: str | Path) -> Path:
    """Where a catalogue's public copy lives between runs: gallery.db's is gallery.public.db."""
    catalogue = Path(catalogue)
    return catalogue.with_name(f"{catalogue.stem}.public.db")


def _schema(conn: sqlite3.Connection) -> None:
    """The public tables, declared like the catalogue's (same names, keys and foreign keys)."""
    for table in _COPIED:
        sql = conn.execute("SELECT sql FROM src.sqlite_master WHERE type = 'table' AND name = ?",
                           [table]).fetchone()[0]
        conn.execute(sql)
    conn.execute("ALTER TABLE cities ADD COLUMN photo_count INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE demonstrations ADD COLUMN photo_count INTEGER NOT NULL DEFAULT 0")
    types = {r[1]: r[2] for r in conn.execute("PRAGMA src.table_info(photos)")}
    columns = []
    for column in PHOTO_COLUMNS:
        decl = f"{column} {types[column]}"
        if column == "id":
            decl += " PRIMARY KEY"
        elif column in ("sha256", "rendition"):
            decl += " NOT NULL"  # unique by _UNIQUE's indexes, made after a rebuild's rows
        elif column in _FOREIGN:
            decl += f" REFERENCES {_FOREIGN[column]}"
        columns.append(decl)
    columns.append("popup TEXT")
    conn.execute(f"CREATE TABLE photos ({', '.join(columns)})")
    _indexes(conn)
    conn.execute("CREATE INDEX idx_demonstrations_date ON demonstrations(date)")
    for statement in _FTS_SCHEMA:  # one by one: executescript would commit the open transaction
        conn.execute(statement)


def _index_names() -> list[tuple[str, str]]:
    named = [(f"idx_photos_{'_'.join(c.split()[0] for c in columns.split(', '))}", f"INDEX {{}} ON photos({columns})")
             for columns in _INDEXES]
    return named + [(f"idx_photos_{column}_unique", f"UNIQUE INDEX {{}} ON photos({column})") for column in _UNIQUE]


def _indexes(conn: sqlite3.Connection) -> None:
    for name, sql in _index_names():
        conn.execute(f"CREATE {sql.format(f'IF NOT EXISTS main.{name}')}")


def _without_indexes(conn: sqlite3.Connection) -> None:
    """Before a rebuild's rows: each index is then made once, from sorted rows, instead of taking
    every row at a random place (a sha256 or token index outgrows the page cache at ~50,000 photos,
    and the build's cost grew as N^1.27)."""
    for name, _ in _index_names():
        conn.execute(f"DROP INDEX IF EXISTS main.{name}")


def _drop(conn: sqlite3.Connection) -> None:
    for name in ("photos_fts", search.TABLE, "photos", "publish_state", *_COPIED):
        conn.execute(f"DROP TABLE IF EXISTS main.{name}")


def _columns(conn: sqlite3.Connection, table: str) -> str:
    return ", ".join(r[1] for r in conn.execute(f"PRAGMA src.table_info({table})"))


def _copy_small_tables(conn: sqlite3.Connection) -> None:
    """Registry, cities and licences are small: copy them whole, keeping only what public photos use."""
    for table in _COPIED:
        conn.execute(f"DELETE FROM main.{table}")
    conn.execute(f"INSERT INTO main.licences ({_columns(conn, 'licences')}) "
                 f"SELECT {_columns(conn, 'licences')} FROM src.licences")
    demos = _columns(conn, "demonstrations")
    conn.execute(f"INSERT INTO main.demonstrations ({demos}) SELECT {demos} FROM src.demonstrations "
                 "WHERE provisional = 0 OR id IN (SELECT demonstration_id FROM main.photos)")
    cities = _columns(conn, "cities")
    conn.execute(f"INSERT INTO main.cities ({cities}) SELECT {cities} FROM src.cities WHERE id IN "
                 "(SELECT city_id FROM main.photos UNION SELECT city_id FROM main.demonstrations)")
    conn.execute("UPDATE main.demonstrations SET photo_count = "
                 "(SELECT count(*) FROM main.photos WHERE demonstration_id = demonstrations.id)")
    conn.execute("UPDATE main.cities SET photo_count = "
                 "(SELECT count(*) FROM main.photos WHERE city_id = cities.id)")


def location_setting(conn: sqlite3.Connection) -> str:
    return settings.public_location(conn, schema="src")


def _state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM main.publish_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _id_print(conn: sqlite3.Connection, select: str) -> tuple:
    """Count and two sums over the ids `select` yields: equal sets of ids give equal prints."""
    return conn.execute(f"SELECT count(*), total(id), total((id * 2654435761) % 4294967311) FROM ({select})").fetchone()


def count_disagreement(conn: sqlite3.Connection) -> list[str]:
    """The check a start makes before it answers: public photos counted on both sides, index-only
    (53 ms at 1,000,000 photos, against 1.4-1.7 s for `disagreements`, which a server makes after
    its first answer, web/serving.py). A row the log did not remove shows here."""
    held = conn.execute("SELECT count(*) FROM main.photos").fetchone()[0]
    public = conn.execute("SELECT count(*) FROM src.photos WHERE state = 'public'").fetchone()[0]
    return [] if held == public else [f"photos: {held} in the copy, {public} public in the catalogue"]


def disagreements(conn: sqlite3.Connection) -> list[str]:
    """Where the copy (main) differs from what the catalogue (src) publishes: photos compared by
    count and checksum of ids and by rendition token (a photo withheld and published again has a
    new token), the small tables by count and a checksum of ids. Cheap enough for every start
    (0.11 s at 100,000 photos, bench/startup.py)."""
    # Index-only reads, so that the check costs little at any size: the catalogue's public ids from
    # (state, id), each copy token looked up in the catalogue's unique (rendition) index, in token
    # order. A public photo always has a token and, while faces are obscured, settled faces (the
    # state's triggers, publication.py): should one not, the copy is rebuilt, never served stale.
    problems = []
    if _id_print(conn, "SELECT id FROM src.photos WHERE state = 'public'") != _id_print(conn, "SELECT id FROM main.photos"):
        problems.append("photos: the ids differ")
    held = conn.execute("SELECT count(*) FROM main.photos").fetchone()[0]
    same = conn.execute("SELECT count(*) FROM main.photos m JOIN src.photos p "
                        "ON p.rendition = m.rendition AND p.id = m.id").fetchone()[0]
    if same != held:
        problems.append(f"photos: {held - same} of {held} with a token the catalogue does not give them")
    selects = {
        "licences": ("SELECT id FROM main.licences", "SELECT id FROM src.licences"),
        "demonstrations": ("SELECT id FROM main.demonstrations",
                           "SELECT id FROM src.demonstrations WHERE provisional = 0 "
                           "OR id IN (SELECT demonstration_id FROM main.photos)"),
        "cities": ("SELECT id FROM main.cities",
                   "SELECT id FROM src.cities WHERE id IN (SELECT city_id FROM main.photos "
                   "UNION SELECT city_id FROM main.demonstrations)"),
    }
    for table, (copy_ids, catalogue_ids) in selects.items():
        if table == "licences":  # ids are text: compare the sorted lists (a few dozen)
            ours = [r[0] for r in conn.execute(copy_ids + " ORDER BY id")]
            theirs = [r[0] for r in conn.execute(catalogue_ids + " ORDER BY id")]
            if ours != theirs:
                problems.append(f"licences: {len(ours)} in the copy, {len(theirs)} in the catalogue")
        elif _id_print(conn, copy_ids) != _id_print(conn, catalogue_ids):
            problems.append(f"{table}: ids differ")
    return problems


# Pages an FTS5 index merges per transaction while serving (follow): tens of milliseconds each.
MERGE_PAGES = 256


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction of the copy (its connection runs in autocommit): all of it or none."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class PublicCopy:
    """A public SQLite file kept in step with a catalogue. Thread-safe; one writer per file."""

    def __init__(self, catalogue: str | Path, path: str | Path, *, wal: bool = True):
        """`wal=False` keeps the file whole by itself (a rollback journal, no -wal or -shm beside it),
        for a published bundle that other processes read while it is brought up to date."""
        self.catalogue, self.path = Path(catalogue).resolve(), Path(path)
        self._lock = threading.Lock()
        connect(self.catalogue, create=False).conn.close()  # migrated, so publish_log exists
        self.conn = sqlite3.connect(self.path.resolve().as_uri(), uri=True, isolation_level=None,
                                    check_same_thread=False, timeout=30)
        self.conn.execute(f"PRAGMA journal_mode = {'WAL' if wal else 'DELETE'}")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # A rebuild writes the whole copy to the WAL (2.2 GB at 1,000,000 photos): once checkpointed,
        # the file is cut back to this, not kept at its largest beside the copy.
        self.conn.execute(f"PRAGMA journal_size_limit = {64 << 20}")
        self.conn.execute("PRAGMA secure_delete = ON")  # what is deleted is overwritten, not left in free pages
        self.conn.execute("ATTACH DATABASE ? AS src", [f"{self.catalogue.as_uri()}?mode=ro"])
        search.register(self.conn)
        self.problems: list[str] = []  # what the last checked refresh found (empty: the copy agreed)
        self.on_problems: Callable[[list[str]], None] | None = None
        self.rebuilt = False  # whether the last refresh built the copy whole
        self._rebuilt = False
        # bench/startup.py: every change merges the indexes, as before words were compared
        self.purge_always = False
        self.seconds = (0.0, 0.0)  # the last refresh: applying the changes, then merging (bench/startup.py)

    def close(self) -> None:
        self.conn.close()

    def refresh(self, *, check: bool = False, counts: bool = False, rebuild: bool = False,
                merge: bool = True) -> int:
        """Bring the copy up to date with the catalogue; returns how many photos were re-published.

        `check` compares the result with the catalogue (disagreements) and rebuilds on any
        difference; `counts` only compares public photo counts (count_disagreement: what a server
        start affords before its first answer); `rebuild` builds it whole. Either way one
        transaction: a kill leaves the last good copy. `on_problems`, when set, hears what a check
        found before the rebuild starts (a server stops answering from the copy meanwhile).
        Words that left the search indexes are then merged out of their data in a second one
        (_merge), before this returns, unless `merge` is False (a server's start: its follow
        thread merges them step by step, as after any withdrawal while it runs)."""
        with self._lock:
            conn = self.conn
            if merge and conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'publish_state'").fetchone():
                self._merge(conn)  # owed by a refresh that did not live to make it
            started = time.perf_counter()
            self.problems = []
            with _immediate(conn):
                if rebuild:
                    _drop(conn)
                changed = self._refresh(conn)
                if (check or counts) and not rebuild and not self._rebuilt:
                    self.problems = disagreements(conn) if check else count_disagreement(conn)
                    if self.problems:
                        if self.on_problems is not None:
                            self.on_problems(self.problems)
                        _drop(conn)
                        changed = self._refresh(conn)
                self.rebuilt = rebuild or bool(self.problems) or self._rebuilt
            applied = time.perf_counter()
            if merge:
                self._merge(conn)
            self.seconds = (applied - started, time.perf_counter() - applied)
            return changed

    def _refresh(self, conn: sqlite3.Connection) -> int:
        if not conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'publish_state'").fetchone():
            _schema(conn)
        elif (_state(conn, "version") != SCHEMA_VERSION
              or tuple(r[1] for r in conn.execute("PRAGMA main.table_info(photos)")) != _PUBLISHED
              or not conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", [search.TABLE]).fetchone()):
            _drop(conn)  # a copy written by another version: build it again, whole
            _schema(conn)
        self._rebuilt = False
        last = int(_state(conn, "seq") or -1)
        top = conn.execute("SELECT max(seq) FROM src.publish_log").fetchone()[0]
        if top is None:  # empty log: everything ever logged was pruned (or nothing happened yet)
            top = conn.execute("SELECT coalesce(max(seq), 0) FROM src.sqlite_sequence "
                               "WHERE name = 'publish_log'").fetchone()[0]
        location = location_setting(conn)
        blur = settings.public_faces(conn, schema="src")
        if last >= 0 and top == last and _state(conn, "location") == location and _state(conn, "faces") == blur:
            return 0
        first = conn.execute("SELECT min(seq) FROM src.publish_log WHERE seq > ?", [last]).fetchone()[0]
        items = {r[0] for r in conn.execute("SELECT item FROM src.publish_log WHERE seq > ?", [last])}
        rebuild = (last < 0 or top < last  # the log went back: another or a restored catalogue
                   or (first or top + 1) > last + 1 or _state(conn, "location") != location
                   or _state(conn, "faces") != blur
                   or "settings" in items or "licences" in items
                   or ("cities" in items and location == "city"))  # photos carry their city's centre
        select = _photo_select(location, blur == "blur")
        search.changed_places(conn)  # before _copy_small_tables replaces the old names
        self._rebuilt = rebuild
        if rebuild:
            if conn.execute("SELECT 1 FROM main.photos LIMIT 1").fetchone():
                # Dropped, not emptied: an emptied FTS5 index would keep every word marked gone until
                # merged; dropped tables' pages are zeroed (secure_delete).
                _drop(conn)
                _schema(conn)
            removed = False
            _without_indexes(conn)
            conn.execute(f"INSERT INTO main.photos ({', '.join(_PUBLISHED)}) {select}")
            _indexes(conn)
            changed = conn.execute("SELECT count(*) FROM main.photos").fetchone()[0]
        else:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS republish (id INTEGER PRIMARY KEY)")
            conn.execute("DELETE FROM temp.republish")
            conn.execute("INSERT OR IGNORE INTO temp.republish SELECT CAST(substr(item, 7) AS INTEGER) "
                         "FROM src.publish_log WHERE seq > ? AND item LIKE 'photo:%'", [last])
            # The indexed text of the photos about to be re-published, to tell whether any word leaves.
            conn.execute("DROP TABLE IF EXISTS temp.republished_text")
            conn.execute(f"CREATE TEMP TABLE republished_text AS SELECT id, {', '.join(FTS_COLUMNS)} "
                         "FROM main.photos WHERE id IN (SELECT id FROM temp.republish)")
            conn.execute("DELETE FROM main.photos WHERE id IN (SELECT id FROM temp.republish)")
            conn.execute(f"INSERT INTO main.photos ({', '.join(_PUBLISHED)}) {select} "
                         "AND p.id IN (SELECT id FROM temp.republish)")
            changed = conn.execute("SELECT count(*) FROM temp.republish").fetchone()[0]
            same = " AND ".join(f"p.{c} IS t.{c}" for c in FTS_COLUMNS)
            removed = conn.execute("SELECT 1 FROM temp.republished_text t LEFT JOIN main.photos p ON p.id = t.id "
                                   f"WHERE p.id IS NULL OR NOT ({same}) LIMIT 1").fetchone() is not None
        _copy_small_tables(conn)
        if rebuild:
            search.rebuild(conn)
            words_left = False
        else:
            words_left = search.update(conn, "temp.republish")
        state = [("seq", str(top)), ("location", location), ("faces", blur), ("version", SCHEMA_VERSION)]
        if rebuild:  # a rebuild may change rows at the same log position (a check's): a new version
            state.append(("built", secrets.token_hex(8)))
        # An FTS5 delete only marks words gone: merging drops them from the indexes' data. Only needed
        # when words left (a photo withdrawn, its text edited, a place renamed): re-publishing the
        # same text (a new licence, city, demonstration, approval) leaves nothing that is not public.
        # The merge is the costly part (the whole index), so it is its own transaction, right after
        # this one (refresh): the row is gone from every page first; `merge` in publish_state says
        # one is owed, should the process die in between.
        if removed or words_left or self.purge_always:
            state.append(("merge", "1"))
        conn.executemany("INSERT OR REPLACE INTO main.publish_state (key, value) VALUES (?, ?)", state)
        return changed

    def follow(self, pages: int = MERGE_PAGES) -> int:
        """A serving thread's step: what changed is applied at once (one transaction, refresh), then
        the words that left are merged out of the indexes `pages` pages per transaction, applying
        anything new between steps, so that a withdrawal never waits for the last one's merge.
        Returns how many photos were re-published."""
        changed = self.refresh(merge=False)
        while self._merge_step(pages):
            top = self.conn.execute("SELECT max(seq) FROM src.publish_log").fetchone()[0]
            if top is not None and str(top) != _state(self.conn, "seq"):
                changed += self.refresh(merge=False)
        return changed

    def _merge_step(self, pages: int) -> bool:
        """Part of an owed merge (FTS5 'merge' with a negative budget: every segment, as 'optimize'
        does, `pages` pages at a time); True while work remains."""
        with self._lock:
            conn = self.conn
            if _state(conn, "merge") is None:
                return False
            with _immediate(conn):
                worked = False
                for table in ("photos_fts", search.TABLE):
                    before = conn.total_changes
                    conn.execute(f"INSERT INTO main.{table} ({table}, rank) VALUES ('merge', ?)", [-pages])
                    worked |= conn.total_changes - before >= 2  # how FTS5 says it did something
                if not worked:
                    conn.execute("DELETE FROM main.publish_state WHERE key = 'merge'")
            return worked

    def _merge(self, conn: sqlite3.Connection) -> bool:
        """The merge a refresh left owed (see _refresh), in its own transaction; whether there was one."""
        if _state(conn, "merge") is None:
            return False
        with _immediate(conn):
            conn.execute("INSERT INTO main.photos_fts (photos_fts) VALUES ('optimize')")
            search.merge(conn)
            conn.execute("DELETE FROM main.publish_state WHERE key = 'merge'")
        return True


def publish(catalogue: str | Path, out: str | Path, *, rebuild: bool = False) -> int:
    """Write (or bring up to date) a public copy at `out`; returns the number of public photos."""
    copy = PublicCopy(catalogue, out)
    try:
        copy.refresh(check=True, rebuild=rebuild)
        return copy.conn.execute("SELECT count(*) FROM main.photos").fetchone()[0]
    finally:
        copy.close()
