"""Facts -> the archive's tags, each with the source it came from and, when unsure, a review reason.

Pure: it reads facts, the import options and a snapshot of the registry; it writes nothing. That is
what lets `retag` re-run it over stored facts without re-reading files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ingest.catalogue.registry import Registry
from ingest.importer.dates import resolve_date
from ingest.model import CityChoice, Facts, Tags
from ingest.reference.licences import ALL_RIGHTS_RESERVED, looks_like_licence, parse_licence
from ingest.reference.places import city_from_folders, city_from_gps, city_from_name, timezone_at
from ingest.times import local_date, utc


@dataclass(frozen=True)
class Options:
    """Import flags. Stored with the photo's facts (source `flag`) so that retag re-applies them."""
    licence: str | None = None     # default for files that carry none
    creator: str | None = None     # default for files that carry none
    demo: str | None = None        # forced
    city: str | None = None        # forced
    via: str | None = None         # who set them, as the tags' source: None for the CLI (`flag`), `upload` for the web form

    def as_facts(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    @classmethod
    def from_facts(cls, facts: Facts) -> "Options":
        flags = facts.get("flag", {})
        return cls(**{k: flags.get(k) for k in ("licence", "creator", "demo", "city", "via")})

    @property
    def source(self) -> str:
        """The `*_source` of a tag these options set."""
        return self.via if self.via in ("upload",) else "flag"


def _first(facts: Facts, *places: tuple[str, str]) -> tuple[Any, str] | tuple[None, None]:
    for source, name in places:
        value = facts.get(source, {}).get(name)
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


# ---- text, people, rights ----------------------------------------------------------------------

_CAMERA_JUNK = re.compile(r"digital camera|^\s*<.*>\s*$|^(sony dsc|olympus|default|untitled|image)$", re.I)


def _caption(facts: Facts) -> tuple[str | None, str | None]:
    value, source = _first(facts, ("xmp", "dc:description"), ("iptc", "Caption"), ("png", "Description"))
    if value:
        return _text(value), source
    desc = facts.get("exif", {}).get("ImageDescription")
    make = facts.get("exif", {}).get("Make", "")
    model = facts.get("exif", {}).get("Model", "")
    if desc and not _CAMERA_JUNK.search(desc) and desc not in (make, model):
        return desc, "exif"
    value, source = _first(facts, ("exif", "XPComment"), ("exif", "XPSubject"))
    return _text(value), source


def _keywords(facts: Facts) -> list[str]:
    seen: dict[str, str] = {}
    xp = facts.get("exif", {}).get("XPKeywords")
    xp = [k.strip() for k in xp.split(";") if k.strip()] if isinstance(xp, str) else None
    for value in (facts.get("xmp", {}).get("dc:subject"), facts.get("iptc", {}).get("Keywords"), xp):
        for kw in ([value] if isinstance(value, str) else value or []):
            seen.setdefault(kw.casefold(), kw)
    return list(seen.values())


_RIGHTS = (
    ("xmp", "cc:license"), ("xmp", "xmpRights:WebStatement"), ("xmp", "xmpRights:UsageTerms"),
    ("xmp", "dc:rights"), ("iptc", "Copyright Notice"), ("exif", "Copyright"), ("png", "Copyright"),
)


def resolve_licence(facts: Facts, default: str | None, archive_default: str | None = None,
                    flag_source: str = "flag") -> tuple[str | None, str | None, str | None, list[str]]:
    """(SPDX id, source, rights text, review reasons). Exact or nothing; disagreements are flagged.

    The file's own statement beats the import's `--licence` (source `flag`), which beats the
    archive's default (source `archive`)."""
    found: dict[str, list[str]] = {}
    texts: list[str] = []
    unread: list[str] = []   # statements about a licence that name no exact one
    for source, name in _RIGHTS:
        value = _text(facts.get(source, {}).get(name))
        if not value:
            continue
        if name in ("dc:rights", "Copyright Notice", "Copyright", "xmpRights:UsageTerms"):
            texts.append(value)
        if (spdx := parse_licence(value)):
            found.setdefault(spdx, []).append(source)
        elif name == "cc:license" or (name == "xmpRights:WebStatement" and "creativecommons" in value.lower()) or (
                looks_like_licence(value) and not re.search(r"all rights reserved", value, re.I)):
            unread.append(value)
    text = texts[0] if texts else (unread[0] if unread else None)
    if len(found) == 1:
        spdx, sources = next(iter(found.items()))
        return spdx, sources[0], text, []
    if len(found) > 1:
        listed = ", ".join(f"{k} ({'/'.join(dict.fromkeys(v))})" for k, v in found.items())
        return None, None, text, [f"licences disagree: {listed}"]
    if unread:  # never let an import default paper over what the photographer wrote
        return None, None, text, [f"licence text names no exact licence: {unread[0][:80]!r}"]
    default_source = flag_source if default else "archive"
    default = default or archive_default
    reserved = next((t for t in texts if re.search(r"all\s+rights\s+reserved", t, re.I)), None)
    if reserved and default:  # the file reserves all rights, the import says CC: a person decides
        return None, None, text, [f"the file says {reserved[:60]!r} but the import default is {default}"]
    if reserved:
        return ALL_RIGHTS_RESERVED, next(s for s, k in _RIGHTS if _text(facts.get(s, {}).get(k)) == reserved), text, []
    if default:
        return default, default_source, text, []
    return None, None, text, ["no licence"]


# ---- place and demonstration -------------------------------------------------------------------

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

    creator, source = _first(facts, ("xmp", "dc:creator"), ("iptc", "By-line"), ("exif", "Artist"),
                             ("png", "Author"), ("exif", "XPAuthor"))
    if creator is None and options.creator:
        creator, source = options.creator, options.source
    v["creator"], v["creator_source"] = _text(creator), source

    title, source = _first(facts, ("xmp", "dc:title"), ("iptc", "Object Name"),
                           ("xmp", "photoshop:Headline"), ("iptc", "Headline"), ("png", "Title"),
                           ("exif", "XPTitle"))
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

    licence, source, text, reasons = resolve_licence(facts, options.licence, registry.settings.get("default-licence"),
                                                     options.source)
    tags.reasons += reasons
    v["licence_id"], v["licence_source"], v["licence_text"] = licence, source, text

    choice = _city(facts, options, registry, tags)
    v["city_id"] = registry.city_of(choice) if choice else None
    v["city_source"] = choice.source if choice else None
    tags.city = choice
    _archivist(facts.get("archivist", {}), v, registry, tags)

    _demonstration(facts, options, registry, tags)
    demo = registry.demo(v["demonstration_id"])
    if choice is None and demo is not None and demo.city_id is not None:
        v["city_id"], v["city_source"] = demo.city_id, "registry"
        choice = registry.choice_for(demo.city_id, "registry")
    if v["city_id"] is None and choice is None:
        tags.reasons.append("no city")
    _utc_from_place(v, choice)
    return tags


def _city(facts: Facts, options: Options, registry: Registry, tags: Tags) -> CityChoice | None:
    """GPS -> XMP/IPTC city -> a known city in the folder names; --city forces (GPS disagreeing is flagged)."""
    v = tags.values
    gps = city_from_gps(v["latitude"], v["longitude"]) if v["latitude"] is not None else None
    if options.city:
        forced = city_from_name(options.city, None, options.source)
        if gps and gps.name != forced.name:
            tags.reasons.append(f"--city says {forced.name} but GPS says {gps.name}")
        return forced
    if gps:
        if gps.review:
            tags.reasons.append(gps.review)
        return gps
    name, source = _first(facts, ("xmp", "photoshop:City"), ("iptc", "City"))
    if isinstance(name, str):
        country, _ = _first(facts, ("xmp", "Iptc4xmpCore:CountryCode"), ("iptc", "Country Code"))
        choice = city_from_name(name, country if isinstance(country, str) else None, source)
        if choice.review:
            tags.reasons.append(choice.review)
        return choice
    found = city_from_folders(facts.get("folder-name", {}).get("folders") or [], registry.city_ids)
    if found:
        return registry.choice_for(found[1], "folder-name")
    return None


def _archivist(corrected: dict[str, Any], v: dict[str, Any], registry: Registry, tags: Tags) -> None:
    """Corrected date and city (source `archivist`) are what demonstration matching works from."""
    if corrected.get("taken_at"):
        v["taken_at"] = corrected["taken_at"]
        v["date"], v["taken_at_utc"] = local_date(v["taken_at"]), utc(v["taken_at"])
    if corrected.get("date"):
        v["date"] = corrected["date"]
    if corrected.get("city_id") not in (None, ""):
        city_id = int(corrected["city_id"])
        v["city_id"], v["city_source"] = city_id, "archivist"
        tags.city = registry.choice_for(city_id, "archivist")


def _demonstration(facts: Facts, options: Options, registry: Registry, tags: Tags) -> None:
    """--demo -> the event named in XMP -> the registry by date and city; never a pick between two."""
    v = tags.values
    v["demonstration_id"] = v["demonstration_source"] = None
    # A photo known only to the month can still match a month-only registry entry.
    date = v["date"] or (v["taken_at"] if v["taken_at"] and len(v["taken_at"]) == 7 else None)
    city_id = v["city_id"]
    if options.demo:
        v["demonstration_source"] = options.source
        named = registry.named(options.demo, date)
        same_name = registry.called(options.demo)
        if named:
            v["demonstration_id"] = named.id
        elif same_name:
            tags.reasons.append(f"{len(same_name)} demonstrations are called {options.demo!r}, none chosen")
        elif options.via == "upload":
            # A photographer's new name is never added to the registry (which is public) unreviewed:
            # the photo joins its day and city's provisional group, and the name waits for an archivist.
            v["demonstration_source"] = None
            tags.reasons.append(f"uploaded as a new demonstration, {options.demo[:80]!r}: name its group or choose one")
            tags.provisional = bool(date and len(date) == 10 and tags.city is not None)
        else:
            tags.demo_name = options.demo
        return
    event, source = _first(facts, ("xmp", "Iptc4xmpExt:Event"))
    if isinstance(event, str) and (named := registry.named(event, date, city_id)):
        v["demonstration_id"], v["demonstration_source"] = named.id, source
        return
    if not date:
        return
    fits = [d for d in registry.fitting(date) if not d.provisional]
    here = [d for d in fits if city_id is not None and d.city_id == city_id]
    if len(here) == 1:
        v["demonstration_id"], v["demonstration_source"] = here[0].id, "registry"
    elif len(here) > 1:
        tags.reasons.append(f"{len(here)} demonstrations fit {date} in this city, none chosen")
    elif city_id is None and tags.city is None and len(fits) == 1:
        v["demonstration_id"], v["demonstration_source"] = fits[0].id, "registry"
        tags.reasons.append("demonstration matched by date only (city unknown)")
    elif city_id is None and tags.city is None and len(fits) > 1:
        tags.reasons.append(f"{len(fits)} demonstrations fit {date} ({', '.join(registry.place_of(d) for d in fits)}), none chosen")
    elif len(date) == 10 and tags.city is not None:
        tags.provisional = True


def _utc_from_place(v: dict[str, Any], choice: CityChoice | None) -> None:
    """When the camera gave no offset, the place's time zone gives the UTC instant; the local date stays."""
    taken = v["taken_at"]
    if v["taken_at_utc"] or not taken or "T" not in taken:
        return
    zone = None
    if v["latitude"] is not None:
        zone = timezone_at(v["latitude"], v["longitude"])
    if zone is None and choice is not None and choice.city is not None:
        zone = choice.city.timezone
    if not zone:
        return
    try:
        local = datetime.fromisoformat(taken).replace(tzinfo=ZoneInfo(zone))
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return
    v["taken_at_utc"] = local.astimezone(timezone.utc).isoformat(timespec="milliseconds" if "." in taken else "seconds")
