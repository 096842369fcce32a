"""Performance statistics of a finished run, and their JSON-facing records.

Two layers, one direction (records → stats → result):

* :func:`compute_stats` turns a run's closed trades, its per-bar equity and the
  market data into a ``pd.Series`` with exactly the keys, order and values of
  backtesting.py 0.6.6's ``Backtest.run()`` statistics, so a strategy ported
  from backtesting.py reports the same numbers here. ``docs/stats.md`` defines
  every key with its unit.
* :func:`daily_stats`, :func:`symbol_stats`, :func:`trade_records`,
  :func:`equity_points` and :func:`backtest_result` turn those stats into the
  plain, JSON-safe dicts of SPEC §1 "Results" (``BacktestResult``, ``Trade``,
  ``DailyStat``, ``SymbolStat``, ``EquityPoint``): percentages as percent
  numbers, money in the account currency, ISO 8601 stamps in UTC, and ``None``
  wherever a statistic cannot be computed (never NaN or infinity).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from algobt.errors import ConfigError, DataError

__all__ = [
    "TRADE_COLUMNS",
    "backtest_result",
    "compute_stats",
    "daily_stats",
    "drawdown_episodes_nb",
    "equity_points",
    "exposed_bars_nb",
    "symbol_stats",
    "trade_records",
]

#: Columns a trades frame must have (backtesting.py's ``stats._trades`` layout).
#: ``Size`` is signed units (negative = short), ``EntryBar``/``ExitBar`` are bar
#: positions, prices in quote currency, ``PnL`` and ``Commission`` in money
#: (``PnL`` is net of commission), ``ReturnPct`` a fraction (0.05 = 5 %).
#: Extra columns (indicator values, an optional per-row ``Symbol``) pass through.
TRADE_COLUMNS = (
    "Size",
    "EntryBar",
    "ExitBar",
    "EntryPrice",
    "ExitPrice",
    "SL",
    "TP",
    "PnL",
    "Commission",
    "ReturnPct",
    "EntryTime",
    "ExitTime",
    "Duration",
    "Tag",
)

# A calendar with more than 60 % of the weekend share of a 7-day week trades on
# weekends (crypto): backtesting.py then annualizes daily figures with 365 days.
_WEEKEND_SHARE_FOR_365 = 2 / 7 * 0.6
# Bar spacing in whole days -> (periods per year, resample rule for "daily" returns).
_COARSE_BARS = {7: (52, "W"), 31: (12, "ME"), 365: (1, "YE")}


# --------------------------------------------------------------------------- kernels


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


# --------------------------------------------------------------------------- pandas' arithmetic
# The statistics are backtesting.py's, which computes them with pandas reductions.
# These do the same arithmetic on numpy arrays, step for step (NaNs filled with 0
# or ±inf, one numpy sum over the whole array, counts as float64), so every value is
# the same to the last bit without a Series per figure; tests pin them to pandas.


def _nan_filled(values: np.ndarray, fill: float) -> tuple[np.ndarray, int]:
    """``values`` with NaN replaced by ``fill``, and how many NaNs there were."""
    missing = np.isnan(values)
    count = int(missing.sum())
    return (np.where(missing, fill, values) if count else values), count


def _sum(values: np.ndarray) -> Any:
    """``pd.Series(values).sum()`` of a float64 array (NaN skipped, 0.0 when empty)."""
    return _nan_filled(values, 0.0)[0].sum()


def _mean(values: np.ndarray) -> Any:
    """``pd.Series(values).mean()`` of a float64 array (NaN skipped, NaN when empty)."""
    if values.size == 0:
        return np.nan
    filled, missing = _nan_filled(values, 0.0)
    count = np.float64(values.size - missing)
    return filled.sum() / count if count > 0 else np.nan


def _max(values: np.ndarray, sign: float = 1.0) -> Any:
    """``pd.Series(values).max()`` (``.min()`` with ``sign=-1``) of a float64 array."""
    if values.size == 0:
        return np.nan
    filled, missing = _nan_filled(values, -sign * np.inf)
    if missing == values.size:
        return np.float64(np.nan)
    return filled.max() if sign > 0 else filled.min()


def _std(values: np.ndarray) -> Any:
    """``pd.Series(values).std()`` (ddof=1) of a float64 array."""
    return np.sqrt(_var(values)) if values.size else np.nan


def _var(values: np.ndarray) -> Any:
    """``pd.Series(values).var()`` (ddof=1) of a float64 array: two passes, as pandas."""
    if values.size == 0:
        return np.nan
    filled, missing = _nan_filled(values, 0.0)
    count = np.float64(values.size - missing)
    if count <= 1:
        return np.float64(np.nan)
    squares = (filled.sum(dtype=np.float64) / count - filled) ** 2
    if missing:
        squares[np.isnan(values)] = 0
    return squares.sum(dtype=np.float64) / (count - np.float64(1))


def _timedelta_max(ticks: np.ndarray, unit: str) -> Any:
    """``.max()`` of a timedelta64[unit] Series holding ``ticks`` (int64, no NaT)."""
    if ticks.size == 0:
        return pd.NaT
    return pd.Timedelta(np.timedelta64(int(ticks.max()), unit))


def _timedelta_mean(ticks: np.ndarray, unit: str, rows: int, at: np.ndarray | None = None) -> Any:
    """``.mean()`` of a timedelta64[unit] Series of ``rows`` rows, NaT except ``ticks``
    (int64) at positions ``at`` (all rows when None): pandas sums the ticks as float64
    over the whole column, NaT as 0, and truncates the mean to a tick."""
    if ticks.size == 0:
        return pd.NaT
    if at is not None:
        full = np.zeros(rows, dtype=np.int64)
        full[at] = ticks
        ticks = full
    mean = ticks.sum(dtype=np.float64) / np.float64(at.size if at is not None else rows)
    return pd.Timedelta(np.int64(mean).astype(f"m8[{unit}]"))


# --------------------------------------------------------------------------- stats


def _bar_period(index: pd.Index) -> Any:
    """Typical bar spacing: the median step over the last 100 stamps (Timedelta, or
    a number for a non-datetime index; NaT/NaN for a single bar)."""
    if isinstance(index, pd.DatetimeIndex):
        stamps = index.asi8[-100:]
        if not (stamps == _NAT).any():
            if stamps.size < 2:
                return pd.NaT
            # pandas' median of a timedelta Series: the float median, truncated to ticks.
            median = np.median(np.diff(stamps).astype(np.float64))
            return pd.Timedelta(np.int64(median).astype(f"m8[{index.unit}]"))
    return index[-100:].to_series().diff().median()


def _ceil_to_bar_resolution(value: Any, period: Any) -> Any:
    """Round a duration up to the finest unit of the bar spacing ('D' for daily
    bars, 'h' hourly...), so durations read in whole bars' units."""
    if not isinstance(value, pd.Timedelta) or not isinstance(period, pd.Timedelta):
        return value
    return value.ceil(period.resolution_string)


