"""Licences: parsing real-world rights statements, the generated catalogue, and what ingest does with them.

The table below holds licence strings as photographers, Flickr, Wikimedia Commons, Lightroom / Photo
Mechanic templates and press agencies write them. The rule under test: `parse_licence` gives an SPDX id
only when the text names exactly one licence in the catalogue; anything vaguer (no version, a port SPDX
does not list, two licences) is None, never a guess. Cases built with `bug()` are ones the parser once
got wrong, kept as regressions.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pytest
from datasette.app import Datasette
from fixtures.synth import make_photo

from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options, resolve_licence
from ingest.outputs.credit import credit, short_name
from ingest.reference.licences import ALL_RIGHTS_RESERVED, UNKNOWN, VERSIONS, catalogue, parse_licence

CATALOGUE = catalogue()
BY_ID = {lic.id: lic for lic in CATALOGUE}
CODES = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")


def bug(text: str, expected: str | None, reason: str, id: str):
    """A real-world string the parser once got wrong (`reason` says how); kept as a regression case."""
    return pytest.param(text, expected, id=id)


_PORT_IN_TEXT = "short and long forms ignore a jurisdiction port after the version and return the unported licence"
_URL_PORT_END = "URL port lookahead (?=/|$|\\s|[\"'<>#?]) rejects ')' and '.', so the port is dropped"
_DASHES = "typographic hyphens/dashes (U+2010-U+2015) are not treated as '-' in the short form"
_OLD_WORDS = "long form accepts 'ShareAlike'/'NoDerivs' but not 'Share Alike'/'No Derivative Works'"

# (text, expected SPDX id or None)
CASES = [
    # ---- CC URLs: scheme, www, trailing slash, deed / legalcode, languages ----------------------------
    pytest.param("https://creativecommons.org/licenses/by/4.0/", "CC-BY-4.0", id="url-https"),
    pytest.param("http://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0", id="url-http"),
    pytest.param("https://creativecommons.org/licenses/by-nc/4.0", "CC-BY-NC-4.0", id="url-no-slash"),
    pytest.param("http://www.creativecommons.org/licenses/by-nd/4.0/", "CC-BY-ND-4.0", id="url-www"),
    pytest.param("https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode", "CC-BY-NC-SA-4.0", id="url-legalcode"),
    pytest.param("https://creativecommons.org/licenses/by-nc-nd/4.0/legalcode.de", "CC-BY-NC-ND-4.0",
                 id="url-legalcode-de"),
    pytest.param("https://creativecommons.org/licenses/by-sa/4.0/deed.en", "CC-BY-SA-4.0", id="url-deed-en"),
    pytest.param("https://creativecommons.org/licenses/by/4.0/deed.fr", "CC-BY-4.0", id="url-deed-fr"),
    # deed.de is the German-language deed of the *unported* licence, not the German port
    pytest.param("https://creativecommons.org/licenses/by-sa/3.0/deed.de", "CC-BY-SA-3.0", id="url-deed-de-unported"),
    pytest.param("HTTPS://CREATIVECOMMONS.ORG/LICENSES/BY-SA/4.0/", "CC-BY-SA-4.0", id="url-upper-case"),
    # Flickr's licence URLs (the API's url field) are the 2.0 generic licences
    pytest.param("https://creativecommons.org/licenses/by-nc-sa/2.0/", "CC-BY-NC-SA-2.0", id="flickr-by-nc-sa-2.0"),
    pytest.param("https://creativecommons.org/licenses/by-nc-nd/2.0/", "CC-BY-NC-ND-2.0", id="flickr-by-nc-nd-2.0"),
    pytest.param("http://creativecommons.org/licenses/by/2.5/", "CC-BY-2.5", id="url-2.5"),
    pytest.param("http://creativecommons.org/licenses/by-nd-nc/1.0/", "CC-BY-NC-ND-1.0", id="url-1.0-by-nd-nc"),
    # jurisdiction ports SPDX lists
    pytest.param("http://creativecommons.org/licenses/by-nc-sa/3.0/de/", "CC-BY-NC-SA-3.0-DE", id="port-by-nc-sa-3.0-de"),
    pytest.param("https://creativecommons.org/licenses/by-sa/2.0/uk/", "CC-BY-SA-2.0-UK", id="port-by-sa-2.0-uk"),
    pytest.param("https://creativecommons.org/licenses/by-nc-sa/2.0/uk/deed.en_GB", "CC-BY-NC-SA-2.0-UK",
                 id="port-uk-deed-en-gb"),
    pytest.param("https://creativecommons.org/licenses/by/3.0/igo/", "CC-BY-3.0-IGO", id="port-by-3.0-igo"),
    pytest.param("https://creativecommons.org/licenses/by-sa/3.0/de/legalcode", "CC-BY-SA-3.0-DE", id="port-de-legalcode"),
    pytest.param("http://creativecommons.org/licenses/by/3.0/at/deed.de", "CC-BY-3.0-AT", id="port-at-deed-de"),
    pytest.param("http://creativecommons.org/licenses/by/3.0/us", "CC-BY-3.0-US", id="port-us-no-slash"),
    pytest.param("http://creativecommons.org/licenses/by/2.5/au/", "CC-BY-2.5-AU", id="port-by-2.5-au"),
    pytest.param("https://creativecommons.org/licenses/by-sa/2.1/jp/", "CC-BY-SA-2.1-JP", id="port-by-sa-2.1-jp"),
    # ports SPDX does not list: not exact, so None (never the unported licence)
    pytest.param("https://creativecommons.org/licenses/by/3.0/es/", None, id="port-es-unlisted"),
    pytest.param("http://creativecommons.org/licenses/by-nc-nd/2.5/au/legalcode", None, id="port-au-nc-nd-unlisted"),
    pytest.param("https://creativecommons.org/licenses/by-sa/3.0/fr/deed.fr", None, id="port-fr-3.0-unlisted"),
    bug("http://creativecommons.org/licenses/by-nc-sa/2.5/scotland/", None,
        "port regex [a-z]{2,3} cannot match 'scotland', so the Scotland port becomes CC-BY-NC-SA-2.5 (generic)",
        id="port-scotland-unlisted"),
    bug("Licence: https://creativecommons.org/licenses/by-sa/3.0/de.", "CC-BY-SA-3.0-DE", _URL_PORT_END,
        id="port-url-then-full-stop"),
    bug("[CC BY-SA 3.0 DE](https://creativecommons.org/licenses/by-sa/3.0/de)", "CC-BY-SA-3.0-DE", _URL_PORT_END,
        id="port-url-in-markdown-link"),
    # URLs that name no licence
    pytest.param("https://creativecommons.org/licenses/", None, id="url-licenses-index"),
    pytest.param("https://creativecommons.org/licenses/by-sa/", None, id="url-no-version"),
    pytest.param("https://creativecommons.org/licenses/by-nd-sa/4.0/", None, id="url-by-nd-sa-impossible"),
    pytest.param("https://creativecommons.org/licenses/by/5.0/", None, id="url-version-5.0"),
    pytest.param("https://creativecommons.org/licenses/by-sa/4.1/", None, id="url-version-4.1"),
    # CC's own chooser output, pasted into Lightroom's "Rights Usage Terms"
    pytest.param(
        '<a rel="license" href="http://creativecommons.org/licenses/by-nc/4.0/"><img alt="Creative Commons License" '
        'style="border-width:0" src="https://i.creativecommons.org/l/by-nc/4.0/88x31.png" /></a><br />This work is '
        'licensed under a <a rel="license" href="http://creativecommons.org/licenses/by-nc/4.0/">Creative Commons '
        'Attribution-NonCommercial 4.0 International License</a>.', "CC-BY-NC-4.0", id="chooser-html"),
    pytest.param(
        "This work is licensed under the Creative Commons Attribution-ShareAlike 4.0 International License. To view a "
        "copy of this license, visit http://creativecommons.org/licenses/by-sa/4.0/ or send a letter to Creative "
        "Commons, PO Box 1866, Mountain View, CA 94042, USA.", "CC-BY-SA-4.0", id="chooser-text"),

    # ---- short forms -------------------------------------------------------------------------------------
    pytest.param("CC BY-SA 4.0", "CC-BY-SA-4.0", id="short-cc-by-sa-4.0"),
    pytest.param("CC-BY-NC-4.0", "CC-BY-NC-4.0", id="short-spdx-style"),
    pytest.param("cc-by 4.0", "CC-BY-4.0", id="short-lower"),
    pytest.param("CC BY NC ND 4.0", "CC-BY-NC-ND-4.0", id="short-spaces-only"),
    pytest.param("CC BY-SA 4.0 International", "CC-BY-SA-4.0", id="short-international"),
    pytest.param("(CC BY 2.0)", "CC-BY-2.0", id="short-in-parens"),
    pytest.param("CC BY-NC-SA 3.0", "CC-BY-NC-SA-3.0", id="short-by-nc-sa-3.0"),
    pytest.param("CC BY-ND 2.5", "CC-BY-ND-2.5", id="short-by-nd-2.5"),
    pytest.param("CC BY 1.0", "CC-BY-1.0", id="short-by-1.0"),
    pytest.param("CC-BY-SA-3.0", "CC-BY-SA-3.0", id="short-spdx-id"),
    pytest.param("Cc-By-Sa-4.0", "CC-BY-SA-4.0", id="short-mixed-case"),
    pytest.param("CC BY v4.0", "CC-BY-4.0", id="short-v-prefix"),
    pytest.param("CC\u00a0BY-SA\u00a04.0", "CC-BY-SA-4.0", id="short-nbsp"),
    bug("CC BY\u2011SA 4.0", "CC-BY-SA-4.0", _DASHES, id="short-non-breaking-hyphen"),
    bug("CC BY\u2013SA 4.0", "CC-BY-SA-4.0", _DASHES, id="short-en-dash"),
    bug("CC BY-SA 3.0 DE", "CC-BY-SA-3.0-DE", _PORT_IN_TEXT, id="short-port-de"),
    bug("CC-BY-SA-3.0-DE", "CC-BY-SA-3.0-DE", _PORT_IN_TEXT + " (even the SPDX id itself)", id="short-spdx-port-id"),
    bug("CC BY-NC-SA 2.0 UK", "CC-BY-NC-SA-2.0-UK", _PORT_IN_TEXT, id="short-port-uk"),
    bug("CC BY 3.0 IGO", "CC-BY-3.0-IGO", _PORT_IN_TEXT, id="short-port-igo"),
    bug("CC BY 3.0 ES", None, _PORT_IN_TEXT + " (an unlisted port must give None, not CC-BY-3.0)",
        id="short-port-es-unlisted"),
    bug("CC BY-SA 2.1 JP", "CC-BY-SA-2.1-JP", _PORT_IN_TEXT + "; the short form also rejects version 2.1",
        id="short-port-jp-2.1"),

    # ---- Wikimedia Commons licence templates --------------------------------------------------------------
    pytest.param("{{self|cc-by-sa-4.0}}", "CC-BY-SA-4.0", id="commons-self-by-sa-4.0"),
    pytest.param("{{Cc-by-2.0}}", "CC-BY-2.0", id="commons-flickr-import-by-2.0"),
    pytest.param("{{self|cc-zero}}", "CC0-1.0", id="commons-cc-zero"),
    pytest.param("{{self|cc-by-sa-4.0|cc-by-sa-3.0|cc-by-sa-2.5|cc-by-sa-2.0|cc-by-sa-1.0}}", None,
                 id="commons-multi-licence"),
    bug("{{self|cc-by-sa-3.0-de}}", "CC-BY-SA-3.0-DE", _PORT_IN_TEXT, id="commons-by-sa-3.0-de"),
    bug("{{cc-by-sa-3.0,2.5,2.0,1.0}}", None,
        "a comma list of versions names four licences but the short form reads only the first",
        id="commons-version-list"),
    bug("This file is licensed under the Creative Commons Attribution-Share Alike 4.0 International license.",
        "CC-BY-SA-4.0", _OLD_WORDS, id="commons-share-alike-words"),

    # ---- long forms --------------------------------------------------------------------------------------
    pytest.param("Creative Commons Attribution-ShareAlike 4.0 International", "CC-BY-SA-4.0", id="long-by-sa"),
    pytest.param("Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International License",
                 "CC-BY-NC-ND-4.0", id="long-by-nc-nd-license"),
    pytest.param("Attribution-NonCommercial 3.0 Unported (CC BY-NC 3.0)", "CC-BY-NC-3.0", id="deed-title-3.0"),
    pytest.param("Attribution 4.0 International (CC BY 4.0)", "CC-BY-4.0", id="deed-title-4.0"),
    pytest.param("Creative Commons Attribution-NonCommercial-ShareAlike 2.0 Generic", "CC-BY-NC-SA-2.0",
                 id="long-generic"),
    pytest.param("Creative Commons Attribution-NoDerivs 3.0 Unported License", "CC-BY-ND-3.0", id="long-noderivs"),
    pytest.param("This work is licensed under a Creative Commons Attribution 4.0 International License.", "CC-BY-4.0",
                 id="long-sentence"),
    pytest.param("CREATIVE COMMONS ATTRIBUTION-SHAREALIKE 4.0 INTERNATIONAL", "CC-BY-SA-4.0", id="long-upper-case"),
    pytest.param("Namensnennung - Weitergabe unter gleichen Bedingungen 4.0 International (CC BY-SA 4.0)",
                 "CC-BY-SA-4.0", id="deed-title-german"),
    pytest.param("Attribution - Pas d'Utilisation Commerciale - Partage dans les Mêmes Conditions 4.0 International "
                 "(CC BY-NC-SA 4.0)", "CC-BY-NC-SA-4.0", id="deed-title-french"),
    bug("Creative Commons Attribution-Noncommercial-No Derivative Works 3.0 Unported License", "CC-BY-NC-ND-3.0",
        _OLD_WORDS + " (CC's own 2007-2013 name for BY-NC-ND 3.0)", id="long-old-no-derivative-works"),
    bug("Creative Commons Attribution-Noncommercial-Share Alike 3.0 Unported License", "CC-BY-NC-SA-3.0",
        _OLD_WORDS + " (CC's own 2007-2013 name for BY-NC-SA 3.0)", id="long-old-share-alike"),
    bug("Creative Commons Attribution-ShareAlike 3.0 Germany", "CC-BY-SA-3.0-DE", _PORT_IN_TEXT, id="long-port-germany"),
    bug("Attribution-ShareAlike 4.0 International", "CC-BY-SA-4.0",
        "the long form requires 'Creative Commons' before the deed title", id="deed-title-without-cc"),

    # ---- CC0 and the Public Domain Mark ------------------------------------------------------------------
    pytest.param("CC0", "CC0-1.0", id="cc0"),
    pytest.param("CC0 1.0 Universal", "CC0-1.0", id="cc0-universal"),
    pytest.param("No Copyright - CC0", "CC0-1.0", id="cc0-no-copyright"),
    pytest.param("CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "CC0-1.0", id="cc0-deed-title"),
    pytest.param("Public Domain Dedication (CC0)", "CC0-1.0", id="cc0-flickr"),
    pytest.param("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0", id="cc0-url"),
    pytest.param("http://creativecommons.org/publicdomain/zero/1.0/legalcode", "CC0-1.0", id="cc0-url-legalcode"),
    pytest.param("https://creativecommons.org/publicdomain/mark/1.0/", "CC-PDM-1.0", id="pdm-url"),
    pytest.param("https://creativecommons.org/publicdomain/mark/1.0/deed.en", "CC-PDM-1.0", id="pdm-url-deed"),
    pytest.param("Public Domain Mark 1.0", "CC-PDM-1.0", id="pdm-words"),
    pytest.param("Public Domain Mark", "CC-PDM-1.0", id="pdm-words-no-version"),  # only 1.0 exists: exact
    bug("CC-PDM-1.0", "CC-PDM-1.0", "SPDX's id for the mark (CC-PDM-1.0) is not recognised", id="pdm-spdx-id"),

    # ---- texts that name no exact licence ----------------------------------------------------------------
    pytest.param("CC BY-NC", None, id="none-no-version"),
    pytest.param("Creative Commons", None, id="none-creative-commons"),
    pytest.param("Creative Commons Attribution-ShareAlike", None, id="none-long-no-version"),
    pytest.param("Attribution-NonCommercial-ShareAlike License", None, id="none-flickr-name-no-version"),
    pytest.param("Some rights reserved", None, id="none-some-rights"),
    pytest.param("All rights reserved", None, id="none-all-rights"),
    pytest.param("© 2024 Jane Doe", None, id="none-copyright"),
    pytest.param("Copyright Jane Doe. Free to use with credit", None, id="none-free-with-credit"),
    pytest.param("public domain", None, id="none-public-domain"),  # CC0? PDM? expired? not exact
    pytest.param("No known copyright restrictions", None, id="none-flickr-commons"),
    pytest.param("CC BY-ND-SA 4.0", None, id="none-impossible-combination"),
    pytest.param("CC BY 5.0", None, id="none-version-5.0"),
    pytest.param("CC BY-SA 4.1", None, id="none-version-4.1"),
    pytest.param("", None, id="none-empty"),
    pytest.param("   ", None, id="none-blank"),
    # press agencies
    pytest.param("© 2024 Reuters / Jane Doe. All rights reserved.", None, id="press-reuters"),
    pytest.param("AFP PHOTO / JANE DOE", None, id="press-afp"),
    pytest.param("picture alliance / dpa | Jane Doe", None, id="press-dpa"),
    pytest.param("(c) AP Photo/Jane Doe. Editorial use only. No sales.", None, id="press-ap"),

    # ---- contradictions and repetitions within one text -------------------------------------------------
    pytest.param("CC BY 4.0 / CC BY-NC 4.0", None, id="two-licences"),
    pytest.param("Creative Commons Attribution 4.0 International (CC BY-NC 4.0)", None, id="long-and-short-disagree"),
    pytest.param("CC0 / Public Domain Mark 1.0", None, id="cc0-and-pdm"),
    bug("CC BY-NC 4.0 https://creativecommons.org/licenses/by/4.0/", None,
        "when a URL is found the short/long forms are never read, so a contradicting text is ignored",
        id="text-contradicts-url"),
    pytest.param("CC BY-SA 4.0 · CC BY-SA 4.0", "CC-BY-SA-4.0", id="same-licence-twice"),
    pytest.param("Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0) "
                 "https://creativecommons.org/licenses/by-sa/4.0/", "CC-BY-SA-4.0", id="same-licence-three-ways"),

    # ---- photographers' templates (Lightroom / Photo Mechanic copyright and usage-terms fields) --------
    pytest.param("© 2024 Jane Doe – CC BY-NC 4.0", "CC-BY-NC-4.0", id="template-en-dash-separator"),
    pytest.param("©2024 Jane Doe / CC BY-SA 4.0", "CC-BY-SA-4.0", id="template-photo-mechanic"),
    pytest.param("Copyright ©2023 Jane Doe. Licensed under CC BY-NC-ND 4.0. For commercial licensing contact "
                 "jane@example.com", "CC-BY-NC-ND-4.0", id="template-commercial-contact"),
    pytest.param("Copyright 2024 Jane Doe. Licence: CC BY 4.0 https://creativecommons.org/licenses/by/4.0/deed.en",
                 "CC-BY-4.0", id="template-short-and-url"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_licence(text, expected):
    assert parse_licence(text) == expected


def test_parse_licence_none():
    assert parse_licence(None) is None


# ---- the catalogue ---------------------------------------------------------------------------------------

def test_catalogue_ids_are_unique():
    ids = [lic.id for lic in CATALOGUE]
    assert len(ids) == len(set(ids))


def test_catalogue_urls_are_unique():
    urls = [lic.url for lic in CATALOGUE if lic.url]
    assert len(urls) == len(set(urls))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("code", CODES)
def test_every_cc_licence_with_its_deed_url(code, version):
    spdx = f"CC-{code.upper()}-{version}"
    lic = BY_ID[spdx]
    url_code = "by-nd-nc" if (code, version) == ("by-nc-nd", "1.0") else code
    assert lic.url == f"https://creativecommons.org/licenses/{url_code}/{version}/"
    assert (lic.version, lic.is_cc, lic.attribution_required) == (version, True, True)
    assert lic.name.startswith("Creative Commons Attribution") and version in lic.name


def test_spdx_by_ids_are_all_in_the_catalogue():
    """Every CC BY* licence license-expression's SPDX index knows is a catalogue row."""
    index = json.loads((files("license_expression") / "data" / "scancode-licensedb-index.json").read_text())
    spdx = {row.get("spdx_license_key") or "" for row in index}
    assert {i for i in spdx if i.startswith("CC-BY-")} <= set(BY_ID)


