"""Every REST endpoint (docs/api.md) against a real server on a loopback port."""

from __future__ import annotations

import json
import time

import pytest

from tests.strategies import EMA_CROSS, SMA_CROSS


@pytest.fixture(scope="module")
def strategy(client):
    status, body = client.post(
        "/api/strategies/strategies/", {"name": "SMA cross (api test)", "strategy_code": SMA_CROSS}
    )
    assert status == 201, body
    return body


def test_health_symbols_openapi_and_page(client):
    status, health = client.get("/api/health/")
    assert status == 200 and health["status"] == "ok"
    status, symbols = client.get("/api/symbols/")
    assert status == 200 and {"DEMO", "DEMO-FX", "DEMO-BTC"} <= {
        s["symbol"] for s in symbols["symbols"]
    }
    status, doc = client.get("/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    status, page = client.get("/")
    assert status == 200 and "algobt" in page


def test_openapi_describes_every_route(client, server):
    from algobt.server.app import route_table
    from algobt.server.openapi import path_of

    _, doc = client.get("/api/openapi.json")
    for pattern, handler in route_table():
        if pattern.startswith("/ws/"):
            continue
        path = path_of(pattern)
        assert path in doc["paths"], path
        for method in ("get", "post", "put", "patch", "delete"):
            if method in handler.__dict__:
                assert method in doc["paths"][path], (method, path)


def test_strategy_crud_and_validation(client, strategy):
    assert strategy["kind"] == "python" and strategy["parameters"] == {"fast": 10, "slow": 30}
    status, listed = client.get("/api/strategies/strategies/?page=1&page_size=10")
    assert status == 200 and strategy["id"] in [s["id"] for s in listed["results"]]
    status, got = client.get(f"/api/strategies/strategies/{strategy['id']}/")
    assert status == 200 and got["code"] == SMA_CROSS
    status, dup = client.post(
        "/api/strategies/strategies/", {"name": strategy["name"], "strategy_code": SMA_CROSS}
    )
    assert status == 409 and dup["error"]["code"] == "conflict"
    status, created = client.post(
        "/api/strategies/strategies/", {"name": "EMA spec", "strategy_code": EMA_CROSS}
    )
    assert status == 201 and created["kind"] == "json"
    status, updated = client.put(
        f"/api/strategies/strategies/{created['id']}/", {"description": "an EMA crossover"}
    )
    assert status == 200 and updated["description"] == "an EMA crossover"
    status, _ = client.delete(f"/api/strategies/strategies/{created['id']}/")
    assert status == 204
    status, gone = client.get(f"/api/strategies/strategies/{created['id']}/")
    assert status == 404 and gone["error"]["code"] == "not_found"

    status, check = client.post(
        "/api/strategies/validate/", {"strategy_code": "class S(Strategy):\n    def next(self)\n"}
    )
    assert status == 200 and check["valid"] is False and check["kind"] == "python"
    assert check["errors"][0]["line"] == 2
    status, check = client.post(f"/api/strategies/strategies/{strategy['id']}/validate/")
    assert status == 200 and check["valid"] is True
    bad_spec = {**EMA_CROSS, "entry": {"long": {"crosses_above": ["fast", "missing"]}}}
    status, check = client.post("/api/strategies/validate/", {"strategy_code": bad_spec})
    assert status == 200 and not check["valid"] and check["kind"] == "json"
    status, schema = client.get("/api/strategies/schema/")
    assert status == 200 and "$schema" in schema


def test_quick_run_saves_and_updates_latest(client, strategy):
    config = {
        "strategy_id": strategy["id"],
        "symbol": "DEMO",
        "period": "2y",
        "timeframe": "1d",
        "initial_balance": 10_000,
        "commission": 0.001,
    }
    status, result = client.post("/api/backtests/api/quick_run/", config)
    assert status == 200, result
    assert result["summary"]["totalTrades"] == result["total_trades"] > 0
    status, latest = client.get(
        f"/api/strategies/latest-backtest/{strategy['id']}/get_by_strategy/"
    )
    assert status == 200
    assert latest["strategy_id"] == strategy["id"]
    assert latest["total_trades"] == result["total_trades"]
    assert latest["final_equity"] == result["final_equity"]
    assert latest["sharpe_ratio"] == result["sharpe_ratio"]
    status, listed = client.get("/api/strategies/latest-backtest/")
    assert status == 200 and strategy["id"] in [r["strategy_id"] for r in listed["results"]]
    # The per-strategy quick backtest endpoint runs the same thing.
    status, again = client.post(
        f"/api/strategies/strategies/{strategy['id']}/backtest/", {"symbol": "DEMO", "period": "2y"}
    )
    assert status == 200 and again["final_equity"] == result["final_equity"]


def test_queued_run_status_monitor_results_trades(client, strategy):
    status, queued = client.post(
        "/api/backtests/api/run_backtest/",
        {"strategy_id": strategy["id"], "symbol": "DEMO-FX", "period": "2y"},
    )
    assert status == 202 and queued["status"] in ("queued", "running")
    run_id = queued["id"]
    deadline = time.time() + 60
    while time.time() < deadline:
        status, st = client.get(f"/api/backtests/api/status/{run_id}/")
        assert status == 200
        if st["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert st["status"] == "completed", st
    assert st["progress"] == 100 and st["started_at"] and st["finished_at"]
    status, mon = client.get(f"/api/backtests/api/monitor/{run_id}/")
    assert status == 200 and mon["status"] == "completed" and "alerts" in mon
    status, results = client.get(f"/api/backtests/runs/{run_id}/results/")
    assert status == 200 and len(results) == 1 and results[0]["symbol"] == "DEMO-FX"
    status, one = client.get(f"/api/backtests/results/{results[0]['id']}/")
    assert status == 200 and one["total_trades"] == results[0]["total_trades"]
    status, page = client.get(f"/api/backtests/results/?run={run_id}")
    assert status == 200 and page["count"] == 1
    status, trades = client.get(f"/api/backtests/trades/?run={run_id}&page_size=5")
    assert status == 200 and trades["count"] == one["total_trades"]
    assert len(trades["results"]) == min(5, trades["count"])
    status, shorts = client.get(f"/api/backtests/trades/?run={run_id}&action=short")
    assert status == 200 and all(t["action"] == "short" for t in shorts["results"])
    status, runs = client.get("/api/backtests/runs/?status=completed")
    assert status == 200 and run_id in [r["id"] for r in runs["results"]]
    status, run = client.get(f"/api/backtests/runs/{run_id}/")
    assert status == 200 and run["status"] == "completed"
    status, compared = client.get(f"/api/backtests/runs/compare/?ids={run_id}")
    assert status == 200 and len(compared["runs"]) == 1 and "best" in compared


def test_cancel_a_queued_run(client):
    slow = {"strategy_code": SMA_CROSS, "symbol": "DEMO-FX", "interval": "1m"}
    status, queued = client.post("/api/backtests/api/run_backtest/", slow)
    assert status == 202
    status, after = client.post(f"/api/backtests/api/cancel/{queued['id']}/")
    assert status in (200, 202)
    deadline = time.time() + 60
    while time.time() < deadline:
        _, st = client.get(f"/api/backtests/api/status/{queued['id']}/")
        if st["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    assert st["status"] in ("cancelled", "completed")


def test_configs_crud_and_templates(client):
    status, templates = client.get("/api/backtests/configs/templates/")
    assert status == 200 and len(templates) >= 1
    status, created = client.post(
        "/api/backtests/configs/", {"name": "my config", "symbol": "DEMO", "period": "1y"}
    )
    assert status == 201, created
    cid = created["id"]
    status, got = client.get(f"/api/backtests/configs/{cid}/")
    assert status == 200 and got["id"] == cid
    status, _ = client.put(
        f"/api/backtests/configs/{cid}/", {"name": "renamed", "symbol": "DEMO-FX", "period": "6mo"}
    )
    assert status == 200
    status, listed = client.get("/api/backtests/configs/")
    assert status == 200 and cid in [c["id"] for c in listed["results"]]
    status, _ = client.delete(f"/api/backtests/configs/{cid}/")
    assert status == 204


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/api/backtests/api/quick_run/", {"symbol": "DEMO"}, 400, "strategy_code"),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": SMA_CROSS, "commission": -1},
            400,
            "commission",
        ),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": SMA_CROSS, "period": "7y"},
            400,
            "period",
        ),
        ("POST", "/api/backtests/api/quick_run/", {"strategy_id": 999_999}, 404, "strategy_id"),
        # numbers as text are refused in every numeric field alike (docs/api.md)
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": SMA_CROSS, "initial_balance": "10000"},
            400,
            "initial_capital",
        ),
        ("POST", "/api/backtests/api/quick_run/", {"strategy_id": "1"}, 400, "strategy_id"),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": SMA_CROSS, "params": {"fast": "10"}},
            400,
            "fast",
        ),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": "class X(:", "symbol": "DEMO"},
            422,
            None,
        ),
        ("GET", "/api/backtests/api/status/424242/", None, 404, "run_id"),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": EMA_CROSS, "symbol": "/etc/x.csv"},
            400,
            "symbol",
        ),
        (
            "POST",
            "/api/backtests/api/quick_run/",
            {"strategy_code": EMA_CROSS, "symbol": "data.parquet"},
            400,
            "symbol",
        ),
        (
            "POST",
            "/api/backtests/api/run_backtest/",
            {"strategy_code": EMA_CROSS, "source": "file"},
            400,
            "source",
        ),
        ("GET", "/api/backtests/trades/?page=0", None, 400, "page"),
        ("GET", "/api/backtests/trades/?page_size=abc", None, 400, "page_size"),
        ("GET", "/api/backtests/trades/?action=hold", None, 400, "action"),
        ("GET", "/api/no/such/thing/", None, 404, None),
        ("POST", "/api/strategies/strategies/", {"strategy_code": SMA_CROSS}, 400, "name"),
        ("POST", "/api/strategies/validate/", {}, 400, "strategy_code"),
    ],
)
def test_bad_input_gets_a_4xx_with_an_error_body(client, method, path, body, status, field):
    got_status, got = client.request(method, path, body)
    assert got_status == status, got
    assert set(got) == {"error"} and got["error"]["message"]
    assert got["error"].get("field") == field


