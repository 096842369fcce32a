"""The ``algobt`` package itself: its public names, its one ``Backtest``, and that what a
user sends to another process (a Backtest, a Result, a notebook's strategy) pickles."""

from __future__ import annotations

import math
import pickle

import cloudpickle
import pandas as pd
import pytest
from backtesting.test import GOOG

import algobt
from algobt.engine.backtest import Backtest as EngineBacktest
from algobt.examples import SmaCross
from algobt.lib import SMA, crossover


def assert_same_result(a, b):
    """Two Results hold the same run: every stat, the trades, the equity and the records."""
    assert type(a) is type(b) is algobt.Result
    assert list(a.index) == list(b.index)
    for key in a.index:
        x, y = a[key], b[key]
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)
        elif key == "_strategy":
            assert type(x) is type(y)
        elif isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), key
        else:
            assert x == y, key
    assert (a.symbol, a.strategy_name, a.open_trades) == (b.symbol, b.strategy_name, b.open_trades)
    assert a.alerts == b.alerts and a.settings == b.settings
    assert a.to_dict() == b.to_dict()


def test_all_is_short_and_explicit():
    assert sorted(algobt.__all__) == sorted(
        [
            "Backtest",
            "Strategy",
            "backtest",
            "from_signals",
            "load",
            "serve",
            "lib",
            "Result",
            "Store",
            "rerun",
            "diff",
            "errors",
            "__version__",
        ]
    )
    for name in algobt.__all__:
        assert hasattr(algobt, name), name
    public = dir(algobt)
    assert "os" not in public and "annotations" not in public


def test_there_is_one_backtest_class():
    assert algobt.Backtest is EngineBacktest


@pytest.mark.parametrize("module", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_a_pickled_backtest_runs_the_same(module):
    bt = algobt.Backtest(GOOG, SmaCross, commission=(1.0, 0.002))
    expected = bt.run(fast=12)
    fresh = module.loads(module.dumps(algobt.Backtest(GOOG, SmaCross, commission=(1.0, 0.002))))
    assert_same_result(fresh.run(fast=12), expected)
    again = module.loads(module.dumps(bt))  # after a run, with its arrays built
    assert_same_result(again.run(fast=12), expected)


@pytest.mark.parametrize("module", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_a_result_round_trips(module):
    result = algobt.Backtest(GOOG, SmaCross, commission=0.001, finalize_trades=True).run()
    assert result["# Trades"] > 0
    assert_same_result(module.loads(module.dumps(result)), result)


def test_a_notebook_strategy_goes_to_another_process_with_cloudpickle():
    class Cell(algobt.Strategy):  # defined in a function: pickle cannot name it
        n = 15

        def init(self):
            self.ma = self.I(SMA, self.data.Close, self.n)

        def next(self):
            if crossover(self.data.Close, self.ma):
                self.buy()
            elif crossover(self.ma, self.data.Close):
                self.position.close()

    bt = algobt.Backtest(GOOG, Cell)
    expected = bt.run()
    assert expected["# Trades"] > 0
    assert_same_result(cloudpickle.loads(cloudpickle.dumps(bt)).run(), expected)
    assert_same_result(cloudpickle.loads(cloudpickle.dumps(expected)), expected)


def test_a_pickled_backtest_still_saves_where_it_was_told(tmp_path):
    db = tmp_path / "runs.db"
    bt = pickle.loads(pickle.dumps(algobt.Backtest(GOOG, SmaCross, save=str(db))))
    result = bt.run(fast=5)
    with algobt.Store(db) as store:
        (strategy,) = store.list_strategies()["results"]
        latest = store.latest_by_strategy(strategy["id"])
    assert strategy["name"] == "SmaCross"
    assert latest["total_trades"] == result["# Trades"]
    assert latest["final_equity"] == result["Equity Final [$]"]


def test_backtest_records_under_strategy_name_and_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("ALGOBT_HOME", str(tmp_path / "home"))
    algobt.Backtest(GOOG, SmaCross).run()  # neither save nor strategy_name: nothing recorded
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())
    store = algobt.Store(tmp_path / "mine.db")
    try:
        algobt.Backtest(GOOG, SmaCross, save=store, strategy_name="My cross").run(slow=40)
        (strategy,) = store.list_strategies()["results"]
        assert strategy["name"] == "My cross"
        run = store.latest_by_strategy(strategy["id"])
        assert run["strategy_name"] == "My cross"
    finally:
        store.close()
    with pytest.raises(algobt.ConfigError, match="save must be True"):
        algobt.Backtest(GOOG, SmaCross, save=42)


def test_all_in_is_one_constant():
    import inspect

    from algobt.engine import fast
    from algobt.engine.rules import _compile
    from algobt.engine.strategy import ALL_IN

    assert 0 < ALL_IN < 1
    for function in (algobt.Strategy.buy, algobt.Strategy.sell, algobt.from_signals):
        assert inspect.signature(function).parameters["size"].default is ALL_IN
    assert _compile.ALL_IN is ALL_IN and fast.ALL_IN is ALL_IN
