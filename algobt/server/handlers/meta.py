"""``/api/symbols/``, ``/api/health/``, ``/api/openapi.json`` and the page at ``/``."""

from __future__ import annotations

import html
import time

from algobt import __version__
from algobt.engine.data import list_symbols
from algobt.server.handlers.base import ApiHandler

STARTED = time.time()


class SymbolsHandler(ApiHandler):
    def get(self):
        """Bundled demo symbols (and their intervals/ranges); any Yahoo ticker works too."""
        self.send({"symbols": list_symbols(), "sources": ["demo", "yahoo", "file"]})


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


class IndexHandler(ApiHandler):
    """The page at ``/``: the web app when it is bundled, else a small status page."""

    def set_default_headers(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self' ws: wss:; img-src 'self' data:",
        )

    def get(self):
        rows = "".join(
            f"<li><code>{html.escape(method)} {html.escape(path)}</code></li>"
            for path, method in self.settings["route_list"]
        )
        self.finish(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>algobt server</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto">
<h1>algobt {html.escape(__version__)}</h1>
<p>The server is running on database <code>{html.escape(str(self.store.path))}</code>.
The API is described by <a href="/api/openapi.json">/api/openapi.json</a>
(send the token as <code>Authorization: token …</code>); the WebSocket stream is at
<code>/ws/backtest/stream/</code>.</p>
<h2>Endpoints</h2><ul>{rows}</ul></body></html>""")


default_handlers = [
    (r"/api/symbols/", SymbolsHandler),
    (r"/api/health/", HealthHandler),
    (r"/api/openapi.json", OpenApiHandler),
    (r"/", IndexHandler),
]
