"""The archivists' review queue: what waits for approval or was flagged, decided a page at a time.

GET /-/gallery/review shows a grid (thumbnails, reasons, a checkbox each) with the counts;
POST applies a decision (approve, withhold, looks right) to the checked photos, through
catalogue/corrections.py like every edit (audited, one undo for the lot), then republishes.
review.js adds the keyboard (j/k or arrows to move, a approve, w withhold, r looks right, x select,
Enter to fix) and answers in place, so the counts go down as the archivist works; without it the
form posts and the page comes back. /-/gallery/review/<id> is one photo with the photo page's form.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from datasette.utils.asgi import Response

from ingest.catalogue import review
from ingest.catalogue.corrections import DECISIONS, decide
from ingest.errors import ArchiveError
from ingest.web.context import catalogue_db, on_catalogue
from ingest.web.edit import _back, _refused, edit_context, on_catalogue_write

PAGE = 48
ROUTE = "/-/gallery/review"


def _kind(value: str | None) -> str:
    return value if value in review.QUEUES else "all"


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def queue(request, datasette) -> Response:
    if (refused := _refused(datasette, request)) is not None:
        return refused
    if request.method == "POST":
        return await _decide(request, datasette)
    kind = _kind(request.args.get("show"))
    after = int(request.args["after"]) if (request.args.get("after") or "").isdigit() else 0

    def load(db):
        rows = review.queue_page(db, kind, after, PAGE + 1)
        return review.counts(db), rows

    counts, rows = await on_catalogue(catalogue_db(datasette), load)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    here = datasette.urls.path(ROUTE)
    following = f"{here}?show={kind}&after={rows[-1]['id']}" if more else None
    return Response.html(await datasette.render_template("gallery-review.html", {
        "kind": kind, "queues": review.QUEUES, "counts": counts, "photos": rows, "next_url": following,
        "first_url": f"{here}?show={kind}" if after else None, "here": here,
    }, request=request))


async def _decide(request, datasette) -> Response:
    pairs = parse_qsl((await request.post_body()).decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(pairs)
    ids = list(dict.fromkeys(int(v) for k, v in pairs if k == "photo" and v.isdigit()))
    decision = form.get("decision", "")
    back = _back(datasette, form, ROUTE)
    if not ids or decision not in DECISIONS:
        return _refusal(request, datasette, back, "Choose one or more photos and a decision." if not ids
                        else f"Unknown decision {decision!r}.", datasette.WARNING)

    def change(db):
        made = decide(db, ids, decision, who=request.actor["id"], via="web")
        return made, review.counts(db)

    try:
        made, counts = await on_catalogue_write(datasette, change)
    except ArchiveError as e:
        return _refusal(request, datasette, back, f"Nothing was saved: {e}", datasette.ERROR)
    words = {"approve": "approved", "withhold": "withheld", "looks-right": "marked as looking right"}[decision]
    message = f"{len(ids)} photo{'s' if len(ids) != 1 else ''} {words}."
    if _wants_json(request):
        return Response.json({"ok": True, "message": message, "ids": ids, "counts": counts,
                              "edits": [e.id for e in made]})
    datasette.add_message(request, message)
    return Response.redirect(back)


def _refusal(request, datasette, back: str, message: str, level: int) -> Response:
    """Nothing decided: a 400 with the reason for review.js, the message and the way back for a form."""
    if _wants_json(request):
        return Response.json({"ok": False, "error": message}, status=400)
    datasette.add_message(request, message, level)
    return Response.redirect(back)


async def one(request, datasette) -> Response:
    """One waiting or flagged photo: the web size, why it is here, the decisions, the photo page's form."""
    if (refused := _refused(datasette, request)) is not None:
        return refused
    photo_id = int(request.url_vars["id"])

    photo = await on_catalogue(catalogue_db(datasette), lambda db: review.queue_photo(db, photo_id))
    if photo is None:
        return Response.text(f"No photo {photo_id}", status=404)
    editing = await edit_context(datasette, request, photo_id)
    return Response.html(await datasette.render_template("gallery-review-photo.html", {
        "photo": photo, "gallery_edit": editing, "here": datasette.urls.path(ROUTE),
    }, request=request))


ROUTES = [
    (rf"^{ROUTE}$", queue),
    (rf"^{ROUTE}/(?P<id>\d+)$", one),
]