def _geometric_mean(returns: pd.Series | np.ndarray) -> float:
    """Per-period geometric mean of simple returns (fractions), NaN treated as 0.

    0 when any return wipes out the capital (≤ -100 %), where the log is
    undefined; NaN for no returns.
    """
    values = np.asarray(returns, dtype=float)
    growth = np.where(np.isnan(values), 0.0, values) + 1.0
    if (growth <= 0).any():
        return 0
    if growth.size == 0:
        return np.nan
    return np.exp(np.log(growth).sum() / growth.size) - 1


def _ratio(numerator: Any, denominator: Any) -> np.float64:
    """IEEE division (x/0 = ±inf, 0/0 = NaN) without warnings: a ratio that
    cannot be computed is reported as such, not raised."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.float64(numerator) / np.float64(denominator)


def missing_values(values) -> np.ndarray | None:
    """Where an indicator's values are NaN, or None when they are labels, not numbers
    (a non-numeric indicator has no warm-up)."""
    try:
        return np.isnan(np.asarray(values, dtype=float))
    except (TypeError, ValueError):
        return None


def _warmup_bars(strategy: Any) -> int:
    """Bars before every (non-scatter) indicator of ``strategy`` has a value.

    Buy & Hold is measured from that bar, as backtesting.py does. A strategy may
    state it as an int attribute ``warmup_bars``; otherwise indicator arrays are
    found as ndarray attributes carrying an ``_opts`` dict (``self.I`` results).
    An indicator that is all NaN counts as 0 bars, matching backtesting.py.
    """
    if strategy is None:
        return 0
    stated = getattr(strategy, "warmup_bars", None)
    if isinstance(stated, int | np.integer):
        return int(stated)
    bars = 0
    for value in getattr(strategy, "__dict__", {}).values():
        opts = getattr(value, "_opts", None)
        if not isinstance(value, np.ndarray) or not isinstance(opts, dict):
            continue
        if opts.get("scatter"):
            continue
        missing = missing_values(value)
        if missing is not None and missing.size:
            bars = max(bars, int(np.atleast_2d(missing).argmin(axis=-1).max()))
    return bars


def _drawdowns(drawdown: np.ndarray, index: pd.Index) -> tuple[Any, Any, Any, Any]:
    """The drawdown duration column (filled only at the bar ending an episode) and
    the mean depth, longest and mean duration of the episodes.

    Without any episode the column is the drawdown with zeros as NaN: the shape
    (and dtype) backtesting.py returns in that case.
    """
    start, end, peak = drawdown_episodes_nb(drawdown)
    n = len(index)
    if start.size == 0:
        flat = np.where(drawdown == 0, np.nan, drawdown)
        return flat, _mean(flat), _max(flat), _mean(flat)
    depth = np.full(n, np.nan)
    depth[end] = peak
    if isinstance(index, pd.DatetimeIndex) and not index.hasnans:
        # Stamp differences in the index's own ticks: what ``index[end] - index[start]``
        # gives, without a TimedeltaIndex.
        stamps, unit = index.asi8, index.unit
        ticks = stamps[end] - stamps[start]
        duration = np.full(n, np.timedelta64("NaT"), dtype=f"m8[{unit}]")
        duration[end] = ticks.view(f"m8[{unit}]")
        longest, average = _timedelta_max(ticks, unit), _timedelta_mean(ticks, unit, n, end)
        return duration, _mean(depth), longest, average
    lengths = index.take(end) - index.take(start)
    if isinstance(lengths, pd.TimedeltaIndex):
        duration = np.full(n, np.timedelta64("NaT"), dtype=lengths.dtype)
        duration[end] = lengths.to_numpy()
        column = pd.Series(duration)
        return duration, _mean(depth), column.max(), column.mean()
    duration = np.full(n, np.nan)
    duration[end] = np.asarray(lengths)
    return duration, _mean(depth), _max(duration), _mean(duration)


def _trade_durations(durations: pd.Series) -> tuple[Any, Any]:
    """Longest and mean trade duration, as ``durations.max()`` and ``.mean()``."""
    values = durations.to_numpy()
    if values.dtype.kind == "m":
        ticks = values.view(np.int64)
        if not (ticks == _NAT).any():
            unit = np.datetime_data(values.dtype)[0]
            return _timedelta_max(ticks, unit), _timedelta_mean(ticks, unit, ticks.size)
    return durations.max(), durations.mean()


def _floats(column: pd.Series) -> np.ndarray:
    """A numeric column as float64 (missing values as NaN), without a copy if it is one."""
    values = column.to_numpy()
    if values.dtype == np.float64:
        return values
    return column.to_numpy(dtype=float, na_value=np.nan)


def _day_returns(equity: np.ndarray, index: pd.DatetimeIndex, rule: str, day_ends: Any) -> Any:
    """Returns (fractions) of the equity at the last bar of each calendar day (``rule``
    "D"; of each week, month or year for coarser rules), days without bars skipped:
    ``equity.resample(rule).last().dropna().pct_change().dropna()``. ``day_ends``:
    the last bar of each day (see ``_day_runs``), for the daily rule."""
    if rule != "D" or day_ends is None or np.isnan(equity).any():
        closes = pd.Series(equity, index=index).resample(rule).last().dropna()
        return closes.pct_change().dropna().to_numpy(dtype=float)
    closes = equity[day_ends]
    returns = closes[1:] / closes[:-1] - 1
    return returns[~np.isnan(returns)]


def _day_runs(index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Runs of consecutive bars on one calendar day (local time): the last bar of
    each run and its day number (days since 1970-01-01, a Thursday). One run per day
    for a sorted index. ``(None, None)`` when the index has NaT, is not sorted or
    has a unit this does not know."""
    per_day = _TICKS_PER_DAY.get(index.unit)
    if per_day is None or index.hasnans or not index.is_monotonic_increasing:
        return None, None
    local = index.tz_localize(None) if index.tz is not None else index
    days = local.asi8 // per_day
    ends = np.append(np.flatnonzero(np.diff(days)), days.size - 1)
    return ends, days[ends]


