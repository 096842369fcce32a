"""How an isolated run ended, in the user's words: a config checked before any process
starts, the worker's exception rebuilt with its class, message and field, a dead
worker's exit turned into the limit it hit (or the crash it was), and what it used."""

from __future__ import annotations

import json
import signal
import time

from algobt import errors as _errors
from algobt.engine.config import RunConfig
from algobt.errors import AlgobtError, ConfigError, StrategyError
from algobt.server.worker.limits import WorkerError, WorkerLimits, limit_error
from algobt.server.worker.process import WorkerProcess


def check_config(config) -> RunConfig:
    """Validate in the parent: bad configs fail fast, without a process."""
    if isinstance(config, dict) and config.get("strategy") is not None:
        raise ConfigError(
            "a Strategy class cannot be sent to an isolated worker; pass its source "
            "as strategy_code",
            field="strategy",
        )
    cfg = RunConfig.from_dict(config)
    try:
        json.dumps(config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config must be JSON data: {exc}", field="config") from None
    return cfg


def _processes_hit(worker: WorkerProcess, limits: WorkerLimits) -> bool:
    status = worker.status or {}
    return (
        status.get("killed_for") == "processes"
        or status.get("peak_processes", 0) >= limits.max_processes
        or getattr(worker, "cgroup_hit_max", False)
    )


def error_from_frame(frame: dict, worker: WorkerProcess, limits: WorkerLimits) -> AlgobtError:
    """The worker's exception, rebuilt: same class, message and field."""
    limit = frame.get("limit")
    message = str(frame.get("message") or "")
    if limit == "processes" and not _processes_hit(worker, limits):
        limit = None
    if limit in ("memory", "file_size", "processes"):
        return limit_error(limit, limits, message)
    name = frame.get("class")
    cls = getattr(_errors, str(name), None)
    if name == "internal" or not (isinstance(cls, type) and issubclass(cls, AlgobtError)):
        return WorkerError(f"internal error in the worker: {message}", reason="internal")
    if issubclass(cls, WorkerError):
        cls = StrategyError
    return cls(message, field=frame.get("field"))


def _last_line(text: str) -> str:
    """The telling line of a dead worker's output: Python's fatal error, else the last."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal Python error")]
    return (fatal or lines or [""])[-1][:300]


def error_from_exit(worker: WorkerProcess, limits: WorkerLimits) -> WorkerError:
    """Why the worker ended without an answer."""
    status = worker.status or {}
    if status.get("killed_for") == "processes" or getattr(worker, "cgroup_hit_max", False):
        return limit_error("processes", limits)
    ws = status.get("worker") or {}
    sig, code = ws.get("signal"), ws.get("exit")
    started = worker.started or {}
    cpu_soft = started.get("cpu_soft")
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and cpu_soft is not None and ws.get("cpu", 0) >= cpu_soft - 0.5
    ):
        return limit_error("cpu", limits)
    if sig == signal.SIGXFSZ:
        return limit_error("file_size", limits)
    last = _last_line(worker.log_tail)
    detail = f"; its last output: {last}" if last else ""
    if sig is not None:
        return WorkerError(f"strategy process crashed (signal {sig}){detail}", reason="crash")
    if code is not None and code != 0:
        return WorkerError(
            f"strategy process exited unexpectedly (exit code {code}){detail}", reason="crash"
        )
    if not status:
        last = _last_line(worker.supervisor_log)
        return WorkerError(
            "the worker process failed" + (f": {last}" if last else ""), reason="internal"
        )
    return WorkerError(f"strategy process ended without a result{detail}", reason="crash")


def fill_usage(usage: dict | None, worker: WorkerProcess, t0: float) -> None:
    if usage is None:
        return
    status = worker.status or {}
    usage.update(worker.usage or {})
    usage.update(
        wall_seconds=time.monotonic() - t0,
        supervisor_pid=worker.proc.pid,
        worker_pid=(worker.started or {}).get("pid") or ((status.get("worker") or {}).get("pid")),
        cgroup=worker.cgroup,
        subreaper=status.get("subreaper"),
        leftovers_killed=status.get("leftovers"),
        peak_processes=status.get("peak_processes"),
    )
    if worker.startup_seconds is not None:
        usage["startup_seconds"] = worker.startup_seconds
