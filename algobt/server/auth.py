"""Who may talk to the server: token, login cookie, Host and Origin checks, as Jupyter
Server does them.

* Every request needs the server's token: ``Authorization: token <t>``, or
  ``?token=<t>`` on a GET (the first page load, a WebSocket handshake — browsers
  cannot set headers there), or the login cookie. Compared in constant time.
* A page loaded with ``?token=`` sets the login cookie (HttpOnly, SameSite=Strict,
  Secure over https, named after the port so two servers on one host do not clash)
  and is sent on to its own address without the token; the page's own requests and
  its WebSocket then carry the cookie. The cookie holds an HMAC of the token, never
  the token, and stops working when the token changes.
* A request that only the cookie authorizes and that changes state (anything but
  GET/HEAD/OPTIONS) must come from this server's own origin (``Origin``, else
  ``Referer``): a cross-site form or script is refused with 403 even though the
  browser attached the cookie. SameSite=Strict already keeps the cookie off
  cross-site requests; this is the second lock.
* The Host header must name this machine (DNS-rebinding defence) unless the
  server was told which other names it answers to.
* A WebSocket's Origin, when sent, must match an allowed origin exactly.
* The token never reaches a log line: ``log_request`` strips it from URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&]*")

access_log = logging.getLogger("algobt.server.access")


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; ``None`` never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def token_from_request(request, *, allow_query: bool) -> str | None:
    """The token a request carries, from the Authorization header or (GET only) ``?token=``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    if allow_query:
        values = request.query_arguments.get("token")
        if values:
            return values[-1].decode("utf-8", "replace")
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE_MAX_AGE_DAYS = 30


def cookie_name(port: int | None) -> str:
    """The login cookie's name: one per port, as cookies ignore ports."""
    return f"algobt-login-{port}" if port else "algobt-login"


def cookie_value(token: str) -> str:
    """What the login cookie holds: an HMAC of the token (the token itself never)."""
    return hmac.new(token.encode(), b"algobt login cookie v1", hashlib.sha256).hexdigest()


def cookie_matches(given: str | None, token: str) -> bool:
    """Constant-time check of a login cookie against the server's token."""
    return token_matches(given, cookie_value(token)) if token else False


def cookie_options(*, secure: bool) -> dict:
    """Attributes of the login cookie (``set_cookie`` keywords)."""
    return {
        "httponly": True,
        "samesite": "Strict",
        "secure": secure,
        "path": "/",
        "expires_days": COOKIE_MAX_AGE_DAYS,
    }


def request_origin(request) -> str | None:
    """Where a browser says a request comes from: ``Origin``, else ``Referer``'s origin."""
    origin = request.headers.get("Origin")
    if origin:
        return origin
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def origin_allowed(origin: str | None, request, allowed: frozenset[str]) -> bool:
    """An exact match with an allowed origin or with the request's own scheme and Host."""
    if not origin:
        return False
    own = f"{request.protocol}://{request.host}"
    return origin in allowed or origin.lower() == own.lower()


def host_name(host_header: str) -> str:
    """``"127.0.0.1:8888"`` → ``"127.0.0.1"``; ``"[::1]:80"`` → ``"::1"``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str | None, allowed: frozenset[str]) -> bool:
    if not host_header:
        return False
    return host_name(host_header) in allowed


def redact(uri: str) -> str:
    """A URI with any ``token=`` value replaced, fit for a log line."""
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", uri)


def log_request(handler) -> None:
    """Tornado ``log_function``: the usual access line, without the token."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    took = 1000.0 * handler.request.request_time()
    access_log.log(
        level,
        "%d %s %s %.1fms",
        status,
        handler.request.method,
        redact(handler.request.uri or ""),
        took,
    )
