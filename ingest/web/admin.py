"""Admins run the archive from the browser: its accounts and its settings.

GET/POST /-/gallery/accounts (admins only): every account with its role and whether it may sign
in; an admin changes another account's role, or disables and enables it (each ends that account's
sessions, catalogue/accounts.py). Never their own account: an admin cannot lock themselves out from
the web. New photographers come by invitation (invites.py); removing an account stays on the CLI.

GET/POST /-/gallery/settings (admins only): the archive's settings (catalogue/settings.py), each
checked as `ingest settings KEY VALUE` checks it; a wrong value is named and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from datasette.utils.asgi import Response

from ingest.catalogue import settings
from ingest.catalogue.accounts import ROLES, disable_archivist, list_accounts, set_role
from ingest.catalogue.schema import transaction
from ingest.errors import ArchiveError
from ingest.web.context import PLUGIN, archive_name, catalogue_db, forget_settings, on_catalogue
from ingest.web.edit import on_catalogue_write
from ingest.web.permissions import is_admin

ACCOUNTS = f"/-/{PLUGIN}/accounts"
SETTINGS = f"/-/{PLUGIN}/settings"
ROLE_WORDS = {"photographer": "Photographer: uploads, sees their own photos",
              "archivist": "Archivist: reviews, corrects, publishes",
              "admin": "Admin: also accounts and settings"}
# Settings with a fixed set of values: a choice on the form, not free text.
CHOICES = {"public-location": settings.PUBLIC_LOCATIONS, "public-faces": settings.PUBLIC_FACES,
           "publish-on-import": settings.PUBLISH_ON_IMPORT}


def _refused(datasette) -> Response | None:
    if catalogue_db(datasette) is None:
        return Response.text("No gallery is served here", status=404)
    return None


async def _page(datasette, request, template: str, context: dict, status: int = 200) -> Response:
    context = {**context, "archive_title": await archive_name(datasette)}
    return Response.html(await datasette.render_template(template, context, request=request), status=status,
                         headers={"Cache-Control": "no-store"})


def change_account(db: Any, name: str, action: str, role: str | None) -> str:
    """Apply one action of the accounts page; the words to show, or ArchiveError."""
    if action == "role":
        if role not in ROLES:
            raise ArchiveError(f"choose a role: {', '.join(ROLES)}")
        set_role(db, name, role)
        return f"{name} is now {'an' if role[0] in 'aeiou' else 'a'} {role}; their sessions have ended."
    if action in ("disable", "enable"):
        disable_archivist(db, name, disabled=action == "disable")
        return f"{name} may no longer sign in." if action == "disable" else f"{name} may sign in again."
    raise ArchiveError(f"{action!r}: not something this page does")


async def accounts_page(request, datasette) -> Response:
    if not is_admin(request.actor):
        return Response.text("Only admins manage accounts.", status=403)
    if (refused := _refused(datasette)) is not None:
        return refused
    error, status = None, 200
    if request.method == "POST":
        form = await request.post_vars()
        name = (form.get("account") or "").strip()
        if name == request.actor.get("id"):
            error, status = "You cannot change your own account here: ask another admin, or use `ingest accounts`.", 400
        else:
            try:
                said = await on_catalogue_write(datasette, lambda db: change_account(
                    db, name, form.get("action") or "", form.get("role")))
            except ArchiveError as e:
                error, status = str(e), 400
            else:
                datasette.add_message(request, said)
                return Response.redirect(datasette.urls.path(ACCOUNTS))
    listed = await on_catalogue(catalogue_db(datasette), list_accounts)
    return await _page(datasette, request, "gallery-accounts.html", {
        "accounts": [{"name": n, "role": r, "added": a, "disabled": d, "self": n == request.actor.get("id")}
                     for n, r, a, d in listed],
        "roles": [(r, ROLE_WORDS[r]) for r in ROLES], "error": error,
        "invites_url": datasette.urls.path(f"/-/{PLUGIN}/invites"),
    }, status)


def save_settings(db: Any, form: dict[str, str]) -> list[str]:
    """Store every setting the form changed, in one transaction, or none of them: ValueError names
    the first wrong one. Returns what the archivist should do next, in words."""
    before = settings.stored(db)
    notes = []
    with transaction(db):
        for key in (k for k in settings.SETTINGS if k in form):  # a field left out is left as it is
            raw = (form.get(key) or "").strip()
            if raw == (before.get(key) or ""):
                continue
            try:
                value = settings.put(db, key, raw or None)
            except ValueError as e:
                raise ValueError(f"{key}: {e}") from None
            notes += settings.follow_up(db, key, value)
    return notes


async def settings_page(request, datasette) -> Response:
    if not is_admin(request.actor):
        return Response.text("Only admins change the archive's settings.", status=403)
    if (refused := _refused(datasette)) is not None:
        return refused
    error, status, form = None, 200, None
    if request.method == "POST":
        form = {k: v for k, v in (await request.post_vars()).items() if k in settings.SETTINGS}
        try:
            notes = await on_catalogue_write(datasette, lambda db: save_settings(db, form))
        except ValueError as e:
            error, status = str(e), 400
        else:
            forget_settings(datasette)
            for note in ["Settings saved.", *notes]:
                datasette.add_message(request, note)
            return Response.redirect(datasette.urls.path(SETTINGS))
    stored = await on_catalogue(catalogue_db(datasette), settings.stored)
    values = form if form is not None else stored
    return await _page(datasette, request, "gallery-settings.html", {
        "settings": [{"key": k, "meaning": meaning, "value": values.get(k) or "", "choices": CHOICES.get(k)}
                     for k, meaning in settings.SETTINGS.items()],
        "error": error,
    }, status)


ROUTES = [(rf"^{ACCOUNTS}$", accounts_page), (rf"^{SETTINGS}$", settings_page)]