@pytest.mark.parametrize(("spdx", "url"), [
    ("CC-BY-SA-3.0-DE", "https://creativecommons.org/licenses/by-sa/3.0/de/"),
    ("CC-BY-NC-SA-2.0-UK", "https://creativecommons.org/licenses/by-nc-sa/2.0/uk/"),
    ("CC-BY-SA-2.0-UK", "https://creativecommons.org/licenses/by-sa/2.0/uk/"),
    ("CC-BY-3.0-IGO", "https://creativecommons.org/licenses/by/3.0/igo/"),
    ("CC-BY-NC-ND-3.0-IGO", "https://creativecommons.org/licenses/by-nc-nd/3.0/igo/"),
    ("CC-BY-NC-SA-2.0-FR", "https://creativecommons.org/licenses/by-nc-sa/2.0/fr/"),
    ("CC-BY-NC-SA-2.0-DE", "https://creativecommons.org/licenses/by-nc-sa/2.0/de/"),
    ("CC-BY-3.0-AT", "https://creativecommons.org/licenses/by/3.0/at/"),
    ("CC-BY-3.0-US", "https://creativecommons.org/licenses/by/3.0/us/"),
    ("CC-BY-3.0-NL", "https://creativecommons.org/licenses/by/3.0/nl/"),
    ("CC-BY-2.5-AU", "https://creativecommons.org/licenses/by/2.5/au/"),
    ("CC-BY-SA-2.1-JP", "https://creativecommons.org/licenses/by-sa/2.1/jp/"),
])
def test_spdx_ports(spdx, url):
    assert BY_ID[spdx].url == url
    assert BY_ID[spdx].is_cc


