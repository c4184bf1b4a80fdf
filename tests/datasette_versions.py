"""What tests read differently from Datasette 0.65 and 1.0: JSON shapes and CSRF, not privacy.

Every privacy assertion stays the same on both; only how a test reaches Datasette's answer differs.
"""

from __future__ import annotations

from ingest.web.permissions import DATASETTE_1

__all__ = ["DATASETTE_1", "csrf_cookies", "cross_site", "databases_list", "index_databases", "facet_results", "COUNT", "FACETS", "row_count",
           "sql_path"]


def csrf_cookies(response) -> dict:
    """0.65's CSRF cookie from a page with a form (1.0 checks the browser's headers, not a cookie)."""
    token = response.cookies.get("ds_csrftoken")
    return {"ds_csrftoken": token} if token else {}


# What a browser adds to a POST another site's page makes: 1.0 refuses it by these headers alone.
cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}


def facet_results(data: dict) -> dict:
    """A table's JSON facets by name (1.0 nests them under "results")."""
    results = data["facet_results"]
    return results["results"] if DATASETTE_1 else results


COUNT = "_extra=count"  # 1.0 counts a table's rows only when asked; 0.65 ignores the argument
FACETS = "_extra=facet_results"  # 1.0 shows a table's configured facets in JSON only when asked


def row_count(data: dict) -> int:
    """The filtered table's row count (ask with COUNT on 1.0)."""
    return data["count"] if DATASETTE_1 else data["filtered_table_rows_count"]


def sql_path(database: str, fmt: str = "") -> str:
    """Where arbitrary SQL is run: /db.json?sql= on 0.65, /db/-/query.json?sql= on 1.0 (the old
    form redirects there)."""
    return f"/{database}/-/query{fmt}" if DATASETTE_1 else f"/{database}{fmt}"


def databases_list(data) -> list[dict]:
    """/-/databases.json's entries (1.0a36 wraps them in {"databases": [...]})."""
    return data["databases"] if isinstance(data, dict) else data


def index_databases(data: dict) -> dict[str, dict]:
    """The home page's JSON (/.json), database name -> its entry: 0.65 keys the top level by name,
    1.0 nests them under "databases" (by name up to 1.0a35, as a list from 1.0a36)."""
    if not DATASETTE_1:
        return data
    inner = data["databases"]
    return {d["name"]: d for d in inner} if isinstance(inner, list) else inner
