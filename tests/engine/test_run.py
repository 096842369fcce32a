"""config → data → strategy → result, one symbol or several."""

from __future__ import annotations

import pytest

from algobt import Backtest, load
from algobt.engine.run import run_config, strategy_from_source
from algobt.errors import ConfigError, StrategyError
from algobt.examples import SmaCross
from tests.strategies import EMA_RSI

SOURCE = """
from algobt import Strategy
from algobt.lib import SMA, crossover

class Helper(Strategy):
    pass

class Cross(Helper):
    n = 10
    def init(self):
        self.ma = self.I(SMA, self.data.Close, self.n)
    def next(self):
        if crossover(self.data.Close, self.ma):
            self.buy()
        elif crossover(self.ma, self.data.Close):
            self.position.close()
"""


def test_python_source_runs_like_the_class_api():
    outcome = run_config(
        {
            "symbol": "DEMO",
            "period": "2y",
            "strategy_code": SOURCE,
            "params": {"n": 20},
            "commission": 0.002,
            "slippage": 0,
        }
    )
    cls = strategy_from_source(SOURCE)
    direct = Backtest(load("DEMO", period="2y"), cls, commission=0.002, finalize_trades=True).run(
        n=20
    )
    assert outcome.kind == "python" and outcome.strategy_name == "Cross"
    assert outcome.result["# Trades"] == direct["# Trades"] > 0
    assert outcome.result["Equity Final [$]"] == direct["Equity Final [$]"]


def test_multi_symbol_splits_capital_and_adds_up():
    outcome = run_config(
        {
            "symbols": ["DEMO", "DEMO-FX", "DEMO-BTC"],
            "period": "2y",
            "strategy": SmaCross,
            "initial_capital": 30_000,
        }
    )
    parts = outcome.per_symbol
    assert set(parts) == {"DEMO", "DEMO-FX", "DEMO-BTC"}
    assert all(r.settings["cash"] == 10_000 for r in parts.values())
    for symbol, r in parts.items():
        alone = Backtest(
            load(symbol, period="2y"),
            SmaCross,
            cash=10_000,
            commission=0.001,
            slippage=0.0005,
            finalize_trades=True,
        ).run()
        assert r["Equity Final [$]"] == alone["Equity Final [$]"]
    combined = outcome.result
    assert combined["Equity Final [$]"] == pytest.approx(
        sum(r["Equity Final [$]"] for r in parts.values()), rel=1e-12
    )
    assert combined["# Trades"] == sum(r["# Trades"] for r in parts.values())
    result = outcome.to_dict()
    rows = {row["symbol"]: row for row in result["symbol_stats"]}
    assert set(rows) == set(parts)
    for symbol, r in parts.items():
        assert rows[symbol]["trades"] == r["# Trades"]
        assert rows[symbol]["profit"] == pytest.approx(r["_trades"]["PnL"].sum())
    assert sum(row["percentage"] for row in rows.values()) == pytest.approx(100)
    assert {t["symbol"] for t in result["trades"]} == set(parts)
    assert result["initial_capital"] == 30_000


def test_missing_strategy_and_bad_code():
    with pytest.raises(ConfigError, match="give the strategy") as info:
        run_config({"symbol": "DEMO"})
    assert info.value.field == "strategy_code"
    with pytest.raises(StrategyError, match="syntax error at line 1"):
        run_config({"symbol": "DEMO", "strategy_code": "def (:"})
    with pytest.raises(StrategyError, match="defines no subclass"):
        run_config({"symbol": "DEMO", "strategy_code": "x = 1"})


def test_json_spec_text_runs_with_parameter_overrides():
    import json

    outcome = run_config(
        {
            "symbol": "DEMO",
            "period": "5y",
            "strategy_code": json.dumps(EMA_RSI),
            "params": {"fast.period": 12},
        }
    )
    assert outcome.kind == "json" and outcome.strategy_name == "EMA cross + RSI filter"
    assert outcome.result["# Trades"] > 0
    other = run_config({"symbol": "DEMO", "period": "5y", "strategy_code": EMA_RSI})
    assert other.result["# Trades"] != outcome.result["# Trades"] or (
        other.result["Equity Final [$]"] != outcome.result["Equity Final [$]"]
    )


def test_json_errors_name_the_path():
    bad = {**EMA_RSI, "entry": {"long": {"crosses_above": ["fast", "nope"]}}}
    with pytest.raises(ConfigError) as info:
        run_config({"symbol": "DEMO", "strategy_code": bad})
    assert info.value.field.startswith("$.entry.long.crosses_above[1]")
    with pytest.raises(ConfigError, match="not valid JSON"):
        run_config({"symbol": "DEMO", "strategy_code": '{"name": '})