def test_public_domain_and_non_cc_rows():
    cc0, pdm = BY_ID["CC0-1.0"], BY_ID["CC-PDM-1.0"]
    assert cc0.url == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert pdm.url == "https://creativecommons.org/publicdomain/mark/1.0/"
    for lic in (cc0, pdm):
        assert (lic.allows_commercial, lic.allows_adaptations, lic.share_alike, lic.attribution_required,
                lic.commons_compatible) == (True, True, False, False, True)
    arr, unknown = BY_ID[ALL_RIGHTS_RESERVED], BY_ID[UNKNOWN]
    assert (arr.id, arr.url, arr.is_cc, arr.allows_commercial, arr.allows_adaptations, arr.commons_compatible) == (
        "all-rights-reserved", None, False, False, False, False)
    assert (unknown.id, unknown.url, unknown.is_cc, unknown.allows_commercial, unknown.allows_adaptations,
            unknown.share_alike, unknown.commons_compatible) == ("unknown", None, False, None, None, None, False)


@pytest.mark.parametrize("lic", [lic for lic in CATALOGUE if lic.id.startswith("CC-BY")], ids=lambda lic: lic.id)
def test_permissions_follow_the_licence_elements(lic):
    elements = set(re.match(r"CC-(BY(?:-[A-Z]{2})*)-\d", lic.id)[1].split("-"))
    assert lic.allows_commercial is ("NC" not in elements)
    assert lic.allows_adaptations is ("ND" not in elements)
    assert lic.share_alike is ("SA" in elements)
    assert lic.commons_compatible is (elements <= {"BY", "SA"})


