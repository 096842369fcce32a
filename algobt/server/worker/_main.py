"""The isolated worker's own process: a tiny supervisor and the worker it forks.

Started by :mod:`algobt.server.worker.process` as ``python -c <boot> <this file>
<spec>`` (a fresh interpreter, in its own session), so it must import nothing but
the standard library at module level and must not import the ``algobt`` package
before it forks: the supervisor stays small and single-threaded. The frame format
comes from ``wire.py`` beside this file, loaded by its path (it too is standard
library only), so both ends read and write the same frames.

* The **supervisor** (this process, the session leader) marks itself a child
  subreaper, forks the worker, then only watches: it reaps every process in
  its subtree, counts the subtree against ``max_processes`` and, when the
  worker has exited (or the parent asks, or the parent goes away), kills every
  process left below it and reports one JSON status line on stdout.
* The **worker** imports algobt (pandas, numba, warm caches), waits for a job
  on its job pipe, sets its resource limits, runs the job and writes
  length-prefixed JSON frames on its data pipe. Its stdout and stderr go to
  ``output.log`` in the run's temporary directory.

Frames (worker → parent, see ``wire.py``): ``started``, ``progress`` (run: phase,
done, total), ``msg`` (stream), ``result`` (run), ``error`` (an exception, with its
class, message, field and limit hint), ``usage`` (peak memory, CPU) and ``fatal``
(the worker could not start).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import signal
import sys
import time


def _load_wire():
    """``wire.py`` from this folder, without importing the algobt package."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "_algobt_worker_wire", os.path.join(here, "wire.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()
PR_SET_CHILD_SUBREAPER = 36
SCAN_EVERY = 0.02  # seconds between two counts of the supervisor's subtree

# ---------------------------------------------------------------- /proc helpers


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def _children_by_scan(pid: int) -> list[int]:
    """Fallback for kernels without ``/proc/<pid>/task/<tid>/children``."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


_HAS_CHILDREN_FILE = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def descendants(root: int) -> list[int]:
    """Every live (or zombie) process below ``root``."""
    list_children = _children if _HAS_CHILDREN_FILE else _children_by_scan
    seen: list[int] = []
    stack = list_children(root)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        stack.extend(list_children(pid))
    return seen


def _status_field(name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _user_tasks(uid: int) -> int:
    """Tasks (processes and threads) owned by ``uid``: what RLIMIT_NPROC counts."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                owner = threads = None
                for line in f:
                    if line.startswith("Uid:"):
                        owner = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads = int(line.split()[1])
                if owner == uid:
                    total += threads or 1
        except (OSError, ValueError):
            pass
    return total


# ------------------------------------------------------------------- the worker


class _Channel:
    """Length-prefixed JSON frames on the data pipe. Only the worker itself writes:
    a process the strategy forked stays silent, so frames never interleave."""

    def __init__(self, fd: int):
        self.fd = fd
        self.pid = os.getpid()

    def send(self, frame: dict) -> None:
        if os.getpid() != self.pid:
            return
        data = memoryview(wire.encode(frame, default=_json_default))
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except BrokenPipeError:  # the parent went away or stopped listening
            os._exit(0)


def _json_default(value):
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    iso = getattr(value, "isoformat", None)  # timestamps, dates
    if callable(iso):
        return iso()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _limit_hint(exc: BaseException) -> str | None:
    """Which resource limit, if any, an exception (or its causes) comes from."""
    import errno

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError):
            return "memory"
        if isinstance(exc, OSError):
            if exc.errno == errno.EFBIG:
                return "file_size"
            if exc.errno == errno.EAGAIN and isinstance(exc, BlockingIOError):
                return "processes"
        exc = exc.__cause__ or exc.__context__
    return None


