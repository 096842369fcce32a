"""metrics' numpy arithmetic against the pandas reductions it stands in for.

``compute_stats`` reports backtesting.py's figures, which come from pandas
reductions; the module does the same arithmetic on numpy arrays. These tests
pin every helper to pandas to the last bit (and to the same result type), so a
pandas release that changes its arithmetic shows up here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from algobt.engine import metrics


def same(ours, theirs) -> bool:
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, float | np.floating):
        if np.isnan(ours) or np.isnan(theirs):
            return bool(np.isnan(ours) and np.isnan(theirs))
        return bool(ours == theirs and np.signbit(ours) == np.signbit(theirs))
    if ours is pd.NaT or theirs is pd.NaT:
        return ours is theirs
    return bool(ours == theirs) and getattr(ours, "unit", None) == getattr(theirs, "unit", None)


floats = hnp.arrays(
    np.float64,
    st.integers(0, 300),
    elements=st.one_of(
        st.floats(-1e12, 1e12, allow_nan=False),
        st.floats(-1.0, 1.0),  # NaN included
        st.sampled_from([0.0, -0.0, np.nan, 1e-300]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(floats)
def test_reductions_equal_pandas_bit_for_bit(values):
    series = pd.Series(values, dtype=float)
    with np.errstate(all="ignore"):
        assert same(metrics._sum(values), series.sum())
        assert same(metrics._mean(values), series.mean())
        assert same(metrics._max(values), series.max())
        assert same(metrics._max(values, sign=-1.0), series.min())
        assert same(metrics._var(values), series.var())
        assert same(metrics._std(values), series.std())


@pytest.mark.parametrize("size", [1000, 9000, 20_000])
def test_long_sums_keep_pandas_order(size):
    # Beyond numpy's pairwise blocks the order of additions shows in the last bits.
    values = np.random.default_rng(size).standard_normal(size) * 1e6
    values[::7] = np.nan
    series = pd.Series(values)
    assert same(metrics._mean(values), series.mean())
    assert same(metrics._var(values), series.var())


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["s", "ms", "us", "ns"]),
    st.integers(1, 400),
    st.data(),
)
def test_timedelta_reductions_equal_pandas(unit, rows, data):
    at = np.array(
        sorted(data.draw(st.sets(st.integers(0, rows - 1), max_size=rows))), dtype=np.int64
    )
    ticks = np.array(
        data.draw(
            st.lists(st.integers(0, 2**62 // max(rows, 1)), min_size=at.size, max_size=at.size)
        ),
        dtype=np.int64,
    )
    column = np.full(rows, np.timedelta64("NaT"), dtype=f"m8[{unit}]")
    column[at] = ticks.astype(f"m8[{unit}]")
    series = pd.Series(column)
    assert same(metrics._timedelta_mean(ticks, unit, rows, at), series.mean())
    assert same(metrics._timedelta_max(ticks, unit), series.max())
    if at.size == rows:
        assert same(metrics._timedelta_mean(ticks, unit, rows), series.mean())


INDEXES = {
    "daily": pd.date_range("2020-01-01", periods=300, freq="D"),
    "business_utc": pd.bdate_range("2020-01-01", periods=300, tz="UTC"),
    "hourly_new_york_dst": pd.date_range(
        "2021-03-10", periods=600, freq="h", tz="America/New_York"
    ),
    "minutes_berlin_ns": pd.date_range(
        "2021-10-30", periods=900, freq="7min", tz="Europe/Berlin"
    ).as_unit("ns"),
    "before_1970_seconds": pd.date_range("1965-06-01", periods=300, freq="5h").as_unit("s"),
    "one_bar": pd.date_range("2020-01-01", periods=1, freq="D"),
    "weekends_only": pd.date_range("2024-01-06", periods=200, freq="D")[
        pd.date_range("2024-01-06", periods=200, freq="D").day_of_week >= 5
    ],
    "irregular": pd.DatetimeIndex(
        np.sort(np.random.default_rng(3).choice(10**6, 150, replace=False)) * 60_000_000
    ).as_unit("us"),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_calendar_arithmetic_equals_pandas(name):
    index = INDEXES[name]
    assert same(metrics._bar_period(index), index[-100:].to_series().diff().median())
    ends, days = metrics._day_runs(index)
    assert same(metrics._weekend_share(index, ends, days), (index.day_of_week >= 5).mean())
    equity = 1e4 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(index))))
    expected = pd.Series(equity, index=index).resample("D").last().dropna().pct_change().dropna()
    ours = metrics._day_returns(equity, index, "D", ends)
    np.testing.assert_array_equal(ours, expected.to_numpy())


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.data())
def test_exposed_bars_equal_a_running_count_of_open_trades(n_bars, data):
    trades = data.draw(st.lists(st.tuples(st.integers(0, n_bars), st.integers(-1, n_bars + 3))))
    entry = np.array([e for e, _ in trades], dtype=np.int64)
    exit_ = np.array([x for _, x in trades], dtype=np.int64)
    steps = np.zeros(n_bars + 1, dtype=np.int64)
    np.add.at(steps, entry, 1)
    np.add.at(steps, np.minimum(exit_ + 1, n_bars), -1)
    expected = (np.cumsum(steps[:-1]) > 0).mean() * 100
    assert same(metrics._exposure_pct(entry, exit_, n_bars), expected)
