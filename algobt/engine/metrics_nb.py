"""Numba kernels of the run statistics (see ``algobt.engine.metrics``): arrays in, arrays out."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["drawdown_episodes_nb", "exposed_bars_nb"]


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
    start = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    peak = np.empty(n, np.float64)
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
    return start[:count], end[:count], peak[:count]


@njit(cache=True)
def exposed_bars_nb(entry_bar, exit_bar, n_bars):
    """How many of ``n_bars`` bars have a trade open (entry and exit bar included),
    from the trades' entry and exit bar positions (each in ``[0, n_bars]``, exits
    from -1). An exit before its entry cancels another trade's bars, as a running
    count of open trades does."""
    steps = np.zeros(n_bars + 1, np.int64)
    for k in range(entry_bar.shape[0]):
        steps[entry_bar[k]] += 1
        steps[min(exit_bar[k] + 1, n_bars)] -= 1
    open_trades = 0
    exposed = 0
    for i in range(n_bars):
        open_trades += steps[i]
        if open_trades > 0:
            exposed += 1
    return exposed
