"""Signing in, sessions that end when the account changes, and the headers every response carries.

- **Sign-in** (`/-/login`, served by /-/gallery/login): accounts from the catalogue (`ingest
  accounts add`, each with its role) or from configuration (`datasette-auth-passwords`' `NAME_password_hash` keys).
  Failures are counted per name and per client address, and past a limit the form answers 429
  without checking anything. Every check costs one PBKDF2 hash, run in a thread, one at a time
  (a queue of bounded length; past it, 503), so guessers cannot starve the pages; an unknown name
  is checked against a decoy hash, so the time taken does not tell which names exist.
- **Sessions**: the `ds_actor` cookie carries a token derived from the account's password hash.
  Every request that brings one is checked against the accounts as they are now (a read-only
  query of the catalogue): a removed or disabled account, or a changed password, ends the
  session at once. Roles come only from the accounts; an actor without a valid session (an id
  alone, Datasette's `--root`) is no archivist. HTTP Basic credentials are dropped unread.
- **Headers**: every response says nosniff, same-origin referrers, no framing, and a content
  security policy: no inline script on the gallery's own pages; Datasette's pages need theirs.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections import defaultdict, deque
from http.cookies import SimpleCookie
from typing import Any

from datasette.utils.asgi import Response

from ingest.archive import Archive
from ingest.catalogue.accounts import Account, accounts, decoy_hash, session_token, verify_password
from ingest.web import serving
from ingest.web.compat import instance_metadata
from ingest.web.permissions import SESSION

LOGIN = "/-/gallery/login"         # our route; /-/login is rewritten to it
ACCOUNT_LIMIT = (5, 300.0)         # failures per name, per seconds
ADDRESS_LIMIT = (20, 600.0)        # failures per client address, per seconds
MAX_WAITING = 8                    # sign-ins queued for the hasher before 503
CONFIG_PLUGIN = "datasette-auth-passwords"

OUR_PAGES_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
                 "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# Datasette's own pages (tables, rows, SQL, the map) carry inline scripts of their own.
DATASETTE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                 "img-src 'self' data: https:; object-src 'none'; base-uri 'self'; form-action 'self'; "
                 "frame-ancestors 'none'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
           (b"x-frame-options", b"DENY")]


class Failures:
    """Failed sign-ins per key within a sliding window."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.seen: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self.seen[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, key: str, now: float) -> float:
        """Seconds before KEY may try again (0: now)."""
        times = self._recent(key, now)
        return times[0] + self.window - now if len(times) >= self.limit else 0.0

    def failed(self, key: str, now: float) -> None:
        self._recent(key, now).append(now)

    def forget(self, key: str) -> None:
        self.seen.pop(key, None)


class Guard:
    """One server's sign-in state: failure counts and the one hasher."""

    def __init__(self):
        self.names = Failures(*ACCOUNT_LIMIT)
        self.addresses = Failures(*ADDRESS_LIMIT)
        self.hasher = asyncio.Semaphore(1)
        self.waiting = 0

    async def verify(self, password: str, encoded: str) -> bool | None:
        """The check, off the event loop and one at a time; None when too many already wait."""
        if self.waiting >= MAX_WAITING:
            return None
        self.waiting += 1
        try:
            async with self.hasher:
                return await asyncio.to_thread(verify_password, password, encoded)
        finally:
            self.waiting -= 1


_guards: "weakref.WeakKeyDictionary[Any, Guard]" = weakref.WeakKeyDictionary()


def guard_for(datasette) -> Guard:
    if datasette not in _guards:
        _guards[datasette] = Guard()
    return _guards[datasette]


def configured_accounts(datasette) -> dict[str, Account]:
    """Accounts an operator put in configuration, in datasette-auth-passwords' form."""
    config = datasette.plugin_config(CONFIG_PLUGIN) or {}
    actors = config.get("actors") or {}
    found = {}
    for key, value in config.items():
        if key.endswith("_password_hash") and isinstance(value, str):
            name = key[: -len("_password_hash")]
            roles = (actors.get(name) or {}).get("roles") or ()
            found[name] = Account(name, value, tuple(r for r in roles if isinstance(r, str)))
    return found


def find_account(datasette, name: str) -> Account | None:
    """NAME's account as it is now: the catalogue's first, then configuration's."""
    for served in serving.served(datasette):
        try:
            with Archive(served.copy.catalogue).connection(readonly=True) as db:
                found = accounts(db).get(name)
        except Exception:  # a catalogue that cannot be read grants nothing
            continue
        if found is not None:
            return found
    return configured_accounts(datasette).get(name)


def session_actor(account: Account) -> dict:
    return {"id": account.name, "roles": list(account.roles), SESSION: session_token(account)}


def valid_session(datasette, actor: Any) -> bool:
    """Whether this actor is a session of an account that exists, is enabled and has the password
    it had when the session began."""
    if not isinstance(actor, dict) or not isinstance(actor.get("id"), str) or SESSION not in actor:
        return False
    account = find_account(datasette, actor["id"])
    return (account is not None and not account.disabled and actor.get(SESSION) == session_token(account)
            and list(actor.get("roles") or []) == list(account.roles))


def _secure(request) -> bool:
    return request.scheme == "https" or os.environ.get("INGEST_PUBLIC_URL", "").startswith("https://")


def _local(target: str) -> str:
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else "/"


