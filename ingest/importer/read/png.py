"""PNG text chunks (tEXt, zTXt, iTXt): the keywords the PNG specification names for people."""

from __future__ import annotations

from typing import Any

from ingest.importer.read import clean_date, clean_text

# The specification's keywords that say who, what and when; others (Comment, Software, Source,
# Disclaimer, Warning, and whatever tools invent: notes, device names) are not read.
KEYWORDS = ("Title", "Author", "Description", "Copyright")


def read_png_text(info: dict[str, Any]) -> dict[str, Any]:
    """Facts from a PNG's text chunks as the decoder's `info` holds them (those before the pixels;
    Pillow reads the ones after only by decoding the whole image)."""
    facts: dict[str, Any] = {}
    for name in KEYWORDS:
        if (text := clean_text(info.get(name))) is not None:
            facts[name] = text
    if (when := clean_date(info.get("Creation Time"))) is not None:
        facts["Creation Time"] = when
    return facts
