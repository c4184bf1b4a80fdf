"""Synthetic photos and metadata writers: what we write, independent readers read back."""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path

import exifread
import pillow_heif
import pytest
from defusedxml import ElementTree as DET
from fixtures.synth import make_photo, photo_like
from fixtures.writers import exif_bytes, insert_jpeg_segments, iptc_app13
from PIL import Image, ImageOps, ImageStat, IptcImagePlugin

from ingest.media.write.xmp import xmp_packet

pillow_heif.register_heif_opener()

ROOT = Path(__file__).resolve().parents[1]
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _description(packet: bytes):
    root = DET.fromstring(packet)
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    return root.find(f"{RDF}RDF/{RDF}Description")


def _gps(tags: dict, axis: str) -> float:
    d, m, s = (float(v) for v in tags[f"GPS GPS{axis}"].values)
    sign = -1 if str(tags[f"GPS GPS{axis}Ref"]) in ("S", "W") else 1
    return sign * (d + m / 60 + s / 3600)


def test_xmp_packet_parses_and_round_trips():
    fields = {
        "dc:creator": ["Zoë Müller", "Jane <Doe> & Co"], "dc:title": 'Ceasefire "march"',
        "dc:description": "From Ukraine to Palestine, occupation is a crime", "dc:subject": ["gaza", "ceasefire"],
        "dc:rights": "© 2024 Zoë Müller", "photoshop:City": "München", "Iptc4xmpCore:CountryCode": "DE",
        "Iptc4xmpExt:Event": "Munich demonstration", "xmpRights:Marked": True,
        "xmpRights:WebStatement": "https://creativecommons.org/licenses/by-nc-sa/4.0/?a=1&b=2",
        "cc:license": "https://creativecommons.org/licenses/by-nc-sa/4.0/", "exif:GPSLatitude": "51,30.45N",
        "photoshop:DateCreated": "2024-05-18T14:31:07+02:00", "xmp:Rating": 5, "tiff:Make": None,
    }
    packet = xmp_packet(fields)
    assert packet.startswith(b'<?xpacket begin="\xef\xbb\xbf"') and packet.endswith(b'<?xpacket end="w"?>')
    desc = _description(packet)
    ns = {"rdf": RDF[1:-1], "dc": DC[1:-1]}
    assert [li.text for li in desc.findall("dc:creator/rdf:Seq/rdf:li", ns)] == fields["dc:creator"]
    assert [li.text for li in desc.findall("dc:subject/rdf:Bag/rdf:li", ns)] == ["gaza", "ceasefire"]
    title = desc.find("dc:title/rdf:Alt/rdf:li", ns)
    assert (title.text, title.get(XML_LANG)) == ('Ceasefire "march"', "x-default")
    assert desc.find("dc:rights/rdf:Alt/rdf:li", ns).text == "© 2024 Zoë Müller"
    assert desc.find("{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}Event/" + RDF + "Alt/" + RDF + "li").text == (
        "Munich demonstration")
    assert desc.find("{http://ns.adobe.com/photoshop/1.0/}City").text == "München"
    assert desc.find("{http://ns.adobe.com/xap/1.0/rights/}Marked").text == "True"
    assert desc.find("{http://ns.adobe.com/xap/1.0/rights/}WebStatement").text.endswith("?a=1&b=2")
    assert desc.find("{http://creativecommons.org/ns#}license").get(f"{RDF}resource") == fields["cc:license"]
    assert desc.find("{http://ns.adobe.com/xap/1.0/}Rating").text == "5"
    assert desc.find("{http://ns.adobe.com/tiff/1.0/}Make") is None
    assert b"xmlns:tiff" not in packet  # only namespaces in use are declared


def test_xmp_packet_rejects_unknown_prefix_and_drops_control_characters():
    with pytest.raises(ValueError):
        xmp_packet({"foo:Bar": "x"})
    desc = _description(xmp_packet({"photoshop:Headline": "bell\x07 and\ttab"}))
    assert desc.find("{http://ns.adobe.com/photoshop/1.0/}Headline").text == "bell and\ttab"


@pytest.mark.parametrize("lat, lon", [(51.5045, -0.1263), (-33.8568, 151.2153), (-34.6037, -58.3816),
                                      (48.1424, 11.5775)])
