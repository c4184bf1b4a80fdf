"""XMP packets in the shapes the XMP and IPTC specifications give each property."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ingest.media.tags import RDF, XMP_NAMESPACES
from ingest.text import xml_safe

# Property types from the XMP and IPTC specifications; anything else is simple text
# (or an rdf:Bag when given a list).
_SEQ = {"dc:creator", "dc:date", "Iptc4xmpExt:PersonInImage"}
_BAG = {"dc:subject", "dc:publisher", "dc:contributor", "dc:type", "photoshop:SupplementalCategories"}
_ALT = {"dc:title", "dc:description", "dc:rights", "xmpRights:UsageTerms", "Iptc4xmpExt:Event"}
_URI = {"cc:license", "cc:morePermissions"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        value = "True" if value else "False"
    return escape(xml_safe(str(value)))  # drop what XML cannot carry rather than emit a broken packet


def _prefix(qname: str) -> str:
    prefix, sep, local = qname.partition(":")
    if not sep or not local or prefix not in XMP_NAMESPACES:
        raise ValueError(f"unknown XMP property {qname!r}: expected one of the prefixes {sorted(XMP_NAMESPACES)}")
    return prefix


def _property(qname: str, value: Any, used: set[str], indent: str) -> str:
    used.add(_prefix(qname))
    if qname in _ALT:
        langs = value if isinstance(value, Mapping) else {"x-default": value}
        items = "".join(
            f"{indent}  <rdf:li xml:lang={quoteattr(xml_safe(str(lang)))}>{_text(v)}</rdf:li>\n" for lang, v in langs.items()
        )
        return f"{indent}<{qname}>\n{indent} <rdf:Alt>\n{items}{indent} </rdf:Alt>\n{indent}</{qname}>\n"
    if qname in _URI and isinstance(value, str):
        return f"{indent}<{qname} rdf:resource={quoteattr(xml_safe(value))}/>\n"
    if isinstance(value, Mapping):  # a structure, e.g. Iptc4xmpCore:CreatorContactInfo
        inner = "".join(_property(k, v, used, indent + "  ") for k, v in value.items() if v is not None)
        return f'{indent}<{qname} rdf:parseType="Resource">\n{inner}{indent}</{qname}>\n'
    if isinstance(value, (list, tuple, set, frozenset)) or qname in _SEQ or qname in _BAG:
        values = [value] if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) else list(value)
        kind = "Seq" if qname in _SEQ else "Bag"
        items = "".join(f"{indent}  <rdf:li>{_text(v)}</rdf:li>\n" for v in values)
        return f"{indent}<{qname}>\n{indent} <rdf:{kind}>\n{items}{indent} </rdf:{kind}>\n{indent}</{qname}>\n"
    return f"{indent}<{qname}>{_text(value)}</{qname}>\n"


def xmp_packet(fields: Mapping[str, Any], *, padding: int = 0) -> bytes:
    """Build a UTF-8 XMP packet from ``{"prefix:Name": value}``; None values are skipped.

    Array and language-alternative shapes follow the XMP/IPTC specs (dc:creator is an
    rdf:Seq, dc:subject an rdf:Bag, dc:title/description/rights, xmpRights:UsageTerms and
    Iptc4xmpExt:Event are rdf:Alt), because exiftool and Adobe tools ignore or mangle
    properties written in the wrong shape. Give an rdf:Alt property a dict to set several
    languages. ``padding`` adds the whitespace the spec recommends for in-place editing.
    """
    used: set[str] = set()
    body = "".join(_property(k, v, used, "   ") for k, v in fields.items() if v is not None)
    xmlns = "".join(f"\n    xmlns:{p}={quoteattr(XMP_NAMESPACES[p])}" for p in sorted(used))
    pad = (" " * 99 + "\n") * (padding // 100) if padding > 0 else ""
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="ingest">\n'
        f' <rdf:RDF xmlns:rdf="{RDF}">\n'
        f'  <rdf:Description rdf:about=""{xmlns}>\n'
        f"{body}"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        f'{pad}<?xpacket end="w"?>'
    )
    return text.encode("utf-8")
