"""algobt.server.worker: isolated runs give the in-process answer; hostile strategies
cost an error, never a leftover process or a broken parent.

The hostile corpus lives in ``hostile/``: each file is a Strategy whose module level,
``init()`` or ``next()`` does one bad thing. Limits here are small (CPU 3 s, wall 6 s
where that is the point, 1.5 GB address space, 8 MB files) so the whole file runs in
about a minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from algobt.engine.config import RunConfig
from algobt.engine.events import events
from algobt.engine.run import run_config
from algobt.errors import ConfigError, DataError, StrategyError
from algobt.server.worker import (
    WorkerError,
    WorkerLimits,
    WorkerPool,
    arun_isolated,
    astream_isolated,
    run_isolated,
    stream_isolated,
)

psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker is Linux-only")

HOSTILE = Path(__file__).parent / "hostile"
SMA = (Path(__file__).parents[2] / "examples" / "sma_cross.py").read_text()
LIMITS = WorkerLimits(cpu_seconds=3, wall_seconds=20, memory_mb=1536, file_mb=8)
NORMAL = {"symbol": "DEMO", "period": "1y", "strategy_code": SMA}


def hostile(name: str, **params) -> dict:
    return {
        "symbol": "DEMO",
        "period": "1y",
        "strategy_code": (HOSTILE / f"{name}.py").read_text(),
        "params": params,
    }


def jsonish(value):
    """What survives the pipe: the in-process value after a JSON round trip."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2, limits=LIMITS) as p:
        yield p


@pytest.fixture(scope="module")
def reference():
    return jsonish(run_config(NORMAL).to_dict())


def session_members(sid: int) -> list[int]:
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == sid or os.getpgid(proc.pid) == sid:
                found.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            pass
    return found


def assert_nothing_left(usage: dict) -> None:
    """No process of the run's session or group, no cgroup, nothing below us but the pool."""
    assert session_members(usage["supervisor_pid"]) == []  # supervisor and worker included
    if usage.get("cgroup"):
        assert not os.path.exists(usage["cgroup"])


def assert_parent_works(pool, reference) -> None:
    usage: dict = {}
    assert run_isolated(NORMAL, limits=LIMITS, pool=pool, usage=usage) == reference
    assert_nothing_left(usage)


# ------------------------------------------------------------------ normal runs


def test_normal_run_matches_in_process(reference):
    usage: dict = {}
    result = run_isolated(NORMAL, limits=LIMITS, usage=usage)  # a cold, unpooled start
    assert result == reference
    assert result["total_trades"] > 0
    assert_nothing_left(usage)
    assert usage["subreaper"] is True
    # What a normal run needs, far below the default limit.
    assert 0 < usage["peak_vm_mb"] < WorkerLimits().memory_mb * 0.8
    assert usage["cpu_seconds"] < 2


def test_config_errors_keep_their_class_message_and_field(pool):
    bad = {**NORMAL, "initial_capital": -5}
    with pytest.raises(ConfigError) as expected:
        RunConfig.from_dict(bad)
    with pytest.raises(ConfigError) as got:
        run_isolated(bad, limits=LIMITS, pool=pool)
    assert type(got.value) is ConfigError
    assert (got.value.message, got.value.field) == (expected.value.message, "initial_capital")

    with pytest.raises(ConfigError, match="strategy_code") as got:
        run_isolated({**NORMAL, "strategy": object}, limits=LIMITS, pool=pool)
    assert got.value.field == "strategy"


def test_errors_from_the_worker_keep_their_class_message_and_field(pool):
    fd, name = tempfile.mkstemp(suffix=".csv")  # short: a symbol has at most 64 characters
    os.close(fd)
    csv = Path(name)
    csv.write_text("Date,Foo\n2024-01-01,1\n2024-01-02,2\n")
    cases = [
        ({**NORMAL, "symbol": str(csv), "period": None}, DataError),
        ({**NORMAL, "period": "1y", "strategy_code": "class X(:"}, StrategyError),
        ({**NORMAL, "interval": "7m"}, ConfigError),
    ]
    for config, cls in cases:
        with pytest.raises(cls) as expected:
            run_config(config)
        with pytest.raises(cls) as got:
            run_isolated(config, limits=LIMITS, pool=pool)
        assert type(got.value) is type(expected.value)
        assert got.value.message == expected.value.message
        assert got.value.field == expected.value.field
    csv.unlink()


