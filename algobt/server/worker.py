"""Crash-isolated, resource-limited runs of a user's strategy code.

    >>> from algobt.server.worker import run_isolated, WorkerLimits
    >>> result = run_isolated({"symbol": "DEMO", "period": "1y",
    ...                        "strategy_code": open("examples/sma_cross.py").read()},
    ...                       limits=WorkerLimits(cpu_seconds=10))    # doctest: +SKIP

**What this is, and what it is not.** Python strategy code that arrives over
the network never runs in the server process: each run gets a fresh process
(started with ``python -c``, i.e. *spawned*, never forked from the server) in
its own session and process group, with its own temporary working directory
that is removed afterwards. A strategy that loops forever, sleeps, allocates
10 GB, forks in a loop, writes a huge file, segfaults or calls ``os._exit``
costs one error message, never the server. This is **resource-limited,
crash-isolated execution of the user's own code — not a sandbox for strangers'
code**: the strategy runs as the server's user and can read every file that
user can read, write outside its temporary directory (each file is capped by
``file_mb``, the disk is not), open network sockets, and, if it tries on
purpose, interfere with its own supervisor. Serve only people you would let
run code on the machine.

**The processes.** ``python -c`` runs ``_worker_main.py`` as a *supervisor*
(session leader, ``PR_SET_CHILD_SUBREAPER``, only the standard library
imported) which forks the *worker*. The worker imports algobt, pandas and
numba, then waits for its job; :class:`WorkerPool` keeps such processes
started ahead of time, so a run need not wait for the imports. A job is one
config; each process runs one job and exits. The parent talks to the worker
over two pipes (job in, length-prefixed JSON frames out — JSON, never
pickle, so a hostile worker cannot run code in the server) and to the
supervisor over its stdin/stdout. The worker never sees the store: the parent
saves the result.

**What is enforced** (see :class:`WorkerLimits`):

* CPU time — ``RLIMIT_CPU`` on the worker (``SIGXCPU``, then ``SIGKILL``), counted
  from the start of the job, so the imports are free; the kernel counts whole
  seconds, so a strategy may get up to one second more. It is per process: a
  process the strategy forks has its own (bounded by ``max_processes`` and the
  wall clock).
* Memory — ``RLIMIT_AS``: the worker's whole address space, imported libraries
  included. A normal run needs about 0.66 GB of it (measured: a 5-year daily
  SMA-cross run, or a full-history replay, peaks at ~660 MB address space and
  ~250 MB resident), so the 1 GB default leaves room for data and strategy
  state. To keep that
  number small the worker is started with one BLAS/OpenMP/numba thread,
  ``MALLOC_ARENA_MAX=2`` and pyarrow on the system allocator (jemalloc would
  reserve 1 GB of address space up front).
* Wall-clock time — the parent's own deadline; at it the whole process tree is
  killed. For a stream it counts only while the parent waits on the worker
  (a slow reader is not the strategy's fault) and, once the bars are being
  replayed, it applies per message (a replay paced by ``speed`` may be long).
* Processes — the supervisor is a child subreaper, so every process the
  strategy starts stays below it, even one that double-forks and calls
  ``setsid``. It counts that subtree every 20 ms and kills all of it past
  ``max_processes``; when the worker ends, it kills whatever is left. The
  parent then ``SIGKILL``s the process group as a backstop. Where a ``pids``
  cgroup (v1) is writable (typically: running as root) each run also gets its
  own cgroup with ``pids.max``, a kernel-enforced cap that also counts threads.
  For a non-root server, ``RLIMIT_NPROC`` is set too. For **root** it is not:
  the kernel does not enforce ``RLIMIT_NPROC`` for uid 0, so without the cgroup
  only the scan stands between a fork loop and the machine (in tests a fork
  loop reached 17-24 extra processes before it was killed; a worker process is
  slow to fork, but that is not a guarantee).
* Files — ``RLIMIT_FSIZE`` caps every file the worker writes (the write fails
  with "File too large"); the working directory is a fresh temporary one,
  removed afterwards. ``RLIMIT_CORE`` is 0.

**What is not enforced:** the limits stop accidents, not malice. As root the
strategy may simply raise its own rlimits again (``CAP_SYS_RESOURCE``), kill
its supervisor or leave the cgroup; as any user it may read files, use the
network, fill the disk with many files below ``file_mb`` each, or signal other
processes of the same user. Run the server as an unprivileged user (and in a
container or VM for real sandboxing) if that matters. Note too that relative
file paths in a config (a CSV ``symbol``) resolve against the worker's
temporary directory, not the server's working directory.

**Errors.** Limit violations, crashes and cancellation raise
:class:`WorkerError` (a ``StrategyError``) whose ``reason`` says which:
``cpu``, ``memory``, ``wall``, ``processes``, ``file_size``, ``crash``,
``cancelled`` or ``internal``. Errors of the run itself (``ConfigError``,
``DataError``, ``StrategyError`` with the strategy's own line) come back as
the same class with the same message and field. In a stream all of these end
the stream with ``{"type": "error", "message", "code", "field"}``.

**Cost** (measured on 2 cores, Python 3.11, numba cache warm). A fresh worker is
ready about 0.95 s after it is started: 0.5 s for the interpreter and the
imports, 0.4 s for a small warm-up run that loads pyarrow, the demo data and
numba's cached machine code (work the first run would do anyway). A 5-year
daily SMA-cross run then takes ~1.0 s through a fresh worker, ~0.12 s through a
pooled one (of which ~0.05 s is the run and its 200 KB result as JSON), against
0.014 s in a warm process. A pooled idle worker holds ~250 MB resident (and its
supervisor ~15 MB). The supervisor removes the run's directory and cgroup
itself, so they go even when the server is killed; a server that dies also
closes the supervisors' stdin, and they then kill their workers.

**Platform.** Linux only (``/proc``, ``prctl``, rlimits, ``os.waitid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from algobt import errors as _errors
from algobt.engine.config import RunConfig
from algobt.errors import AlgobtError, ConfigError, StrategyError

HEADER = struct.Struct(">I")
_MAIN = str(Path(__file__).with_name("_worker_main.py"))
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
_POLL = 0.05  # seconds between checks of cancel, deadline and supervisor while waiting
_THREAD_ENV = {
    # One thread each: nothing in a backtest gains from more, and every thread
    # costs address space (stacks, malloc arenas) counted by the memory limit.
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "ARROW_IO_THREADS": "1",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_ARENA_MAX": "2",
}


@dataclass(frozen=True)
class WorkerLimits:
    """The resources one isolated run may use.

    cpu_seconds: CPU time of the worker process for the job (imports not counted).
    memory_mb: the worker's address space (``RLIMIT_AS``), libraries included; a
        normal run needs ~660 MB of it.
    wall_seconds: real time the parent waits for the run (for a stream: see the
        module docs).
    max_processes: processes the strategy may start besides the worker itself
        (fork-bomb guard; ``pids.max`` of a cgroup, when one is used, is this
        plus 64 so the worker's own threads fit).
    file_mb: the largest file the worker may write (``RLIMIT_FSIZE``).
    max_message_mb: the largest single message the parent accepts from the worker.
    use_cgroup: put each run in its own ``pids`` cgroup when one can be made.
    """

    cpu_seconds: float = 30
    memory_mb: int = 1024
    wall_seconds: float = 60
    max_processes: int = 16
    file_mb: int = 64
    max_message_mb: int = 256
    use_cgroup: bool = True

    def __post_init__(self):
        for name in ("cpu_seconds", "memory_mb", "wall_seconds", "file_mb", "max_message_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigError(f"WorkerLimits.{name} must be a number > 0", field=name)
        if not isinstance(self.max_processes, int) or self.max_processes < 0:
            raise ConfigError(
                "WorkerLimits.max_processes must be a whole number >= 0", field="max_processes"
            )


class WorkerError(StrategyError):
    """An isolated run that hit a limit, crashed, was cancelled or failed inside the worker.

    reason: ``cpu``, ``memory``, ``wall``, ``processes``, ``file_size``, ``crash``,
    ``cancelled`` or ``internal``.
    """

    def __init__(self, message: str, *, reason: str, field: str | None = None):
        super().__init__(message, field=field)
        self.reason = reason


# ----------------------------------------------------------------- cgroup (v1 pids)

_counter = itertools.count()


def _make_cgroup(max_tasks: int) -> str | None:
    """A fresh ``pids`` cgroup below ours with ``pids.max``, or None if we may not."""
    try:
        with open("/proc/self/cgroup") as f:
            mine = next(
                line.rstrip("\n").split(":", 2)[2] for line in f if line.split(":", 2)[1] == "pids"
            )
        base = os.path.join("/sys/fs/cgroup/pids", mine.lstrip("/"))
        path = os.path.join(base, f"algobt-worker-{os.getpid()}-{next(_counter)}")
        os.mkdir(path)
    except (OSError, StopIteration, IndexError):
        return None
    try:
        with open(os.path.join(path, "pids.max"), "w") as f:
            f.write(str(max_tasks))
        return path
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return None


def _cgroup_hit_max(path: str | None) -> bool:
    if not path:
        return False
    try:
        with open(os.path.join(path, "pids.events")) as f:
            return any(line.split()[0] == "max" and int(line.split()[1]) > 0 for line in f)
    except (OSError, ValueError, IndexError):
        return False


def _remove_cgroup(path: str | None) -> None:
    if not path:
        return
    deadline = time.monotonic() + 2.0
    while True:
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            pids = []
        for pid in pids:  # only strays are left here: the supervisor has exited
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


# ------------------------------------------------------------------- one process


class _Budget:
    """Seconds the parent may still wait on the worker."""

    def __init__(self, seconds: float):
        self.left = seconds

    def spend(self, seconds: float) -> None:
        self.left -= seconds


_EOF, _TIMEOUT, _CANCELLED = "eof", "timeout", "cancelled"


class _Worker:
    """One supervisor + worker process pair, started now, used for one job."""

    def __init__(self, *, warm: bool = True, cgroup_tasks: int | None = None):
        self.started_at = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="algobt-worker-")
        self.cgroup = _make_cgroup(cgroup_tasks) if cgroup_tasks else None
        self.buf = bytearray()
        self.eof = False
        self.closed = False
        self.status: dict | None = None
        self.started: dict | None = None
        self.startup_seconds: float | None = None
        self.usage: dict | None = None
        self.cgroup_hit_max = False
        self.log_tail = self.supervisor_log = ""
        job_r, self.job_w = os.pipe()
        self.data_r, data_w = os.pipe()
        cwd = os.getcwd()
        spec = {
            "tmpdir": self.tmpdir,
            "job_fd": job_r,
            "data_fd": data_w,
            "sys_path": [p or cwd for p in sys.path],
            "cgroup": self.cgroup,
            "warm": warm,
        }
        env = {**os.environ, **_THREAD_ENV, "TMPDIR": self.tmpdir}
        try:
            with open(os.path.join(self.tmpdir, "supervisor.log"), "wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, _MAIN, json.dumps(spec)],
                    cwd=self.tmpdir,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    pass_fds=(job_r, data_w),
                    start_new_session=True,
                )
        except BaseException:
            for fd in (job_r, data_w, self.job_w, self.data_r):
                os.close(fd)
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            _remove_cgroup(self.cgroup)
            raise
        os.close(job_r)
        os.close(data_w)
        os.set_blocking(self.job_w, False)
        self.pgid = self.proc.pid  # start_new_session: the supervisor leads its group

    @property
    def usable(self) -> bool:
        return not self.closed and not self._supervisor_exited()

    # -- talking to it

    def submit(self, mode: str, config: dict, limits: WorkerLimits, cancel, budget) -> str | None:
        """Send the job; returns _TIMEOUT/_CANCELLED/_EOF if it could not be sent."""
        if self.cgroup:  # a pooled process: its cap follows this job's limits
            with contextlib.suppress(OSError):
                with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
                    f.write(str(limits.max_processes + 64) if limits.use_cgroup else "max")
        line = json.dumps({"max_processes": limits.max_processes}).encode() + b"\n"
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError:
            return _EOF
        payload = json.dumps({"mode": mode, "config": config, "limits": asdict(limits)}).encode()
        data = memoryview(HEADER.pack(len(payload)) + payload)
        poller = select.poll()
        poller.register(self.job_w, select.POLLOUT)
        try:
            while data:
                if cancel is not None and cancel.is_set():
                    return _CANCELLED
                if budget.left <= 0:
                    return _TIMEOUT
                t0 = time.monotonic()
                ready = poller.poll(min(budget.left, _POLL) * 1000)
                budget.spend(time.monotonic() - t0)
                if ready:
                    try:
                        data = data[os.write(self.job_w, data) :]
                    except BlockingIOError:
                        pass
                elif self._supervisor_exited():
                    return _EOF
        except OSError:  # BrokenPipeError: the worker is gone
            return _EOF
        finally:
            os.close(self.job_w)
            self.job_w = -1
        return None

    def read_frame(self, budget: _Budget, cancel, max_bytes: int):
        """The next frame from the worker, or _EOF / _TIMEOUT / _CANCELLED."""
        poller = select.poll()
        poller.register(self.data_r, select.POLLIN)
        while True:
            if cancel is not None and cancel.is_set():  # before what is buffered: stop now
                return _CANCELLED
            if len(self.buf) >= HEADER.size:
                size = HEADER.unpack_from(self.buf)[0]
                if size > max_bytes:
                    raise WorkerError(
                        f"the worker sent a message of {size / 2**20:.0f} MB, more than "
                        f"the limit of {max_bytes / 2**20:.0f} MB",
                        reason="memory",
                    )
                if len(self.buf) >= HEADER.size + size:
                    body = bytes(self.buf[HEADER.size : HEADER.size + size])
                    del self.buf[: HEADER.size + size]
                    try:
                        frame = json.loads(body)
                    except ValueError:
                        raise WorkerError(
                            "the worker sent a malformed message", reason="internal"
                        ) from None
                    if not isinstance(frame, dict):
                        raise WorkerError("the worker sent a malformed message", reason="internal")
                    return frame
            if self.eof:
                return _EOF
            if budget.left <= 0:
                return _TIMEOUT
            t0 = time.monotonic()
            ready = poller.poll(min(budget.left, _POLL) * 1000)
            budget.spend(time.monotonic() - t0)
            if ready:
                chunk = os.read(self.data_r, 1 << 16)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
            elif self._supervisor_exited():
                # Its worker should be gone with it; whatever still holds the pipe is a
                # stray of the group: kill it so the pipe ends.
                self._kill_group()
                self.eof = not self._readable(poller)

    def _readable(self, poller) -> bool:
        return bool(poller.poll(0))

    def _supervisor_exited(self) -> bool:
        """Whether the supervisor has ended, without reaping it (see ``_kill_group``)."""
        if self.proc.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _kill_group(self) -> None:
        # Safe only while the supervisor is not yet reaped: until then its pid, which is
        # our pgid, cannot be reused. Once reaped, there is no group left to kill.
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)

    # -- ending it

    def close(self, *, kill: bool) -> dict | None:
        """Stop (if ``kill``) or wait for the process tree, reap it, clean up.

        Returns the supervisor's status when it reported one.
        """
        if self.closed:
            return self.status
        self.closed = True
        if self.job_w >= 0:
            os.close(self.job_w)
            self.job_w = -1
        if kill:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the supervisor kills its subtree at EOF
        deadline = time.monotonic() + (2.0 if kill else 3.0)
        while not self._supervisor_exited() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._supervisor_exited():  # stuck or stopped: take the group down
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self._kill_group()
        self.proc.wait()
        try:
            out = self.proc.stdout.read()
            lines = out.decode(errors="replace").strip().splitlines()
            self.status = json.loads(lines[-1]) if lines else None
        except (OSError, ValueError):
            self.status = None
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        os.close(self.data_r)
        # The supervisor removes both the cgroup and the directory itself (so they go
        # even if this process dies); these are backstops for a supervisor that died.
        status = self.status or {}
        self.cgroup_hit_max = bool(status.get("cgroup_hit_max")) or _cgroup_hit_max(self.cgroup)
        _remove_cgroup(self.cgroup)
        self.log_tail = status.get("output_tail") or _tail(os.path.join(self.tmpdir, "output.log"))
        self.supervisor_log = _tail(os.path.join(self.tmpdir, "supervisor.log"), 2000)
        _rmtree(self.tmpdir)
        return self.status


def _tail(path: str, size: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _rmtree(path: str) -> None:
    """Remove a run's directory, even one whose folders the strategy made unreadable."""
    if not os.path.isdir(path) or os.path.islink(path):
        return  # the supervisor has removed it already

    def retry(func, target, _exc):
        if not target.startswith(path + os.sep):
            return  # never touch anything outside the run's directory
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)  # ``path`` itself or a folder in it
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, 0o700)
        with contextlib.suppress(OSError):
            func(target)

    shutil.rmtree(path, onerror=retry)


