"""Real tickers from Yahoo Finance (through yfinance), with an on-disk cache.

Yahoo only keeps intraday bars for a while; :data:`YAHOO_LIMITS` is the one
table of those limits, and a request beyond them is a :class:`ConfigError`
that names the limit and what to ask for instead. 1m ranges longer than one
request may cover are split into several requests.

Ranges and the cache. A relative period (``1y``, ``ytd``, ``max``) counts back
from an anchor derived from "now": the next midnight UTC for daily and weekly
bars, the end of the current bar for intraday ones. The resolved range
``[start, end)`` is the cache key (with the symbol and the fetched interval),
so repeating a request the same UTC day (daily bars) or within the same bar
(intraday) reads the cache and makes no network call. Custom ranges ending in
the past are cached for good; a range reaching into today is clipped at the
anchor, so it is fetched again the next day (bar). The cached copy of today's
bar is the one seen on the first request of that day (bar). Prices are
split- and dividend-adjusted (``auto_adjust=True``).

Tests and offline users replace :data:`fetch` (or pass ``fetch=``) with a
function of the same signature; nothing here touches the network otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from dataclasses import dataclass

import pandas as pd

from algobt.engine.data.cache import cache_file, read_cached, write_cached
from algobt.engine.data.frame import COLUMNS, finish, single_ticker, stamp_text
from algobt.engine.data.periods import (
    PERIOD_OFFSETS,
    Interval,
    Window,
    parse_interval,
    resolve_window,
)
from algobt.engine.data.resample import resample_ohlcv
from algobt.engine.data.validate import validate_ohlcv
from algobt.errors import AlgobtError, ConfigError, DataError


@dataclass(frozen=True)
class YahooLimit:
    """How far back Yahoo keeps bars of one size, and the longest range one request may span."""

    lookback: pd.Timedelta | None
    per_request: pd.Timedelta | None = None


#: Yahoo's range limits by Yahoo interval, from yfinance 1.7's source
#: (``scrapers/history.py``: ``period='max'`` fetches 1m bars 8 days back, 2m-90m
#: 60 days and 1h 730 days; price repair treats 30 days as the oldest 1m data and
#: asks for at most 5+2 days of 1m per request; the docstrings say "Intraday data
#: cannot extend last 60 days"). 7 days per 1m request stays under Yahoo's 8.
YAHOO_LIMITS = {
    "1m": YahooLimit(pd.Timedelta(days=30), pd.Timedelta(days=7)),
    "5m": YahooLimit(pd.Timedelta(days=60)),
    "15m": YahooLimit(pd.Timedelta(days=60)),
    "30m": YahooLimit(pd.Timedelta(days=60)),
    "1h": YahooLimit(pd.Timedelta(days=730)),
    "1d": YahooLimit(None),
    "1wk": YahooLimit(None),
}

#: The Yahoo interval fetched for each algobt interval (4h is resampled from 1h).
YAHOO_INTERVALS = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "1h",
    "4h": "1h",
    "1d": "1d",
    "1w": "1wk",
}

#: A relative period may overshoot a look-back limit by this much (months of 31 days,
#: leap years: ``2y`` of 1h bars is 731 days) and is then trimmed to the limit.
TRIM_TOLERANCE = pd.Timedelta(days=2)

_TICKER = re.compile(r"\^?[A-Z0-9][A-Z0-9.=_-]{0,31}")


def download(
    symbol: str, *, start: pd.Timestamp | None, end: pd.Timestamp | None, interval: str
) -> pd.DataFrame:
    """Bars of ``symbol`` in ``[start, end)`` straight from Yahoo via ``yfinance.download``.

    interval: a Yahoo interval (``1m`` ... ``1h``, ``1d``, ``1wk``); ``start=None``
    means as far back as Yahoo has. Returns yfinance's frame untouched: columns
    ``(Price, Ticker)``, index tz-aware in the exchange's zone. This is the only
    function here that uses the network.

    >>> download("AAPL", start=None, end=None, interval="1d")  # doctest: +SKIP
    """
    import yfinance as yf  # only a real download needs it; importing it is slow

    daily = interval in ("1d", "1wk")

    def when(stamp):
        if stamp is None:
            return None
        return stamp.strftime("%Y-%m-%d") if daily else stamp.to_pydatetime()

    kwargs = dict(
        interval=interval,
        start=when(start),
        end=when(end),
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
        ignore_tz=False,
        multi_level_index=True,
    )
    if start is None:
        kwargs["period"] = "max"
    with warnings.catch_warnings(), _yfinance_log() as said:
        # yfinance's own pandas deprecation notices say nothing to our users.
        warnings.simplefilter("ignore")
        frame = yf.download(symbol, **kwargs)
    if frame is None or len(frame) == 0:
        unreachable = [text for text in said if _UNREACHABLE.search(text)]
        if unreachable:
            raise DataError(
                f"could not reach Yahoo Finance (network unreachable) for {symbol!r}: "
                "check the internet connection, or use a demo symbol (DEMO, DEMO-FX, "
                f"DEMO-BTC) or a CSV/Parquet file ({_first_line(unreachable[-1])})",
                field="symbol",
            )
    return frame


# What yfinance logs when it never got an answer (it then returns an empty frame).
_UNREACHABLE = re.compile(
    r"Could not resolve host|DNSError|ConnectionError|Failed to connect|Connection refused|"
    r"timed out|Timeout|Network is unreachable|curl: \(\d+\)",
    re.IGNORECASE,
)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 160 else line[:157] + "..."


@contextlib.contextmanager
def _yfinance_log():
    """Keep yfinance's log lines ("1 Failed download: ...") out of the user's output
    and hand them to us instead: they are how it says the network failed."""
    logger = logging.getLogger("yfinance")
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())

    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [Keep()], False
    try:
        yield said
    finally:
        logger.handlers, logger.propagate = saved


#: The function that fetches from Yahoo; replace it to test or to work offline.
fetch = download


def clock() -> pd.Timestamp:
    """The current time in UTC; replace it in tests to freeze "now".

    >>> clock().tz is not None
    True
    """
    return pd.Timestamp.now("UTC")


def check_ticker(symbol) -> str:
    """``symbol`` upper-cased if it is spelled like a Yahoo ticker, else :class:`ConfigError`.

    >>> check_ticker("brk-b"), check_ticker("^GSPC"), check_ticker("EURUSD=X")
    ('BRK-B', '^GSPC', 'EURUSD=X')
    """
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    if not _TICKER.fullmatch(text):
        raise ConfigError(
            f"{symbol!r} is not a Yahoo ticker; write one ticker as Yahoo spells it, "
            "e.g. 'AAPL', 'BRK-B', 'EURUSD=X', '^GSPC', 'BTC-USD' (one at a time)",
            field="symbol",
        )
    return text


def normalize(raw: pd.DataFrame, symbol: str, interval: str) -> pd.DataFrame:
    """A yfinance frame as algobt's OHLCV frame (not yet validated); may be empty.

    Daily and weekly bars keep their exchange-local date, stamped at midnight
    UTC; intraday stamps are converted to UTC.

    >>> cols = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"],
    ...                                    ["AAPL"]], names=["Price", "Ticker"])
    >>> idx = pd.DatetimeIndex(["2024-01-02"], name="Date").tz_localize("America/New_York")
    >>> raw = pd.DataFrame([[185.6, 188.4, 183.9, 187.2, 82488700]], index=idx, columns=cols)
    >>> normalize(raw, "AAPL", "1d").index[0]
    Timestamp('2024-01-02 00:00:00+0000', tz='UTC')
    """
    if not isinstance(raw, pd.DataFrame):
        raise DataError(
            f"Yahoo gave {type(raw).__name__} instead of a table for {symbol!r}; "
            "try again later, or use a demo symbol or a file",
            field="symbol",
        )
    flat = single_ticker(raw, symbol)
    if len(flat) == 0:
        return finish(pd.DataFrame(columns=list(COLUMNS), index=pd.DatetimeIndex([], tz="UTC")))
    missing = [c for c in COLUMNS if c not in flat.columns]
    if missing:
        raise DataError(
            f"Yahoo's data for {symbol!r} lacks {', '.join(missing)} "
            f"(columns: {list(flat.columns)}); try again later or load the bars from a file",
            field=missing[0],
        )
    index = pd.DatetimeIndex(flat.index)
    if interval in ("1d", "1wk"):
        # The exchange's trading date is the bar's identity; keep it, whatever the zone.
        local = index.tz_localize(None) if index.tz is not None else index
        index = local.normalize().tz_localize("UTC")
    else:
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    flat = flat.set_axis(index, axis=0)
    return finish(flat)


def load_yahoo(
    symbol: str,
    interval: Interval,
    period: str | None = None,
    start_date=None,
    end_date=None,
    *,
    cache_dir=None,
    fetch=None,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Validated OHLCV bars of a Yahoo ticker, from the cache when the same range was fetched.

    fetch: replaces the module's :data:`fetch` (same signature as :func:`download`).
    now: replaces :func:`clock`. Everything else as for ``algobt.load``.

    >>> import tempfile
    >>> cols = pd.MultiIndex.from_product([["Close", "High", "Low", "Open", "Volume"],
    ...                                    ["AAPL"]], names=["Price", "Ticker"])
    >>> idx = pd.DatetimeIndex(["2024-01-02", "2024-01-03"], name="Date")
    >>> raw = pd.DataFrame([[185.6, 188.4, 183.9, 187.2, 82488700],
    ...                     [184.3, 185.9, 183.4, 184.2, 58414500]],
    ...                    index=idx.tz_localize("America/New_York"), columns=cols)
    >>> calls = []
    >>> def fake(symbol, *, start, end, interval):
    ...     calls.append((symbol, interval))
    ...     return raw
    >>> now, cache = pd.Timestamp("2024-01-04 12:00", tz="UTC"), tempfile.mkdtemp()
    >>> for _ in range(2):
    ...     bars = load_yahoo("AAPL", parse_interval("1d"), "1mo", fetch=fake, now=now,
    ...                       cache_dir=cache)
    >>> len(bars), calls
    (2, [('AAPL', '1d')])
    """
    ticker = check_ticker(symbol)
    fetcher = _module_fetch() if fetch is None else fetch
    now = clock() if now is None else _utc(pd.Timestamp(now))
    yahoo_interval = YAHOO_INTERVALS[interval.name]
    base = parse_interval("1w" if yahoo_interval == "1wk" else yahoo_interval)
    anchor = _anchor(now, base)
    window = resolve_window(period, start_date, end_date, anchor=anchor)
    end = anchor if window.end is None else min(window.end, anchor)
    window = Window(window.start, end, window.relative)
    window = _within_limits(window, interval, base, anchor, period, start_date)

    key = f"{yahoo_interval}_{_key_stamp(window.start, base)}_{_key_stamp(window.end, base)}"
    path = cache_file(cache_dir, "yahoo", ticker, key)
    frame = read_cached(path)
    if frame is None:
        frame = _fetch_range(fetcher, ticker, yahoo_interval, window)
        _validated(frame, ticker, yahoo_interval)
        write_cached(path, frame)
    else:
        _validated(frame, ticker, yahoo_interval)
    if base.name != interval.name:
        frame = resample_ohlcv(frame, interval)
    # Where the bars came from, for the run's record (docs/store.md, provenance).
    frame.attrs = {**frame.attrs, "cache_key": key, "path": str(path)}
    return frame