def test_exif_read_back_by_exifread(tmp_path, lat, lon):
    path = make_photo(tmp_path / "a.jpg", width=96, height=64, exif={
        "Make": "Canon", "Model": "Canon EOS R6", "Orientation": 6, "Artist": "Zoë Müller",
        "Copyright": "CC BY-SA 4.0", "DateTimeOriginal": "2024:05:18 14:22:10", "OffsetTimeOriginal": "+02:00",
        "SubSecTimeOriginal": "07", "ExposureTime": "1/250", "FNumber": 5.6, "ISOSpeedRatings": 400,
        "FocalLength": 35, "GPSLatitude": lat, "GPSLongitude": lon, "GPSAltitude": -3.5})
    with path.open("rb") as f:
        tags = exifread.process_file(f, details=False)
    assert str(tags["EXIF DateTimeOriginal"]) == "2024:05:18 14:22:10"
    assert str(tags["EXIF OffsetTimeOriginal"]) == "+02:00"
    assert str(tags["EXIF SubSecTimeOriginal"]) == "07"
    assert tags["Image Orientation"].values == [6]
    assert str(tags["Image Artist"]) == "Zoë Müller"  # stored as UTF-8, not Pillow's "?"
    assert str(tags["Image Copyright"]) == "CC BY-SA 4.0"
    assert str(tags["EXIF ExposureTime"]) == "1/250"
    assert _gps(tags, "Latitude") == pytest.approx(lat, abs=1e-6)
    assert _gps(tags, "Longitude") == pytest.approx(lon, abs=1e-6)
    assert tags["GPS GPSAltitudeRef"].values == [1] and float(tags["GPS GPSAltitude"].values[0]) == 3.5


def test_orientation_makes_stored_pixels_transposed(tmp_path):
    path = make_photo(tmp_path / "p.jpg", width=60, height=80, seed=3, exif={"Orientation": 6})
    with Image.open(path) as im:
        assert im.size == (80, 60)
        upright = ImageOps.exif_transpose(im)
    assert upright.size == (60, 80)
    top = ImageStat.Stat(upright.crop((0, 0, 60, 6))).mean
    bottom = ImageStat.Stat(upright.crop((0, 74, 60, 80))).mean
    assert sum(top) > sum(bottom)  # sky is at the top once the orientation is applied


def test_exif_bytes_rejects_unknown_names():
    with pytest.raises(ValueError):
        exif_bytes({"Shutter": "1/100"})
    assert exif_bytes({}).startswith(b"Exif\x00\x00")


@pytest.mark.parametrize("utf8, encoding", [(True, "utf-8"), (False, "latin-1")])
def test_iptc_read_back_by_pillow(tmp_path, utf8, encoding):
    records = {"By-line": "Zoë Müller", "City": "München", "Sub-location": "Odeonsplatz",
               "Country/Primary Location Name": "Deutschland", "Headline": "Kundgebung",
               "Caption/Abstract": "Solidarität mit der Ukraine und Palästina",
               "Copyright Notice": "© 2024 Zoë Müller", "Credit": "Zoë Müller", "Keywords": ["Ukraine", "Palästina"], "Object Name": "Munich",
               "Date Created": "20240518", "Time Created": "143107+0200"}
    path = make_photo(tmp_path / "i.jpg", width=64, height=48, iptc=records, iptc_utf8=utf8)
    with Image.open(path) as im:
        info = IptcImagePlugin.getiptcinfo(im)
    assert (info.get((1, 90)) == b"\x1b%G") is utf8
    assert info[(2, 80)].decode(encoding) == "Zoë Müller"
    assert info[(2, 90)].decode(encoding) == "München"
    assert info[(2, 120)].decode(encoding) == records["Caption/Abstract"]
    assert info[(2, 116)].decode(encoding) == "© 2024 Zoë Müller"
    assert [k.decode(encoding) for k in info[(2, 25)]] == ["Ukraine", "Palästina"]
    assert info[(2, 55)] == b"20240518" and info[(2, 60)] == b"143107+0200"
    assert info[(2, 5)] == b"Munich" and info[(2, 101)] == "Deutschland".encode(encoding)


