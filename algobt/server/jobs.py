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
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from algobt.engine.config import RunConfig, StreamOptions
from algobt.engine.detect import detect_kind
from algobt.engine.events import iterate_in_thread, pace
from algobt.engine.run import run_config
from algobt.engine.wire import messages
from algobt.errors import AlgobtError, ConfigError, ConflictError
from algobt.store.runs import ACTIVE

log = logging.getLogger("algobt.server.jobs")

QUEUE_SOURCE = "server"  # the ``source`` of runs queued here (what ``recover`` looks at)
INTERRUPTED = (
    "the server stopped before this run finished (it was running when the server "
    "process ended); run it again"
)
# Where a queued run's progress (0..100) goes in each phase: loading the bars,
# simulating them (by bars simulated, where the engine reports them), saving.
PHASES = {"loading": (0.0, 10.0), "running": (10.0, 90.0), "saving": (90.0, 99.0)}
HEADLINE = (
    "final_equity",
    "total_return",
    "total_return_pct",
    "sharpe_ratio",
    "max_drawdown",
    "win_rate",
    "total_trades",
)


def phase_progress(phase: str, done: float, total: float) -> float:
    """A run's progress in percent from its phase and how far into it it is."""
    low, high = PHASES[phase]
    fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
    return round(low + (high - low) * fraction, 2)


class _Cancelled(Exception):
    """Raised from the progress callback: the run stops at its next report."""


