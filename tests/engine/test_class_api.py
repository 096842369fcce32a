"""Class-API behaviours backtesting.py users rely on (issue 16): a strategy that swaps
its own ``next``, columns added to ``self.data.df`` in ``init()``, non-numeric
indicators, the documented stats keys of ``run()``, and pickling what a user sends
to another process. backtesting.py 0.6.6 is the oracle where it has the feature."""

from __future__ import annotations

import inspect
import pickle
import re
import warnings

import backtesting
import cloudpickle
import numpy as np
import pandas as pd
from backtesting.test import GOOG

import algobt
from algobt.engine.backtest import Backtest

SHORT = GOOG.iloc[:20]


def _run_oracle(data, strategy, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return backtesting.Backtest(data, strategy, **kwargs).run()


def _trade_rows(stats):
    return stats._trades[["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice"]].to_numpy()


# --------------------------------------------------------------------------
# self.next reassigned inside the strategy
# --------------------------------------------------------------------------


def _round_trip_then_stop(base):
    """backtesting.py's test_spread_commission strategy: one buy, one close, then done."""

    class RoundTrip(base):
        def init(self):
            pass

        def next(self):
            if not self.position:
                self.buy()
            else:
                self.position.close()
                self.next = lambda: None  # done: no more trading

    return RoundTrip


def test_reassigned_next_is_honoured_like_backtesting():
    theirs = _run_oracle(SHORT, _round_trip_then_stop(backtesting.Strategy))
    ours = Backtest(SHORT, _round_trip_then_stop(algobt.Strategy)).run()
    assert theirs["# Trades"] == 1
    assert ours["# Trades"] == theirs["# Trades"]
    np.testing.assert_array_equal(_trade_rows(ours), _trade_rows(theirs))
    np.testing.assert_allclose(ours._equity_curve.Equity, theirs._equity_curve.Equity, rtol=1e-12)


def test_next_can_be_swapped_more_than_once_and_set_in_init():
    class Phases(algobt.Strategy):
        def init(self):
            self.calls = []
            self.next = self.first

        def first(self):
            self.calls.append(("first", len(self.data)))
            self.next = self.second

        def second(self):
            self.calls.append(("second", len(self.data)))
            if len(self.data) == 4:
                self.next = self.first

    calls = Backtest(GOOG.iloc[:6], Phases).run()._strategy.calls
    assert calls == [("first", 2), ("second", 3), ("second", 4), ("first", 5), ("second", 6)]


# --------------------------------------------------------------------------
# columns added through self.data.df in init()
# --------------------------------------------------------------------------


def _with_added_column(base):
    class AddsColumn(base):
        def init(self):
            self.data.df["x2"] = self.data.df.Close * 2
            self.seen = []

        def next(self):
            self.seen.append(float(self.data.x2[-1]))
            if not self.position and self.data.x2[-1] > 2 * self.data.Open[-1]:
                self.buy()
            elif self.position and self.data.x2[-1] < 2 * self.data.Open[-1]:
                self.position.close()

    return AddsColumn


def test_columns_added_in_init_are_visible_in_next_like_backtesting():
    theirs = _run_oracle(SHORT, _with_added_column(backtesting.Strategy))
    ours = Backtest(SHORT, _with_added_column(algobt.Strategy)).run()
    assert ours._strategy.seen == theirs._strategy.seen == (2 * SHORT.Close[1:]).tolist()
    np.testing.assert_array_equal(_trade_rows(ours), _trade_rows(theirs))


def test_an_added_column_stays_in_its_own_run():
    class MaybeAdds(algobt.Strategy):
        add = True

        def init(self):
            if self.add:
                self.data.df["x2"] = self.data.df.Close * 2
            self.columns = list(self.data.df.columns)

    bt = Backtest(SHORT, MaybeAdds)
    assert "x2" in bt.run()._strategy.columns
    assert "x2" not in bt.run(add=False)._strategy.columns
    assert "x2" not in SHORT.columns


# --------------------------------------------------------------------------
# non-numeric indicators (backtesting.py's GH-309 case)
# --------------------------------------------------------------------------


def _categorical(base):
    class Categorical(base):
        def init(self):
            self.I(lambda: ["x"] * len(self.data), name="cat")  # not kept: no warm-up role
            self.sma = self.I(lambda: self.data.df.Close.rolling(3).mean().to_numpy())

        def next(self):
            if not self.position:
                self.buy()
            elif len(self.data) % 4 == 0:
                self.position.close()

    return Categorical


def test_non_numeric_indicators_are_kept_like_backtesting():
    theirs = _run_oracle(SHORT, _categorical(backtesting.Strategy))
    ours = Backtest(SHORT, _categorical(algobt.Strategy)).run()
    (their_cat, _), (our_cat, _) = theirs._strategy._indicators, ours._strategy._indicators
    assert our_cat.dtype == np.asarray(their_cat).dtype  # numpy's own inference: '<U1'
    assert our_cat.tolist() == np.asarray(their_cat).tolist() == ["x"] * len(SHORT)
    np.testing.assert_array_equal(_trade_rows(ours), _trade_rows(theirs))
    assert ours["# Trades"] == theirs["# Trades"] > 1
    assert ours._trades.columns.tolist() == theirs._trades.columns.tolist()
    assert ours._trades.filter(like="_cat").values.tolist() == (
        theirs._trades.filter(like="_cat").values.tolist()
    )


def test_a_kept_non_numeric_indicator_has_no_warmup_and_reads_per_bar():
    class Labels(algobt.Strategy):
        def init(self):
            labels = np.where(self.data.Close > self.data.Open, "up", "down").astype(object)
            self.label = self.I(lambda: labels, name="label")
            self.mixed = self.I(lambda: [None, "a"] * (len(self.data) // 2), name="mixed")
            self.seen = []

        def next(self):
            self.seen.append((self.label[-1], len(self.label), self.mixed[-1]))

    ours = Backtest(SHORT, Labels).run()
    strategy = ours._strategy
    expected = np.where(SHORT.Close > SHORT.Open, "up", "down")
    assert strategy.label.dtype == object and strategy.mixed.dtype == object
    # backtesting.py cannot run this one (its warm-up casts every kept indicator to
    # float); a label has no warm-up, so the run starts on bar 1 as with no indicator.
    assert strategy.seen == [(expected[i], i + 1, [None, "a"][i % 2]) for i in range(1, len(SHORT))]


# --------------------------------------------------------------------------
# run()'s docstring lists the stats keys
# --------------------------------------------------------------------------


def test_run_docstring_lists_every_stats_key():
    stats = Backtest(SHORT, _round_trip_then_stop(algobt.Strategy), commission=0.01).run()
    assert "Commissions [$]" in stats.index
    for run in (Backtest.run, algobt.Backtest.run):
        doc = inspect.getdoc(run)  # an override without a docstring inherits this one
        listed = re.findall(r"^ {4}(\S.*?\S) {2,}", doc, flags=re.M)
        assert listed == stats.index.tolist(), f"{run.__qualname__}'s docstring lists {listed}"


# --------------------------------------------------------------------------
# pickling what a user sends to another process
# --------------------------------------------------------------------------


class ModuleLevel(algobt.Strategy):
    """Importable by name, as plain pickle needs."""

    def next(self):
        if not self.position:
            self.buy()
        elif len(self.data) % 5 == 0:
            self.position.close()


def _assert_same_result(back, result):
    assert type(back) is type(result) and back.name == result.name
    assert (back.symbol, back.strategy_name, back.settings) == (
        result.symbol,
        result.strategy_name,
        result.settings,
    )
    pd.testing.assert_frame_equal(back.trades, result.trades)
    pd.testing.assert_frame_equal(back.equity_curve, result.equity_curve)
    assert back.to_dict() == result.to_dict()
    assert type(back._strategy) is type(result._strategy)


def test_a_result_round_trips_through_cloudpickle():
    result = Backtest(SHORT, ModuleLevel, commission=0.001).run()
    _assert_same_result(cloudpickle.loads(cloudpickle.dumps(result)), result)


def test_a_result_round_trips_through_pickle():
    result = Backtest(SHORT, ModuleLevel, commission=0.001).run()
    _assert_same_result(pickle.loads(pickle.dumps(result)), result)


def test_a_notebook_defined_strategy_round_trips_through_cloudpickle():
    # A class defined in __main__ (a notebook cell) travels by value with cloudpickle.
    namespace = {"__name__": "__main__"}
    exec(
        "import algobt\n"
        "class Cell(algobt.Strategy):\n"
        "    n = 3\n"
        "    def next(self):\n"
        "        if len(self.data) == self.n:\n"
        "            self.buy()\n",
        namespace,
    )
    cls = cloudpickle.loads(cloudpickle.dumps(namespace["Cell"]))
    first = Backtest(SHORT, namespace["Cell"]).run()
    again = Backtest(SHORT, cls).run()
    pd.testing.assert_frame_equal(again.trades, first.trades)
