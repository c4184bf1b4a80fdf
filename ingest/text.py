"""Text rules used in more than one stage: the one name-matching key, URL slugs, printable file
names, and what XML may hold."""

from __future__ import annotations

import os
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


def shown(name: str) -> str:
    """A file name (or a message quoting one) as text that any output and any SQLite column takes.

    Python keeps the bytes of a name that is not UTF-8 as lone surrogates (os.fsdecode), which no
    encoder accepts; here they become U+FFFD. For people to read only: the file is found again
    by its own name, never by this."""
    try:
        return os.fsencode(name).decode("utf-8", "replace")
    except UnicodeError:  # a surrogate os.fsdecode never makes
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in name)


# What XML 1.0 cannot carry (C0 controls but tab and newline, lone surrogates, U+FFFE and U+FFFF),
# and what it discourages and no reader shows (CR, DEL, the C1 controls): one byte of it in one
# photo's IPTC title made the whole Atom feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text without the characters XML and HTML outputs cannot or should not carry."""
    return _NOT_XML.sub("", text)
