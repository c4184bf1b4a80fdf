"""One tag table per metadata family, shared by the readers (importer/read) and the writers
(media/write, test fixtures), so both name every field the same way.

The names are the keys facts are stored under in the catalogue's `metadata` table, so they are
a data contract: `ingest retag` re-reads them. Writers also accept the IIM specification's longer
names (`Caption/Abstract`), which map onto the same datasets.
"""

from __future__ import annotations

# ---------------------------------------------------------------- EXIF

IFD0, EXIF_IFD, GPS_IFD = None, 0x8769, 0x8825

# our key -> (IFD, tag number, kind); kind is how a reader cleans it: text, date, number or ucs2.
EXIF: dict[str, tuple[int | None, int, str]] = {
    "Make": (IFD0, 0x010F, "text"),
    "Model": (IFD0, 0x0110, "text"),
    "Artist": (IFD0, 0x013B, "text"),
    "Copyright": (IFD0, 0x8298, "text"),
    "ImageDescription": (IFD0, 0x010E, "text"),
    "Software": (IFD0, 0x0131, "text"),
    "DateTime": (IFD0, 0x0132, "date"),
    "Orientation": (IFD0, 0x0112, "number"),
    "DateTimeOriginal": (EXIF_IFD, 0x9003, "date"),
    "DateTimeDigitized": (EXIF_IFD, 0x9004, "date"),
    "OffsetTime": (EXIF_IFD, 0x9010, "text"),
    "OffsetTimeOriginal": (EXIF_IFD, 0x9011, "text"),
    "SubSecTimeOriginal": (EXIF_IFD, 0x9291, "text"),
    "LensModel": (EXIF_IFD, 0xA434, "text"),
    "LensMake": (EXIF_IFD, 0xA433, "text"),
    "ExposureTime": (EXIF_IFD, 0x829A, "number"),
    "FNumber": (EXIF_IFD, 0x829D, "number"),
    "ISOSpeedRatings": (EXIF_IFD, 0x8827, "number"),
    "FocalLength": (EXIF_IFD, 0x920A, "number"),
    "FocalLengthIn35mmFilm": (EXIF_IFD, 0xA405, "number"),
    "ExposureBiasValue": (EXIF_IFD, 0x9204, "number"),
    # Windows Explorer's fields (UCS-2 little-endian bytes): what people type in a file's Properties.
    "XPTitle": (IFD0, 0x9C9B, "ucs2"),
    "XPComment": (IFD0, 0x9C9C, "ucs2"),
    "XPAuthor": (IFD0, 0x9C9D, "ucs2"),
    "XPKeywords": (IFD0, 0x9C9E, "ucs2"),
    "XPSubject": (IFD0, 0x9C9F, "ucs2"),
}
# Written (by test fixtures, to prove they never leak) but never read into the catalogue.
EXIF_NOT_READ: dict[str, tuple[int | None, int, str]] = {
    "OffsetTimeDigitized": (EXIF_IFD, 0x9012, "text"),
    "BodySerialNumber": (EXIF_IFD, 0xA431, "text"),
}
EXIF_GPS = ("GPSLatitude", "GPSLongitude", "GPSAltitude")   # signed decimal degrees, metres


def exifread_name(key: str) -> str:
    """exifread's name for one of our EXIF keys ("Image Artist", "EXIF DateTimeOriginal")."""
    ifd = EXIF[key][0]
    return f"{'Image' if ifd is IFD0 else 'EXIF'} {key}"


# ---------------------------------------------------------------- IPTC-IIM (record 2)

# dataset number -> our key (IIM's names, shortened where the specification's has a slash)
IPTC: dict[int, str] = {
    5: "Object Name",
    25: "Keywords",
    55: "Date Created",
    60: "Time Created",
    80: "By-line",
    85: "By-line Title",
    90: "City",
    92: "Sub-location",
    95: "Province-State",
    100: "Country Code",
    101: "Country",
    105: "Headline",
    110: "Credit",
    115: "Source",
    116: "Copyright Notice",
    120: "Caption",
    122: "Writer",
}
IPTC_REPEATABLE = frozenset({"Keywords", "By-line"})
# Desk notes, written by test fixtures to prove they never leak, never read into the catalogue.
IPTC_NOT_READ: dict[int, str] = {40: "Special Instructions", 103: "Original Transmission Reference"}
# The IIM specification's own names for the same datasets.
IPTC_SPEC_NAMES = {"Caption/Abstract": "Caption", "Writer/Editor": "Writer", "Province/State": "Province-State",
                   "Country/Primary Location Code": "Country Code", "Country/Primary Location Name": "Country"}


def iptc_dataset(name: str) -> int:
    """The record-2 dataset number of an IPTC field, by our name or the specification's."""
    name = IPTC_SPEC_NAMES.get(name, name)
    for number, key in (IPTC | IPTC_NOT_READ).items():
        if key == name:
            return number
    raise ValueError(f"unknown IPTC dataset {name!r}")


# ---------------------------------------------------------------- XMP

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
# prefix -> namespace URI: keys are named `prefix:property` whatever prefix a file used.
XMP_NAMESPACES: dict[str, str] = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "cc": "http://creativecommons.org/ns#",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "MicrosoftPhoto": "http://ns.microsoft.com/photo/1.0/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
}
# namespace URI -> prefix, for reading; includes URIs older software wrote for the same namespace.
XMP_PREFIXES: dict[str, str] = {uri: prefix for prefix, uri in XMP_NAMESPACES.items()} | {
    "http://ns.adobe.com/photoshop/1.0/camera-profile": "crs",
}
# Whole namespaces of editing state, not facts about the photo: never read.
XMP_SKIPPED = frozenset({"crs", "xmpMM"})
