"""A user's own bars: a CSV or Parquet file, or a DataFrame, read into algobt's OHLCV frame.

Reading rules (the loader documents them to users):

- columns are matched ignoring letter case and surrounding spaces (``open``,
  ``OPEN``, `` Close ``); other columns (``Adj Close``, ``Dividends``) are
  ignored. ``Adj Close`` never stands in for a missing ``Close``: it would not
  fit the unadjusted Open/High/Low beside it;
- a missing ``Volume`` column becomes 0.0 (FX and index data often have none;
  zero is what Yahoo reports for them too); a missing price column is a
  :class:`DataError` listing the columns found;
- times come from a DatetimeIndex, or else from a column named ``Date``,
  ``Datetime``, ``Timestamp`` or ``Time`` (any case), or an unnamed first CSV
  column of text (what ``df.to_csv()`` writes for an unnamed index). Text is
  parsed by pandas; numbers are Unix epoch times in s, ms, us or ns (told apart
  by size). A CSV saved from ``yf.download(...)`` (three header rows) is
  recognised;
- naive times are taken as UTC; times with a zone are converted to UTC. Bars a
  day or more apart are daily/weekly bars: they keep the calendar date as
  written (``2024-01-02 00:00-05:00`` is the bar of 2 January) and are stamped
  at midnight UTC;
- nothing is sorted, dropped or filled besides that; the result is checked by
  :func:`validate_ohlcv`, whose errors name the bad row.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from algobt.engine.data.frame import COLUMNS, PRICE_COLUMNS, finish, single_ticker, stamp_text
from algobt.engine.data.validate import validate_ohlcv
from algobt.errors import DataError

FILE_SUFFIXES = (".csv", ".txt", ".parquet", ".pq")
_TIME_NAMES = ("datetime", "timestamp", "date", "time")
_ISO_DAY = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


def looks_like_file(value) -> bool:
    """True for a path-like, or a string naming an existing file or ending in a data suffix.

    >>> looks_like_file("prices.csv"), looks_like_file("AAPL")
    (True, False)
    """
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str):
        return False
    return value.lower().endswith(FILE_SUFFIXES) or Path(value).expanduser().is_file()


def read_file(path: str | os.PathLike) -> pd.DataFrame:
    """The table in a CSV (``.csv``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file, as read.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "bars.csv"
    >>> _ = target.write_text("Date,Close\\n2024-01-02,1.5\\n")
    >>> read_file(target)["Close"].tolist()
    [1.5]
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(
            f"file not found: {str(file)!r}; check the path (relative paths start at "
            f"{os.getcwd()!r})",
            field="path",
        )
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(file)
        if suffix in (".csv", ".txt"):
            table = pd.read_csv(file)
            if _saved_by_yfinance(table):
                # Header rows "Price,...", "Ticker,...", "Date,,,": the (Price, Ticker) columns.
                table = pd.read_csv(file, header=[0, 1], index_col=0, skiprows=[2])
                table.index.name = "Date"
            return table
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"could not read {file.name!r} ({type(exc).__name__}: {exc}); check that it is a "
            "valid CSV/Parquet file",
            field="path",
        ) from exc
    raise DataError(
        f"unsupported file type {suffix or '(none)'!r} for {file.name!r}; "
        f"save the bars as {', '.join(FILE_SUFFIXES)}",
        field="path",
    )


def with_file_line(exc: DataError, path, table: pd.DataFrame) -> DataError:
    """``exc`` (naming ``row N``) also naming the line of a CSV file the row came from:
    rows are neither sorted nor dropped on reading, so row N is the Nth line of bars
    after the header lines. Other errors, and Parquet files, pass unchanged."""
    match = re.match(r"row (\d+)\b", exc.message)
    if match is None or Path(path).suffix.lower() not in (".csv", ".txt"):
        return exc
    header = table.columns.nlevels + (1 if isinstance(table.columns, pd.MultiIndex) else 0)
    line = int(match.group(1)) + header + 1
    where = f"{Path(path).name} line {line}, "
    return DataError(where + exc.message, field=exc.field)


def _saved_by_yfinance(table: pd.DataFrame) -> bool:
    return (
        len(table) > 1
        and str(table.columns[0]) == "Price"
        and str(table.iloc[0, 0]) == "Ticker"
        and str(table.iloc[1, 0]) in ("Date", "Datetime")
    )


