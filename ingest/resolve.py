"""Facts -> the archive's tags, each with the source it came from and, when unsure, a review reason.

Pure: it reads facts, the import options and a snapshot of the registry; it writes nothing. That is
what lets `retag` re-run it over stored facts without re-reading files.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .licences import looks_like_licence, parse_licence
from .read import Facts


@dataclass(frozen=True)
class Options:
    """Import flags. Stored with the photo's facts (source `flag`) so that retag re-applies them."""
    licence: str | None = None     # default for files that carry none
    creator: str | None = None     # default for files that carry none
    demo: str | None = None        # forced
    city: str | None = None        # forced

    def as_facts(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    @classmethod
    def from_facts(cls, facts: Facts) -> "Options":
        flags = facts.get("flag", {})
        return cls(**{k: flags.get(k) for k in ("licence", "creator", "demo", "city")})


@dataclass(frozen=True)
class Demo:
    id: int
    name: str | None
    date: str | None               # YYYY-MM-DD or YYYY-MM
    city_id: int | None


@dataclass
class Registry:
    """What resolution needs to know of the catalogue: demonstrations and city names."""
    demos: list[Demo] = field(default_factory=list)
    city_ids: dict[str, int] = field(default_factory=dict)  # normalised name or alias -> id

    def city_id(self, name: str | None) -> int | None:
        return self.city_ids.get(normalise(name)) if name else None


@dataclass
class Tags:
    values: dict[str, Any] = field(default_factory=dict)   # photo columns
    city_name: str | None = None                            # to look up or create when city_id is unknown
    country: str | None = None
    demo_name: str | None = None                            # to look up or create (a forced --demo)
    reasons: list[str] = field(default_factory=list)


def normalise(name: str) -> str:
    """Case-, accent-spacing- and punctuation-insensitive key for matching names."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.split())


def _first(facts: Facts, *places: tuple[str, str]) -> tuple[Any, str] | tuple[None, None]:
    for source, key in places:
        value = facts.get(source, {}).get(key)
        if value not in (None, "", []):
            return value, source
    return None, None


def _xmp(facts: Facts) -> Facts:
    """Embedded XMP with the sidecar's values over it (the sidecar is what the photographer edited)."""
    merged = dict(facts)
    if "xmp-sidecar" in facts:
        merged["xmp"] = {**facts.get("xmp", {}), **facts["xmp-sidecar"]}
    return merged


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = "; ".join(v for v in value if v)
    return value or None


# ---- dates -------------------------------------------------------------------------------------

_OFFSET = re.compile(r"^([+-])(\d\d):?(\d\d)$")
_ISO = re.compile(
    r"^(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?)?)?\s*(Z|[+-]\d\d:?\d\d)?$"
)


def _offset(text: Any) -> str | None:
    m = _OFFSET.match(str(text).strip()) if text else None
    if not m or int(m[2]) > 14 or int(m[3]) >= 60:
        return None
    return f"{m[1]}{m[2]}:{m[3]}"


def _iso(date: str, time: str | None = None, frac: str | None = None, offset: str | None = None) -> str:
    out = date
    if time:
        out += f"T{time}" + (f".{frac}" if frac else "") + (offset or "")
    return out


def _exif_datetime(text: str, subsec: Any = None, offset: Any = None) -> str | None:
    m = re.match(r"^(\d{4})[:\-](\d\d)[:\-](\d\d)[ T](\d\d):(\d\d):(\d\d)", text)
    if not m:
        return None
    try:
        datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None
    frac = re.sub(r"\D", "", str(subsec))[:6] if subsec not in (None, "") else None
    return _iso(f"{m[1]}-{m[2]}-{m[3]}", f"{m[4]}:{m[5]}:{m[6]}", frac or None, _offset(offset))


def _xmp_datetime(text: str) -> str | None:
    m = _ISO.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    try:
        datetime(int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None
    date = y + (f"-{mo}" if mo else "") + (f"-{d}" if d else "")
    if not hh:
        return date
    offset = "+00:00" if tz == "Z" else _offset(tz)
    return _iso(date, f"{hh}:{mm}:{ss or '00'}", frac, offset)


def _iptc_datetime(day: str, time: Any) -> str | None:
    m = re.match(r"^(\d{4})(\d\d)(\d\d)$", day.strip())
    if not m:
        return None
    t = re.match(r"^(\d\d)(\d\d)(\d\d)([+-]\d{4})?$", str(time or "").strip())
    try:
        datetime(int(m[1]), int(m[2]), int(m[3]), *(int(g) for g in t.groups()[:3])) if t else datetime(
            int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    date = f"{m[1]}-{m[2]}-{m[3]}"
    if not t:
        return date
    return _iso(date, f"{t[1]}:{t[2]}:{t[3]}", None, _offset(t[4]))


def resolve_date(facts: Facts) -> tuple[str | None, str | None, list[str]]:
    """(taken_at, source, review reasons) in the order: EXIF, XMP, IPTC, file name, folder name."""
    exif, xmp, iptc = facts.get("exif", {}), facts.get("xmp", {}), facts.get("iptc", {})
    if (v := exif.get("DateTimeOriginal")) and (t := _exif_datetime(v, exif.get("SubSecTimeOriginal"),
                                                                  exif.get("OffsetTimeOriginal"))):
        return t, "exif", []
    for key in ("exif:DateTimeOriginal", "photoshop:DateCreated"):
        if isinstance(v := xmp.get(key), str) and (t := _xmp_datetime(v)):
            return t, "xmp", []
    if (v := iptc.get("Date Created")) and (t := _iptc_datetime(v, iptc.get("Time Created"))):
        return t, "iptc", []
    if (v := facts.get("file-name", {}).get("date")):
        return v, "file-name", []
    if (v := facts.get("folder-name", {}).get("date")):
        return v, "folder-name", [] if len(v) == 10 else ["only the month is known"]
    if (v := exif.get("DateTimeDigitized") or exif.get("DateTime")) and (t := _exif_datetime(v, None, exif.get("OffsetTime"))):
        return t, "exif", ["date from EXIF DateTime, which may be when the file was edited"]
    return None, None, ["no date"]


def local_date(taken_at: str | None) -> str | None:
    """The calendar date where the photo was taken: the local part, never shifted to UTC."""
    if taken_at and len(taken_at) >= 10 and taken_at[4] == "-" and taken_at[7] == "-":
        return taken_at[:10]
    return None


def utc(taken_at: str | None) -> str | None:
    """UTC instant when the offset is known, else None (the place's zone is for the tagging stage)."""
    if not taken_at or "T" not in taken_at or not re.search(r"[+-]\d\d:\d\d$", taken_at):
        return None
    try:
        moment = datetime.fromisoformat(taken_at).astimezone(timezone.utc)
    except ValueError:
        return None
    return moment.isoformat(timespec="milliseconds" if "." in taken_at else "seconds")


# ---- text, people, rights ----------------------------------------------------------------------

_CAMERA_JUNK = re.compile(r"digital camera|^\s*<.*>\s*$|^(sony dsc|olympus|default|untitled|image)$", re.I)


def _caption(facts: Facts) -> tuple[str | None, str | None]:
    value, source = _first(facts, ("xmp", "dc:description"), ("iptc", "Caption"))
    if value:
        return _text(value), source
    desc = facts.get("exif", {}).get("ImageDescription")
    make = facts.get("exif", {}).get("Make", "")
    model = facts.get("exif", {}).get("Model", "")
    if desc and not _CAMERA_JUNK.search(desc) and desc not in (make, model):
        return desc, "exif"
    return None, None


def _keywords(facts: Facts) -> list[str]:
    seen: dict[str, str] = {}
    for value in (facts.get("xmp", {}).get("dc:subject"), facts.get("iptc", {}).get("Keywords")):
        for kw in ([value] if isinstance(value, str) else value or []):
            seen.setdefault(kw.casefold(), kw)
    return list(seen.values())


_RIGHTS = (
    ("xmp", "cc:license"), ("xmp", "xmpRights:WebStatement"), ("xmp", "xmpRights:UsageTerms"),
    ("xmp", "dc:rights"), ("iptc", "Copyright Notice"), ("exif", "Copyright"),
)


def resolve_licence(facts: Facts, default: str | None) -> tuple[str | None, str | None, str | None, list[str]]:
    """(SPDX id, source, rights text, review reasons). Exact or nothing; disagreements are flagged."""
    found: dict[str, list[str]] = {}
    texts: list[str] = []
    for source, key in _RIGHTS:
        value = _text(facts.get(source, {}).get(key))
        if not value:
            continue
        if key in ("dc:rights", "Copyright Notice", "Copyright", "xmpRights:UsageTerms"):
            texts.append(value)
        if (spdx := parse_licence(value)):
            found.setdefault(spdx, []).append(source)
    text = texts[0] if texts else None
    if len(found) == 1:
        spdx, sources = next(iter(found.items()))
        return spdx, sources[0], text, []
    if len(found) > 1:
        listed = ", ".join(f"{k} ({'/'.join(dict.fromkeys(v))})" for k, v in found.items())
        return None, None, text, [f"licences disagree: {listed}"]
    if text and looks_like_licence(text) and not re.search(r"all rights reserved", text, re.I):
        return None, None, text, [f"licence text names no exact licence: {text[:80]!r}"]
    if default:
        return default, "flag", text, []
    return None, None, text, ["no licence"]


# ---- place and demonstration -------------------------------------------------------------------

def _demo_fits(demo: Demo, date: str | None) -> bool:
    return bool(date and demo.date and (demo.date == date or (len(demo.date) == 7 and date.startswith(demo.date))))


def resolve(facts: Facts, registry: Registry) -> Tags:
    """Tags for one photo from its facts (the import flags among them, as source `flag`)."""
    options = Options.from_facts(facts)
    facts = _xmp(facts)
    tags = Tags()
    v = tags.values

    taken_at, source, reasons = resolve_date(facts)
    tags.reasons += reasons
    v["taken_at"], v["date_source"] = taken_at, source
    v["date"] = local_date(taken_at)
    v["taken_at_utc"] = utc(taken_at)

    creator, source = _first(facts, ("xmp", "dc:creator"), ("iptc", "By-line"), ("exif", "Artist"))
    if creator is None and options.creator:
        creator, source = options.creator, "flag"
    v["creator"], v["creator_source"] = _text(creator), source

    title, source = _first(facts, ("xmp", "dc:title"), ("iptc", "Object Name"),
                           ("xmp", "photoshop:Headline"), ("iptc", "Headline"))
    v["title"], v["title_source"] = _text(title), source
    v["caption"], v["caption_source"] = _caption(facts)
    keywords = _keywords(facts)
    v["keywords"] = json.dumps(keywords, ensure_ascii=False) if keywords else None

    v["latitude"] = v["longitude"] = v["location_source"] = None
    for source, lat_key, lon_key in (("exif", "GPSLatitude", "GPSLongitude"),
                                     ("xmp", "exif:GPSLatitude", "exif:GPSLongitude")):
        place = facts.get(source, {})
        if place.get(lat_key) is not None and place.get(lon_key) is not None:
            v["latitude"], v["longitude"], v["location_source"] = place[lat_key], place[lon_key], "gps"
            break

    exif = facts.get("exif", {})
    v["camera_make"], v["camera_model"], v["lens_model"] = exif.get("Make"), exif.get("Model"), exif.get("LensModel")
    v["orientation"] = facts.get("image", {}).get("Orientation")

    licence, source, text, reasons = resolve_licence(facts, options.licence)
    tags.reasons += reasons
    v["licence_id"], v["licence_source"], v["licence_text"] = licence, source, text

    # City: forced, else named in XMP/IPTC. (GPS, folder names and the registry join in the tagging issue.)
    if options.city:
        tags.city_name, v["city_source"] = options.city, "flag"
    else:
        name, source = _first(facts, ("xmp", "photoshop:City"), ("iptc", "City"))
        tags.city_name, v["city_source"] = _text(name), source
        country, _ = _first(facts, ("xmp", "Iptc4xmpCore:CountryCode"), ("iptc", "Country Code"))
        tags.country = country.upper()[:2] if isinstance(country, str) and len(country) in (2, 3) else None
    v["city_id"] = registry.city_id(tags.city_name)

    # Demonstration: forced, else the event named in the file, else the registry by date and city.
    v["demonstration_id"] = v["demonstration_source"] = None
    if options.demo:
        tags.demo_name, v["demonstration_source"] = options.demo, "flag"
        matches = [d for d in registry.demos if d.name and normalise(d.name) == normalise(options.demo)]
        if matches:
            dated = [d for d in matches if _demo_fits(d, v["date"])]
            v["demonstration_id"] = (dated or matches)[0].id
    else:
        event, source = _first(facts, ("xmp", "Iptc4xmpExt:Event"))
        named = [d for d in registry.demos if event and d.name and normalise(d.name) == normalise(_text(event))]
        if len(named) > 1:
            named = [d for d in named if _demo_fits(d, v["date"])] or named
        if len(named) == 1:
            v["demonstration_id"], v["demonstration_source"] = named[0].id, source
        elif v["date"]:
            fits = [d for d in registry.demos if _demo_fits(d, v["date"])]
            here = [d for d in fits if v["city_id"] is not None and d.city_id == v["city_id"]]
            if len(here) == 1:
                v["demonstration_id"], v["demonstration_source"] = here[0].id, "registry"
            elif v["city_id"] is None and len(fits) == 1:
                v["demonstration_id"], v["demonstration_source"] = fits[0].id, "registry"
                tags.reasons.append("demonstration matched by date only (city unknown)")
            elif len(fits) > 1 and not here:
                tags.reasons.append(f"{len(fits)} demonstrations fit {v['date']}; none chosen")
    if v["city_id"] is None and tags.city_name is None:
        tags.reasons.append("no city")
    return tags