def test_commons_compatible_only_by_by_sa_cc0_pdm():
    compatible = {lic.id for lic in CATALOGUE if lic.commons_compatible}
    assert compatible == {lic.id for lic in CATALOGUE
                          if re.fullmatch(r"CC-BY(-SA)?-\d\.\d(-[A-Z]+)?", lic.id) or lic.id in ("CC0-1.0", "CC-PDM-1.0")}


@pytest.mark.parametrize("lic", [lic for lic in CATALOGUE if lic.url], ids=lambda lic: lic.id)
def test_every_catalogue_url_parses_back_to_its_id(lic):
    assert parse_licence(lic.url) == lic.id
    assert parse_licence(lic.url.replace("https://", "http://")) == lic.id
    assert parse_licence(lic.url.rstrip("/")) == lic.id
    assert parse_licence(lic.url + "deed.en") == lic.id
    assert parse_licence(lic.url + "legalcode") == lic.id




@pytest.mark.parametrize("spdx", [lic.id for lic in CATALOGUE if lic.url])
def test_credit_label_parses_back_to_its_id(spdx):
    """The label a credit line prints (short_name) is itself an exact licence name."""
    assert parse_licence(short_name(spdx)) == spdx


def test_catalogue_is_seeded_into_the_archive(archive):
    db = archive[0]
    rows = {r["id"]: r for r in db["licences"].rows}
    assert set(rows) == set(BY_ID)
    for lic in CATALOGUE:
        row = rows[lic.id]
        assert row["url"] == lic.url
        for col in ("allows_commercial", "allows_adaptations", "share_alike", "commons_compatible"):
            assert row[col] == (None if getattr(lic, col) is None else int(getattr(lic, col))), (lic.id, col)


