"""Indicator functions for strategies, TA-Lib compatible, backed by numba kernels.

Use them in a strategy's ``init()`` the backtesting.py way::

    self.sma = self.I(SMA, self.data.Close, 20)
    self.macd = self.I(MACD, self.data.Close)          # 3 lines: macd, signal, hist

Each function accepts anything ``np.asarray`` understands (a numpy array, a
list, backtesting.py's ``_Array``) or a pandas Series, and returns an output of
the same length:

* array-like in -> ``numpy.ndarray`` out (float64);
* Series in -> Series out, with the same index, named after the call,
  e.g. ``"SMA(20)"``;
* several outputs (MACD, BBANDS, STOCH) -> a named tuple of the above
  (``MACDResult(macd, signal, hist)``, ``BBandsResult(upper, middle, lower)``,
  ``StochResult(k, d)``), never a DataFrame, so ``macd, signal, hist =
  MACD(x)`` works whatever ``x`` is and backtesting.py's ``self.I`` stacks the
  lines. Series outputs are named ``"MACD(12,26,9).signal"`` and so on; use
  ``pd.concat(MACD(s), axis=1)`` for a DataFrame.

Defaults are TA-Lib's (C library 0.8; note BBANDS' period is 20 there, it
was 5 before 0.8). Warm-up bars are NaN at exactly TA-Lib's positions and
leading NaNs in the input are skipped; see :mod:`algobt.engine.indicators_nb`
and ``docs/indicators.md`` for the NaN rules: every indicator recovers after
a gap in the middle of a series, where TA-Lib's mostly stay NaN. A series
shorter than the warm-up gives all NaN, not an error.
Parameter ranges are TA-Lib's too, except that MACD refuses ``fast > slow``
(TA-Lib silently swaps them).

``INDICATORS`` maps upper-case names to these functions and
``INDICATOR_SPECS`` describes each one (inputs, parameters with defaults and
bounds, output names, warm-up) for the JSON rule specs, which refer to outputs
as ``macd.signal`` or ``bb.upper``.

>>> import pandas as pd
>>> s = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3))
>>> SMA(s, 2).tolist()
[nan, 1.5, 2.5]
>>> SMA(s, 2).name
'SMA(2)'
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from algobt.engine import indicators_nb as _nb
from algobt.errors import ConfigError, DataError

__all__ = [
    "SMA",
    "EMA",
    "WMA",
    "RSI",
    "MACD",
    "BBANDS",
    "ATR",
    "STOCH",
    "ROC",
    "MACDResult",
    "BBandsResult",
    "StochResult",
    "Param",
    "IndicatorSpec",
    "INDICATORS",
    "INDICATOR_SPECS",
]

# TA-Lib's own ceiling for every period; it also keeps numba's int64 safe.
MAX_PERIOD = 100_000
# TA-Lib accepts band multipliers in +-3e37.
MAX_NBDEV = 3e37


class MACDResult(NamedTuple):
    """MACD lines: ``macd`` (fast EMA - slow EMA), ``signal`` (its EMA), ``hist``."""

    macd: Any
    signal: Any
    hist: Any


class BBandsResult(NamedTuple):
    """Bollinger Bands: ``upper``, ``middle`` (the SMA) and ``lower``."""

    upper: Any
    middle: Any
    lower: Any


class StochResult(NamedTuple):
    """Slow stochastic: ``k`` (slow %K) and ``d`` (slow %D), both 0..100."""

    k: Any
    d: Any


# --------------------------------------------------------------------------
# input checking and output shaping
# --------------------------------------------------------------------------


def _prices(indicator: str, field: str, values) -> tuple[np.ndarray, pd.Index | None]:
    """``values`` as a contiguous float64 1-D array, plus its index if it was a Series."""
    index = values.index if isinstance(values, pd.Series) else None
    try:
        if index is not None:
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"{indicator}: {field} must be numeric prices; could not read "
            f"{type(values).__name__} as floats ({exc}). Pass a column such as data.Close.",
            field=field,
        ) from exc
    if arr.ndim != 1:
        raise DataError(
            f"{indicator}: {field} must be a 1-D series of prices, got shape {arr.shape}. "
            "Pass one column, such as data.Close, not a whole table or a single number.",
            field=field,
        )
    return np.ascontiguousarray(arr), index


def _hlc(indicator: str, high, low, close):
    """High, low, close as equal-length arrays, plus the index of any Series among them."""
    arrays, index, index_field = [], None, None
    for field, values in (("high", high), ("low", low), ("close", close)):
        arr, idx = _prices(indicator, field, values)
        arrays.append(arr)
        if idx is not None:
            if index is None:
                index, index_field = idx, field
            elif not idx.equals(index):
                raise DataError(
                    f"{indicator}: {index_field} and {field} have different indexes; "
                    "take them from the same DataFrame or align them first.",
                    field=field,
                )
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        h, lo, c = (len(a) for a in arrays)
        raise DataError(
            f"{indicator}: high, low and close must have the same length, got {h}, {lo} "
            f"and {c}; take them from the same DataFrame.",
            field="close",
        )
    return arrays[0], arrays[1], arrays[2], index


def _period(indicator: str, field: str, value, minimum: int) -> int:
    """A whole number of bars in ``[minimum, MAX_PERIOD]``; 10.0 is accepted as 10."""
    hint = (
        f"Pass a whole number of bars from {minimum} to {MAX_PERIOD}; a series shorter "
        "than the period is fine and just gives NaN."
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{indicator}: {field} must be a whole number of bars, got {value!r}. {hint}",
            field=field,
        )
    as_float = float(value)
    if not as_float.is_integer():
        raise ConfigError(
            f"{indicator}: {field} must be a whole number of bars, got {value!r}. {hint}",
            field=field,
        )
    n = int(as_float)
    if n < minimum or n > MAX_PERIOD:
        raise ConfigError(
            f"{indicator}: {field} must be between {minimum} and {MAX_PERIOD} bars, "
            f"got {n}. {hint}",
            field=field,
        )
    return n


def _nbdev(indicator: str, field: str, value) -> float:
    """A finite band width in standard deviations."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if ok:
        value = float(value)
        ok = abs(value) <= MAX_NBDEV  # also False for NaN
    if not ok:
        raise ConfigError(
            f"{indicator}: {field} must be a finite number of standard deviations "
            f"(e.g. 2.0), got {value!r}.",
            field=field,
        )
    return value


