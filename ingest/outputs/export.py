"""What leaves the archive: copies that carry their licence, and nothing private.

Every download (original or web size) carries the creator, licence, attribution and credit line in
XMP, in the Metadata Working Group's fields, and a minimal EXIF (date, camera, orientation). GPS,
serial numbers, maker notes, owner names and source paths never leave. The stored original in
`archive/` is never modified: copies are made on the way out.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils
from PIL.PngImagePlugin import PngInfo

from ingest.catalogue import faces
from ingest.errors import ArchiveError
from ingest.media import faces as face_pixels
from ingest.media import icc, images
from ingest.media.store import Store
from ingest.media.write.exif import build_exif
from ingest.media.write.jpeg import keeps_colours, replace_jpeg_metadata
from ingest.media.write.xmp import xmp_packet
from ingest.outputs.credit import Credit, credit, short_name
from ingest.reference.licences import ALL_RIGHTS_RESERVED, UNKNOWN
from ingest.text import slugify

SIZES = ("original", "web")
# EXIF a public copy keeps: when and with what, and which way up. Nothing that locates or identifies.
_EXIF_KEPT = ("DateTimeOriginal", "OffsetTimeOriginal", "SubSecTimeOriginal", "Make", "Model", "LensModel",
              "ExposureTime", "FNumber", "ISOSpeedRatings", "FocalLength")


@dataclass
class PhotoInfo:
    id: int
    sha256: str
    format: str
    title: str | None
    caption: str | None
    creator: str | None
    taken_at: str | None
    licence_id: str | None
    licence_name: str | None
    licence_url: str | None
    licence_text: str | None
    keywords: list[str]
    city: str | None
    demonstration: str | None
    withheld: bool              # not public: withheld, or waiting for review (publication.py)
    exif: dict[str, Any]
    state: str = "public"
    # The face boxes every copy obscures ([] when faces may be shown); None while the photo's faces
    # are not settled (no copy can be made then).
    obscure: list | None = None
    rendition: str | None = None


def load_photo(db: sqlite_utils.Database, photo_id: int) -> PhotoInfo:
    row = db.execute(
        """SELECT p.id, p.sha256, p.format, p.title, p.caption, p.creator, p.taken_at, p.licence_id,
                  l.name, l.url, p.licence_text, p.keywords, c.name, d.name, p.state, p.rendition
           FROM photos p LEFT JOIN licences l ON l.id = p.licence_id LEFT JOIN cities c ON c.id = p.city_id
           LEFT JOIN demonstrations d ON d.id = p.demonstration_id WHERE p.id = ?""", [photo_id]).fetchone()
    if row is None:
        raise ArchiveError(f"no photo {photo_id}")
    exif = {}
    for key, value in db.execute("SELECT key, value FROM metadata WHERE photo_id = ? AND source = 'exif'", [photo_id]):
        if key in _EXIF_KEPT:
            exif[key] = json.loads(value)
    try:
        obscure = faces.to_obscure(db, photo_id)
    except ArchiveError:
        obscure = None
    return PhotoInfo(*row[:11], json.loads(row[11]) if row[11] else [], row[12], row[13], row[14] != "public", exif,
                     row[14], obscure, row[15])


def load_published(db: sqlite_utils.Database, photo_id: int) -> PhotoInfo:
    """A photo's public facts from a public copy, for a server that has no catalogue (a published
    bundle): what its page, credit line and downloads need. Its renditions are already obscured,
    so nothing is left to obscure (`obscure` is [])."""
    row = db.execute(
        """SELECT p.id, p.sha256, p.format, p.title, p.caption, p.creator, p.taken_at, p.licence_id,
                  l.name, l.url, p.licence_text, p.keywords, c.name, d.name, p.rendition,
                  p.camera_make, p.camera_model, p.lens_model
           FROM photos p LEFT JOIN licences l ON l.id = p.licence_id LEFT JOIN cities c ON c.id = p.city_id
           LEFT JOIN demonstrations d ON d.id = p.demonstration_id WHERE p.id = ?""", [photo_id]).fetchone()
    if row is None:
        raise ArchiveError(f"no photo {photo_id}")
    exif = {k: v for k, v in zip(("Make", "Model", "LensModel"), row[15:]) if v}
    return PhotoInfo(*row[:11], json.loads(row[11]) if row[11] else [], row[12], row[13], False, exif,
                     "public", [], row[14])


def with_licence(jpeg: bytes, photo: PhotoInfo, fields: dict[str, Any]) -> bytes:
    """A JPEG's metadata replaced by the licence-carrying XMP and the minimal EXIF of a public copy."""
    return replace_jpeg_metadata(jpeg, exif=_exif_block(photo, None), xmp=xmp_packet(fields))


