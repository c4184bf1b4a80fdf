"""The city of a photo, through real files and a real catalogue: GPS (offline gazetteer), names
written in XMP/IPTC (aliases resolved to one row), a known city in a folder name, --city.

Every photo here is a real image written with real EXIF/XMP/IPTC and imported by run_ingest; the
assertions read the `photos`, `cities` and `city_aliases` rows.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fixtures.synth import make_photo

from ingest.catalogue.registry import upsert_demo
from ingest.catalogue.schema import connect
from ingest.importer.pipeline import run_ingest
from ingest.importer.resolve import Options
from ingest.media.store import Store
from ingest.reference.places import gazetteer
from ingest.text import key

_seeds = itertools.count(1000)


def photo(path: Path, *, exif=None, xmp=None, iptc=None, iptc_utf8: bool = True) -> Path:
    """A small real JPEG with the given metadata; every file gets its own pixels (no duplicates)."""
    return make_photo(path, width=64, height=48, seed=next(_seeds), exif=exif, xmp=xmp, iptc=iptc,
                      iptc_utf8=iptc_utf8)


def gps(lat: float, lon: float, when: str = "2024:06:08 14:00:00") -> dict:
    return {"DateTimeOriginal": when, "GPSLatitude": lat, "GPSLongitude": lon}


def row(db, filename: str) -> dict:
    rows = list(db.query(
        """SELECT p.*, c.name AS city, c.country_code AS country
           FROM photos p LEFT JOIN cities c ON c.id = p.city_id
           WHERE p.original_filename = ?""", [filename]))
    assert len(rows) == 1, (filename, rows)
    return rows[0]


def new_archive(base: Path):
    base.mkdir(parents=True, exist_ok=True)
    return connect(base / "gallery.db"), Store(base / "archive")


# ---- GPS -> the municipality, in current English ------------------------------------------------

PLACES = {
    # file stem: (lat, lon, city, country)
    "whitehall": (51.5045, -0.1263, "London", "GB"),
    "hyde-park-corner": (51.5027, -0.1527, "London", "GB"),
    "chelsea": (51.4875, -0.1687, "London", "GB"),
    "placa-de-catalunya": (41.3870, 2.1701, "Barcelona", "ES"),
    "maidan": (50.4501, 30.5234, "Kyiv", "UA"),
    "kharkiv-centre": (49.9935, 36.2304, "Kharkiv", "UA"),
    "odesa-centre": (46.4825, 30.7233, "Odesa", "UA"),
    "lviv-centre": (49.8419, 24.0315, "Lviv", "UA"),
    "plaza-de-mayo": (-34.6037, -58.3816, "Buenos Aires", "AR"),      # south and west
    "sydney-town-hall": (-33.8688, 151.2093, "Sydney", "AU"),          # south and east
    "city-hall-park": (40.7128, -74.0060, "New York", "US"),      # north and west
    "watford-centre": (51.6565, -0.3903, "Watford", "GB"),            # near London, not London
    "odeonsplatz": (48.1424, 11.5775, "Munich", "DE"),
}


@pytest.fixture(scope="module")
def gps_archive(tmp_path_factory):
    """One archive holding a photo per place (plus one with GPS 0/0), imported in one run."""
    base = tmp_path_factory.mktemp("gps")
    card = base / "card" / "DCIM" / "100GPS"
    for stem, (lat, lon, *_) in PLACES.items():
        photo(card / f"{stem}.jpg", exif=gps(lat, lon))
    photo(card / "no-fix.jpg", exif=gps(0.0, 0.0))
    db, store = new_archive(base / "cat")
    summary = run_ingest(db, store, [str(card)])
    assert (summary.imported, summary.problems) == (len(PLACES) + 1, 0)
    yield db
    db.conn.close()


@pytest.mark.parametrize("stem", list(PLACES))
def test_city_from_gps(gps_archive, stem):
    lat, lon, city, country = PLACES[stem]
    r = row(gps_archive, f"{stem}.jpg")
    assert (r["city"], r["country"], r["city_source"]) == (city, country, "gps")
    assert r["latitude"] == pytest.approx(lat, abs=1e-5) and r["longitude"] == pytest.approx(lon, abs=1e-5)
    assert r["location_source"] == "gps"
    assert "no city" not in (r["review_reason"] or "")


def test_districts_and_old_spellings_never_become_cities(gps_archive):
    names = {r[0] for r in gps_archive.execute("SELECT name FROM cities")}
    assert names == {c for *_, c, _ in PLACES.values()}
    for wrong in ("Westminster", "City of Westminster", "Chelsea", "Kiev", "Kharkov", "Odessa", "Lvov"):
        assert wrong not in names
    # one row for London although three photos found it from three different points
    assert gps_archive.execute("SELECT count(*) FROM cities WHERE name = 'London'").fetchone()[0] == 1
    london = gps_archive.execute("SELECT id FROM cities WHERE name = 'London'").fetchone()[0]
    n = gps_archive.execute("SELECT count(*) FROM photos WHERE city_id = ?", [london]).fetchone()[0]
    assert n == 3


def test_gps_zero_zero_is_no_gps(gps_archive):
    r = row(gps_archive, "no-fix.jpg")
    assert (r["latitude"], r["longitude"], r["location_source"]) == (None, None, None)
    assert (r["city_id"], r["city_source"]) == (None, None)
    assert r["needs_review"] == 1 and "no city" in r["review_reason"]


# Issue 15: four of 25 real GPS positions got a wrong city, and a town under 15,000 got none.
JOURNALISTS_NAME = [
    # (where, lat, lon, the city a journalist names)
    ("Belém, a parish of Lisbon", 38.6975, -9.2063, "Lisbon"),
    ("Brooklyn", 40.6782, -73.9442, "New York"),
    ("Petržalka, a borough of Bratislava", 48.1235, 17.1107, "Bratislava"),
    ("Ixelles", 50.8275, 4.3697, "Brussels"),
    ("La Défense", 48.8918, 2.2380, "Puteaux (La Défense, next to Paris)"),
    ("the Las Vegas Strip, in unincorporated Paradise", 36.1147, -115.1728, "Las Vegas"),
    ("Felling, in Gateshead", 54.9530, -1.5715, "Gateshead"),
    ("Big Rapids, MI (10,000 people)", 43.6981, -85.4837, "Big Rapids"),
    ("Watford, a town of its own by London", 51.6565, -0.3903, "Watford"),
]


@pytest.mark.parametrize("where, lat, lon, city", JOURNALISTS_NAME, ids=[j[0] for j in JOURNALISTS_NAME])
def test_the_city_journalists_name(where, lat, lon, city):
    place = gazetteer().locate(lat, lon)
    assert place is not None and place.certain
    assert place.city.name == city


def test_small_town_from_a_real_file_and_by_name(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    card = tmp_path / "card"
    photo(card / "rally.jpg", exif=gps(43.6975, -85.4840))
    photo(card / "named.jpg", iptc={"City": "Big Rapids", "Country Code": "US", "Date Created": "20240518"})
    summary = run_ingest(db, store, [str(card)])
    assert (summary.imported, summary.problems) == (2, 0)
    for name in ("rally.jpg", "named.jpg"):
        r = row(db, name)
        assert (r["city"], r["country"]) == ("Big Rapids", "US")
        assert "no city" not in (r["review_reason"] or "") and "not in the gazetteer" not in (r["review_reason"] or "")
    db.conn.close()


def test_gazetteer_directly():
    """The same rules at the gazetteer's own level (locate and lookup)."""
    g = gazetteer()
    assert g.locate(51.5027, -0.1527).city.name == "London"
    assert g.locate(51.6565, -0.3903).city.name == "Watford"
    assert g.locate(0.0, -30.0) is None                      # mid-Atlantic: nothing within reach
    assert g.lookup("Kiev").name == "Kyiv"
    assert g.lookup("München").name == "Munich"
    assert g.lookup("Bruxelles").name == "Brussels"
    assert g.lookup("Київ").name == "Kyiv"