def _out(values: np.ndarray, index: pd.Index | None, name: str):
    return values if index is None else pd.Series(values, index=index, name=name)


def _label(indicator: str, *params) -> str:
    return f"{indicator}({','.join(str(p) for p in params)})"


# --------------------------------------------------------------------------
# the indicators
# --------------------------------------------------------------------------


def SMA(close, n: int = 30):
    """Simple moving average of ``close`` over ``n`` bars, in price units.

    The plain mean: the most common trend filter. The first ``n - 1`` bars are
    NaN. A NaN in the input blanks the ``n`` windows that hold it, then the
    SMA is back (TA-Lib's stays NaN to the end). ``n`` >= 1.

    >>> SMA([1.0, 2.0, 3.0, 4.0], 2)
    array([nan, 1.5, 2.5, 3.5])
    """
    x, index = _prices("SMA", "close", close)
    n = _period("SMA", "n", n, 1)
    return _out(_nb.sma_nb(x, n), index, _label("SMA", n))


def EMA(close, n: int = 30):
    """Exponential moving average of ``close`` (alpha = 2 / (n + 1)), in price units.

    Reacts faster than the SMA of the same period. Seeded with the SMA of the
    first ``n`` bars like TA-Lib, so the first ``n - 1`` bars are NaN. After a
    NaN in the input it is seeded again from the next ``n`` bars (TA-Lib's stays
    NaN). ``n`` >= 1.

    >>> EMA([1.0, 2.0, 3.0, 4.0], 3)
    array([nan, nan,  2.,  3.])
    """
    x, index = _prices("EMA", "close", close)
    n = _period("EMA", "n", n, 1)
    return _out(_nb.ema_nb(x, n), index, _label("EMA", n))


