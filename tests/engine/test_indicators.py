"""Indicators versus the TA-Lib oracle (``talib``), plus errors, NaNs and wrappers.

The oracle comparison asserts identical NaN positions and rtol=1e-9 on the
rest, on backtesting.py's GOOG data and on hypothesis-made random walks.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import talib
from backtesting import Backtest, Strategy
from backtesting.test import GOOG
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from algobt.engine import indicators, indicators_nb
from algobt.engine.indicators import (
    ATR,
    BBANDS,
    EMA,
    INDICATOR_SPECS,
    INDICATORS,
    MACD,
    ROC,
    RSI,
    SMA,
    STOCH,
    WMA,
    BBandsResult,
    MACDResult,
    StochResult,
)
from algobt.errors import ConfigError, DataError

HIGH = GOOG.High.to_numpy()
LOW = GOOG.Low.to_numpy()
CLOSE = GOOG.Close.to_numpy()

FAST = settings(max_examples=50, deadline=None)


def assert_same(ours, theirs, atol=0.0):
    """Same NaN positions; the numbers agree to rtol 1e-9 (atol only where stated)."""
    ours = np.atleast_2d(np.asarray(ours, dtype=float))
    theirs = np.atleast_2d(np.asarray(theirs, dtype=float))
    assert ours.shape == theirs.shape
    for mine, ref in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(ref), err_msg="NaN positions")
        ok = ~np.isnan(ref)
        np.testing.assert_allclose(mine[ok], ref[ok], rtol=1e-9, atol=atol)


def macd_atol(close):
    # MACD lines are differences of nearly equal EMAs: their rounding error
    # scales with the price level, not with the (possibly ~0) line itself.
    finite = np.abs(close[~np.isnan(close)])
    return 1e-12 * (finite.max() if finite.size else 1.0)


def talib_stoch(high, low, close, fk, sk, sd):
    # Keywords matter: talib's 3rd positional parameter is slowk_matype.
    return talib.STOCH(high, low, close, fastk_period=fk, slowk_period=sk, slowd_period=sd)


# --------------------------------------------------------------------------
# oracle: GOOG
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 10, 30, 200])
def test_moving_averages_match_talib_on_goog(n):
    assert_same(SMA(CLOSE, n), talib.SMA(CLOSE, n))
    assert_same(EMA(CLOSE, n), talib.EMA(CLOSE, n))
    assert_same(WMA(CLOSE, n), talib.WMA(CLOSE, n))


@pytest.mark.parametrize("n", [2, 5, 14, 30])
def test_rsi_matches_talib_on_goog(n):
    assert_same(RSI(CLOSE, n), talib.RSI(CLOSE, n))


@pytest.mark.parametrize("n", [1, 5, 10, 50])
def test_roc_matches_talib_on_goog(n):
    assert_same(ROC(CLOSE, n), talib.ROC(CLOSE, n))


@pytest.mark.parametrize("n", [1, 2, 14, 50])
def test_atr_matches_talib_on_goog(n):
    assert_same(ATR(HIGH, LOW, CLOSE, n), talib.ATR(HIGH, LOW, CLOSE, n))


@pytest.mark.parametrize("n,up,dn", [(2, 2.0, 2.0), (5, 1.0, 1.0), (20, 2.0, 2.0), (50, 2.5, 1.5)])
def test_bbands_match_talib_on_goog(n, up, dn):
    assert_same(BBANDS(CLOSE, n, up, dn), talib.BBANDS(CLOSE, n, up, dn))


@pytest.mark.parametrize("fast,slow,signal", [(12, 26, 9), (2, 3, 1), (5, 5, 3), (8, 50, 20)])
def test_macd_matches_talib_on_goog(fast, slow, signal):
    assert_same(
        MACD(CLOSE, fast, slow, signal),
        talib.MACD(CLOSE, fast, slow, signal),
        atol=macd_atol(CLOSE),
    )


@pytest.mark.parametrize("fk,sk,sd", [(5, 3, 3), (1, 1, 1), (14, 3, 3), (21, 1, 5)])
def test_stoch_matches_talib_on_goog(fk, sk, sd):
    assert_same(STOCH(HIGH, LOW, CLOSE, fk, sk, sd), talib_stoch(HIGH, LOW, CLOSE, fk, sk, sd))


def test_defaults_are_talibs():
    assert_same(SMA(CLOSE), talib.SMA(CLOSE))
    assert_same(EMA(CLOSE), talib.EMA(CLOSE))
    assert_same(WMA(CLOSE), talib.WMA(CLOSE))
    assert_same(RSI(CLOSE), talib.RSI(CLOSE))
    assert_same(ROC(CLOSE), talib.ROC(CLOSE))
    assert_same(ATR(HIGH, LOW, CLOSE), talib.ATR(HIGH, LOW, CLOSE))
    assert_same(BBANDS(CLOSE), talib.BBANDS(CLOSE))
    assert_same(MACD(CLOSE), talib.MACD(CLOSE), atol=macd_atol(CLOSE))
    assert_same(STOCH(HIGH, LOW, CLOSE), talib.STOCH(HIGH, LOW, CLOSE))


def test_kernels_equal_wrappers():
    np.testing.assert_array_equal(indicators_nb.sma_nb(CLOSE, 10), SMA(CLOSE, 10))
    np.testing.assert_array_equal(indicators_nb.rsi_nb(CLOSE, 14), RSI(CLOSE, 14))
    np.testing.assert_array_equal(
        np.array(indicators_nb.macd_nb(CLOSE, 12, 26, 9)), np.array(MACD(CLOSE))
    )
    np.testing.assert_array_equal(
        np.array(indicators_nb.stoch_nb(HIGH, LOW, CLOSE, 5, 3, 3)),
        np.array(STOCH(HIGH, LOW, CLOSE)),
    )


# --------------------------------------------------------------------------
# oracle: random walks (hypothesis)
# --------------------------------------------------------------------------


@st.composite
def hlc(draw, max_len=60, max_lead_nans=4):
    """Random-walk high/low/close: positive, finite, often flat, maybe on a cent grid.

    Zero steps and zero spreads are drawn on purpose: they make flat windows,
    close == low and high == low, the ties where conventions (RSI 0/0,
    stochastic 0/0, zero-width bands) show. Each array may start with its own
    run of NaNs.
    """
    size = draw(st.integers(0, max_len))
    step = st.one_of(st.just(0.0), st.floats(-0.05, 0.05))
    spread = st.one_of(st.just(0.0), st.floats(0.0, 0.03))
    steps = draw(arrays(np.float64, size, elements=step))
    close = draw(st.floats(1e-3, 1e6)) * np.exp(np.cumsum(steps))
    on_ticks = np.round(close, 2)
    if draw(st.booleans()) and (on_ticks > 0).all():
        close = on_ticks
    up = draw(arrays(np.float64, size, elements=spread))
    down = draw(arrays(np.float64, size, elements=spread))
    high, low = close * (1.0 + up), close * (1.0 - down)
    for arr in (high, low, close):
        arr[: draw(st.integers(0, max_lead_nans))] = np.nan
    return high, low, close


@FAST
@given(data=hlc(), n=st.integers(1, 40))
def test_moving_averages_and_roc_match_talib_on_random_walks(data, n):
    close = data[2]
    assert_same(SMA(close, n), talib.SMA(close, n))
    assert_same(EMA(close, n), talib.EMA(close, n))
    assert_same(WMA(close, n), talib.WMA(close, n))
    assert_same(ROC(close, n), talib.ROC(close, n))


@FAST
@given(data=hlc(), n=st.integers(2, 40))
def test_rsi_matches_talib_on_random_walks(data, n):
    assert_same(RSI(data[2], n), talib.RSI(data[2], n))


@FAST
@given(data=hlc(), n=st.integers(2, 40), up=st.floats(0.0, 3.0), dn=st.floats(0.0, 3.0))
def test_bbands_match_talib_on_random_walks(data, n, up, dn):
    assert_same(BBANDS(data[2], n, up, dn), talib.BBANDS(data[2], n, up, dn))


@FAST
@given(data=hlc(), fast=st.integers(2, 15), extra=st.integers(0, 20), signal=st.integers(1, 12))
def test_macd_matches_talib_on_random_walks(data, fast, extra, signal):
    close, slow = data[2], fast + extra
    assert_same(
        MACD(close, fast, slow, signal),
        talib.MACD(close, fast, slow, signal),
        atol=macd_atol(close),
    )


@FAST
@given(data=hlc(), n=st.integers(1, 40))
def test_atr_matches_talib_on_random_walks(data, n):
    assert_same(ATR(*data, n), talib.ATR(*data, n))


@FAST
@given(data=hlc(), fk=st.integers(1, 20), sk=st.integers(1, 8), sd=st.integers(1, 8))
def test_stoch_matches_talib_on_random_walks(data, fk, sk, sd):
    ours = STOCH(*data, fk, sk, sd)
    if np.isnan(np.vstack(data)).any(axis=0).all():
        # No bar has all three prices. talib's wrapper then computes on the
        # last bar anyway, and a NaN close over a zero range reads 0.0 there.
        assert np.isnan(np.array(ours)).all()
    else:
        assert_same(ours, talib_stoch(*data, fk, sk, sd))


# --------------------------------------------------------------------------
# precision on long series, against an exact (extended-precision) convolution
# --------------------------------------------------------------------------

_RNG = np.random.default_rng(16)
LONG = 100_000
# A positive price walk, a walk that crosses zero (a spread, a return series) and
# a quiet market at a high price level (band width a trillionth of the price).
LONG_WALK = 100.0 * np.exp(np.cumsum(_RNG.normal(0.0, 0.01, LONG)))
ZERO_WALK = np.cumsum(_RNG.normal(0.0, 1.0, LONG))
ZERO_WALK -= ZERO_WALK.mean()
QUIET = 1e4 + _RNG.normal(0.0, 1e-8, LONG)


def _windows(x, n):
    return np.lib.stride_tricks.sliding_window_view(x.astype(np.longdouble), n)


def exact_wma(x, n):
    """WMA in 80-bit extended precision, with the weighted mean of |x| (its scale)."""
    weights = np.arange(1, n + 1, dtype=np.longdouble) / (n * (n + 1) // 2)
    return _windows(x, n) @ weights, np.abs(_windows(x, n)) @ weights


@pytest.mark.parametrize("series", ["LONG_WALK", "ZERO_WALK"])
@pytest.mark.parametrize("n", [2, 5, 30, 200])
def test_wma_does_not_drift_on_a_long_series(series, n):
    x = globals()[series]
    exact, scale = exact_wma(x, n)
    ours = WMA(x, n)[n - 1 :]
    error = np.abs(ours - exact)
    # Bounded by the window's magnitude (what a float sum can promise near zero):
    # before the periodic rebuild this grew with the length, to 9e-9 of it.
    assert (error <= 1e-13 * scale).all(), float((error / scale).max())
    # ... hence 1e-9 relative wherever the WMA is not a near-cancellation.
    clear = np.abs(exact) >= 1e-3 * scale
    assert (error[clear] <= 1e-9 * np.abs(exact[clear])).all()
    talib_error = np.abs(talib.WMA(x, n)[n - 1 :] - exact)
    assert error.max() <= 10 * talib_error.max()  # as close as TA-Lib, or closer
    if series == "LONG_WALK":
        assert_same(WMA(x, n), talib.WMA(x, n))


@pytest.mark.parametrize("series", ["LONG_WALK", "ZERO_WALK", "QUIET"])
@pytest.mark.parametrize("n", [5, 20, 200])
def test_bbands_on_a_long_series(series, n):
    x = globals()[series]
    upper, middle, lower = BBANDS(x, n, 2.0, 2.0)
    windows = _windows(x, n)
    mean = windows.mean(axis=1)
    std = np.sqrt(((windows - mean[:, None]) ** 2).mean(axis=1))
    scale = np.abs(windows).mean(axis=1)
    # The middle band is TA-Lib's running-sum SMA, rounding and all.
    np.testing.assert_array_equal(middle, talib.SMA(x, n))
    assert (np.abs(middle[n - 1 :] - mean) <= 1e-10 * scale).all()
    # The width is measured around each window's own mean: it may be off by the
    # rounding of the bands themselves (an ulp of the price), not by the middle
    # band's drift (18 % of the width in QUIET before).
    ulp = np.spacing(np.abs(x).max())
    width = (upper - lower)[n - 1 :]
    assert (np.abs(width - 4.0 * std) <= 1e-9 * 4.0 * std + 4 * ulp).all()
    if series != "ZERO_WALK":
        for ours, exact in ((upper, mean + 2.0 * std), (lower, mean - 2.0 * std)):
            np.testing.assert_allclose(ours[n - 1 :], exact, rtol=1e-9)
        assert_same(BBANDS(x, n), talib.BBANDS(x, n))


# --------------------------------------------------------------------------
# NaN handling and edge sizes
# --------------------------------------------------------------------------


def test_leading_nans_are_skipped_like_talib():
    close = np.r_[np.full(3, np.nan), CLOSE[:50]]
    out = SMA(close, 10)
    assert np.isnan(out[: 3 + 9]).all() and not np.isnan(out[3 + 9 :]).any()
    np.testing.assert_array_equal(out[3:], SMA(CLOSE[:50], 10))
    assert_same(out, talib.SMA(close, 10))


def test_multi_input_starts_where_all_inputs_are_numbers():
    high, low, close = HIGH[:40].copy(), LOW[:40].copy(), CLOSE[:40].copy()
    high[:2] = np.nan
    low[:5] = np.nan
    out = ATR(high, low, close, 3)
    assert np.isnan(out[: 5 + 3]).all() and not np.isnan(out[5 + 3 :]).any()
    assert_same(out, talib.ATR(high, low, close, 3))


@pytest.mark.parametrize("size", [0, 1, 5])
def test_short_empty_and_all_nan_inputs_give_all_nan(size):
    for close in (CLOSE[:size], np.full(size, np.nan)):
        h, lo = close + 1.0, close - 1.0
        outs = [
            SMA(close, 10), EMA(close, 10), WMA(close, 10), RSI(close, 10), ROC(close, 10),
            ATR(h, lo, close, 10), *MACD(close), *BBANDS(close), *STOCH(h, lo, close),
        ]  # fmt: skip
        for out in outs:
            assert out.shape == (size,) and np.isnan(out).all()


GAP = 100  # index of an interior NaN in the gap tests


def gapped(values):
    out = values.copy()
    out[GAP] = np.nan
    return out


def test_interior_nan_windowed_indicators_recover_after_the_window():
    close = gapped(CLOSE)
    n = 10
    for func, lost_bars in (
        (SMA, list(range(GAP, GAP + n))),
        (WMA, list(range(GAP, GAP + n))),
        (ROC, [GAP, GAP + n]),  # ROC reads only today and n bars ago
    ):
        out, clean = func(close, n), func(CLOSE, n)
        assert np.flatnonzero(np.isnan(out) & ~np.isnan(clean)).tolist() == lost_bars
        np.testing.assert_allclose(out[GAP + n + 1 :], clean[GAP + n + 1 :], rtol=1e-9)
    upper = BBANDS(close, 5).upper
    assert np.isnan(upper[GAP : GAP + 5]).all() and not np.isnan(upper[GAP + 5 :]).any()


def test_interior_nan_recursive_indicators_restart_after_the_gap():
    close = gapped(CLOSE)
    after = CLOSE[GAP + 1 :]  # the series as if it began after the gap
    cases = [
        (EMA(close, 10), talib.EMA(close, 10), talib.EMA(after, 10), 9, 0.0),
        (RSI(close, 14), talib.RSI(close, 14), talib.RSI(after, 14), 14, 0.0),
    ]
    lines = zip(MACD(close), talib.MACD(close), talib.MACD(after), strict=True)
    cases += [(m, full, part, 33, macd_atol(CLOSE)) for m, full, part in lines]
    for ours, theirs_gapped, theirs_after, warmup, atol in cases:
        # Up to the gap: TA-Lib's values; the gap and the new warm-up: NaN;
        # then TA-Lib's values for the series that starts after the gap.
        assert_same(ours[:GAP], theirs_gapped[:GAP], atol=atol)
        assert np.isnan(ours[GAP : GAP + 1 + warmup]).all()
        assert not np.isnan(ours[GAP + 1 + warmup :]).any()
        assert_same(ours[GAP + 1 :], theirs_after, atol=atol)
    # TA-Lib itself does not restart: its RSI reads 0.0 ("oversold") for good, its
    # EMA and MACD stay NaN.
    assert (talib.RSI(close, 14)[GAP:] == 0.0).all()
    assert np.isnan(talib.EMA(close, 10)[GAP:]).all()
    assert np.isnan(talib.MACD(close)[0][GAP:]).all()


@FAST
@given(data=hlc(max_len=80, max_lead_nans=0), gap=st.integers(1, 60), n=st.integers(2, 12))
def test_interior_nan_every_indicator_after_the_gap_is_talib_on_what_follows(data, gap, n):
    high, low, close = (a.copy() for a in data)
    if gap >= len(close) - 1:
        return
    for arr in (high, low, close):
        arr[gap] = np.nan
    rest = [a[gap + 1 :] for a in (high, low, close)]
    pairs = [
        (EMA(close, n), talib.EMA(rest[2], n)),
        (RSI(close, n), talib.RSI(rest[2], n)),
        (ATR(high, low, close, n), talib.ATR(*rest, n)),
        (MACD(close, 2, n, 3), talib.MACD(rest[2], 2, n, 3)),
        (SMA(close, n), talib.SMA(rest[2], n)),
        (WMA(close, n), talib.WMA(rest[2], n)),
        (BBANDS(close, n), talib.BBANDS(rest[2], n)),
    ]
    for ours, theirs in pairs:
        atol = macd_atol(rest[2]) if isinstance(ours, MACDResult) else 0.0
        assert_same(np.array(ours)[..., gap + 1 :], theirs, atol=atol)


def test_interior_nan_windowed_indicators_match_talib_on_both_sides_of_the_gap():
    close = gapped(CLOSE)
    after = CLOSE[GAP + 1 :]
    for name in ("SMA", "WMA", "BBANDS"):
        ours, theirs = getattr(indicators, name)(close, 10), getattr(talib, name)(close, 10)
        assert_same(np.array(ours)[..., :GAP], np.array(theirs)[..., :GAP])
        assert_same(np.array(ours)[..., GAP + 1 :], getattr(talib, name)(after, 10))
        # TA-Lib's SMA and bands stay NaN to the end; its WMA for dozens of bars.
        lost = slice(GAP, None if name != "WMA" else GAP + 60)
        assert np.isnan(np.array(theirs)[..., lost]).all()
        assert not np.isnan(np.array(ours)[..., GAP + 10 :]).any()


def test_interior_nan_atr_restarts_on_the_true_ranges_after_it():
    close = gapped(CLOSE)
    true_range = ATR(HIGH, LOW, close, 1)
    # Bar GAP's own range needs only its high, low and the previous close.
    assert np.flatnonzero(np.isnan(true_range)).tolist() == [0, GAP + 1]
    atr = ATR(HIGH, LOW, close, 14)
    assert not np.isnan(atr[GAP]) and np.isnan(atr[GAP + 1 : GAP + 15]).all()
    # From the bar after the gap it is TA-Lib's ATR of the data that starts there.
    theirs = talib.ATR(HIGH[GAP + 1 :], LOW[GAP + 1 :], CLOSE[GAP + 1 :], 14)
    assert_same(atr[GAP + 1 :], theirs)
    assert_same(atr[:GAP], talib.ATR(HIGH, LOW, CLOSE, 14)[:GAP])


def test_interior_nan_stoch_blanks_only_windows_holding_it():
    high = gapped(HIGH)
    k, d = STOCH(high, LOW, CLOSE, 5, 3, 3)
    k0, d0 = STOCH(HIGH, LOW, CLOSE, 5, 3, 3)
    # %K windows holding bar GAP: GAP..GAP+4; slow %K adds 2 bars, slow %D 2 more.
    assert np.flatnonzero(np.isnan(k) & ~np.isnan(k0)).tolist() == list(range(GAP, GAP + 7))
    assert np.flatnonzero(np.isnan(d) & ~np.isnan(d0)).tolist() == list(range(GAP, GAP + 9))
    np.testing.assert_allclose(d[GAP + 9 :], d0[GAP + 9 :], rtol=1e-9)


NAN = np.nan
# Worked by hand: a gap at bar 3 in x, period 2 (see docs/indicators.md).
HAND_X = np.array([1.0, 3.0, 2.0, NAN, 4.0, 8.0, 6.0, 7.0])
HAND_H = np.array([2.0, 3.0, 4.0, 6.0, NAN, 7.0, 8.0, 10.0])
HAND_CASES = {
    "SMA": (lambda: SMA(HAND_X, 2), [NAN, 2, 2.5, NAN, NAN, 6, 7, 6.5]),
    "EMA": (lambda: EMA(HAND_X, 2), [NAN, 2, 2, NAN, NAN, 6, 6, 6 + 2 / 3]),
    "WMA": (lambda: WMA(HAND_X, 2), [NAN, 7 / 3, 7 / 3, NAN, NAN, 20 / 3, 20 / 3, 20 / 3]),
    "ROC": (lambda: ROC(HAND_X, 1), [NAN, 200, -100 / 3, NAN, NAN, 100, -25, 100 / 6]),
    # changes +2, -1 | (gap) | +4, -2, +1: gain/loss 1/0.5, then 2/1, then 1.5/0.5
    "RSI": (lambda: RSI(HAND_X, 2), [NAN, NAN, 200 / 3, NAN, NAN, NAN, 200 / 3, 75]),
    "BBANDS.upper": (lambda: BBANDS(HAND_X, 2, 1, 1).upper, [NAN, 3, 3, NAN, NAN, 8, 8, 7]),
    "BBANDS.lower": (lambda: BBANDS(HAND_X, 2, 1, 1).lower, [NAN, 1, 2, NAN, NAN, 4, 6, 6]),
    # true ranges 1.5, 1.5, 2.5 | NaN (bar 4), NaN (no previous close) | 1.5, 2.5
    "ATR": (
        lambda: ATR(HAND_H, HAND_H - 1, HAND_H - 0.5, 2),
        [NAN, NAN, 1.5, 2, NAN, NAN, NAN, 2],
    ),
    # fast %K: 2.5/3, 2.5/3, 3.5/4 | NaN (windows holding bar 4) | 2.5/3, 3.5/4;
    # slow %K is its 2-bar mean
    "STOCH.k": (
        lambda: STOCH(HAND_H, HAND_H - 2, HAND_H - 0.5, 2, 2, 1).k,
        [NAN, NAN, 250 / 3, (250 / 3 + 87.5) / 2, NAN, NAN, NAN, (250 / 3 + 87.5) / 2],
    ),
    # a straight line: every MACD line is 0.5 once warm, before and after the gap
    "MACD.macd": (
        lambda: MACD(np.r_[np.arange(1.0, 7.0), NAN, np.arange(11.0, 17.0)], 2, 3, 2).macd,
        [NAN] * 3 + [0.5] * 3 + [NAN] * 4 + [0.5] * 3,
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_interior_nan_hand_worked(name):
    call, expected = HAND_CASES[name]
    np.testing.assert_allclose(call(), expected, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------
# parameter and input errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,field,words",
    [
        (lambda: SMA(CLOSE, 0), "n", "between 1 and 100000"),
        (lambda: EMA(CLOSE, -3), "n", "got -3"),
        (lambda: WMA(CLOSE, 2.5), "n", "whole number"),
        (lambda: SMA(CLOSE, "10"), "n", "whole number"),
        (lambda: SMA(CLOSE, None), "n", "whole number"),
        (lambda: SMA(CLOSE, True), "n", "whole number"),
        (lambda: SMA(CLOSE, 100_001), "n", "between 1 and 100000"),
        (lambda: RSI(CLOSE, 1), "n", "between 2 and 100000"),
        (lambda: ROC(CLOSE, 0), "n", "between 1 and 100000"),
        (lambda: ATR(HIGH, LOW, CLOSE, 0), "n", "between 1 and 100000"),
        (lambda: BBANDS(CLOSE, 1), "n", "between 2 and 100000"),
        (lambda: BBANDS(CLOSE, 20, float("nan")), "nbdev_up", "finite number"),
        (lambda: BBANDS(CLOSE, 20, 2.0, float("inf")), "nbdev_dn", "finite number"),
        (lambda: BBANDS(CLOSE, 20, "2"), "nbdev_up", "finite number"),
        (lambda: MACD(CLOSE, 1, 26, 9), "fast", "between 2 and 100000"),
        (lambda: MACD(CLOSE, 12, 26, 0), "signal", "between 1 and 100000"),
        (lambda: MACD(CLOSE, 30, 26, 9), "fast", "must not exceed slow"),
        (lambda: STOCH(HIGH, LOW, CLOSE, 0), "fastk_period", "between 1 and 100000"),
        (lambda: STOCH(HIGH, LOW, CLOSE, 5, 3, 0), "slowd_period", "between 1 and 100000"),
    ],
)
def test_bad_parameters_raise_config_error_saying_what_and_how(call, field, words):
    with pytest.raises(ConfigError) as info:
        call()
    err = info.value
    assert err.field == field
    assert field in err.message and words in err.message


def test_period_message_says_short_series_are_fine():
    with pytest.raises(ConfigError, match="shorter than the period is fine"):
        SMA(CLOSE, 0)


def test_whole_float_and_numpy_periods_are_accepted():
    np.testing.assert_array_equal(SMA(CLOSE, 10.0), SMA(CLOSE, np.int64(10)))
    assert_same(BBANDS(CLOSE, np.int32(20), np.float32(2)), talib.BBANDS(CLOSE, 20, 2.0, 2.0))


@pytest.mark.parametrize(
    "call,field,words",
    [
        (lambda: SMA(np.ones((5, 2)), 2), "close", "1-D"),
        (lambda: SMA(3.0, 2), "close", "1-D"),
        (lambda: SMA(["a", "b"], 2), "close", "numeric"),
        (lambda: ATR(HIGH, LOW[:-1], CLOSE), "close", "same length"),
        (lambda: STOCH(GOOG.High, GOOG.Low.iloc[::-1], GOOG.Close), "low", "different indexes"),
    ],
)
def test_bad_inputs_raise_data_error(call, field, words):
    with pytest.raises(DataError, match=words) as info:
        call()
    assert info.value.field == field


def test_kernels_reject_periods_below_minimum():
    with pytest.raises(ValueError):
        indicators_nb.sma_nb(CLOSE, 0)
    with pytest.raises(ValueError):
        indicators_nb.macd_nb(CLOSE, 26, 12, 9)


# --------------------------------------------------------------------------
# wrappers: types, Series, backtesting.py
# --------------------------------------------------------------------------


def test_array_like_in_plain_ndarray_out():
    for values in (CLOSE, list(CLOSE), CLOSE.astype(np.float32), np.arange(50)):
        out = SMA(values, 5)
        assert type(out) is np.ndarray and out.dtype == np.float64 and len(out) == len(values)
    macd = MACD(CLOSE)
    assert isinstance(macd, MACDResult) and all(type(v) is np.ndarray for v in macd)


SERIES_CALLS = {
    "SMA": lambda h, lo, c: SMA(c, 10),
    "EMA": lambda h, lo, c: EMA(c, 10),
    "WMA": lambda h, lo, c: WMA(c, 10),
    "RSI": lambda h, lo, c: RSI(c, 14),
    "ROC": lambda h, lo, c: ROC(c, 10),
    "ATR": lambda h, lo, c: ATR(h, lo, c, 14),
    "MACD": lambda h, lo, c: MACD(c),
    "BBANDS": lambda h, lo, c: BBANDS(c),
    "STOCH": lambda h, lo, c: STOCH(h, lo, c),
}


@pytest.mark.parametrize("name", sorted(SERIES_CALLS))
def test_series_in_series_out_with_same_index(name):
    call = SERIES_CALLS[name]
    from_series = call(GOOG.High, GOOG.Low, GOOG.Close)
    from_arrays = call(HIGH, LOW, CLOSE)
    if isinstance(from_arrays, tuple):
        assert type(from_series) is type(from_arrays)
        assert len(from_series) == len(INDICATOR_SPECS[name].outputs)
        pairs = zip(from_series, from_arrays, from_series._fields, strict=True)
    else:
        pairs = [(from_series, from_arrays, None)]
    for series, array, field in pairs:
        assert isinstance(series, pd.Series)
        assert series.index.equals(GOOG.index)
        np.testing.assert_array_equal(series.to_numpy(), array)
        assert series.name.startswith(f"{name}(")
        if field:
            assert series.name.endswith(f").{field}")


def test_series_names_and_dataframe_recipe():
    assert SMA(GOOG.Close, 20).name == "SMA(20)"
    frame = pd.concat(MACD(GOOG.Close), axis=1)
    assert list(frame.columns) == [
        "MACD(12,26,9).macd",
        "MACD(12,26,9).signal",
        "MACD(12,26,9).hist",
    ]
    # A Series with pandas' nullable dtype: missing values read as NaN.
    s = pd.Series([1.0, None, 3.0, 4.0, 5.0], dtype="Float64")
    assert np.isnan(SMA(s, 2).iloc[:3]).all() and SMA(s, 2).iloc[4] == 4.5


def test_named_tuples_unpack_and_name_their_lines():
    macd, signal, hist = MACD(CLOSE)
    assert MACDResult._fields == ("macd", "signal", "hist")
    assert BBandsResult._fields == ("upper", "middle", "lower")
    assert StochResult._fields == ("k", "d")
    np.testing.assert_array_equal(MACD(CLOSE).signal, signal)
    np.testing.assert_allclose(hist[~np.isnan(hist)], (macd - signal)[~np.isnan(hist)])


class _UsesEverything(Strategy):
    def init(self):
        d = self.data
        self.sma = self.I(SMA, d.Close, 10)
        self.macd = self.I(MACD, d.Close, 12, 26, 9)
        self.bb = self.I(BBANDS, d.Close, 20)
        self.stoch = self.I(STOCH, d.High, d.Low, d.Close)
        self.atr = self.I(ATR, d.High, d.Low, d.Close, 14)
        self.rsi = self.I(RSI, d.Close)

    def next(self):
        if not self.position and self.data.Close[-1] > self.sma[-1] and self.macd[1][-1] < 0:
            self.buy()
        elif self.position and self.rsi[-1] > 70:
            self.position.close()


@pytest.mark.filterwarnings("ignore:DatetimeIndex.dayofweek is deprecated")
def test_works_with_backtesting_self_I():
    bt = Backtest(GOOG.iloc[:400], _UsesEverything, cash=100_000)
    stats = bt.run()
    strategy = stats._strategy
    assert strategy.macd.shape == (3, 400) and strategy.stoch.shape == (2, 400)
    assert_same(strategy.sma, talib.SMA(CLOSE[:400], 10))
    assert stats["# Trades"] >= 1


# --------------------------------------------------------------------------
# registry and docs
# --------------------------------------------------------------------------

TALIB_NAMES = {
    "n": "timeperiod",
    "fast": "fastperiod",
    "slow": "slowperiod",
    "signal": "signalperiod",
    "nbdev_up": "nbdevup",
    "nbdev_dn": "nbdevdn",
}


def test_registry_lists_the_nine_indicators():
    names = {"SMA", "EMA", "WMA", "RSI", "MACD", "BBANDS", "ATR", "STOCH", "ROC"}
    assert set(INDICATORS) == set(INDICATOR_SPECS) == names
    for name, func in INDICATORS.items():
        assert func is getattr(indicators, name) and INDICATOR_SPECS[name].func is func
    assert INDICATOR_SPECS["MACD"].outputs == ("macd", "signal", "hist")
    assert INDICATOR_SPECS["BBANDS"].outputs == ("upper", "middle", "lower")
    assert INDICATOR_SPECS["STOCH"].outputs == ("k", "d")
    assert INDICATOR_SPECS["ATR"].inputs == ("high", "low", "close")


@pytest.mark.parametrize("name", sorted(INDICATOR_SPECS))
def test_spec_defaults_match_talib_and_lookback_matches_output(name):
    from talib import abstract

    spec = INDICATOR_SPECS[name]
    theirs = abstract.Function(name).parameters
    for param in spec.params:
        assert param.default == theirs[TALIB_NAMES.get(param.name, param.name)]
        assert param.minimum <= param.default <= param.maximum
    columns = {"high": HIGH, "low": LOW, "close": CLOSE}
    out = spec.func(*(columns[c] for c in spec.inputs))
    lines = out if isinstance(out, tuple) else (out,)
    assert len(lines) == len(spec.outputs)
    for line in lines:
        assert np.isnan(line).sum() == spec.lookback()
    with pytest.raises(ConfigError, match="unknown parameter"):
        spec.lookback(period=3)


def test_docstring_examples_run():
    for module in (indicators, indicators_nb):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0