# ---- names in XMP / IPTC: aliases resolve to one row each ----------------------------------------

ALIASES = [
    # (file stem, where the name is written, name, city it must resolve to)
    ("kiev-iptc", "iptc", "Kiev", "Kyiv"),
    ("kyiv-xmp", "xmp", "Kyiv", "Kyiv"),
    ("kyiv-cyrillic-iptc", "iptc", "Київ", "Kyiv"),
    ("muenchen-xmp", "xmp", "München", "Munich"),
    ("munich-iptc", "iptc", "Munich", "Munich"),
    ("muenchen-latin1-iptc", "iptc-latin1", "München", "Munich"),
    ("bruxelles-xmp", "xmp", "Bruxelles", "Brussels"),
    ("brussels-iptc", "iptc", "Brussels", "Brussels"),
]


@pytest.fixture(scope="module")
def alias_archive(tmp_path_factory):
    base = tmp_path_factory.mktemp("aliases")
    press = base / "press" / "desk" / "out"
    for stem, where, name, _ in ALIASES:
        if where == "xmp":
            photo(press / f"{stem}.jpg", xmp={"photoshop:City": name, "photoshop:DateCreated": "2024-05-18T14:00:00"})
        else:
            photo(press / f"{stem}.jpg", iptc={"City": name, "Date Created": "20240518", "Time Created": "140000"},
                  iptc_utf8=(where == "iptc"))
    db, store = new_archive(base / "cat")
    summary = run_ingest(db, store, [str(press)])
    assert (summary.imported, summary.problems) == (len(ALIASES), 0)
    yield db, press
    db.conn.close()


