"""Write metadata into image bytes: XMP packets, EXIF blocks, IPTC-IIM and JPEG segments.

Used to make realistic test photos, and to stamp licence and attribution XMP into
downloads so that the credit travels with the file, not just with the web page.
Everything here is a pure function from values to bytes.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, TiffImagePlugin

NAMESPACES: dict[str, str] = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "cc": "http://creativecommons.org/ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
}
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"

# Property types from the XMP and IPTC specifications; anything else is simple text
# (or an rdf:Bag when given a list).
_SEQ = {"dc:creator", "dc:date", "Iptc4xmpExt:PersonInImage"}
_BAG = {"dc:subject", "dc:publisher", "dc:contributor", "dc:type", "photoshop:SupplementalCategories"}
_ALT = {"dc:title", "dc:description", "dc:rights", "xmpRights:UsageTerms", "Iptc4xmpExt:Event"}
_URI = {"cc:license", "cc:morePermissions"}
# Characters XML 1.0 cannot carry at all: drop them rather than emit a broken packet.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        value = "True" if value else "False"
    return escape(_XML_INVALID.sub("", str(value)))


def _prefix(qname: str) -> str:
    prefix, sep, local = qname.partition(":")
    if not sep or not local or prefix not in NAMESPACES:
        raise ValueError(f"unknown XMP property {qname!r}: expected one of the prefixes {sorted(NAMESPACES)}")
    return prefix


def _property(qname: str, value: Any, used: set[str], indent: str) -> str:
    used.add(_prefix(qname))
    if qname in _ALT:
        langs = value if isinstance(value, Mapping) else {"x-default": value}
        items = "".join(
            f"{indent}  <rdf:li xml:lang={quoteattr(str(lang))}>{_text(v)}</rdf:li>\n" for lang, v in langs.items()
        )
        return f"{indent}<{qname}>\n{indent} <rdf:Alt>\n{items}{indent} </rdf:Alt>\n{indent}</{qname}>\n"
    if qname in _URI and isinstance(value, str):
        return f"{indent}<{qname} rdf:resource={quoteattr(_XML_INVALID.sub('', value))}/>\n"
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
    xmlns = "".join(f"\n    xmlns:{p}={quoteattr(NAMESPACES[p])}" for p in sorted(used))
    pad = (" " * 99 + "\n") * (padding // 100) if padding > 0 else ""
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="ingest">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about=""{xmlns}>\n'
        f"{body}"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        f'{pad}<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


# ---------------------------------------------------------------- EXIF

_IFD0 = {"Make": 0x010F, "Model": 0x0110, "Orientation": 0x0112, "Artist": 0x013B, "Copyright": 0x8298,
         "ImageDescription": 0x010E, "DateTime": 0x0132, "Software": 0x0131}
_EXIF_IFD = {"DateTimeOriginal": 0x9003, "DateTimeDigitized": 0x9004, "OffsetTime": 0x9010,
             "OffsetTimeOriginal": 0x9011, "OffsetTimeDigitized": 0x9012, "SubSecTimeOriginal": 0x9291,
             "ExposureTime": 0x829A, "FNumber": 0x829D, "ISOSpeedRatings": 0x8827, "FocalLength": 0x920A,
             "BodySerialNumber": 0xA431, "LensModel": 0xA434, "LensMake": 0xA433}
_RATIONAL = {"ExposureTime", "FNumber", "FocalLength"}
_GPS_KEYS = {"GPSLatitude", "GPSLongitude", "GPSAltitude"}


def _rational(value: Any, limit: int = 1_000_000) -> TiffImagePlugin.IFDRational:
    frac = Fraction(str(value) if isinstance(value, float) else value).limit_denominator(limit)
    return TiffImagePlugin.IFDRational(frac.numerator, frac.denominator)


def _dms(degrees: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    """Decimal degrees to the (deg, min, sec) rationals EXIF wants, to ~3 mm precision."""
    total = round(abs(degrees) * 3600 * 10000)  # ten-thousandths of an arc-second
    d, rem = divmod(total, 3600 * 10000)
    m, s = divmod(rem, 60 * 10000)
    return (TiffImagePlugin.IFDRational(d, 1), TiffImagePlugin.IFDRational(m, 1),
            TiffImagePlugin.IFDRational(s, 10000))


def _ascii(value: Any) -> str | bytes:
    # Pillow encodes str as ASCII with "?" for anything else; pass UTF-8 bytes instead,
    # which is what cameras and exiftool write in practice.
    text = str(value)
    return text if text.isascii() else text.encode("utf-8")


def _sub_ifd(exif: Image.Exif, tag: int, values: dict[int, Any]) -> None:
    # Also set the pointer tag itself: an Exif holding only sub-IFDs is empty (falsy) as a
    # mapping, and Pillow's AVIF and TIFF writers then drop it.
    ifd = exif.get_ifd(tag)
    ifd.update(values)
    exif[tag] = ifd


def exif_bytes(fields: Mapping[str, Any]) -> bytes:
    """Build an ``Exif\\0\\0``-prefixed EXIF block from friendly names (see ``build_exif``)."""
    return build_exif(fields).tobytes()


def build_exif(fields: Mapping[str, Any]) -> Image.Exif:
    """An ``Image.Exif`` from friendly names; None values are skipped.

    Sets IFD0 tags (Make, Model, Orientation, Artist, Copyright, ImageDescription,
    DateTime, Software), the Exif sub-IFD (DateTimeOriginal "YYYY:MM:DD HH:MM:SS",
    OffsetTimeOriginal "+01:00", SubSecTimeOriginal, ExposureTime, FNumber,
    ISOSpeedRatings, FocalLength, BodySerialNumber, LensModel...) and the GPS sub-IFD
    from signed decimal GPSLatitude/GPSLongitude and metres GPSAltitude (a negative
    value sets the below-sea-level ref). Non-ASCII text is stored as UTF-8 bytes: keep
    the object rather than re-loading its bytes, as Pillow's re-encoding turns them into "?".
    """
    unknown = set(fields) - set(_IFD0) - set(_EXIF_IFD) - _GPS_KEYS
    if unknown:
        raise ValueError(f"unknown EXIF field(s): {', '.join(sorted(unknown))}")
    exif = Image.Exif()
    for name, tag in _IFD0.items():
        if fields.get(name) is not None:
            exif[tag] = int(fields[name]) if name == "Orientation" else _ascii(fields[name])
    sub = {}
    for name, tag in _EXIF_IFD.items():
        value = fields.get(name)
        if value is None:
            continue
        if name in _RATIONAL:
            sub[tag] = _rational(value)
        elif name == "ISOSpeedRatings":
            sub[tag] = int(value)
        else:
            sub[tag] = _ascii(value)
    if sub:
        sub[0x9000] = b"0232"  # ExifVersion: OffsetTime* arrived in EXIF 2.31
        _sub_ifd(exif, 0x8769, sub)
    gps: dict[int, Any] = {}
    lat, lon, alt = fields.get("GPSLatitude"), fields.get("GPSLongitude"), fields.get("GPSAltitude")
    if lat is not None:
        if not -90 <= float(lat) <= 90:
            raise ValueError(f"GPSLatitude out of range: {lat}")
        gps[1], gps[2] = ("N" if float(lat) >= 0 else "S"), _dms(float(lat))
    if lon is not None:
        if not -180 <= float(lon) <= 180:
            raise ValueError(f"GPSLongitude out of range: {lon}")
        gps[3], gps[4] = ("E" if float(lon) >= 0 else "W"), _dms(float(lon))
    if alt is not None:
        gps[5], gps[6] = (0 if float(alt) >= 0 else 1), _rational(abs(float(alt)), 1000)
    if gps:
        gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3.0.0
        _sub_ifd(exif, 0x8825, gps)
    return exif


# ---------------------------------------------------------------- IPTC-IIM

IPTC_DATASETS: dict[str, tuple[int, int]] = {
    "Object Name": (2, 5), "Keywords": (2, 25), "Special Instructions": (2, 40),
    "Date Created": (2, 55), "Time Created": (2, 60), "By-line": (2, 80), "By-line Title": (2, 85),
    "City": (2, 90), "Sub-location": (2, 92), "Province/State": (2, 95),
    "Country/Primary Location Code": (2, 100), "Country/Primary Location Name": (2, 101),
    "Country": (2, 101), "Original Transmission Reference": (2, 103), "Headline": (2, 105),
    "Credit": (2, 110), "Source": (2, 115), "Copyright Notice": (2, 116),
    "Caption/Abstract": (2, 120), "Writer/Editor": (2, 122),
}


def _dataset(record: int, number: int, data: bytes) -> bytes:
    if len(data) > 0x7FFF:
        raise ValueError(f"IPTC {record}:{number} is {len(data)} bytes; extended datasets are not supported")
    return struct.pack(">BBBH", 0x1C, record, number, len(data)) + data


def iptc_iim(records: Mapping[str | tuple[int, int], Any], utf8: bool = True) -> bytes:
    """Raw IPTC-IIM datasets (what TIFF tag 33723 holds); see ``iptc_app13``."""
    encoding = "utf-8" if utf8 else "latin-1"
    out = [_dataset(1, 0, b"\x00\x04")]  # EnvelopeRecordVersion 4
    if utf8:
        out.append(_dataset(1, 90, b"\x1b%G"))  # CodedCharacterSet: ISO 2022 escape for UTF-8
    out.append(_dataset(2, 0, b"\x00\x04"))  # ApplicationRecordVersion 4
    datasets = []
    for name, value in records.items():
        if value is None:
            continue
        if isinstance(name, tuple):
            key = name
        elif name in IPTC_DATASETS:
            key = IPTC_DATASETS[name]
        else:
            raise ValueError(f"unknown IPTC dataset {name!r}")
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            datasets.append((key, v if isinstance(v, bytes) else str(v).encode(encoding)))
    datasets.sort(key=lambda item: item[0])  # IIM wants ascending record:dataset order
    out.extend(_dataset(r, n, data) for (r, n), data in datasets)
    return b"".join(out)


def iptc_app13(records: Mapping[str | tuple[int, int], Any], utf8: bool = True) -> bytes:
    """A JPEG APP13 payload (``Photoshop 3.0\\0`` + 8BIM resource 0x0404) holding IPTC-IIM.

    Keys are IIM names ("By-line", "City", "Caption/Abstract", "Keywords" (a list)...) or
    (record, dataset) tuples. With ``utf8`` the block declares UTF-8 via 1:90 (ESC % G);
    without it the text is Latin-1 with no declaration, like many older press-desk files,
    which readers then have to guess. Dates are "YYYYMMDD", times "HHMMSS+HHMM".
    """
    data = iptc_iim(records, utf8)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(data)) + data
    if len(data) % 2:
        resource += b"\x00"  # resource data is padded to an even length
    return PHOTOSHOP_HEADER + resource


# ---------------------------------------------------------------- JPEG segments

def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > 0xFFFF - 2:
        raise ValueError(f"JPEG segment payload too large ({len(payload)} bytes, max 65533)")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def insert_jpeg_segments(jpeg: bytes, *, app13: bytes | None = None, xmp: bytes | None = None) -> bytes:
    """Insert an APP13 payload and/or an XMP packet (as APP1) into JPEG bytes.

    They go after SOI and any leading JFIF APP0 / Exif APP1, the order exiftool writes.
    An existing XMP APP1 (including extended XMP) or Photoshop APP13 is replaced, not
    duplicated, because readers disagree about which of two copies wins.
    """
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    head = [jpeg[:2]]
    rest: list[bytes] = []
    pos, leading = 2, True
    while pos < len(jpeg):
        if jpeg[pos] != 0xFF:
            raise ValueError(f"corrupt JPEG: expected a marker at byte {pos}")
        if jpeg[pos + 1] == 0xFF:  # fill byte
            pos += 1
            continue
        marker = jpeg[pos + 1]
        if marker == 0xDA or marker == 0xD9:  # SOS / EOI: the rest is entropy-coded data
            rest.append(jpeg[pos:])
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2:pos + 4])
        seg, payload = jpeg[pos:pos + 2 + length], jpeg[pos + 4:pos + 2 + length]
        pos += 2 + length
        drop = (xmp is not None and marker == 0xE1 and payload.startswith((XMP_APP1_HEADER, XMP_EXT_HEADER))) or (
            app13 is not None and marker == 0xED and payload.startswith(PHOTOSHOP_HEADER))
        if drop:
            continue
        if leading and (marker == 0xE0 or (marker == 0xE1 and payload.startswith(b"Exif\x00\x00"))):
            head.append(seg)
        else:
            leading = False
            rest.append(seg)
    new = []
    if xmp is not None:
        new.append(_segment(0xE1, XMP_APP1_HEADER + xmp))
    if app13 is not None:
        new.append(_segment(0xED, app13))
    return b"".join(head + new + rest)


def _keep_segment(marker: int, payload: bytes) -> bool:
    """What a public copy keeps of the original's header: only what decoding needs."""
    if marker == 0xE0:                     # JFIF
        return payload.startswith(b"JFIF")
    if marker == 0xE2:                     # colour profile, not MPF or FlashPix data
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:                     # Adobe: tells decoders how CMYK/YCCK is coded
        return payload.startswith(b"Adobe")
    return not (0xE0 <= marker <= 0xEF or marker == 0xFE)  # other APPn and comments go


