"""Reject OHLCV data that cannot be simulated honestly, naming the bar at fault.

A backtest on a NaN price, a High below its Low or a clock that runs backwards
produces numbers that look fine and mean nothing, so every such frame stops
here with a :class:`DataError`. Nothing is ever repaired (not even sorted):
the message says which row is wrong and how to fix the source.

One validator, two levels: ``strict`` (the default) holds data algobt loads to
the frame contract of ``frame.py``; ``strict=False`` checks only what any
simulation needs, for a frame a user hands to ``Backtest`` or ``from_signals``
directly (backtesting.py's own test data passes: a naive or non-datetime index,
no Volume column, zero volumes or prices, repeated stamps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from algobt.engine.data.frame import COLUMNS, PRICE_COLUMNS, stamp_text
from algobt.engine.data.validate_nb import LOW_ABOVE_HIGH, NOT_FINITE, first_unsimulatable_nb
from algobt.errors import DataError

_NO_REPAIR = "algobt never repairs data silently"


def validate_ohlcv(df: pd.DataFrame, *, strict: bool = True) -> pd.DataFrame:
    """Return ``df`` unchanged if it is simulatable OHLCV data, else raise :class:`DataError`.

    strict=True checks, in order: a non-empty DataFrame with columns Open High Low Close
    Volume holding numbers; a tz-aware DatetimeIndex, strictly increasing (no
    duplicate stamps, no step backwards); finite prices > 0; finite Volume >= 0;
    ``Low <= min(Open, Close)`` and ``max(Open, Close) <= High``. Each message
    names the first offending row by timestamp and 0-based position
    (``df.iloc[i]``), says how many rows share the problem, and how to fix it.

    >>> idx = pd.date_range("2024-01-02", periods=2, freq="D", tz="UTC")
    >>> df = pd.DataFrame({"Open": [10.0, 11], "High": [11.0, 12], "Low": [9.0, 10],
    ...                    "Close": [11.0, 11.5], "Volume": [100.0, 120]}, index=idx)
    >>> validate_ohlcv(df) is df
    True
    >>> df.loc[idx[1], "High"] = 9.5
    >>> validate_ohlcv(df)
    Traceback (most recent call last):
    ...
    algobt.errors.DataError: row 1 at 2024-01-03 (df.iloc[1]): High 9.5 is below Low 10.0; ...

    strict=False checks a DataFrame, not empty, with numeric Open High Low Close
    (Volume optional), finite prices, ``Low <= High``, and an index that never
    steps backwards; each message names the first row at fault.

    >>> validate_ohlcv(df, strict=False)
    Traceback (most recent call last):
    ...
    algobt.errors.DataError: High < Low at row 1 (2024-01-03 00:00:00+00:00): ...
    """
    if not strict:
        _check_simulatable(df)
        return df
    _check_shape(df)
    _check_time(df.index)
    values = {name: df[name].to_numpy(dtype="float64") for name in COLUMNS}
    _check_values(df.index, values)
    _check_ranges(df.index, values)
    return df


def _check_simulatable(data) -> None:
    """The ``strict=False`` checks (messages as ``Backtest`` has always given them)."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame with Open, High, Low, Close columns, got "
            f"{type(data).__name__}; algobt.load(symbol) returns one",
            field="data",
        )
    if len(data) == 0:
        raise DataError(
            "data is empty: no bars to simulate; check the symbol and date range", field="data"
        )
    missing = [c for c in PRICE_COLUMNS if c not in data.columns]
    if missing:
        raise DataError(
            f"data is missing column(s) {missing}; it has {list(map(str, data.columns))}. "
            "Rename them to Open, High, Low, Close (and optionally Volume).",
            field="data",
        )
    try:
        columns = [
            np.ascontiguousarray(data[c].to_numpy(dtype=float), dtype=np.float64)
            for c in PRICE_COLUMNS
        ]
    except (TypeError, ValueError):
        raise DataError("price columns must be numeric", field="data") from None
    kind, row, col = first_unsimulatable_nb(*columns)
    if kind == NOT_FINITE:
        raise DataError(
            f"{PRICE_COLUMNS[col]} is {columns[col][row]} at row {row} ({data.index[row]}); "
            "drop or fill such rows (df.dropna(), df.ffill()) before backtesting",
            field="data",
        )
    if kind == LOW_ABOVE_HIGH:
        high, low = columns[1][row], columns[2][row]
        raise DataError(
            f"High < Low at row {row} ({data.index[row]}): High={high}, "
            f"Low={low}; fix or drop that row",
            field="data",
        )
    if len(data) > 1 and not data.index.is_monotonic_increasing:
        stamps = data.index.to_numpy()
        row = int(np.argmax(stamps[1:] < stamps[:-1])) + 1
        raise DataError(
            f"the time index goes backwards at row {row} ({data.index[row]}); "
            "sort it with df.sort_index()",
            field="data",
        )


