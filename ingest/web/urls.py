"""Absolute URLs from the operator's configured public address, never from the request.

Datasette's `absolute_url` builds on the request's Host header, which any client sets: a feed or a
credit line built that way, cached by a proxy, hands everyone the attacker's links. The public
address is INGEST_PUBLIC_URL, else the archive's `public-url` setting; with one, `pin_host` also
gives every request its host, so Datasette's own absolute links (alternate links, JSON next_url)
follow it. Without one, a route either links root-relative or, where the format needs absolute
URLs (Atom ids, the source link inside a download), uses the request's and answers
`Cache-Control: private, no-store`; and `pin_host` makes Datasette's cacheable answers private, so
a forged Host only ever reaches the client that forged it.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import urlsplit

from ingest.catalogue import settings
from ingest.web.context import archive_setting

PRIVATE = "private, no-store"
_log = logging.getLogger(__name__)


def public_base(datasette) -> str | None:
    """The configured public address (no trailing slash), or None. The setting is read from the
    catalogue at most every 2 seconds; a bad INGEST_PUBLIC_URL counts as none, with a warning."""
    raw = os.environ.get("INGEST_PUBLIC_URL")
    if raw:
        try:
            return settings.public_url(raw)
        except ValueError as e:
            _log.warning("INGEST_PUBLIC_URL ignored: %s", e)
            return None
    found = archive_setting(datasette, "public-url")
    try:
        return settings.public_url(found) if found else None
    except ValueError:
        return None


def public_url(datasette, path: str) -> str | None:
    """The public address of `path` (a path Datasette made, with its base_url), or None when no
    public address is configured."""
    base = public_base(datasette)
    if base is None:
        return None
    prefix = datasette.setting("base_url") or "/"
    relative = path[len(prefix):] if path.startswith(prefix) else path.lstrip("/")
    return f"{base}/{relative}"


def absolute_url(datasette, request, path: str) -> tuple[str, bool]:
    """(the absolute URL of `path`, whether it is safe to cache publicly): the public address's
    when one is configured, else the request's, which only this client may cache."""
    found = public_url(datasette, path)
    if found is not None:
        return found, True
    return datasette.absolute_url(request, path), False


def pin_host(app, datasette):
    """ASGI wrapper: with a public address, every request is answered as if sent to it; without
    one, answers a shared cache could keep (Datasette's `max-age`) are made private. Either way no
    answer but an immutable one (an image whose URL dies with the photo's publication) is kept longer
    than default_cache_ttl: Datasette's `?_ttl=` may shorten that, never lengthen it, so that
    nobody can make a cache keep a page that names a photo after its withdrawal."""
    async def wrapped(scope, receive, send):
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        await datasette.invoke_startup()  # idempotent; until it has run, no catalogue is known
        base = public_base(datasette)
        longest = int(datasette.setting("default_cache_ttl") or 0)

        async def cached(message):
            if message.get("type") == "http.response.start":
                message = {**message, "headers": [_cache_control(k, v, longest, private=base is None)
                                                  for k, v in message.get("headers", [])]}
            await send(message)

        if base is not None:
            parts = urlsplit(base)
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"host"]
            scope = {**scope, "scheme": parts.scheme, "headers": [*headers, (b"host", parts.netloc.encode("ascii"))]}
        return await app(scope, receive, cached)

    return wrapped


_MAX_AGE = re.compile(rb"max-age=(\d+)")


def _cache_control(key: bytes, value: bytes, longest: int, private: bool) -> tuple[bytes, bytes]:
    if key.lower() != b"cache-control" or b"immutable" in value:
        return key, value
    value = _MAX_AGE.sub(lambda m: b"max-age=%d" % min(int(m[1]), longest), value)
    if private and not any(w in value for w in (b"private", b"no-store")):
        value = b"private, " + value
    return key, value
