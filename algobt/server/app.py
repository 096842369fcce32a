"""Wiring: ``make_app`` builds the Tornado application; ``Server`` runs it anywhere.

    >>> import algobt
    >>> server = algobt.serve()          # in a notebook: returns at once    # doctest: +SKIP
    >>> server.url                        # with its token                    # doctest: +SKIP
    >>> server.stop()                                                         # doctest: +SKIP

The same ``Application`` serves the CLI (``algobt serve``) and a running
Jupyter kernel: inside a running asyncio loop it is started on that loop and
never blocks the kernel; elsewhere it runs on a loop of its own in a thread.

Safe by default: binds 127.0.0.1; a non-loopback address needs
``allow_remote=True`` (a warning is logged) and a token; every route needs the
token (or the login cookie a page load with ``?token=`` sets, see ``auth``); Host
and Origin are checked; bodies and frames are size-limited. The REST API is
described in ``docs/api.md``, the WebSocket in ``docs/websocket.md``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

import tornado.httpserver
import tornado.netutil
import tornado.web

from algobt.errors import ConfigError
from algobt.server import auth
from algobt.server.handlers import backtests, meta, pages, strategies
from algobt.server.handlers.base import NotFoundHandler
from algobt.server.jobs import JobRunner

log = logging.getLogger("algobt.server")

MAX_BODY_BYTES = 1 * 2**20  # 1 MiB: a strategy's source and config fit many times over
MAX_WS_MESSAGE_BYTES = 1 * 2**20


def route_table() -> list[tuple[str, type]]:
    """Every (pattern, handler) of the app, in matching order."""
    from algobt.server import stream

    return [
        *backtests.default_handlers,
        *strategies.default_handlers,
        *meta.default_handlers,
        *pages.default_handlers,
        *stream.default_handlers,
    ]


def make_app(
    store,
    *,
    token: str,
    jobs: JobRunner | None = None,
    port: int | None = None,
    allowed_hosts=(),
    allowed_origins=(),
    cors_origins=(),
    max_body_bytes: int = MAX_BODY_BYTES,
    worker_limits=None,
    isolate_python: bool = True,
    allow_files: bool = False,
    assets_path=None,
    debug: bool = False,
) -> tornado.web.Application:
    """The Tornado application over ``store``; state reaches handlers through settings.

    token: required on every request. allowed_hosts: extra Host names besides
    loopback. allowed_origins: exact WebSocket origins besides this server's own
    loopback origins (``port`` is needed to know those, and names the login cookie).
    cors_origins: exact origins a page on another origin may call the API from
    (CORS; their WebSockets are allowed too); none by default.
    assets_path: the folder ``/static/`` serves (default ``algobt/server/static/``).
    """
    if not token:
        raise ConfigError(
            "the server needs a token; algobt.server.auth.new_token() makes one", field="token"
        )
    jobs = jobs or JobRunner(
        store, limits=worker_limits, isolate_python=isolate_python, allow_files=allow_files
    )
    hosts = frozenset(auth.LOOPBACK_HOSTS | {h.lower() for h in allowed_hosts})
    cors = frozenset(_check_origins(cors_origins))
    origins = set(allowed_origins) | cors
    if port:
        origins |= {f"http://{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}
    routes = route_table()
    return tornado.web.Application(
        [*routes, (r".*", NotFoundHandler)],
        store=store,
        jobs=jobs,
        token=token,
        cookie_name=auth.cookie_name(port),
        assets_path=str(assets_path or pages.STATIC_DIR),
        allowed_hosts=hosts,
        allowed_origins=frozenset(origins),
        cors_origins=cors,
        max_body_bytes=max_body_bytes,
        route_list=[(pattern, "/".join(_methods(h))) for pattern, h in routes],
        log_function=auth.log_request,
        websocket_max_message_size=MAX_WS_MESSAGE_BYTES,
        websocket_ping_interval=20,
        websocket_ping_timeout=20,
        xsrf_cookies=False,
        debug=debug,
        compress_response=True,
    )


def _check_origins(origins) -> list[str]:
    """Each origin exactly as a browser sends it: ``scheme://host[:port]``, nothing else."""
    from urllib.parse import urlsplit

    checked = []
    for origin in origins:
        parts = urlsplit(origin) if isinstance(origin, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path
            or parts.query
            or origin != f"{parts.scheme}://{parts.netloc}"
        ):
            raise ConfigError(
                f"allowed origin {origin!r} is not an origin; write scheme://host:port "
                "exactly as the browser shows it, e.g. http://localhost:3000 (no path, no "
                "trailing slash, no *)",
                field="allow_origin",
            )
        checked.append(origin)
    return checked


def _methods(handler: type) -> list[str]:
    names = ("get", "post", "put", "patch", "delete")
    own = [
        m.upper()
        for m in names
        if getattr(handler, m, None) is not getattr(tornado.web.RequestHandler, m, None)
    ]
    return own or ["GET"]


