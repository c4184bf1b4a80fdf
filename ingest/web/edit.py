"""Archivists' editing on the web: one photo, a filtered set, history and undo.

Every handler checks the archivist role first (anonymous visitors get 403 and see no controls);
Datasette's CSRF protection covers every form. Writes go through catalogue/corrections.py on a
connection of their own (like the CLI's), then the public copy is refreshed before the redirect.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from datasette.filters import Filters
from datasette.utils import escape_fts
from datasette.utils.asgi import Response

from ingest.archive import Archive
from ingest.catalogue import faces
from ingest.catalogue.corrections import (
    BY_COLUMN,
    Invalid,
    apply_changes,
    batch_sizes,
    describe,
    edit_demonstration,
    history,
    last_edit,
    merge_demonstrations,
    parse_changes,
    undo,
    undone_ids,
)
from ingest.catalogue.csv_roundtrip import changed_cells, current_cells
from ingest.catalogue.registry import upsert_demo
from ingest.catalogue.schema import transaction
from ingest.catalogue.uploads import uploader
from ingest.errors import ArchiveError
from ingest.importer.retag import follow_corrections
from ingest.web import serving
from ingest.web.context import catalogue_db, catalogue_path, is_archivist, on_catalogue, public_db
from ingest.web.permissions import is_photographer, may_edit_upload

MAX_BATCH = 5000


async def on_catalogue_write(datasette, fn: Callable[[Any], Any]) -> Any:
    """Run `fn(sqlite_utils.Database)` on a fresh connection in a thread, then republish."""
    path = catalogue_path(datasette)
    if path is None:
        raise ArchiveError("no catalogue is served here")

    def run():
        with Archive(path).connection() as db:
            return fn(db)

    result = await asyncio.to_thread(run)
    await asyncio.to_thread(serving.refresh_now, datasette)
    return result


def _forbidden() -> Response:
    return Response.text("Only archivists may edit. Sign in at /-/login.", status=403)


def _refused(datasette, request) -> Response | None:
    """Why this request may not edit: not an archivist (403), or no catalogue served here (404)."""
    if not is_archivist(request.actor):
        return _forbidden()
    if catalogue_db(datasette) is None or public_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    return None


def _back(datasette, form, fallback: str) -> str:
    target = form.get("next") or ""
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target  # no open redirect
    return target if local else datasette.urls.path(fallback)


# What a photographer may correct on their own photos before publication: never its state.
PHOTOGRAPHER_FIELDS = ("title", "caption", "creator", "keywords", "demonstration", "city", "taken_at", "date", "licence")


def may_edit(db, actor, photo_id: int) -> bool:
    """Archivists any photo; a photographer their own upload while it waits (permissions.py)."""
    if is_archivist(actor):
        return True
    row = db.execute("SELECT state FROM photos WHERE id = ?", [photo_id]).fetchone()
    return row is not None and may_edit_upload(actor, uploader(db, photo_id), row[0])


async def edit_photo(request, datasette) -> Response:
    """POST the photo page's form: only changed fields become edits; all or nothing. A photographer
    may post it for their own waiting photos (the fields of PHOTOGRAPHER_FIELDS only)."""
    photo_id = int(request.url_vars["id"])
    if is_photographer(request.actor) and not is_archivist(request.actor) and catalogue_db(datasette) is not None:
        if not await on_catalogue(catalogue_db(datasette), lambda db: may_edit(db, request.actor, photo_id)):
            return Response.text("Only archivists may edit this photo.", status=403)
    elif (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method != "POST":
        return Response.text("POST the edit form", status=405)
    form = await request.post_vars()
    back = _back(datasette, form, f"/{public_db(datasette).name}/photos/{photo_id}")
    who = request.actor["id"]
    archivist = is_archivist(request.actor)

    def change(db):
        current = current_cells(db, photo_id)
        if current is None:
            raise ArchiveError(f"no photo {photo_id}")
        raw = changed_cells(current, form)
        if not archivist:
            if not may_edit(db, request.actor, photo_id):  # published or withheld since the form was shown
                raise ArchiveError("this photo is no longer yours to correct (an archivist has decided on it)")
            raw = {k: v for k, v in raw.items() if k in PHOTOGRAPHER_FIELDS}
        seen = int(form["seen"]) if (form.get("seen") or "").isdigit() else None
        with transaction(db):
            if archivist and (form.get("new_demonstration") or "").strip():
                raw["demonstration"] = str(_new_demonstration(db, photo_id, form["new_demonstration"], who))
            if not raw:
                return []
            made = apply_changes(db, [photo_id], parse_changes(db, raw), who=who, via="web", seen=seen,
                                 override=form.get("force") == "1")
            follow_corrections(db, made)
            return made

    try:
        edits = await on_catalogue_write(datasette, change)
    except ArchiveError as e:
        datasette.add_message(request, f"Nothing was saved: {e}", datasette.ERROR)
        return Response.redirect(back)
    datasette.add_message(request, f"Saved {len(edits)} change{'s' if len(edits) != 1 else ''}."
                          if edits else "Nothing to save: no field was changed.")
    return Response.redirect(back)


def _new_demonstration(db, photo_id: int, name: str, who: str) -> int:
    """A demonstration the registry lacks, created from the photo's page: its date and city."""
    name = name.strip()
    date, city = db.execute("SELECT p.date, c.name FROM photos p LEFT JOIN cities c ON c.id = p.city_id "
                            "WHERE p.id = ?", [photo_id]).fetchone()
    if not date:
        raise Invalid("set the photo's date before creating a demonstration for it")
    demo_id, _ = upsert_demo(db, {"name": name, "date": date, "city": city})
    return demo_id