def _weekend_share(index: pd.DatetimeIndex, ends: Any, days: Any) -> Any:
    """Fraction of bars on a Saturday or Sunday, as ``(index.day_of_week >= 5).mean()``."""
    if ends is None:
        return (index.day_of_week >= 5).mean()
    bars = np.diff(ends, prepend=-1)
    weekend = (days + 3) % 7 >= 5  # 1970-01-01 was a Thursday (3, Monday being 0)
    return np.float64(bars[weekend].sum()) / index.size


_NAT = np.iinfo(np.int64).min  # NaT's int64 ticks
_TICKS_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _exposure_pct(entry_bar: np.ndarray, exit_bar: np.ndarray, n_bars: int) -> float:
    """Percent of bars (counted in bars, not clock time) with any trade open,
    entry and exit bars included."""
    if entry_bar.size == 0 or (
        entry_bar.min() >= 0 and entry_bar.max() <= n_bars and exit_bar.min() >= -1
    ):
        exposed = exposed_bars_nb(entry_bar, exit_bar, n_bars)
        return np.float64(exposed) / n_bars * 100  # np.mean's arithmetic on the bar mask
    steps = np.zeros(n_bars + 1, dtype=np.int64)  # bars out of range wrap, as numpy does
    np.add.at(steps, entry_bar, 1)
    np.add.at(steps, np.minimum(exit_bar + 1, n_bars), -1)
    return (np.cumsum(steps[:-1]) > 0).mean() * 100


