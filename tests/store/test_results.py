"""Runs and their results: round trips of real engine output, latest-per-strategy,
status transitions, trade filters, alerts, comparisons and the notebook path."""

from __future__ import annotations

import json
import random
import re

import pytest

import algobt
from algobt.engine.run import run_config
from algobt.errors import ConfigError, ConflictError, NotFoundError
from algobt.examples import SmaCross
from algobt.store import Store, save_run
from tests.store._workers import synthetic_result
from tests.strategies import SMA_CROSS

ISO_NOW = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
STORE_FILLED = ("id", "run", "run_id", "strategy_id", "created_at")
TRADE_IDS = ("id", "backtest_run", "result")


def as_json(value) -> str:
    """Exact text: a float that changed by one bit, or an int turned float, shows."""
    return json.dumps(value, sort_keys=True, allow_nan=False)


def assert_round_trip(original: dict, stored: dict) -> None:
    for key, value in original.items():
        if key in STORE_FILLED:
            continue
        got = stored[key]
        if key == "trades":
            got = [{k: v for k, v in t.items() if k not in TRADE_IDS} for t in got]
        if key == "alerts":
            got = [{k: v for k, v in a.items() if k in value[i]} for i, a in enumerate(got)]
        assert as_json(got) == as_json(value), key


def test_real_result_round_trips_exactly(store, outcome, sma_config):
    original = outcome.to_dict()
    assert original["total_trades"] >= 3
    sma = store.create_strategy("SMA cross", SMA_CROSS)
    run = store.create_run(sma_config, strategy_id=sma["id"])
    assert run["status"] == "queued" and run["progress"] == 0
    assert run["started_at"] is None and ISO_NOW.match(run["created_at"])
    run = store.update_run(run["id"], status="running", progress=40)
    assert ISO_NOW.match(run["started_at"]) and run["progress"] == 40.0

    saved = store.save_result(run["id"], original)
    stored = store.get_result(saved["id"])
    assert stored == saved
    assert_round_trip(original, stored)
    assert stored["run"] == run["id"] and stored["strategy_id"] == sma["id"]
    assert [t["backtest_run"] for t in stored["trades"]] == [run["id"]] * len(stored["trades"])
    assert ISO_NOW.match(stored["created_at"])
    # Floats bit for bit, timestamps as the engine wrote them.
    assert stored["equity_curve"] == original["equity_curve"]
    assert stored["trades"][0]["entry_time"] == original["trades"][0]["entry_time"]
    assert re.match(r"^\d{4}-\d\d-\d\d$", stored["trades"][0]["exit_time"])

    done = store.get_run(run["id"])
    assert done["status"] == "completed" and done["progress"] == 100
    assert (done["data_start"], done["data_end"]) == (original["start_date"], original["end_date"])
    assert done["started_at"] <= done["finished_at"] and done["result_id"] == saved["id"]
    assert store.run_results(run["id"]) == [stored]
    assert store.list_trades(run_id=run["id"])["count"] == original["total_trades"]

    latest = store.latest_by_strategy(sma["id"])
    assert latest["strategy_name"] == "SMA cross"
    assert (latest["run_id"], latest["result_id"]) == (run["id"], saved["id"])
    for key, source in (
        ("initial_balance", "initial_balance"),
        ("total_return_pct", "total_return_pct"),
        ("final_equity", "final_equity"),
        ("sharpe_ratio", "sharpe_ratio"),
        ("max_drawdown", "max_drawdown"),
        ("net_profit", "net_profit"),
        ("win_rate", "win_rate"),
        ("commission", "commission"),
        ("symbol", "symbol"),
        ("timeframe", "timeframe"),
        ("period", "period"),
        ("trades", "trades"),
        ("equity_curve", "equity_curve"),
        ("daily_stats", "daily_stats"),
        ("summary", "summary"),
    ):
        assert as_json(latest[key]) == as_json(original[source]), key

    # A second run of the strategy replaces its latest row in place.
    second_config = {**sma_config, "params": {"fast": 5, "slow": 20}}
    second = run_config(second_config).to_dict()
    assert second["total_trades"] != original["total_trades"]
    run2 = store.create_run(second_config, strategy_id=sma["id"])
    store.save_result(run2["id"], second)
    page = store.latest_results()
    assert page["count"] == 1
    replaced = page["results"][0]
    assert replaced["run_id"] == run2["id"]
    assert replaced["created_at"] == latest["created_at"]
    assert replaced["updated_at"] > latest["updated_at"]
    assert as_json(replaced["trades"]) == as_json(second["trades"])
    # History keeps both runs, for comparison.
    assert store.list_results(strategy_id=sma["id"])["count"] == 2
    compared = store.compare_runs([run["id"], run2["id"]], equity=True)
    assert [r["run_id"] for r in compared["runs"]] == [run["id"], run2["id"]]
    assert compared["runs"][1]["params"] == {"fast": 5, "slow": 20}
    assert compared["runs"][0]["total_return"] == original["total_return"]
    best = max((original["sharpe_ratio"], run["id"]), (second["sharpe_ratio"], run2["id"]))
    assert compared["best"]["sharpe_ratio"] == best[1]
    assert compared["runs"][0]["equity_curve"] == original["equity_curve"]


