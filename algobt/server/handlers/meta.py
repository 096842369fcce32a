"""``/api/symbols/``, ``/api/health/`` and ``/api/openapi.json`` (pages: ``pages.py``)."""

from __future__ import annotations

import time

from algobt import __version__
from algobt.engine.data import list_symbols
from algobt.server.handlers.base import ApiHandler

STARTED = time.time()


class SymbolsHandler(ApiHandler):
    def get(self):
        """Bundled demo symbols (and their intervals/ranges); any Yahoo ticker works too."""
        # Only the sources a request may use: files only when the server allows them.
        sources = ["demo", "yahoo", "file"] if self.jobs.allow_files else ["demo", "yahoo"]
        self.send({"symbols": list_symbols(), "sources": sources})


class HealthHandler(ApiHandler):
    def get(self):
        self.send(
            {
                "status": "ok",
                "version": __version__,
                "uptime_seconds": round(time.time() - STARTED, 3),
                "database": self.store.path,
                "running": self.jobs.active_runs(),
                "streams": len(self.jobs.streams),
            }
        )


class OpenApiHandler(ApiHandler):
    def get(self):
        from algobt.server.openapi import openapi_document

        self.send(openapi_document(self.application))


default_handlers = [
    (r"/api/symbols/", SymbolsHandler),
    (r"/api/health/", HealthHandler),
    (r"/api/openapi.json", OpenApiHandler),
]
