"""Invitations: an admin makes a one-time, expiring link; whoever opens it makes a photographer account.

GET/POST /-/gallery/invites (admins only): the invitations still open, and a button for a new one,
whose link is shown once (only its hash is stored). GET/POST /-/gallery/invite/<token>: the form
for a name and a password, while the invitation is unused and unexpired; then to the sign-in.
"""

from __future__ import annotations

import asyncio

from datasette.utils.asgi import Response

from ingest.archive import Archive
from ingest.catalogue.accounts import (
    MIN_PASSWORD,
    create_invite,
    invite_open,
    open_invites,
    redeem_invite,
)
from ingest.errors import ArchiveError
from ingest.web.context import (
    PLUGIN,
    archive_name,
    catalogue_db,
    catalogue_path,
    on_catalogue,
)
from ingest.web.permissions import is_admin
from ingest.web.urls import absolute_url

ROUTE = f"/-/{PLUGIN}/invites"
INVITE = f"/-/{PLUGIN}/invite"


async def _write(datasette, fn):
    path = catalogue_path(datasette)

    def run():
        with Archive(path).connection() as db:
            return fn(db)

    return await asyncio.to_thread(run)


async def invites(request, datasette) -> Response:
    if not is_admin(request.actor):
        return Response.text("Only admins invite photographers.", status=403)
    if catalogue_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    link = None
    if request.method == "POST":
        form = await request.post_vars()
        days = int(form["days"]) if (form.get("days") or "").isdigit() else 7
        try:
            token = await _write(datasette, lambda db: create_invite(db, request.actor["id"], days))
        except ArchiveError as e:
            return Response.text(str(e), status=400)
        link = absolute_url(datasette, request, datasette.urls.path(f"{INVITE}/{token}"))[0]
    listed = await on_catalogue(catalogue_db(datasette), open_invites)
    return Response.html(await datasette.render_template("gallery-invites.html", {
        "link": link, "invites": listed, "archive_title": await archive_name(datasette),
    }, request=request), headers={"Cache-Control": "no-store"})


async def accept(request, datasette) -> Response:
    token = request.url_vars["token"]
    if catalogue_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    error, name = None, ""
    if request.method == "POST":
        form = await request.post_vars()
        name = (form.get("username") or "").strip()
        password = form.get("password") or ""
        if password != (form.get("password2") or ""):
            error = "The two passwords differ."
        else:
            try:
                await _write(datasette, lambda db: redeem_invite(db, token, name, password))
            except ArchiveError as e:
                error = str(e)
            else:
                datasette.add_message(request, f"Welcome, {name}: sign in to upload your photos.")
                return Response.redirect(datasette.urls.path("/-/login") + f"?next=/-/{PLUGIN}/upload")
    if not await on_catalogue(catalogue_db(datasette), lambda db: invite_open(db, token)):
        return Response.html(await datasette.render_template("gallery-invite.html", {
            "expired": True, "archive_title": await archive_name(datasette)}, request=request), status=404)
    return Response.html(await datasette.render_template("gallery-invite.html", {
        "expired": False, "error": error, "username": name, "min_password": MIN_PASSWORD,
        "archive_title": await archive_name(datasette)}, request=request),
        status=400 if error else 200, headers={"Cache-Control": "no-store"})


ROUTES = [(rf"^{ROUTE}$", invites), (rf"^{INVITE}/(?P<token>[A-Za-z0-9_-]{{16,64}})$", accept)]
