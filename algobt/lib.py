"""Helpers for strategies: crossovers and the indicator functions.

    >>> import numpy as np
    >>> crossover(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    True

Indicators (``SMA``, ``EMA``, ``WMA``, ``RSI``, ``MACD``, ``BBANDS``, ``ATR``,
``STOCH``, ``ROC``) are numba kernels that match TA-Lib; use them through
``self.I(SMA, self.data.Close, 20)`` in a strategy's ``init()``.
"""

from __future__ import annotations

from numbers import Number

import numpy as np
import pandas as pd

from algobt.engine.indicators import (  # noqa: F401  (re-exported)
    ATR,
    BBANDS,
    EMA,
    INDICATORS,
    MACD,
    ROC,
    RSI,
    SMA,
    STOCH,
    WMA,
)

_ndarray = np.ndarray


def _last_two(series):
    if isinstance(series, pd.Series):
        return series.to_numpy()
    if isinstance(series, Number):
        return (series, series)
    return series


def crossover(series1, series2) -> bool:
    """True if ``series1`` just crossed above ``series2`` (below on the previous bar,
    above on this one). Either may be a number.

    >>> crossover([1, 3], 2)
    True
    """
    # Called several times per bar: two arrays (indicators, data columns) take the
    # shortest path, without the pandas and numbers.Number checks.
    if isinstance(series1, _ndarray) and isinstance(series2, _ndarray):
        try:
            return True if series1[-2] < series2[-2] and series1[-1] > series2[-1] else False
        except IndexError:
            return False
    a, b = _last_two(series1), _last_two(series2)
    try:
        return True if a[-2] < b[-2] and a[-1] > b[-1] else False
    except IndexError:
        return False


def cross(series1, series2) -> bool:
    """True if the two series just crossed, in either direction.

    >>> cross([3, 1], [2, 2])
    True
    """
    return crossover(series1, series2) or crossover(series2, series1)


def barssince(condition, default=np.inf) -> float:
    """Bars since ``condition`` (a boolean sequence) was last true; ``default`` if never.

    >>> barssince(np.array([True, False, False]))
    2
    """
    hits = np.flatnonzero(np.asarray(condition)[::-1])
    return int(hits[0]) if len(hits) else default


__all__ = [
    "crossover",
    "cross",
    "barssince",
    "SMA",
    "EMA",
    "WMA",
    "RSI",
    "MACD",
    "BBANDS",
    "ATR",
    "STOCH",
    "ROC",
    "INDICATORS",
]
