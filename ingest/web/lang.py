"""Every HTML page says its language: Datasette 0.65's page template writes a bare `<html>`.

Screen readers pick their voice from `lang`, and axe counts its absence as serious; gallery.js
set it after load, which is too late for a reader and absent without JavaScript. The middleware
puts `lang="en"` into the opening tag of HTML responses that lack it, as the page is sent (the
tag is in the first bytes), and corrects the length header to match.
"""

from __future__ import annotations

LANG = b"en"
_BARE = b"<html>"
_LOOK = 512  # the opening tag sits after at most a doctype and a comment


def wrap(app):
    async def with_lang(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        held: dict = {}

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = dict((k.lower(), v) for k, v in message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    held["start"] = message  # until the first bytes say whether the tag needs it
                    return
                return await send(message)
            if message["type"] == "http.response.body" and "start" in held:
                start, body = held.pop("start"), message.get("body", b"")
                at = body.find(_BARE, 0, _LOOK)
                if at >= 0:
                    body = body[:at] + b'<html lang="' + LANG + b'">' + body[at + len(_BARE):]
                    grown = len(body) - len(message.get("body", b""))
                    start = dict(start, headers=[
                        (k, str(int(v) + grown).encode() if k.lower() == b"content-length" else v)
                        for k, v in start.get("headers", [])])
                    message = dict(message, body=body)
                await send(start)
            await send(message)

        await app(scope, receive, sending)

    return with_lang