def test_malformed_bodies(client):
    status, body = client.request("POST", "/api/backtests/api/quick_run/", raw=b"{not json")
    assert status == 400 and body["error"]["code"] == "bad_json"
    status, body = client.request("POST", "/api/backtests/api/quick_run/", raw=b"[1, 2]")
    assert status == 400
    status, body = client.request(
        "POST",
        "/api/strategies/validate/",
        raw=json.dumps({"strategy_code": "x" * (2 * 2**20)}).encode(),
    )
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_filters_take_the_names_their_records_carry_and_refuse_unknown_ones(client, strategy):
    """A misspelled filter must not answer with everything: ``?backtest_run=`` (what a
    trade carries) filters like ``?run=``; an unknown name is a 400 naming it, with a
    did-you-mean and the names the endpoint takes."""
    runs = []
    for period in ("1y", "2y"):
        status, result = client.post(
            "/api/backtests/api/quick_run/",
            {"strategy_id": strategy["id"], "symbol": "DEMO", "period": period},
        )
        assert status == 200, result
        runs.append(result["run"])
    status, everything = client.get("/api/backtests/trades/?page_size=1000")
    assert status == 200 and everything["count"] > 0
    for run in runs:
        _, by_run = client.get(f"/api/backtests/trades/?run={run}&page_size=1000")
        _, by_field = client.get(f"/api/backtests/trades/?backtest_run={run}&page_size=1000")
        assert by_run == by_field and 0 < by_run["count"] < everything["count"]
        assert {t["backtest_run"] for t in by_field["results"]} == {run}
        result_id = by_field["results"][0]["result"]
        _, by_result = client.get(f"/api/backtests/trades/?result={result_id}&page_size=1000")
        assert by_result["count"] == by_run["count"]
        _, results = client.get(f"/api/backtests/results/?run_id={run}")
        assert [r["run"] for r in results["results"]] == [run]
    _, listed = client.get(f"/api/backtests/runs/?strategy_id={strategy['id']}")
    assert {r["strategy_id"] for r in listed["results"]} == {strategy["id"]}
    assert set(runs) <= {r["id"] for r in listed["results"]}

    status, body = client.get("/api/backtests/trades/?backtest_rn=7")
    assert status == 400 and body["error"]["field"] == "backtest_rn"
    message = body["error"]["message"]
    assert "unknown query parameter 'backtest_rn'" in message
    assert "Did you mean 'backtest_run'" in message and "page_size" in message
    for path in ("/api/backtests/runs/?foo=1", "/api/symbols/?foo=1", "/api/health/?x=2"):
        status, body = client.get(path)
        assert status == 400 and body["error"]["field"] in ("foo", "x"), (path, body)
    status, body = client.get(f"/api/backtests/trades/?run={runs[0]}&backtest_run={runs[1]}")
    assert status == 400 and "disagree" in body["error"]["message"]


