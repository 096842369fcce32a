"""One supervisor + worker process pair (``WorkerProcess``), started now, used for one
job: starting it, sending the job, reading its frames against a budget of seconds,
and ending it — killing and reaping the whole tree and removing its directory."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from algobt.server.worker import wire
from algobt.server.worker.cgroup import cgroup_hit_max, make_cgroup, remove_cgroup
from algobt.server.worker.limits import WorkerError, WorkerLimits

_MAIN = str(Path(__file__).with_name("_main.py"))
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
POLL = 0.05  # seconds between checks of cancel, deadline and supervisor while waiting
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


class Budget:
    """Seconds the parent may still wait on the worker."""

    def __init__(self, seconds: float):
        self.left = seconds

    def spend(self, seconds: float) -> None:
        self.left -= seconds


EOF, TIMEOUT, CANCELLED = "eof", "timeout", "cancelled"


class WorkerProcess:
    """One supervisor + worker process pair, started now, used for one job."""

    def __init__(self, *, warm: bool = True, cgroup_tasks: int | None = None):
        self.started_at = time.monotonic()
        self.tmpdir = tempfile.mkdtemp(prefix="algobt-worker-")
        self.cgroup = make_cgroup(cgroup_tasks) if cgroup_tasks else None
        self.buf = wire.FrameBuffer()
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
            remove_cgroup(self.cgroup)
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
        """Send the job; returns TIMEOUT/CANCELLED/EOF if it could not be sent."""
        if self.cgroup:  # a pooled process: its cap follows this job's limits
            with contextlib.suppress(OSError):
                with open(os.path.join(self.cgroup, "pids.max"), "w") as f:
                    f.write(str(limits.max_processes + 64) if limits.use_cgroup else "max")
        line = wire.control_line(max_processes=limits.max_processes)
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError:
            return EOF
        data = memoryview(wire.encode({"mode": mode, "config": config, "limits": asdict(limits)}))
        poller = select.poll()
        poller.register(self.job_w, select.POLLOUT)
        try:
            while data:
                if cancel is not None and cancel.is_set():
                    return CANCELLED
                if budget.left <= 0:
                    return TIMEOUT
                t0 = time.monotonic()
                ready = poller.poll(min(budget.left, POLL) * 1000)
                budget.spend(time.monotonic() - t0)
                if ready:
                    try:
                        data = data[os.write(self.job_w, data) :]
                    except BlockingIOError:
                        pass
                elif self._supervisor_exited():
                    return EOF
        except OSError:  # BrokenPipeError: the worker is gone
            return EOF
        finally:
            os.close(self.job_w)
            self.job_w = -1
        return None

    def read_frame(self, budget: Budget, cancel, max_bytes: int):
        """The next frame from the worker, or EOF / TIMEOUT / CANCELLED."""
        poller = select.poll()
        poller.register(self.data_r, select.POLLIN)
        while True:
            if cancel is not None and cancel.is_set():  # before what is buffered: stop now
                return CANCELLED
            try:
                frame = self.buf.take(max_bytes)
            except wire.FrameError as exc:
                if exc.size is not None:
                    raise WorkerError(
                        f"the worker sent a message of {exc.size / 2**20:.0f} MB, more than "
                        f"the limit of {max_bytes / 2**20:.0f} MB",
                        reason="memory",
                    ) from None
                raise WorkerError(
                    "the worker sent a malformed message", reason="internal"
                ) from None
            if frame is not None:
                return frame
            if self.eof:
                return EOF
            if budget.left <= 0:
                return TIMEOUT
            t0 = time.monotonic()
            ready = poller.poll(min(budget.left, POLL) * 1000)
            budget.spend(time.monotonic() - t0)
            if ready:
                chunk = os.read(self.data_r, 1 << 16)
                if chunk:
                    self.buf.feed(chunk)
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
            self.status = wire.parse_status(self.proc.stdout.read())
        except (OSError, ValueError):
            self.status = None
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        os.close(self.data_r)
        # The supervisor removes both the cgroup and the directory itself (so they go
        # even if this process dies); these are backstops for a supervisor that died.
        status = self.status or {}
        self.cgroup_hit_max = bool(status.get("cgroup_hit_max")) or cgroup_hit_max(self.cgroup)
        remove_cgroup(self.cgroup)
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
