"""A ``pids`` cgroup (v1) per run, where one can be made: a kernel-enforced cap on the
processes and threads a strategy may start (``pids.max``)."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time

_counter = itertools.count()


def make_cgroup(max_tasks: int) -> str | None:
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


def cgroup_hit_max(path: str | None) -> bool:
    if not path:
        return False
    try:
        with open(os.path.join(path, "pids.events")) as f:
            return any(line.split()[0] == "max" and int(line.split()[1]) > 0 for line in f)
    except (OSError, ValueError, IndexError):
        return False


def remove_cgroup(path: str | None) -> None:
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