def _apply_limits(limits: dict, tmpdir: str) -> dict:
    """Set this process's resource limits; returns what was set (for the parent)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_now = used.ru_utime + used.ru_stime
    cpu_soft = math.ceil(cpu_now + float(limits["cpu_seconds"]))  # whole seconds only
    applied = {"cpu_soft": cpu_soft, "cpu_at_start": cpu_now}

    def setlimit(which, value):
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value if which != resource.RLIMIT_CPU else value + 2))

    setlimit(resource.RLIMIT_CPU, cpu_soft)
    setlimit(resource.RLIMIT_AS, int(limits["memory_mb"]) * 2**20)
    setlimit(resource.RLIMIT_FSIZE, int(limits["file_mb"]) * 2**20)
    setlimit(resource.RLIMIT_CORE, 0)
    if os.geteuid() != 0:  # not enforced for root: the supervisor's count is the guard
        try:
            nproc = _user_tasks(os.getuid()) + int(limits["max_processes"]) + 32
            setlimit(resource.RLIMIT_NPROC, nproc)
            applied["nproc"] = nproc
        except (OSError, ValueError):
            pass
    os.chdir(tmpdir)
    os.environ["TMPDIR"] = tmpdir
    import tempfile

    tempfile.tempdir = tmpdir
    return applied


_WARM_STRATEGY = """
from algobt import Strategy
from algobt.lib import SMA, crossover

class Warm(Strategy):
    def init(self):
        self.a = self.I(SMA, self.data.Close, 5)
        self.b = self.I(SMA, self.data.Close, 10)

    def next(self):
        if crossover(self.a, self.b):
            self.buy()
        elif crossover(self.b, self.a) and self.position:
            self.position.close()