@pytest.mark.parametrize(("text", "says"), [
    ("CC BY-SA 4.0", "is licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)."),
    ("CC0", "is marked with CC0 1.0 (https://creativecommons.org/publicdomain/zero/1.0/)."),
    ("CC BY-NC", "has no licence stated: ask the photographer before reuse."),
])
def test_credit_from_parsed_text(text, says):
    spdx = parse_licence(text)
    line = credit(title="March", creator="Jane Doe", licence_id=spdx, licence_url=BY_ID[spdx].url if spdx else None,
                  source_url=None, archive_name="")
    assert line.text.endswith(says)


# ---- resolve_licence: precedence and contradictions, from facts -------------------------------------------

def test_resolve_precedence_order_of_sources():
    same = "https://creativecommons.org/licenses/by-sa/4.0/"
    facts = {"exif": {"Copyright": "CC BY-SA 4.0"}, "iptc": {"Copyright Notice": "CC-BY-SA-4.0"},
             "xmp": {"xmpRights:WebStatement": same, "dc:rights": "© Jane Doe, CC BY-SA 4.0"}}
    assert resolve_licence(facts, "CC-BY-4.0")[:2] == ("CC-BY-SA-4.0", "xmp")
    del facts["xmp"]
    assert resolve_licence(facts, "CC-BY-4.0")[:2] == ("CC-BY-SA-4.0", "iptc")
    del facts["iptc"]
    assert resolve_licence(facts, "CC-BY-4.0")[:2] == ("CC-BY-SA-4.0", "exif")
    del facts["exif"]
    assert resolve_licence(facts, "CC-BY-4.0") == ("CC-BY-4.0", "flag", None, [])


