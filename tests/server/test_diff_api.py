"""``GET /api/backtests/runs/diff/``: two stored runs difference by difference, over HTTP."""

from __future__ import annotations

from tests.strategies import EMA_CROSS, SMA_CROSS


def test_runs_record_their_inputs_and_diff_over_http(client):
    one = {"symbol": "DEMO", "period": "1y", "strategy_code": SMA_CROSS}
    two = {**one, "strategy_code": EMA_CROSS, "commission": 0.002}
    status, a = client.post("/api/backtests/api/quick_run/", one)
    assert status == 200, a
    status, b = client.post("/api/backtests/api/quick_run/", two)
    assert status == 200, b
    status, run = client.get(f"/api/backtests/runs/{a['run']}/")
    assert status == 200
    record = run["provenance"]  # recorded by the worker process that ran the Python code
    assert record["strategy"]["kind"] == "python" and len(record["strategy"]["hash"]) == 64
    assert record["data"]["DEMO"]["rows"] == 252 and record["fill_rules"]["commission"] == 0.001

    status, d = client.get(f"/api/backtests/runs/diff/?a={a['run']}&b={b['run']}")
    assert status == 200, d
    assert d["run_a"] == a["run"] and not d["identical"]
    keys = {s["key"] for s in d["settings"]}
    assert {"config.commission", "provenance.strategy.hash", "provenance.strategy.kind"} <= keys
    assert "the strategy's code changed" in d["inputs"]
    metrics = {m["metric"]: m for m in d["metrics"]}
    assert metrics["net_profit"]["a"] == a["net_profit"]
    assert metrics["net_profit"]["b"] == b["net_profit"]
    assert d["trades"]["a"] == a["total_trades"] and d["trades"]["b"] == b["total_trades"]


def test_diff_refuses_bad_or_unknown_ids(client):
    status, body = client.get("/api/backtests/runs/diff/?a=x&b=2")
    assert status == 400 and body["error"]["field"] == "a"
    status, body = client.get("/api/backtests/runs/diff/?a=1")
    assert status == 400 and body["error"]["field"] == "b"
    status, body = client.get("/api/backtests/runs/diff/?a=999998&b=999999")
    assert status == 404
