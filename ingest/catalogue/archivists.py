"""The accounts module's former name, kept so scripts that import it still work."""

from ingest.catalogue.accounts import accounts, add_archivist, list_archivists, remove_archivist  # noqa: F401
