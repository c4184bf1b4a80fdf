"""Credit lines: title, author, source, licence (TASL), as CC recommends, in text, HTML and Markdown.

"This work" stands in for a missing title; CC0 and the Public Domain Mark are "marked with", not
"licensed under"; the source is the photo's page in the archive, named after the archive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from ingest.reference.licences import ALL_RIGHTS_RESERVED, UNKNOWN, catalogue


@dataclass(frozen=True)
class Credit:
    text: str
    html: str
    markdown: str


def short_name(licence_id: str) -> str:
    """CC-BY-SA-4.0 -> "CC BY-SA 4.0"; CC-BY-SA-3.0-DE -> "CC BY-SA 3.0 DE"; CC0-1.0 -> "CC0 1.0"."""
    if licence_id == "CC-PDM-1.0":
        return "Public Domain Mark 1.0"
    if licence_id == "CC0-1.0":
        return "CC0 1.0"
    m = re.match(r"^CC-(BY(?:-[A-Z]+)*)-(\d\.\d)(?:-([A-Z]+))?$", licence_id)
    if m:
        return f"CC {m[1]} {m[2]}" + (f" {m[3]}" if m[3] else "")
    return licence_id


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def credit(
    *,
    title: str | None,
    creator: str | None,
    licence_id: str | None,
    licence_url: str | None,
    source_url: str | None,
    archive_name: str,
    creator_url: str | None = None,
) -> Credit:
    """The credit line for one photo. Without an exact licence it says so rather than inventing one."""
    title_text = f"“{title}”" if title else "This work"
    by = f" by {creator}" if creator else ""
    source = f", from {archive_name}," if archive_name else ""
    lic = licence_id if licence_id not in (None, UNKNOWN) else None
    if lic == ALL_RIGHTS_RESERVED:
        verb, label = "is", "all rights reserved"
    elif lic:
        verb = "is marked with" if lic in ("CC0-1.0", "CC-PDM-1.0") else "is licensed under"
        label = short_name(lic)
    else:
        verb, label = "has", "no licence stated: ask the photographer before reuse"

    text = f"{title_text}{by}{source} {verb} {label}."
    if lic and licence_url:
        text = text[:-1] + f" ({licence_url})."
    if source_url:
        text += f" Source: {source_url}"

    h_title = escape(title_text)
    if source_url:
        h_title = f'<a href="{escape(source_url)}">{h_title}</a>'
    h_by = ""
    if creator:
        h_by = f" by <a href=\"{escape(creator_url)}\">{escape(creator)}</a>" if creator_url else f" by {escape(creator)}"
    h_source = f", from {escape(archive_name)}," if archive_name else ""
    h_label = escape(label)
    if lic and licence_url:
        h_label = f'<a rel="license" href="{escape(licence_url)}">{h_label}</a>'
    html = f"{h_title}{h_by}{h_source} {verb} {h_label}."

    m_title = _md(title_text)
    if source_url:
        m_title = f"[{m_title}]({source_url})"
    m_by = ""
    if creator:
        m_by = f" by [{_md(creator)}]({creator_url})" if creator_url else f" by {_md(creator)}"
    m_source = f", from {_md(archive_name)}," if archive_name else ""
    m_label = f"[{_md(label)}]({licence_url})" if lic and licence_url else _md(label)
    markdown = f"{m_title}{m_by}{m_source} {verb} {m_label}."
    return Credit(text, html, markdown)


def permission_words(photo) -> list[str]:
    """What a licence lets a journalist do, in plain words."""
    lic = next((l for l in catalogue() if l.id == photo.licence_id), None)
    if lic is None or lic.id == "unknown":
        return ["No licence is stated: ask the photographer before any reuse."]
    if not lic.is_cc:
        return ["All rights reserved: reuse needs the photographer's permission."]
    words = ["Free to share and reuse, also commercially." if lic.allows_commercial
             else "Free to share and reuse for non-commercial purposes only."]
    if lic.id in ("CC0-1.0", "CC-PDM-1.0"):
        return words + ["No credit is required, but it is good practice."]
    words.append("You may adapt it (crop, edit, combine)." if lic.allows_adaptations
                 else "You may not share adapted versions (no crops or edits).")
    if lic.share_alike:
        words.append("Adaptations must be shared under the same licence.")
    words.append("Credit the photographer as shown below.")
    return words
