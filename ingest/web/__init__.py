"""The Datasette plugin that publishes the archive as a gallery.

The entry point names this package (not the module) so Datasette finds `static/` and `templates/`.
"""

from ingest.web.plugin import (  # noqa: F401
    asgi_wrapper,
    extra_css_urls,
    extra_js_urls,
    extra_template_vars,
    get_metadata,
    permission_allowed,
    prepare_jinja2_environment,
    register_routes,
    render_cell,
    startup,
)