# ------------------------------------------------------------ the hostile corpus

# Each case gets generous limits except the one it is about: on a busy machine a
# memory case may use seconds of CPU, and a CPU case more than 6 s of real time.
CASES = [
    # file, reason, message
    ("infinite_loop", "cpu", r"^strategy exceeded its CPU limit of 3 s"),
    ("module_loop", "cpu", r"^strategy exceeded its CPU limit of 3 s"),
    ("sleep_forever", "wall", r"^strategy exceeded its wall-clock limit of 6 s"),
    ("huge_bytearray", "memory", r"^strategy exceeded its memory limit of 1536 MB.*<strategy>:11"),
    ("huge_numpy", "memory", r"^strategy exceeded its memory limit of 1536 MB.*16.0 GiB"),
    ("growing_list", "memory", r"^strategy exceeded its memory limit of 1536 MB"),
    ("fork_bomb", "processes", r"^strategy exceeded its process limit of 16"),
    ("exit_3", "crash", r"^strategy process exited unexpectedly \(exit code 3\)"),
    ("kill_self", "crash", r"^strategy process crashed \(signal 9\)"),
    ("segfault", "crash", r"^strategy process crashed \(signal 11\).*Segmentation fault"),
]


@pytest.mark.parametrize("name, reason, message", CASES, ids=[c[0] for c in CASES])
def test_hostile_strategy_costs_an_error_and_nothing_else(name, reason, message, pool, reference):
    limits = dataclasses.replace(
        LIMITS,
        cpu_seconds=LIMITS.cpu_seconds if reason == "cpu" else 30,
        wall_seconds=6 if reason == "wall" else 60,
    )
    usage: dict = {}
    started = time.monotonic()
    with pytest.raises(WorkerError, match=message) as got:
        run_isolated(hostile(name), limits=limits, pool=pool, usage=usage)
    assert got.value.reason == reason
    assert isinstance(got.value, StrategyError)
    if reason == "wall":
        assert time.monotonic() - started < limits.wall_seconds + 2
    assert_nothing_left(usage)
    assert_parent_works(pool, reference)


def test_exception_in_next_names_the_strategys_line(pool, reference):
    config = hostile("raises")
    with pytest.raises(StrategyError) as expected:
        run_config(config)
    usage: dict = {}
    with pytest.raises(StrategyError) as got:
        run_isolated(config, limits=LIMITS, pool=pool, usage=usage)
    assert type(got.value) is StrategyError
    assert got.value.message == expected.value.message
    assert "boom on purpose at <strategy>:13" in got.value.message
    assert_nothing_left(usage)
    assert_parent_works(pool, reference)


def test_sys_exit_is_a_strategy_error(pool):
    with pytest.raises(StrategyError, match="stopped the process"):
        run_isolated(hostile("sys_exit"), limits=LIMITS, pool=pool)


def test_big_file_hits_the_file_limit_and_the_temp_dir_goes(pool, reference, tmp_path):
    report = tmp_path / "cwd.txt"
    usage: dict = {}
    with pytest.raises(WorkerError, match=r"file size limit of 8 MB.*File too large") as got:
        run_isolated(hostile("big_file", report=str(report)), limits=LIMITS, pool=pool, usage=usage)
    assert got.value.reason == "file_size"
    workdir = Path(report.read_text())
    assert workdir.name.startswith("algobt-worker-")
    assert not workdir.exists()
    assert_nothing_left(usage)
    assert_parent_works(pool, reference)


def test_writing_outside_the_temp_dir_is_capped_not_prevented(pool, tmp_path):
    target = tmp_path / "outside.bin"
    with pytest.raises(WorkerError, match="file size limit of 8 MB") as got:
        run_isolated(hostile("write_outside", target=str(target)), limits=LIMITS, pool=pool)
    assert got.value.reason == "file_size"
    # Not a sandbox: the file exists, but no bigger than the limit.
    assert target.stat().st_size <= LIMITS.file_mb * 2**20


