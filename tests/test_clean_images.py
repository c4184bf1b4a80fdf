"""Public images carry nothing but pixels; downloads carry exactly the documented licence fields.

Issue 13, item 1: thumbnails and web sizes kept the original's COM comment (Pillow copies
`im.info["comment"]` on save), so an e-mail address, a device id or a "home address + GPS" note in
a camera file was served to anyone. Here a real gallery is built with the project's own ingest from
real camera files (a GIMP comment, Nikon maker notes, a progressive file with maker notes, Adobe's
XMP/IPTC/ICC sample) and crafted ones (comments, XMP and maker-note-like APP segments in the header,
after the scan, between progressive scans and after EOI; ICC profiles with text in their
description, a private tag and the slack of a curve), served by a real Datasette, and every segment
of every rendition (thumbnail, web size, download of the original and of the web size, ZIP members)
is checked against a list of what that rendition may hold, and its bytes for the secrets.
"""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from datasette.app import Datasette
from fixtures.synth import make_photo, photo_like
from fixtures.writers import insert_jpeg_segments
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media import icc
from ingest.media.jpeg import APP0, APP1, COM, EOI, EXIF_APP1, SOS, XMP_APP1, segment, segments
from ingest.media.store import Store
from ingest.media.write.exif import build_exif
from ingest.media.write.xmp import xmp_packet

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).parent / "corpus"
REAL = {  # real camera files, and what each carries that must not reach the public
    "Nikon_D70.jpg": "exif-samples/jpg/Nikon_D70.jpg",          # COM "comment in GIMP 2.4.5", ICC profile
    "DSCN0010.jpg": "exif-samples/jpg/gps/DSCN0010.jpg",         # Nikon maker notes, GPS, XMP
    "32-lens_data.jpeg": "exif-samples/jpg/tests/32-lens_data.jpeg",  # progressive, maker notes
    "BlueSquare.jpg": "exif-samples/jpg/xmp/BlueSquare.jpg",     # XMP, IPTC, ICC, Adobe APP14
}
HOME = "Home: 12 Example Street, 51.50451N 0.12637W, anna.k@example.org"
SECRETS = {
    "comment": HOME,
    "between scans": "ZQBETWEEN device 7f3a9c",
    "after the scan": "ZQAFTERSCAN personal notes",
    "after EOI": "ZQTRAILER second image notes",
    "maker": "ZQMAKER serial 4421-99",
    "icc description": "ZQICC Anna's MacBook display",
    "icc private": "ZQPRIVATE calibration by anna.k@example.org",
    "icc slack": "ZQSLACK hidden after the curve",
    "serial": "ZQSERIAL0042",
    "png text": "ZQPNGTEXT anna.k@example.org",
    "contact": "ZQCONTACT +44 7000 000000",
}
GIMP_COMMENT = b"comment in GIMP 2.4.5"

# What each rendition may hold. Derivatives: the picture and a plain JFIF header, nothing else.
DQT, SOF0, SOF1, SOF2, DHT, DRI, APP2, APP14 = 0xDB, 0xC0, 0xC1, 0xC2, 0xC4, 0xDD, 0xE2, 0xEE
DERIVATIVE_MARKERS = {DQT, SOF0, DHT, SOS, EOI, APP0}
DOWNLOAD_MARKERS = {DQT, SOF0, SOF1, SOF2, DHT, DRI, SOS, EOI, APP0, APP1, APP2, APP14} | set(range(0xD0, 0xD8))
# README "Licences and downloads": the XMP fields a download carries, and its minimal EXIF.
XMP_FIELDS = {"dc:title", "dc:description", "dc:creator", "dc:subject", "dc:rights", "xmpRights:Marked",
              "xmpRights:WebStatement", "xmpRights:UsageTerms", "cc:license", "cc:attributionName",
              "cc:attributionURL", "photoshop:Credit", "photoshop:City", "photoshop:DateCreated",
              "Iptc4xmpExt:Event"}