def _check_shape(df) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame of OHLCV bars, got {type(df).__name__}; "
            "load data with algobt.load(...)",
            field="data",
        )
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; found {[str(c) for c in df.columns]}. "
            "Rename your columns to Open, High, Low, Close, Volume, or pass the frame "
            "through algobt.load(df), which matches names in any letter case",
            field=missing[0],
        )
    if len(df) == 0:
        raise DataError(
            "no bars: the data is empty; widen the period or date range, "
            "or check the symbol or file",
            field="data",
        )
    for name in COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[name]) or pd.api.types.is_bool_dtype(df[name]):
            raise DataError(
                f"column {name} holds {df[name].dtype} values, not numbers; "
                f"convert it, e.g. df[{name!r}] = pd.to_numeric(df[{name!r}])",
                field=name,
            )
    if not isinstance(df.index, pd.DatetimeIndex):
        raise DataError(
            f"the index must be a DatetimeIndex of bar times, got {type(df.index).__name__}; "
            "set it with df.set_index(pd.to_datetime(df['Date'], utc=True))",
            field="Date",
        )
    if df.index.tz is None:
        raise DataError(
            "the index has no time zone; algobt bars are UTC. Use "
            "df.tz_localize('UTC') (or algobt.load(df), which reads naive stamps as UTC)",
            field="Date",
        )


def _check_time(index: pd.DatetimeIndex) -> None:
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise DataError(
            f"row {row} (df.iloc[{row}]) has no timestamp (NaT); "
            f"give every bar a time or drop that row in the source; {_NO_REPAIR}",
            field="Date",
        )
    stamps = index.asi8
    steps = np.diff(stamps)
    bad = np.flatnonzero(steps <= 0)
    if len(bad) == 0:
        return
    row = int(bad[0]) + 1
    here, before = stamp_text(index[row]), stamp_text(index[row - 1])
    if steps[bad[0]] == 0:
        count = int(np.count_nonzero(steps == 0))
        raise DataError(
            f"row {row} at {here} (df.iloc[{row}]) repeats the timestamp of row {row - 1}"
            f"{_more(count)}; keep one bar per timestamp, e.g. "
            f"df[~df.index.duplicated(keep='last')], after checking which one is right; "
            f"{_NO_REPAIR}",
            field="Date",
        )
    count = int(np.count_nonzero(steps < 0))
    raise DataError(
        f"time goes backwards at row {row} at {here} (df.iloc[{row}]), after row {row - 1} "
        f"at {before}{_more(count)}; sort the bars by time (df.sort_index()) before loading; "
        f"{_NO_REPAIR}",
        field="Date",
    )


def _check_values(index, values: dict[str, np.ndarray]) -> None:
    for name in PRICE_COLUMNS:
        column = values[name]
        _first_bad(index, ~np.isfinite(column), column, name, "is not a finite number", name)
        _first_bad(index, column <= 0, column, name, "is not positive (prices must be > 0)", name)
    volume = values["Volume"]
    _first_bad(index, ~np.isfinite(volume), volume, "Volume", "is not a finite number", "Volume")
    _first_bad(index, volume < 0, volume, "Volume", "is negative", "Volume")


def _check_ranges(index, v: dict[str, np.ndarray]) -> None:
    o, h, low, c = v["Open"], v["High"], v["Low"], v["Close"]
    checks = (
        (h < low, "High", lambda i: f"High {_num(h[i])} is below Low {_num(low[i])}"),
        (
            h < np.maximum(o, c),
            "High",
            lambda i: f"High {_num(h[i])} is below max(Open {_num(o[i])}, Close {_num(c[i])})",
        ),
        (
            low > np.minimum(o, c),
            "Low",
            lambda i: f"Low {_num(low[i])} is above min(Open {_num(o[i])}, Close {_num(c[i])})",
        ),
    )
    for mask, field, describe in checks:
        rows = np.flatnonzero(mask)
        if len(rows):
            row = int(rows[0])
            raise DataError(
                f"{_where(index, row)}: {describe(row)}{_more(len(rows))}; "
                f"fix or drop such bars in the source data; {_NO_REPAIR}",
                field=field,
            )


def _first_bad(index, mask, column, name, problem, field) -> None:
    rows = np.flatnonzero(mask)
    if len(rows):
        row = int(rows[0])
        raise DataError(
            f"{_where(index, row)}: {name} {_num(column[row])} {problem}{_more(len(rows))}; "
            f"fix or drop such bars in the source data; {_NO_REPAIR}",
            field=field,
        )


def _num(value) -> str:
    return repr(float(value))


def _where(index, row: int) -> str:
    return f"row {row} at {stamp_text(index[row])} (df.iloc[{row}])"


def _more(count: int) -> str:
    return f" ({count} rows like this in all)" if count > 1 else ""