def compute_stats(
    trades: pd.DataFrame,
    equity: np.ndarray,
    ohlc: pd.DataFrame,
    strategy: Any = None,
    risk_free_rate: float = 0.0,
    *,
    warmup_bars: int | None = None,
) -> pd.Series:
    """Statistics of one run, key for key and value for value those of backtesting.py 0.6.6.

    trades: closed trades, one row each, with the :data:`TRADE_COLUMNS`.
    equity: account equity (money) at the close of every bar, ``len(ohlc)`` values.
    ohlc: the market data the run used (``Close`` is needed; index tz-naive or
        tz-aware — stamps come back as given).
    strategy: the strategy instance; only used to find the indicator warm-up
        (Buy & Hold starts at the first bar where all indicators have values)
        and returned as ``_strategy``.
    risk_free_rate: annual rate as a fraction (0.02 = 2 %), in (-1, 1); used by
        Sharpe, Sortino and Alpha.
    warmup_bars: overrides the warm-up found from ``strategy``.

    Returns an object-dtype Series; see ``docs/stats.md`` for every key.
    ``Commissions [$]`` is present only when commissions were paid, as in
    backtesting.py's ``run()``.

    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    >>> ohlc = pd.DataFrame({"Close": [10.0, 11.0, 12.0]}, index=idx)
    >>> trades = pd.DataFrame(columns=list(TRADE_COLUMNS))
    >>> float(compute_stats(trades, np.array([100.0, 100.0, 100.0]), ohlc)["Return [%]"])
    0.0
    """
    if not -1 < risk_free_rate < 1:
        raise ConfigError(
            f"risk_free_rate is an annual fraction in (-1, 1), got {risk_free_rate!r}",
            field="risk_free_rate",
        )
    missing = [c for c in TRADE_COLUMNS if c not in trades.columns]
    if missing:
        raise DataError(f"trades frame lacks columns {missing}", field="trades")
    if "Close" not in ohlc.columns:
        raise DataError("market data lacks a Close column", field="Close")
    index = ohlc.index
    equity = np.asarray(equity, dtype=float)
    if equity.ndim != 1 or equity.size != len(index) or equity.size == 0:
        raise DataError(
            f"equity needs one value per bar: {equity.size} values for {len(index)} bars",
            field="equity",
        )
    first_bar = _warmup_bars(strategy) if warmup_bars is None else int(warmup_bars)
    # Any data may give inf/NaN statistics (zero equity, a one-day run compounded
    # to a year...): they are reported as such, never warned about.
    with np.errstate(all="ignore"):
        stats = _stats(trades, equity, ohlc, first_bar, risk_free_rate)
    stats["_strategy"] = strategy
    return pd.Series(list(stats.values()), index=_stats_index(tuple(stats)), dtype=object)


@functools.cache
def _stats_index(keys: tuple[str, ...]) -> pd.Index:
    """The stats Series' index, built once per set of keys (a few: optional keys):
    an Index of strings costs as much to build as half the statistics."""
    return pd.Index(list(keys))


