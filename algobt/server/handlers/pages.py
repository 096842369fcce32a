"""Pages and their assets: ``PageHandler`` (the base of every HTML page, the status
page at ``/`` first) and ``StaticHandler`` for the files in ``algobt/server/static/``.

A page is where a browser logs in, as in Jupyter: the address the server prints
carries ``?token=``; a page loaded with it sets the login cookie and sends the
browser on to the same address without the token, so the token leaves the
address bar and never travels in a ``Referer``. From then on the page's own
requests, its assets and its WebSocket are authorized by the cookie (rules in
``algobt.server.auth``). Errors stay JSON, as the API's.

Assets are served with their content type and ``nosniff``; a file whose name
carries a content hash (``app.3f2a9c1b.js``) or a request with ``?v=`` is cached
for a year as immutable, anything else is revalidated on every use.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlencode

import tornado.web

from algobt import __version__
from algobt.server import auth
from algobt.server.handlers.base import ApiHandler, AuthMixin

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
LONG_CACHE = "private, max-age=31536000, immutable"  # private: the assets need the login
# A content hash in the name: lower-case hex (``app.3f2a9c1b.js``) or esbuild's
# upper-case base32 (``app-XLRG65JK.js``, what frontend/ builds).
_HASHED = re.compile(r"([.-][0-9a-f]{8,}|-[0-9A-Z]{8})\.[A-Za-z0-9]+$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".license": "text/plain; charset=utf-8",  # the bundled libraries' LICENSE and NOTICE
    ".notice": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
}
PAGE_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'self'"
)


class PageHandler(ApiHandler):
    """The base of every HTML page: HTML headers, and the login by ``?token=``."""

    def set_default_headers(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Security-Policy", PAGE_CSP)

    def prepare(self):
        super().prepare()
        if self.authorized_by == "token" and "token" in self.request.query_arguments:
            self.log_in()

    def log_in(self) -> None:
        """Set the login cookie and send the browser on to this address without the token."""
        self.set_cookie(
            self.settings["cookie_name"],
            auth.cookie_value(self.settings["token"]),
            **auth.cookie_options(secure=self.request.protocol == "https"),
        )
        rest = [
            (name, value.decode("utf-8", "replace"))
            for name, values in self.request.query_arguments.items()
            if name != "token"
            for value in values
        ]
        self.redirect(self.request.path + (f"?{urlencode(rest)}" if rest else ""))


class IndexHandler(PageHandler):
    """The page at ``/``: the web app built from ``frontend/`` (``static/index.html``;
    it reads ``?strategy_id=N`` itself), or a small status page in an installation
    whose bundle was not built."""

    def get(self):
        index = Path(self.settings["assets_path"]) / "index.html"
        try:
            self.finish(index.read_bytes())
        except OSError:
            self.finish(self._status_page())

    def _status_page(self) -> str:
        rows = "".join(
            f"<li><code>{html.escape(method)} {html.escape(path)}</code></li>"
            for path, method in self.settings["route_list"]
        )
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>algobt server</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto">
<h1>algobt {html.escape(__version__)}</h1>
<p>The web page is not built into this installation (run <code>npm install &amp;&amp;
npm run build</code> in <code>frontend/</code>). The server is running on database
<code>{html.escape(str(self.store.path))}</code>.
The API is described by <a href="/api/openapi.json">/api/openapi.json</a>
(send the token as <code>Authorization: token …</code>, or use this browser's login
cookie); the WebSocket stream is at <code>/ws/backtest/stream/</code>.</p>
<h2>Endpoints</h2><ul>{rows}</ul></body></html>"""


class StaticHandler(AuthMixin, tornado.web.StaticFileHandler):
    """Bundled assets, from ``settings["assets_path"]`` (``algobt/server/static/``)."""

    def initialize(self, path: str | None = None, default_filename: str | None = None):
        super().initialize(path or str(self.settings["assets_path"]), default_filename)

    def prepare(self):
        self.check_access()

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def get_content_type(self) -> str:
        suffix = Path(self.absolute_path or "").suffix.lower()
        return CONTENT_TYPES.get(suffix) or super().get_content_type()

    def set_extra_headers(self, path: str) -> None:
        versioned = _HASHED.search(Path(path).name) or self.get_query_argument("v", None)
        self.set_header("Cache-Control", LONG_CACHE if versioned else "no-cache")

    write_error = ApiHandler.write_error  # errors as JSON, like every other route


default_handlers = [
    (r"/", IndexHandler),
    (r"/static/(.*)", StaticHandler),
]