# ------------------------------------------------------------------------ pool


class WorkerPool:
    """Keeps ``size`` worker processes started ahead of time.

    Each run still gets a fresh process that is never reused; the pool only
    starts it before it is asked for, so the imports (about a second) are not
    on the request's path. Thread-safe. ``close()`` (also at exit) kills the
    idle ones.
    """

    def __init__(self, size: int = 1, *, limits: WorkerLimits | None = None):
        self.size = size
        self.limits = limits or WorkerLimits()
        self._idle: deque[_Worker] = deque()
        self._lock = threading.Lock()
        self._closed = False
        _pools.add(self)
        self._fill()

    def _fill(self) -> None:
        with self._lock:
            while not self._closed and len(self._idle) < self.size:
                self._idle.append(_new_worker(self.limits))

    def take(self, limits: WorkerLimits) -> _Worker:
        """A started worker (one that died while idle is replaced); the pool refills."""
        worker, dead = None, []
        with self._lock:
            while self._idle and worker is None:
                candidate = self._idle.popleft()
                if candidate.usable:
                    worker = candidate
                else:
                    dead.append(candidate)
        for candidate in dead:
            candidate.close(kill=True)
        self._fill()
        return worker or _new_worker(limits)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for worker in idle:
            worker.close(kill=True)
        _pools.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_pools: set[WorkerPool] = set()