def WMA(close, n: int = 30):
    """Linearly weighted moving average of ``close`` (weights 1..n, newest heaviest).

    In price units; the first ``n - 1`` bars are NaN. A NaN in the input blanks
    the ``n`` windows that hold it (TA-Lib's stays NaN long after). ``n`` >= 1.

    >>> WMA([1.0, 2.0, 3.0], 2)
    array([       nan, 1.66666667, 2.66666667])
    """
    x, index = _prices("WMA", "close", close)
    n = _period("WMA", "n", n, 1)
    return _out(_nb.wma_nb(x, n), index, _label("WMA", n))


def RSI(close, n: int = 14):
    """Wilder's Relative Strength Index of ``close``, 0..100.

    Momentum: the share of recent movement that was upward, smoothed Wilder's
    way. The first ``n`` bars are NaN; a flat window reads 0 (TA-Lib's
    convention). After a NaN in the input it starts afresh: NaN for ``n`` more
    bars, then back (TA-Lib's reads 0.0 from the gap to the end). ``n`` >= 2.

    >>> RSI([1.0, 2.0, 3.0, 2.0, 3.0], 2)
    array([ nan,  nan, 100.,  50.,  75.])
    """
    x, index = _prices("RSI", "close", close)
    n = _period("RSI", "n", n, 2)
    return _out(_nb.rsi_nb(x, n), index, _label("RSI", n))


def MACD(close, fast: int = 12, slow: int = 26, signal: int = 9) -> MACDResult:
    """MACD of ``close``: ``MACDResult(macd, signal, hist)``, all in price units.

    ``macd`` = EMA(fast) - EMA(slow), ``signal`` = EMA(macd, signal),
    ``hist`` = macd - signal. All three start on bar ``slow + signal - 2``
    (TA-Lib's alignment). After a NaN in the input all three start afresh,
    NaN for ``slow + signal - 2`` more bars (TA-Lib's stay NaN). Needs
    2 <= fast <= slow and signal >= 1.

    >>> MACD([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, 2).macd
    array([nan, nan, nan, 0.5, 0.5, 0.5])
    """
    x, index = _prices("MACD", "close", close)
    fast = _period("MACD", "fast", fast, 2)
    slow = _period("MACD", "slow", slow, 2)
    signal = _period("MACD", "signal", signal, 1)
    if fast > slow:
        # TA-Lib silently swaps them; a swapped optimisation grid is more
        # likely a mistake than a wish.
        raise ConfigError(
            f"MACD: fast ({fast}) must not exceed slow ({slow}); swap them, or add a "
            "constraint fast <= slow when optimising.",
            field="fast",
        )
    label = _label("MACD", fast, slow, signal)
    lines = _nb.macd_nb(x, fast, slow, signal)
    return MACDResult(
        *(_out(v, index, f"{label}.{f}") for v, f in zip(lines, MACDResult._fields, strict=True))
    )


def BBANDS(close, n: int = 20, nbdev_up: float = 2.0, nbdev_dn: float = 2.0) -> BBandsResult:
    """Bollinger Bands of ``close``: ``BBandsResult(upper, middle, lower)``, price units.

    ``middle`` is the n-bar SMA; the bands are ``nbdev_up`` / ``nbdev_dn``
    population standard deviations above / below it. The first ``n - 1`` bars
    are NaN. A NaN in the input blanks the ``n`` windows that hold it (TA-Lib's
    bands stay NaN to the end). ``n`` >= 2.

    >>> BBANDS([1.0, 3.0, 1.0, 3.0], 2).upper
    array([nan,  4.,  4.,  4.])
    """
    x, index = _prices("BBANDS", "close", close)
    n = _period("BBANDS", "n", n, 2)
    nbdev_up = _nbdev("BBANDS", "nbdev_up", nbdev_up)
    nbdev_dn = _nbdev("BBANDS", "nbdev_dn", nbdev_dn)
    label = _label("BBANDS", n, nbdev_up, nbdev_dn)
    bands = _nb.bbands_nb(x, n, nbdev_up, nbdev_dn)
    return BBandsResult(
        *(_out(v, index, f"{label}.{f}") for v, f in zip(bands, BBandsResult._fields, strict=True))
    )