def test_a_daemon_that_escapes_the_session_is_killed_too(pool, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    usage: dict = {}
    result = run_isolated(
        hostile("escape_setsid", pidfile=str(pidfile)), limits=LIMITS, pool=pool, usage=usage
    )
    assert result["total_trades"] == 0
    daemon = int(pidfile.read_text())
    assert os.getsid(os.getpid()) != daemon  # it really left our session ...
    assert not psutil.pid_exists(daemon)  # ... and is gone all the same
    assert usage["leftovers_killed"] >= 1
    assert_nothing_left(usage)


def test_a_pooled_worker_that_died_while_idle_is_replaced(reference):
    with WorkerPool(1, limits=LIMITS) as pool:
        idle = pool._idle[0]
        os.killpg(idle.pgid, signal.SIGKILL)
        idle.proc.wait()
        assert run_isolated(NORMAL, limits=LIMITS, pool=pool) == reference


def test_a_taken_worker_is_replaced_when_its_job_ends_not_while_it_runs(reference):
    """The replacement's imports would compete with the run for the CPU."""
    with WorkerPool(1, limits=LIMITS) as pool:
        stream = stream_isolated(STREAM, limits=LIMITS, pool=pool)
        for _ in range(5):
            next(stream)
        assert len(pool._idle) == 0
        list(stream)
        assert len(pool._idle) == 1
        assert run_isolated(NORMAL, limits=LIMITS, pool=pool) == reference
        assert len(pool._idle) == 1


def test_cancel_stops_a_run(pool):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    usage: dict = {}
    started = time.monotonic()
    with pytest.raises(WorkerError, match="cancelled") as got:
        run_isolated(hostile("sleep_forever"), limits=LIMITS, pool=pool, cancel=cancel, usage=usage)
    assert got.value.reason == "cancelled"
    assert time.monotonic() - started < 2
    assert_nothing_left(usage)


# ---------------------------------------------------------------------- streams

STREAM = {**NORMAL, "period": "max", "indicators": {"RSI": {"timeperiod": 14}}}


def test_stream_matches_in_process_events(pool):
    for config in (STREAM, {**STREAM, "batch": True, "batch_size": 250}):
        expected = jsonish(list(events(config)))
        usage: dict = {}
        got = list(stream_isolated(config, limits=LIMITS, pool=pool, usage=usage))
        assert got == expected
        assert got[-1]["type"] == "complete"
        assert_nothing_left(usage)


def test_stream_errors_match_in_process_events(pool):
    for config in ({**STREAM, "initial_capital": -1}, hostile("raises")):
        expected = jsonish(list(events(config)))
        assert expected[-1]["type"] == "error"
        assert list(stream_isolated(config, limits=LIMITS, pool=pool)) == expected


def test_stream_limit_violation_ends_with_an_error(pool):
    usage: dict = {}
    limits = dataclasses.replace(LIMITS, wall_seconds=60)
    msgs = list(stream_isolated(hostile("infinite_loop"), limits=limits, pool=pool, usage=usage))
    assert [m["type"] for m in msgs] == ["metadata", "metadata", "error"]
    assert msgs[-1]["message"].startswith("strategy exceeded its CPU limit of 3 s")
    assert msgs[-1]["code"] == "strategy_error"
    assert_nothing_left(usage)


def test_stream_cancel_kills_the_worker_promptly(pool):
    cancel = threading.Event()
    usage: dict = {}
    stream = stream_isolated(STREAM, limits=LIMITS, pool=pool, cancel=cancel, usage=usage)
    seen = [next(stream) for _ in range(20)]
    worker = running_worker(pool)
    cancel.set()
    started = time.monotonic()
    rest = list(stream)
    assert time.monotonic() - started < 1
    assert rest[-1]["type"] == "cancelled"
    assert rest[-1]["bar_number"] == max(m.get("bar_number", 0) for m in seen + rest[:-1])
    assert not psutil.pid_exists(worker)
    assert_nothing_left(usage)


def test_closing_the_stream_kills_the_worker(pool):
    usage: dict = {}
    stream = stream_isolated(STREAM, limits=LIMITS, pool=pool, usage=usage)
    for _ in range(5):
        next(stream)
    worker = running_worker(pool)
    stream.close()
    assert not psutil.pid_exists(worker)
    assert_nothing_left(usage)


def running_worker(pool) -> int:
    """The pid of the one worker below us that is not idle in ``pool``."""
    idle = {w.proc.pid for w in pool._idle}
    busy = [
        child.pid
        for supervisor in psutil.Process().children()
        if supervisor.pid not in idle
        for child in supervisor.children()
    ]
    assert len(busy) == 1, busy
    return busy[0]


def test_a_reader_that_stops_blocks_the_worker_not_the_memory(pool):
    """The replay has ~1.5 MB of messages; after 10 are read the worker may only run
    ahead by what the pipe holds (64 KiB), so it must sit blocked in a pipe write."""
    expected = jsonish(list(events(STREAM)))
    assert len(json.dumps(expected)) > 20 * 2**16
    stream = stream_isolated(STREAM, limits=LIMITS, pool=pool)
    got = [next(stream) for _ in range(10)]
    time.sleep(0.5)
    worker = psutil.Process(running_worker(pool))
    before = worker.cpu_times()
    time.sleep(1.0)
    after = worker.cpu_times()
    with open(f"/proc/{worker.pid}/wchan") as f:
        assert "pipe_write" in f.read()
    assert worker.status() == psutil.STATUS_SLEEPING
    assert after.user + after.system - before.user - before.system < 0.05
    got.extend(stream)  # and nothing was lost
    assert got == expected


def wait_until_ready(pool, timeout=30.0) -> None:
    """Until every idle worker of ``pool`` has imported and waits for its job."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = 0
        for worker in list(pool._idle):
            for child in psutil.Process(worker.proc.pid).children():
                with open(f"/proc/{child.pid}/wchan") as f:
                    waiting += "pipe_read" in f.read()
        if waiting == len(pool._idle):
            return
        time.sleep(0.05)


def test_slow_replay_is_not_a_wall_clock_violation(pool):
    """Only the computing phase counts in full; a paced replay may take longer."""
    config = {**NORMAL, "period": "1mo", "speed": 6}  # ~21 bars: ~3.5 s of replay
    limits = WorkerLimits(cpu_seconds=3, wall_seconds=3, memory_mb=1536)
    wait_until_ready(pool)  # so the 3 s are the run's, not the imports'
    started = time.monotonic()
    msgs = list(stream_isolated(config, limits=limits, pool=pool))
    assert time.monotonic() - started > 3.2
    assert msgs[-1]["type"] == "complete"


# ---------------------------------------------------------------------- asyncio


def test_arun_isolated(pool, reference):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await arun_isolated(NORMAL, limits=LIMITS, pool=pool)
        task.cancel()
        return result, ticks

    result, ticks = asyncio.run(main())
    assert result == reference
    assert ticks > 3  # the loop kept running while the worker worked


def test_cancelling_arun_kills_the_worker(pool):
    usage: dict = {}

    async def main():
        task = asyncio.create_task(
            arun_isolated(hostile("sleep_forever"), limits=LIMITS, pool=pool, usage=usage)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    deadline = time.monotonic() + 2
    while "supervisor_pid" not in usage and time.monotonic() < deadline:
        time.sleep(0.01)  # the run's thread finishes its clean-up
    assert_nothing_left(usage)


def test_astream_isolated(pool):
    expected = jsonish(list(events(STREAM)))

    async def collect(limit=None):
        out = []
        usage: dict = {}
        async for msg in astream_isolated(STREAM, limits=LIMITS, pool=pool, usage=usage):
            out.append(msg)
            if limit and len(out) == limit:
                break
        return out, usage

    got, _ = asyncio.run(collect())
    assert got == expected

    got, usage = asyncio.run(collect(limit=5))
    assert got == expected[:5]
    deadline = time.monotonic() + 2
    while "supervisor_pid" not in usage and time.monotonic() < deadline:
        time.sleep(0.01)
    assert_nothing_left(usage)
