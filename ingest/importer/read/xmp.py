"""XMP, embedded or in a sidecar: never with a DTD, never an entity, never the network (defusedxml
 guards every packet that could hold a DTD; the others go to the C parser)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ingest.errors import MetadataProblem
from ingest.importer.read import clean_date, clean_text, is_private, valid_gps
from ingest.importer.scan import sidecar_paths
from ingest.media import cr3, jxl
from ingest.media.images import header_info
from ingest.media.jpeg import APP1, XMP_APP1, Segment, header_segments
from ingest.media.tags import RDF, XMP_PREFIXES, XMP_SKIPPED

MAX_PACKET = 4 * 1024 * 1024
_MAX_VALUES = 5_000

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"



def find_packet(data: bytes) -> bytes | None:
    """The first XMP packet in a file's bytes: XMP is stored as plain UTF-8 in every format we read."""
    start = data.find(b"<x:xmpmeta")
    end_tag = b"</x:xmpmeta>"
    if start < 0:
        start = data.find(b"<rdf:RDF")
        end_tag = b"</rdf:RDF>"
        if start < 0:
            return None
    # A DTD before the packet (its entities used inside) is as hostile as one inside it.
    before = data[max(0, start - 4096):start]
    if b"<!DOCTYPE" in before or b"<!ENTITY" in before:
        raise MetadataProblem("XMP refused: DTD before the packet (hostile XML)")
    end = data.find(end_tag, start, start + MAX_PACKET + len(end_tag))
    if end < 0:
        if data.find(end_tag, start) >= 0:
            raise MetadataProblem(f"XMP packet larger than {MAX_PACKET // 1024 // 1024} MiB, ignored")
        raise MetadataProblem("XMP packet truncated, ignored")
    return data[start:end + len(end_tag)]


@lru_cache(maxsize=4096)
def _name(tag: str) -> str | None:
    """`prefix:local` for a `{uri}local` tag or attribute (None: a namespace the archive skips)."""
    if not tag.startswith("{"):
        return tag
    uri, _, local = tag[1:].partition("}")
    prefix = XMP_PREFIXES.get(uri)
    if prefix is None:  # unknown namespace: the whole URI names it, so two never collide
        return f"{{{uri}}}{local}"
    if prefix in XMP_SKIPPED:
        return None
    return f"{prefix}:{local}"


@lru_cache(maxsize=4096)
def _kept(tag: str) -> str | None:
    """The key a tag or attribute is kept under; None for a skipped namespace or a private field."""
    key = _name(tag)
    return None if key is None or is_private(key) else key


# Clark names of the RDF syntax, spelled once (not per element).
_RDF = f"{{{RDF}}}"
_RESOURCE, _BAG, _SEQ, _ALT, _LI = (f"{_RDF}{n}" for n in ("resource", "Bag", "Seq", "Alt", "li"))
_PARSE_TYPE, _DESCRIPTION = f"{_RDF}parseType", f"{_RDF}Description"


def _value(el: Element) -> Any:
    """An element's value: text, a list for rdf:Bag/Seq, the x-default (or first) item for rdf:Alt."""
    resource = el.get(_RESOURCE)
    if resource is not None:
        return clean_text(resource)
    children = list(el)
    if not children:
        return clean_text(el.text)
    container = children[0]
    if container.tag in (_BAG, _SEQ):
        items = [clean_text(li.text) for li in container.findall(_LI)][:_MAX_VALUES]
        return [i for i in items if i] or None
    if container.tag == _ALT:
        items = container.findall(_LI)
        default = [li for li in items if li.get(XML_LANG, "").lower() == "x-default"]
        chosen = (default or items or [None])[0]
        return clean_text(chosen.text) if chosen is not None else None
    return None


def _collect(el: Element, prefix: str, facts: dict[str, Any], depth: int = 0) -> None:
    """Properties of an rdf:Description (attributes and child elements); structs flatten with '/'."""
    if depth > 4 or len(facts) > _MAX_VALUES:
        return
    for attr, raw in el.attrib.items():
        if len(facts) >= _MAX_VALUES:
            return
        if attr.startswith(_RDF) or attr == XML_LANG:
            continue
        if (key := _kept(attr)) and (text := clean_text(raw)):
            facts[prefix + key] = text
    for child in el:
        if len(facts) >= _MAX_VALUES:
            return
        key = _kept(child.tag)
        if key is None or child.tag.startswith(_RDF):
            continue
        struct = child.get(_PARSE_TYPE) == "Resource"
        inner = child.find(_DESCRIPTION)
        if struct:
            _collect(child, f"{prefix}{key}/", facts, depth + 1)
        elif inner is not None:
            _collect(inner, f"{prefix}{key}/", facts, depth + 1)
        elif (value := _value(child)) is not None:
            facts[prefix + key] = value