def _stats(
    trades: pd.DataFrame,
    equity: np.ndarray,
    ohlc: pd.DataFrame,
    first_bar: int,
    risk_free_rate: float,
) -> dict[str, Any]:
    """The arithmetic of :func:`compute_stats` on validated inputs (all but ``_strategy``)."""
    index = ohlc.index
    drawdown = 1 - equity / np.maximum.accumulate(equity)
    dd_duration, dd_depth_mean, dd_duration_max, dd_duration_mean = _drawdowns(drawdown, index)
    equity_curve = pd.DataFrame(
        {"Equity": equity, "DrawdownPct": drawdown, "DrawdownDuration": dd_duration},
        index=index,
    )

    period = _bar_period(index)
    pnl = _floats(trades["PnL"])
    returns = _floats(trades["ReturnPct"])
    n_trades = len(trades)
    close = ohlc["Close"].to_numpy(dtype=float)
    commissions = _sum(_floats(trades["Commission"]))

    s: dict[str, Any] = {}
    s["Start"] = index[0]
    s["End"] = index[-1]
    s["Duration"] = s["End"] - s["Start"]
    s["Exposure Time [%]"] = _exposure_pct(
        trades["EntryBar"].to_numpy(dtype=np.int64),
        trades["ExitBar"].to_numpy(dtype=np.int64),
        len(index),
    )
    s["Equity Final [$]"] = equity[-1]
    s["Equity Peak [$]"] = equity.max()
    if commissions:
        s["Commissions [$]"] = commissions
    s["Return [%]"] = (equity[-1] - equity[0]) / equity[0] * 100
    s["Buy & Hold Return [%]"] = (close[-1] - close[first_bar]) / close[first_bar] * 100

    # Risk figures come from "daily" returns: equity resampled to calendar days
    # (weeks/months/years for coarser bars), compounded to a year.
    is_datetime = isinstance(index, pd.DatetimeIndex)
    if is_datetime:
        spacing_days = period.days
        day_ends, days = _day_runs(index)
        weekend_share = _weekend_share(index, day_ends, days)
        default = (365 if weekend_share > _WEEKEND_SHARE_FOR_365 else 252, "D")
        periods_per_year, rule = _COARSE_BARS.get(spacing_days, default)
        day_returns = _day_returns(equity, index, rule, day_ends)
        gmean = _geometric_mean(day_returns)
    else:
        periods_per_year, day_returns, gmean = np.nan, np.empty(0), 0

    growth = 1 + gmean
    annual_return = growth**periods_per_year - 1
    volatility = np.sqrt(
        (_var(day_returns) + growth**2) ** periods_per_year - growth ** (2 * periods_per_year)
    )
    s["Return (Ann.) [%]"] = annual_return * 100
    s["Volatility (Ann.) [%]"] = volatility * 100
    if is_datetime:
        years = (s["Duration"].days + s["Duration"].seconds / 86400) / 365.25
        multiple = s["Equity Final [$]"] / equity[0]
        s["CAGR [%]"] = (multiple ** (1 / years) - 1) * 100 if years else np.nan
    s["Sharpe Ratio"] = _ratio(
        s["Return (Ann.) [%]"] - risk_free_rate * 100, s["Volatility (Ann.) [%]"] or np.nan
    )
    downside = day_returns.clip(max=0)
    downside_dev = np.sqrt(np.mean(downside**2)) if downside.size else np.nan
    s["Sortino Ratio"] = _ratio(
        annual_return - risk_free_rate, downside_dev * np.sqrt(periods_per_year)
    )
    max_dd = np.nan_to_num(drawdown.max())  # a fraction, >= 0
    s["Calmar Ratio"] = _ratio(annual_return, max_dd or np.nan)

    equity_log_returns = np.log(equity[1:] / equity[:-1])
    market_log_returns = np.log(close[1:] / close[:-1])
    beta = np.nan
    if len(equity_log_returns) > 1:
        cov = np.cov(equity_log_returns, market_log_returns)
        beta = _ratio(cov[0, 1], cov[1, 1])
    rf_pct = risk_free_rate * 100
    s["Alpha [%]"] = s["Return [%]"] - rf_pct - beta * (s["Buy & Hold Return [%]"] - rf_pct)
    s["Beta"] = beta
    s["Max. Drawdown [%]"] = -max_dd * 100
    s["Avg. Drawdown [%]"] = -dd_depth_mean * 100
    s["Max. Drawdown Duration"] = _ceil_to_bar_resolution(dd_duration_max, period)
    s["Avg. Drawdown Duration"] = _ceil_to_bar_resolution(dd_duration_mean, period)

    wins = pnl > 0
    win_rate = np.nan if not n_trades else wins.sum(dtype=np.int64) / np.float64(n_trades)
    s["# Trades"] = n_trades
    s["Win Rate [%]"] = win_rate * 100
    s["Best Trade [%]"] = _max(returns) * 100
    s["Worst Trade [%]"] = _max(returns, sign=-1.0) * 100
    s["Avg. Trade [%]"] = _geometric_mean(returns) * 100
    longest, average = _trade_durations(trades["Duration"])
    s["Max. Trade Duration"] = _ceil_to_bar_resolution(longest, period)
    s["Avg. Trade Duration"] = _ceil_to_bar_resolution(average, period)
    # Profit factor on per-trade returns (not money), as backtesting.py defines it.
    gains, losses = _sum(returns[returns > 0]), abs(_sum(returns[returns < 0]))
    s["Profit Factor"] = _ratio(gains, losses or np.nan)
    s["Expectancy [%]"] = _mean(returns) * 100
    s["SQN"] = _ratio(np.sqrt(n_trades) * _mean(pnl), _std(pnl) or np.nan)
    payoff = _ratio(_mean(pnl[wins]), -_mean(pnl[pnl < 0]))
    s["Kelly Criterion"] = win_rate - _ratio(1 - win_rate, payoff)

    s["_strategy"] = None  # the caller's object, set by compute_stats
    s["_equity_curve"] = equity_curve
    s["_trades"] = trades.copy()
    return s