# ---- ingest of real files ---------------------------------------------------------------------------------

def _photos(db) -> dict[str, dict]:
    return {r["original_filename"]: r for r in db.query("SELECT * FROM photos")}


def _ingest(archive, tmp_path: Path, files: dict[str, dict], licence: str | None) -> dict[str, dict]:
    db, store, _, _ = archive
    folder = tmp_path / "in"
    for seed, (name, meta) in enumerate(files.items(), start=1):
        make_photo(folder / name, width=64, height=48, seed=seed, **meta)
    summary = run_ingest(db, store, [str(folder)], Options(licence=licence, creator="Desk"), publish=True)
    assert summary.imported == len(files) and summary.problems == 0
    return _photos(db)


def _licence_reasons(row: dict) -> list[str]:
    return [r for r in (row["review_reason"] or "").split("; ") if "licen" in r]


def test_licence_in_file_beats_the_flag(archive, tmp_path):
    rows = _ingest(archive, tmp_path, {
        "xmp.jpg": {"xmp": {"cc:license": "https://creativecommons.org/licenses/by-nc-sa/4.0/"}},
        "web.jpg": {"xmp": {"xmpRights:WebStatement": "https://creativecommons.org/licenses/by-sa/3.0/de/"}},
        "iptc.jpg": {"iptc": {"Copyright Notice": "© 2024 Jane Doe, CC BY-ND 4.0"}},
        "exif.jpg": {"exif": {"Copyright": "Jane Doe / CC0"}},
        "all.jpg": {"xmp": {"dc:rights": "CC BY-SA 4.0"}, "iptc": {"Copyright Notice": "CC-BY-SA-4.0"},
                    "exif": {"Copyright": "Creative Commons Attribution-ShareAlike 4.0 International"}},
    }, licence="CC-BY-4.0")
    got = {name: (r["licence_id"], r["licence_source"]) for name, r in rows.items()}
    assert got == {
        "xmp.jpg": ("CC-BY-NC-SA-4.0", "xmp"), "web.jpg": ("CC-BY-SA-3.0-DE", "xmp"),
        "iptc.jpg": ("CC-BY-ND-4.0", "iptc"), "exif.jpg": ("CC0-1.0", "exif"), "all.jpg": ("CC-BY-SA-4.0", "xmp"),
    }
    assert not [r for r in rows.values() if _licence_reasons(r)]
    assert rows["iptc.jpg"]["licence_text"] == "© 2024 Jane Doe, CC BY-ND 4.0"


