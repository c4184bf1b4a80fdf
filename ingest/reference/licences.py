"""The licence catalogue and exact parsing of rights statements.

A licence is an SPDX identifier with its deed URL and permissions. Text that does not name one
exact licence (no version, "some rights reserved") is never promoted to a guess: `parse_licence`
returns None and the caller keeps the text and marks the photo for review.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from ingest import cache

UNKNOWN = "unknown"
ALL_RIGHTS_RESERVED = "all-rights-reserved"

# CC licence elements in their URL order; the 1.0 NC-ND licence is "by-nd-nc" in its URL.
_ELEMENTS = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")
_WORDS = {
    "by": "Attribution",
    "by-sa": "Attribution-ShareAlike",
    "by-nd": "Attribution-NoDerivs",
    "by-nc": "Attribution-NonCommercial",
    "by-nc-sa": "Attribution-NonCommercial-ShareAlike",
    "by-nc-nd": "Attribution-NonCommercial-NoDerivs",
}
_SUFFIX = {"4.0": "International", "3.0": "Unported", "2.5": "Generic", "2.0": "Generic", "1.0": "Generic"}
VERSIONS = tuple(_SUFFIX)


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    url: str | None
    version: str | None
    is_cc: bool
    allows_commercial: bool | None
    allows_adaptations: bool | None
    share_alike: bool | None
    attribution_required: bool | None
    commons_compatible: bool


def _url_code(code: str, version: str) -> str:
    return "by-nd-nc" if (code == "by-nc-nd" and version == "1.0") else code


_PORTS = {
    "AT": "Austria", "AU": "Australia", "DE": "Germany", "FR": "France", "IGO": "IGO", "JP": "Japan",
    "NL": "Netherlands", "UK": "England and Wales", "US": "United States",
}
_SPDX_CC = re.compile(r"^CC-(?P<code>BY(?:-NC)?(?:-ND|-SA)?)-(?P<ver>\d\.\d)(?:-(?P<port>[A-Z]+))?$")


@lru_cache(maxsize=1)
def _spdx_cc_ids() -> list[str]:
    """The CC licence ids SPDX lists (ports included), from license-expression's bundled index.
    Parsing that index costs ~0.07 s, so the ids are kept in the cache folder (ingest/cache.py),
    keyed by the index file's size and time."""
    name = None
    try:
        index_file = Path(str(files("license_expression") / "data" / "scancode-licensedb-index.json"))
        st = index_file.stat()
        name = f"spdx-cc-ids-{st.st_size}-{st.st_mtime_ns}-v1.json"
        try:
            kept = json.loads(cache.read(name) or b"null")
        except ValueError:
            kept = None
        if isinstance(kept, list) and kept:
            return kept
        ids = {row.get("spdx_license_key") or "" for row in json.loads(index_file.read_text())}
    except (ImportError, OSError, ValueError):  # the package is a dependency; this is belt and braces
        ids = set()
    ids |= {f"CC-{code.upper()}-{v}" for v in VERSIONS for code in _ELEMENTS}
    found = sorted(i for i in ids if _SPDX_CC.match(i))
    if name:
        cache.write(name, json.dumps(found).encode())
    return found


def _cc_licence(spdx: str) -> Licence:
    m = _SPDX_CC.match(spdx)
    code, version, port = m["code"].lower(), m["ver"], m["port"]
    words = _WORDS[code].replace("NoDerivs", "NoDerivatives") if version == "4.0" else _WORDS[code]
    where = _PORTS.get(port, port) if port else _SUFFIX.get(version, "Generic")
    url = f"https://creativecommons.org/licenses/{_url_code(code, version)}/{version}/"
    if port:
        url += ("uk" if port == "UK" else port.lower()) + "/"
    return Licence(
        id=spdx, name=f"Creative Commons {words} {version} {where}", url=url, version=version, is_cc=True,
        allows_commercial="nc" not in code, allows_adaptations="nd" not in code, share_alike="sa" in code,
        attribution_required=True, commons_compatible=code in ("by", "by-sa"),
    )


def catalogue() -> list[Licence]:
    """Every CC licence SPDX lists (1.0 to 4.0, with the 2.0-3.0 ports), CC0, the Public Domain
    Mark, and two non-CC rows. Generated, not typed: the id list comes from license-expression."""
    rows = [_cc_licence(spdx) for spdx in _spdx_cc_ids()]
    rows += [
        Licence("CC0-1.0", "Creative Commons Zero v1.0 Universal",
                "https://creativecommons.org/publicdomain/zero/1.0/", "1.0", True,
                True, True, False, False, True),
        Licence("CC-PDM-1.0", "Public Domain Mark 1.0",
                "https://creativecommons.org/publicdomain/mark/1.0/", "1.0", True,
                True, True, False, False, True),
        Licence(ALL_RIGHTS_RESERVED, "All rights reserved", None, None, False,
                False, False, False, True, False),
        Licence(UNKNOWN, "Unknown licence", None, None, False, None, None, None, None, False),
    ]
    return rows