def test_insert_jpeg_segments_orders_and_replaces():
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buf, "JPEG", exif=exif_bytes({"Artist": "A"}))
    first = insert_jpeg_segments(buf.getvalue(), xmp=xmp_packet({"dc:title": "one"}), app13=iptc_app13({"City": "X"}))
    again = insert_jpeg_segments(first, xmp=xmp_packet({"dc:title": "two"}))
    assert again.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1 and b">two<" in again and b">one<" not in again
    assert again.count(b"Photoshop 3.0\x00") == 1
    # SOI, JFIF APP0, Exif APP1, then ours
    assert again[2:4] == b"\xff\xe0" and again.index(b"Exif\x00\x00") < again.index(b"http://ns.adobe.com/xap")
    with Image.open(io.BytesIO(again)) as im:
        assert im.getexif()[0x013B] == "A" and b">two<" in im.info["xmp"]
        im.load()
    with pytest.raises(ValueError):
        insert_jpeg_segments(b"not a jpeg", xmp=b"")


@pytest.mark.parametrize("fmt, ext", [("HEIC", "heic"), ("AVIF", "avif"), ("WEBP", "webp"), ("PNG", "png"),
                                      ("TIFF", "tif")])
def test_other_formats_open_with_pillow(tmp_path, fmt, ext):
    path = make_photo(tmp_path / f"x.{ext}", width=64, height=48, fmt=fmt, seed=2,
                      exif={"DateTimeOriginal": "2025:02:22 12:05:01", "GPSLatitude": 51.5033,
                            "GPSLongitude": -0.1276},
                      xmp={"dc:creator": ["Sam Okafor"], "photoshop:City": "London"})
    with Image.open(path) as im:
        im.load()
        assert im.size == (64, 48) and im.mode == "RGB"
        exif = im.getexif()
        assert exif.get_ifd(0x8769)[0x9003] == "2025:02:22 12:05:01"
        assert exif.get_ifd(0x8825)[3] == "W"
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        xmp = xmp.encode() if isinstance(xmp, str) else xmp
        city = _description(xmp).find("{http://ns.adobe.com/photoshop/1.0/}City")
        assert city.text == "London"


def test_photo_like_is_seeded_and_compresses_like_a_photo():
    a, b, c = photo_like(320, 240, 1), photo_like(320, 240, 1), photo_like(320, 240, 2)
    assert a.tobytes() == b.tobytes() != c.tobytes()
    buf = io.BytesIO()
    photo_like(1600, 1200, 0).save(buf, "JPEG", quality=90)
    assert 300_000 < len(buf.getvalue()) < 1_500_000  # not flat colour, not pure noise


def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _digest(root: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_make_samples_is_deterministic(tmp_path, capsys):
    make_samples = _load_make_samples()
    assert make_samples.main([str(tmp_path / "a"), "--width", "160", "--height", "120"]) == 0
    assert "wrote 26 photos and 1 sidecar(s)" in capsys.readouterr().out
    make_samples.make_samples(tmp_path / "b", 160, 120)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first == second
    for name in ["camera-card/DCIM/100CANON/IMG_0412.JPG", "phone/IMG_20241102_143012.jpg",
                 "phone/PXL_20250315_131500123.jpg", "phone/IMG-20240518-WA0003.jpg",
                 "phone/IMG_20250222_120501.heic", "press/2024-05-18 Munich/ZM_20240518_0042.jpg",
                 "press/2024-10-05 London/PR_1005_013.jpg.xmp", "2024-06-08 London march/crowd.jpg",
                 "shared/barcelona-ve-day.png", "shared/ukrainian-children-london.webp"]:
        assert name in first, name
    root = tmp_path / "a"
    with Image.open(root / "camera-card/DCIM/100CANON/IMG_0413.JPG") as im:  # portrait shot, stored landscape
        assert im.size == (160, 120) and ImageOps.exif_transpose(im).size == (120, 160)
    with Image.open(root / "phone/IMG-20240518-WA0003.jpg") as im:
        assert not im.getexif() and "xmp" not in im.info
    with Image.open(root / "press/2024-05-18 Munich/ZM_20240518_0042.jpg") as im:
        iptc = IptcImagePlugin.getiptcinfo(im)
        assert (1, 90) not in iptc and iptc[(2, 90)].decode("latin-1") == "München" and "xmp" not in im.info
    side = _description((root / "press/2024-10-05 London/PR_1005_013.jpg.xmp").read_bytes())
    assert side.find("{http://creativecommons.org/ns#}license").get(f"{RDF}resource").endswith("/by-nc-sa/4.0/")
