"""Who may talk to the server: token, Host and Origin checks, as Jupyter Server does them.

* Every request needs the server's token: ``Authorization: token <t>``, or
  ``?token=<t>`` on a GET (the first page load, a WebSocket handshake — browsers
  cannot set headers there). Compared in constant time.
* The Host header must name this machine (DNS-rebinding defence) unless the
  server was told which other names it answers to.
* A WebSocket's Origin, when sent, must match an allowed origin exactly.
* The token never reaches a log line: ``log_request`` strips it from URLs.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets

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
