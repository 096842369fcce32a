"""Reproducible runs: every stored run records its inputs, ``algobt.rerun`` makes it again
bit for bit (or names the input that changed) and ``algobt.diff`` shows what differs."""

from __future__ import annotations

import sqlite3

import pytest

import algobt
from algobt import Backtest, Strategy, load
from algobt.engine.run import run_config
from algobt.errors import ConfigError
from algobt.examples import SmaCross
from algobt.lib import SMA, crossover
from algobt.store import Store, rerun, save_run
from tests.strategies import EMA_CROSS, EMA_RSI, SMA_CROSS

SHORT_SPEC = {
    "name": "EMA both ways",
    "version": 1,
    "indicators": {"fast": {"type": "EMA", "period": 5}, "slow": {"type": "EMA", "period": 15}},
    "entry": {
        "long": {"crosses_above": ["fast", "slow"]},
        "short": {"crosses_below": ["fast", "slow"]},
    },
    "exit": {
        "long": {"crosses_below": ["fast", "slow"]},
        "short": {"crosses_above": ["fast", "slow"]},
    },
    "risk": {"stop_loss_pct": 3.0, "size_pct": 50},
}


class Bracketed(Strategy):
    """Buys on an SMA cross with a stop-loss and take-profit a few percent away."""

    n = 10
    sl = 0.03
    tp = 0.04

    def init(self):
        self.sma = self.I(SMA, self.data.Close, self.n)

    def next(self):
        price = self.data.Close[-1]
        if crossover(self.data.Close, self.sma) and not self.position:
            self.buy(size=0.5, sl=price * (1 - self.sl), tp=price * (1 + self.tp))
        elif crossover(self.sma, self.data.Close):
            self.position.close()


def _configs():
    """Run configs of different kinds: JSON specs, Python source, several symbols,
    intraday, custom dates, every broker setting."""
    demo = {"symbol": "DEMO", "period": "1y"}
    return [
        {**demo, "strategy_code": EMA_CROSS},
        {**demo, "strategy_code": EMA_RSI, "commission": 0.002, "slippage": 0.0},
        {"symbol": "DEMO-FX", "period": "6mo", "strategy_code": SHORT_SPEC, "spread": 0.0001},
        {"symbol": "DEMO-BTC", "period": "1y", "strategy_code": EMA_CROSS, "trade_on_close": True},
        {"symbol": "DEMO-FX", "interval": "4h", "period": "1mo", "strategy_code": EMA_RSI},
        {**demo, "strategy_code": SMA_CROSS, "params": {"fast": 5, "slow": 20}},
        {"symbol": "DEMO", "start_date": "2022-03-01", "end_date": "2022-09-30",
         "strategy_code": SMA_CROSS, "lot_size": 10},
        {**demo, "strategy_code": SMA_CROSS, "margin": 0.5, "finalize_trades": False},
        {"symbols": ["DEMO", "DEMO-FX", "DEMO-BTC"], "period": "1y", "strategy_code": EMA_CROSS},
        {"symbols": ["DEMO", "DEMO-BTC"], "period": "6mo", "strategy_code": SMA_CROSS},
        {"symbol": "DEMO-BTC", "interval": "1h", "period": "1wk", "strategy_code": SHORT_SPEC},
        {**demo, "strategy_code": SMA_CROSS, "hedging": True, "exclusive_orders": True},
        {"symbol": "DEMO-FX", "period": "2y", "strategy_code": SMA_CROSS, "initial_capital": 2500},
    ]  # fmt: skip


