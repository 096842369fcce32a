"""Queued runs: no replay, progress by phase and bars while they run, and what a
restarted server does with the runs an earlier one left behind."""

from __future__ import annotations

import time

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