def test_flag_applies_when_the_file_states_no_licence(archive, tmp_path):
    rows = _ingest(archive, tmp_path, {
        "bare.jpg": {},
        "copyright.jpg": {"exif": {"Copyright": "© 2024 Jane Doe"}},
    }, licence="CC-BY-4.0")
    for row in rows.values():
        assert (row["licence_id"], row["licence_source"]) == ("CC-BY-4.0", "flag")
        assert (row["allows_commercial"], row["commons_compatible"]) == (1, 1)
        assert not _licence_reasons(row)
    assert rows["copyright.jpg"]["licence_text"] == "© 2024 Jane Doe"


@pytest.mark.parametrize("flag", [None, "CC-BY-4.0"])
def test_sources_that_disagree_leave_no_licence_and_are_flagged(archive, tmp_path, flag):
    rows = _ingest(archive, tmp_path, {
        "a.jpg": {"xmp": {"cc:license": "https://creativecommons.org/licenses/by/4.0/"},
                  "iptc": {"Copyright Notice": "© Jane Doe, CC BY-NC 4.0"}},
        "b.jpg": {"xmp": {"dc:rights": "CC BY-SA 4.0"}, "exif": {"Copyright": "CC BY-SA 3.0"}},
    }, licence=flag)
    for name, (one, two) in {"a.jpg": ("CC-BY-4.0", "CC-BY-NC-4.0"), "b.jpg": ("CC-BY-SA-4.0", "CC-BY-SA-3.0")}.items():
        row = rows[name]
        assert (row["licence_id"], row["licence_source"], row["needs_review"]) == (None, None, 1)
        assert row["allows_commercial"] is None and row["commons_compatible"] is None
        (reason,) = _licence_reasons(row)
        assert "disagree" in reason and one in reason and two in reason


