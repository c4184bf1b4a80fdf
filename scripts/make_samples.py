"""Write a deterministic set of sample demonstration photos, laid out like real sources.

    python scripts/make_samples.py OUTDIR [--width 1600 --height 1200]

Covers the demonstrations in samples/registry.yml from three kinds of source: camera
cards (full EXIF with GPS and UTC offsets), phones (dates only in file names, one HEIC
with EXIF), and a press desk (XMP and IPTC, no GPS, one Latin-1 IPTC file, one XMP
sidecar), plus a folder whose name carries the date and a shared PNG and WebP.
Same arguments, same bytes, same mtimes: re-ingesting finds every file unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the synthetic-photo fixture
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from fixtures.synth import make_photo  # noqa: E402

from ingest.media.write.xmp import xmp_packet  # noqa: E402

LICENCES = {
    "CC BY 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC BY-SA 4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC BY-NC-SA 4.0": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "CC0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
PLACES = {  # march routes and squares (lat, lon)
    "Whitehall": (51.5045, -0.1263), "Hyde Park Corner": (51.5027, -0.1527),
    "Parliament Square": (51.5006, -0.1269), "Downing Street": (51.5033, -0.1276),
    "Odeonsplatz": (48.1424, 11.5775), "SNP Square": (48.1447, 17.1077),
    "Place Rogier": (50.8546, 4.3572), "Plaça de Catalunya": (41.3870, 2.1701),
}
KEYWORDS = ["Ukraine", "Palestine", "solidarity", "demonstration"]

CANON = {"Make": "Canon", "Model": "Canon EOS R6", "LensModel": "RF24-105mm F4 L IS USM",
         "BodySerialNumber": "032021001234", "Artist": "Olena Kovalenko", "Copyright": "CC BY-SA 4.0",
         "ExposureTime": "1/320", "FNumber": 8, "ISOSpeedRatings": 200, "FocalLength": 35}
SONY = {"Make": "SONY", "Model": "ILCE-7M3", "LensModel": "FE 28-70mm F3.5-5.6 OSS",
        "Artist": "Marek Horváth", "Copyright": "© Marek Horváth, CC BY 4.0",
        "ExposureTime": "1/500", "FNumber": 5.6, "ISOSpeedRatings": 100, "FocalLength": 28}


def camera(base: dict, when: str, place: str, **extra: Any) -> dict:
    """EXIF for a camera shot; ``when`` is ISO 8601 local time with its UTC offset."""
    dt = datetime.fromisoformat(when)
    stamp = dt.strftime("%Y:%m:%d %H:%M:%S")
    lat, lon = PLACES[place]
    return {**base, "DateTime": stamp, "DateTimeOriginal": stamp, "OffsetTimeOriginal": when[-6:],
            "SubSecTimeOriginal": "00", "GPSLatitude": lat, "GPSLongitude": lon, "GPSAltitude": 20, **extra}


def press_xmp(creator: str, licence: str, when: str, city: str, country: str, code: str, event: str,
              caption: str, location: str | None = None) -> dict:
    """The XMP a picture desk writes: credit, caption, place, event and machine-readable licence."""
    year, url = when[:4], LICENCES[licence]
    return {
        "dc:creator": [creator], "dc:title": event, "dc:description": caption,
        "dc:rights": f"© {year} {creator}. Licensed under {licence}.", "dc:subject": KEYWORDS,
        "photoshop:Headline": event, "photoshop:Credit": f"{creator} / Ukraine Information Group",
        "photoshop:City": city, "photoshop:Country": country, "Iptc4xmpCore:CountryCode": code,
        "Iptc4xmpCore:Location": location, "photoshop:DateCreated": when, "Iptc4xmpExt:Event": event,
        "xmpRights:Marked": True, "xmpRights:WebStatement": url,
        "xmpRights:UsageTerms": f"This work is licensed under {licence}: {url}",
        "cc:license": url, "cc:attributionName": creator,
    }


def press_iptc(creator: str, licence: str, when: str, city: str, country: str, code3: str,
               headline: str, caption: str, sublocation: str | None = None) -> dict:
    dt = datetime.fromisoformat(when)
    return {
        "Object Name": headline, "Keywords": KEYWORDS, "Date Created": dt.strftime("%Y%m%d"),
        "Time Created": dt.strftime("%H%M%S%z"), "By-line": creator, "City": city,
        "Sub-location": sublocation, "Country/Primary Location Code": code3,
        "Country/Primary Location Name": country, "Headline": headline, "Credit": creator,
        "Copyright Notice": f"© {when[:4]} {creator}, {licence}", "Caption/Abstract": caption,
    }


def samples() -> list[dict]:
    """Each sample: relative path, make_photo arguments (kw), local time for the mtime (when),
    sidecar XMP fields, whether it is a portrait shot and a size divisor (scale)."""
    portrait = {"Orientation": 6}
    out: list[dict] = []

    def add(path: str, when: str, sidecar: dict | None = None, portrait_shot: bool = False, scale: int = 1,
            **kw: Any) -> None:
        out.append({"path": path, "when": when, "sidecar": sidecar, "portrait": portrait_shot, "scale": scale,
                    "kw": kw})

    card = "camera-card/DCIM/100CANON/"
    # 30 March 2024 is the last day of GMT: clocks went forward on the 31st.
    add(card + "IMG_0412.JPG", "2024-03-30T13:05:10+00:00", exif=camera(CANON, "2024-03-30T13:05:10+00:00",
        "Hyde Park Corner"))
    add(card + "IMG_0413.JPG", "2024-03-30T14:47:33+00:00", portrait_shot=True, exif=camera(
        CANON, "2024-03-30T14:47:33+00:00", "Whitehall", **portrait))
    add(card + "IMG_0588.JPG", "2024-05-18T13:20:05+01:00", exif=camera(CANON, "2024-05-18T13:20:05+01:00",
        "Parliament Square", Copyright="© 2024 Olena Kovalenko, CC BY-SA 4.0"))
    add(card + "IMG_0731.JPG", "2024-08-03T12:41:00+01:00", exif=camera(CANON, "2024-08-03T12:41:00+01:00",
        "Whitehall"))
    add(card + "IMG_0802.JPG", "2024-09-07T13:02:44+01:00", portrait_shot=True, exif=camera(
        CANON, "2024-09-07T13:02:44+01:00", "Whitehall", **portrait))
    add(card + "IMG_0870.JPG", "2024-10-05T14:15:27+01:00", exif=camera(CANON, "2024-10-05T14:15:27+01:00",
        "Parliament Square"))
    card2 = "camera-card/DCIM/101CANON/"  # GMT again after 27 October 2024
    add(card2 + "IMG_0915.JPG", "2024-11-02T13:58:02+00:00", exif=camera(CANON, "2024-11-02T13:58:02+00:00",
        "Hyde Park Corner"))
    add(card2 + "IMG_0916.JPG", "2024-11-02T15:10:40+00:00", portrait_shot=True, exif=camera(
        CANON, "2024-11-02T15:10:40+00:00", "Whitehall", **portrait))

    sony = "camera-card-sony/DCIM/100MSDCF/"
    add(sony + "DSC04821.JPG", "2024-05-18T14:22:10+02:00", exif=camera(SONY, "2024-05-18T14:22:10+02:00",
        "Odeonsplatz"))
    add(sony + "DSC04822.JPG", "2024-05-18T14:25:51+02:00", portrait_shot=True, exif=camera(
        SONY, "2024-05-18T14:25:51+02:00", "Odeonsplatz", **portrait))
    add(sony + "DSC05310.JPG", "2024-09-28T16:03:19+02:00", exif=camera(SONY, "2024-09-28T16:03:19+02:00",
        "SNP Square"))
    add(sony + "DSC06007.JPG", "2025-05-17T15:30:00+02:00", exif=camera(SONY, "2025-05-17T15:30:00+02:00",
        "Place Rogier"))

    # Phones: messaging apps strip EXIF, so the date survives only in the name.
    add("phone/IMG_20241102_143012.jpg", "2024-11-02T14:30:12+00:00")
    add("phone/PXL_20250315_131500123.jpg", "2025-03-15T13:15:00+00:00")
    add("phone/IMG-20240518-WA0003.jpg", "2024-05-18T18:00:00+01:00")  # London or Munich? Nobody knows.
    add("phone/IMG_20250222_120501.heic", "2025-02-22T12:05:01+00:00", fmt="HEIC", quality=60, exif={
        "Make": "samsung", "Model": "SM-S911B", "DateTimeOriginal": "2025:02:22 12:05:01",
        "OffsetTimeOriginal": "+00:00", "GPSLatitude": PLACES["Downing Street"][0],
        "GPSLongitude": PLACES["Downing Street"][1], "GPSAltitude": 14})

    # Press desk: captions, credits and licences, but no GPS.
    munich_caption = "Munich, Germany, 18 May 2024: the banner “From Ukraine to Palestine, occupation is a crime”"
    add("press/2024-05-18 Munich/ZM_20240518_0042.jpg", "2024-05-18T14:31:07+02:00", iptc_utf8=False, iptc=press_iptc(
        "Zoë Müller", "CC BY-NC-SA 4.0", "2024-05-18T14:31:07+02:00", "München", "Deutschland", "DEU",
        "Kundgebung in München", "München, 18. Mai 2024: Solidarität mit der Ukraine und Palästina", "Odeonsplatz"))
    when = "2024-05-18T14:48:30+02:00"
    add("press/2024-05-18 Munich/ZM_20240518_0057.jpg", when, xmp=press_xmp(
        "Zoë Müller", "CC BY-NC-SA 4.0", when, "Munich", "Germany", "DE", "Munich demonstration",
        munich_caption, "Odeonsplatz"), iptc=press_iptc(
        "Zoë Müller", "CC BY-NC-SA 4.0", when, "Munich", "Germany", "DEU", "Munich demonstration",
        munich_caption, "Odeonsplatz"))
    when = "2025-03-15T13:40:12+00:00"
    caption = "At the demonstration against Gaza genocide, London, 15 March 2025"
    add("press/2025-03-15 London/PR_0315_007.jpg", when, xmp=press_xmp(
        "Priya Raman", "CC BY-NC-SA 4.0", when, "London", "United Kingdom", "GB",
        "Demonstration against Gaza genocide", caption, "Whitehall"), iptc=press_iptc(
        "Priya Raman", "CC BY-NC-SA 4.0", when, "London", "United Kingdom", "GBR",
        "Demonstration against Gaza genocide", caption, "Whitehall"))
    when = "2024-11-02T14:05:55+00:00"
    add("press/2024-11-02 London/PR_1102_021.jpg", when, xmp=press_xmp(
        "Priya Raman", "CC BY-NC-SA 4.0", when, "London", "United Kingdom", "GB",
        "National march for a ceasefire in Gaza",
        "At the national march demanding a ceasefire in Gaza, 2 November 2024"))
    when = "2024-10-05T13:12:09+01:00"
    add("press/2024-10-05 London/PR_1005_013.jpg", when, sidecar=press_xmp(
        "Priya Raman", "CC BY-NC-SA 4.0", when, "London", "United Kingdom", "GB",
        "National march for a ceasefire in Gaza",
        "At the national march demanding a ceasefire in Gaza, 5 October 2024", "Parliament Square"))

    # A folder named by date; the files themselves carry no date at all.
    folder = "2024-06-08 London march/"
    add(folder + "banner-01.jpg", "2024-06-08T12:00:00+01:00",
        exif={"Artist": "Sam Okafor", "Copyright": "CC BY 4.0"})
    add(folder + "banner-02.jpg", "2024-06-08T12:00:00+01:00")
    add(folder + "crowd.jpg", "2024-06-08T12:00:00+01:00")

    # Re-shared images: a PNG export and a WebP from a website.
    when = "2025-05-08T12:30:00+02:00"
    add("shared/barcelona-ve-day.png", when, fmt="PNG", scale=2, exif={
        "DateTimeOriginal": "2025:05:08 12:30:00", "OffsetTimeOriginal": "+02:00",
        "GPSLatitude": PLACES["Plaça de Catalunya"][0], "GPSLongitude": PLACES["Plaça de Catalunya"][1]},
        xmp={"dc:creator": ["Tomás Ferrer"], "dc:title": "VE Day, Barcelona", "photoshop:City": "Barcelona",
             "photoshop:Country": "Spain", "Iptc4xmpCore:CountryCode": "ES", "photoshop:DateCreated": when,
             "dc:rights": "CC0 1.0: no rights reserved", "xmpRights:Marked": False,
             "cc:license": LICENCES["CC0 1.0"], "xmpRights:WebStatement": LICENCES["CC0 1.0"]})
    when = "2025-06-01T14:10:00+01:00"
    add("shared/ukrainian-children-london.webp", when, fmt="WEBP", exif={
        "DateTimeOriginal": "2025:06:01 14:10:00", "OffsetTimeOriginal": "+01:00", "Artist": "Sam Okafor"},
        xmp={"dc:creator": ["Sam Okafor"], "dc:title": "Demonstration in defence of Ukrainian children",
             "dc:description": "London, 1 June 2025, Demonstration in defence of Ukrainian children",
             "photoshop:City": "London", "dc:rights": "CC BY 4.0", "cc:license": LICENCES["CC BY 4.0"],
             "cc:attributionName": "Sam Okafor"})
    return out


def make_samples(outdir: str | Path, width: int = 1600, height: int = 1200) -> list[Path]:
    """Write every sample under ``outdir``; returns the written paths (photos and sidecars)."""
    outdir = Path(outdir)
    written: list[Path] = []
    for seed, spec in enumerate(samples(), start=1):
        w, h = width // spec["scale"], height // spec["scale"]
        w, h = (h, w) if spec["portrait"] else (w, h)
        path = make_photo(outdir / spec["path"], width=w, height=h, seed=seed, **spec["kw"])
        files = [path]
        if spec["sidecar"]:
            sidecar = path.with_name(path.name + ".xmp")
            sidecar.write_bytes(xmp_packet(spec["sidecar"]))
            files.append(sidecar)
        mtime = datetime.fromisoformat(spec["when"]).timestamp()
        for f in files:
            os.utime(f, (mtime, mtime))
        written.extend(files)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--width", type=int, default=1600, help="landscape width in pixels")
    parser.add_argument("--height", type=int, default=1200, help="landscape height in pixels")
    args = parser.parse_args(argv)
    written = make_samples(args.outdir, args.width, args.height)
    photos = [p for p in written if p.suffix != ".xmp"]
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(photos)} photos and {len(written) - len(photos)} sidecar(s), "
          f"{size / 1e6:.1f} MB, to {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