async def undo_edit(request, datasette) -> Response:
    if (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method != "POST":
        return Response.text("POST to undo", status=405)
    form = await request.post_vars()
    back = _back(datasette, form, "/")
    edit_id = int(request.url_vars["edit"])
    try:
        whole = form.get("whole_batch") == "1"
        def change(db):
            with transaction(db):
                made = undo(db, edit_id, who=request.actor["id"], via="undo", whole_batch=whole)
                follow_corrections(db, made)
                return made

        edits = await on_catalogue_write(datasette, change)
    except ArchiveError as e:
        datasette.add_message(request, f"Not undone: {e}", datasette.ERROR)
        return Response.redirect(back)
    datasette.add_message(request, f"Undone: {len(edits)} change{'s' if len(edits) != 1 else ''} put back.")
    return Response.redirect(back)


# ---------------------------------------------------------------- batch edit

BATCH_FIELDS = ("demonstration", "city", "licence", "creator", "withheld")


def _matching(conn, args: list[tuple[str, str]]) -> tuple[list[int], str]:
    """The ids a gallery view's query string selects (its filters and search), and its description."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(photos)")}
    pairs = [(k, v) for k, v in args if not k.startswith("_")]
    for key, _ in pairs:
        if key.split("__")[0] not in columns:
            raise ArchiveError(f"{key}: not a column of photos")
    filters = Filters(sorted(pairs))
    where, params = filters.build_where_clauses("photos")
    search = dict(args).get("_search", "").strip()
    if search:
        where.append("id IN (SELECT rowid FROM photos_fts WHERE photos_fts MATCH :search)")
        params["search"] = escape_fts(search)
    sql = f"SELECT id FROM photos {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id LIMIT {MAX_BATCH + 1}"
    ids = [r[0] for r in conn.execute(sql, params)]
    description = filters.human_description_en(extra=[f'search matches "{search}"'] if search else None)
    return ids, description or "all photos"


async def batch_edit(request, datasette) -> Response:
    """GET: the count and a form for a filtered view; POST: apply to exactly that set (refused if it changed)."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    form = await request.post_vars() if request.method == "POST" else {}
    query = form.get("query", "") if form else request.query_string
    args = [(k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in ("_db",)]
    source = dict(parse_qsl(query)).get("_db") or public_db(datasette).name
    view = datasette.databases.get(source)
    if view is None or source not in (serving.public_names(datasette) | serving.catalogue_names(datasette)):
        return Response.text("Unknown database", status=404)
    try:
        ids, description = await view.execute_fn(lambda conn: _matching(conn, args))
    except ArchiveError as e:
        return Response.text(str(e), status=400)
    except Exception as e:  # a malformed filter value (SQL error): say which
        return Response.text(f"cannot use these filters: {e}", status=400)
    back_url = datasette.urls.table(source, "photos") + (f"?{urlencode(args)}" if args else "")
    if len(ids) > MAX_BATCH:
        return Response.text(f"more than {MAX_BATCH} photos match; narrow the view first", status=400)
    if request.method == "POST":
        raw = {f: form[f] for f in BATCH_FIELDS if (form.get(f) or "").strip()}
        if form.get("withheld") == "unchanged":
            raw.pop("withheld", None)
        if str(len(ids)) != form.get("count"):
            datasette.add_message(request, f"The set changed since you looked ({form.get('count')} then, "
                                  f"{len(ids)} now); nothing was saved. Check it again.", datasette.ERROR)
            return Response.redirect(datasette.urls.path("/-/gallery/batch") + "?" + query)
        if not raw:
            datasette.add_message(request, "Nothing to change: choose a value first.", datasette.WARNING)
            return Response.redirect(datasette.urls.path("/-/gallery/batch") + "?" + query)
        seen = int(form["seen"]) if (form.get("seen") or "").isdigit() else None

        def change(db):
            with transaction(db):
                made = apply_changes(db, ids, parse_changes(db, raw), who=request.actor["id"], via="web",
                                     seen=seen, override=form.get("force") == "1")
                follow_corrections(db, made)
                return made

        try:
            edits = await on_catalogue_write(datasette, change)
        except ArchiveError as e:
            datasette.add_message(request, f"Nothing was saved: {e}", datasette.ERROR)
            return Response.redirect(datasette.urls.path("/-/gallery/batch") + "?" + query)
        first = edits[0].id if edits else None
        datasette.add_message(request, f"Saved {len(edits)} change{'s' if len(edits) != 1 else ''} on "
                              f"{len({e.photo_id for e in edits})} of {len(ids)} photos"
                              + (f" (edit {first}; undo it from any of their pages)." if first else "."))
        return Response.redirect(back_url)

    def context(db):
        return (*form_choices(db), last_edit(db))

    demos, licences, seen = await on_catalogue(catalogue_db(datasette), context)
    shas = await view.execute(f"SELECT id, sha256, title FROM photos WHERE id IN "
                              f"({','.join(str(i) for i in ids[:24]) or 'NULL'})")
    return Response.html(await datasette.render_template("gallery-batch.html", {
        "count": len(ids), "description": description, "query": query, "back_url": back_url,
        "demonstrations": demos, "licences": licences, "seen": seen, "sample": list(shas),
    }, request=request))


def form_choices(db) -> tuple[list, list]:
    """What the forms' pickers offer: (slug, label) of every demonstration, (id, name) of every licence."""
    return (db.execute("SELECT slug, label FROM demonstrations ORDER BY date DESC, label").fetchall(),
            db.execute("SELECT id, name FROM licences ORDER BY is_cc DESC, id").fetchall())


# ---------------------------------------------------------------- the photo page

async def edit_context(datasette, request, photo_id: int) -> dict[str, Any] | None:
    """What the photo page's edit form and history need, for archivists only."""
    if not is_archivist(request.actor):
        return None
    path = catalogue_path(datasette)
    if path is None:
        return None

    def load(db):
        current = current_cells(db, photo_id)
        if current is None:
            return None
        undone = undone_ids(db)
        found = history(db, photo_id)
        sizes = batch_sizes(db, (e.batch for e in found), skip=undone)
        edits = [{"id": e.id, "at": e.at, "who": e.who, "via": e.via, "undone": e.id in undone,
                  "batch_size": sizes.get(e.batch, 1),
                  "undoes": e.undoes, "undoable": e.field in BY_COLUMN,  # a face box: remove or add one instead
                  "field": BY_COLUMN[e.field].label if e.field in BY_COLUMN else e.field.replace("_", " ").capitalize(),
                  "old": describe(db, e.field, e.old), "new": describe(db, e.field, e.new)}
                 for e in found]
        return {
            "current": current, "seen": last_edit(db, [photo_id]), "history": edits,
            **dict(zip(("demonstrations", "licences"), form_choices(db))),
            "cities": [r[0] for r in db.execute("SELECT name FROM cities ORDER BY name")],
            "withheld": current["withheld"] == "yes",
            "faces": _faces_context(db, photo_id),
        }

    return await on_catalogue(catalogue_db(datasette), load)


def _faces_context(db, photo_id: int) -> dict[str, Any]:
    status, shown = db.execute("SELECT faces_status, faces_shown FROM photos WHERE id = ?", [photo_id]).fetchone()
    return {"status": status, "shown": bool(shown), "blurring": faces.blurring(db),
            "boxes": [{"id": b.id, "x": b.box[0] * 100, "y": b.box[1] * 100, "w": b.box[2] * 100, "h": b.box[3] * 100,
                       "source": b.source, "score": b.score, "removed": b.removed, "who": b.who}
                      for b in faces.boxes(db, photo_id)]}


async def edit_faces(request, datasette) -> Response:
    """POST the photo page's faces form: consent, a box added (x, y, w, h in percent of the
    picture), or a box removed. Audited like every edit; the photo gets new public URLs."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method != "POST":
        return Response.text("POST the faces form", status=405)
    photo_id = int(request.url_vars["id"])
    form = await request.post_vars()
    back = _back(datasette, form, f"/{public_db(datasette).name}/photos/{photo_id}")
    who, action = request.actor["id"], form.get("action", "")

    def change(db):
        if action == "consent":
            made = apply_changes(db, [photo_id], {"faces_shown": 1 if form.get("shown") == "1" else 0},
                                 who=who, via="web")
            return "Faces may be shown." if made and made[0].new else "Faces obscured." if made else "Nothing changed."
        if action == "add":
            box = faces.parse_box(",".join(f"{form.get(k, '').strip()}%" for k in ("x", "y", "w", "h")))
            return f"Box {faces.add_box(db, photo_id, box, who=who, via='web')} added."
        if action.startswith("remove:") and action[7:].isdigit():
            faces.remove_box(db, photo_id, int(action[7:]), who=who, via="web")
            return f"Box {action[7:]} removed."
        raise ArchiveError("unknown faces action")

    try:
        said = await on_catalogue_write(datasette, change)
    except ArchiveError as e:
        datasette.add_message(request, f"Nothing was saved: {e}", datasette.ERROR)
        return Response.redirect(back)
    datasette.add_message(request, said)
    return Response.redirect(back)


ROUTES = [
    (r"^/-/gallery/faces/(?P<id>\d+)$", edit_faces),
    (r"^/-/gallery/edit/(?P<id>\d+)$", edit_photo),
    (r"^/-/gallery/undo/(?P<edit>\d+)$", undo_edit),
    (r"^/-/gallery/batch$", batch_edit),
]


# ---------------------------------------------------------------- the registry

async def manage_demonstrations(request, datasette) -> Response:
    """Archivists' list of demonstrations, provisional groups first: rename, re-date, merge."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    here = datasette.urls.path("/-/gallery/manage/demonstrations")
    if request.method == "POST":
        form = await request.post_vars()
        who = request.actor["id"]
        demo = form.get("demonstration", "")

        def change(db):
            demo_id = parse_changes(db, {"demonstration": demo})["demonstration_id"]
            if form.get("merge_into"):
                keep = parse_changes(db, {"demonstration": form["merge_into"]})["demonstration_id"]
                return merge_demonstrations(db, keep, demo_id, who=who, via="web", override=form.get("force") == "1")
            raw = {k: form.get(k, "") for k in ("name", "date", "city", "description", "url") if k in form}
            return edit_demonstration(db, demo_id, raw, who=who, via="web", override=form.get("force") == "1")

        try:
            edits = await on_catalogue_write(datasette, change)
        except ArchiveError as e:
            datasette.add_message(request, f"Nothing was saved: {e}", datasette.ERROR)
            return Response.redirect(here)
        datasette.add_message(request, f"Saved {len(edits)} change{'s' if len(edits) != 1 else ''}.")
        return Response.redirect(here)

    def load(db):
        return db.execute(
            """SELECT d.id, d.slug, d.name, d.date, c.name, d.provisional, d.label, d.description, d.url,
                      (SELECT count(*) FROM photos p WHERE p.demonstration_id = d.id)
               FROM demonstrations d LEFT JOIN cities c ON c.id = d.city_id
               ORDER BY d.provisional DESC, d.date DESC, d.name""").fetchall()

    rows = await on_catalogue(catalogue_db(datasette), load)
    demos = [dict(zip(("id", "slug", "name", "date", "city", "provisional", "label", "description", "url",
                       "photos"), r)) for r in rows]
    return Response.html(await datasette.render_template("gallery-manage-demonstrations.html", {
        "demonstrations": demos, "catalogue": catalogue_db(datasette).name}, request=request))


ROUTES.append((r"^/-/gallery/manage/demonstrations$", manage_demonstrations))
