"""ingest.web.limits wired into Datasette the way plugin.py's asgi_wrapper hook will wire it, for
tests only: `with limits_installed(): ...` registers this module with Datasette's plugin manager
and removes it afterwards (Datasette builds its app, and asks the hook, per test client)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from datasette import hookimpl
from datasette.plugins import pm

from ingest.web import limits


@hookimpl
def asgi_wrapper(datasette):
    return lambda app: limits.wrap(app, datasette)


@contextmanager
def limits_installed():
    module = sys.modules[__name__]
    pm.register(module, name="gallery-limits-test")
    try:
        yield
    finally:
        pm.unregister(module)