def ATR(high, low, close, n: int = 14):
    """Wilder's Average True Range, in price units: typical bar size incl. gaps.

    Used for volatility-scaled stops and position sizes. The first ``n`` bars
    are NaN. A true range that needs a NaN price is NaN, and the ATR starts
    afresh on the true ranges after it (TA-Lib's stays NaN, and fills a NaN
    previous close with high - low). ``n`` >= 1 (1 gives the raw true range).

    >>> ATR([2.0, 3.0, 4.0, 6.0], [1.0, 2.0, 3.0, 5.0], [1.5, 2.5, 3.5, 5.5], 2)
    array([nan, nan, 1.5, 2. ])
    """
    h, lo, c, index = _hlc("ATR", high, low, close)
    n = _period("ATR", "n", n, 1)
    return _out(_nb.atr_nb(h, lo, c, n), index, _label("ATR", n))


def STOCH(
    high, low, close, fastk_period: int = 5, slowk_period: int = 3, slowd_period: int = 3
) -> StochResult:
    """Slow stochastic oscillator: ``StochResult(k, d)``, both 0..100.

    Where the close sits in the recent high-low range (fast %K over
    ``fastk_period`` bars), smoothed by an SMA over ``slowk_period`` (slow %K)
    and again over ``slowd_period`` (slow %D): TA-Lib's STOCH with SMA
    smoothing. Both start on bar ``fastk_period + slowk_period + slowd_period
    - 3``. A NaN price blanks only the windows that hold it (TA-Lib's smoothed
    lines stay NaN, and it reads through some NaN highs/lows). All periods >= 1.

    >>> STOCH([3.0, 4.0, 5.0], [1.0, 2.0, 3.0], [2.5, 3.5, 4.5], 2, 1, 1).k.round(2).tolist()
    [nan, 83.33, 83.33]
    """
    h, lo, c, index = _hlc("STOCH", high, low, close)
    fastk_period = _period("STOCH", "fastk_period", fastk_period, 1)
    slowk_period = _period("STOCH", "slowk_period", slowk_period, 1)
    slowd_period = _period("STOCH", "slowd_period", slowd_period, 1)
    label = _label("STOCH", fastk_period, slowk_period, slowd_period)
    lines = _nb.stoch_nb(h, lo, c, fastk_period, slowk_period, slowd_period)
    return StochResult(
        *(_out(v, index, f"{label}.{f}") for v, f in zip(lines, StochResult._fields, strict=True))
    )