@dataclass
class Server:
    """A running server: its URL (with token), and ``stop()``."""

    host: str
    port: int
    token: str
    store: object
    app: tornado.web.Application
    _http: tornado.httpserver.HTTPServer | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _owns_store: bool = False
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's address with the token, for the first load in a browser (which
        sets the login cookie and drops the token from the address)."""
        return f"{self.base_url}/?token={self.token}"

    def __repr__(self):
        return f"<algobt server at {self.base_url} (token hidden; see .url)>"

    def _repr_html_(self):
        link = f'<a href="{self.url}" target="_blank">{self.base_url}</a>'
        return f"<p>algobt server running: {link}</p>"

    def stop(self) -> None:
        """Stop serving and free the port (and the store, if the server opened it)."""
        if self._stopped.is_set():
            return
        self._stopped.set()

        def shutdown():
            if self._http is not None:
                self._http.stop()
            self.app.settings["jobs"].close()

        if self._thread is not None:
            self._loop.call_soon_threadsafe(shutdown)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        else:
            shutdown()
        if self._owns_store:
            self.store.close()


MIN_TOKEN_CHARS = 32
MIN_TOKEN_VARIETY = 12  # distinct characters; token_urlsafe(32) has about 30
MAKE_TOKEN = 'make a strong one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'


def weak_token(token: str) -> str | None:
    """Why ``token`` is too weak for a non-loopback bind, or None when it is strong enough.

    >>> weak_token("T")
    'it has 1 character (at least 32 are needed)'
    >>> weak_token("ab" * 20)
    'it uses only 2 different characters (at least 12 are needed)'
    >>> weak_token(auth.new_token()) is None
    True
    """
    if len(token) < MIN_TOKEN_CHARS:
        chars = "character" if len(token) == 1 else "characters"
        return f"it has {len(token)} {chars} (at least {MIN_TOKEN_CHARS} are needed)"
    variety = len(set(token))
    if variety < MIN_TOKEN_VARIETY:
        return (
            f"it uses only {variety} different characters (at least {MIN_TOKEN_VARIETY} are needed)"
        )
    return None


def bind(port: int, host: str) -> list:
    """The listening sockets on ``host:port``; a port in use is a ``ConfigError`` that says
    how to pick another."""
    import errno

    try:
        return tornado.netutil.bind_sockets(port, address=host)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another algobt server, or another "
                "program); pick another with --port N (port=N), or --port 0 (port=0) for any "
                "free one: the address printed says which",
                field="port",
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"no permission to listen on port {port} (ports below 1024 need root); "
                "pick another with --port N, or --port 0 for any free one",
                field="port",
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", field="host") from None


def _check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    if not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host!r}: only loopback addresses are "
            "allowed unless you pass allow_remote=True (--allow-remote)",
            field="host",
        )
    if not token:
        raise ConfigError(
            f"a non-loopback bind needs an explicit token (--token); {MAKE_TOKEN}", field="token"
        )
    weak = weak_token(token)
    if weak:
        raise ConfigError(
            f"refusing to listen on {host!r} with this token: {weak}; {MAKE_TOKEN}",
            field="token",
        )
    log.warning(
        "algobt server listening on %s: anyone who can reach it and has the token "
        "can run code on this machine",
        host,
    )


def serve(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    db=None,
    token: str | None = None,
    allow_remote: bool = False,
    allowed_hosts=(),
    store=None,
    worker_limits=None,
    isolate_python: bool = True,
    allow_files: bool = False,
    allow_origins=(),
    quiet: bool = False,
) -> Server:
    """Start the server without blocking and return it (``server.url``, ``server.stop()``).

    port: 0 picks a free one. db: the SQLite file (default ``~/.algobt/algobt.db``).
    allow_files: let requests name CSV/Parquet files on this machine as symbols
    (off by default: anyone with the token could read such files).
    allow_origins: exact origins (``http://localhost:3000``) whose pages may call the
    API and open the stream from a browser (CORS); the default is same-origin only.
    In a running asyncio loop (a Jupyter kernel) the server runs on that loop;
    otherwise on its own loop in a daemon thread.
    """
    from algobt.store import Store

    _check_bind(host, allow_remote, token)
    allow_origins = _check_origins(allow_origins)
    token = token or auth.new_token()
    sockets = bind(port, host)
    port = sockets[0].getsockname()[1]
    owns = store is None
    try:
        store = store or Store(db)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    app = make_app(
        store,
        token=token,
        port=port,
        allowed_hosts=allowed_hosts,
        cors_origins=allow_origins,
        worker_limits=worker_limits,
        isolate_python=isolate_python,
        allow_files=allow_files,
    )
    server = Server(host, port, token, store, app, _owns_store=owns)

    def start():
        server._http = tornado.httpserver.HTTPServer(
            app, max_body_size=8 * MAX_BODY_BYTES, xheaders=False
        )
        server._http.add_sockets(sockets)
        # Runs an earlier server left queued start again; those it left running fail.
        app.settings["jobs"].recover()

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        start()
    else:
        ready = threading.Event()

        def run():
            server._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(server._loop)
            start()
            ready.set()
            server._loop.run_forever()
            server._loop.close()

        server._thread = threading.Thread(target=run, name="algobt-server", daemon=True)
        server._thread.start()
        ready.wait(10)
    if not quiet:
        print(f"algobt server: {server.url}")
    return server


async def run_forever(server: Server) -> None:
    """Keep the calling coroutine alive while the server runs (for the CLI)."""
    while not server._stopped.is_set():
        await asyncio.sleep(0.5)


STOP_SIGNALS = ("SIGINT", "SIGTERM")


def stop_on_signals(server: Server, loop: asyncio.AbstractEventLoop) -> list[int]:
    """Stop ``server`` (workers included) on SIGINT or SIGTERM, handled on ``loop``.

    Installed explicitly, because a process started in the background
    (``nohup algobt serve &``) inherits SIGINT as ignored and Python keeps it so.
    Returns the signals installed (none where the loop cannot take them, e.g. Windows).
    """
    import signal

    installed = []
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            loop.add_signal_handler(number, server.stop)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(number)
    return installed
