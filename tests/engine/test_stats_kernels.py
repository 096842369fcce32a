"""The per-bar passes of the stats and of the OHLC check run as numba kernels; each
gives numpy's own answer to the bit (numpy's expression is the oracle here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from algobt.engine.data.validate_nb import LOW_ABOVE_HIGH, NOT_FINITE, first_unsimulatable_nb
from algobt.engine.metrics_nb import day_ends_nb, equity_curve_nb

prices = st.lists(
    st.one_of(
        st.floats(1e-3, 1e6, allow_nan=False),
        st.just(np.nan),
    ),
    min_size=2,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(prices, st.integers(0, 2**32 - 1))
def test_equity_curve_is_numpys_drawdown_and_ratios_to_the_bit(equity, seed):
    equity = np.array(equity)
    close = np.random.default_rng(seed).uniform(1, 100, equity.size)
    curve, moves = np.empty((2, equity.size)), np.empty((2, equity.size - 1))
    deepest, has_nan = equity_curve_nb(equity, close, curve, moves)

    drawdown = 1 - equity / np.maximum.accumulate(equity)
    np.testing.assert_array_equal(curve[0], equity)
    np.testing.assert_array_equal(curve[1], drawdown)  # NaN where numpy's is NaN
    np.testing.assert_array_equal(moves[0], equity[1:] / equity[:-1])
    np.testing.assert_array_equal(moves[1], close[1:] / close[:-1])
    assert (np.isnan(deepest) and np.isnan(drawdown.max())) or deepest == drawdown.max()
    assert has_nan == bool(np.isnan(equity).any())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=80), st.sampled_from([7, 60, 1440])
)
def test_day_ends_are_the_last_bar_of_each_run_of_one_day(offsets, per_day):
    stamps = np.sort(np.array(offsets, dtype=np.int64))
    ends, days = day_ends_nb(stamps, per_day)
    every_day = stamps // per_day
    expected = np.append(np.flatnonzero(np.diff(every_day)), every_day.size - 1)
    np.testing.assert_array_equal(ends, expected)
    np.testing.assert_array_equal(days, every_day[expected])


def _numpy_first_fault(values: np.ndarray):
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        return NOT_FINITE, int(row), int(col)
    above = values[:, 2] > values[:, 1]
    if above.any():
        return LOW_ABOVE_HIGH, int(np.argmax(above)), -1
    return 0, -1, -1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([1.0, 2.0, 3.0, np.nan, np.inf, -np.inf]), min_size=4, max_size=4),
        min_size=1,
        max_size=30,
    )
)
def test_the_ohlc_check_finds_the_fault_numpy_finds_first(rows):
    values = np.array(rows)
    columns = [np.ascontiguousarray(values[:, j]) for j in range(4)]
    assert tuple(int(x) for x in first_unsimulatable_nb(*columns)) == _numpy_first_fault(values)


def test_a_clean_frame_has_no_fault():
    frame = pd.DataFrame(
        {"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5], "Close": [1.5, 2.5]}
    )
    assert tuple(first_unsimulatable_nb(*(frame[c].to_numpy() for c in frame))) == (0, -1, -1)