def _close_pools() -> None:
    for pool in list(_pools):
        pool.close()


import atexit  # noqa: E402

atexit.register(_close_pools)


def _new_worker(limits: WorkerLimits) -> _Worker:
    tasks = limits.max_processes + 64 if limits.use_cgroup else None
    return _Worker(cgroup_tasks=tasks)


def _take(limits: WorkerLimits, pool: WorkerPool | None) -> _Worker:
    return pool.take(limits) if pool is not None else _new_worker(limits)


# --------------------------------------------------------------- outcomes


def _check_config(config) -> RunConfig:
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


def _limit_error(reason: str, limits: WorkerLimits, detail: str = "") -> WorkerError:
    what = {
        "cpu": f"its CPU limit of {limits.cpu_seconds:g} s",
        "memory": f"its memory limit of {limits.memory_mb:g} MB",
        "wall": f"its wall-clock limit of {limits.wall_seconds:g} s",
        "processes": f"its process limit of {limits.max_processes} extra processes",
        "file_size": f"its file size limit of {limits.file_mb:g} MB",
    }[reason]
    message = f"strategy exceeded {what}"
    if detail:
        message += f" ({detail})"
    return WorkerError(message, reason=reason)


def _processes_hit(worker: _Worker, limits: WorkerLimits) -> bool:
    status = worker.status or {}
    return (
        status.get("killed_for") == "processes"
        or status.get("peak_processes", 0) >= limits.max_processes
        or getattr(worker, "cgroup_hit_max", False)
    )