@pytest.mark.parametrize("index", range(4))
def test_templates_run_and_round_trip(store, index):
    template = store.config_templates()[index]
    config = {k: v for k, v in template.items() if k not in ("id", "name", "is_template",
              "is_builtin", "created_at", "updated_at", "strategy_id")}  # fmt: skip
    config["strategy_code"] = SMA_CROSS
    original = run_config(config).to_dict()
    run = store.record_run(config, original, strategy_name="SMA", source="server")
    assert run["symbols"] == (template.get("symbols") or [template["symbol"]])
    assert_round_trip(original, store.get_result(run["result_id"]))
    if len(run["symbols"]) > 1:
        assert store.list_runs(symbol="DEMO-FX")["count"] == 1
        assert set(store.get_result(run["result_id"])["per_symbol"]) == set(run["symbols"])


def test_result_list_is_light_and_filtered(store, outcome, sma_config):
    run = store.record_run(sma_config, outcome.to_dict(), strategy_name="SMA")
    fx = synthetic_result(random.Random(1), 4)
    fx["symbol"] = "DEMO-FX"
    store.record_run({"symbol": "DEMO-FX"}, fx)
    multi = synthetic_result(random.Random(2), 1)
    multi["symbol"] = "DEMO,DEMO-FX"
    store.record_run({"symbols": ["DEMO", "DEMO-FX"]}, multi)
    page = store.list_results(page_size=10)
    assert page["count"] == 3
    listed = page["results"][2]
    assert listed["id"] == run["result_id"]
    assert "trades" not in listed and "equity_curve" not in listed
    assert listed["summary"] == outcome.to_dict()["summary"]
    assert store.list_results(run_id=run["id"])["count"] == 1
    assert store.list_results(symbol="DEMO-FX")["count"] == 2  # multi-symbol ones too
    assert store.list_results(symbol="DEMO")["count"] == 2
    assert store.list_results(strategy_id=run["strategy_id"])["count"] == 1
    assert (
        store.latest_results(series=False)["results"][0]
        .keys()
        .isdisjoint({"trades", "equity_curve"})
    )


def test_trade_filters(store):
    rng = random.Random(5)
    daily = synthetic_result(rng, 0)
    daily["trades"] = [
        {"entry_time": "2024-03-01", "exit_time": f"2024-03-{day:02d}", "symbol": "DEMO",
         "action": action, "entry_price": 1.0, "exit_price": 2.0, "quantity": 1.0, "pnl": 1.0}
        for day, action in ((5, "buy"), (10, "short"), (15, "buy"), (31, "buy"))
    ]  # fmt: skip
    intraday = synthetic_result(rng, 0)
    intraday["trades"] = [
        {"entry_time": "2024-03-10T08:00:00Z", "exit_time": stamp, "symbol": "FX",
         "action": "sell", "pnl": -1.0}
        for stamp in ("2024-03-10T09:00:00Z", "2024-03-10T23:59:00Z", "2024-03-11T00:00:00Z")
    ]  # fmt: skip
    a = store.record_run({"symbol": "DEMO"}, daily)
    b = store.record_run({"symbol": "FX"}, intraday)

    def count(**filters):
        return store.list_trades(**filters)["count"]

    assert count() == 7
    assert count(run_id=a["id"]) == 4 and count(run_id=b["id"]) == 3
    assert count(run_id=999) == 0
    assert count(symbol="FX") == 3
    assert count(action="short") == 1 and count(action="sell") == 3
    assert count(start="2024-03-10", end="2024-03-10") == 3  # whole day, both kinds of stamp
    assert count(start="2024-03-10T12:00:00Z", end="2024-03-11") == 2
    assert count(start="2024-03-10T10:00:00+01:00", end="2024-03-10T09:00:00Z") == 1
    assert count(start="2024-03-10T00:00:00Z", end="2024-03-10T09:00:00Z") == 2  # + daily bar
    assert count(start="2024-03-10T00:00:01Z", end="2024-03-10T09:00:00Z") == 1
    assert count(end="2024-03-09") == 1 and count(start="2024-03-31") == 1
    assert count(result_id=a["result_id"], start="2024-03-06", end="2024-03-30") == 2
    assert count(strategy_id=1) == 0
    page = store.list_trades(page=2, page_size=3)
    assert (page["count"], len(page["results"])) == (7, 3)
    first = store.list_trades(page_size=7)["results"]
    assert [t["exit_time"] for t in first] == sorted(t["exit_time"] for t in first)
    assert first[0]["size"] == first[0]["quantity"] and first[0]["profit"] == first[0]["pnl"]
    with pytest.raises(ConfigError) as info:
        store.list_trades(start="March 1st")
    assert info.value.field == "start"
    with pytest.raises(ConfigError) as info:
        store.list_trades(action="hold")
    assert info.value.field == "action"


