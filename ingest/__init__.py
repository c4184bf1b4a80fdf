"""Photo archive and Creative Commons gallery: ingest demonstration photos, publish them with Datasette."""

__version__ = "0.1.0"