XMP_REQUIRED = {"dc:rights", "xmpRights:UsageTerms", "photoshop:Credit"}
EXIF_IFD0 = {0x010F, 0x0110, 0x0112, 0x013B, 0x8298, 0x8769}  # Make Model Orientation Artist Copyright ->Exif
EXIF_SUB = {0x9000, 0x9003, 0x9011, 0x9291, 0xA434, 0x829A, 0x829D, 0x8827, 0x920A}  # version, when, lens, exposure
ICC_TAGS = {b"desc", b"cprt", b"wtpt", b"bkpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC", b"kTRC",
            b"chad", b"lumi"}
NS = {"dc": "http://purl.org/dc/elements/1.1/", "photoshop": "http://ns.adobe.com/photoshop/1.0/",
      "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
      "cc": "http://creativecommons.org/ns#"}
PREFIX = {uri: p for p, uri in NS.items()}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


# ---------------------------------------------------------------- crafted files

def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded


def icc_with_secrets(*, without: bytes = b"") -> bytes:
    """Little CMS's sRGB profile with text where profiles carry it: the description, a private tag,
    the device fields of the header, and bytes hidden after a tone curve inside its declared size.
    `without` leaves out a tag, making a profile that cannot be reduced to a matrix and curves."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    count = int.from_bytes(profile[128:132], "big")
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i])
        tags[sig] = profile[offset:offset + size]
    tags[b"desc"] = _mluc(SECRETS["icc description"])
    tags[b"dmnd"] = _mluc(SECRETS["icc private"])
    tags[b"zqpv"] = b"text" + bytes(4) + SECRETS["icc private"].encode() + b"\x00"
    tags[b"rTRC"] = tags[b"rTRC"] + SECRETS["icc slack"].encode()
    tags.pop(without, None)
    table = 132 + 12 * len(tags)
    entries, data = [], b""
    for sig, blob in tags.items():
        entries.append(struct.pack(">4sII", sig, table + len(data), len(blob)))
        data += blob + bytes(-len(blob) % 4)
    header = struct.pack(">I", table + len(data)) + profile[4:48] + b"ZQMFZQMD" + profile[56:80] + b"ZQCR" + bytes(44)
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + data


def _app(marker: int, text: str) -> bytes:
    return segment(marker, text.encode())


def _xmp_segment(text: str) -> bytes:
    """An XMP packet whose text is in a field no public output carries (the XMP reader also finds a
    packet outside the header, and a caption found there would be public by design)."""
    return segment(APP1, XMP_APP1 + xmp_packet({"Iptc4xmpCore:CreatorContactInfo": {"Iptc4xmpCore:CiEmailWork": text}}))


def crafted_baseline(path: Path) -> None:
    """A camera-like JPEG: EXIF with a serial number and GPS, a header comment with a home address,
    a maker-note-like APP segment, an ICC profile full of text, XMP after the scan and after EOI."""
    exif = build_exif({"Make": "Canon", "Model": "EOS R6", "DateTimeOriginal": "2024:11:02 14:30:12",
                       "BodySerialNumber": SECRETS["serial"], "GPSLatitude": 51.50451, "GPSLongitude": -0.12637,
                       "Artist": "Olena Kovalenko"})
    out = io.BytesIO()
    photo_like(900, 600, 21).save(out, "JPEG", quality=85, exif=exif.tobytes(), comment=HOME.encode(),
                                  icc_profile=icc_with_secrets())
    data = insert_jpeg_segments(out.getvalue(), xmp=xmp_packet({
        "dc:title": "March on the bridge",
        "Iptc4xmpCore:CreatorContactInfo": {"Iptc4xmpCore:CiTelWork": SECRETS["contact"]}}))
    head, rest = data[:2], data[2:]
    data = head + _app(0xEB, SECRETS["maker"]) + rest
    scan = next(s for s in segments(data, through_scans=True) if s.marker == SOS)
    data = data[:scan.end] + _xmp_segment(SECRETS["after the scan"]) + _app(COM, SECRETS["after the scan"]) \
        + data[scan.end:]
    data += _xmp_segment(SECRETS["after EOI"]) + _app(COM, SECRETS["after EOI"]) + b"\xff\xd9"
    path.write_bytes(data)


def crafted_unreducible(path: Path) -> None:
    """A JPEG whose profile cannot be reduced (no red colorant): its download is an sRGB JPEG."""
    photo_like(400, 300, 25).save(path, "JPEG", quality=85, comment=HOME.encode(),
                                  icc_profile=icc_with_secrets(without=b"rXYZ"))


def crafted_progressive(path: Path) -> None:
    """A progressive JPEG with XMP and comments between its scans and a trailer after EOI."""
    out = io.BytesIO()
    photo_like(700, 500, 22).save(out, "JPEG", quality=85, progressive=True, comment=HOME.encode())
    data = out.getvalue()
    scans = [s for s in segments(data, through_scans=True) if s.marker == SOS]
    at = scans[2].start
    data = data[:at] + _xmp_segment(SECRETS["between scans"]) + _app(COM, SECRETS["between scans"]) \
        + _app(0xEC, SECRETS["maker"]) + data[at:]
    data += _app(COM, SECRETS["after EOI"])
    path.write_bytes(data)


def crafted_png(path: Path) -> None:
    info = PngInfo()
    info.add_text("Comment", SECRETS["png text"])
    # Not Description: the archive reads that as the caption (issue 15), which downloads carry.
    info.add_itxt("Source", SECRETS["png text"])
    photo_like(500, 400, 23).save(path, "PNG", pnginfo=info, icc_profile=icc_with_secrets())


def maker_note_slices() -> list[bytes]:
    """The start of each real maker note (its maker's header and first tags): none may leave."""
    found = []
    for rel in REAL.values():
        sub = Image.open(CORPUS / rel).getexif().get_ifd(0x8769)
        note = sub.get(0x927C)
        if note:
            found.append(bytes(note[:32]))
    assert len(found) == 2  # DSCN0010 and 32-lens_data
    return found


# ---------------------------------------------------------------- the gallery

@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    base = tmp_path_factory.mktemp("clean-images")
    card = base / "card"
    card.mkdir()
    for name, rel in REAL.items():
        shutil.copyfile(CORPUS / rel, card / name)
    crafted_baseline(card / "crafted-baseline.jpg")
    crafted_progressive(card / "crafted-progressive.jpg")
    crafted_png(card / "crafted.png")
    crafted_unreducible(card / "crafted-unreducible.jpg")
    make_photo(card / "crafted.tif", width=640, height=480, seed=24, fmt="TIFF",
               exif={"Make": "Canon", "BodySerialNumber": SECRETS["serial"]})
    db = connect(base / "gallery.db")
    try:
        summary = run_ingest(db, Store(base / "archive"), [str(card)], Options(licence="CC-BY-SA-4.0", creator="Photo desk"), publish=True)
        assert summary.imported == len(REAL) + 5, summary
        photos = {r[0]: (r[1], r[2]) for r in db.execute("SELECT original_filename, id, sha256 FROM photos")}
    finally:
        db.conn.close()
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    metadata.setdefault("plugins", {})["gallery"] = {"store": str(base / "archive")}
    return base, photos, metadata


def _ds(gallery) -> Datasette:
    base, _, metadata = gallery
    return Datasette([str(base / "gallery.db")], metadata=metadata)


async def renditions(ds: Datasette, photo_id: int, sha: str) -> dict[str, tuple[str, bytes]]:
    """kind -> (name, bytes) of every public rendition of one photo, as a visitor gets them."""
    got = {}
    old = await ds.client.get(f"/-/gallery/thumbs/{sha}.jpg")  # the URL before rendition tokens
    assert old.status_code == 302
    token = (await ds.client.get(f"/gallery/photos/{photo_id}.json?_shape=array")).json()[0]["rendition"]
    assert old.headers["location"] == f"/-/gallery/thumbs/{token}.jpg"
    for kind in ("thumbs", "web"):
        r = await ds.client.get(f"/-/gallery/{kind}/{token}.jpg")
        assert r.status_code == 200
        got[kind] = (f"{kind}.jpg", r.content)
    for size in ("original", "web"):
        r = await ds.client.get(f"/-/gallery/download/{photo_id}?size={size}")
        assert r.status_code == 200
        got[f"download {size}"] = (r.headers["content-disposition"], r.content)
        z = await ds.client.get(f"/-/gallery/download.zip?id={photo_id}&size={size}")
        assert z.status_code == 200
        with zipfile.ZipFile(io.BytesIO(z.content)) as bundle:
            members = [n for n in bundle.namelist() if n != "CREDITS.txt"]
            assert len(members) == 1
            got[f"zip {size}"] = (members[0], bundle.read(members[0]))
    return got


# ---------------------------------------------------------------- what a rendition may hold

def jpeg_segments(data: bytes) -> list:
    assert data[:2] == b"\xff\xd8"
    walked = list(segments(data, through_scans=True))
    assert walked[-1].marker == EOI and walked[-1].end == len(data), "bytes after EOI"
    return walked


def check_jfif(payload: bytes) -> None:
    assert payload.startswith(b"JFIF\x00") and len(payload) == 14 and payload[12:14] == b"\x00\x00", payload


def check_derivative(data: bytes) -> None:
    for s in jpeg_segments(data):
        assert s.marker in DERIVATIVE_MARKERS, hex(s.marker)
        if s.marker == APP0:
            check_jfif(s.payload)


def check_icc(profile: bytes) -> None:
    count = int.from_bytes(profile[128:132], "big")
    sigs = {profile[132 + 12 * i:136 + 12 * i] for i in range(count)}
    assert sigs <= ICC_TAGS, sigs - ICC_TAGS
    assert profile[48:56] == bytes(8) and profile[80:100] == bytes(20)  # device, creator, profile id
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # still a profile Little CMS reads


def check_xmp(packet: bytes) -> None:
    root = ET.fromstring(packet.split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    found = set()
    for description in root.iter(f"{{{RDF}}}Description"):
        for prop in description:
            uri, local = prop.tag[1:].split("}")
            found.add(f"{PREFIX.get(uri, uri)}:{local}")
        assert not {k for k in description.attrib if not k.startswith(f"{{{RDF}}}")}
    assert XMP_REQUIRED <= found <= XMP_FIELDS, found - XMP_FIELDS


def check_exif(payload: bytes) -> None:
    assert b"\xff\xd8" not in payload  # no embedded thumbnail
    exif = Image.Exif()
    exif.load(payload)
    assert set(exif) <= EXIF_IFD0, set(exif) - EXIF_IFD0
    assert set(exif.get_ifd(0x8769)) <= EXIF_SUB
    assert not exif.get_ifd(0x8825)  # no GPS


def check_download_jpeg(data: bytes) -> None:
    exif, xmp, icc = [], [], []
    for s in jpeg_segments(data):
        assert s.marker in DOWNLOAD_MARKERS, hex(s.marker)
        if s.marker == APP0:
            check_jfif(s.payload)
        elif s.marker == APP1:
            if s.startswith(EXIF_APP1):
                exif.append(s.payload[len(EXIF_APP1):])
            else:
                assert s.startswith(XMP_APP1), s.payload[:40]
                xmp.append(s.payload[len(XMP_APP1):])
        elif s.marker == APP2:
            assert s.startswith(b"ICC_PROFILE\x00")
            icc.append(s.payload)
        elif s.marker == APP14:
            assert s.payload.startswith(b"Adobe") and len(s.payload) == 12
    assert len(exif) == 1 and len(xmp) == 1
    check_exif(exif[0])
    check_xmp(xmp[0])
    if icc:
        check_icc(b"".join(p[14:] for p in sorted(icc, key=lambda p: p[12])))


def check_download_png(data: bytes) -> None:
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    kinds = [k for k, _ in chunks]
    assert set(kinds) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"eXIf", b"iTXt", b"iCCP", b"pHYs"}, kinds
    assert kinds.count(b"iTXt") == kinds.count(b"eXIf") == 1
    itxt = dict(chunks)[b"iTXt"]
    assert itxt.startswith(b"XML:com.adobe.xmp\x00")
    check_xmp(itxt.split(b"\x00", 5)[-1])
    check_exif(dict(chunks)[b"eXIf"])
    im = Image.open(io.BytesIO(data))
    if "icc_profile" in im.info:
        check_icc(im.info["icc_profile"])


def secrets_in(data: bytes) -> list[str]:
    found = [name for name, text in SECRETS.items() if text.encode() in data or text.encode("utf-16-be") in data]
    found += ["gimp comment"] * (GIMP_COMMENT in data)
    found += [f"maker note {i}" for i, piece in enumerate(maker_note_slices()) if piece in data]
    found += ["icc header"] * (b"ZQMF" in data or b"ZQCR" in data)
    return found


# ---------------------------------------------------------------- tests

def test_the_crafted_files_carry_what_they_claim(gallery):
    """The fixture is what it says: otherwise a test of its renditions proves nothing."""
    card = gallery[0] / "card"
    baseline = (card / "crafted-baseline.jpg").read_bytes()
    progressive = (card / "crafted-progressive.jpg").read_bytes()
    for name in ("comment", "after the scan", "after EOI", "maker", "icc description", "icc slack", "serial"):
        assert SECRETS[name].encode() in baseline or SECRETS[name].encode("utf-16-be") in baseline, name
    for name in ("comment", "between scans", "after EOI", "maker"):
        assert SECRETS[name].encode() in progressive, name
    assert Image.open(card / "Nikon_D70.jpg").info["comment"] == GIMP_COMMENT


async def test_every_segment_of_every_rendition_is_allowed_and_no_secret_leaves(gallery):
    ds = _ds(gallery)
    _, photos, _ = gallery
    checked = 0
    for name, (photo_id, sha) in sorted(photos.items()):
        for kind, (label, data) in (await renditions(ds, photo_id, sha)).items():
            where = f"{name} {kind} ({label})"
            assert secrets_in(data) == [], where
            if kind in ("thumbs", "web", "download web", "zip web") or not name.endswith(".png"):
                (check_derivative if kind in ("thumbs", "web") else check_download_jpeg)(data)
            else:
                check_download_png(data)
            checked += 1
    assert checked == 6 * len(photos) == 6 * (len(REAL) + 5)


async def test_a_derivative_stored_by_an_older_version_is_served_clean(gallery, tmp_path):
    """Derivatives already in a store may hold the comment: the image route strips every metadata
    segment on the way out, and still answers If-None-Match with 304."""
    base, photos, metadata = gallery
    store = tmp_path / "archive"
    shutil.copytree(base / "archive", store)
    _, sha = photos["Nikon_D70.jpg"]
    path = Store(store).derivative("thumbs", sha)
    data = path.read_bytes()
    path.write_bytes(data[:2] + _app(COM, HOME) + _xmp_segment(SECRETS["maker"]) + _app(0xED, SECRETS["contact"])
                     + data[2:] + _app(COM, SECRETS["after EOI"]))
    ds = Datasette([str(base / "gallery.db")], metadata={**metadata, "plugins": {"gallery": {"store": str(store)}}})
    token = (await ds.client.get(f"/gallery/photos.json?_shape=array&sha256={sha}")).json()[0]["rendition"]
    r = await ds.client.get(f"/-/gallery/thumbs/{token}.jpg")
    assert r.status_code == 200 and secrets_in(r.content) == []
    check_derivative(r.content)
    assert Image.open(io.BytesIO(r.content)).size == Image.open(io.BytesIO(data)).size
    assert r.headers["cache-control"] == "public, max-age=86400, immutable"
    again = await ds.client.get(f"/-/gallery/thumbs/{token}.jpg", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == r.headers["etag"]


def test_a_download_of_an_icc_photo_keeps_its_colours():
    """The download's profile is reduced to its colour data, which still converts the same."""
    original = icc_with_secrets()
    cleaned = icc.sanitise(original)
    assert cleaned is not None and secrets_in(cleaned) == []
    check_icc(cleaned)
    im = photo_like(64, 48, 5)
    srgb = ImageCms.createProfile("sRGB")
    a = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(original)), srgb)
    b = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(cleaned)), srgb)
    assert a.tobytes() == b.tobytes()
    assert icc.sanitise(icc_with_secrets(without=b"rXYZ")) is None


async def test_a_photo_whose_profile_cannot_be_reduced_downloads_as_an_srgb_jpeg(gallery):
    ds = _ds(gallery)
    photo_id, _ = gallery[1]["crafted-unreducible.jpg"]
    data = (await ds.client.get(f"/-/gallery/download/{photo_id}?size=original")).content
    assert not [s for s in segments(data, through_scans=True) if s.marker == APP2]
    assert Image.open(io.BytesIO(data)).size == (400, 300)