def _module_fetch():
    return fetch  # looked up at call time, so replacing the module attribute works


def _utc(stamp: pd.Timestamp) -> pd.Timestamp:
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _anchor(now: pd.Timestamp, base: Interval) -> pd.Timestamp:
    if base.intraday:
        return now.ceil(base.length)
    return now.floor("D") + pd.Timedelta(days=1)


def _key_stamp(stamp: pd.Timestamp | None, base: Interval) -> str:
    if stamp is None:
        return "max"
    return stamp.strftime("%Y%m%dT%H%MZ" if base.intraday else "%Y%m%d")


def _within_limits(window, interval, base, anchor, period, start_date) -> Window:
    yahoo_interval = YAHOO_INTERVALS[interval.name]
    limit = YAHOO_LIMITS[yahoo_interval]
    if limit.lookback is None:
        return window
    # Yahoo checks against its own clock, a moment later than ours: keep a bar of margin.
    earliest = anchor - limit.lookback + base.length + pd.Timedelta(minutes=1)
    earliest = earliest.ceil(base.length)
    start = window.start
    if start is None or start >= earliest:
        return Window(earliest if start is None else start, window.end, window.relative)
    if window.relative and earliest - start <= TRIM_TOLERANCE:
        return Window(earliest, window.end, window.relative)
    raise ConfigError(
        _limit_message(interval.name, limit, start, earliest, anchor, period, start_date),
        field="start_date" if start_date not in (None, "") else "period",
    )


