"""``load()``: one call from "symbol + period + interval" to a validated OHLCV frame.

It picks the source, resolves the period against that source's anchor (the
end of the data for demo and file data, "now" for Yahoo), cuts the window,
aggregates to the asked interval and checks the result.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from algobt.engine.data import demo, files, yahoo
from algobt.engine.data.frame import stamp_text
from algobt.engine.data.periods import PERIOD_OFFSETS, Interval, parse_interval, resolve_window
from algobt.engine.data.resample import resample_ohlcv
from algobt.engine.data.validate import validate_ohlcv
from algobt.errors import ConfigError, DataError

SOURCES = ("demo", "yahoo", "file")

#: How far before the first demo bar a window may start (weekends, holidays) and still
#: count as covered.
START_SLACK = pd.Timedelta(days=7)


def load(
    symbol: str | os.PathLike | pd.DataFrame | None = None,
    *,
    period: str | None = None,
    start_date=None,
    end_date=None,
    interval: str | None = None,
    timeframe: str | None = None,
    source: str | None = None,
    path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """OHLCV bars: columns Open High Low Close Volume (float64), UTC DatetimeIndex named Date.

    symbol: what to load, one of
      - a bundled demo symbol: ``"DEMO"``, ``"DEMO-FX"``, ``"DEMO-BTC"`` (offline);
      - a Yahoo ticker such as ``"AAPL"``, ``"EURUSD=X"`` (downloaded once, then cached);
      - a CSV/Parquet file path, or a DataFrame of your own bars.
    period: ``1wk 1mo 3mo 6mo 1y 2y 5y 10y ytd max custom`` (or ``1week 1month
      3months 6months 1year 2years``). Demo and file data count it back from their
      last bar, so results do not change with today's date; Yahoo counts from now.
      Default: ``max`` (everything), or ``custom`` when dates are given.
    start_date, end_date: ``yyyy-MM-dd``, both days included; with ``period`` left
      out or ``"custom"``. Either may be left out for an open end.
    interval: ``1m 5m 15m 30m 1h 4h 1d 1w`` (or ``60m``, ``1wk``). ``None`` means
      the source's own bars: daily for demo and Yahoo, as stored for a file. Coarser
      bars are aggregated from finer ones (``4h`` from ``1h``; a 1h file can give
      ``4h`` or ``1d``); asking for finer bars than a file holds is an error.
    timeframe: another name for ``interval`` (the API accepts both); give one or the other.
    source: ``"demo"``, ``"yahoo"`` or ``"file"``; ``None`` picks: a DataFrame, a path
      or ``path=`` -> file; a symbol starting with ``DEMO`` -> demo; else yahoo.
    path: a CSV/Parquet file to read, when ``symbol`` is only its name.
    cache_dir: Yahoo's cache folder (default ``~/.algobt/cache``, or
      ``$ALGOBT_HOME/cache``).

    Daily and weekly bars are stamped at midnight UTC of their trading date,
    intraday bars at their UTC opening time. Bad data raises ``DataError`` naming
    the row; bad settings raise ``ConfigError`` naming the setting. The frame's
    ``attrs`` hold ``symbol``, ``source``, ``interval``, ``cache_key`` (the request
    that made the bars; Yahoo's cache entry) and ``path`` (the file read, if any).

    >>> bars = load("DEMO", period="1y")
    >>> list(bars.columns), str(bars.index.dtype), str(bars.index[-1].date())
    (['Open', 'High', 'Low', 'Close', 'Volume'], 'datetime64[ns, UTC]', '2024-12-31')
    """
    interval = _one_interval(interval, timeframe)
    which = _pick_source(symbol, source, path)
    origin: dict = {}
    if which == "yahoo":
        wanted = parse_interval(interval, default="1d")
        name = yahoo.check_ticker(symbol)
        bars = yahoo.load_yahoo(name, wanted, period, start_date, end_date, cache_dir=cache_dir)
        interval_name = wanted.name
        origin = {k: bars.attrs[k] for k in ("cache_key", "path") if k in bars.attrs}
    elif which == "demo":
        name = demo.demo_entry(symbol)["symbol"]
        bars, interval_name, origin["path"] = _load_demo(
            name, interval, period, start_date, end_date
        )
    else:
        bars, name, interval_name = _load_file(symbol, path, interval, period, start_date, end_date)
        table = symbol if path is None else path
        if not isinstance(table, pd.DataFrame):
            origin["path"] = str(Path(table).expanduser().resolve())
    # The request that made these bars: the run's record names it (docs/store.md).
    window = "_".join(str(v) for v in (period, start_date, end_date) if v is not None) or "max"
    origin.setdefault("cache_key", f"{which}/{name}/{interval_name}/{window}")
    bars.attrs = {"symbol": name, "source": which, "interval": interval_name, **origin}
    return bars


def _load_demo(name, interval, period, start_date, end_date) -> tuple[pd.DataFrame, str]:
    entry = demo.demo_entry(name)
    wanted = parse_interval(interval, default="1d")
    stored = demo.stored_interval(entry, wanted)
    if stored is None:
        raise ConfigError(
            f"{name} has no bars that make {wanted.name} bars; its intervals are "
            f"{', '.join(entry['files'])} and their multiples",
            field="interval",
        )
    base = demo.read_demo(name, stored)
    bars = cut(base, parse_interval(stored), wanted, period, start_date, end_date, name, whole=True)
    return bars, wanted.name, str(demo.DEMO_DIR / entry["files"][stored]["file"])


def _load_file(symbol, path, interval, period, start_date, end_date):
    table = symbol if path is None else path
    if isinstance(table, pd.DataFrame):
        raw, name = table, str(table.attrs.get("symbol", "data"))
    else:
        raw, name = files.read_file(table), _stem(table)
    if path is not None and isinstance(symbol, str) and symbol.strip():
        name = symbol.strip()
    try:
        base = files.normalize_frame(raw)
    except DataError as exc:
        if isinstance(table, pd.DataFrame):
            raise
        raise files.with_file_line(exc, table, raw) from None
    wanted = parse_interval(interval, default=None)
    # A period or start the file cannot serve is refused, as the demo source refuses it.
    bars = cut(base, None, wanted, period, start_date, end_date, name, whole=True)
    return bars, name, wanted.name if wanted is not None else _spacing_name(base)


def cut(
    base: pd.DataFrame,
    base_interval: Interval | None,
    wanted: Interval | None,
    period,
    start_date,
    end_date,
    name: str,
    *,
    whole: bool = False,
) -> pd.DataFrame:
    """``base`` (validated) cut to the requested window, then aggregated to ``wanted`` bars.

    The window is anchored at the end of ``base``'s last bar. ``base_interval``
    ``None`` means "infer it from the bar spacing" (files); ``wanted`` ``None``
    means "keep the bars as they are". ``whole=True`` (demo data and files)
    refuses a window that starts well before the first bar instead of returning
    less than was asked for.

    >>> bars = demo.read_demo("DEMO", "1d")
    >>> week = cut(bars, parse_interval("1d"), parse_interval("1w"), "1mo", None, None, "DEMO")
    >>> [str(t.date()) for t in week.index[-2:]]
    ['2024-12-23', '2024-12-30']
    """
    spacing = base_interval.length if base_interval else files.native_spacing(base.index)
    # A lone bar has no spacing; a day keeps it inside any window that ends with it.
    anchor = base.index[-1] + (spacing if spacing is not None else pd.Timedelta(days=1))
    window = resolve_window(period, start_date, end_date, anchor=anchor)
    if wanted is not None and spacing is not None:
        _check_reachable(spacing, wanted, name)
    if whole and window.start is not None and window.start < base.index[0] - START_SLACK:
        raise ConfigError(
            _too_early(base, base_interval, window.start, anchor, period, start_date, name),
            field="start_date" if start_date not in (None, "") else "period",
        )
    bars = window.slice(base)
    if len(bars) == 0:
        have = f"{stamp_text(base.index[0])} to {stamp_text(base.index[-1])}"
        raise DataError(
            f"no {name} bars in the asked range: the data runs from {have}; "
            "pick dates or a period inside it",
            field="start_date" if window.start is not None else "end_date",
        )
    if wanted is not None and (spacing is None or wanted.length != spacing):
        bars = validate_ohlcv(resample_ohlcv(bars, wanted))
    return bars


def _too_early(base, base_interval, start, anchor, period, start_date, name) -> str:
    intraday = base_interval.intraday if base_interval is not None else None
    first, last = (stamp_text(t, intraday) for t in base.index[[0, -1]])
    kind = f"{base_interval.name} bars" if base_interval is not None else "bars"
    if start_date not in (None, ""):
        asked = f"start_date {str(start_date)!r} is before that"
    else:
        asked = f"period={period!r} would reach back to {stamp_text(start, intraday)}"
    fits = [p for p, off in PERIOD_OFFSETS.items() if anchor - off >= base.index[0] - START_SLACK]
    shorter = ("period=" + " or ".join(repr(p) for p in fits) + ", ") if fits else ""
    # Intraday bars reach back less far than daily ones; daily data has nothing coarser
    # that starts earlier, so only then is a coarser interval worth suggesting.
    coarser = ", or a coarser interval" if intraday else ""
    return (
        f"{name} has {kind} from {first} to {last} only; {asked}. Ask for {shorter}"
        f"a start_date on or after {first[:10]}{coarser} "
        "(list_symbols() shows every symbol's ranges)"
    )


def _check_reachable(spacing: pd.Timedelta, wanted: Interval, name: str) -> None:
    if wanted.length < spacing or wanted.length % spacing != pd.Timedelta(0):
        raise ConfigError(
            f"{name} has bars every {_duration(spacing)}; they cannot make {wanted.name} bars. "
            f"Ask for an interval that is a whole multiple of {_duration(spacing)} "
            "(or leave interval out to keep the bars as they are)",
            field="interval",
        )


def _one_interval(interval, timeframe):
    if timeframe in (None, ""):
        return interval
    if interval not in (None, "") and interval != timeframe:
        raise ConfigError(
            f"interval={interval!r} and timeframe={timeframe!r} disagree; they are the same "
            "setting, give only one",
            field="timeframe",
        )
    return timeframe


def _pick_source(symbol, source, path) -> str:
    if source is not None and source not in SOURCES:
        raise ConfigError(
            f"unknown source {source!r}; use one of {', '.join(SOURCES)} (or leave it out)",
            field="source",
        )
    table = path is not None or isinstance(symbol, pd.DataFrame | os.PathLike)
    if not table and (not isinstance(symbol, str) or not symbol.strip()):
        raise ConfigError(
            f"no usable symbol ({symbol!r}); name a demo symbol (DEMO, DEMO-FX, DEMO-BTC), "
            "a Yahoo ticker or a CSV/Parquet path, or pass a DataFrame",
            field="symbol",
        )
    if source is None:
        if table or files.looks_like_file(symbol):
            return "file"
        return "demo" if demo.is_demo_symbol(symbol) else "yahoo"
    if source != "file" and table:
        raise ConfigError(
            f"source={source!r} takes a symbol name, not a file or DataFrame; "
            "use source='file' (or leave source out)",
            field="source",
        )
    return source


def _stem(table) -> str:
    return os.path.splitext(os.path.basename(os.fspath(table)))[0]


def _spacing_name(base: pd.DataFrame) -> str | None:
    spacing = files.native_spacing(base.index)
    if spacing is None:
        return None
    for name in ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"):
        if parse_interval(name).length == spacing:
            return name
    return _duration(spacing)


def _duration(spacing: pd.Timedelta) -> str:
    seconds = int(spacing.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
