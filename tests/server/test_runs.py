"""Queued runs: no replay, progress by phase and bars while they run, and what a
restarted server does with the runs an earlier one left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.server.conftest import Client

# A strategy that takes its time (2 ms a bar), so a run is slow enough to be watched.
SLOW = """
import time
from algobt import Strategy

class Slow(Strategy):
    def init(self):
        pass
    def next(self):
        time.sleep(0.002)
        if not self.position:
            self.buy()
"""


def wait_final(client, run_id: int, seconds: float = 90) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        status, st = client.get(f"/api/backtests/api/status/{run_id}/")
        assert status == 200
        if st["status"] not in ("queued", "running"):
            return st
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {st['status']} after {seconds} s")


def test_a_queued_run_reports_progress_by_phase_and_bars(client):
    config = {
        "strategy_code": SLOW,
        "symbols": ["DEMO", "DEMO-FX", "DEMO-BTC"],
        "period": "1y",
    }
    status, queued = client.post("/api/backtests/api/run_backtest/", config)
    assert status == 202, queued
    run_id = queued["id"]
    seen, phases, bars = [], set(), []
    deadline = time.time() + 90
    while time.time() < deadline:
        _, mon = client.get(f"/api/backtests/api/monitor/{run_id}/")
        if mon["status"] == "running":
            seen.append(mon["progress"])
            phases.add(mon["phase"])
            if mon["bars"] and mon["bars"]["total"]:
                bars.append(mon["bars"]["done"])
        elif mon["status"] != "queued":
            break
        time.sleep(0.05)
    assert mon["status"] == "completed", mon
    assert mon["progress"] == 100 and mon["phase"] == "completed"
    moving = sorted({p for p in seen if 0 < p < 100})
    assert len(moving) >= 3, seen  # it moved while the run ran, not only at the end
    assert seen == sorted(seen)  # and never went back
    assert "running" in phases
    assert len(set(bars)) >= 2 and bars == sorted(bars)
    assert mon["live_stats"]["total_trades"] >= 1
    status, results = client.get(f"/api/backtests/runs/{run_id}/results/")
    assert status == 200 and len(results) == 1


def test_a_waiting_queued_run_can_be_cancelled(client, server):
    jobs = server.app.settings["jobs"]
    slots = jobs._slots._value
    runs = []
    for _ in range(slots + 1):  # one more than may run at once: the last one waits
        status, queued = client.post(
            "/api/backtests/api/run_backtest/",
            {"strategy_code": SLOW, "symbol": "DEMO", "period": "2y"},
        )
        assert status == 202
        runs.append(queued["id"])
    last = runs[-1]
    _, st = client.get(f"/api/backtests/api/status/{last}/")
    assert st["status"] == "queued"  # truthfully waiting, not "running"
    status, after = client.post(f"/api/backtests/api/cancel/{last}/")
    assert status in (200, 202)
    assert wait_final(client, last, 10)["status"] == "cancelled"
    for run_id in runs[:-1]:
        assert wait_final(client, run_id)["status"] == "completed"


# --- a real server process, killed with SIGKILL and started again on the same file ---------

TOKEN = "restart-test-token-0123456789abcdef"


def start_server(db, home):
    """``python -m algobt serve`` on a free port; returns (process, client)."""
    env = {**os.environ, "ALGOBT_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobt", "serve", "--port", "0", "--db", str(db), "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"open (http://[^/]+)/\?token=", line or "")
        if match:
            return proc, Client(match.group(1), token=TOKEN)
        if not line:
            break
    proc.kill()
    raise AssertionError("the server printed no URL")


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=20)


def wait_for(predicate, seconds: float = 60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def statuses(client) -> dict[int, dict]:
    _, page = client.get("/api/backtests/runs/?page_size=1000")
    return {r["id"]: r for r in page["results"]}


def test_sigkilled_server_leaves_no_run_queued_or_running_for_ever(tmp_path):
    db, home = tmp_path / "restart.db", tmp_path / "home"
    config = {"strategy_code": SLOW, "symbol": "DEMO", "period": "2y"}
    submitted, interrupted = [], set()
    proc = None
    try:
        for _cycle in range(2):  # kill twice, each time with runs running and queued
            proc, client = start_server(db, home)
            for _ in range(4):
                status, queued = client.post("/api/backtests/api/run_backtest/", config)
                assert status == 202, queued
                submitted.append(queued["id"])

            def two_running(client=client):
                runs = statuses(client)
                running = [i for i in submitted if runs[i]["status"] == "running"]
                return running if len(running) >= 2 else None

            running = wait_for(two_running)
            runs = statuses(client)
            assert any(runs[i]["status"] == "queued" for i in submitted)  # some still wait
            kill(proc)
            interrupted |= set(running)

        proc, client = start_server(db, home)

        def all_settled():
            runs = statuses(client)
            settled = all(runs[i]["status"] in ("completed", "failed") for i in submitted)
            return runs if settled else None

        runs = wait_for(all_settled, 120)
        _, queued = client.get("/api/backtests/runs/?status=queued")
        _, running = client.get("/api/backtests/runs/?status=running")
        assert queued["count"] == 0 and running["count"] == 0
        completed = [i for i in submitted if runs[i]["status"] == "completed"]
        failed = [i for i in submitted if runs[i]["status"] == "failed"]
        assert len(completed) >= 4 and failed  # queued ones resumed, running ones failed
        for run_id in failed:
            assert "server stopped before this run finished" in runs[run_id]["error"]
            assert run_id in interrupted  # only runs that were running when killed fail
        for run_id in completed:  # whole: its result and every one of its trades
            status, results = client.get(f"/api/backtests/runs/{run_id}/results/")
            assert status == 200 and len(results) == 1
            _, trades = client.get(f"/api/backtests/trades/?run={run_id}")
            assert results[0]["total_trades"] >= 1
            assert trades["count"] == results[0]["total_trades"]
            assert runs[run_id]["progress"] == 100 and runs[run_id]["finished_at"]
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_second_server_on_the_same_file_leaves_the_first_ones_runs_alone(tmp_path):
    from algobt.server.jobs import JobRunner
    from algobt.store import Store

    with Store(tmp_path / "two.db") as store:
        first, second = JobRunner(store), JobRunner(store)
        try:
            running = store.create_run({"symbol": "DEMO", "period": "1y"}, status="running")
            assert first.recover() == {"resumed": [], "failed": [running["id"]]}
            again = store.create_run({"symbol": "DEMO", "period": "1y"}, status="running")
            assert second.recover() == {"resumed": [], "failed": []}  # the first holds the file
            assert store.get_run(again["id"])["status"] == "running"
            first.close()  # the first one stops: the file is free for the next
            assert second.recover()["failed"] == [again["id"]]
            assert "server stopped" in store.get_run(again["id"])["error"]
        finally:
            first.close()
            second.close()
