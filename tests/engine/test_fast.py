"""The fast path (``from_signals``) against the class API running ``SignalStrategy``.

Both must give the same trades, equity and stats for any signals and settings;
a hand-worked case pins the rules down, and backtesting.py checks the plain
long-only SMA cross.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import algobt
from algobt import Backtest
from algobt.engine.fast import SignalStrategy, from_signals, simulate_signals
from algobt.engine.fast_nb import _round12_nb
from algobt.engine.metrics import TRADE_COLUMNS
from algobt.engine.strategy import ALL_IN
from algobt.errors import ConfigError, DataError
from algobt.lib import SMA

STRATEGY_PARAMS = ("size", "sl_pct", "tp_pct")


def run_both(data, signals, **kwargs):
    """``from_signals`` and ``Backtest(data, SignalStrategy)`` on the same inputs."""
    params = {k: kwargs.pop(k) for k in STRATEGY_PARAMS if k in kwargs}
    fast = from_signals(data, **signals, **params, **kwargs)
    slow = Backtest(data, SignalStrategy, **kwargs).run(**signals, **params)
    return fast, slow


def assert_same(fast, slow):
    columns = list(TRADE_COLUMNS)
    pd.testing.assert_frame_equal(fast.trades[columns], slow.trades[columns], rtol=1e-9)
    np.testing.assert_allclose(fast.equity_curve["Equity"], slow.equity_curve["Equity"], rtol=1e-9)
    for key in fast.index:
        if key.startswith("_"):
            continue
        a, b = fast[key], slow[key]
        if pd.isna(a) and pd.isna(b):
            continue
        if isinstance(a, float | np.floating):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), key
        else:
            assert a == b, key
    assert list(fast.index) == list(slow.index)
    assert fast.open_trades == slow.open_trades
    assert fast.open_since == slow.open_since  # the entry bar of what is left open
    assert fast.alerts == slow.alerts
    # Everything but the provenance, which names how each was run (a class, or signals).
    fast_dict, slow_dict = fast.to_dict(), slow.to_dict()
    assert "provenance" in slow_dict
    slow_dict.pop("provenance"), fast_dict.pop("provenance", None)
    assert fast_dict == slow_dict


def cross_signals(close, fast=10, slow=30):
    """Crossovers as the class API's ``crossover()`` sees them (NaN compares False)."""
    f, s = SMA(np.asarray(close, float), fast), SMA(np.asarray(close, float), slow)
    up = np.zeros(len(f), bool)
    down = np.zeros(len(f), bool)
    up[1:] = (f[:-1] < s[:-1]) & (f[1:] > s[1:])
    down[1:] = (f[:-1] > s[:-1]) & (f[1:] < s[1:])
    return up, down


GOOG_UP, GOOG_DOWN = cross_signals(GOOG.Close)
LONG_ONLY = {"entries": GOOG_UP, "exits": GOOG_DOWN}
REVERSAL = {
    "entries": GOOG_UP,
    "exits": GOOG_DOWN,
    "short_entries": GOOG_DOWN,
    "short_exits": GOOG_UP,
}

SETTINGS = [
    {},
    {"commission": 0.002},
    {"commission": (3.0, 0.001), "spread": 0.001, "slippage": 0.0005},
    {"size": 0.37, "lot_size": 0.1, "commission": 0.001},
    {"size": 15, "lot_size": 0.25, "slippage": 0.001},
    {"sl_pct": 2.0, "tp_pct": 5.0, "commission": 0.001},
    {"sl_pct": 3.0, "trade_on_close": True, "spread": 0.002},
    {"tp_pct": 4.0, "size": 0.5, "finalize_trades": True},
    {"trade_on_close": True, "finalize_trades": True, "commission": (1.0, 0.0)},
]


@pytest.mark.parametrize("signals", [LONG_ONLY, REVERSAL], ids=["long", "reversal"])
@pytest.mark.parametrize("kwargs", SETTINGS, ids=lambda kw: ",".join(kw) or "defaults")
def test_goog_sma_cross_matches_class_api(signals, kwargs):
    assert_same(*run_both(GOOG, signals, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {
            "commission": 0.001,
            "sl_pct": 4.0,
            "tp_pct": 8.0,
            "lot_size": 0.01,
            "finalize_trades": True,
        },
    ],
)
def test_demo_data_sma_cross_matches_class_api(kwargs):
    data = algobt.load("DEMO")
    up, down = cross_signals(data.Close, 20, 50)
    signals = {"entries": up, "exits": down, "short_entries": down, "short_exits": up}
    fast, slow = run_both(data, signals, **kwargs)
    assert len(fast.trades) > 10
    assert_same(fast, slow)


