"""Performance statistics of a finished run, equal to backtesting.py's.

:func:`compute_stats` turns a run's closed trades, its per-bar equity and the
market data into a ``pd.Series`` with exactly the keys, order and values of
backtesting.py 0.6.6's ``Backtest.run()`` statistics, so a strategy ported from
backtesting.py reports the same numbers here. ``docs/stats.md`` defines every
key with its unit.

One direction, three modules: the numba kernels are in ``metrics_nb``; this
module does the statistics; ``report`` turns them into the JSON records of the
API. The report's names are importable from here too, as they always were.
"""

from __future__ import annotations

import datetime
import functools
import threading
from typing import Any

import numpy as np
import pandas as pd

from algobt.engine.metrics_nb import (
    day_ends_nb,
    drawdown_episodes_nb,
    equity_curve_nb,
    exposed_bars_nb,
)
from algobt.engine.report import (
    backtest_result,
    daily_stats,
    equity_points,
    symbol_stats,
    trade_records,
)
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
    count = np.float64(at.size if at is not None else rows)
    if np.abs(ticks).sum(dtype=np.float64) < _EXACT_INTEGERS:
        # Every partial sum is an integer below 2**53, so exact in float64 in any
        # order: the column's float sum is the integer sum, without the column.
        mean = np.float64(int(ticks.sum())) / count
    else:
        if at is not None:
            full = np.zeros(rows, dtype=np.int64)
            full[at] = ticks
            ticks = full
        mean = ticks.sum(dtype=np.float64) / count
    return pd.Timedelta(np.int64(mean).astype(f"m8[{unit}]"))


_EXACT_INTEGERS = np.float64(2**53)


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
        mean = _mean(flat)
        return flat, mean, _max(flat), mean
    depth = np.full(n, np.nan)
    depth[end] = peak
    depth_mean = _mean(depth)
    if isinstance(index, pd.DatetimeIndex) and not index.hasnans:
        # Stamp differences in the index's own ticks: what ``index[end] - index[start]``
        # gives, without a TimedeltaIndex.
        stamps, unit = index.asi8, index.unit
        ticks = stamps[end] - stamps[start]
        duration = np.full(n, np.timedelta64("NaT"), dtype=f"m8[{unit}]")
        duration[end] = ticks.view(f"m8[{unit}]")
        longest, average = _timedelta_max(ticks, unit), _timedelta_mean(ticks, unit, n, end)
        return duration, depth_mean, longest, average
    lengths = index.take(end) - index.take(start)
    if isinstance(lengths, pd.TimedeltaIndex):
        duration = np.full(n, np.timedelta64("NaT"), dtype=lengths.dtype)
        duration[end] = lengths.to_numpy()
        column = pd.Series(duration)
        return duration, depth_mean, column.max(), column.mean()
    duration = np.full(n, np.nan)
    duration[end] = np.asarray(lengths)
    return duration, depth_mean, _max(duration), _mean(duration)


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


def _day_returns(
    equity: np.ndarray, index: pd.DatetimeIndex, rule: str, day_ends: Any, has_nan: Any = None
) -> Any:
    """Returns (fractions) of the equity at the last bar of each calendar day (``rule``
    "D"; of each week, month or year for coarser rules), days without bars skipped:
    ``equity.resample(rule).last().dropna().pct_change().dropna()``. ``day_ends``:
    the last bar of each day (see ``_day_runs``), for the daily rule; ``has_nan``:
    whether the equity holds a NaN (None: look)."""
    if has_nan is None:
        has_nan = bool(np.isnan(equity).any())
    if rule != "D" or day_ends is None or has_nan:
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
    local = index if index.tz is None or _is_utc(index.tz) else index.tz_localize(None)
    return day_ends_nb(local.asi8, per_day)


def _is_utc(tz: Any) -> bool:
    """Whether ``tz`` is UTC itself (its wall clock is the stamps' own ticks)."""
    return tz is datetime.UTC or str(tz) == "UTC" or getattr(tz, "key", None) == "UTC"


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


_SCRATCH = threading.local()


def _scratch_block(rows: int, columns: int) -> np.ndarray:
    """A (rows, columns) float64 block of this thread's scratch memory, reused from
    one run to the next: mapping a fresh bar-sized block costs more than the
    arithmetic done in it. Its contents are the caller's until the next call."""
    size = rows * columns
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size < size:
        buffer = _SCRATCH.buffer = np.empty(size)
    return buffer[:size].reshape(rows, columns)


def _beta(moves: np.ndarray) -> Any:
    """The equity's beta to the market from a (2, n - 1) block of bar-over-bar ratios
    (equity, close), overwritten: ``cov(log equity returns, log market returns)``'s
    off-diagonal over the market's variance, NaN for fewer than two returns.

    The steps are ``np.cov``'s own (row means by ``np.average``, centring in place,
    the product of the block with its transpose, ``1 / (n - 1)``), run on the block
    as it is rather than on a stacked copy of two arrays, so the figure has the same
    bits as ``np.cov(x, y)``'s.
    """
    if moves.shape[1] <= 1:
        return np.nan
    np.log(moves, out=moves)
    avg = np.average(moves, axis=1)
    moves -= avg[:, None]
    cov = np.dot(moves, moves.T.conj())
    cov *= np.true_divide(1, moves.shape[1] - 1)
    return _ratio(cov[0, 1], cov[1, 1])


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
    close = ohlc["Close"].to_numpy(dtype=float)
    # One pass gives the equity curve's block, the drawdowns and the bar-over-bar
    # ratios the beta needs (their logs taken in place by numpy, as before).
    n = len(index)
    curve, moves = np.empty((2, n)), _scratch_block(2, n - 1)
    max_dd, has_nan = equity_curve_nb(equity, np.ascontiguousarray(close), curve, moves)
    drawdown = curve[1]
    dd_duration, dd_depth_mean, dd_duration_max, dd_duration_mean = _drawdowns(drawdown, index)
    equity_curve = pd.DataFrame(curve.T, index=index, columns=["Equity", "DrawdownPct"], copy=False)
    equity_curve["DrawdownDuration"] = dd_duration

    period = _bar_period(index)
    pnl = _floats(trades["PnL"])
    returns = _floats(trades["ReturnPct"])
    n_trades = len(trades)
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
        day_returns = _day_returns(equity, index, rule, day_ends, has_nan)
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
    max_dd = np.nan_to_num(max_dd)  # a fraction, >= 0
    s["Calmar Ratio"] = _ratio(annual_return, max_dd or np.nan)

    beta = _beta(moves)
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