def test_unreadable_licence_text_is_not_papered_over_by_the_flag(archive, tmp_path):
    rows = _ingest(archive, tmp_path, {
        "nc.jpg": {"xmp": {"dc:rights": "Jane Doe, CC BY-NC"}},
        "url.jpg": {"xmp": {"cc:license": "https://creativecommons.org/licenses/by-sa/"}},
        "es.jpg": {"xmp": {"xmpRights:WebStatement": "https://creativecommons.org/licenses/by/3.0/es/"}},
    }, licence="CC-BY-4.0")
    for row in rows.values():
        assert (row["licence_id"], row["licence_source"], row["needs_review"]) == (None, None, 1)
        assert row["allows_commercial"] is None
        (reason,) = _licence_reasons(row)
        assert "no exact licence" in reason
    assert rows["nc.jpg"]["licence_text"] == "Jane Doe, CC BY-NC"


def test_permission_columns_follow_licence_id(archive, tmp_path):
    db = archive[0]
    rows = _ingest(archive, tmp_path, {"a.jpg": {"xmp": {"cc:license": "https://creativecommons.org/licenses/by-nd/4.0/"}}},
                   licence=None)
    (photo_id,) = [r["id"] for r in rows.values()]
    cols = ("allows_commercial", "allows_adaptations", "share_alike", "commons_compatible")

    def current():
        return db.execute(f"SELECT {', '.join(cols)} FROM photos WHERE id = ?", [photo_id]).fetchone()

    assert current() == (1, 0, 0, 0)
    for lic in CATALOGUE:
        db.execute("UPDATE photos SET licence_id = ? WHERE id = ?", [lic.id, photo_id])
        expected = tuple(None if getattr(lic, c) is None else int(getattr(lic, c)) for c in cols)
        assert current() == expected, lic.id
    db.execute("UPDATE photos SET licence_id = NULL WHERE id = ?", [photo_id])
    assert current() == (None, None, None, None)


async def test_datasette_filters_commercial_use(archive, tmp_path):
    db_path = archive[2]
    rows = _ingest(archive, tmp_path, {
        "by.jpg": {"xmp": {"cc:license": "https://creativecommons.org/licenses/by/4.0/"}},
        "by-sa-de.jpg": {"iptc": {"Copyright Notice": "https://creativecommons.org/licenses/by-sa/3.0/de/"}},
        "cc0.jpg": {"exif": {"Copyright": "CC0 1.0 Universal"}},
        "nc.jpg": {"xmp": {"dc:rights": "CC BY-NC-SA 4.0"}},
        "nc-nd.jpg": {"exif": {"Copyright": "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0 International"}},
        "vague.jpg": {"xmp": {"dc:rights": "Creative Commons, some rights reserved"}},
        "disagree.jpg": {"xmp": {"dc:rights": "CC BY 4.0"}, "exif": {"Copyright": "CC BY-NC 4.0"}},
        "flag.jpg": {},
    }, licence="CC-BY-NC-ND-4.0")
    assert rows["flag.jpg"]["licence_id"] == "CC-BY-NC-ND-4.0"
    ds = Datasette([str(db_path)])
    response = await ds.client.get("/gallery/photos.json?allows_commercial=1&_shape=array")
    assert response.status_code == 200
    got = {r["original_filename"]: r["licence_id"] for r in response.json()}
    assert got == {"by.jpg": "CC-BY-4.0", "by-sa-de.jpg": "CC-BY-SA-3.0-DE", "cc0.jpg": "CC0-1.0"}
    response = await ds.client.get("/gallery/photos.json?commons_compatible=1&_shape=array")
    assert {r["original_filename"] for r in response.json()} == {"by.jpg", "by-sa-de.jpg", "cc0.jpg"}


@pytest.mark.parametrize("source, name, value", [
    ("xmp", "cc:license", "https://example.org/my-own-licence"),
    ("xmp", "xmpRights:WebStatement", "https://creativecommons.org/licenses/"),
])
def test_a_licence_link_that_names_no_exact_licence_is_never_papered_over(source, name, value):
    """A cc:license, or a Creative Commons web statement, that is not an exact licence is the
    photographer's statement all the same: no default replaces it, and the photo is flagged."""
    spdx, _, text, reasons = resolve_licence({source: {name: value}}, "CC-BY-4.0", "CC0-1.0")
    assert spdx is None and text == value and reasons