def _error_from_frame(frame: dict, worker: _Worker, limits: WorkerLimits) -> AlgobtError:
    """The worker's exception, rebuilt: same class, message and field."""
    limit = frame.get("limit")
    message = str(frame.get("message") or "")
    if limit == "processes" and not _processes_hit(worker, limits):
        limit = None
    if limit in ("memory", "file_size", "processes"):
        return _limit_error(limit, limits, message)
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


def _error_from_exit(worker: _Worker, limits: WorkerLimits) -> WorkerError:
    """Why the worker ended without an answer."""
    status = worker.status or {}
    if status.get("killed_for") == "processes" or getattr(worker, "cgroup_hit_max", False):
        return _limit_error("processes", limits)
    ws = status.get("worker") or {}
    sig, code = ws.get("signal"), ws.get("exit")
    started = worker.started or {}
    cpu_soft = started.get("cpu_soft")
    if sig == signal.SIGXCPU or (
        sig == signal.SIGKILL and cpu_soft is not None and ws.get("cpu", 0) >= cpu_soft - 0.5
    ):
        return _limit_error("cpu", limits)
    if sig == signal.SIGXFSZ:
        return _limit_error("file_size", limits)
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


def _fill_usage(usage: dict | None, worker: _Worker, t0: float) -> None:
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