@pytest.fixture
def twenty_runs(store, tmp_path, monkeypatch):
    """Twenty stored runs of different kinds, and their ids."""
    monkeypatch.chdir(tmp_path)
    ids = []
    for config in _configs():
        run = store.record_run(config, run_config(config).to_dict(), strategy_name="cfg")
        ids.append(run["id"])
    bars = load("DEMO", period="1y")
    for settings in (
        {},
        {"commission": 0.001, "sl_tp_priority": "take_profit"},
        {"commission": (2.0, 0.0005), "trade_on_close": True, "finalize_trades": True},
    ):
        Backtest(bars, Bracketed, save=store, **settings).run(n=12)
        ids.append(store.list_runs()["results"][0]["id"])
    algobt.backtest(SmaCross, "DEMO-FX", period="6mo", params={"fast": 7}, save=store)
    ids.append(store.list_runs()["results"][0]["id"])
    algobt.backtest(Bracketed, "DEMO-BTC", interval="4h", period="1mo", save=store)
    ids.append(store.list_runs()["results"][0]["id"])
    # A run read from the user's own CSV file.
    csv = tmp_path / "bars.csv"
    load("DEMO", period="6mo").to_csv(csv)
    config = {"symbol": "bars.csv", "strategy_code": EMA_CROSS}
    ids.append(store.record_run(config, run_config(config).to_dict(), strategy_name="csv")["id"])
    # A config run with the class itself (as a notebook passes it).
    outcome = run_config({"symbols": ["DEMO", "DEMO-FX"], "period": "6mo", "strategy": SmaCross})
    ids.append(save_run(outcome, store=store)["id"])
    assert len(set(ids)) == 20
    return ids


def test_every_stored_run_records_its_inputs(twenty_runs, store):
    for run_id in twenty_runs:
        record = store.get_run(run_id)["provenance"]
        assert record["algobt_version"] == algobt.__version__
        assert record["runner"] in ("backtest", "run_config")
        assert len(record["strategy"]["hash"]) == 64
        assert "sl_tp_priority" in record["fill_rules"]
        assert "commission" in record["fill_rules"]
        for symbol, entry in record["data"].items():
            assert entry["rows"] > 0 and entry["first"] < entry["last"]
            assert entry["source"] in ("demo", "file") and entry["cache_key"]
            assert len(entry["sha256"]) == 64, symbol


def test_a_json_run_records_the_bars_it_simulated(store):
    config = {"symbol": "DEMO", "period": "1y", "strategy_code": EMA_CROSS, "params": {}}
    run = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
    entry = store.get_run(run["id"])["provenance"]["data"]["DEMO"]
    bars = load("DEMO", period="1y")
    assert entry["rows"] == len(bars) == 252
    assert entry["first"] == bars.index[0].isoformat()
    assert entry["last"] == bars.index[-1].isoformat()
    assert entry["cache_key"] == "demo/DEMO/1d/1y"
    assert entry["path"].endswith("DEMO_1d.parquet")


def test_rerun_of_twenty_stored_runs_reproduces_them_bit_for_bit(twenty_runs, store):
    for run_id in twenty_runs:
        again = rerun(run_id, store=store)
        assert again.identical, again.message
        assert again.changes == [], again.message
        assert again.message == f"run {run_id} reproduced exactly"


