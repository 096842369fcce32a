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

**The processes.** ``python -c`` runs ``_main.py`` as a *supervisor*
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

**The modules**, one job each: ``limits`` (what a run may use, and the error past
it), ``wire`` (the frames and control lines both ends speak), ``cgroup`` (the
``pids`` cap), ``process`` (one supervisor + worker pair, start to reaping),
``pool`` (workers started ahead), ``outcomes`` (how a run ended, as our errors),
``run`` (``run_isolated``/``stream_isolated``), ``aio`` (their asyncio forms) and
``_main`` (the child's own code: supervisor and worker).
"""

from algobt.server.worker.aio import arun_isolated, astream_isolated
from algobt.server.worker.limits import WorkerError, WorkerLimits
from algobt.server.worker.pool import WorkerPool
from algobt.server.worker.run import run_isolated, stream_isolated

__all__ = [
    "WorkerLimits",
    "WorkerError",
    "WorkerPool",
    "run_isolated",
    "stream_isolated",
    "arun_isolated",
    "astream_isolated",
]
