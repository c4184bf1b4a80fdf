"""Text rules used in more than one stage: the one name-matching key, and URL slugs."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def key(name: str) -> str:
    """The one matching key for names people type (cities, aliases, demonstrations): case-,
    accent- and punctuation-insensitive, so München = Munchen = MUNCHEN and "St. Gallen" = "St Gallen"."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", text).split())


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "untitled"
