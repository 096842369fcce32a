"""Numba kernels for the classic technical indicators, TA-Lib compatible.

Every kernel takes float64 1-D arrays plus integer/float parameters and returns
new float64 arrays of the same length as its input. Values agree with TA-Lib
(the C library behind the ``talib`` package, default settings: compatibility
"default", unstable period 0) to about 1e-12 relative on ordinary price data,
and the leading NaNs (the warm-up) sit at exactly the same positions, so a
strategy backtested here starts trading on the same bar as one built on
``talib``.

NaN conventions (why: a backtest must never act on a number made up from a
gap in the data):

* Leading NaNs are skipped, as ``talib`` does: the indicator starts at the
  first bar where every input is a number and the warm-up counts from there.
  For several inputs (``atr_nb``, ``stoch_nb``) that is the first bar where
  all of them are numbers.
* After that, a NaN in the middle of a series (a gap) costs only the bars
  that need it, and every indicator recovers once its window has refilled
  (see ``docs/indicators.md`` for worked examples):

  - moving-window indicators (SMA, WMA, BBANDS, ROC, STOCH) give NaN exactly
    for the windows that hold the gap;
  - recursive ones (EMA, RSI, MACD, ATR), whose value depends on every past
    bar, start afresh after it: the bars after the gap are computed as if
    the series began there (ATR: on the true ranges after the gap), warm-up
    included.

  TA-Lib differs on such interior gaps: its SMA, BBANDS, EMA, MACD, ATR
  and smoothed STOCH stay NaN for good, its WMA long after the window has
  refilled (68 bars for a period of 10 on GOOG), its RSI returns 0.0 from the
  gap on, its STOCH reads through a NaN high/low in some windows, and its
  true range replaces a NaN previous close by the bar's high - low. On
  gap-free data (after any leading NaNs) none of this matters and the
  outputs agree.

Parameters are checked only cheaply here (``ValueError``); the pandas-facing
wrappers in :mod:`algobt.engine.indicators` validate them properly and raise
:class:`algobt.errors.ConfigError`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Relative dead zone for "the high-low range is zero" in the stochastic,
# TA-Lib's TA_EPSILON applied to |highest| + |lowest|.
ZERO_RANGE_REL = 1e-14

# --------------------------------------------------------------------------
# helpers (shared by the public kernels; not part of the API)
# --------------------------------------------------------------------------


@njit(cache=True)
def _first_valid_nb(x):
    """Index of the first non-NaN value of ``x``, or -1 if there is none."""
    for i in range(x.shape[0]):
        if not np.isnan(x[i]):
            return i
    return -1


@njit(cache=True)
def _run_end_nb(x, i):
    """End (exclusive) of the NaN-free run of ``x`` that starts at ``i``."""
    while i < x.shape[0] and not np.isnan(x[i]):
        i += 1
    return i


@njit(cache=True)
def _next_valid_nb(x, i):
    """Index of the first non-NaN value of ``x`` at or after ``i``, or -1."""
    while i < x.shape[0]:
        if not np.isnan(x[i]):
            return i
        i += 1
    return -1


@njit(cache=True)
def _first_valid3_nb(a, b, c):
    """Index of the first bar where ``a``, ``b`` and ``c`` are all non-NaN, or -1."""
    for i in range(a.shape[0]):
        if not (np.isnan(a[i]) or np.isnan(b[i]) or np.isnan(c[i])):
            return i
    return -1


@njit(cache=True)
def _sma_into_nb(x, start, n, out):
    """Write the n-bar SMA of ``x[start:]`` into ``out[start + n - 1:]``.

    A running sum (add the newest, then drop the oldest: TA-Lib's order, so
    TA-Lib's rounding) keeps it O(len). NaNs are kept out of the sum and
    counted instead, so a NaN blanks only the windows that hold it.
    Period 1 is a plain copy (TA-Lib: "no smoothing").
    """
    size = x.shape[0]
    if n == 1:
        for i in range(start, size):
            out[i] = x[i]
        return
    total = 0.0
    nans = 0
    for i in range(start, size):
        v = x[i]
        if np.isnan(v):
            nans += 1
        else:
            total += v
        if i - start >= n - 1:
            out[i] = total / n if nans == 0 else np.nan
            old = x[i - n + 1]
            if np.isnan(old):
                nans -= 1
            else:
                total -= old


@njit(cache=True)
def _ema_into_nb(x, start, n, out):
    """Write the n-bar EMA of ``x[start:]`` into ``out[start + n - 1:]``.

    Seeded, like TA-Lib, with the simple mean of the first ``n`` values (so
    the first output lands on bar ``start + n - 1``), then
    ``ema += (x - ema) * 2 / (n + 1)``. Period 1 is a plain copy.
    """
    size = x.shape[0]
    if n == 1:
        for i in range(start, size):
            out[i] = x[i]
        return
    if size - start < n:
        return
    k = 2.0 / (n + 1)
    total = 0.0
    for i in range(start, start + n):
        total += x[i]
    prev = total / n
    out[start + n - 1] = prev
    for i in range(start + n, size):
        prev = (x[i] - prev) * k + prev
        out[i] = prev


@njit(cache=True)
def _check_period_nb(n, minimum):
    if n < minimum:
        raise ValueError("indicator period below its minimum")


# --------------------------------------------------------------------------
# moving averages
# --------------------------------------------------------------------------


@njit(cache=True)
def sma_nb(close, n):
    """Simple moving average: the mean of the last ``n`` values, in price units.

    The first ``n - 1`` bars (after any leading NaNs) are NaN. Requires n >= 1.

    >>> sma_nb(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    array([nan, 1.5, 2.5, 3.5])
    """
    _check_period_nb(n, 1)
    out = np.full(close.shape[0], np.nan)
    start = _first_valid_nb(close)
    if start >= 0:
        _sma_into_nb(close, start, n, out)
    return out


@njit(cache=True)
def ema_nb(close, n):
    """Exponential moving average with alpha = 2 / (n + 1), in price units.

    Seeded with the SMA of the first ``n`` values (TA-Lib's default, not
    MetaStock's "start from the first price"), so the first ``n - 1`` bars
    are NaN. After an interior NaN it is seeded again from the next ``n``
    values (TA-Lib stays NaN). Requires n >= 1.

    >>> ema_nb(np.array([1.0, 2.0, 3.0, 4.0]), 3)
    array([nan, nan,  2.,  3.])
    """
    _check_period_nb(n, 1)
    out = np.full(close.shape[0], np.nan)
    start = _first_valid_nb(close)
    while start >= 0:
        # Each NaN-free run starts afresh, seeded like the start of the series.
        end = _run_end_nb(close, start)
        _ema_into_nb(close[start:end], 0, n, out[start:end])
        start = _next_valid_nb(close, end)
    return out


@njit(cache=True)
def wma_nb(close, n):
    """Linearly weighted moving average: weights 1..n, newest bar heaviest.

    In price units; the first ``n - 1`` bars are NaN. Requires n >= 1. The
    O(1) sliding update is rebuilt exactly every n bars, so its rounding does
    not grow with the series: within ~1e-14 of the window's magnitude on
    100,000 bars (TA-Lib: ~1e-13).

    >>> wma_nb(np.array([1.0, 2.0, 3.0, 4.0]), 2)  # (1*1 + 2*2) / 3, ...
    array([       nan, 1.66666667, 2.66666667, 3.66666667])
    """
    _check_period_nb(n, 1)
    size = close.shape[0]
    out = np.full(size, np.nan)
    start = _first_valid_nb(close)
    if start < 0:
        return out
    if n == 1:
        for i in range(start, size):
            out[i] = close[i]
        return out
    if size - start < n:
        return out
    divider = n * (n + 1) / 2.0
    # Keep the weighted sum and the plain sum of the window; sliding one bar
    # lowers every weight by one (subtract the plain sum) and adds the newest
    # value at weight n, so each bar costs O(1) instead of O(n). Each slide
    # rounds, and the weighted sum integrates the plain sum's rounding, so
    # the error would grow with the series' length (1e-9 of the price after
    # 100,000 bars); rebuilding both sums from scratch every n bars bounds it
    # to n slides at twice the work. After a NaN has left the window the sums
    # are rebuilt too.
    wsum = 0.0
    psum = 0.0
    nans = 0
    primed = False
    slides = 0
    for i in range(start, size):
        v = close[i]
        if np.isnan(v):
            nans += 1
        if i - n >= start and np.isnan(close[i - n]):
            nans -= 1
        if i - start < n - 1:
            continue
        if nans > 0:
            primed = False
            continue
        if primed and slides < n:
            wsum += v * n - psum
            psum += v - close[i - n]
            slides += 1
        else:
            wsum = 0.0
            psum = 0.0
            for j in range(n):
                w = close[i - n + 1 + j]
                wsum += w * (j + 1)
                psum += w
            primed = True
            slides = 0
        out[i] = wsum / divider
    return out


# --------------------------------------------------------------------------
# oscillators
# --------------------------------------------------------------------------


@njit(cache=True)
def rsi_nb(close, n):
    """Wilder's Relative Strength Index, 0..100.

    The first average gain/loss is the plain mean of the first ``n`` price
    changes, so the first value lands on bar ``n`` (after leading NaNs); later
    averages use Wilder smoothing ``avg = (avg * (n - 1) + change) / n``.
    A window without any change gives 0.0 (TA-Lib's convention). After an
    interior NaN the averages start afresh, as at the start of the series:
    the next value lands ``n`` bars after the gap's last NaN. Requires n >= 2.

    >>> rsi_nb(np.array([1.0, 2.0, 3.0, 2.0, 3.0]), 2)
    array([ nan,  nan, 100.,  50.,  75.])
    """
    _check_period_nb(n, 2)
    out = np.full(close.shape[0], np.nan)
    start = _first_valid_nb(close)
    while start >= 0:
        end = _run_end_nb(close, start)
        _rsi_into_nb(close[start:end], n, out[start:end])
        start = _next_valid_nb(close, end)
    return out


@njit(cache=True)
def _rsi_into_nb(close, n, out):
    """RSI of the NaN-free ``close`` into ``out`` (same length), from bar ``n`` on."""
    size = close.shape[0]
    if size <= n:
        return
    gain = 0.0
    loss = 0.0
    prev = close[0]
    for i in range(1, n + 1):
        change = close[i] - prev
        prev = close[i]
        if change < 0.0:
            loss -= change
        else:
            gain += change
    gain /= n
    loss /= n
    i = n
    while True:
        both = gain + loss
        if both == 0.0:
            out[i] = 0.0
        elif np.isnan(both):  # infinite prices: no honest reading
            out[i] = np.nan
        else:
            out[i] = 100.0 * (gain / both)
        i += 1
        if i >= size:
            break
        change = close[i] - prev
        prev = close[i]
        gain *= n - 1
        loss *= n - 1
        if change < 0.0:
            loss -= change
        else:
            gain += change
        gain /= n
        loss /= n


@njit(cache=True)
def macd_nb(close, fast, slow, signal):
    """Moving Average Convergence/Divergence: returns ``(macd, signal, hist)``.

    ``macd = EMA(close, fast) - EMA(close, slow)``, ``signal`` is the EMA of
    ``macd`` over ``signal`` bars and ``hist = macd - signal``, all in price
    units. Aligned the TA-Lib way: both EMAs are seeded on the same bar,
    ``slow - 1``, the fast one with the mean of the ``fast`` values ending
    there (so the fast EMA here differs slightly from a stand-alone
    ``ema_nb(close, fast)`` for a while), and all three outputs start together
    on bar ``slow + signal - 2``. After an interior NaN all three start
    afresh, aligned the same way from the bar after it (TA-Lib stays NaN).
    Requires 2 <= fast <= slow and signal >= 1 (TA-Lib swaps fast and slow
    if fast > slow; this kernel refuses).

    >>> m, s, h = macd_nb(np.arange(1.0, 7.0), 2, 3, 2)
    >>> m
    array([nan, nan, nan, 0.5, 0.5, 0.5])
    """
    _check_period_nb(fast, 2)
    _check_period_nb(signal, 1)
    if slow < fast:
        raise ValueError("macd_nb needs fast <= slow")
    size = close.shape[0]
    macd = np.full(size, np.nan)
    sig = np.full(size, np.nan)
    hist = np.full(size, np.nan)
    start = _first_valid_nb(close)
    while start >= 0:
        # Each NaN-free run starts afresh, aligned like the start of the series.
        end = _run_end_nb(close, start)
        _macd_into_nb(
            close[start:end], fast, slow, signal, macd[start:end], sig[start:end], hist[start:end]
        )
        start = _next_valid_nb(close, end)
    return macd, sig, hist


@njit(cache=True)
def _macd_into_nb(close, fast, slow, signal, macd, sig, hist):
    """MACD lines of the NaN-free ``close`` into ``macd``, ``sig``, ``hist``."""
    size = close.shape[0]
    start = 0
    first = start + slow + signal - 2
    if first >= size:
        return
    slow_ema = np.full(size, np.nan)
    fast_ema = np.full(size, np.nan)
    _ema_into_nb(close, start, slow, slow_ema)
    _ema_into_nb(close, start + slow - fast, fast, fast_ema)
    line = np.full(size, np.nan)
    line_start = start + slow - 1
    for i in range(line_start, size):
        line[i] = fast_ema[i] - slow_ema[i]
    _ema_into_nb(line, line_start, signal, sig)
    for i in range(first, size):
        macd[i] = line[i]
        hist[i] = line[i] - sig[i]


@njit(cache=True)
def stoch_nb(high, low, close, fastk_period, slowk_period, slowd_period):
    """Slow stochastic oscillator: returns ``(slowk, slowd)``, both 0..100.

    Fast %K is ``100 * (close - lowest low) / (highest high - lowest low)``
    over ``fastk_period`` bars (0.0 when the range is zero, or within rounding
    noise of it, as TA-Lib does);
    slow %K is its SMA over ``slowk_period`` bars and slow %D the SMA of slow
    %K over ``slowd_period`` bars (TA-Lib STOCH with both MA types SMA). Both
    outputs start on bar ``fastk_period + slowk_period + slowd_period - 3``.
    A %K window holding a NaN gives NaN. All periods must be >= 1.

    >>> h = np.array([3.0, 4.0, 5.0, 6.0]); lo = h - 2.0; c = h - 0.5
    >>> stoch_nb(h, lo, c, 2, 1, 1)[0].round(2).tolist()
    [nan, 83.33, 83.33, 83.33]
    """
    _check_period_nb(fastk_period, 1)
    _check_period_nb(slowk_period, 1)
    _check_period_nb(slowd_period, 1)
    size = close.shape[0]
    slowk = np.full(size, np.nan)
    slowd = np.full(size, np.nan)
    start = _first_valid3_nb(high, low, close)
    first = start + fastk_period + slowk_period + slowd_period - 3
    if start < 0 or first >= size:
        return slowk, slowd
    fastk = np.full(size, np.nan)
    k_start = start + fastk_period - 1
    for i in range(k_start, size):
        hh = high[i]
        ll = low[i]
        bad = np.isnan(hh) or np.isnan(ll) or np.isnan(close[i])
        # A plain scan: periods are small, and it makes "any NaN in the
        # window -> NaN" trivially true, unlike an incremental max/min.
        for j in range(i - fastk_period + 1, i):
            if np.isnan(high[j]) or np.isnan(low[j]):
                bad = True
            if high[j] > hh:
                hh = high[j]
            if low[j] < ll:
                ll = low[j]
        if bad:
            continue
        span = hh - ll
        # A range within ~45 ulps of zero is a flat range whose width is
        # rounding noise; TA-Lib (0.8) treats it as zero and so must we, or
        # %K would flip between 0 and 100 on noise.
        if abs(span) <= ZERO_RANGE_REL * (abs(hh) + abs(ll)):
            fastk[i] = 0.0
        else:
            # Divide, then scale: TA-Lib 0.8's order, so %K is bit-identical.
            fastk[i] = (close[i] - ll) / span * 100.0
    k_all = np.full(size, np.nan)
    _sma_into_nb(fastk, k_start, slowk_period, k_all)
    _sma_into_nb(k_all, k_start + slowk_period - 1, slowd_period, slowd)
    for i in range(first, size):
        slowk[i] = k_all[i]
    return slowk, slowd


@njit(cache=True)
def roc_nb(close, n):
    """Rate of change over ``n`` bars, in percent: ``(close / close[-n] - 1) * 100``.

    The first ``n`` bars are NaN; a zero reference price gives 0.0 (TA-Lib's
    convention; prices are positive in practice). Requires n >= 1.

    >>> roc_nb(np.array([100.0, 110.0, 99.0]), 1)
    array([ nan,  10., -10.])
    """
    _check_period_nb(n, 1)
    size = close.shape[0]
    out = np.full(size, np.nan)
    start = _first_valid_nb(close)
    if start < 0:
        return out
    for i in range(start + n, size):
        ref = close[i - n]
        if ref != 0.0:
            out[i] = (close[i] / ref - 1.0) * 100.0
        else:
            out[i] = 0.0
    return out


# --------------------------------------------------------------------------
# volatility
# --------------------------------------------------------------------------


@njit(cache=True)
def bbands_nb(close, n, nbdev_up, nbdev_dn):
    """Bollinger Bands: returns ``(upper, middle, lower)`` in price units.

    ``middle`` is the n-bar SMA; the bands sit ``nbdev_up`` / ``nbdev_dn``
    population standard deviations (divide by n, as Bollinger and TA-Lib do)
    above / below it. The deviation is computed per window around the middle
    band (two passes), not as ``E[x^2] - mean^2``, which cancels badly for a
    quiet market at a high price level; that costs O(len * n), negligible
    for the usual n of 10-50. A window of identical prices gives exactly zero
    width. The first ``n - 1`` bars are NaN. Requires n >= 2.

    >>> u, m, lo = bbands_nb(np.array([1.0, 3.0, 1.0, 3.0]), 2, 2.0, 2.0)
    >>> u
    array([nan,  4.,  4.,  4.])
    """
    _check_period_nb(n, 2)
    size = close.shape[0]
    upper = np.full(size, np.nan)
    middle = np.full(size, np.nan)
    lower = np.full(size, np.nan)
    start = _first_valid_nb(close)
    if start < 0 or size - start < n:
        return upper, middle, lower
    _sma_into_nb(close, start, n, middle)
    for i in range(start + n - 1, size):
        mid = middle[i]
        # Deviations from this window's own mean, summed afresh: the middle band
        # is TA-Lib's running sum, whose rounding drifts with the series' length,
        # and in a quiet market at a high price level that drift is a sizeable
        # part of each deviation (the width was 18 % off after 100,000 bars).
        mean = 0.0
        for j in range(i - n + 1, i + 1):
            mean += close[j]
        mean /= n
        first_value = close[i - n + 1]
        flat = True
        acc = 0.0
        for j in range(i - n + 1, i + 1):
            d = close[j] - mean
            acc += d * d
            if close[j] != first_value:
                flat = False
        std = 0.0 if flat else np.sqrt(acc / n)
        upper[i] = mid + std * nbdev_up
        lower[i] = mid - std * nbdev_dn
    return upper, middle, lower


@njit(cache=True)
def atr_nb(high, low, close, n):
    """Wilder's Average True Range, in price units.

    True range is ``max(high - low, |high - prev close|, |low - prev close|)``
    and needs a previous close, so it starts on bar 1; the first ATR is the
    mean of the first ``n`` true ranges (bar ``n``) and later ones use Wilder
    smoothing ``atr = (atr * (n - 1) + tr) / n``. The first ``n`` bars are
    NaN. A true range that needs a NaN is NaN; after one, the ATR is seeded
    again with the mean of the next ``n`` true ranges (TA-Lib stays NaN).
    Period 1 is the plain true range. Requires n >= 1.

    >>> h = np.array([2.0, 3.0, 4.0, 6.0]); lo = h - 1.0; c = h - 0.5
    >>> atr_nb(h, lo, c, 2)
    array([nan, nan, 1.5, 2. ])
    """
    _check_period_nb(n, 1)
    size = close.shape[0]
    out = np.full(size, np.nan)
    start = _first_valid3_nb(high, low, close)
    if start < 0 or size - start <= n:
        return out
    tr = np.full(size, np.nan)
    for i in range(start + 1, size):
        prev_close = close[i - 1]
        if np.isnan(prev_close):
            # TA-Lib quietly falls back to high - low here; a true range
            # that ignores a gap is not the true range.
            continue
        best = high[i] - low[i]
        up = abs(prev_close - high[i])
        if up > best:
            best = up
        down = abs(prev_close - low[i])
        if down > best:
            best = down
        tr[i] = best
    if n == 1:
        for i in range(start + 1, size):
            out[i] = tr[i]
        return out
    # Wilder's smoothing over each NaN-free run of true ranges, seeded afresh
    # (the mean of its first n) as at the start of the series.
    first = start + 1
    while first >= 0:
        end = _run_end_nb(tr, first)
        if end - first >= n:
            total = 0.0
            for i in range(first, first + n):
                total += tr[i]
            atr = total / n
            out[first + n - 1] = atr
            for i in range(first + n, end):
                atr = (atr * (n - 1) + tr[i]) / n
                out[i] = atr
        first = _next_valid_nb(tr, end)
    return out
