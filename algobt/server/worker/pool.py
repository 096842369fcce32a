"""``WorkerPool``: worker processes started ahead of time, so a run need not wait
about a second for the imports; and ``take_worker``, a started one for the next job."""

from __future__ import annotations

import atexit
import threading
from collections import deque

from algobt.server.worker.limits import WorkerLimits
from algobt.server.worker.process import WorkerProcess


class WorkerPool:
    """Keeps ``size`` worker processes started ahead of time.

    Each run still gets a fresh process that is never reused; the pool only
    starts it before it is asked for, so the imports (about a second) are not
    on the request's path. A taken worker is replaced when its job ends
    (``done()``), not while it runs: the replacement's imports, a second of CPU,
    would otherwise compete with the run and with the page drawing it (100,000
    streamed bars: 4.4 s against 5.0 s on 2 cores). Thread-safe. ``close()``
    (also at exit) kills the idle ones.
    """

    def __init__(self, size: int = 1, *, limits: WorkerLimits | None = None):
        self.size = size
        self.limits = limits or WorkerLimits()
        self._idle: deque[WorkerProcess] = deque()
        self._lock = threading.Lock()
        self._closed = False
        _pools.add(self)
        self._fill()

    def _fill(self) -> None:
        with self._lock:
            while not self._closed and len(self._idle) < self.size:
                self._idle.append(new_worker(self.limits))

    def take(self, limits: WorkerLimits) -> WorkerProcess:
        """A started worker (or a new one when none is idle); ``done()`` when its job ends."""
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
        return worker or new_worker(limits)

    def done(self) -> None:
        """A taken worker's job ended: start its replacement now."""
        self._fill()

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


atexit.register(_close_pools)


def new_worker(limits: WorkerLimits) -> WorkerProcess:
    tasks = limits.max_processes + 64 if limits.use_cgroup else None
    return WorkerProcess(cgroup_tasks=tasks)


def take_worker(limits: WorkerLimits, pool: WorkerPool | None) -> WorkerProcess:
    return pool.take(limits) if pool is not None else new_worker(limits)


def worker_done(pool: WorkerPool | None) -> None:
    """Call when a job from ``take_worker`` has ended (its worker closed)."""
    if pool is not None:
        pool.done()