def test_a_changed_data_file_is_named_as_the_cause(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "mine.csv"
    bars = load("DEMO", period="6mo")
    bars.to_csv(csv)
    config = {"symbol": "mine.csv", "strategy_code": EMA_CROSS}
    run = store.record_run(config, run_config(config).to_dict(), strategy_name="csv")
    changed = bars.copy()
    changed.iloc[60:, :4] *= 1.1  # the file is rewritten with other prices
    changed.to_csv(csv)
    again = rerun(run["id"], store=store)
    assert not again.identical
    (change,) = again.changes
    assert change["input"] == "data.mine.csv"
    assert str(csv.resolve()) in change["message"]
    assert "same bars, different values" in change["message"]
    assert str(csv.resolve()) in again.message
    # Fewer rows is said in rows.
    bars.iloc[:-5].to_csv(csv)
    (change,) = rerun(run["id"], store=store).changes
    assert f"rows {len(bars)} then, {len(bars) - 5} now" in change["message"]


def test_a_run_on_a_dataframe_reruns_when_given_its_bars(store):
    bars = load("DEMO", period="1y").copy()
    bars.attrs = {}  # the user's own frame: nothing says where it came from
    Backtest(bars, Bracketed, save=store, commission=0.001).run()
    run_id = store.list_runs()["results"][0]["id"]
    with pytest.raises(ConfigError, match="DataFrame in memory"):
        rerun(run_id, store=store)
    assert rerun(run_id, store=store, data={"DATA": bars}).identical
    other = bars.copy()
    other.iloc[100:, :4] *= 0.9
    again = rerun(run_id, store=store, data={"DATA": other})
    assert not again.identical and again.changes[0]["input"] == "data.DATA"


def test_a_new_algobt_version_is_named(store, db_path):
    config = {"symbol": "DEMO", "period": "1y", "strategy_code": EMA_CROSS}
    run = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
    conn = sqlite3.connect(db_path)
    conn.execute(
        "UPDATE backtest_runs SET provenance = json_set(provenance, '$.algobt_version', '0.0.1')"
    )
    conn.commit()
    conn.close()
    again = rerun(run["id"], store=store)
    assert again.identical  # the numbers came out the same ...
    assert [c["input"] for c in again.changes] == ["algobt_version"]  # ... on another version


def test_rerun_save_then_diff_is_identical(store):
    config = {"symbol": "DEMO", "period": "1y", "strategy_code": EMA_RSI}
    run = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
    again = rerun(run["id"], store=store, save=True)
    assert again.new_run_id != run["id"]
    same = algobt.diff(run["id"], again.new_run_id, store=store)
    assert same["identical"] and same["metrics"] == [] and same["inputs"] == []
    assert same["trades"]["a"] == same["trades"]["agree"] > 0


def test_diff_shows_settings_metrics_trades_and_equity(store):
    one = {"symbol": "DEMO", "period": "1y", "strategy_code": EMA_CROSS}
    two = {**one, "commission": 0.01}
    a = store.record_run(one, run_config(one).to_dict(), strategy_name="EMA")["id"]
    b = store.record_run(two, run_config(two).to_dict(), strategy_name="EMA")["id"]
    d = algobt.diff(a, b, store=store)
    assert not d["identical"]
    assert {"key": "config.commission", "a": None, "b": 0.01} in d["settings"]
    assert any("setting commission changed" in m for m in d["inputs"])
    metrics = {m["metric"]: m for m in d["metrics"]}
    assert metrics["net_profit"]["delta"] < 0  # ten times the commission costs money
    stored_a, stored_b = store.run_results(a)[0], store.run_results(b)[0]
    assert metrics["net_profit"]["a"] == stored_a["net_profit"]
    # Same signals, so the same trades open; their P&L differs from the first one on.
    assert d["trades"]["a"] == d["trades"]["b"] and d["trades"]["agree"] == 0
    assert d["trades"]["first_difference"]["a"]["entry_time"] == stored_a["trades"][0]["entry_time"]
    first = d["equity"]["first_difference"]
    curve_a = {p["timestamp"]: p["equity"] for p in stored_a["equity_curve"]}
    curve_b = {p["timestamp"]: p["equity"] for p in stored_b["equity_curve"]}
    parted = [t for t in curve_a if curve_a[t] != curve_b[t]]
    assert first["time"] == parted[0]
    assert d["equity"]["max_abs_difference"] == max(abs(curve_a[t] - curve_b[t]) for t in parted)


def test_diff_and_rerun_errors_say_what_to_do(store):
    queued = store.create_run({"symbol": "DEMO", "period": "1y"})
    config = {"symbol": "DEMO", "period": "1y", "strategy_code": EMA_CROSS}
    done = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
    with pytest.raises(ConfigError, match="has no result to compare"):
        store.diff_runs(done["id"], queued["id"])
    with pytest.raises(ConfigError, match="two different runs"):
        store.diff_runs(done["id"], done["id"])
    with pytest.raises(ConfigError, match="only a completed run"):
        rerun(queued["id"], store=store)


def test_a_version_3_store_gains_the_provenance_column(tmp_path):
    from algobt.store import schema

    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for migration in schema.MIGRATIONS[:3]:
        migration(conn)
    conn.execute(
        "INSERT INTO backtest_runs (symbol, status, created_at) VALUES ('DEMO', 'failed', 't')"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert store.migrated_from == 3
        (run,) = store.list_runs()["results"]
        assert run["provenance"] == {}
        with pytest.raises(ConfigError, match="only a completed run"):
            rerun(run["id"], store=store)
