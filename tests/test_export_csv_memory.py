"""`ingest export-csv` streams: its peak memory does not grow with the number of photos (rows go from
the cursor to the file one by one). Measured with tracemalloc on a real catalogue of synthetic rows."""

from __future__ import annotations

import hashlib
import io
import json
import tracemalloc

from ingest.catalogue.csv_roundtrip import HEADER, export_csv


def add_photos(db, first: int, count: int) -> None:
    """`count` photos with every editable field filled, through the catalogue's triggers."""
    city = db.conn.execute("INSERT INTO cities (name, country_code, slug) VALUES ('Lyon', 'FR', 'lyon-fr') "
                           "ON CONFLICT DO NOTHING RETURNING id").fetchone()
    city_id = city[0] if city else db.execute("SELECT id FROM cities WHERE slug = 'lyon-fr'").fetchone()[0]
    rows = [(hashlib.sha256(f"csv-{i}".encode()).hexdigest(), f"IMG_{i:05d}.JPG", f"Banner number {i}",
             f"A long caption for photo {i}, " * 4, "Zoë Müller", json.dumps(["climate", f"k{i}"]), city_id,
             "2024-05-18T14:00:00+02:00", "2024-05-18", "CC-BY-4.0", "2024-05-18", "2024-05-18")
            for i in range(first, first + count)]
    db.conn.execute("BEGIN")
    db.conn.executemany("INSERT INTO photos (sha256, original_filename, title, caption, creator, keywords, city_id, "
                        "taken_at, date, licence_id, imported_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.conn.execute("COMMIT")


class Sink(io.TextIOBase):
    """A file that forgets what it is given (so that only the export's own memory is measured)."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def peak_of_export(db) -> tuple[int, int]:
    sink = Sink()
    tracemalloc.start()
    try:
        count = export_csv(db, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.lines == count + 1   # the header and one line a photo
    return count, peak


def test_export_csv_peak_memory_does_not_grow_with_rows(archive):
    db = archive[0]
    add_photos(db, 0, 500)
    small, small_peak = peak_of_export(db)
    add_photos(db, 500, 4500)
    large, large_peak = peak_of_export(db)
    assert (small, large) == (500, 5000)
    # Ten times the rows: the peak stays within a fixed allowance (a list of rows would add ~MBs).
    assert large_peak < small_peak * 1.5 + 64 * 1024, (small_peak, large_peak)


def test_export_csv_header_is_the_contract(archive):
    db = archive[0]
    add_photos(db, 0, 3)
    out = io.StringIO()
    assert export_csv(db, out) == 3
    assert out.getvalue().splitlines()[0] == ",".join(HEADER)
