"""XMP: embedded in every format, in sidecars, and hostile or broken packets (which never stop an import)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fixtures.synth import make_photo
from fixtures.writers import insert_jpeg_segments
from PIL import Image

from ingest.catalogue.record import load_facts
from ingest.errors import MetadataProblem
from ingest.importer.pipeline import run_ingest
from ingest.importer.read.xmp import parse_packet, read_sidecar, read_xmp, sidecar_paths
from ingest.importer.resolve import Options
from ingest.importer.worker import Job, process
from ingest.media.write.xmp import xmp_packet

CORPUS = Path(__file__).parent / "corpus"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

EVERY_FIELD = {
    "dc:creator": ["Zoë Müller"],
    "dc:title": "Ceasefire march on Whitehall",
    "dc:description": "Marchers pass the Cenotaph on their way to Parliament Square",
    "dc:rights": "© 2024 Zoë Müller, CC BY-NC-SA 4.0",
    "dc:subject": ["gaza", "ceasefire", "Whitehall"],
    "photoshop:City": "London",
    "photoshop:Country": "United Kingdom",
    "photoshop:DateCreated": "2024-11-02T14:30:12+00:00",
    "photoshop:Credit": "Zoë Müller / Community Press",
    "photoshop:Headline": "Hundreds of thousands march for a ceasefire",
    "Iptc4xmpCore:Location": "Whitehall",
    "Iptc4xmpCore:CountryCode": "GB",
    "Iptc4xmpExt:Event": "National march for a ceasefire in Gaza",
    "xmpRights:WebStatement": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "xmpRights:UsageTerms": "This work is licensed under CC BY-NC-SA 4.0",
    "xmpRights:Marked": True,
    "cc:license": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc:attributionName": "Zoë Müller",
    "cc:attributionURL": "https://example.org/zoe",
    "exif:GPSLatitude": "51,30.45N",
    "exif:GPSLongitude": "0,7.5W",
}
EXPECTED = {
    **EVERY_FIELD,
    "xmpRights:Marked": "True",
    "exif:GPSLatitude": 51.5075,
    "exif:GPSLongitude": -0.125,
}


def packet(body: str, namespaces: str = 'xmlns:dc="http://purl.org/dc/elements/1.1/"', prolog: str = "") -> bytes:
    """A hand-written XMP packet (for shapes our own writer never produces)."""
    return (
        f'{prolog}<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about="" {namespaces}>\n{body}\n  </rdf:Description>\n'
        " </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>"
    ).encode("utf-8")


def jpeg_with_xmp(path: Path, raw_xmp: bytes, **kwargs) -> Path:
    """A real JPEG (make_photo) with an XMP APP1 segment holding exactly `raw_xmp`."""
    make_photo(path, width=64, height=48, seed=5, **kwargs)
    path.write_bytes(insert_jpeg_segments(path.read_bytes(), xmp=raw_xmp))
    Image.open(io.BytesIO(path.read_bytes())).load()  # still a valid JPEG
    return path


def extracted(path: Path, tmp_path: Path):
    result = process(Job(str(path), path.stat().st_size, 0, str(tmp_path / "store"), dry_run=True))
    assert result.problem is None, result.problem
    return result


# ---- every field, every format ----------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "HEIC", "AVIF"])
def test_every_field_is_read(tmp_path, fmt):
    path = make_photo(tmp_path / f"all.{fmt.lower()}", width=64, height=48, seed=1, fmt=fmt, xmp=EVERY_FIELD)
    assert read_xmp(path.read_bytes()) == EXPECTED
    assert extracted(path, tmp_path).facts["xmp"] == EXPECTED


def test_every_field_reaches_the_catalogue(tmp_path, archive):
    db, store, *_ = archive
    path = make_photo(tmp_path / "all.jpg", width=64, height=48, seed=1, xmp=EVERY_FIELD)
    summary = run_ingest(db, store, [str(path)], Options())
    assert (summary.imported, summary.problems, summary.warnings) == (1, 0, 0)
    row = db.execute(
        "SELECT creator, creator_source, title, title_source, caption, keywords, latitude, longitude, "
        "location_source, licence_id, licence_source, taken_at, date_source FROM photos").fetchone()
    assert row == (
        "Zoë Müller", "xmp", "Ceasefire march on Whitehall", "xmp",
        "Marchers pass the Cenotaph on their way to Parliament Square",
        json.dumps(["gaza", "ceasefire", "Whitehall"], ensure_ascii=False),
        pytest.approx(51.5075), pytest.approx(-0.125), "gps",
        "CC-BY-NC-SA-4.0", "xmp", "2024-11-02T14:30:12+00:00", "xmp",
    )
    (photo_id,) = db.execute("SELECT id FROM photos").fetchone()
    assert load_facts(db, photo_id)["xmp"] == EXPECTED  # every value kept, with its source


def test_language_alternative_prefers_x_default(tmp_path):
    path = make_photo(tmp_path / "alt.jpg", width=64, height=48, xmp={
        "dc:title": {"de": "Waffenstillstand jetzt", "x-default": "Ceasefire now", "fr": "Cessez-le-feu"}})
    assert read_xmp(path.read_bytes())["dc:title"] == "Ceasefire now"


def test_attribute_form_and_first_language_without_x_default(tmp_path):
    raw = packet(
        '   <dc:title><rdf:Alt><rdf:li xml:lang="de">Demo in Köln</rdf:li>'
        '<rdf:li xml:lang="en">Demo in Cologne</rdf:li></rdf:Alt></dc:title>',
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        'photoshop:City="Köln" photoshop:DateCreated="2024-05-18"')
    facts = read_xmp(jpeg_with_xmp(tmp_path / "attr.jpg", raw).read_bytes())
    assert facts == {"dc:title": "Demo in Köln", "photoshop:City": "Köln", "photoshop:DateCreated": "2024-05-18"}


# ---- GPS and dates ----------------------------------------------------------------------------

@pytest.mark.parametrize("lat, lon, expected", [
    ("0,22.278S", "36,3.385002E", (-0.3713, 36.0564167)),        # DD,MM.mmk (XMP spec)
    ("51,30,27N", "0,7,30W", (51.5075, -0.125)),                  # DD,MM,SSk
    ("-33.8688", "151.2093", (-33.8688, 151.2093)),               # signed decimal
    ("0,0.0N", "0,0.0E", None),                                   # no fix: dropped
    ("north", "0,7.5W", None),                                    # unreadable: dropped
    ("95,0.0N", "0,7.5W", None),                                  # out of range: dropped
])
def test_xmp_gps_forms(tmp_path, lat, lon, expected):
    path = make_photo(tmp_path / "gps.jpg", width=64, height=48,
                      xmp={"dc:title": "x", "exif:GPSLatitude": lat, "exif:GPSLongitude": lon})
    facts = read_xmp(path.read_bytes())
    if expected is None:
        assert not [k for k in facts if k.startswith("exif:GPS")]
    else:
        assert (facts["exif:GPSLatitude"], facts["exif:GPSLongitude"]) == (
            pytest.approx(expected[0], abs=1e-6), pytest.approx(expected[1], abs=1e-6))


@pytest.mark.parametrize("junk", ["0000-00-00T00:00:00", "0000:00:00 00:00:00", "   "])
def test_xmp_junk_dates_are_dropped(tmp_path, junk):
    path = make_photo(tmp_path / "d.jpg", width=64, height=48,
                      xmp={"dc:title": "x", "photoshop:DateCreated": junk, "xmp:CreateDate": junk})
    facts = read_xmp(path.read_bytes())
    assert facts == {"dc:title": "x"}


# ---- sidecars ---------------------------------------------------------------------------------

def test_sidecar_named_like_darktable(tmp_path):
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    (tmp_path / "IMG_0001.jpg.xmp").write_bytes(xmp_packet({"dc:title": "From IMG_0001.jpg.xmp"}))
    assert sidecar_paths(photo) == [tmp_path / "IMG_0001.jpg.xmp"]
    assert read_sidecar(photo) == {"dc:title": "From IMG_0001.jpg.xmp"}


def test_sidecar_named_like_lightroom(tmp_path):
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    (tmp_path / "IMG_0001.xmp").write_bytes(xmp_packet({"dc:title": "From IMG_0001.xmp"}))
    assert read_sidecar(photo) == {"dc:title": "From IMG_0001.xmp"}


@pytest.mark.parametrize("name", ["IMG_0001.Xmp", "IMG_0001.JPG.XMP", "img_0001.xmp"])
def test_a_sidecar_in_any_letter_case_is_found_by_the_scan_and_read(tmp_path, archive, name):
    """One rule for scan and reader: a sidecar whose edit counts as a change is also the one read."""
    folder = tmp_path / "card"
    photo = make_photo(folder / "IMG_0001.jpg", width=64, height=48)
    (folder / name).write_bytes(xmp_packet({"dc:title": f"From {name}"}))
    assert [p.name for p in sidecar_paths(photo)] == [name]
    db, store = archive[:2]
    run_ingest(db, store, [str(folder)], Options(), jobs=1)
    photo_id = db.execute("SELECT id FROM photos").fetchone()[0]
    assert load_facts(db, photo_id)["xmp-sidecar"] == {"dc:title": f"From {name}"}


def test_both_sidecars_the_full_name_wins(tmp_path):
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    (tmp_path / "IMG_0001.xmp").write_bytes(xmp_packet({"dc:title": "From IMG_0001.xmp"}))
    (tmp_path / "IMG_0001.jpg.xmp").write_bytes(xmp_packet({"dc:title": "From IMG_0001.jpg.xmp"}))
    assert read_sidecar(photo) == {"dc:title": "From IMG_0001.jpg.xmp"}


def test_no_sidecar(tmp_path):
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    (tmp_path / "IMG_0002.xmp").write_bytes(xmp_packet({"dc:title": "another photo's"}))
    assert read_sidecar(photo) == {}


@pytest.mark.parametrize("sidecar_name", ["IMG_0001.jpg.xmp", "IMG_0001.xmp"])
def test_sidecar_wins_over_embedded_xmp(tmp_path, archive, sidecar_name):
    db, store, *_ = archive
    card = tmp_path / "card"
    photo = make_photo(card / "IMG_0001.jpg", width=64, height=48, xmp={
        "dc:title": "Embedded title", "dc:creator": ["Embedded Person"], "dc:subject": ["embedded"],
        "photoshop:DateCreated": "2024-11-02T14:30:12"})
    (card / sidecar_name).write_bytes(xmp_packet({
        "dc:title": "Sidecar title", "dc:subject": ["sidecar"], "photoshop:DateCreated": "2024-11-03T10:00:00"}))
    summary = run_ingest(db, store, [str(card)], Options())
    assert (summary.seen, summary.imported, summary.problems) == (1, 1, 0)  # the sidecar is not a photo
    row = db.execute("SELECT title, title_source, creator, keywords, taken_at, date_source FROM photos").fetchone()
    assert row == ("Sidecar title", "xmp", "Embedded Person", '["sidecar"]', "2024-11-03T10:00:00", "xmp")
    sources = {r[0] for r in db.execute("SELECT DISTINCT source FROM metadata")}
    assert {"xmp", "xmp-sidecar"} <= sources


# ---- hostile and broken XML -------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + "]>\n"
)
XXE = '<?xml version="1.0"?>\n<!DOCTYPE x [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
PLAIN_DTD = '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "http://example.org/xmp.dtd">\n'


def hostile(dtd: str, entity: str) -> bytes:
    """A whole document: DTD, then an rdf:RDF whose dc:title uses the entity (no x:xmpmeta wrapper)."""
    return (
        f'{dtd}<rdf:RDF xmlns:rdf="{RDF_NS}"><rdf:Description rdf:about="" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{entity}</dc:title>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


HOSTILE = {
    "billion-laughs": hostile(BILLION_LAUGHS, "&lol9;"),
    "external-entity": hostile(XXE, "&xxe;"),
}


@pytest.mark.parametrize("raw", [*HOSTILE.values(), hostile(PLAIN_DTD, "no entity at all")],
                         ids=[*HOSTILE, "dtd"])
def test_hostile_packet_is_refused(raw):
    with pytest.raises(MetadataProblem, match="refused.*hostile"):
        parse_packet(raw)


def _declared(raw: bytes, encoding: str) -> bytes:
    """The same document with an XML declaration naming `encoding`, encoded in it."""
    text = raw.decode().replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    return text.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "cp500"])
@pytest.mark.parametrize("name", HOSTILE)
def test_a_dtd_in_another_encoding_is_refused_too(name, encoding):
    """Plain packets go to the C parser, the others to defusedxml: a DTD spelled in UTF-16 or EBCDIC,
    where "<!DOCTYPE" is not those bytes, still goes the guarded way and is refused."""
    raw = _declared(HOSTILE[name], encoding)
    assert b"<!DOCTYPE" not in raw
    with pytest.raises(MetadataProblem, match="refused.*hostile|malformed"):
        parse_packet(raw)


def test_dtd_before_an_embedded_packet_is_refused(tmp_path):
    # The packet is cut from <x:xmpmeta> on, but a DTD just before it is refused too: XMP has no
    # use for one, and its entities could be used inside the packet.
    path = jpeg_with_xmp(tmp_path / "dtd.jpg", hostile(PLAIN_DTD, "Plain title"))
    with pytest.raises(MetadataProblem, match="hostile"):
        read_xmp(path.read_bytes())


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_embedded_xmp_is_a_problem_not_a_crash(tmp_path, name):
    path = jpeg_with_xmp(tmp_path / f"{name}.jpg", HOSTILE[name])
    with pytest.raises(MetadataProblem):
        read_xmp(path.read_bytes())


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_sidecar_is_refused(tmp_path, name):
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    (tmp_path / "IMG_0001.xmp").write_bytes(HOSTILE[name])
    with pytest.raises(MetadataProblem):
        read_sidecar(photo)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_sidecar_without_rdf_is_refused_by_defusedxml(tmp_path, name):
    # No <rdf:RDF> to cut from: the whole file goes to the parser, which refuses the DTD.
    photo = make_photo(tmp_path / "IMG_0001.jpg", width=64, height=48)
    doc = HOSTILE[name].split(b"<rdf:RDF")[0] + (b"<doc>&lol9;</doc>" if name == "billion-laughs" else b"<doc>&xxe;</doc>")
    (tmp_path / "IMG_0001.jpg.xmp").write_bytes(doc)
    with pytest.raises(MetadataProblem, match="refused.*hostile"):
        read_sidecar(photo)


@pytest.mark.parametrize("name", HOSTILE)
def test_photo_with_hostile_xmp_is_imported_with_a_warning(tmp_path, archive, name):
    db, store, *_ = archive
    folder = tmp_path / "card"
    path = jpeg_with_xmp(folder / "IMG_0001.jpg", HOSTILE[name], exif={"Artist": "Jane Doe"})
    make_photo(folder / "IMG_0002.jpg", width=64, height=48, seed=9)
    (folder / "IMG_0002.xmp").write_bytes(HOSTILE[name])
    lines = []
    summary = run_ingest(db, store, [str(folder)], Options(), report=lambda *line: lines.append(line))
    assert (summary.imported, summary.problems, summary.warnings) == (2, 0, 2)
    assert {(Path(p).name, kind) for p, kind, _ in lines} == {("IMG_0001.jpg", "metadata"), ("IMG_0002.jpg", "metadata")}
    assert all("XMP" in message for *_, message in lines)
    assert db.execute("SELECT creator FROM photos WHERE original_filename = 'IMG_0001.jpg'").fetchone() == ("Jane Doe",)
    assert db.execute("SELECT count(*) FROM metadata WHERE source LIKE 'xmp%'").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM metadata WHERE value LIKE '%root:%' OR value LIKE '%lollol%'").fetchone() == (0,)
    assert path.exists()


def test_hostile_xmp_on_the_command_line_exits_0_with_one_line(tmp_path, cli):
    path = jpeg_with_xmp(tmp_path / "evil.jpg", HOSTILE["external-entity"])
    result = cli(str(path))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    warning = [line for line in result.stderr.splitlines() if "evil.jpg" in line]
    assert len(warning) == 1 and "XMP" in warning[0]
    assert "1 imported" in result.stdout


@pytest.mark.parametrize("raw, message", [
    (packet("   <dc:title>unclosed</dc:description>"), "malformed"),
    (packet("   <dc:title>x</dc:title>").replace(b"</x:xmpmeta>", b""), "truncated"),
    (packet("   <dc:title>x & y</dc:title>"), "malformed"),
])
def test_malformed_xmp(tmp_path, archive, raw, message):
    path = jpeg_with_xmp(tmp_path / "bad.jpg", raw)
    with pytest.raises(MetadataProblem, match=message):
        read_xmp(path.read_bytes())
    db, store, *_ = archive
    summary = run_ingest(db, store, [str(path)], Options())
    assert (summary.imported, summary.problems, summary.warnings) == (1, 0, 1)


# ---- packet shapes ----------------------------------------------------------------------------

def test_packet_without_xmpmeta_wrapper(tmp_path):
    raw = (f'<rdf:RDF xmlns:rdf="{RDF_NS}"><rdf:Description rdf:about="" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Bare RDF</dc:title>'
           '<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>'
           "</rdf:Description></rdf:RDF>").encode()
    path = jpeg_with_xmp(tmp_path / "bare.jpg", raw)
    assert read_xmp(path.read_bytes()) == {"dc:title": "Bare RDF", "dc:creator": ["Jane Doe"]}


def test_non_standard_prefixes_are_mapped_by_namespace(tmp_path):
    raw = packet(
        "   <foo:title><rdf:Alt><rdf:li xml:lang=\"x-default\">Odd prefixes</rdf:li></rdf:Alt></foo:title>\n"
        "   <foo:subject><rdf:Bag><rdf:li>one</rdf:li><rdf:li>two</rdf:li></rdf:Bag></foo:subject>\n"
        "   <lic:license rdf:resource=\"https://creativecommons.org/licenses/by/4.0/\"/>",
        'xmlns:foo="http://purl.org/dc/elements/1.1/" xmlns:lic="http://creativecommons.org/ns#" '
        'xmlns:ps="http://ns.adobe.com/photoshop/1.0/" ps:City="Leeds"')
    facts = read_xmp(jpeg_with_xmp(tmp_path / "prefix.jpg", raw).read_bytes())
    assert facts == {"dc:title": "Odd prefixes", "dc:subject": ["one", "two"],
                     "cc:license": "https://creativecommons.org/licenses/by/4.0/", "photoshop:City": "Leeds"}


def test_private_and_editing_fields_are_not_kept(tmp_path):
    raw = packet(
        "   <dc:title>Kept</dc:title>\n"
        "   <aux:SerialNumber>SN-0123456789</aux:SerialNumber>\n"
        "   <exifEX:BodySerialNumber>SN-0123456789</exifEX:BodySerialNumber>\n"
        "   <exifEX:CameraOwnerName>Jane Doe</exifEX:CameraOwnerName>\n"
        "   <xmpMM:DocumentID>xmp.did:0123</xmpMM:DocumentID>\n"
        "   <xmpMM:History><rdf:Seq><rdf:li>saved</rdf:li></rdf:Seq></xmpMM:History>\n"
        "   <photoshop:History>edited</photoshop:History>\n"
        "   <crs:Exposure2012>+1.0</crs:Exposure2012>",
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" '
        'xmlns:exifEX="http://cipa.jp/exif/1.0/" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        'xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" xmpMM:InstanceID="xmp.iid:0456"')
    facts = read_xmp(jpeg_with_xmp(tmp_path / "private.jpg", raw).read_bytes())
    assert facts == {"dc:title": "Kept"}


def test_unknown_namespaces_do_not_collide(tmp_path):
    raw = packet(
        "   <a:Rating>5</a:Rating>\n   <b:Rating>1</b:Rating>",
        'xmlns:a="http://example.org/alpha/1.0/" xmlns:b="http://example.org/beta/1.0/"')
    facts = read_xmp(jpeg_with_xmp(tmp_path / "ns.jpg", raw).read_bytes())
    assert sorted(v for k, v in facts.items() if k.endswith("Rating")) == ["1", "5"]


# ---- real files -------------------------------------------------------------------------------

def test_adobe_sample_file():
    facts = read_xmp((CORPUS / "exif-samples/jpg/xmp/BlueSquare.jpg").read_bytes())
    assert facts["dc:title"] == "Blue Square Test File - .jpg"
    assert facts["dc:subject"] == ["XMP", "Blue Square", "test file", "Photoshop", ".jpg"]
    assert facts["dc:description"].startswith("XMPFiles BlueSquare test file")
    assert not [k for k in facts if k.startswith("xmpMM:")]


def test_iphone_heic_xmp():
    facts = read_xmp((CORPUS / "exif-samples/heic/IMG_5195.HEIC").read_bytes())
    assert facts["photoshop:DateCreated"] == "2021-04-11T15:47:53"


def test_camera_file_without_xmp():
    assert read_xmp((CORPUS / "exif-samples/jpg/Kodak_CX7530.jpg").read_bytes()) == {}