_PLAIN_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["'](utf-?8|us-ascii|iso-8859-1|latin-?1)["']""", re.I)


def _plain(packet: bytes) -> bool:
    """A packet that can hold no DTD: bytes where "<!DOCTYPE" would show as itself (no NUL, so not
    UTF-16/32; no declared encoding but UTF-8, ASCII or Latin-1) and does not. Every entity attack
    needs a DTD, so such a packet goes to the C parser; any other to defusedxml's guarded one."""
    if b"\x00" in packet or b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return False
    head = packet[3:259] if packet.startswith(b"\xef\xbb\xbf") else packet[:256]
    if not head.startswith(b"<?xml"):
        return True   # no declaration: UTF-8
    return b"encoding" not in head.split(b"?>", 1)[0] or bool(_PLAIN_ENCODING.match(head))


def parse_packet(packet: bytes) -> dict[str, Any]:
    """Facts from one XMP packet. Raises MetadataProblem for hostile or malformed XML."""
    try:
        if _plain(packet):
            root = ET.fromstring(packet)
        else:
            root = SafeET.fromstring(packet, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise MetadataProblem(f"XMP refused: {type(e).__name__} (hostile XML)") from None
    except (ParseError, ValueError, UnicodeError, LookupError) as e:  # LookupError: unknown encoding
        raise MetadataProblem(f"XMP malformed: {str(e)[:80]}") from None
    facts: dict[str, Any] = {}
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    for desc in rdf.findall(f"{{{RDF}}}Description") if rdf is not None else ():
        _collect(desc, "", facts)
    for key in ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate", "exif:DateTimeDigitized"):
        if key in facts:
            if (d := clean_date(facts[key] if isinstance(facts[key], str) else None)) is None:
                del facts[key]
            else:
                facts[key] = d
    gps = _gps(facts)
    for key in [k for k in facts if k.startswith("exif:GPS")]:
        del facts[key]
    facts.update(gps)
    return facts


def _gps_coord(text: Any) -> float | None:
    """XMP GPS: 'DDD,MM.mmN' or 'DDD,MM,SSN' (XMP spec), or a signed decimal."""
    if not isinstance(text, str):
        return None
    t = text.strip().upper()
    sign = -1 if t.endswith(("S", "W")) or t.startswith("-") else 1
    t = t.rstrip("NSEW").lstrip("+-")
    try:
        parts = [float(p) for p in t.split(",")]
    except ValueError:
        return None
    if not parts or len(parts) > 3:
        return None
    deg = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    return round(sign * deg, 7)


def _gps(facts: dict[str, Any]) -> dict[str, Any]:
    lat = _gps_coord(facts.get("exif:GPSLatitude"))
    lon = _gps_coord(facts.get("exif:GPSLongitude"))
    return {"exif:GPSLatitude": lat, "exif:GPSLongitude": lon} if valid_gps(lat, lon) else {}


def _raw_profile(text: Any) -> bytes | None:
    """ImageMagick's PNG text chunk `Raw profile type xmp`: "\\nxmp\\n  LENGTH\\nHEX..."."""
    if not isinstance(text, str):
        return None
    parts = text.split(None, 2)
    if len(parts) < 3:
        return None
    try:
        return bytes.fromhex("".join(parts[2].split()))
    except ValueError:
        raise MetadataProblem("XMP in a PNG raw profile is not hexadecimal, ignored") from None


def embedded_region(data: bytes, info: dict[str, Any] | None, segments: list[Segment] | None = None) -> bytes | None:
    """The bytes where the file's format keeps its XMP, and only those: a JPEG's XMP APP1 segment
    (before the picture: an image appended after its end is not this photo's), a PNG's iTXt or
    ImageMagick's raw profile, TIFF tag 700, the WebP chunk or the HEIF/AVIF item (as the decoder's
    `info` gives them), a JPEG XL's `xml ` box, a CR3's XMP box. Searching the whole file once gave a Fujifilm photo an Olympus caption.
    `segments`: a JPEG's header segments when walked already."""
    if data[:3] == b"\xff\xd8\xff":
        return next((s.payload[len(XMP_APP1):] for s in (header_segments(data) if segments is None else segments)
                     if s.marker == APP1 and s.startswith(XMP_APP1)), None)
    if data.startswith(jxl.CONTAINER):   # JPEG XL: the container's `xml ` box
        return jxl.boxes(data).get(b"xml ")
    if cr3.is_cr3(data):   # Canon CR3: its XMP `uuid` box
        return cr3.parts(data).get(b"XMP")
    if info is None:
        info = header_info(data)
    found = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if isinstance(found, str):
        found = found.encode("utf-8")
    if isinstance(found, (bytes, bytearray)) and found:
        return bytes(found)
    return _raw_profile(info.get("Raw profile type xmp"))


def read_xmp(data: bytes, info: dict[str, Any] | None = None, segments: list[Segment] | None = None) -> dict[str, Any]:
    """Facts from the XMP packet a file embeds where its format puts it (empty when there is none).
    `info` is the opened image's `info` (Pillow's), which holds it for every format but JPEG;
    without it the header is parsed here. `segments`: a JPEG's header segments, walked already."""
    region = embedded_region(data, info, segments)
    packet = find_packet(region) if region else None
    return parse_packet(packet) if packet else {}


def read_sidecar(path: Path, sidecars: Iterable[str] | None = None) -> dict[str, Any]:
    """Facts from the first of the file's sidecars (as the scan found them, else as `sidecar_paths`
    finds them beside it); empty when there is none."""
    for side in (Path(s) for s in sidecars) if sidecars is not None else sidecar_paths(path):
        if side.stat().st_size > MAX_PACKET:
            raise MetadataProblem(f"XMP sidecar {side.name} larger than {MAX_PACKET // 1024 // 1024} MiB, ignored")
        data = side.read_bytes()
        packet = find_packet(data) or data
        return parse_packet(packet)
    return {}
