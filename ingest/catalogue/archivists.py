"""The accounts module's former name, kept so scripts that import it still work."""

from ingest.catalogue.accounts import (  # noqa: F401
    accounts,
    add_archivist,
    disable_archivist,
    list_archivists,
    remove_archivist,
)