def ROC(close, n: int = 10):
    """Rate of change of ``close`` over ``n`` bars, in percent.

    ``(close / close n bars ago - 1) * 100``. The first ``n`` bars are NaN; a
    NaN price blanks the two bars that read it, today's and ``n`` bars later
    (as TA-Lib). ``n`` >= 1.

    >>> ROC([100.0, 110.0, 99.0], 1)
    array([ nan,  10., -10.])
    """
    x, index = _prices("ROC", "close", close)
    n = _period("ROC", "n", n, 1)
    return _out(_nb.roc_nb(x, n), index, _label("ROC", n))


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of an indicator: name, default, bounds and meaning."""

    name: str
    default: int | float
    minimum: int | float
    maximum: int | float
    kind: type
    description: str


@dataclass(frozen=True)
class IndicatorSpec:
    """What an indicator takes and gives, for rule specs, forms and plots.

    ``inputs`` are the price columns passed positionally (``close`` or
    ``high, low, close``); ``outputs`` name the returned lines in order (one
    name for single-output indicators); ``overlay`` says whether the lines
    live on the price scale (plot them over the candles).
    """

    name: str
    func: Callable
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    description: str
    overlay: bool
    warmup: Callable[..., int]

    def defaults(self) -> dict[str, int | float]:
        """Parameter defaults by name, e.g. ``{"n": 30}``."""
        return {p.name: p.default for p in self.params}

    def lookback(self, **params) -> int:
        """Number of leading NaN bars on gap-free data for these parameters.

        >>> INDICATOR_SPECS["MACD"].lookback()
        33
        """
        unknown = set(params) - {p.name for p in self.params}
        if unknown:
            raise ConfigError(
                f"{self.name}: unknown parameter(s) {sorted(unknown)}; "
                f"expected {[p.name for p in self.params]}.",
                field=sorted(unknown)[0],
            )
        return self.warmup(**{**self.defaults(), **params})


def _bars(name: str, default: int, minimum: int, description: str) -> Param:
    return Param(name, default, minimum, MAX_PERIOD, int, description)


def _devs(name: str, description: str) -> Param:
    return Param(name, 2.0, -MAX_NBDEV, MAX_NBDEV, float, description)


_CLOSE = ("close",)
_HLC = ("high", "low", "close")

INDICATOR_SPECS: dict[str, IndicatorSpec] = {
    spec.name: spec
    for spec in (
        IndicatorSpec(
            name="SMA",
            func=SMA,
            inputs=_CLOSE,
            params=(_bars("n", 30, 1, "bars averaged"),),
            outputs=("sma",),
            description="Simple moving average (price units).",
            overlay=True,
            warmup=lambda n: n - 1,
        ),
        IndicatorSpec(
            name="EMA",
            func=EMA,
            inputs=_CLOSE,
            params=(_bars("n", 30, 1, "bars; alpha = 2 / (n + 1)"),),
            outputs=("ema",),
            description="Exponential moving average, SMA-seeded (price units).",
            overlay=True,
            warmup=lambda n: n - 1,
        ),
        IndicatorSpec(
            name="WMA",
            func=WMA,
            inputs=_CLOSE,
            params=(_bars("n", 30, 1, "bars, weights 1..n"),),
            outputs=("wma",),
            description="Linearly weighted moving average (price units).",
            overlay=True,
            warmup=lambda n: n - 1,
        ),
        IndicatorSpec(
            name="RSI",
            func=RSI,
            inputs=_CLOSE,
            params=(_bars("n", 14, 2, "bars of Wilder smoothing"),),
            outputs=("rsi",),
            description="Wilder's Relative Strength Index (0..100).",
            overlay=False,
            warmup=lambda n: n,
        ),
        IndicatorSpec(
            name="MACD",
            func=MACD,
            inputs=_CLOSE,
            params=(
                _bars("fast", 12, 2, "fast EMA bars (<= slow)"),
                _bars("slow", 26, 2, "slow EMA bars"),
                _bars("signal", 9, 1, "signal-line EMA bars"),
            ),
            outputs=MACDResult._fields,
            description="Moving average convergence/divergence: macd, signal, hist (price units).",
            overlay=False,
            warmup=lambda fast, slow, signal: slow + signal - 2,
        ),
        IndicatorSpec(
            name="BBANDS",
            func=BBANDS,
            inputs=_CLOSE,
            params=(
                _bars("n", 20, 2, "bars in the SMA and the deviation"),
                _devs("nbdev_up", "upper band, population std devs above the middle"),
                _devs("nbdev_dn", "lower band, population std devs below the middle"),
            ),
            outputs=BBandsResult._fields,
            description="Bollinger Bands: upper, middle (SMA), lower (price units).",
            overlay=True,
            warmup=lambda n, nbdev_up, nbdev_dn: n - 1,
        ),
        IndicatorSpec(
            name="ATR",
            func=ATR,
            inputs=_HLC,
            params=(_bars("n", 14, 1, "bars of Wilder smoothing"),),
            outputs=("atr",),
            description="Wilder's average true range (price units).",
            overlay=False,
            warmup=lambda n: n,
        ),
        IndicatorSpec(
            name="STOCH",
            func=STOCH,
            inputs=_HLC,
            params=(
                _bars("fastk_period", 5, 1, "bars in the high-low range of fast %K"),
                _bars("slowk_period", 3, 1, "SMA bars smoothing fast %K into k"),
                _bars("slowd_period", 3, 1, "SMA bars smoothing k into d"),
            ),
            outputs=StochResult._fields,
            description="Slow stochastic oscillator: k, d (0..100).",
            overlay=False,
            warmup=lambda fastk_period, slowk_period, slowd_period: (
                fastk_period + slowk_period + slowd_period - 3
            ),
        ),
        IndicatorSpec(
            name="ROC",
            func=ROC,
            inputs=_CLOSE,
            params=(_bars("n", 10, 1, "bars back"),),
            outputs=("roc",),
            description="Rate of change (percent).",
            overlay=False,
            warmup=lambda n: n,
        ),
    )
}

INDICATORS: dict[str, Callable] = {name: spec.func for name, spec in INDICATOR_SPECS.items()}
