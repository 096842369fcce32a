"""``run_isolated`` and ``stream_isolated``: a run's result, or its stream of messages,
computed in a limited worker process; blocking, safe from many threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from algobt.engine.config import StreamOptions
from algobt.errors import AlgobtError
from algobt.server.worker import wire
from algobt.server.worker.limits import WorkerError, WorkerLimits, limit_error
from algobt.server.worker.outcomes import (
    check_config,
    error_from_exit,
    error_from_frame,
    fill_usage,
)
from algobt.server.worker.pool import WorkerPool, take_worker, worker_done
from algobt.server.worker.process import CANCELLED, EOF, TIMEOUT, Budget


def run_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008  (frozen, so sharing is safe)
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
    usage: dict | None = None,
    progress=None,
    alerts: str = "summary",
) -> dict:
    """``run_config(config).to_dict(alerts=alerts)``, computed in a fresh, limited worker
    process (alerts: ``"summary"`` or ``"full"``).

    Returns the result dict, or raises the run's own ``ConfigError``/``DataError``/
    ``StrategyError`` (same message and field), or :class:`WorkerError` for a
    limit, a crash or ``cancel`` being set. Blocks; safe to call from many threads.
    usage: if given, filled with what the run used (CPU, peak memory, wall time, pids).
    progress: ``progress(phase, done, total)`` as ``run_config`` reports it, called in
    this thread; an exception it raises kills the worker and propagates.
    """
    check_config(config)
    t0 = time.monotonic()
    worker = take_worker(limits, pool)
    result = error = None
    budget = Budget(limits.wall_seconds)
    kill = True
    try:
        mode = "run:full" if alerts == "full" else "run"
        end = worker.submit(mode, config, limits, cancel, budget)
        while end is None:
            frame = worker.read_frame(budget, cancel, limits.max_message_mb * 2**20)
            if isinstance(frame, str):
                end = frame
                break
            kind = frame.get("kind")
            if kind == wire.STARTED:
                worker.started = frame
                worker.startup_seconds = time.monotonic() - t0
            elif kind == wire.PROGRESS:
                if progress is not None and frame.get("phase") in ("loading", "running"):
                    progress(frame["phase"], _count(frame.get("done")), _count(frame.get("total")))
            elif kind == wire.RESULT:
                result = frame.get("result")
            elif kind == wire.ERROR:
                error = frame
            elif kind == wire.USAGE:
                worker.usage = {k: v for k, v in frame.items() if k != "kind"}
            elif kind == wire.FATAL:
                error = {"class": "internal", "message": frame.get("message")}
        kill = end != EOF
    finally:
        worker.close(kill=kill)
        worker_done(pool)
        fill_usage(usage, worker, t0)
    if result is not None:
        return result
    if end == TIMEOUT:
        raise limit_error("wall", limits)
    if end == CANCELLED:
        raise WorkerError("the run was cancelled", reason="cancelled")
    if error is not None:
        raise error_from_frame(error, worker, limits)
    raise error_from_exit(worker, limits)


def _count(value) -> int:
    """A count from the worker (untrusted): a whole number >= 0, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _error_message(exc: AlgobtError) -> dict:
    return {"type": "error", "message": exc.message, "code": exc.code, "field": exc.field}


def stream_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
    usage: dict | None = None,
) -> Iterator[dict]:
    """The messages of ``algobt.engine.events.events(config)``, produced in a worker.

    Same order, same content. Backpressure: a frame is read from the worker's pipe
    only when the consumer asks for the next message, so a reader that stops makes
    the worker block on a full pipe (64 KiB) instead of piling messages up.
    ``cancel.set()`` kills the worker at once and the stream ends with
    ``{"type": "cancelled", "bar_number": <last bar sent>}``; closing the generator
    kills it too. Limits, crashes and errors end the stream with an ``error``.
    """
    try:
        check_config(config)
        options = StreamOptions.from_dict(config)
    except AlgobtError as exc:
        yield _error_message(exc)
        return
    step = options.batch_size if options.batch else 1
    pace = step / options.speed if options.speed else 0.0
    t0 = time.monotonic()
    worker = take_worker(limits, pool)
    max_bytes = limits.max_message_mb * 2**20
    budget = Budget(limits.wall_seconds)  # the computing phase: one budget in all
    replaying = False
    last_bar = 0
    error = None
    ended = False  # a final message (complete / error / cancelled) was passed on
    kill = True
    try:
        end = worker.submit("stream", config, limits, cancel, budget)
        while end is None:
            if replaying:  # each message within wall_seconds (plus its pacing)
                budget = Budget(limits.wall_seconds + pace)
            try:
                frame = worker.read_frame(budget, cancel, max_bytes)
            except WorkerError as exc:
                error = exc
                break
            if isinstance(frame, str):
                end = frame
                break
            kind = frame.get("kind")
            if kind == wire.STARTED:
                worker.started = frame
                worker.startup_seconds = time.monotonic() - t0
            elif kind == wire.USAGE:
                worker.usage = {k: v for k, v in frame.items() if k != "kind"}
            elif kind in (wire.ERROR, wire.FATAL):
                if kind == wire.FATAL:
                    frame = {"class": "internal", "message": frame.get("message")}
                error = error_from_frame(frame, worker, limits)
            elif kind == wire.MSG:
                msg = frame.get("msg")
                if not isinstance(msg, dict):
                    continue
                mtype = msg.get("type")
                if mtype == "metadata" and msg.get("status") == "streaming_visualization":
                    replaying = True
                elif mtype == "candle":
                    last_bar = msg.get("bar_number", last_bar)
                elif mtype == "candles" and msg.get("bars"):
                    last_bar = msg["bars"][-1].get("bar_number", last_bar)
                elif mtype == "error":
                    msg = _rewrite_stream_error(msg, limits)
                if mtype in ("complete", "error", "cancelled"):
                    ended = True
                yield msg
        kill = end != EOF
    finally:
        worker.close(kill=kill)
        worker_done(pool)
        fill_usage(usage, worker, t0)
    if ended:
        return
    if end == CANCELLED:
        yield {"type": "cancelled", "bar_number": last_bar}
        return
    if end == TIMEOUT:
        error = limit_error("wall", limits)
    elif error is None:
        error = error_from_exit(worker, limits)
    yield _error_message(error)


def _rewrite_stream_error(msg: dict, limits: WorkerLimits) -> dict:
    """events() reports exceptions as text; name the limit when one caused it."""
    text = str(msg.get("message") or "")
    if "MemoryError" in text:
        return _error_message(limit_error("memory", limits, text))
    if "[Errno 27] File too large" in text:
        return _error_message(limit_error("file_size", limits, text))
    return msg
