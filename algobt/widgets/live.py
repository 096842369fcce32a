"""``LiveChart``: a run played bar by bar in a notebook, from the engine's event stream.

The run and its replay happen in a thread of the kernel, off the cell that shows
the chart, so the notebook stays usable while it plays. What the widget sends
is ``algobt.engine.wire``'s encoding of the replay (the messages of
``docs/websocket.md``, the same the page reads), ``candles`` in groups whose
numbers travel as binary columns (``algobt.widgets._packing``): one comm
message per group, never one per bar. At ``speed`` 0 a group holds up to
``batch_size`` bars; at ``speed`` bars per second about a twentieth of a
second's worth, each sent when its time has come.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import anywidget
import traitlets

from algobt.engine.config import RunConfig, StreamOptions
from algobt.engine.replay import Finished
from algobt.engine.result import Result
from algobt.engine.run import RunOutcome
from algobt.engine.wire import encode, error_message
from algobt.errors import AlgobtError, ConfigError
from algobt.widgets._packing import pack, unpack
from algobt.widgets._source import steps

STATIC = Path(__file__).parent / "static"
TICKS_PER_SECOND = 20  # a paced replay sends about this many groups a second


class LiveChart(anywidget.AnyWidget):
    """Play a run (a WebSocket ``config`` dict or a ``RunConfig``) or replay a finished
    ``Result``: candlesticks, volume, indicators, entry/exit markers, progress, live
    cards and the signal log, with play/pause/cancel/speed controls.

    speed: bars per second, 0 = as fast as the browser draws. autoplay: start when
    the chart is first displayed (otherwise call ``play()``). batch_size: most bars in
    one message. indicators: overlays, as a stream config's ``indicators``
    (``{"EMA": {"periods": [9, 21]}}``), for a Result too. After the run ``result`` is
    its ``Result`` and ``messages`` the stream it sent.
    """

    _esm = STATIC / "live_chart.js"
    _css = STATIC / "widgets.css"

    status = traitlets.Unicode("idle").tag(sync=True)
    speed = traitlets.Float(0.0).tag(sync=True)
    total_bars = traitlets.Int(0).tag(sync=True)
    bars_sent = traitlets.Int(0).tag(sync=True)
    autoplay = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        config_or_result,
        *,
        speed: float | None = None,
        autoplay: bool = True,
        batch_size: int = 2000,
        indicators: dict | None = None,
        **kwargs,
    ):
        if indicators is not None and isinstance(config_or_result, dict):
            config_or_result = {**config_or_result, "indicators": indicators}
        source, options = _split(config_or_result)
        if speed is None:
            speed = options.speed
        StreamOptions(speed=speed, batch=True, batch_size=batch_size)  # checks both
        super().__init__(speed=float(speed), autoplay=autoplay, **kwargs)
        self._source = source
        self._batch_size = int(batch_size)
        self._indicators = indicators
        self._log: list[tuple[dict, list[bytes]]] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._retime = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: Result | None = None
        self.error: str | None = None
        self.on_msg(self._on_view_message)
        self.observe(lambda _change: self._retime.set(), names="speed")

    # --- control -------------------------------------------------------------------
    def play(self) -> LiveChart:
        """Start the run (once; a finished chart stays as it is)."""
        with self._lock:
            if self._thread is None:
                self.status = "streaming"
                self._thread = threading.Thread(target=self._run, name="algobt-livechart")
                self._thread.daemon = True
                self._thread.start()
        return self

    def pause(self) -> None:
        """Hold the replay after the message being sent; nothing is dropped."""
        if self.status == "streaming":
            self._unpaused.clear()
            self.status = "paused"

    def resume(self) -> None:
        """Go on after ``pause()``."""
        if self.status == "paused":
            self.status = "streaming"
            self._retime.set()
            self._unpaused.set()

    def cancel(self) -> None:
        """Stop the replay; the stream ends with ``{"type": "cancelled"}``."""
        self._cancel.set()
        self._unpaused.set()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the replay has ended (or ``timeout`` seconds); returns ``status``."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    @property
    def messages(self) -> list[dict]:
        """The stream messages sent so far, as the engine wrote them."""
        with self._lock:
            log = list(self._log)
        return [unpack(content, buffers) for content, buffers in log]

    @property
    def comm_messages(self) -> int:
        """How many comm messages the replay took."""
        return len(self._log)

    # --- the replay thread ---------------------------------------------------------
    def _chunk_size(self) -> int:
        if self.speed <= 0:
            return self._batch_size
        return max(1, min(self._batch_size, round(self.speed / TICKS_PER_SECOND)))

    def _steps(self):
        for step in steps(self._source, self._chunk_size, self._indicators):
            if isinstance(step, Finished):
                self.result = step.outcome.result
            yield step

    def _run(self) -> None:
        last_bar = 0
        due = None  # when the next group of bars may go
        try:
            stream = encode(self._steps(), batch=True)
            for msg in stream:
                kind = msg.get("type")
                if kind in ("candles", "complete"):
                    if not self._wait_turn(due):
                        self._emit({"type": "cancelled", "bar_number": last_bar})
                        self.status = "cancelled"
                        stream.close()
                        return
                if kind == "error":
                    self.error = msg["message"]
                self._emit(msg)
                if kind == "candles":
                    n = len(msg["bars"])
                    last_bar = msg["bars"][-1]["bar_number"]
                    self.bars_sent += n
                    now = time.monotonic()
                    due = max(due or now, now - 0.25) + n / self.speed if self.speed > 0 else None
                elif kind == "metadata" and msg.get("total_bars") is not None:
                    self.total_bars = msg["total_bars"]
        except AlgobtError as exc:
            self._emit(error_message(exc))
            self.error = exc.message
        except Exception as exc:  # a bug of ours still ends the stream with a message
            self.error = f"internal error: {type(exc).__name__}: {exc}"
            self._emit(
                {"type": "error", "message": self.error, "code": "internal_error", "field": None}
            )
        self.status = "error" if self.error else "complete"

    def _wait_turn(self, due: float | None) -> bool:
        """Wait while paused and until ``due``; False when cancelled meanwhile."""
        while True:
            if self._cancel.is_set():
                return False
            if not self._unpaused.is_set():
                self._unpaused.wait(0.1)
                continue
            if self._retime.is_set():  # speed changed or resumed: count from now
                self._retime.clear()
                due = None if self.speed <= 0 else min(due or 0, time.monotonic())
            left = (due - time.monotonic()) if due is not None else 0
            if left <= 0:
                return not self._cancel.is_set()
            self._cancel.wait(min(left, 0.05))

    def _emit(self, msg: dict) -> None:
        content, buffers = pack(msg)
        with self._lock:
            self._log.append((content, buffers))
            self.send(content, buffers)

    # --- the browser side ----------------------------------------------------------
    def _on_view_message(self, _widget, content, _buffers) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "ready":
            # A view (new, or reloaded) asks for what was sent before it existed.
            with self._lock:
                view = content.get("view")
                for old, buffers in self._log:
                    self.send({**old, "to": view}, buffers)
            if self.autoplay:
                self.play()
        elif action == "play":
            self.play()
        elif action == "pause":
            self.pause()
        elif action == "resume":
            self.resume()
        elif action == "cancel":
            self.cancel()


def _split(source) -> tuple[object, StreamOptions]:
    """(what to replay, the stream options a config dict carried)."""
    if isinstance(source, Result | RunOutcome | RunConfig):
        return source, StreamOptions()
    if isinstance(source, dict):
        run, options = StreamOptions.split(source)
        RunConfig.from_dict(run).require_strategy()  # a bad config fails here, by field
        return run, options
    raise ConfigError(
        "LiveChart takes a run config (a dict as the WebSocket takes it, or a RunConfig) "
        f"or a finished Result, not {type(source).__name__}",
        field="config",
    )
