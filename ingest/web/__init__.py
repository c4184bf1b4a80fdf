"""The Datasette plugin that publishes the archive as a gallery.

The entry point names this package (not the module) so Datasette finds `static/` and `templates/`.
"""

from .plugin import extra_css_urls, permission_allowed, register_routes, render_cell  # noqa: F401