_URL = re.compile(
    r"creativecommons\.org/(?:licen[cs]es/(?P<code>by(?:-nc)?(?:-nd|-sa)?(?:-nc)?)/(?P<ver>[1-4]\.[015])"
    r"(?:/(?!deed\b|legalcode\b)(?P<port>[a-z]{2,})(?![\w-]))?"
    r"|publicdomain/(?P<pd>zero|mark)/1\.0)",
    re.I,
)
_SHORT = re.compile(
    r"\bcc[\s_-]*(?P<code>by(?:[\s_-]*(?:nc|nd|sa)){0,2})[\s_-]*(?:v(?:ersion)?\s*)?(?P<ver>[1-4]\.[015])"
    r"(?P<more>(?:\s*,\s*[1-4]\.[05])*)(?:[_-](?P<port>[a-z]{2,3}|scotland)|\s+(?P<port2>(?-i:[A-Z]{2,3})))?\b",
    re.I,
)
_LONG = re.compile(
    r"(?:creative\s+commons\s+(?:licen[cs]e\s+)?)?(?<![\w-])(?P<words>attribution(?:[\s-]+(?:non-?commercial"
    r"|share[\s-]?alike|no[\s-]?deriv(?:ative)?s|no[\s-]derivative[\s-]works))*)"
    r"[\s,]*(?:licen[cs]e\s*)?(?:v(?:ersion)?\s*)?(?P<ver>[1-4]\.[05])"
    r"(?:\s+(?P<suffix>international|unported|generic|universal)"
    r"|\s+(?P<where>[a-z][a-z ]+?)(?=\s*(?:licen[cs]e|$|[.,;()])))?",
    re.I,
)
_CC0 = re.compile(r"\bcc[\s-]*0\b|\bcc[\s-]*zero\b|creative\s+commons\s+zero|publicdomain/zero", re.I)
_PDM = re.compile(r"public\s+domain\s+mark|\bcc-pdm-1\.0\b", re.I)
_DASH = re.compile("[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")
_WORD_PORT = re.compile(r"international|unported|generic|universal|license|licence|deed", re.I)
_PORT_NAMES = {v.lower(): k for k, v in _PORTS.items()} | {"england & wales": "UK"}


def _normalise_code(raw: str) -> str | None:
    parts = set(re.findall(r"nc|nd|sa", raw.lower()))
    if {"nd", "sa"} <= parts:
        return None
    code = "by" + ("-nc" if "nc" in parts else "") + ("-nd" if "nd" in parts else "") + ("-sa" if "sa" in parts else "")
    return code


def _cc_id(code: str, version: str, port: str = "") -> str:
    return f"CC-{code.upper()}-{version}" + (f"-{port.upper()}" if port else "")


@lru_cache(maxsize=4096)   # a photographer's statement repeats over every photo of a card
def parse_licence(text: str | None) -> str | None:
    """The SPDX id of the one licence `text` names exactly, else None.

    URLs, short forms ("CC BY-SA 3.0 DE"), long forms and deed titles all count, and they must
    agree; a port SPDX does not list, a missing version, or two licences give None.
    """
    if not text or not text.strip():
        return None
    text = _DASH.sub("-", unicodedata.normalize("NFKC", text))
    found: set[str] = set()
    for m in _URL.finditer(text):
        if m["pd"]:
            found.add("CC0-1.0" if m["pd"].lower() == "zero" else "CC-PDM-1.0")
        elif (code := _normalise_code(m["code"])):
            found.add(_cc_id(code, m["ver"], m["port"] or ""))
    for m in _SHORT.finditer(text):
        if (code := _normalise_code(m["code"])):
            port = (m["port"] or m["port2"] or "").upper()
            port = "" if m["ver"] == "4.0" or _WORD_PORT.fullmatch(port) else port
            for version in [m["ver"], *re.findall(r"[1-4]\.[05]", m["more"] or "")]:
                found.add(_cc_id(code, version, port))
    for m in _LONG.finditer(text):
        if not text[:m.start("words")].lower().rstrip().endswith("creative commons") and not m["suffix"]:
            continue  # a bare "Attribution 4.0" needs CC's own suffix to count
        words = m["words"].lower()
        raw = "by" + ("-nc" if "commercial" in words else "") + ("-nd" if "deriv" in words else "") + (
            "-sa" if "share" in words else "")
        if (code := _normalise_code(raw)):
            port = _PORT_NAMES.get(m["where"].strip().lower(), "?") if m["where"] else ""
            found.add(_cc_id(code, m["ver"], port))
    if _CC0.search(text):
        found.add("CC0-1.0")
    if _PDM.search(text):
        found.add("CC-PDM-1.0")
    if len(found) != 1 or not found <= _known_ids():  # an unlisted port is not "close enough"
        return None
    return found.pop()


@lru_cache(maxsize=1)
def _known_ids() -> frozenset[str]:
    return frozenset(lic.id for lic in catalogue())


def looks_like_licence(text: str | None) -> bool:
    """Whether `text` talks about licensing at all (so an unparsed one deserves review)."""
    return bool(text and re.search(r"creative\s*commons|\bcc[\s-]|licen[cs]|public\s*domain|rights", text, re.I))


def exact_licence(text: str) -> str | None:
    """The SPDX id of a licence someone typed (an id in any case, a URL, CC's own wording), or None."""
    known = {lic.id.lower(): lic.id for lic in catalogue()}
    return known.get(text.strip().lower()) or parse_licence(text)