def normalize_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` (any letter case, a date column or index) as algobt's validated OHLCV frame.

    >>> raw = pd.DataFrame({"date": ["2024-01-02", "2024-01-03"], "OPEN": [10, 11],
    ...                     "high": [11, 12], "Low": [9, 10], "close": [11, 11.5]})
    >>> bars = normalize_frame(raw)
    >>> list(bars.columns), bars["Volume"].tolist(), str(bars.index[0])
    (['Open', 'High', 'Low', 'Close', 'Volume'], [0.0, 0.0], '2024-01-02 00:00:00+00:00')
    """
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"expected a DataFrame of bars, got {type(raw).__name__}", field="data")
    table = single_ticker(raw)
    columns, time_column = _match_columns(table)
    times = table.index if time_column is None else table[time_column]
    index = _bar_times(times)
    out = pd.DataFrame(index=index)
    for name in COLUMNS:
        if name in columns:
            out[name] = _numbers(table[columns[name]], name, index)
        else:
            out[name] = 0.0  # only Volume can be missing here
    return validate_ohlcv(finish(out))


def native_spacing(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    """The typical time between bars (the median step), or ``None`` for fewer than two bars.

    >>> native_spacing(pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"))
    Timedelta('0 days 01:00:00')
    """
    if len(index) < 2:
        return None
    steps = np.diff(index.as_unit("ns").asi8)
    return pd.Timedelta(int(np.median(steps)), unit="ns")


def _match_columns(table: pd.DataFrame) -> tuple[dict[str, object], object | None]:
    by_key: dict[str, list] = {}
    for column in table.columns:
        by_key.setdefault(str(column).strip().lower(), []).append(column)
    found = [str(c) for c in table.columns]
    columns = {}
    for name in COLUMNS:
        hits = by_key.get(name.lower(), [])
        if len(hits) > 1:
            raise DataError(
                f"several columns could be {name}: {[str(h) for h in hits]}; keep one of them",
                field=name,
            )
        if hits:
            columns[name] = hits[0]
    missing = [name for name in PRICE_COLUMNS if name not in columns]
    if missing:
        hint = ""
        if "Close" in missing and any(k.replace("_", " ") == "adj close" for k in by_key):
            hint = (
                " ('Adj Close' is not used as Close: it does not fit unadjusted "
                "Open/High/Low; rename it to Close only if all four prices are adjusted)"
            )
        raise DataError(
            f"missing price column(s) {', '.join(missing)}; found columns {found}{hint}. "
            "Name them Open, High, Low, Close (any letter case), with Volume optional",
            field=missing[0],
        )
    if isinstance(table.index, pd.DatetimeIndex):
        return columns, None
    present = [name for name in _TIME_NAMES if name in by_key]
    unnamed = by_key.get("unnamed: 0", [])
    if not present and unnamed and not pd.api.types.is_numeric_dtype(table[unnamed[0]].dtype):
        present = ["unnamed: 0"]
    if {"date", "time"} <= set(present) and not {"datetime", "timestamp"} & set(present):
        raise DataError(
            "found separate date and time columns; join them first, e.g. "
            "df['Datetime'] = df['Date'] + ' ' + df['Time']",
            field="Date",
        )
    if not present:
        index_name = str(table.index.name or "").strip().lower()
        if index_name in _TIME_NAMES:
            return columns, None
        raise DataError(
            f"no bar times: found columns {found} and a {type(table.index).__name__}; "
            "add a Date (or Datetime/Timestamp) column, or use a DatetimeIndex",
            field="Date",
        )
    hits = by_key[present[0]]
    if len(hits) > 1:
        raise DataError(f"several time columns: {[str(h) for h in hits]}; keep one", field="Date")
    return columns, hits[0]


def _bar_times(values) -> pd.DatetimeIndex:
    """UTC bar stamps from an index or column; daily+ bars at midnight of their written date."""
    series = pd.Series(values)
    written = None
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.DatetimeIndex(series)
        if stamps.tz is not None:
            written = stamps.tz_localize(None)
            stamps = stamps.tz_convert("UTC")
        else:
            stamps = stamps.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    ):
        stamps = _epoch(series)
    else:
        stamps = _parse_text(series)
        text = series.astype(str)
        if text.str.match(_ISO_DAY).all():
            written = pd.DatetimeIndex(pd.to_datetime(text.str.strip().str.slice(0, 10)))
    spacing = native_spacing(stamps) if not stamps.hasnans else None
    if spacing is not None and spacing >= pd.Timedelta(days=1):
        day = stamps.tz_localize(None) if written is None else written
        stamps = pd.DatetimeIndex(day).normalize().tz_localize("UTC")
    return stamps.as_unit("ns")


def _epoch(series: pd.Series) -> pd.DatetimeIndex:
    missing = np.flatnonzero(series.isna().to_numpy())
    if len(missing):
        row = int(missing[0])
        raise DataError(
            f"row {row} (df.iloc[{row}]) has no time; give every bar an epoch time or drop it",
            field="Date",
        )
    # Seconds since 1970 are ~1.7e9 today; ms, us and ns are 1e3, 1e6, 1e9 times that.
    biggest = float(series.abs().max()) if len(series) else 0.0
    units = ((1e11, "s"), (1e14, "ms"), (1e17, "us"))
    unit = next((u for limit, u in units if biggest < limit), "ns")
    return pd.DatetimeIndex(pd.to_datetime(series, unit=unit, utc=True))


def _parse_text(series: pd.Series) -> pd.DatetimeIndex:
    try:
        stamps = pd.to_datetime(series, utc=True, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"could not read the bar times ({exc}); write them like 2024-01-02 or "
            "2024-01-02T14:30:00Z",
            field="Date",
        ) from exc
    bad = np.flatnonzero(stamps.isna().to_numpy() & series.notna().to_numpy())
    if len(bad) == 0 and series.isna().any():
        bad = np.flatnonzero(series.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"row {row} (df.iloc[{row}]): {series.iloc[row]!r} is not a date/time; "
            "fix it in the source (write 2024-01-02 or 2024-01-02T14:30:00Z)",
            field="Date",
        )
    return pd.DatetimeIndex(stamps)


def _numbers(column: pd.Series, name: str, index: pd.DatetimeIndex) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype):
        raise DataError(f"column {name} holds True/False, not numbers", field=name)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy() & column.notna().to_numpy())
    if len(bad):
        row = int(bad[0])
        when = "NaT" if pd.isna(index[row]) else stamp_text(index[row])
        raise DataError(
            f"row {row} at {when} (df.iloc[{row}]): {name} "
            f"{column.iloc[row]!r} is not a "
            "number; fix it in the source (plain digits with '.' for decimals)",
            field=name,
        )
    return numbers.to_numpy(dtype="float64", na_value=np.nan)