"""


def worker_main(spec: dict, job_fd: int, data_fd: int) -> None:
    """The forked worker: import, wait for a job, limit itself, run, report, exit."""
    tmpdir = spec["tmpdir"]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open(os.path.join(tmpdir, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    channel = _Channel(data_fd)
    try:
        import faulthandler

        faulthandler.enable()
        import algobt  # noqa: F401  (user code imports it: make that free)
        from algobt.engine.events import events
        from algobt.engine.run import run_config
        from algobt.errors import AlgobtError

        if spec.get("warm"):
            try:  # load numba's caches, pyarrow and the demo data before the job
                run_config({"symbol": "DEMO", "period": "3mo", "strategy_code": _WARM_STRATEGY})
            except Exception:
                pass
    except BaseException:
        import traceback

        channel.send({"kind": wire.FATAL, "message": traceback.format_exc(limit=5)})
        os._exit(70)

    job = wire.read_frame(job_fd)
    os.close(job_fd)
    if job is None:  # the parent went away, or gave up before sending a job
        os._exit(0)
    limits = job["limits"]
    applied = _apply_limits(limits, tmpdir)
    channel.send({"kind": wire.STARTED, "pid": os.getpid(), **applied})

    def error_frame(exc: BaseException) -> dict:
        if isinstance(exc, AlgobtError):
            return {
                "kind": wire.ERROR,
                "class": type(exc).__name__,
                "message": exc.message,
                "field": exc.field,
                "code": exc.code,
                "limit": _limit_hint(exc),
            }
        if isinstance(exc, SystemExit | KeyboardInterrupt):
            return {
                "kind": wire.ERROR,
                "class": "StrategyError",
                "message": f"the strategy stopped the process ({type(exc).__name__}: {exc})",
                "field": None,
                "code": "strategy_error",
                "limit": None,
            }
        return {
            "kind": wire.ERROR,
            "class": "internal",
            "message": f"{type(exc).__name__}: {exc}",
            "field": None,
            "code": "internal_error",
            "limit": _limit_hint(exc),
        }

    try:
        if job["mode"] in ("run", "run:full"):  # run:full: every alert, not the summary
            alerts = "full" if job["mode"] == "run:full" else "summary"

            def progress(phase, done, total):
                channel.send({"kind": wire.PROGRESS, "phase": phase, "done": done, "total": total})

            result = run_config(job["config"], progress=progress).to_dict(alerts=alerts)
            channel.send({"kind": wire.RESULT, "result": result})
        else:
            for msg in events(job["config"]):
                channel.send({"kind": wire.MSG, "msg": msg})
    except BaseException as exc:  # noqa: BLE001  (the strategy may raise anything)
        try:
            frame = error_frame(exc)
        except BaseException:  # e.g. MemoryError while describing a MemoryError
            frame = {"kind": wire.ERROR, "class": "internal", "message": "MemoryError",
                     "field": None, "code": "internal_error", "limit": "memory"}  # fmt: skip
        channel.send(frame)
    try:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        channel.send(
            {
                "kind": wire.USAGE,
                "cpu_seconds": usage.ru_utime + usage.ru_stime - applied["cpu_at_start"],
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "peak_vm_mb": (_status_field("VmPeak") or 0) / 1024,
            }
        )
    finally:
        os._exit(0)


# --------------------------------------------------------------- the supervisor


class Supervisor:
    def __init__(self, worker_pid: int):
        self.me = os.getpid()
        self.worker_pid = worker_pid
        self.worker_status: dict | None = None
        self.max_processes: int | None = None
        self.peak_processes = 0
        self.killed_for: str | None = None
        self.abort = False
        self.stdin_buf = b""

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.worker_pid:
                self.worker_status = {
                    "pid": pid,
                    "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                    "cpu": usage.ru_utime + usage.ru_stime,
                    "maxrss_mb": usage.ru_maxrss / 1024,
                }

    def kill_all(self, patience: float = 5.0) -> int:
        """SIGKILL everything below us until nothing is left; returns how many were killed."""
        killed: set[int] = set()
        stop = time.monotonic() + patience
        while time.monotonic() < stop:
            pids = descendants(self.me)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.002)
            self.reap()
        self.reap()
        return len(killed - {self.worker_pid})

    def read_stdin(self) -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:  # the parent closed our stdin: stop now (or it died)
            self.abort = True
            return
        self.stdin_buf += data
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            command = wire.parse_control(line)
            if "max_processes" in command:
                self.max_processes = int(command["max_processes"])
            if command.get("kill"):
                self.abort = True

    def run(self) -> dict:
        # SIGCHLD wakes the select below at once (a byte on ``wake``), so a finished
        # worker is reaped without waiting for the next scan.
        wake, wake_w = os.pipe()
        os.set_blocking(wake, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        last_scan = 0.0
        while self.worker_status is None and not self.abort:
            try:
                ready, _, _ = select.select([0, wake], [], [], SCAN_EVERY)
            except InterruptedError:
                ready = []
            if 0 in ready:
                self.read_stdin()
            if wake in ready:
                with contextlib.suppress(OSError):
                    os.read(wake, 4096)
            self.reap()
            now = time.monotonic()
            if self.max_processes is not None and now - last_scan >= SCAN_EVERY:
                last_scan = now
                extra = len(descendants(self.me)) - 1  # the worker itself does not count
                self.peak_processes = max(self.peak_processes, extra)
                if extra > self.max_processes:
                    self.killed_for = "processes"
                    break
        if self.abort and self.killed_for is None:
            self.killed_for = "abort"
        leftovers = self.kill_all()
        return {
            "worker": self.worker_status,
            "killed_for": self.killed_for,
            "leftovers": leftovers,
            "peak_processes": self.peak_processes,
        }


def _join_cgroup(path: str | None) -> bool:
    if not path:
        return False
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        return True
    except OSError:
        return False


def _leave_cgroup(path: str) -> bool:
    """Move back to the parent cgroup and remove ours (its tasks are all dead by now).

    Returns whether ``pids.max`` was ever hit.
    """
    hit = False
    try:
        with open(os.path.join(path, "pids.events")) as f:
            hit = any(line.split()[0] == "max" and int(line.split()[1]) > 0 for line in f)
        with open(os.path.join(os.path.dirname(path), "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
        os.rmdir(path)
    except (OSError, ValueError, IndexError):
        pass
    return hit


def _tail(path: str, size: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def main(raw_spec: str) -> None:
    spec = json.loads(raw_spec)
    sys.path[:] = spec["sys_path"]
    in_cgroup = _join_cgroup(spec.get("cgroup"))
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        subreaper = False
    job_fd, data_fd = spec["job_fd"], spec["data_fd"]
    pid = os.fork()
    if pid == 0:
        try:
            worker_main(spec, job_fd, data_fd)
        finally:
            os._exit(70)
    os.close(job_fd)
    os.close(data_fd)
    sup = Supervisor(pid)
    signal.signal(signal.SIGTERM, lambda *_: setattr(sup, "abort", True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status = sup.run()
    # Clean up here, not only in the parent: this also runs when the parent has died.
    status.update(
        subreaper=subreaper,
        cgroup=in_cgroup,
        cgroup_hit_max=in_cgroup and _leave_cgroup(spec["cgroup"]),
        output_tail=_tail(os.path.join(spec["tmpdir"], "output.log")),
    )
    import shutil

    shutil.rmtree(spec["tmpdir"], ignore_errors=True)
    try:
        os.write(1, wire.status_line(status))
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[-1])
