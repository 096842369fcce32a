"""The web page at ``/`` and its bundle at ``/static/…`` (built in ``frontend/``).

Both need the token like every route. A browser cannot add the ``Authorization``
header to ``<script src>`` or ``<link href>``, so until the server sets a login
cookie the page is served with its bundle inlined: ``/?token=T`` answers one
HTML document holding the script (allowed by a per-response CSP nonce) and the
styles. The page then keeps the token in session storage and sends it on every
API request. ``/static/`` serves the same files (and the chart library's
licence and NOTICE) to any client that carries the token; names with a content
hash are cached for a year.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
from functools import lru_cache
from pathlib import Path

from algobt.server.handlers.base import ApiError, ApiHandler

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HASHED = re.compile(r"-[A-Z0-9]{8}\.(js|css)$")
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
    ".NOTICE": "text/plain; charset=utf-8",
}


@lru_cache(maxsize=4)
def _inlined(static_dir: str, stamp: float) -> tuple[str, str, str] | None:
    """(html before the script, the script, html after it); None when not built."""
    root = Path(static_dir)
    try:
        info = json.loads((root / "build-info.json").read_text("utf-8"))
        page = (root / "index.html").read_text("utf-8")
        script = (root / info["js"]).read_text("utf-8")
        styles = (root / info["css"]).read_text("utf-8")
    except (OSError, KeyError, ValueError):
        return None
    if "</script" in script.lower() or "</style" in styles.lower():
        return None  # cannot be inlined safely; never happens with esbuild's output
    link = f'<link rel="stylesheet" href="/static/{info["css"]}">'
    page = page.replace(link, f"<style>{styles}</style>")
    tag = f'<script type="module" src="/static/{info["js"]}"></script>'
    if tag not in page:
        return None
    before, after = page.split(tag, 1)
    return before, script, after


def page_html(nonce: str, static_dir: Path = STATIC_DIR) -> str | None:
    """The page with its bundle inlined and the script tagged with ``nonce``."""
    index = static_dir / "index.html"
    try:
        stamp = index.stat().st_mtime
    except OSError:
        return None
    parts = _inlined(str(static_dir), stamp)
    if parts is None:
        return None
    before, script, after = parts
    return f'{before}<script type="module" nonce="{nonce}">{script}</script>{after}'


class PageHandler(ApiHandler):
    """``/``: the page (``?strategy_id=N`` is read by the page itself)."""

    def set_default_headers(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")

    def get(self):
        nonce = secrets.token_urlsafe(16)
        html = page_html(nonce)
        if html is None:
            raise ApiError(
                404,
                "page_not_built",
                "the web page is not built into this installation: run `npm install && "
                "npm run build` in frontend/ (the API works without it; see /api/health/)",
            )
        self.set_header(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self' ws: wss:; img-src 'self' data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'",
        )
        self.finish(html)


class StaticHandler(ApiHandler):
    """``/static/<name>``: a file of the built bundle (no sub-folders, nothing else)."""

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")

    def get(self, name):
        path = STATIC_DIR / name
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            raise ApiError(404, "not_found", f"no such file: /static/{name}")
        suffix = path.suffix if path.suffix in TYPES else ""
        ctype = TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.set_header("Content-Type", ctype)
        if HASHED.search(name):
            self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        else:
            self.set_header("Cache-Control", "no-cache")
        self.finish(path.read_bytes())


default_handlers = [
    (r"/", PageHandler),
    (r"/static/([^/]+)", StaticHandler),
]
