"""The OHLCV frame every source returns, and small helpers to get there.

The contract: columns exactly ``Open High Low Close Volume`` (float64; prices in
the instrument's quote currency, volume in units traded), index a sorted
``DatetimeIndex`` named ``Date`` of dtype ``datetime64[ns, UTC]`` without
duplicates. Daily and weekly bars are stamped at midnight UTC of their trading
date; intraday bars at the UTC time their bar opens.
"""

from __future__ import annotations

import pandas as pd

from algobt.errors import DataError

COLUMNS = ("Open", "High", "Low", "Close", "Volume")
PRICE_COLUMNS = ("Open", "High", "Low", "Close")
INDEX_NAME = "Date"


def finish(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` cut to the contract: the five columns as float64, index UTC nanoseconds named Date.

    ``df`` must already have the five columns and a tz-aware DatetimeIndex;
    nothing is sorted, dropped or filled here.

    >>> idx = pd.DatetimeIndex(["2024-01-02"], tz="UTC")
    >>> raw = pd.DataFrame({"Close": [2], "Open": [1], "High": [2], "Low": [1],
    ...                     "Volume": [10], "Extra": [0]}, index=idx)
    >>> out = finish(raw)
    >>> list(out.columns), str(out.index.dtype), out.index.name
    (['Open', 'High', 'Low', 'Close', 'Volume'], 'datetime64[ns, UTC]', 'Date')
    """
    out = df.loc[:, list(COLUMNS)].astype("float64")
    out.columns.name = None
    index = pd.DatetimeIndex(out.index).tz_convert("UTC").as_unit("ns")
    out.index = index.rename(INDEX_NAME)
    return out


def stamp_text(stamp: pd.Timestamp, intraday: bool | None = None) -> str:
    """A bar's stamp as the API writes it: ``2024-01-02`` (daily), else ``...T14:30:00Z``.

    intraday: force one format; ``None`` writes midnight as a date.

    >>> stamp_text(pd.Timestamp("2024-01-02", tz="UTC"))
    '2024-01-02'
    >>> stamp_text(pd.Timestamp("2024-01-02", tz="UTC"), intraday=True)
    '2024-01-02T00:00:00Z'
    """
    stamp = pd.Timestamp(stamp)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if intraday is False or (intraday is None and stamp == stamp.normalize()):
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def single_ticker(df: pd.DataFrame, symbol: str | None = None) -> pd.DataFrame:
    """Drop the ticker level of a yfinance ``download()`` frame (columns ``(Price, Ticker)``).

    yfinance returns MultiIndex columns even for one ticker; the level holding
    ``Close`` is the price level whatever ``group_by`` was. Frames with flat
    columns come back unchanged. More than one ticker without ``symbol`` to pick
    one is a :class:`DataError`.

    >>> cols = pd.MultiIndex.from_tuples([("Close", "AAPL"), ("Open", "AAPL")],
    ...                                  names=["Price", "Ticker"])
    >>> list(single_ticker(pd.DataFrame([[1.0, 2.0]], columns=cols)).columns)
    ['Close', 'Open']
    """
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    if df.columns.nlevels != 2:
        raise DataError(
            f"expected columns like yfinance's (Price, Ticker), got {df.columns.nlevels} "
            "column levels; pass a frame with one column per field (Open, High, ...)",
            field="data",
        )
    levels = [[str(v).lower() for v in df.columns.get_level_values(i)] for i in (0, 1)]
    price_level = 0 if "close" in levels[0] else 1
    tickers = list(dict.fromkeys(df.columns.get_level_values(1 - price_level)))
    if symbol is not None:
        matches = [t for t in tickers if str(t).upper() == symbol.upper()]
        if matches:
            tickers = matches
    if len(tickers) != 1:
        raise DataError(
            f"the frame holds several tickers {tickers}; pick one first, "
            f"e.g. df.xs({tickers[0]!r}, axis=1, level={1 - price_level})",
            field="data",
        )
    out = df.xs(tickers[0], axis=1, level=1 - price_level)
    out.columns = [str(c) for c in out.columns]
    return out