def _limit_message(name, limit, start, earliest, anchor, period, start_date) -> str:
    days = limit.lookback.days
    source = YAHOO_INTERVALS[name]
    made_from = "" if source == name else f" (algobt builds {name} bars from {source} bars)"
    text = f"Yahoo keeps {source} bars for the last {days} days only{made_from}"
    if limit.per_request is not None:
        text += (
            f" and serves at most {limit.per_request.days} days of them per request "
            "(algobt splits longer ranges)"
        )
    if start_date not in (None, ""):
        asked = f"start_date {str(start_date)!r} is"
    else:
        asked = f"period={period!r} reaches back to {stamp_text(start)},"
    text += f"; {asked} before the earliest bar Yahoo has, {stamp_text(earliest)}."
    fits = [p for p, off in PERIOD_OFFSETS.items() if anchor - off >= earliest - TRIM_TOLERANCE]
    options = []
    if fits:
        options.append("period=" + " or ".join(repr(p) for p in fits))
    first_day = (earliest.normalize() + pd.Timedelta(days=1)).date()
    options.append(f"a start_date on or after {first_day}")
    coarser = [
        f"'{algobt_name}' ({_reach(yahoo)})"
        for algobt_name, yahoo in (("5m", "5m"), ("1h", "1h"), ("1d", "1d"))
        if _reach_days(yahoo) > days
    ]
    options.append("interval=" + ", ".join(coarser))
    return text + " Ask for " + "; or ".join(options) + "."