@pytest.mark.parametrize("stem,where,name,city", ALIASES, ids=[a[0] for a in ALIASES])
def test_city_from_name_resolves_aliases(alias_archive, stem, where, name, city):
    db, _ = alias_archive
    r = row(db, f"{stem}.jpg")
    assert r["city"] == city
    assert r["city_source"] == ("xmp" if where == "xmp" else "iptc")
    assert "gazetteer" not in (r["review_reason"] or "")


def test_one_cities_row_per_city_with_its_aliases(alias_archive):
    db, _ = alias_archive
    cities = {name: cid for cid, name in db.execute("SELECT id, name FROM cities")}
    assert sorted(cities) == ["Brussels", "Kyiv", "Munich"]
    aliases = dict(db.execute("SELECT alias, city_id FROM city_aliases"))
    for _, _, name, city in ALIASES:
        assert aliases.get(key(name)) == cities[city], (name, city)
    for alias in ("Kiev", "Kyiv", "Київ"):
        assert aliases[key(alias)] == cities["Kyiv"]
    for alias in ("München", "Munich"):
        assert aliases[key(alias)] == cities["Munich"]
    for alias in ("Bruxelles", "Brussels"):
        assert aliases[key(alias)] == cities["Brussels"]
    per_city = dict(db.execute("SELECT c.name, count(*) FROM photos p JOIN cities c ON c.id = p.city_id GROUP BY c.name"))
    assert per_city == {"Kyiv": 3, "Munich": 3, "Brussels": 2}


def test_iptc_city_in_latin1(alias_archive):
    db, press = alias_archive
    raw = (press / "muenchen-latin1-iptc.jpg").read_bytes()
    assert b"M\xfcnchen" in raw and "München".encode("utf-8") not in raw   # really Latin-1 on disk
    r = row(db, "muenchen-latin1-iptc.jpg")
    assert (r["city"], r["country"], r["city_source"]) == ("Munich", "DE", "iptc")


def test_registry_alias_and_gps_share_one_row(tmp_path):
    """A registry entry written "Kiev" and a photo found at Maidan by GPS are the same city."""
    db, store = new_archive(tmp_path / "cat")
    upsert_demo(db, {"name": "Kyiv rally", "city": "Kiev", "date": "2024-08-24"})
    photo(tmp_path / "card" / "DCIM" / "100GPS" / "maidan.jpg",
          exif=gps(50.4501, 30.5234, "2024:08:24 12:00:00"))
    run_ingest(db, store, [str(tmp_path / "card")])
    assert [r[0] for r in db.execute("SELECT name FROM cities")] == ["Kyiv"]
    r = row(db, "maidan.jpg")
    assert r["city"] == "Kyiv" and r["demonstration_source"] == "registry"