def test_run_transitions(store, sma_config):
    run = store.create_run(sma_config, source="server", name="nightly")
    assert (run["name"], run["source"]) == ("nightly", "server")
    with pytest.raises(ConfigError, match="save_result") as info:
        store.update_run(run["id"], status="completed")
    assert info.value.field == "status"
    for bad in ({"progress": 101}, {"progress": -1}, {"status": "paused"}):
        with pytest.raises(ConfigError):
            store.update_run(run["id"], **bad)
    store.update_run(run["id"], status="running", progress=20)
    with pytest.raises(ConflictError, match="back to queued"):
        store.update_run(run["id"], status="queued")
    failed = store.update_run(run["id"], status="failed", error="data source down")
    assert failed["finished_at"] and failed["error"] == "data source down"
    for change in ({"status": "running"}, {"progress": 50}, {"status": "cancelled"}):
        with pytest.raises(ConflictError, match="already failed"):
            store.update_run(run["id"], **change)
    with pytest.raises(ConflictError, match="already failed"):
        store.save_result(run["id"], synthetic_result(random.Random(0), 2))
    assert store.list_trades(run_id=run["id"])["count"] == 0

    queued = store.create_run(sma_config)
    cancelled = store.update_run(queued["id"], status="cancelled")
    assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None
    with pytest.raises(ConfigError, match="'queued' or 'running'"):
        store.create_run(sma_config, status="completed")
    assert store.list_runs(status="failed")["count"] == 1
    assert store.list_runs(status="cancelled")["results"][0]["id"] == queued["id"]
    with pytest.raises(ConfigError):
        store.list_runs(status="done")


def test_bad_input_is_refused_with_our_errors(store, outcome, sma_config):
    result = outcome.to_dict()
    with pytest.raises(NotFoundError, match="no backtest run with id 404") as info:
        store.save_result(404, result)
    assert "create_run" in info.value.message
    assert store.list_results()["count"] == 0 and store.list_trades()["count"] == 0
    with pytest.raises(NotFoundError, match="no strategy with id 77") as info:
        store.create_run(sma_config, strategy_id=77)
    assert info.value.field == "strategy_id"
    with pytest.raises(NotFoundError, match="no strategy with id 77"):
        store.record_run(sma_config, result, strategy_id=77)
    with pytest.raises(NotFoundError, match="no strategy with id 77"):
        store.latest_by_strategy(77)
    sma = store.create_strategy("SMA", SMA_CROSS)
    with pytest.raises(NotFoundError, match="no saved backtest yet"):
        store.latest_by_strategy(sma["id"])
    for getter, what in ((store.get_run, "run"), (store.get_result, "result"),
                         (store.run_results, "run"), (store.list_alerts, "run")):  # fmt: skip
        with pytest.raises(NotFoundError, match=f"no backtest {what} with id 31"):
            getter(31)
    with pytest.raises(NotFoundError, match="31, 32"):
        store.compare_runs([31, 32])
    for bad in ([], [1, 1], "1,2", [0]):
        with pytest.raises(ConfigError):
            store.compare_runs(bad)
    run = store.create_run(sma_config)
    for broken, field in (
        ({**result, "sharpe_ratio": float("nan")}, "sharpe_ratio"),
        ({**result, "final_equity": result["final_value"] + 1}, "final_equity"),
        ({**result, "total_trades": "many"}, "total_trades"),
        ({**result, "trades": [{"action": "hold"}]}, "trades[0].action"),
        ({**result, "trades": "none"}, "trades"),
        ({**result, "equity_curve": [{"equity": float("inf")}]}, "equity_curve"),
        ([1, 2], "result"),
    ):
        with pytest.raises(ConfigError) as info:
            store.save_result(run["id"], broken)
        assert info.value.field == field
    # Nothing of the refused saves was kept.
    assert store.get_run(run["id"])["status"] == "queued"
    assert store.list_results()["count"] == 0
    with pytest.raises(ConfigError, match="symbol"):
        store.create_run({"period": "1y"})


