"""Aggregate OHLCV bars into coarser ones (1m -> 5m, 1h -> 4h, 1d -> 1w, ...).

Each new bar takes the first Open, the highest High, the lowest Low, the last
Close and the summed Volume of the bars in its bin; bins without bars simply
do not appear. Where bins start (all in UTC):

- under an hour (5m, 15m, 30m): on the clock, counted from midnight
  (``14:30``, ``14:35``, ...);
- one hour up to a day (1h, 4h): from the first bar of each UTC day, rounded
  down to the quarter hour, and never across midnight. A 24-hour market gets
  ``00:00, 04:00, ...``; an exchange gets session-anchored bars like charting
  platforms draw them (NYSE in winter: ``14:30`` and ``18:30`` UTC, the last one
  short), which also follows daylight saving time by itself;
- 1d: the UTC date, stamped at midnight;
- 1w: the week starting Monday, stamped at Monday midnight (as Yahoo does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algobt.engine.data.frame import INDEX_NAME
from algobt.engine.data.periods import Interval

_NS_DAY = 86_400 * 10**9
_NS_QUARTER_HOUR = 15 * 60 * 10**9
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def bin_starts(index: pd.DatetimeIndex, interval: Interval) -> pd.DatetimeIndex:
    """The start of the ``interval`` bin each stamp of a sorted UTC ``index`` falls in.

    >>> idx = pd.DatetimeIndex(["2024-01-02 14:30", "2024-01-02 17:30",
    ...                         "2024-01-02 18:30"], tz="UTC")
    >>> from algobt.engine.data.periods import parse_interval
    >>> [t.strftime("%H:%M") for t in bin_starts(idx, parse_interval("4h"))]
    ['14:30', '14:30', '18:30']
    """
    ns = index.as_unit("ns").asi8
    length = interval.length.value
    if interval.name == "1w":
        days = ns // _NS_DAY
        monday = days - (days + _EPOCH_WEEKDAY) % 7
        labels = monday * _NS_DAY
    elif length >= _NS_DAY:
        labels = ns // _NS_DAY * _NS_DAY
    elif length >= 3_600 * 10**9:
        day = ns // _NS_DAY
        # Sorted input: the first stamp of each day is where that day's run starts.
        _, first_pos, counts = np.unique(day, return_index=True, return_counts=True)
        anchor = np.repeat(ns[first_pos] // _NS_QUARTER_HOUR * _NS_QUARTER_HOUR, counts)
        labels = anchor + (ns - anchor) // length * length
    else:
        labels = ns // length * length
    return pd.DatetimeIndex(labels.astype("datetime64[ns]"), name=INDEX_NAME).tz_localize("UTC")


def resample_ohlcv(df: pd.DataFrame, interval: Interval) -> pd.DataFrame:
    """``df`` (validated OHLCV, sorted UTC index) aggregated into ``interval`` bars.

    >>> from algobt.engine.data.periods import parse_interval
    >>> idx = pd.date_range("2024-01-01", periods=8, freq="h", tz="UTC")
    >>> hours = pd.DataFrame({"Open": range(1, 9), "High": range(2, 10), "Low": range(0, 8),
    ...                       "Close": range(2, 10), "Volume": [1.0] * 8}, index=idx)
    >>> bars = resample_ohlcv(hours, parse_interval("4h"))
    >>> [t.strftime("%H:%M") for t in bars.index], bars["High"].tolist(), bars["Volume"].tolist()
    (['00:00', '04:00'], [5, 9], [4.0, 4.0])
    """
    labels = bin_starts(df.index, interval)
    grouped = df.groupby(labels, sort=True)
    out = pd.DataFrame(
        {
            "Open": grouped["Open"].first(),
            "High": grouped["High"].max(),
            "Low": grouped["Low"].min(),
            "Close": grouped["Close"].last(),
            "Volume": grouped["Volume"].sum(),
        }
    )
    out.index.name = INDEX_NAME
    return out