def photo_credit(photo: PhotoInfo, archive_name: str, page_url: str | None) -> Credit:
    return credit(title=photo.title, creator=photo.creator, licence_id=photo.licence_id,
                  licence_url=photo.licence_url, source_url=page_url, archive_name=archive_name)


def xmp_fields(photo: PhotoInfo, line: Credit, page_url: str | None) -> dict[str, Any]:
    """The MWG/IPTC/CC fields a reuser's software shows: who, what licence, how to credit."""
    lic = photo.licence_id if photo.licence_id not in (None, UNKNOWN) else None
    is_cc = bool(lic and lic != ALL_RIGHTS_RESERVED)
    if is_cc:
        rights = f"{'© ' + photo.creator + ', ' if photo.creator and lic not in ('CC0-1.0', 'CC-PDM-1.0') else ''}{short_name(lic)}"
        terms = f"This work {'is marked with' if lic in ('CC0-1.0', 'CC-PDM-1.0') else 'is licensed under'} " \
                f"{photo.licence_name} ({photo.licence_url})."
    else:
        rights = photo.licence_text or (f"© {photo.creator}" if photo.creator else None)
        terms = "No licence stated: ask the photographer before reuse." if not lic else "All rights reserved."
    return {
        "dc:title": photo.title,
        "dc:description": photo.caption,
        "dc:creator": [photo.creator] if photo.creator else None,
        "dc:subject": photo.keywords or None,
        "dc:rights": rights,
        "xmpRights:Marked": (lic not in ("CC0-1.0", "CC-PDM-1.0")) if lic else None,
        "xmpRights:WebStatement": photo.licence_url if is_cc else page_url,
        "xmpRights:UsageTerms": terms,
        "cc:license": photo.licence_url if is_cc else None,
        "cc:attributionName": photo.creator if is_cc else None,
        "cc:attributionURL": page_url if is_cc else None,
        "photoshop:Credit": line.text,
        "photoshop:City": photo.city,
        "photoshop:DateCreated": photo.taken_at,
        "Iptc4xmpExt:Event": photo.demonstration,
    }


def _exif_block(photo: PhotoInfo, orientation: int | None) -> bytes:
    """EXIF says when from the catalogue (an archivist's corrected time wins over the camera's clock)."""
    fields = dict(photo.exif)
    for key in ("DateTimeOriginal", "OffsetTimeOriginal", "SubSecTimeOriginal"):
        fields.pop(key, None)
    when = photo.taken_at or ""
    if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d", when):
        fields["DateTimeOriginal"] = when[:10].replace("-", ":") + " " + (when[11:19] + ":00")[:8]
        offset = re.search(r"([+-]\d\d:\d\d|Z)$", when)
        if offset:
            fields["OffsetTimeOriginal"] = "+00:00" if offset.group(1) == "Z" else offset.group(1)
    fields["Artist"] = photo.creator
    fields["Copyright"] = photo.licence_url and f"{photo.creator or ''} {short_name(photo.licence_id)}".strip()
    if orientation and orientation != 1:
        fields["Orientation"] = orientation
    return build_exif({k: v for k, v in fields.items() if v is not None}).tobytes()


def public_copy(store: Store, photo: PhotoInfo, size: str, fields: dict[str, Any]) -> tuple[bytes, str]:
    """(bytes, file extension) of a licence-carrying, privacy-safe copy."""
    if size not in SIZES:
        raise ArchiveError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    if photo.obscure is None:
        raise ArchiveError(f"photo {photo.id}: faces not detected yet (run `ingest faces detect`)")
    xmp = xmp_packet(fields)
    seed = face_pixels.seed_for(photo.sha256, photo.rendition or "", size)
    if size == "web":
        data = store.derivative("web", photo.sha256).read_bytes()
        return with_licence(face_pixels.obscure_jpeg(data, photo.obscure, seed), photo, fields), "jpg"
    data = store.original(photo.sha256, images.FORMATS[photo.format][1]).read_bytes()
    if photo.format == "JPEG" and keeps_colours(data) and not photo.obscure:
        orientation = images.open_image(data, "JPEG").orientation
        return replace_jpeg_metadata(data, exif=_exif_block(photo, orientation), xmp=xmp), "jpg"
    # Decoded in full: a format to convert, or faces to obscure (the stored original never changes).
    opened = images.open_image(data, photo.format)
    im = images.rotate(opened.image, opened.orientation)
    out = io.BytesIO()
    if photo.format == "PNG":  # lossless: re-saving keeps every pixel, drops every chunk we did not write
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        profile = im.info.get("icc_profile")
        if photo.obscure:
            im = face_pixels.obscure(im.convert("RGBA" if "A" in im.mode else "RGB"), photo.obscure, seed=seed)
        im.save(out, "PNG", pnginfo=info, exif=_exif_block(photo, None),
                icc_profile=icc.sanitise(profile) if profile else None)
        return out.getvalue(), "png"
    # TIFF, WebP, HEIC, AVIF, JPEGs whose colour profile cannot be reduced (media/icc.py), and JPEGs
    # with faces to obscure: a full-size sRGB JPEG, which every reuser can open and which carries XMP.
    im = face_pixels.obscure(images.to_srgb_rgb(im), photo.obscure or [], seed=seed)
    im.save(out, "JPEG", quality=92)
    return replace_jpeg_metadata(out.getvalue(), exif=_exif_block(photo, None), xmp=xmp), "jpg"


