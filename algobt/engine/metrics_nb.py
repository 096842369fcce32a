"""Numba kernels of the run statistics (see ``algobt.engine.metrics``): arrays in, arrays out."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "day_ends_nb",
    "drawdown_episodes_nb",
    "equity_curve_nb",
    "exposed_bars_nb",
]


@njit(cache=True)
def drawdown_episodes_nb(drawdown):
    """Find drawdown episodes in a drawdown-fraction series.

    ``drawdown[i]`` is ``1 - equity[i] / running_peak[i]`` (0 at a new high).
    Anchors are the bars at a new high (``drawdown == 0``) plus the last bar; an
    episode runs from one anchor to the next when at least one bar lies between
    them. Returns ``(start, end, peak)``: the anchor positions bounding each
    episode (int64) and its deepest drawdown as a fraction (NaNs skipped).
    An episode still open at the last bar ends there, so its length is a
    lower bound, as in backtesting.py.
    """
    n = drawdown.shape[0]
    count = 0
    prev = -1
    for i in range(n):
        if drawdown[i] == 0.0 or i == n - 1:
            if prev >= 0 and i > prev + 1:
                count += 1
            prev = i
    # Sized to the episodes, not the bars: a bar-sized scratch block costs more to
    # map than this second pass.
    start = np.empty(count, np.int64)
    end = np.empty(count, np.int64)
    peak = np.empty(count, np.float64)
    count = 0
    prev = -1
    deepest = np.nan
    for i in range(n):
        x = drawdown[i]
        if not np.isnan(x) and (np.isnan(deepest) or x > deepest):
            deepest = x
        if x == 0.0 or i == n - 1:
            if prev >= 0 and i > prev + 1:
                start[count] = prev
                end[count] = i
                peak[count] = deepest
                count += 1
            prev = i
            # The next episode's window starts at (and includes) this anchor.
            deepest = x
    return start, end, peak


@njit(cache=True)
def exposed_bars_nb(entry_bar, exit_bar, n_bars):
    """How many of ``n_bars`` bars have a trade open (entry and exit bar included),
    from the trades' entry and exit bar positions (each in ``[0, n_bars]``, exits
    from -1). An exit before its entry cancels another trade's bars, as a running
    count of open trades does. Counted over the trades' sorted entry and exit
    events, so the cost is in trades, not bars."""
    k = entry_bar.shape[0]
    position = np.empty(2 * k, np.int64)
    step = np.empty(2 * k, np.int64)
    for j in range(k):
        position[2 * j] = entry_bar[j]
        step[2 * j] = 1
        position[2 * j + 1] = min(exit_bar[j] + 1, n_bars)
        step[2 * j + 1] = -1
    order = np.argsort(position)
    open_trades = 0
    exposed = 0
    since = 0  # the bars from here to the next event share one count of open trades
    for j in order:
        here = position[j]
        if here > since:
            if open_trades > 0:
                exposed += here - since
            since = here
        open_trades += step[j]
    if open_trades > 0 and n_bars > since:
        exposed += n_bars - since
    return exposed


@njit(cache=True, error_model="numpy")
def equity_curve_nb(equity, close, curve, moves):
    """One pass over a run's equity and the market's closes, into given blocks.

    Fills ``curve`` (2, n): row 0 the equity, row 1 the drawdown fraction
    ``1 - equity / running_peak`` (the running peak as ``np.maximum.accumulate``
    keeps it: a NaN stays for good), and ``moves`` (2, n - 1): bar-over-bar ratios
    of the equity (row 0) and of the closes (row 1), ready for an in-place
    ``np.log``. Returns ``(max_drawdown, has_nan)``: the largest drawdown (NaN when
    any is NaN, as ``ndarray.max``) and whether the equity holds a NaN. IEEE
    division and subtraction as numpy does them, so every value is numpy's to the
    last bit. The caller allocates the blocks (numpy's allocator maps large blocks
    far more cheaply than a fresh allocation per call here).
    """
    n = equity.shape[0]
    equity_row, drawdown_row = curve[0], curve[1]
    equity_moves, close_moves = moves[0], moves[1]
    peak = equity[0]
    deepest = -np.inf
    for i in range(n):
        x = equity[i]
        # np.maximum(peak, x): the first operand on a tie or when it is NaN.
        if not (peak >= x or np.isnan(peak)):
            peak = x
        dd = 1 - x / peak
        equity_row[i] = x
        drawdown_row[i] = dd
        if not (deepest >= dd or np.isnan(deepest)):
            deepest = dd
    for i in range(1, n):
        equity_moves[i - 1] = equity[i] / equity[i - 1]
        close_moves[i - 1] = close[i] / close[i - 1]
    return deepest, np.isnan(peak)  # a NaN anywhere leaves the peak NaN


@njit(cache=True)
def day_ends_nb(stamps, ticks_per_day):
    """Runs of consecutive bars on one day: the last bar of each run and its day
    number (``stamps // ticks_per_day``, floored as numpy's ``//``). ``stamps``
    int64 ticks, sorted; a division only where a day may change."""
    n = stamps.shape[0]
    count = 0
    next_day = stamps[0]  # below it, still the same day
    for i in range(n):
        if stamps[i] >= next_day:
            count += 1
            next_day = (stamps[i] // ticks_per_day + 1) * ticks_per_day
    ends = np.empty(count, np.int64)
    days = np.empty(count, np.int64)
    k = -1
    next_day = stamps[0]
    for i in range(n):
        if stamps[i] >= next_day:
            if k >= 0:
                ends[k] = i - 1
            k += 1
            days[k] = stamps[i] // ticks_per_day
            next_day = (days[k] + 1) * ticks_per_day
    ends[k] = n - 1
    return ends, days
