"""Credit lines follow CC's TASL practice in text, HTML and Markdown."""

from __future__ import annotations

import pytest

from ingest.outputs.credit import credit, short_name
from ingest.reference.licences import catalogue

URLS = {lic.id: lic.url for lic in catalogue()}


@pytest.mark.parametrize("spdx,short", [
    ("CC-BY-SA-4.0", "CC BY-SA 4.0"), ("CC-BY-NC-ND-3.0", "CC BY-NC-ND 3.0"),
    ("CC-BY-SA-3.0-DE", "CC BY-SA 3.0 DE"), ("CC0-1.0", "CC0 1.0"), ("CC-PDM-1.0", "Public Domain Mark 1.0"),
])
def test_short_names(spdx, short):
    assert short_name(spdx) == short


def test_full_credit_line():
    c = credit(title="Ceasefire march", creator="Olena Kovalenko", licence_id="CC-BY-SA-4.0",
               licence_url=URLS["CC-BY-SA-4.0"], source_url="https://archive.example/gallery/photos/7",
               archive_name="Demonstration photo archive")
    assert c.text == ("“Ceasefire march” by Olena Kovalenko, from Demonstration photo archive, is licensed under "
                      "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). "
                      "Source: https://archive.example/gallery/photos/7")
    assert '<a rel="license" href="https://creativecommons.org/licenses/by-sa/4.0/">CC BY-SA 4.0</a>' in c.html
    assert c.html.startswith('<a href="https://archive.example/gallery/photos/7">“Ceasefire march”</a>')
    assert c.markdown == ("[“Ceasefire march”](https://archive.example/gallery/photos/7) by Olena Kovalenko, "
                          "from Demonstration photo archive, is licensed under "
                          "[CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/).")


def test_no_title_is_this_work_and_cc0_is_marked_with():
    c = credit(title=None, creator="Tomás Ferrer", licence_id="CC0-1.0", licence_url=URLS["CC0-1.0"],
               source_url=None, archive_name="Archive")
    assert c.text.startswith("This work by Tomás Ferrer, from Archive, is marked with CC0 1.0")
    pdm = credit(title="X", creator=None, licence_id="CC-PDM-1.0", licence_url=URLS["CC-PDM-1.0"], source_url=None,
                 archive_name="Archive")
    assert "is marked with Public Domain Mark 1.0" in pdm.text


def test_html_and_markdown_are_escaped():
    c = credit(title='<script>alert(1)</script>', creator="A & B", licence_id="CC-BY-4.0",
               licence_url=URLS["CC-BY-4.0"], source_url=None, archive_name="Archive")
    assert "<script>" not in c.html and "&lt;script&gt;" in c.html and "A &amp; B" in c.html
    assert "\\<script\\>" in c.markdown


def test_without_licence_says_so():
    c = credit(title="X", creator="Y", licence_id=None, licence_url=None, source_url=None, archive_name="A")
    assert "no licence stated" in c.text and "rel=\"license\"" not in c.html