def replace_jpeg_metadata(jpeg: bytes, *, exif: bytes | None = None, xmp: bytes | None = None,
                          app13: bytes | None = None) -> bytes:
    """JPEG bytes with every metadata segment (EXIF, XMP, IPTC, maker data, comments, trailing
    thumbnails and depth maps after the image) replaced by exactly the ones given.

    The scan data is copied untouched: the picture is not re-encoded.
    """
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    kept: list[bytes] = []
    pos = 2
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != 0xFF:
            raise ValueError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = jpeg[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:                 # start of scan: copy through the first EOI, drop trailers
            end = jpeg.find(b"\xff\xd9", pos)
            kept.append(jpeg[pos:end + 2] if end >= 0 else jpeg[pos:] + b"\xff\xd9")
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2:pos + 4])
        if _keep_segment(marker, jpeg[pos + 4:pos + 2 + length]):
            kept.append(jpeg[pos:pos + 2 + length])
        pos += 2 + length
    new = []
    if exif is not None:
        new.append(_segment(0xE1, exif))
    if xmp is not None:
        new.append(_segment(0xE1, XMP_APP1_HEADER + xmp))
    if app13 is not None:
        new.append(_segment(0xED, app13))
    jfif = [s for s in kept if s[1] == 0xE0]
    others = [s for s in kept if s[1] != 0xE0]
    return b"\xff\xd8" + b"".join(jfif + new + others)
