"""Datasette's column facets, counted once per public-copy version on the gallery's own tables.

Page 1 of /gallery/photos counts 7 facets over ~100,000 photos (96 of its 106 ms of SQL at 100,000
photos, bench/gallery.py); a filtered grid or a search counts them over its matches. The counts
only change with the public copy, so the facet class Datasette uses for columns is swapped for
this subclass (plugin.register_facet_classes, a hook wrapper), which remembers each page's facets
by the copy's version (cache.py) and the request (its toggle links come from it). Anywhere else
(another database, the catalogue, a run that timed out) it is Datasette's ColumnFacet unchanged.
"""

from __future__ import annotations

from datasette.facets import ColumnFacet

from ingest.web import serving
from ingest.web.cache import cached


class CachedColumnFacet(ColumnFacet):
    async def facet_results(self):
        if self.database not in serving.public_names(self.ds) or not self.get_configs():
            return await super().facet_results()
        db = self.ds.databases[self.database]
        request = self.request
        key = ("facets", self.table, self.sql, repr(self.params), request.path, request.query_string,
               request.headers.get("host", ""), request.scheme)
        return await cached(self.ds, db, key, super().facet_results, keep=lambda found: not found[1])


def swap(classes: list) -> list:
    """The facet classes with Datasette's ColumnFacet replaced by the cached one."""
    return [CachedColumnFacet if c is ColumnFacet else c for c in classes]