def random_bars(rng, n, volatility):
    """A random walk with overnight gaps and wicks, so stops gap and brackets collide."""
    close = 100 * np.exp(np.cumsum(rng.normal(0, volatility, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0, volatility / 2, n - 1))
    wick = np.abs(rng.normal(0, volatility, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    index = pd.date_range("2021-01-04", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": np.ones(n)}, index=index
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 70),
    density=st.sampled_from([0.05, 0.2, 0.5]),
    volatility=st.sampled_from([0.01, 0.05, 0.3]),
    shorts=st.booleans(),
    kwargs=st.fixed_dictionaries(
        {
            "commission": st.sampled_from([0.0, 0.001, (2.0, 0.002)]),
            "spread": st.sampled_from([0.0, 0.002]),
            "slippage": st.sampled_from([0.0, 0.001]),
            "size": st.sampled_from([ALL_IN, 0.5, 0.005, 3, 1000]),
            "lot_size": st.sampled_from([1, 0.1, 0.25, 10]),
            "sl_pct": st.sampled_from([None, 1.0, 5.0]),
            "tp_pct": st.sampled_from([None, 2.0, 10.0]),
            "trade_on_close": st.booleans(),
            "finalize_trades": st.booleans(),
        }
    ),
)
def test_random_signals_match_class_api(seed, n, density, volatility, shorts, kwargs):
    rng = np.random.default_rng(seed)
    data = random_bars(rng, n, volatility)
    names = ["entries", "exits"] + (["short_entries", "short_exits"] if shorts else [])
    signals = {name: rng.random(n) < density for name in names}
    assert_same(*run_both(data, signals, **kwargs))


# --- the rules, worked by hand -----------------------------------------------------------

BARS = pd.DataFrame(
    {
        "Open": [100, 100, 102, 104, 108, 90],
        "High": [101, 102, 104, 112, 109, 92],
        "Low": [99, 98, 100, 95, 100, 85],
        "Close": [100, 101, 103, 110, 105, 88],
    },
    index=pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC"),
).astype(float)


def bars(*on):
    flags = np.zeros(6, bool)
    flags[list(on)] = True
    return flags


def test_six_bars_all_in_long_by_hand():
    # Signal on bar 1 -> buy at bar 2's open (102). Units: floor(cash / (102 + 0.102)) = 97.
    # Exit signal on bar 3 -> sell at bar 4's open (108).
    result = from_signals(BARS, bars(1), bars(3), commission=0.001)
    (trade,) = result.trades.itertuples()
    assert (trade.Size, trade.EntryBar, trade.EntryPrice) == (97, 2, 102.0)
    assert (trade.ExitBar, trade.ExitPrice) == (4, 108.0)
    commission = 97 * 102 * 0.001 + 97 * 108 * 0.001
    assert trade.Commission == pytest.approx(commission)
    assert trade.PnL == pytest.approx(97 * 6 - commission)
    entry_cash = 10_000 - 97 * 102 * 0.001
    expected = [
        10_000,
        10_000,
        entry_cash + 97,
        entry_cash + 97 * 8,
        10_000 + trade.PnL,
        10_000 + trade.PnL,
    ]
    np.testing.assert_allclose(result.equity_curve["Equity"], expected, rtol=1e-12)
    assert_same(result, run_both(BARS, {"entries": bars(1), "exits": bars(3)}, commission=0.001)[1])


def test_six_bars_stops_by_hand():
    # Short 10 on bar 2's signal (close 103, SL 5 % above = 108.15), filled at bar 3's open
    # (104); bar 3's high (112) reaches the SL on the fill bar itself -> exit at 108.15.
    short = from_signals(BARS, bars(), bars(), short_entries=bars(2), size=10, sl_pct=5)
    (trade,) = short.trades.itertuples()
    assert (trade.Size, trade.EntryBar, trade.EntryPrice, trade.ExitBar) == (-10, 3, 104, 3)
    assert trade.ExitPrice == pytest.approx(108.15) and trade.SL == pytest.approx(108.15)
    assert trade.PnL == pytest.approx(-41.5)
    # Long 10 on bar 3's signal (close 110: SL 99, TP 132), filled at 108 on bar 4; bar 5
    # opens at 90, below the SL: the gap fills at the open, not at the stop.
    long = from_signals(BARS, bars(3), bars(), size=10, sl_pct=10, tp_pct=20)
    (trade,) = long.trades.itertuples()
    assert (trade.EntryBar, trade.EntryPrice, trade.ExitBar, trade.ExitPrice) == (4, 108, 5, 90)
    assert trade.TP == pytest.approx(132)
    # Both levels inside one bar (bar 3: low 95, high 112): the stop-loss is taken.
    both = from_signals(BARS, bars(1), bars(), size=10, sl_pct=5, tp_pct=5)
    (trade,) = both.trades.itertuples()
    assert (trade.EntryBar, trade.ExitBar) == (2, 3)
    assert trade.ExitPrice == pytest.approx(101 * 0.95)


def test_six_bars_trade_on_close_and_finalize():
    result = from_signals(
        BARS, bars(1, 4), bars(3), size=10, trade_on_close=True, finalize_trades=True
    )
    first, second = result.trades.itertuples()
    # trade_on_close: filled at the signal bar's close, recorded on that bar.
    assert (first.EntryBar, first.EntryPrice, first.ExitBar, first.ExitPrice) == (1, 101, 3, 110)
    # Re-entered on bar 4's close (105); finalize closes it like the class API's last pass.
    assert (second.EntryBar, second.EntryPrice) == (4, 105)
    assert result.open_trades == 0
    assert_same(
        result,
        run_both(
            BARS,
            {"entries": bars(1, 4), "exits": bars(3)},
            size=10,
            trade_on_close=True,
            finalize_trades=True,
        )[1],
    )


def test_bar_zero_signals_are_ignored():
    result = from_signals(BARS, bars(0), bars())
    assert len(result.trades) == 0 and result.open_trades == 0


def test_exit_wins_over_reentry_on_the_same_bar():
    # Long from bar 2; bar 3 says both exit and enter long: the trade is closed, not renewed.
    signals = {"entries": bars(1, 3), "exits": bars(3)}
    fast, slow = run_both(BARS, signals, size=10)
    assert fast.trades[["EntryBar", "ExitBar"]].values.tolist() == [[2, 4]]
    assert fast.open_trades == 0
    assert_same(fast, slow)


def test_long_and_short_entry_on_one_bar_are_both_ignored():
    signals = {
        "entries": bars(1, 3),
        "exits": bars(),
        "short_entries": bars(1),
        "short_exits": bars(),
    }
    fast, slow = run_both(BARS, signals, size=10)
    assert len(fast.trades) == 0 and fast.open_trades == 1  # only bar 3's long is taken
    assert_same(fast, slow)


def test_entry_reverses_the_position():
    signals = {"entries": bars(1), "exits": bars(), "short_entries": bars(3), "short_exits": bars()}
    fast, slow = run_both(BARS, signals, size=10, finalize_trades=True)
    assert fast.trades[["Size", "EntryBar", "ExitBar"]].values.tolist() == [[10, 2, 4], [-10, 4, 5]]
    assert_same(fast, slow)


def test_out_of_money_stops_the_run():
    # All in short, then the price triples: equity goes below zero and the run stops.
    prices = [100, 100, 100, 150, 320, 330, 340]
    data = pd.DataFrame(
        {"Open": prices, "High": prices, "Low": prices, "Close": prices},
        index=pd.date_range("2024-01-01", periods=7, freq="D"),
    ).astype(float)
    signals = {
        "entries": np.zeros(7, bool),
        "exits": np.zeros(7, bool),
        "short_entries": np.eye(7, dtype=bool)[1],
        "short_exits": np.zeros(7, bool),
    }
    fast, slow = run_both(data, signals, finalize_trades=True)
    assert fast.trades["ExitBar"].tolist() == [4]
    assert fast.equity_curve["Equity"].iloc[4:].tolist() == [0.0] * 3
    assert [a["code"] for a in fast.alerts] == ["out_of_money"]
    assert_same(fast, slow)


def test_unaffordable_orders_are_canceled_with_an_alert():
    fast, slow = run_both(BARS, {"entries": bars(1), "exits": bars()}, size=500)
    assert len(fast.trades) == 0 and fast.open_trades == 0
    assert [a["code"] for a in fast.alerts] == ["order_canceled"]
    assert_same(fast, slow)


def test_series_signals_and_bare_simulation():
    entries = pd.Series(GOOG_UP, index=GOOG.index)
    exits = pd.Series(GOOG_DOWN, index=GOOG.index)
    result = from_signals(GOOG, entries, exits, commission=0.001)
    arrays = [GOOG[c].to_numpy() for c in ("Open", "High", "Low", "Close")]
    sim = simulate_signals(*arrays, GOOG_UP, GOOG_DOWN, commission_rate=0.001)
    np.testing.assert_array_equal(sim.equity, result.equity_curve["Equity"].to_numpy())
    np.testing.assert_array_equal(sim.trades["pnl"], result.trades["PnL"].to_numpy())
    assert sim.open_trades == result.open_trades


def test_round12_is_pythons_round():
    rng = np.random.default_rng(7)
    values = [k * lot for lot in (0.1, 0.07, 1 / 3, 0.3) for k in range(1, 60_000, 13)]
    values += [float(x) for x in rng.uniform(-9000, 9000, 20_000)]
    values += [(k + 0.5) * 1e-12 for k in range(1000)] + [8192.000000000001, 1e6 / 3]
    assert [_round12_nb(x) for x in values] == [round(x, 12) for x in values]


# --- the oracle -------------------------------------------------------------------------


def test_backtesting_py_gives_the_same_long_only_sma_cross():
    from backtesting import Backtest as BtBacktest
    from backtesting import Strategy as BtStrategy
    from backtesting.lib import crossover
    from backtesting.test import SMA as bt_sma

    class SmaCross(BtStrategy):
        def init(self):
            self.fast = self.I(bt_sma, self.data.Close, 10)
            self.slow = self.I(bt_sma, self.data.Close, 30)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    close = GOOG.Close
    fast, slow = close.rolling(10).mean().to_numpy(), close.rolling(30).mean().to_numpy()
    up = np.r_[False, (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])]
    down = np.r_[False, (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])]
    ours = from_signals(GOOG, up, down, commission=0.001)
    theirs = BtBacktest(GOOG, SmaCross, commission=0.001).run()
    columns = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice", "PnL", "ReturnPct"]
    pd.testing.assert_frame_equal(
        ours.trades[columns], theirs._trades[columns], check_dtype=False, rtol=1e-9
    )
    for key in (
        "Equity Final [$]",
        "Return [%]",
        "Max. Drawdown [%]",
        "Win Rate [%]",
        "Sharpe Ratio",
    ):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-9), key


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"entries": GOOG_UP[:-1]}, DataError, "bars"),
        ({"entries": GOOG_UP.astype(float)}, DataError, "booleans"),
        ({"exits": np.where(GOOG_DOWN, 1, 0)}, DataError, "astype(bool)"),
        (
            {"entries": pd.Series(GOOG_UP, index=GOOG.index + pd.Timedelta("1D"))},
            DataError,
            "reindex",
        ),
        (
            {"entries": pd.Series(np.where(GOOG_UP, 1.0, np.nan), index=GOOG.index)},
            DataError,
            "fillna",
        ),
        ({"entries": np.stack([GOOG_UP, GOOG_UP])}, DataError, "one-dimensional"),
        ({"entries": None}, ConfigError, "required"),
        ({"cash": -5}, ConfigError, "cash"),
        ({"size": 1.5}, ConfigError, "whole number"),
        ({"size": 0}, ConfigError, "fraction"),
        ({"commission": lambda size, price: 1.0}, ConfigError, "class API"),
        ({"commission": 0.5}, ConfigError, "between 0 and 0.1"),
        ({"sl_pct": -1}, ConfigError, "> 0"),
        ({"sl_pct": 100}, ConfigError, "below 100"),
        ({"tp_pct": "5"}, ConfigError, "percent"),
        ({"tp_pct": 0.1, "spread": 0.002}, ConfigError, "spread"),
        ({"lot_size": 0}, ConfigError, "lot_size"),
    ],
)
def test_bad_input_says_what_to_fix(kwargs, error, words):
    args = {"entries": GOOG_UP, "exits": GOOG_DOWN, **kwargs}
    with pytest.raises(error, match=None) as info:
        from_signals(GOOG, args.pop("entries"), args.pop("exits"), **args)
    assert words in str(info.value)


def test_bad_data_is_rejected():
    with pytest.raises(DataError, match="DataFrame"):
        from_signals(GOOG.Close, GOOG_UP, GOOG_DOWN)
    nan_bars = BARS.copy()
    nan_bars.iloc[2, 0] = math.nan
    with pytest.raises(DataError, match="row 2"):
        from_signals(nan_bars, bars(1), bars(3))