# ----------------------------------------------------------------------- API


def run_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008  (frozen, so sharing is safe)
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
    usage: dict | None = None,
    progress=None,
) -> dict:
    """``run_config(config).to_dict()``, computed in a fresh, limited worker process.

    Returns the result dict, or raises the run's own ``ConfigError``/``DataError``/
    ``StrategyError`` (same message and field), or :class:`WorkerError` for a
    limit, a crash or ``cancel`` being set. Blocks; safe to call from many threads.
    usage: if given, filled with what the run used (CPU, peak memory, wall time, pids).
    progress: ``progress(phase, done, total)`` as ``run_config`` reports it, called in
    this thread; an exception it raises kills the worker and propagates.
    """
    _check_config(config)
    t0 = time.monotonic()
    worker = _take(limits, pool)
    result = error = None
    budget = _Budget(limits.wall_seconds)
    kill = True
    try:
        end = worker.submit("run", config, limits, cancel, budget)
        while end is None:
            frame = worker.read_frame(budget, cancel, limits.max_message_mb * 2**20)
            if isinstance(frame, str):
                end = frame
                break
            kind = frame.get("kind")
            if kind == "started":
                worker.started = frame
                worker.startup_seconds = time.monotonic() - t0
            elif kind == "progress":
                if progress is not None and frame.get("phase") in ("loading", "running"):
                    progress(frame["phase"], _count(frame.get("done")), _count(frame.get("total")))
            elif kind == "result":
                result = frame.get("result")
            elif kind == "error":
                error = frame
            elif kind == "usage":
                worker.usage = {k: v for k, v in frame.items() if k != "kind"}
            elif kind == "fatal":
                error = {"class": "internal", "message": frame.get("message")}
        kill = end != _EOF
    finally:
        worker.close(kill=kill)
        _fill_usage(usage, worker, t0)
    if result is not None:
        return result
    if end == _TIMEOUT:
        raise _limit_error("wall", limits)
    if end == _CANCELLED:
        raise WorkerError("the run was cancelled", reason="cancelled")
    if error is not None:
        raise _error_from_frame(error, worker, limits)
    raise _error_from_exit(worker, limits)


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
        cfg = _check_config(config)
    except AlgobtError as exc:
        yield _error_message(exc)
        return
    step = cfg.batch_size if cfg.batch else 1
    pace = step / cfg.speed if cfg.speed else 0.0
    t0 = time.monotonic()
    worker = _take(limits, pool)
    max_bytes = limits.max_message_mb * 2**20
    budget = _Budget(limits.wall_seconds)  # the computing phase: one budget in all
    replaying = False
    last_bar = 0
    error = None
    ended = False  # a final message (complete / error / cancelled) was passed on
    kill = True
    try:
        end = worker.submit("stream", config, limits, cancel, budget)
        while end is None:
            if replaying:  # each message within wall_seconds (plus its pacing)
                budget = _Budget(limits.wall_seconds + pace)
            try:
                frame = worker.read_frame(budget, cancel, max_bytes)
            except WorkerError as exc:
                error = exc
                break
            if isinstance(frame, str):
                end = frame
                break
            kind = frame.get("kind")
            if kind == "started":
                worker.started = frame
                worker.startup_seconds = time.monotonic() - t0
            elif kind == "usage":
                worker.usage = {k: v for k, v in frame.items() if k != "kind"}
            elif kind in ("error", "fatal"):
                if kind == "fatal":
                    frame = {"class": "internal", "message": frame.get("message")}
                error = _error_from_frame(frame, worker, limits)
            elif kind == "msg":
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
        kill = end != _EOF
    finally:
        worker.close(kill=kill)
        _fill_usage(usage, worker, t0)
    if ended:
        return
    if end == _CANCELLED:
        yield {"type": "cancelled", "bar_number": last_bar}
        return
    if end == _TIMEOUT:
        error = _limit_error("wall", limits)
    elif error is None:
        error = _error_from_exit(worker, limits)
    yield _error_message(error)


