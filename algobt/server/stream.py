"""``WS /ws/backtest/stream/``: a run's replay over a WebSocket (``docs/websocket.md``).

The handler authenticates before the upgrade (token, Host, exact Origin) and
hands every frame to a ``StreamConnection``, which owns the protocol:

* ``{"action": "start_backtest", "config": {...}}`` → the run's messages in the
  order of ``algobt.engine.wire``, then the result is saved (latest result of its
  strategy too). ``config`` holds the run's settings and the stream options
  (``speed`` in bars per second, ``batch``, ``batch_size``: ``StreamOptions``),
  which are taken out here: they say how this transport plays the run, and are
  not saved with it;
* ``{"action": "cancel"}`` → the running stream stops, ``{"type": "cancelled"}``;
* ``{"action": "ping"}`` → ``{"type": "pong"}``;
* anything else → ``{"type": "error", "message": ...}``; the connection stays open.

Each message is awaited until Tornado has flushed it, so a client that stops
reading stops the run instead of growing the server's memory; a client that
disconnects cancels its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading

import tornado.web
import tornado.websocket

from algobt.engine.config import StreamOptions
from algobt.errors import AlgobtError
from algobt.server import auth
from algobt.server.handlers.base import AuthMixin, dumps

log = logging.getLogger("algobt.server.stream")

ACTIONS = ("start_backtest", "cancel", "ping")


class StreamConnection:
    """One client's protocol state: at most one running stream at a time."""

    def __init__(self, handler: BacktestStreamHandler):
        self.handler = handler
        self.jobs = handler.settings["jobs"]
        self.cancel: threading.Event | None = None
        self.task: asyncio.Task | None = None

    async def send(self, message: dict) -> bool:
        """Send one message; False when the client is gone."""
        try:
            await self.handler.write_message(dumps(message))
            return True
        except tornado.websocket.WebSocketClosedError:
            return False

    async def on_message(self, raw) -> None:
        try:
            await self._dispatch(raw)
        except Exception:  # a bug of ours answers this frame; the connection lives on
            log.exception("bad frame handling")
            await self.error("internal error handling this message", code="internal_error")

    async def _dispatch(self, raw) -> None:
        if isinstance(raw, bytes):
            await self.error("send text frames with JSON, not binary")
            return
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):
            await self.error("the message is not valid JSON")
            return
        if not isinstance(message, dict):
            await self.error('a message must be a JSON object such as {"action": "ping"}')
            return
        action = message.get("action")
        if action == "ping":
            await self.send({"type": "pong"})
        elif action == "cancel":
            if self.cancel is not None and not self.cancel.is_set():
                self.cancel.set()
            else:
                await self.error("nothing to cancel: no backtest is running")
        elif action == "start_backtest":
            await self.start(message.get("config"))
        else:
            await self.error(
                f"unknown action {action!r}; use one of {', '.join(ACTIONS)}", field="action"
            )

    async def start(self, config) -> None:
        if self.task is not None and not self.task.done():
            await self.error(
                'a backtest is already running on this connection; send {"action": "cancel"} first',
                field="action",
            )
            return
        if not isinstance(config, dict):
            await self.error("start_backtest needs a config object", field="config")
            return
        cancel = threading.Event()
        try:
            config, options = StreamOptions.split(config)
            config, strategy_id, stream = self.jobs.stream(config, cancel, options)
        except AlgobtError as exc:
            await self.error(exc.message, field=exc.field, code=exc.code)
            return
        self.cancel = cancel
        self.task = asyncio.get_running_loop().create_task(
            self._pump(config, strategy_id, stream, cancel)
        )

    async def _pump(self, config, strategy_id, stream, cancel: threading.Event) -> None:
        # Registered while it runs: the health endpoint counts streams, tests watch them.
        progress = self.jobs.register_stream(cancel)
        try:
            async with contextlib.aclosing(stream) as messages:
                async for message in messages:
                    if message["type"] == "complete":
                        try:
                            run = await self.jobs.save_streamed(
                                config, strategy_id, message["result"]
                            )
                            message = {**message, "run": run["id"]}
                        except AlgobtError as exc:  # the run stands; saving it failed
                            message = {**message, "run": None, "save_error": exc.message}
                    # Awaiting each send is the backpressure: a client that stops
                    # reading stops the run here instead of filling our memory.
                    if not await self.send(message):
                        return
                    progress["sent"] += 1
                    if message["type"] in ("complete", "error", "cancelled"):
                        return
        except Exception:  # never let a bug kill the connection silently
            log.exception("stream failed")
            await self.error("internal error while streaming", code="internal_error")
        finally:
            cancel.set()
            self.jobs.unregister_stream(cancel)

    async def error(
        self, message: str, *, field: str | None = None, code: str = "bad_request"
    ) -> None:
        await self.send({"type": "error", "code": code, "message": message, "field": field})

    def on_close(self) -> None:
        if self.cancel is not None:
            self.cancel.set()


class BacktestStreamHandler(AuthMixin, tornado.websocket.WebSocketHandler):
    """Authenticates the handshake; forwards frames to ``StreamConnection``."""

    connection: StreamConnection | None = None

    def prepare(self):
        # Runs before the upgrade: a bad token or Host never gets a WebSocket.
        self.check_access()

    def check_origin(self, origin: str) -> bool:
        return auth.origin_allowed(origin, self.request, self.settings["allowed_origins"])

    def get_compression_options(self):
        # Per-message deflate: candles compress well. Level 1 deflates a 100,000-bar
        # stream's 37 MB in a third of the default level's time, 13% larger.
        return {"compression_level": 1}

    def open(self):
        self.connection = StreamConnection(self)

    async def on_message(self, message):
        await self.connection.on_message(message)

    def on_close(self):
        if self.connection is not None:
            self.connection.on_close()

    def write_error(self, status_code: int, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = exc.reason if isinstance(exc, tornado.web.HTTPError) else None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(
            dumps(
                {
                    "error": {
                        "code": {401: "unauthorized", 403: "forbidden"}.get(
                            status_code, "http_error"
                        ),
                        "message": reason or self._reason,
                    }
                }
            )
        )


default_handlers = [(r"/ws/backtest/stream/", BacktestStreamHandler)]
