"""The Datasette plugin that publishes the archive as a gallery.

The entry point names this package (not the module) so Datasette finds `static/` and `templates/`.
Its hooks are plugin.py's: those the installed Datasette knows (0.65 and 1.0 differ), see HOOKS.
"""

from ingest.web import plugin as _plugin

globals().update({name: getattr(_plugin, name) for name in _plugin.HOOKS})
__all__ = list(_plugin.HOOKS)