# --------------------------------------------------------------------------- JSON


def _number(value: Any) -> float | None:
    """A finite float for JSON, or None for NaN/±inf/missing."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _seconds(value: Any) -> float | None:
    """A duration in seconds, or None when it is NaT/NaN (nothing to measure)."""
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    return None


def _is_daily(stamps: pd.Index) -> bool:
    """True when every stamp sits at midnight of its own clock: daily (or coarser)
    bars, written as plain dates."""
    if not isinstance(stamps, pd.DatetimeIndex):
        return False
    stamps = stamps.dropna()
    return len(stamps) > 0 and bool((stamps == stamps.normalize()).all())


def _iso(stamps: Any, daily: bool) -> list[str | None]:
    """ISO 8601 texts: ``"2024-01-02"`` for daily bars (the bar's own date),
    ``"2024-01-02T14:30:00Z"`` otherwise (converted to UTC; naive stamps are
    taken as UTC). NaT becomes None; a non-datetime index passes through."""
    stamps = pd.Index(stamps)
    if not isinstance(stamps, pd.DatetimeIndex):
        return [s.item() if isinstance(s, np.generic) else s for s in stamps]
    if daily:
        texts = stamps.strftime("%Y-%m-%d")
    else:
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC")
        fraction = ".%f" if (stamps.dropna().microsecond != 0).any() else ""
        texts = stamps.strftime(f"%Y-%m-%dT%H:%M:%S{fraction}Z")
    return [t if isinstance(t, str) else None for t in texts]


def _days(stamps: pd.DatetimeIndex, daily: bool) -> pd.DatetimeIndex:
    """Calendar day of each stamp: the bar's own date for daily bars, the UTC date
    for intraday bars."""
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None) if daily else stamps.tz_convert("UTC").tz_localize(None)
    return stamps.normalize()


def _equity_series(equity_curve: pd.DataFrame | pd.Series) -> pd.Series:
    equity = equity_curve["Equity"] if isinstance(equity_curve, pd.DataFrame) else equity_curve
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise DataError("equity curve needs a DatetimeIndex", field="equity_curve")
    return equity.astype(float)


def daily_stats(trades: pd.DataFrame, equity_curve: pd.DataFrame | pd.Series) -> list[dict]:
    """One SPEC ``DailyStat`` per calendar day that has bars.

    ``profit``: realized P&L (money, net of commission) of trades closed that
    day; ``trades``: how many closed; ``balance``: equity at the day's last bar;
    ``drawdown``: percent below the running peak of those end-of-day balances
    (positive). Days are UTC dates for intraday data, the bar's date for daily.

    >>> idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    >>> trades = pd.DataFrame({"PnL": [5.0], "ExitTime": [idx[1]]})
    >>> daily_stats(trades, pd.Series([100.0, 105.0], index=idx))[1]["profit"]
    5.0
    """
    equity = _equity_series(equity_curve)
    daily = _is_daily(equity.index)
    balance = equity.groupby(_days(equity.index, daily)).last()
    peak = balance.cummax()
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, (1 - balance / peak) * 100, 0.0)
    closed = pd.DataFrame(
        {
            "day": _days(pd.DatetimeIndex(trades["ExitTime"]), daily),
            "PnL": trades["PnL"].to_numpy(dtype=float),
        }
    )
    per_day = closed.groupby("day")["PnL"].agg(["sum", "size"]).reindex(balance.index)
    profit = per_day["sum"].fillna(0.0).to_numpy()
    count = per_day["size"].fillna(0).to_numpy(dtype=np.int64)
    days = balance.index.strftime("%Y-%m-%d")
    return [
        {
            "day": days[i],
            "profit": _number(profit[i]) or 0.0,
            "trades": int(count[i]),
            "balance": _number(balance.iloc[i]),
            "drawdown": _number(drawdown[i]),
        }
        for i in range(len(balance))
    ]


def symbol_stats(per_symbol: Mapping[str, pd.DataFrame]) -> list[dict]:
    """One SPEC ``SymbolStat`` per symbol, in the mapping's order.

    ``profit``: summed trade P&L (money); ``percentage``: that profit's share of
    the summed *absolute* profits of all symbols (percent; the shares add to
    100 when any symbol made or lost money, else all 0); ``win_rate``: percent of
    the symbol's trades with P&L > 0 (0 with no trades, like ``summary``).

    >>> t = pd.DataFrame({"PnL": [30.0, -10.0]})
    >>> [row["percentage"] for row in symbol_stats({"A": t, "B": t.iloc[:1]})]
    [40.0, 60.0]
    """
    rows = []
    for symbol, trades in per_symbol.items():
        pnl = trades["PnL"].to_numpy(dtype=float)
        rows.append(
            {
                "symbol": symbol,
                "trades": int(pnl.size),
                "profit": float(pnl.sum()),
                "win_rate": float((pnl > 0).mean() * 100) if pnl.size else 0.0,
            }
        )
    total = sum(abs(row["profit"]) for row in rows)
    for row in rows:
        row["percentage"] = abs(row["profit"]) / total * 100 if total > 0 else 0.0
    return rows


def trade_records(
    trades: pd.DataFrame,
    symbol: str,
    *,
    initial_capital: float | None = None,
    daily: bool | None = None,
) -> list[dict]:
    """SPEC ``Trade`` records, in the frame's (closing) order.

    ``action``: ``"buy"`` for a long, ``"short"`` for a short; ``quantity`` and
    ``size``: absolute units; ``profit``/``pnl``: money net of commission;
    ``return_pct``: percent; ``commission``: money paid on entry and exit;
    ``date``/``timestamp``: the exit time. ``balance`` is the realized account
    balance after this exit, ``initial_capital`` plus the P&L of this and all
    earlier closed trades (None when ``initial_capital`` is not given); with one
    position at a time it equals equity right after the exit fill.
    A ``Symbol`` column, when present, overrides ``symbol`` per row.
    ``daily`` forces date-only stamps (True) or full UTC stamps (False);
    None decides from the stamps themselves.

    >>> t = pd.DataFrame({"Size": [-2], "EntryPrice": [10.0], "ExitPrice": [9.0],
    ...     "PnL": [2.0], "ReturnPct": [0.1], "Commission": [0.0],
    ...     "EntryTime": [pd.Timestamp("2024-01-02")], "ExitTime": [pd.Timestamp("2024-01-03")]})
    >>> trade_records(t, "X")[0]["action"], trade_records(t, "X", initial_capital=100)[0]["balance"]
    ('short', 102.0)
    """
    entry, exit_ = pd.Index(trades["EntryTime"]), pd.Index(trades["ExitTime"])
    if daily is None:
        daily = _is_daily(entry.append(exit_))
    entry_iso, exit_iso = _iso(entry, daily), _iso(exit_, daily)

    def column(name: str) -> np.ndarray:
        return pd.to_numeric(trades[name], errors="coerce").to_numpy(dtype=float)

    size, pnl = column("Size"), column("PnL")
    entry_price, exit_price = column("EntryPrice"), column("ExitPrice")
    return_pct, commission = column("ReturnPct") * 100, column("Commission")
    balance = (
        initial_capital + np.cumsum(np.nan_to_num(pnl)) if initial_capital is not None else None
    )
    symbols = trades["Symbol"].tolist() if "Symbol" in trades.columns else [symbol] * len(trades)
    records = []
    for i in range(len(trades)):
        units, profit = _number(abs(size[i])), _number(pnl[i])
        records.append(
            {
                "entry_time": entry_iso[i],
                "exit_time": exit_iso[i],
                "date": exit_iso[i],
                "timestamp": exit_iso[i],
                "symbol": symbols[i],
                "action": "buy" if size[i] > 0 else "short",
                "entry_price": _number(entry_price[i]),
                "exit_price": _number(exit_price[i]),
                "quantity": units,
                "size": units,
                "profit": profit,
                "pnl": profit,
                "return_pct": _number(return_pct[i]),
                "commission": _number(commission[i]),
                "balance": None if balance is None else _number(balance[i]),
            }
        )
    return records


def equity_points(equity_curve: pd.DataFrame | pd.Series) -> list[dict]:
    """One SPEC ``EquityPoint`` ``{"timestamp", "equity"}`` per bar (equity in money).

    >>> idx = pd.date_range("2024-01-02 14:30", periods=1, freq="h", tz="UTC")
    >>> equity_points(pd.Series([100.0], index=idx))
    [{'timestamp': '2024-01-02T14:30:00Z', 'equity': 100.0}]
    """
    equity = _equity_series(equity_curve)
    stamps = _iso(equity.index, _is_daily(equity.index))
    return [
        {"timestamp": t, "equity": _number(v)}
        for t, v in zip(stamps, equity.to_numpy(), strict=True)
    ]


def backtest_result(
    stats: pd.Series,
    *,
    symbol: str,
    strategy_name: str,
    trades_by_symbol: Mapping[str, pd.DataFrame] | None = None,
    initial_capital: float | None = None,
    timeframe: str | None = None,
    period: str | None = None,
    commission: float | None = None,
) -> dict:
    """The SPEC ``BacktestResult`` (and ``LatestBacktestResult`` metrics) as a JSON-safe dict.

    Every metric is the number in ``stats`` (``sharpe_ratio`` is ``Sharpe
    Ratio``), except ``max_drawdown``/``avg_drawdown`` which flip the sign to a
    positive percent and durations which become seconds; NaN/±inf become None.
    ``initial_capital`` defaults to the first equity value; ``commission`` is
    the commission *rate* echoed from the config (``commissions`` is the money
    paid). ``trades_by_symbol`` fills ``symbol_stats`` for multi-symbol runs
    (else the trades' ``Symbol`` column, else all trades under ``symbol``).
    ``summary.totalProfit`` is ``net_profit`` (final − initial equity, money);
    ``summary.averageTrade`` the mean trade P&L (money); both 0 with no trades
    where undefined. Survives ``json.dumps(..., allow_nan=False)``.
    """
    trades: pd.DataFrame = stats["_trades"]
    curve: pd.DataFrame = stats["_equity_curve"]
    daily = _is_daily(curve.index)
    capital = float(curve["Equity"].iloc[0]) if initial_capital is None else initial_capital
    pnl = trades["PnL"].to_numpy(dtype=float)
    n_trades = int(stats["# Trades"])
    winning = int((pnl > 0).sum())
    final = _number(stats["Equity Final [$]"])
    net_profit = _number(stats["Equity Final [$]"] - capital)
    win_rate = _number(stats["Win Rate [%]"])
    if trades_by_symbol is None:
        if "Symbol" in trades.columns:
            trades_by_symbol = {str(k): g for k, g in trades.groupby("Symbol", sort=False)}
        else:
            trades_by_symbol = {symbol: trades}
    start, end = _iso(pd.Index([stats["Start"], stats["End"]]), daily)

    def stat(key: str) -> float | None:
        return _number(stats.get(key))

    def positive(key: str) -> float | None:
        value = stat(key)
        return None if value is None else -value + 0.0  # + 0.0 turns -0.0 into 0.0

    return {
        "strategy": strategy_name,
        "strategy_name": strategy_name,
        "symbol": symbol,
        "timeframe": timeframe,
        "period": period,
        "commission": commission,
        "start_date": start,
        "end_date": end,
        "initial_capital": capital,
        "initial_balance": capital,
        "final_value": final,
        "final_equity": final,
        "net_profit": net_profit,
        "total_return": stat("Return [%]"),
        "total_return_pct": stat("Return [%]"),
        "sharpe_ratio": stat("Sharpe Ratio"),
        "max_drawdown": positive("Max. Drawdown [%]"),
        "win_rate": win_rate,
        "profit_factor": stat("Profit Factor"),
        "total_trades": n_trades,
        "winning_trades": winning,
        "losing_trades": n_trades - winning,
        "sortino_ratio": stat("Sortino Ratio"),
        "calmar_ratio": stat("Calmar Ratio"),
        "cagr": stat("CAGR [%]"),
        "annual_return": stat("Return (Ann.) [%]"),
        "volatility": stat("Volatility (Ann.) [%]"),
        "exposure_pct": stat("Exposure Time [%]"),
        "equity_peak": stat("Equity Peak [$]"),
        "commissions": stat("Commissions [$]") or 0.0,
        "buy_and_hold_return": stat("Buy & Hold Return [%]"),
        "alpha": stat("Alpha [%]"),
        "beta": stat("Beta"),
        "avg_drawdown": positive("Avg. Drawdown [%]"),
        "max_drawdown_duration": _seconds(stats["Max. Drawdown Duration"]),
        "avg_drawdown_duration": _seconds(stats["Avg. Drawdown Duration"]),
        "best_trade_pct": stat("Best Trade [%]"),
        "worst_trade_pct": stat("Worst Trade [%]"),
        "avg_trade_pct": stat("Avg. Trade [%]"),
        "max_holding_time": _seconds(stats["Max. Trade Duration"]),
        "avg_holding_time": _seconds(stats["Avg. Trade Duration"]),
        "expectancy": stat("Expectancy [%]"),
        "sqn": stat("SQN"),
        "kelly_criterion": stat("Kelly Criterion"),
        "summary": {
            "totalTrades": n_trades,
            "winRate": win_rate or 0.0,
            "totalProfit": net_profit or 0.0,
            "averageTrade": (_number(pnl.mean()) or 0.0) if n_trades else 0.0,
        },
        "trades": trade_records(trades, symbol, initial_capital=capital, daily=daily),
        "daily_stats": daily_stats(trades, curve),
        "symbol_stats": symbol_stats(trades_by_symbol),
        "equity_curve": equity_points(curve),
    }
