"""Numba kernel of the OHLC validator (see ``algobt.engine.data.validate``): one pass
over the four price columns instead of a stacked copy and a mask per check."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["NOT_FINITE", "LOW_ABOVE_HIGH", "first_unsimulatable_nb"]

#: Kinds of fault :func:`first_unsimulatable_nb` reports (0: none).
NOT_FINITE, LOW_ABOVE_HIGH = 1, 2


@njit(cache=True)
def first_unsimulatable_nb(open_, high, low, close):
    """The first fault in OHLC float64 columns of one length, as ``(kind, row, column)``.

    A non-finite price (column 0-3: Open, High, Low, Close, the lowest row first,
    then the lowest column) comes before any ``Low > High`` row (column -1), in
    whichever row; ``(0, -1, -1)`` when there is neither.
    """
    n = close.shape[0]
    low_above_high = -1
    for i in range(n):
        o, h, lo, c = open_[i], high[i], low[i], close[i]
        if not np.isfinite(o):
            return NOT_FINITE, i, 0
        if not np.isfinite(h):
            return NOT_FINITE, i, 1
        if not np.isfinite(lo):
            return NOT_FINITE, i, 2
        if not np.isfinite(c):
            return NOT_FINITE, i, 3
        if low_above_high < 0 and lo > h:
            low_above_high = i
    if low_above_high >= 0:
        return LOW_ABOVE_HIGH, low_above_high, -1
    return 0, -1, -1