@dataclass
class LiveRun:
    """What ``monitor`` shows of a queued run while it is going."""

    run_id: int
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task | None = None
    stats: dict = field(default_factory=dict)
    alerts: list = field(default_factory=list)
    progress: float = 0.0
    phase: str = "queued"
    bars_done: int = 0
    bars_total: int = 0
    store: object = None

    def report(self, phase: str, done: int, total: int) -> None:
        """The engine's progress callback (called in the run's thread): record, save, and
        stop the run here when it was cancelled."""
        if self.cancel.is_set():
            raise _Cancelled
        if phase == "running":
            self.bars_done, self.bars_total = int(done), int(total)
        progress = max(self.progress, phase_progress(phase, done, total))
        moved = phase != self.phase or progress >= self.progress + 1.0
        self.phase, self.progress = phase, progress
        if moved and self.store is not None:
            with contextlib.suppress(ConflictError):
                self.store.update_run(self.run_id, progress=progress)


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
        self._slots = asyncio.Semaphore(self.executor._max_workers)  # queued runs at once
        self._db_lock = None  # see _claim_database
        self._pool = None  # one pre-started worker process, made on first Python run
        self._pool_lock = threading.Lock()
        self._closing = threading.Event()  # set by close(): quick runs' workers stop too

    def close(self):
        """Stop everything: queued runs, streams and quick runs are cancelled (their
        worker processes killed), the pool's idle worker ends."""
        self._closing.set()
        for live in list(self.live.values()):
            live.cancel.set()
        for cancel in list(self.streams):
            cancel.set()
        if self._db_lock is not None:
            self._db_lock.close()
            self._db_lock = None
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
    def _run_blocking(
        self, config: dict, cancel=None, progress=None, alerts: str = "summary"
    ) -> dict:
        """The run's result dict; ``progress(phase, done, total)`` hears how far it is;
        alerts: ``"summary"`` or ``"full"``."""
        if self._isolated(config):
            from algobt.server.worker import run_isolated

            return run_isolated(
                config, cancel=cancel, progress=progress, alerts=alerts, **self._limit_kwargs()
            )
        return run_config(config, progress=progress).to_dict(alerts=alerts)

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
        result = await loop.run_in_executor(
            self.executor, lambda: self._run_blocking(config, self._closing, alerts=alerts)
        )
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
        """Queue a run; it starts as soon as a slot is free. Returns the run record."""
        config, strategy_id = self.resolve(raw)
        run = self.store.create_run(
            _storable(config), strategy_id=strategy_id, status="queued", source=QUEUE_SOURCE
        )
        self._start(run["id"], config)
        return run

    def _start(self, run_id: int, config: dict) -> None:
        live = LiveRun(run_id, store=self.store)
        self.live[run_id] = live
        live.task = asyncio.get_running_loop().create_task(self._execute(live, config))

    async def _execute(self, live: LiveRun, config: dict):
        """Run without a replay, reporting progress by phase and bars; save what completes."""
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
            async with self._slots:  # at most as many running as the pool has threads
                if live.cancel.is_set():
                    await finish(status="cancelled")
                    return
                live.phase = "loading"
                await loop.run_in_executor(
                    self.executor, lambda: store.update_run(run_id, status="running", progress=0.0)
                )
                result = await loop.run_in_executor(
                    self.executor, self._run_blocking, config, live.cancel, live.report
                )
                await loop.run_in_executor(self.executor, live.report, "saving", 0, 1)
                live.alerts = result.get("alerts") or []
                live.stats = {k: result.get(k) for k in HEADLINE if k in result}
                await loop.run_in_executor(
                    self.executor, lambda: store.save_result(run_id, result, alerts=live.alerts)
                )
                live.phase = "completed"
        except _Cancelled:
            await finish(status="cancelled", progress=live.progress)
        except AlgobtError as exc:
            if getattr(exc, "reason", None) == "cancelled":  # a WorkerError: killed on cancel
                await finish(status="cancelled", progress=live.progress)
            else:
                await finish(status="failed", error=exc.message)
        except asyncio.CancelledError:
            await finish(status="cancelled", progress=live.progress)
            raise
        except Exception as exc:  # a bug of ours: the run fails, the server goes on
            await finish(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")
        finally:
            # Keep the live record a while so monitor can still show the last figures.
            loop.call_later(600, self.live.pop, run_id, None)

    def recover(self) -> dict:
        """Settle the queued runs an earlier server left behind (call once, on the loop).

        Runs left ``running`` fail with an error saying the server stopped before they
        finished (re-running one that may have brought the server down could bring it
        down again); runs left ``queued`` never started, so they start now. Skipped,
        with a warning, when another live server holds the same database.
        Returns ``{"resumed": [ids], "failed": [ids]}``.
        """
        done = {"resumed": [], "failed": []}
        if not self._claim_database():
            log.warning(
                "another algobt server uses %s: its queued runs are left to it", self.store.path
            )
            return done
        for run in self.store.unfinished_runs(source=QUEUE_SOURCE):
            run_id = run["id"]
            if run_id in self.live:
                continue
            try:
                if run["status"] == "running":
                    self.store.update_run(run_id, status="failed", error=INTERRUPTED)
                    done["failed"].append(run_id)
                    continue
                config, _ = self.resolve(run["config"])
            except ConflictError:  # finished meanwhile
                continue
            except AlgobtError as exc:  # e.g. its strategy was deleted
                self.store.update_run(
                    run_id, status="failed", error=f"could not resume after a restart: {exc}"
                )
                done["failed"].append(run_id)
                continue
            self._start(run_id, config)
            done["resumed"].append(run_id)
        if done["resumed"] or done["failed"]:
            log.info(
                "after a restart: %d queued run(s) resumed, %d interrupted run(s) failed",
                len(done["resumed"]),
                len(done["failed"]),
            )
        return done

    def _claim_database(self) -> bool:
        """Hold an exclusive lock beside the database for as long as this runner lives.

        The kernel drops it when the process dies (even by SIGKILL), so a restarted
        server gets it back; a second server running on the same file does not.
        """
        path = getattr(self.store, "path", None)
        if not path or str(path) == ":memory:":
            return True
        if self._db_lock is not None:
            return True
        import fcntl

        try:
            handle = open(f"{path}.server-lock", "a+b")  # noqa: SIM115  (held open on purpose)
        except OSError:
            return True  # a read-only folder: nothing to coordinate with
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._db_lock = handle
        return True

    def active_runs(self) -> int:
        """Queued runs of this server not finished yet."""
        return sum(1 for live in self.live.values() if live.task and not live.task.done())

    def cancel(self, run_id: int) -> dict:
        """Ask a queued or running run to stop; returns its record."""
        run = self.store.get_run(run_id)
        live = self.live.get(run_id)
        if run["status"] in ACTIVE and live is not None:
            live.cancel.set()
            if live.phase == "queued" and live.task is not None:
                live.task.cancel()  # still waiting for a slot: it ends now, as cancelled
        return self.store.get_run(run_id)

    def monitor(self, run_id: int) -> dict:
        """Status, phase and bars simulated, headline figures and alerts
        (``GET …/api/monitor/{id}/``, see docs/api.md)."""
        run = self.store.get_run(run_id)
        live = self.live.get(run_id)
        alerts = live.alerts if live and live.alerts else self.store.list_alerts(run_id)
        return {
            **status_view(run),
            # A finished run's phase is its status (the store says so before the task does).
            "phase": live.phase if live and run["status"] in ACTIVE else run["status"],
            "bars": {"done": live.bars_done, "total": live.bars_total} if live else None,
            "live_stats": (live.stats or None) if live else None,
            "alerts": alerts,
        }

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

    def register_stream(self, cancel: threading.Event) -> dict:
        """Count a WebSocket stream as running (health shows it); returns its progress
        record (``{"sent": messages sent}``). ``unregister_stream`` when it ends."""
        progress = self.streams[cancel] = {"sent": 0}
        return progress

    def unregister_stream(self, cancel: threading.Event) -> None:
        self.streams.pop(cancel, None)

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
    """The status answer (docs/api.md): ``{id, status, progress, error, started_at,
    finished_at, result_id}`` (``result_id`` null until the run has a result)."""
    keys = ("id", "status", "progress", "error", "started_at", "finished_at", "result_id")
    return {k: run.get(k) for k in keys}


def _storable(config: dict) -> dict:
    """The config as saved with the run (everything JSON; speed/batch are display-only)."""
    return {k: v for k, v in config.items() if k not in ("strategy",)}


def _as_id(value, field: str) -> int:
    """An id from a JSON body: a whole number >= 1; text is refused (docs/api.md)."""
    if isinstance(value, str):
        raise ConfigError(
            f"{field} must be a whole number, not text (got {value!r}): write it without quotes",
            field=field,
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{field} must be a positive whole number", field=field)
    number = value
    return number
