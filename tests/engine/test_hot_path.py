"""What the class API's per-bar shortcuts must keep: array metadata on slices, no
look-ahead, crossover on every input kind, and equity (and margin calls) on bars
where the broker has no order to fill."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from algobt import Backtest, Strategy
from algobt.engine.strategy import Indicator
from algobt.lib import SMA, cross, crossover

INDEX = pd.date_range("2024-01-01", periods=6, freq="D")


def test_indicator_slices_keep_name_options_and_index():
    ind = Indicator(np.arange(6.0), name="SMA(3)", index=INDEX, scatter=True)
    part = ind[:4]
    assert part.base is ind  # a view, not a copy
    assert part.name == "SMA(3)" and part._opts == {"scatter": True}
    pd.testing.assert_series_equal(
        part.s, pd.Series(np.arange(4.0), index=INDEX[:4], name="SMA(3)")
    )
    assert part[1:].name == "SMA(3)" and part[1:].base is ind
    assert part.df.columns.tolist() == ["SMA(3)"] and part.df.index.equals(INDEX[:4])


def test_two_dimensional_indicator_slices_keep_their_frame():
    ind = Indicator(np.vstack([np.arange(6.0), np.ones(6)]), name="BB", index=INDEX)
    part = ind[:, :3]
    assert part.name == "BB"
    assert part.df.shape == (3, 2) and part.df.index.equals(INDEX[:3])


def test_arithmetic_and_pickling_keep_the_metadata():
    part = Indicator(np.arange(6.0), name="x", index=INDEX)[:3]
    doubled = part * 2
    assert doubled.name == "x" and doubled.s.index.equals(INDEX[:3])
    back = pickle.loads(pickle.dumps(part))
    assert back.name == "x" and back.s.index.equals(INDEX[:3])
    assert float(part) == 2.0 and bool(part)


def test_copies_keep_the_metadata():
    part = Indicator(np.arange(6.0), name="x", index=INDEX, scatter=True)[:4]
    for copied in (part.copy(), copy.copy(part), copy.deepcopy(part), part.astype(np.float32)):
        assert copied.name == "x" and copied._opts == {"scatter": True}
        assert copied.s.index.equals(INDEX[:4])


def test_an_array_without_metadata_reports_defaults():
    copy = Indicator(np.arange(6.0), name="x", index=INDEX)[[0, 2]]
    assert copy.name == "" and copy._index is None and copy._opts == {}
    assert copy.s.tolist() == [0.0, 2.0]
    with pytest.raises(AttributeError):
        copy.no_such_attribute  # noqa: B018


class Probe(Strategy):
    """Records what ``next()`` sees on each bar."""

    def init(self):
        self.sma = self.I(SMA, self.data.Close, 2)
        self.seen = []

    def next(self):
        self.seen.append(
            (
                len(self.data),
                len(self.sma),
                len(self.data.Close),
                self.sma.name,
                self.sma.s.index[-1],
                self.data.Close.name,
                self.data.Close.s.index[-1],
            )
        )


def test_next_sees_named_arrays_that_end_at_the_current_bar():
    data = pd.DataFrame(
        {c: np.arange(100.0, 106.0) for c in ("Open", "High", "Low", "Close")}, index=INDEX
    )
    strategy = Backtest(data, Probe).run()._strategy
    assert [row[0] for row in strategy.seen] == [3, 4, 5, 6]  # a bar after the first SMA
    for length, sma_len, close_len, name, sma_end, close_name, close_end in strategy.seen:
        assert sma_len == close_len == length  # nothing after the current bar
        assert name == "SMA(C,2)" and close_name == "Close"
        assert sma_end == close_end == INDEX[length - 1]
    assert len(strategy.sma) == 6  # the whole indicator again after the run


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (np.array([1.0, 3.0]), np.array([2.0, 2.0]), True),
        (np.array([3.0, 1.0]), np.array([2.0, 2.0]), False),
        (Indicator(np.array([0.0, 1.0, 3.0]), name="a")[:3], 2, True),
        ([1, 3], 2, True),
        (pd.Series([1.0, 3.0], index=[5, 6]), pd.Series([2.0, 2.0], index=[5, 6]), True),
        (np.array([3.0]), np.array([2.0]), False),  # one bar: no crossing yet
        (2, np.array([3.0, 1.0]), True),
    ],
)
def test_crossover_on_every_kind_of_input(a, b, expected):
    assert crossover(a, b) is expected


def test_cross_is_either_direction():
    assert cross(np.array([3.0, 1.0]), np.array([2.0, 2.0])) is True
    assert cross(np.array([1.0, 3.0]), 2) is True
    assert cross(np.array([1.0, 1.5]), 2) is False


def test_a_margin_call_on_a_bar_without_orders_stops_the_run_there():
    # 10:1 leverage long from bar 3's open; the price then slides 20 % over 300 bars and
    # equity reaches zero a couple of hundred bars after the last fill.
    n = 400
    close = np.linspace(100.0, 80.0, n)
    data = pd.DataFrame(
        {"Open": close, "High": close + 0.5, "Low": close - 0.5, "Close": close},
        index=pd.date_range("2020-01-01", periods=n, freq="D"),
    )

    class Leveraged(Strategy):
        def next(self):
            if len(self.data) == 3:
                self.buy(size=0.9)

    result = Backtest(data, Leveraged, cash=10_000, margin=0.1, commission=0.001).run()
    ((size, entry_bar, entry_price, exit_bar, commission),) = result.trades[
        ["Size", "EntryBar", "EntryPrice", "ExitBar", "Commission"]
    ].itertuples(index=False)
    entry_commission = 0.001 * size * entry_price
    equity = 10_000 - entry_commission + (close * size - size * entry_price)
    ruin = int(np.argmax(equity <= 0))
    assert ruin > entry_bar + 64 and exit_bar == ruin
    assert [a["code"] for a in result.alerts] == ["out_of_money"]
    curve = result.equity_curve["Equity"].to_numpy()
    np.testing.assert_array_equal(curve[entry_bar:ruin], equity[entry_bar:ruin])
    assert (curve[ruin:] == 0).all() and (curve[:entry_bar] == 10_000).all()