def test_alerts_are_kept_with_the_run(store):
    result = synthetic_result(random.Random(2), 3)
    result["alerts"] = [
        {"level": "warning", "code": "out_of_money", "bar": 17, "time": "2024-01-02T10:00:00Z",
         "message": "equity fell below zero; trading stopped", "symbol": "DEMO"},
        {"level": "info", "code": "note", "bar": None, "time": None, "message": "hello"},
    ]  # fmt: skip
    run = store.record_run({"symbol": "DEMO"}, result)
    alerts = store.list_alerts(run["id"])
    assert [(a["code"], a["bar"], a["time"], a["symbol"]) for a in alerts] == [
        ("out_of_money", 17, "2024-01-02T10:00:00Z", "DEMO"),
        ("note", None, None, None),
    ]
    assert store.get_result(run["result_id"])["alerts"] == alerts
    explicit = store.record_run({"symbol": "DEMO"}, result, alerts=[])
    assert store.list_alerts(explicit["id"]) == []


def test_extra_keys_and_aliases_survive(store):
    result = synthetic_result(random.Random(4), 2)
    result["trades"][0]["tag"] = "breakout"
    result["trades"][1]["date"] = "2024-12-24"  # disagrees with exit_time: kept as given
    result["kind"] = "json"
    result["per_symbol"] = {"DEMO": {"total_trades": 2}}
    run = store.record_run({"symbol": "DEMO"}, result)
    stored = store.get_result(run["result_id"])
    assert_round_trip(result, stored)
    assert stored["trades"][0]["tag"] == "breakout"
    assert stored["trades"][1]["date"] == "2024-12-24"
    assert stored["trades"][1]["exit_time"] == result["trades"][1]["exit_time"]


def test_deleting_keeps_history_consistent(store, outcome, sma_config):
    run = store.record_run(sma_config, outcome.to_dict(), strategy_name="SMA")
    store.delete_strategy(run["strategy_id"])
    kept = store.get_run(run["id"])
    assert kept["strategy_id"] is None and kept["strategy_name"] == "SMA"
    assert store.get_result(run["result_id"])["strategy_name"] == "SmaCross"  # as the engine said
    assert store.latest_results()["count"] == 0
    store.delete_run(run["id"])
    assert store.list_trades()["count"] == 0 and store.list_results()["count"] == 0
    with pytest.raises(NotFoundError):
        store.delete_run(run["id"])


def test_save_run_from_the_class_api(tmp_path):
    path = tmp_path / "nb.db"
    with Store(path) as store:
        result = algobt.backtest(SmaCross, "DEMO", period="1y", commission=0.001)
        run = save_run(result, strategy_name="My SMA", store=store, strategy=SmaCross)
        assert run["status"] == "completed" and run["source"] == "notebook"
        assert (run["symbol"], run["interval"]) == ("DEMO", "1d")
        assert run["config"]["initial_capital"] == 10_000 and run["config"]["commission"] == 0.001
        assert "class SmaCross(Strategy)" in run["config"]["strategy_code"]
        strategy = store.get_strategy_by_name("My SMA")
        assert "class SmaCross(Strategy)" in strategy["code"]
        assert strategy["kind"] == "python"
        latest = store.latest_by_strategy(strategy["id"])
        assert latest["run_id"] == run["id"]
        assert latest["total_trades"] == result["# Trades"]
        assert latest["final_equity"] == result["Equity Final [$]"]
        # The same name again: the same strategy, its latest row replaced.
        again = save_run(result, strategy_name="My SMA", store=store, config={"period": "1y"})
        assert again["strategy_id"] == strategy["id"]
        assert again["period"] == "1y" and again["config"]["initial_capital"] == 10_000
        assert store.latest_by_strategy(strategy["id"])["run_id"] == again["id"]
        assert store.list_strategies()["count"] == 1


def test_save_run_from_an_outcome_to_a_path_and_the_default_store(tmp_path, outcome):
    path = tmp_path / "nb.db"
    run = save_run(outcome, strategy_name="From outcome", store=path)
    with Store(path) as store:
        stored = store.get_result(run["result_id"])
        assert_round_trip(outcome.to_dict(), stored)
        assert store.get_strategy(run["strategy_id"])["code"] == SMA_CROSS
    default = save_run(outcome, strategy_name="Default")  # $ALGOBT_HOME/algobt.db
    assert default["strategy_name"] == "Default"
    with Store() as store:
        assert store.get_run(default["id"])["status"] == "completed"
    with pytest.raises(ConfigError):
        save_run("not a result", strategy_name="x")
