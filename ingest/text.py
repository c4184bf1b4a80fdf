"""Text rules used in more than one stage: the one name-matching key, and URL slugs."""

from __future__ import annotations

import re
import unicodedata


def key(name: str) -> str:
    """Matching key: case- and accent-insensitive (München = Munchen = MUNCHEN)."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.replace("-", " ").replace("'", " ").split())



def normalise(name: str) -> str:
    """Case-, accent-spacing- and punctuation-insensitive key for matching names."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.split())



def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "untitled"