async def _form(datasette, request, *, error: str | None = None, username: str = "", next_: str = "/",
                status: int = 200, headers: dict | None = None) -> Response:
    title = await instance_metadata(datasette, "title")
    html = await datasette.render_template("gallery-login.html", {
        "error": error, "username": username, "next": next_, "action": datasette.urls.path("/-/login"),
        "archive_title": title or "the archive"}, request=request)
    return Response.html(html, status=status, headers=headers)


async def login(request, datasette) -> Response:
    """GET: the form. POST: sign in, or say why not (wrong name or password, too many tries)."""
    next_ = _local(request.args.get("next") or "/")
    if request.method != "POST":
        return await _form(datasette, request, next_=next_)
    form = await request.post_vars()
    name, password = (form.get("username") or "").strip(), form.get("password") or ""
    next_ = _local(form.get("next") or next_)
    guard, now = guard_for(datasette), time.monotonic()
    address = (request.scope.get("client") or ("?",))[0]
    wait = max(guard.names.wait(name.casefold(), now), guard.addresses.wait(address, now))
    if wait:  # answered as cheaply as possible: a guesser's loop must not cost the pages anything
        minutes = max(1, round(wait / 60))
        return Response.text(f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.\n",
                             status=429, headers={"Retry-After": str(int(wait) + 1)})
    account = find_account(datasette, name) if name else None
    usable = account is not None and not account.disabled
    matched = await guard.verify(password, account.password_hash if usable else decoy_hash())
    if matched is None:
        return await _form(datasette, request, username=name, next_=next_, status=503, headers={"Retry-After": "5"},
                           error="The server is busy with other sign-ins. Try again in a few seconds.")
    if not (matched and usable):
        now = time.monotonic()
        guard.names.failed(name.casefold(), now)
        guard.addresses.failed(address, now)
        return await _form(datasette, request, username=name, next_=next_, status=403,
                           error="Wrong name or password.")
    guard.names.forget(name.casefold())
    response = Response.redirect(next_)
    response.set_cookie("ds_actor", datasette.sign({"a": session_actor(account)}, "actor"),
                        httponly=True, samesite="lax", secure=_secure(request))
    return response


ROUTES = [(rf"^{LOGIN}$", login), (r"^/-/login$", login)]


def _cookies(headers: list[tuple[bytes, bytes]]) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for key, value in headers:
        if key == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                continue
    return jar


def _without_cookie(headers: list[tuple[bytes, bytes]], name: str) -> list[tuple[bytes, bytes]]:
    out = []
    for key, value in headers:
        if key == b"cookie":
            parts = [p for p in value.decode("latin-1").split(";") if p.strip().split("=", 1)[0] != name]
            if not parts:
                continue
            value = ";".join(parts).strip().encode("latin-1")
        out.append((key, value))
    return out


def session_of(datasette, headers: list[tuple[bytes, bytes]]) -> tuple[bool, bool]:
    """(the request brings an actor cookie, that cookie is a valid session or someone else's)."""
    morsel = _cookies(headers).get("ds_actor")
    if morsel is None:
        return False, True
    try:
        actor = (datasette.unsign(morsel.value, "actor") or {}).get("a")
    except Exception:
        return True, False
    if isinstance(actor, dict) and SESSION not in actor and not actor.get("roles"):
        return True, True   # a plain actor of another sign-in (no roles): Datasette's to judge
    return True, valid_session(datasette, actor)


MULTIPART_REFUSED = ("Refused: a multipart form sent with cookies must carry its CSRF token in the "
                     "x-csrftoken header.\n")


def multipart_without_token(method: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """A multipart POST that carries cookies but no `x-csrftoken` header: asgi-csrf 0.11 cannot read
    its token from the body with python-multipart 0.0.34 (it fails with a 500), so it is refused
    here, as a CSRF failure, before it gets there."""
    if method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return False
    names = {k for k, _ in headers}
    kind = next((v for k, v in headers if k == b"content-type"), b"").split(b";", 1)[0].strip().lower()
    return kind == b"multipart/form-data" and b"cookie" in names and b"x-csrftoken" not in names


def wrap(app, datasette):
    """The middleware: sessions checked, Basic credentials dropped, /-/login ours, headers added."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        path = scope.get("path", "")
        if path == "/-/password-tool":  # hashing on demand for anyone: a denial-of-service handle
            return await Response.text("Not found", status=404).asgi_send(send)
        if path == "/-/login":
            scope = dict(scope, path=LOGIN, raw_path=LOGIN.encode())
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"authorization"]
        if multipart_without_token(scope.get("method", ""), headers):
            return await Response.text(MULTIPART_REFUSED, status=403).asgi_send(send)
        if any(k == b"cookie" and b"ds_actor=" in v for k, v in headers):
            await datasette.invoke_startup()  # the served catalogues hold the accounts (idempotent)
        has_actor, valid = session_of(datasette, headers)
        clear = has_actor and not valid
        if clear:
            headers = _without_cookie(headers, "ds_actor")
        scope = dict(scope, headers=headers)
        ours = path.startswith("/-/gallery/") or path == "/-/login"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", (OUR_PAGES_CSP if ours else DATASETTE_CSP).encode()))
                if clear:
                    extra.append((b"set-cookie", b"ds_actor=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"))
                message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        await app(scope, receive, send_with_headers)

    return guarded