def _reach_days(yahoo_interval: str) -> float:
    lookback = YAHOO_LIMITS[yahoo_interval].lookback
    return float("inf") if lookback is None else lookback.days


def _reach(yahoo_interval: str) -> str:
    days = _reach_days(yahoo_interval)
    return "no limit" if days == float("inf") else f"{int(days)} days"


def _fetch_range(fetch, ticker: str, yahoo_interval: str, window: Window) -> pd.DataFrame:
    limit = YAHOO_LIMITS[yahoo_interval]
    pieces = [(window.start, window.end)]
    if limit.per_request is not None:
        bounds = list(pd.date_range(window.start, window.end, freq=limit.per_request))
        if bounds[-1] < window.end:
            bounds.append(window.end)
        pieces = list(zip(bounds[:-1], bounds[1:], strict=True))
    frames = []
    for start, end in pieces:
        try:
            raw = fetch(ticker, start=start, end=end, interval=yahoo_interval)
        except AlgobtError:
            raise
        except Exception as exc:  # network, rate limits, yfinance internals: say so plainly
            raise DataError(
                f"downloading {ticker!r} from Yahoo failed ({type(exc).__name__}: {exc}); "
                "check your internet connection and try again, or use a demo symbol "
                "(DEMO, DEMO-FX, DEMO-BTC) or a CSV/Parquet file",
                field="symbol",
            ) from exc
        # Clip each answer to the range it was asked for, so pieces never overlap.
        frames.append(Window(start, end).slice(normalize(raw, ticker, yahoo_interval)))
    filled = [f for f in frames if len(f)]
    if not filled:
        raise DataError(
            f"no data for symbol {ticker!r} from Yahoo ({yahoo_interval} bars, "
            f"{_range_text(window)}); "
            "check the ticker as Yahoo spells it (e.g. 'BRK-B', 'EURUSD=X', '^GSPC', "
            "'BTC-USD') and that it traded in that range",
            field="symbol",
        )
    return pd.concat(filled) if len(filled) > 1 else filled[0]


def _validated(frame: pd.DataFrame, ticker: str, yahoo_interval: str) -> None:
    try:
        validate_ohlcv(frame)
    except DataError as exc:
        raise DataError(
            f"Yahoo's {yahoo_interval} data for {ticker!r} is unusable: {exc.message}",
            field=exc.field,
        ) from exc


def _range_text(window: Window) -> str:
    start = "the start" if window.start is None else stamp_text(window.start)
    return f"{start} to {stamp_text(window.end)}"
