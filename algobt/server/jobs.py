"""Running backtests for the server: quick runs, queued runs, streams — off the event loop.

Where a run executes depends on what the strategy is:

* Python source from a request runs in a spawn-started worker process with CPU,
  memory and wall-clock limits (``algobt.server.worker``): a hostile or broken
  strategy costs an error message, never the server;
* a canonical JSON spec is data, not code: it runs in a thread of this process.

Either way the engine produces the result and the event stream; this module
only moves them, and the store saves what completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from algobt.engine.config import RunConfig, StreamOptions
from algobt.engine.detect import detect_kind
from algobt.engine.events import iterate_in_thread, pace
from algobt.engine.run import run_config
from algobt.engine.wire import messages
from algobt.errors import AlgobtError, ConfigError, ConflictError


@dataclass
class LiveRun:
    """What ``monitor`` shows of a queued run while it is going."""

    run_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task | None = None
    stats: dict = field(default_factory=dict)
    alerts: list = field(default_factory=list)
    progress: float = 0.0


STREAM_THREADS = 256  # streams mostly wait (on pacing, or on a slow client)

# Where a network config may take its bars from: the server's own sources, never a
# file path of the server's machine.
NETWORK_SOURCES = (None, "demo", "yahoo")


class JobRunner:
    """Owns the thread pool and the live runs; handlers call its coroutines."""

    def __init__(
        self,
        store,
        *,
        limits=None,
        max_workers: int | None = None,
        isolate_python: bool = True,
        allow_files: bool = False,
    ):
        import os

        self.store = store
        self.limits = limits
        self.isolate_python = isolate_python
        self.allow_files = allow_files  # may a request name a data file on this machine?
        self.executor = ThreadPoolExecutor(
            max_workers=max_workers or max(2, os.cpu_count() or 2), thread_name_prefix="algobt-run"
        )
        self.stream_executor = ThreadPoolExecutor(
            max_workers=STREAM_THREADS, thread_name_prefix="algobt-stream"
        )
        self.live: dict[int, LiveRun] = {}
        self.streams: dict[threading.Event, dict] = {}  # WebSocket streams now running
        self._pool = None  # one pre-started worker process, made on first Python run
        self._pool_lock = threading.Lock()

    def close(self):
        for live in list(self.live.values()):
            live.cancel.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.stream_executor.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.close()

    # --- configs ---------------------------------------------------------------------------
    def resolve(self, raw: dict) -> tuple[dict, int | None]:
        """Fill in a request's strategy from the store when only ``strategy_id`` is given,
        and validate the config. Returns (config dict, strategy id)."""
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object", field="config")
        raw = dict(raw)
        strategy_id = raw.get("strategy_id")
        if strategy_id is not None:
            strategy = self.store.get_strategy(_as_id(strategy_id, "strategy_id"))
            if not raw.get("strategy_code"):
                raw["strategy_code"] = strategy["code"]
            raw.setdefault("strategy_name", strategy["name"])
        cfg = RunConfig.from_dict(raw)  # every field checked here, before any work starts
        if not self.allow_files:
            _check_network_symbols(cfg)
        cfg.require_strategy()
        return raw, cfg.strategy_id

    def _isolated(self, config: dict) -> bool:
        return self.isolate_python and detect_kind(config.get("strategy_code")) == "python"

    # --- one-shot runs -----------------------------------------------------------------------
    def _run_blocking(self, config: dict, alerts: str = "summary") -> dict:
        if self._isolated(config):
            from algobt.server.worker import run_isolated

            return run_isolated(config, alerts=alerts, **self._limit_kwargs())
        return run_config(config).to_dict(alerts=alerts)

    def _limit_kwargs(self) -> dict:
        """Limits and the worker pool for isolated runs (a started worker saves ~1 s)."""
        from algobt.server.worker import WorkerLimits, WorkerPool

        with self._pool_lock:
            if self._pool is None:
                self._pool = WorkerPool(1, limits=self.limits or WorkerLimits())
        kwargs = {"pool": self._pool}
        if self.limits is not None:
            kwargs["limits"] = self.limits
        return kwargs

    async def quick_run(
        self, raw: dict, *, source: str = "server", alerts: str = "summary"
    ) -> dict:
        """Run now; save it (latest result of its strategy too); return the BacktestResult.

        alerts: ``"summary"`` (one entry per alert code, with its count) or ``"full"``
        (every alert, in the answer and the store)."""
        config, strategy_id = self.resolve(raw)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, self._run_blocking, config, alerts)
        run = await loop.run_in_executor(
            self.executor,
            lambda: self.store.record_run(
                _storable(config),
                result,
                strategy_id=strategy_id,
                alerts=result.get("alerts"),
                source=source,
            ),
        )
        return {**result, "run": run["id"], "id": run.get("result_id", run["id"])}

    # --- queued runs -------------------------------------------------------------------------
    def submit(self, raw: dict) -> dict:
        """Queue a run; it starts at once in the background. Returns the run record."""
        config, strategy_id = self.resolve(raw)
        run = self.store.create_run(
            _storable(config), strategy_id=strategy_id, status="queued", source="server"
        )
        live = LiveRun(run["id"])
        self.live[run["id"]] = live
        live.task = asyncio.get_running_loop().create_task(self._execute(live, config))
        return run

    async def _execute(self, live: LiveRun, config: dict):
        loop = asyncio.get_running_loop()
        store = self.store
        run_id = live.run_id

        async def finish(**fields):
            # A run already final (e.g. saved just before a cancel) stays as it is.
            try:
                await loop.run_in_executor(
                    self.executor, lambda: store.update_run(run_id, **fields)
                )
            except ConflictError:
                pass

        try:
            await loop.run_in_executor(
                self.executor, lambda: store.update_run(run_id, status="running", progress=0.0)
            )
            result = None
            stream = contextlib.aclosing(self._stream(config, live.cancel))
            async with stream as messages:
                async for msg in messages:
                    kind = msg["type"]
                    if kind in ("candle", "candles"):
                        bar = msg["bars"][-1] if kind == "candles" else msg
                        live.progress = float(bar["progress"])
                    elif kind == "stats":
                        live.stats = msg
                    elif kind == "complete":
                        result = msg["result"]
                    elif kind == "error":
                        raise _StreamError(msg.get("message") or "the run failed")
                    elif kind == "cancelled":
                        break
            if result is None:  # the stream ended with "cancelled" (or nothing)
                await finish(status="cancelled", progress=live.progress)
                return
            live.alerts = result.get("alerts") or []
            await loop.run_in_executor(
                self.executor, lambda: store.save_result(run_id, result, alerts=live.alerts)
            )
        except (AlgobtError, _StreamError) as exc:
            await finish(status="failed", error=getattr(exc, "message", None) or str(exc))
        except asyncio.CancelledError:
            await finish(status="cancelled", progress=live.progress)
            raise
        except Exception as exc:  # a bug of ours: the run fails, the server goes on
            await finish(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            # Keep the live record a while so monitor can still show the last stats.
            loop.call_later(600, self.live.pop, run_id, None)

    def cancel(self, run_id: int) -> dict:
        """Ask a queued or running run to stop; returns its record."""
        run = self.store.get_run(run_id)
        live = self.live.get(run_id)
        if run["status"] in ("queued", "running") and live is not None:
            live.cancel.set()
        return self.store.get_run(run_id)

    def monitor(self, run_id: int) -> dict:
        """Status plus live stats and alerts (SPEC: ``GET …/api/monitor/{id}/``)."""
        run = self.store.get_run(run_id)
        live = self.live.get(run_id)
        alerts = live.alerts if live and live.alerts else self.store.list_alerts(run_id)
        return {**status_view(run), "live_stats": live.stats if live else None, "alerts": alerts}

    # --- streams -----------------------------------------------------------------------------
    def _stream(self, config: dict, cancel: threading.Event, options: StreamOptions | None = None):
        """An async iterator of the run's messages, isolated when the strategy is Python.

        options: how to play it (default: the ones ``config`` carries); the messages
        are made unpaced (in the worker, when isolated) and paced here.
        """
        config, found = StreamOptions.split(config)
        options = options or found
        if self._isolated(config):
            from algobt.server.worker import stream_isolated

            batching = {"batch": options.batch, "batch_size": options.batch_size}
            gen = stream_isolated({**config, **batching}, cancel=cancel, **self._limit_kwargs())
        else:
            gen = messages(config, batch=options.batch, batch_size=options.batch_size)
        gen = pace(gen, options.speed, cancel)
        # Streams get threads of their own: a paced replay sleeps in its thread, and
        # must not starve quick runs and saves of the main pool.
        return iterate_in_thread(
            gen, cancel, executor=self.stream_executor, most=1 if options.speed else 256
        )

    def stream(self, raw: dict, cancel: threading.Event, options: StreamOptions | None = None):
        """Validate and start a stream for the WebSocket (raises ConfigError first).

        options: the stream options the handler took out of the client's config.
        """
        config, strategy_id = self.resolve(raw)
        return config, strategy_id, self._stream(config, cancel, options)

    async def save_streamed(self, config: dict, strategy_id, result: dict) -> dict:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor,
            lambda: self.store.record_run(
                _storable(config),
                result,
                strategy_id=strategy_id,
                alerts=result.get("alerts"),
                source="stream",
            ),
        )


class _StreamError(Exception):
    pass


def _check_network_symbols(cfg: RunConfig) -> None:
    """Requests name symbols (demo or Yahoo), never files on the server's disk."""
    if cfg.source not in NETWORK_SOURCES:
        raise ConfigError(
            f"source {cfg.source!r} is not available over the API; use demo or yahoo",
            field="source",
        )
    for symbol in cfg.symbol_list:
        if (
            any(ch in symbol for ch in "/\\")
            or symbol.startswith(".")
            or symbol.lower().endswith((".csv", ".txt", ".parquet", ".pq"))
        ):
            raise ConfigError(
                f"symbol {symbol!r} looks like a file path; the API takes "
                "symbols such as DEMO or AAPL (load files from Python)",
                field="symbols" if cfg.symbols else "symbol",
            )


def status_view(run: dict) -> dict:
    """SPEC's status answer: ``{id, status, progress, error, started_at, finished_at}``."""
    return {
        k: run.get(k) for k in ("id", "status", "progress", "error", "started_at", "finished_at")
    }


def _storable(config: dict) -> dict:
    """The config as saved with the run (everything JSON; speed/batch are display-only)."""
    return {k: v for k, v in config.items() if k not in ("strategy",)}


def _as_id(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{field} must be a positive whole number", field=field)
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{field} must be a positive whole number", field=field) from None
    if number < 1:
        raise ConfigError(f"{field} must be a positive whole number", field=field)
    return number
