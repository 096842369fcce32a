"""Real processes on one file: a writer and a reader at once, and a writer killed with
SIGKILL at random moments. Figures are printed (``pytest -s`` shows them)."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time

import pytest

from algobt.store import Store
from tests.store._workers import (
    opener,
    raw_connection,
    reader,
    saver_loop,
    wholeness_problems,
    writer,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and fork are POSIX")


def test_writer_and_reader_processes_share_one_file(tmp_path):
    """Both open a new file at the same moment (one migrates, the other waits), then one
    saves completed runs with trades while the other reads latest results, runs and
    trades. No lock error escapes, and every read sees whole runs only."""
    path = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    seconds = 3.0
    procs = [
        ctx.Process(target=writer, args=(path, seconds, barrier, queue)),
        ctx.Process(target=reader, args=(path, seconds, barrier, queue)),
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    reports = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)
    elapsed = time.monotonic() - started
    w, r = reports["writer"], reports["reader"]
    print(
        f"\n[store] 2 processes, {elapsed:.1f} s: writer saved {w['saved']} runs; reader did "
        f"{r['reads']} API reads, checked {r['runs_checked']} listed runs and "
        f"{r['snapshots']} whole-database snapshots"
    )
    assert w["errors"] == [] and r["errors"] == []
    assert r["problems"] == []
    assert w["saved"] >= 20 and r["snapshots"] >= 5 and r["reads"] >= 50
    with Store(path) as store:
        assert store.list_runs()["count"] == w["saved"]
        assert store.latest_results()["count"] == 3
        assert store.integrity_check() == ["ok"]


def test_processes_opening_one_new_file_at_once_all_get_in(tmp_path):
    """Four processes open one new file at the same instant, thirty times over. Switching
    a new file to WAL makes SQLite answer "locked" without waiting; every opener still
    gets in, and each one's strategy is there afterwards."""
    ctx = multiprocessing.get_context("fork")
    rounds, width, failures = 30, 4, []
    for i in range(rounds):
        path = str(tmp_path / f"new-{i}.db")
        barrier, queue = ctx.Barrier(width), ctx.Queue()
        procs = [ctx.Process(target=opener, args=(path, barrier, queue)) for _ in range(width)]
        for p in procs:
            p.start()
        failures += [r for r in (queue.get(timeout=60) for _ in procs) if r]
        for p in procs:
            p.join(30)
        with Store(path) as store:
            assert store.list_strategies()["count"] == width
    assert failures == []


def test_killed_writer_leaves_whole_runs_only(tmp_path):
    """A child saves runs in a loop and is killed with SIGKILL at a random moment, again
    and again (fork keeps each cycle short). Every run present is whole afterwards."""
    path = str(tmp_path / "crash.db")
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(20240101)
    cycles, in_flight, interrupted, started = 24, 0, 0, time.monotonic()
    tokens_seen = 0
    for cycle in range(cycles):
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=saver_loop, args=(path, cycle, send))
        child.start()
        send.close()
        time.sleep(rng.uniform(0.03, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        tokens = []
        while receive.poll():
            try:
                tokens.append(receive.recv())
            except EOFError:
                break
        receive.close()
        tokens_seen += len(tokens)
        if tokens:
            in_flight += 1
            conn = raw_connection(path)
            found = conn.execute(
                "SELECT status FROM backtest_runs WHERE json_extract(config, '$.token') = ?",
                (tokens[-1],),
            ).fetchone()
            conn.close()
            if found is None or found[0] != "completed":
                interrupted += 1  # the kill landed inside that store call
    elapsed = time.monotonic() - started

    conn = raw_connection(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert wholeness_problems(conn) == []
    counts = {
        status: n
        for status, n in conn.execute("SELECT status, count(*) FROM backtest_runs GROUP BY 1")
    }
    trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
    conn.close()
    print(
        f"\n[store] {cycles} SIGKILLs in {elapsed:.1f} s; {tokens_seen} saves begun, runs kept "
        f"{counts}, {trades} trades; {interrupted} of {in_flight} kills landed inside a "
        "store call, which left nothing (or an unfinished run without results)"
    )
    assert counts.get("completed", 0) >= 20
    assert interrupted >= 5  # the kills did land mid-save, and nothing half-written survived
    with Store(path) as store:  # and the file opens and takes new runs
        assert store.integrity_check() == ["ok"]
        assert store.list_runs(status="completed")["count"] == counts["completed"]


def test_a_kill_during_a_transaction_rolls_it_back(tmp_path):
    """Deterministic: a child holds a save's transaction open (all rows written, not
    committed) and is killed; none of those rows are visible afterwards."""
    path = str(tmp_path / "held.db")
    Store(path).close()
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_hold_a_save, args=(path, ready))
    child.start()
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM backtest_runs").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM trades").fetchone()[0] == 0
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store(path) as store:  # the lock the dead child held is gone too
        run = store.create_run({"symbol": "DEMO"})
        assert store.get_run(run["id"])["status"] == "queued"


def _hold_a_save(path, ready):
    from tests.store._workers import synthetic_result

    store = Store(path)
    with store._db.write() as conn:
        run_id = store._insert_run(conn, {"symbol": "DEMO"}, _fields(), None, "running",
                                   "test", None, None)  # fmt: skip
        from algobt.store.shapes import prepare_result

        store._save_prepared(conn, run_id, prepare_result(synthetic_result(random.Random(), 50)))
        assert conn.execute("SELECT count(*) FROM trades").fetchone()[0] == 50
        ready.set()
        time.sleep(60)


def _fields():
    from algobt.store.runs import run_fields

    return run_fields({"symbol": "DEMO"})
