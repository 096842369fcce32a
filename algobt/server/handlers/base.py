"""``ApiHandler``: the one base of every REST handler.

It authenticates (token, Host), reads JSON bodies with a size limit, turns
our exceptions into ``{"error": {"code", "message", "field"}}`` with the
right status, and reaches the store and the job runner through
``self.settings`` — injected by ``make_app``, never module globals.
"""

from __future__ import annotations

import json
import logging
import math
from difflib import get_close_matches
from typing import Any

import orjson
import tornado.web

from algobt.errors import AlgobtError, ConfigError, ConflictError, NotFoundError
from algobt.server import auth

log = logging.getLogger("algobt.server")

STATUS_OF = {NotFoundError: 404, ConflictError: 409}


def json_default(value):
    """Encode what the stdlib cannot: numpy scalars, timestamps."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps(payload) -> str:
    """Strict JSON: NaN/inf become null (browsers reject NaN).

    orjson writes them as null by itself and is about seven times faster than json on
    a long stream's candles; what it cannot encode (an integer past 64 bits) goes the
    standard library's way, with the same cleaning.
    """
    try:
        return orjson.dumps(payload, default=json_default, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return json.dumps(payload, default=json_default, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(payload), default=json_default, allow_nan=False)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class AuthMixin:
    """Token, login cookie, Host and Origin checks shared by HTTP and WebSocket handlers
    (the rules are in ``algobt.server.auth``)."""

    authorized_by: str | None = None  # "token" (header or ?token=) or "cookie"

    def check_access(self) -> None:
        settings = self.settings
        request = self.request
        if not auth.host_allowed(request.headers.get("Host"), settings["allowed_hosts"]):
            raise tornado.web.HTTPError(403, reason="Host not allowed")
        token = auth.token_from_request(request, allow_query=request.method == "GET")
        if token is not None:
            if not auth.token_matches(token, settings["token"]):
                raise tornado.web.HTTPError(401, reason="Missing or wrong token")
            self.authorized_by = "token"
            return
        cookie = self.get_cookie(settings.get("cookie_name", auth.cookie_name(None)))
        if not auth.cookie_matches(cookie, settings["token"]):
            raise tornado.web.HTTPError(401, reason="Missing or wrong token")
        if request.method not in auth.SAFE_METHODS and not auth.origin_allowed(
            auth.request_origin(request), request, settings["allowed_origins"]
        ):
            # The browser attached the cookie; only this server's own pages may use it.
            raise tornado.web.HTTPError(403, reason="cross-site request refused")
        self.authorized_by = "cookie"


class ApiHandler(AuthMixin, tornado.web.RequestHandler):
    """JSON in, JSON out; errors as data; dependencies from ``self.settings``."""

    @property
    def store(self):
        return self.settings["store"]

    @property
    def jobs(self):
        return self.settings["jobs"]

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_cors_headers()

    def set_cors_headers(self) -> None:
        """CORS for the origins ``--allow-origin`` named (exact matches), none by default:
        a page served from another origin during development may then call the API with
        the token in its ``Authorization`` header."""
        origin = self.request.headers.get("Origin")
        if origin and origin in self.settings.get("cors_origins", ()):
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")

    def options(self, *args):
        """A CORS preflight: allowed origins get the methods and headers they may use,
        others a 403 that says how to allow one."""
        origin = self.request.headers.get("Origin")
        if not origin or origin not in self.settings.get("cors_origins", ()):
            raise ApiError(
                403,
                "forbidden",
                f"origin {origin!r} is not allowed to call this API from a browser; start the "
                "server with --allow-origin ORIGIN (exact, e.g. http://localhost:3000)",
                field="origin",
            )
        self.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.set_header("Access-Control-Max-Age", "600")
        self.send(None, status=204)

    def prepare(self):
        if self.request.method == "OPTIONS":
            return  # a preflight carries no token; ``options`` answers it
        self.check_access()
        self.check_query()
        length = self.request.headers.get("Content-Length")
        limit = self.settings["max_body_bytes"]
        if (length and length.isdigit() and int(length) > limit) or len(
            self.request.body or b""
        ) > limit:
            raise ApiError(413, "payload_too_large", f"request body is larger than {limit} bytes")

    def check_query(self) -> None:
        """Refuse a query parameter the endpoint does not take: a misspelled filter must
        not answer with everything. The names are the OpenAPI document's (plus ``token``)."""
        from algobt.server.openapi import query_names

        if not self.request.path.startswith("/api/"):
            return
        allowed = query_names(self.request.method, self.request.path)
        if allowed is None:
            return  # not an endpoint: the 404 says so
        for name in self.request.query_arguments:
            if name in allowed or name == "token":
                continue
            close = get_close_matches(name, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            takes = ", ".join(allowed) if allowed else "no query parameters"
            raise ConfigError(
                f"unknown query parameter {name!r}.{hint} "
                f"{self.request.method} {self.request.path} takes: {takes}",
                field=name,
            )

    # --- reading ---------------------------------------------------------------------------
    def get_json_body(self) -> dict:
        """The request body as a JSON object; 400 with a message if it is not one."""
        body = self.request.body or b""
        if not body.strip():
            return {}
        try:
            value = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "bad_json", "the body is nested too deeply") from None
        if not isinstance(value, dict):
            raise ApiError(400, "bad_json", "the body must be a JSON object")
        return value

    def page_args(self) -> tuple[int, int]:
        """``?page=&page_size=`` (defaults 1 and 50; page_size at most 1000)."""
        return (self.int_arg("page", 1, low=1), self.int_arg("page_size", 50, low=1, high=1000))

    def int_arg(self, name: str, default: int | None, *, low=None, high=None) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}", field=name) from None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{name} must be {bounds}, got {value}", field=name)
        return value

    def id_arg(self, *names: str) -> int | None:
        """An id filter that may be spelled several ways (``run`` or ``backtest_run``):
        the one given; two that disagree are a 400."""
        given = {n: v for n in names if (v := self.int_arg(n, None, low=1)) is not None}
        if len(set(given.values())) > 1:
            shown = ", ".join(f"{n}={v}" for n, v in given.items())
            raise ConfigError(f"{shown} disagree: give one of them", field=names[0])
        return next(iter(given.values()), None)

    def str_arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value or None

    # --- writing ---------------------------------------------------------------------------
    def send(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        if status == 204:
            self.clear_header("Content-Type")
            self.finish()
            return
        self.finish(dumps(payload))

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            code, message, field = exc.code, exc.message, exc.field
        elif isinstance(exc, tornado.web.HTTPError):
            code = {
                401: "unauthorized",
                403: "forbidden",
                404: "not_found",
                405: "method_not_allowed",
                413: "payload_too_large",
            }.get(status_code, "http_error")
            message, field = exc.reason or self._reason, None
        else:
            code, message, field = "internal_error", "internal server error", None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        error = {"code": code, "message": message}
        if field:
            error["field"] = field
        self.finish(dumps({"error": error}))

    def _handle_request_exception(self, e: BaseException) -> None:
        # Our exceptions become 4xx answers with the message and field, never a 500.
        if isinstance(e, AlgobtError) and not isinstance(e, ApiError):
            status = next(
                (s for cls, s in STATUS_OF.items() if isinstance(e, cls)),
                422 if not isinstance(e, ConfigError) else 400,
            )
            e = ApiError(status, e.code, e.message, field=e.field)
        if isinstance(e, ApiError):
            if self._finished:
                return
            self.send_error(e.status_code, exc_info=(type(e), e, e.__traceback__))
            return
        super()._handle_request_exception(e)


class ApiError(tornado.web.HTTPError):
    """An HTTP error with our JSON body: ``{"error": {"code", "message", "field"}}``."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None):
        super().__init__(status, reason=None)
        self.code, self.message, self.field = code, message, field


class NotFoundHandler(ApiHandler):
    """Any unknown path: a JSON 404 (after the token check, so it reveals nothing)."""

    def prepare(self):
        super().prepare()
        from algobt.server.openapi import OPERATIONS, query_names

        path = self.request.path
        message = f"no such endpoint: {path}"
        if not path.endswith("/"):
            if any(query_names(m, path + "/") is not None for m, _ in OPERATIONS):
                message += f"; did you mean {path}/ (with the trailing slash)?"
        raise ApiError(404, "not_found", message)