def test_the_openapi_document_lists_every_query_parameter_an_endpoint_takes(client):
    """Each listed name is accepted (never 'unknown'), so the document is the whole list."""
    _, doc = client.get("/api/openapi.json")
    checked = 0
    for path, ops in doc["paths"].items():
        get = ops.get("get")
        if not path.startswith("/api/") or "{" in path or get is None:
            continue
        for param in get.get("parameters", []):
            if param["in"] != "query":
                continue
            status, body = client.get(f"{path}?{param['name']}=1")
            assert "unknown query parameter" not in json.dumps(body), (path, param["name"])
            checked += 1
    names = {
        p["name"]
        for p in doc["paths"]["/api/backtests/trades/"]["get"]["parameters"]
        if p["in"] == "query"
    }
    assert {"run", "backtest_run", "result", "page", "page_size"} <= names
    assert checked >= 20


def test_status_names_its_result_symbols_only_usable_sources_and_a_missing_slash_is_named(
    client, strategy
):
    status, result = client.post(
        "/api/backtests/api/quick_run/",
        {"strategy_id": strategy["id"], "symbol": "DEMO", "period": "1y"},
    )
    assert status == 200
    _, run_status = client.get(f"/api/backtests/api/status/{result['run']}/")
    assert run_status["result_id"] == result["id"] and run_status["status"] == "completed"
    _, symbols = client.get("/api/symbols/")
    assert symbols["sources"] == ["demo", "yahoo"]  # files are refused on this server
    status, body = client.get("/api/symbols")
    assert status == 404
    assert "did you mean /api/symbols/ (with the trailing slash)" in body["error"]["message"]
    status, body = client.post("/api/backtests/api/quick_run", {})
    assert status == 404 and "/api/backtests/api/quick_run/" in body["error"]["message"]
    status, body = client.get("/api/nothing/here")
    assert status == 404 and "did you mean" not in body["error"]["message"]


def test_the_latest_results_list_leaves_the_series_out_unless_expanded(client, strategy):
    status, _ = client.post(
        f"/api/strategies/strategies/{strategy['id']}/backtest/", {"symbol": "DEMO", "period": "1y"}
    )
    assert status == 200
    _, full = client.get(f"/api/strategies/latest-backtest/{strategy['id']}/get_by_strategy/")
    _, listed = client.get("/api/strategies/latest-backtest/")
    row = next(r for r in listed["results"] if r["strategy_id"] == strategy["id"])
    assert not {"trades", "equity_curve", "daily_stats"} & set(row)
    assert row["total_trades"] == full["total_trades"] and row["summary"] == full["summary"]
    _, some = client.get("/api/strategies/latest-backtest/?expand=trades,equity_curve")
    row = next(r for r in some["results"] if r["strategy_id"] == strategy["id"])
    assert row["trades"] == full["trades"] and row["equity_curve"] == full["equity_curve"]
    assert "daily_stats" not in row
    status, body = client.get("/api/strategies/latest-backtest/?expand=trade")
    assert status == 400 and body["error"]["field"] == "expand"
