"""Bad input ends in one of our exceptions, with a message that says what to fix."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from algobt import Backtest, ConfigError, DataError, Strategy, StrategyError
from algobt.examples import SmaCross


@pytest.fixture
def bars():
    n = 60
    close = 100 + np.sin(np.arange(n) / 4) * 10
    return pd.DataFrame(
        {"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 1.0},
        index=pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC"),
    )


def test_empty_frame(bars):
    with pytest.raises(DataError, match="empty"):
        Backtest(bars.iloc[:0], SmaCross)


def test_nan_price_names_the_row(bars):
    bars.iloc[7, bars.columns.get_loc("Close")] = np.nan
    with pytest.raises(DataError, match=r"Close is nan at row 7 \(2024-01-08.*dropna"):
        Backtest(bars, SmaCross)


def test_missing_column_lists_what_is_there(bars):
    with pytest.raises(DataError, match=r"missing column\(s\) \['Low'\].*Rename"):
        Backtest(bars.drop(columns="Low"), SmaCross)


def test_high_below_low_names_the_row(bars):
    bars.iloc[3, bars.columns.get_loc("High")] = 1.0
    with pytest.raises(DataError, match="High < Low at row 3"):
        Backtest(bars, SmaCross)


def test_unsorted_time_names_the_row(bars):
    swapped = bars.iloc[[0, 1, 3, 2, 4]]
    with pytest.raises(DataError, match="backwards at row 3.*sort_index"):
        Backtest(swapped, SmaCross)


def test_not_a_frame():
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        Backtest([1, 2, 3], SmaCross)


def test_strategy_that_is_not_a_class(bars):
    with pytest.raises(ConfigError, match="subclass of algobt.Strategy"):
        Backtest(bars, "SmaCross")


@pytest.mark.parametrize(
    ("kwargs", "field", "pattern"),
    [
        (dict(cash=-5), "cash", "cash=-5 must be > 0"),
        (dict(cash=0), "cash", "must be > 0"),
        (dict(commission=-0.001), "commission", "between 0 and 0.1"),
        (dict(commission=(-1, 0.001)), "commission", "fixed part"),
        (dict(commission="cheap"), "commission", "not a number"),
        (dict(margin=0), "margin", "must be > 0"),
        (dict(spread=float("nan")), "spread", "finite number"),
        (dict(slippage=-0.1), "slippage", ">= 0"),
        (dict(sl_tp_priority="best"), "sl_tp_priority", "stop_loss"),
    ],
)
def test_bad_settings(bars, kwargs, field, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        Backtest(bars, SmaCross, **kwargs)
    assert info.value.field == field


def test_unknown_parameter_gets_a_did_you_mean(bars):
    with pytest.raises(ConfigError, match="no parameter 'fsat'. Did you mean 'fast'") as info:
        Backtest(bars, SmaCross).run(fsat=5)
    assert info.value.field == "fsat"


@pytest.mark.parametrize("value", ["abc", "10"])
def test_text_for_a_numeric_parameter_is_refused_before_the_run(bars, value):
    """Numbers as text are refused everywhere (docs/api.md): the default's type decides."""
    expected = re.escape(f"'fast' must be a number like its default 10 (got '{value}')")
    with pytest.raises(ConfigError, match=expected) as info:
        Backtest(bars, SmaCross).run(fast=value)
    assert info.value.field == "fast"
    assert Backtest(bars, SmaCross).run(fast=5.0)["# Trades"] >= 0  # a float is a number


class Explodes(Strategy):
    def next(self):
        if len(self.data) == 12:
            raise KeyError("no such level")


def test_strategy_raising_in_next_names_bar_and_own_line(bars):
    with pytest.raises(StrategyError) as info:
        Backtest(bars, Explodes).run()
    message = str(info.value)
    assert "Explodes.next() on bar 11 (2024-01-12" in message
    assert "KeyError" in message and "no such level" in message
    assert "test_errors.py:" in message and 'raise KeyError("no such level")' in message


class BadIndicator(Strategy):
    def init(self):
        self.bad = self.I(lambda c: c[:5], self.data.Close)


def test_indicator_of_the_wrong_length(bars):
    with pytest.raises(StrategyError, match="as long as the data.*returned shape"):
        Backtest(bars, BadIndicator).run()


class BadSize(Strategy):
    def next(self):
        self.buy(size=-3)


def test_invalid_order_size(bars):
    with pytest.raises(StrategyError, match="size=-3: give a fraction"):
        Backtest(bars, BadSize).run()


class BadBracket(Strategy):
    def next(self):
        self.buy(sl=self.data.Close[-1] * 2)


def test_stop_loss_on_the_wrong_side(bars):
    with pytest.raises(StrategyError, match="long order needs sl < price < tp"):
        Backtest(bars, BadBracket).run()