def test_iptc_three_letter_country_code_pins_the_city(tmp_path):
    """IPTC-IIM writes ISO 3166 alpha-3: LBY is Libya, not LB (Lebanon), which has a Tripoli too."""
    db, store = new_archive(tmp_path / "cat")
    photo(tmp_path / "press" / "desk" / "out" / "tripoli.jpg",
          iptc={"City": "Tripoli", "Country/Primary Location Code": "LBY", "Country/Primary Location Name": "Libya"})
    photo(tmp_path / "press" / "desk" / "out" / "tripoli-lb.jpg",
          iptc={"City": "Tripoli", "Country/Primary Location Code": "LBN"})
    run_ingest(db, store, [str(tmp_path / "press")])
    assert (row(db, "tripoli.jpg")["city"], row(db, "tripoli.jpg")["country"]) == ("Tripoli", "LY")
    assert (row(db, "tripoli-lb.jpg")["city"], row(db, "tripoli-lb.jpg")["country"]) == ("Tripoli", "LB")


def test_same_name_in_two_countries_are_two_cities(tmp_path):
    """London, Ontario is not London: GPS finds the city's own row (by GeoNames id), not one of the same name."""
    db, store = new_archive(tmp_path / "cat")
    photo(tmp_path / "a" / "card" / "one" / "uk.jpg", exif=gps(51.5045, -0.1263))
    run_ingest(db, store, [str(tmp_path / "a")])
    photo(tmp_path / "b" / "card" / "two" / "ontario.jpg", exif=gps(42.9849, -81.2453))
    run_ingest(db, store, [str(tmp_path / "b")])
    assert (row(db, "uk.jpg")["country"], row(db, "ontario.jpg")["country"]) == ("GB", "CA")
    assert row(db, "uk.jpg")["city_id"] != row(db, "ontario.jpg")["city_id"]