def _rewrite_stream_error(msg: dict, limits: WorkerLimits) -> dict:
    """events() reports exceptions as text; name the limit when one caused it."""
    text = str(msg.get("message") or "")
    if "MemoryError" in text:
        return _error_message(_limit_error("memory", limits, text))
    if "[Errno 27] File too large" in text:
        return _error_message(_limit_error("file_size", limits, text))
    return msg


# --------------------------------------------------------------------- asyncio


async def arun_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008
    pool: WorkerPool | None = None,
    usage: dict | None = None,
) -> dict:
    """``run_isolated`` for asyncio: waits in a thread of its own, the loop stays free.

    Cancelling the awaiting task kills the worker.
    """
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    future: asyncio.Future = loop.create_future()

    def settle(value=None, exc=None):
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)

    def target():
        try:
            value = run_isolated(config, limits=limits, cancel=cancel, pool=pool, usage=usage)
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting task)
            _call_soon(loop, settle, None, exc)
        else:
            _call_soon(loop, settle, value)

    threading.Thread(target=target, name="algobt-worker-run", daemon=True).start()
    try:
        return await future
    finally:
        cancel.set()  # a no-op once the run is over


def _call_soon(loop, fn, *args) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
        loop.call_soon_threadsafe(fn, *args)


async def astream_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
    usage: dict | None = None,
    buffer: int = 64,
) -> AsyncIterator[dict]:
    """``stream_isolated`` as an async iterator; a thread of its own reads the worker.

    At most ``buffer`` messages wait between that thread and the loop, so a slow
    consumer still blocks the worker. Closing the iterator kills the worker; after
    leaving ``async for`` early, close it at once with ``contextlib.aclosing``
    (otherwise that waits for the loop's shutdown of async generators).
    """
    loop = asyncio.get_running_loop()
    stop = threading.Event()  # the consumer has gone: stop the worker, stop handing over
    either = _Either(cancel, stop)
    slots = threading.Semaphore(buffer)  # messages handed over but not yet taken
    queue: asyncio.Queue = asyncio.Queue()
    done = object()

    def hand_over(item) -> bool:
        while not slots.acquire(timeout=_POLL):
            if stop.is_set():
                return False
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed
            return False
        return True

    def pump():
        stream = stream_isolated(config, limits=limits, cancel=either, pool=pool, usage=usage)
        try:
            for msg in stream:
                if not hand_over(msg):
                    return
        except BaseException as exc:  # noqa: BLE001  (re-raised in the consumer)
            hand_over(exc)
        finally:
            stream.close()
            hand_over(done)

    thread = threading.Thread(target=pump, name="algobt-worker-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            slots.release()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Either:
    """Set when either of two events is (the ``is_set`` that the stream polls)."""

    def __init__(self, *events: threading.Event | None):
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


__all__ = [
    "WorkerLimits",
    "WorkerError",
    "WorkerPool",
    "run_isolated",
    "stream_isolated",
    "arun_isolated",
    "astream_isolated",
]