def file_name(photo: PhotoInfo, ext: str) -> str:
    parts = [photo.taken_at and photo.taken_at[:10], photo.city, photo.title]
    stem = slugify(" ".join(filter(None, parts))) if any(parts) else "photo"
    return f"{stem[:60]}-{photo.id}.{ext}"


def load_public(db: sqlite_utils.Database, photo_ids: Iterable[int], *, allow_withheld: bool = False) -> list[PhotoInfo]:
    """The photos' rows (no pixels: cheap, one query each), refusing those that are not public."""
    photos = []
    for photo_id in photo_ids:
        photo = load_photo(db, photo_id)
        if photo.withheld and not allow_withheld:
            raise ArchiveError(f"photo {photo_id} is {photo.state}, not public")
        photos.append(photo)
    return photos


def public_file(store: Store, photo: PhotoInfo, size: str, archive_name: str,
                page_url: Any = None) -> tuple[str, bytes, Credit]:
    """(file name, bytes, credit) of one photo's copy: the only photo in memory while it is made."""
    url = page_url(photo.id) if page_url else None
    line = photo_credit(photo, archive_name, url)
    data, ext = public_copy(store, photo, size, xmp_fields(photo, line, url))
    return file_name(photo, ext), data, line


def source_path(store: Store, photo: PhotoInfo, size: str) -> Path:
    """The stored file a copy is made from (to check that it is there before a download starts)."""
    if size == "web":
        return store.derivative("web", photo.sha256)
    return store.original(photo.sha256, images.FORMATS[photo.format][1])


def export(db: sqlite_utils.Database, store: Store, photo_ids: Iterable[int], size: str, archive_name: str,
           page_url: Any = None, *, allow_withheld: bool = False) -> list[tuple[str, bytes, Credit]]:
    """(file name, bytes, credit) for each photo; `page_url(id)` gives the photo's public page."""
    photos = load_public(db, photo_ids, allow_withheld=allow_withheld)
    return [public_file(store, photo, size, archive_name, page_url) for photo in photos]


def credits_header(archive_name: str) -> list[str]:
    return [f"Photos from {archive_name}. Credit each photo you use as shown below.", ""]


def zip_bundle(files: list[tuple[str, bytes, Credit]], archive_name: str) -> bytes:
    """A ZIP of the copies with a CREDITS.txt giving every photo's credit line."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        credits = credits_header(archive_name)
        for name, data, line in files:
            z.writestr(name, data)
            credits += [name, f"  {line.text}", ""]
        z.writestr("CREDITS.txt", "\n".join(credits))
    return buf.getvalue()


class _Chunks:
    """A write-only, unseekable file: zipfile then writes each member's sizes and CRC after its
    data (a data descriptor), so nothing already written is ever revisited."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))  # bytes of bytes is the same object: no copy of a photo
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        parts, self.parts = self.parts, []
        return parts


class ZipStream:
    """The same ZIP as zip_bundle, made one member at a time: `add()` and `finish()` return the
    bytes to send next, so a download holds one photo's copy, whatever the number of photos.
    CREDITS.txt comes last, with a line for any photo that could not be copied."""

    def __init__(self, archive_name: str):
        self._out = _Chunks()
        self._zip = zipfile.ZipFile(self._out, "w", zipfile.ZIP_STORED)
        self._credits = credits_header(archive_name)

    def add(self, name: str, data: bytes, line: Credit) -> list[bytes]:
        self._zip.writestr(name, data)
        self._credits += [name, f"  {line.text}", ""]
        return self._out.take()

    def skip(self, photo_id: int, reason: str) -> None:
        self._credits += [f"(photo {photo_id} is not included: {reason})", ""]

    def finish(self) -> list[bytes]:
        self._zip.writestr("CREDITS.txt", "\n".join(self._credits))
        self._zip.close()
        return self._out.take()