def test_same_name_in_one_country_does_not_abort_the_run(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    photo(tmp_path / "a" / "card" / "one" / "wales.jpg", exif=gps(51.5877, -2.9984))
    run_ingest(db, store, [str(tmp_path / "a")])
    photo(tmp_path / "b" / "card" / "two" / "isle-of-wight.jpg", exif=gps(50.7015, -1.2912))
    summary = run_ingest(db, store, [str(tmp_path / "b")])
    assert (summary.imported, summary.problems) == (1, 0)
    wales, wight = row(db, "wales.jpg"), row(db, "isle-of-wight.jpg")
    assert wales["city_id"] != wight["city_id"]
    assert wight["latitude"] == pytest.approx(50.7015, abs=1e-4)


# ---- a known city named in a folder ---------------------------------------------------------------

def test_folder_city_unknown_to_the_archive_is_not_used(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    folder = tmp_path / "shared" / "2024-06-08 London march"
    photo(folder / "banner-01.jpg")
    run_ingest(db, store, [str(tmp_path / "shared")])
    r = row(db, "banner-01.jpg")
    assert (r["date"], r["date_source"]) == ("2024-06-08", "folder-name")
    assert (r["city_id"], r["city_source"]) == (None, None)
    assert "no city" in r["review_reason"]
    assert db.execute("SELECT count(*) FROM cities").fetchone()[0] == 0


def test_folder_city_known_from_earlier_photos(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    photo(tmp_path / "card" / "DCIM" / "100GPS" / "whitehall.jpg", exif=gps(51.5045, -0.1263, "2024:03:30 13:00:00"))
    run_ingest(db, store, [str(tmp_path / "card")])
    folder = tmp_path / "shared" / "2024-06-08 London march"
    photo(folder / "banner-01.jpg")
    photo(folder / "crowd.jpg")
    run_ingest(db, store, [str(tmp_path / "shared")])
    for name in ("banner-01.jpg", "crowd.jpg"):
        r = row(db, name)
        assert (r["city"], r["city_source"], r["date"]) == ("London", "folder-name", "2024-06-08")
    assert db.execute("SELECT count(*) FROM cities").fetchone()[0] == 1


def test_folder_city_known_from_the_registry(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    upsert_demo(db, {"name": "Something else", "city": "London", "date": "2023-01-01"})
    photo(tmp_path / "shared" / "2024-06-08 London march" / "banner-02.jpg")
    run_ingest(db, store, [str(tmp_path / "shared")])
    r = row(db, "banner-02.jpg")
    assert (r["city"], r["city_source"]) == ("London", "folder-name")


def test_folder_naming_an_unknown_city_never_gives_that_city(tmp_path):
    """ "Gaza ceasefire march" is a cause, not a place: Gaza is not a city the archive knows."""
    db, store = new_archive(tmp_path / "cat")
    photo(tmp_path / "card" / "DCIM" / "100GPS" / "whitehall.jpg", exif=gps(51.5045, -0.1263, "2024:03:30 13:00:00"))
    run_ingest(db, store, [str(tmp_path / "card")])
    photo(tmp_path / "shared" / "2024-11-02 Gaza ceasefire march" / "placard.jpg")
    photo(tmp_path / "shared" / "2024-11-02 Gaza ceasefire march London" / "crowd.jpg")
    photo(tmp_path / "shared" / "Gaza ceasefire march" / "gps-london.jpg",
          exif=gps(51.5027, -0.1527, "2024:11:02 14:00:00"))
    run_ingest(db, store, [str(tmp_path / "shared")])
    placard, crowd, located = row(db, "placard.jpg"), row(db, "crowd.jpg"), row(db, "gps-london.jpg")
    assert (placard["city_id"], placard["city_source"]) == (None, None)
    assert (crowd["city"], crowd["city_source"]) == ("London", "folder-name")
    assert (located["city"], located["city_source"]) == ("London", "gps")
    assert "Gaza" not in {r[0] for r in db.execute("SELECT name FROM cities")}


# ---- --city forces ----------------------------------------------------------------------------

def test_forced_city_wins_and_a_disagreeing_gps_is_flagged(tmp_path):
    db, store = new_archive(tmp_path / "cat")
    card = tmp_path / "card" / "DCIM" / "100GPS"
    photo(card / "gps-london.jpg", exif=gps(51.5045, -0.1263))
    photo(card / "gps-munich.jpg", exif=gps(48.1424, 11.5775))
    photo(card / "xmp-paris.jpg", xmp={"photoshop:City": "Paris"})
    photo(card / "nothing.jpg")
    run_ingest(db, store, [str(tmp_path / "card")], Options(city="München"))
    for name in ("gps-london.jpg", "gps-munich.jpg", "xmp-paris.jpg", "nothing.jpg"):
        r = row(db, name)
        assert (r["city"], r["city_source"]) == ("Munich", "flag"), name
    assert "--city says Munich but GPS says London" in row(db, "gps-london.jpg")["review_reason"]
    assert "GPS says" not in (row(db, "gps-munich.jpg")["review_reason"] or "")
    assert "GPS says" not in (row(db, "nothing.jpg")["review_reason"] or "")
    assert [r[0] for r in db.execute("SELECT name FROM cities")] == ["Munich"]


def test_gazetteer_cache_holds_what_the_json_says(tmp_path, monkeypatch):
    """The compact copy (issue 17: ~0.05 s to load instead of ~0.5 s of JSON) gives the same
    places and names as GeoNames' JSON parsed afresh; a broken or unwritable cache only costs time."""
    from ingest.reference import places

    monkeypatch.setenv("INGEST_CACHE", str(tmp_path / "cache"))
    cells, order, names = places._load("cities15000")            # parsed, and written
    written = sorted(p.suffix for p in (tmp_path / "cache").iterdir())
    assert written == [".cells", ".names"]
    again, again_order, again_names = places._load("cities15000")  # read back
    assert (again, again_order, again_names()) == (cells, order, names())
    fresh = places.Gazetteer(cells, order, alternates=names)
    cached = places.Gazetteer(again, again_order, alternates=again_names)
    for lat, lon in [(51.5033, -0.1276), (48.1422, 11.5776), (38.6979, -9.2065), (36.1147, -115.1728), (0.0, 0.0)]:
        assert cached.locate(lat, lon) == fresh.locate(lat, lon)
    assert len(cached._grid) < 200   # only the cells near those points were made into cities
    for name, country in [("München", None), ("Kiev", "UA"), ("Київ", None), ("London", "CA")]:
        assert cached.lookup(name, country) == fresh.lookup(name, country)

    next((tmp_path / "cache").glob("*.cells")).write_bytes(b"not marshal")
    assert places._load("cities15000")[0] == cells
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("INGEST_CACHE", str(blocked / "cache"))   # a folder that cannot be made
    assert places._load("cities15000")[0] == cells
