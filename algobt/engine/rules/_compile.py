"""Compiling a spec to signal arrays, vectorized, and running it on the fast path.

A condition at bar ``i`` reads values up to bar ``i`` only. Comparisons with NaN are
False (so are crossovers: ``a[i-1] < b[i-1] and a[i] > b[i]``, as
``algobt.lib.crossover``). Signals before the warm-up ends are dropped exactly where
the class API would not yet call ``next()``: before bar ``1 + the last first-value bar
of any indicator``, so the exported Python class trades identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from algobt.engine.data.frame import PRICE_COLUMNS
from algobt.engine.data.validate import validate_ohlcv
from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._spec import Condition, Operand, Spec, parse_spec
from algobt.engine.strategy import ALL_IN


@dataclass(eq=False)
class Signals:
    """What a spec says on each bar, plus the indicator lines it computed.

    entries / exits / short_entries / short_exits: bool arrays as long as the data.
    indicators: ``{"fast": Series, "macd.signal": Series, ...}`` for charts.
    start: the first bar on which a signal may act (after the indicators' warm-up).
    """

    entries: np.ndarray
    exits: np.ndarray
    short_entries: np.ndarray
    short_exits: np.ndarray
    indicators: dict
    start: int
    index: pd.Index

    def to_frame(self) -> pd.DataFrame:
        """The four signal columns and the indicator lines, one row per bar."""
        frame = pd.DataFrame(
            {
                "entries": self.entries,
                "exits": self.exits,
                "short_entries": self.short_entries,
                "short_exits": self.short_exits,
            },
            index=self.index,
        )
        for name, series in self.indicators.items():
            frame[name] = series.to_numpy()
        return frame


def price_series(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """The price fields a spec can use, as float arrays (volume NaN when absent)."""
    validate_ohlcv(data, strict=False)  # the checks of Backtest and from_signals
    o, h, lo, c = (data[col].to_numpy(dtype=float) for col in PRICE_COLUMNS)
    v = (
        data["Volume"].to_numpy(dtype=float)
        if "Volume" in data.columns
        else np.full(len(data), np.nan)
    )
    # Same operations, same order, as the exported class's init().
    return {
        "open": o,
        "high": h,
        "low": lo,
        "close": c,
        "volume": v,
        "hl2": (h + lo) / 2,
        "hlc3": (h + lo + c) / 3,
        "ohlc4": (o + h + lo + c) / 4,
    }


def compute_indicators(spec: Spec, prices: dict) -> dict[str, np.ndarray]:
    """Each indicator's lines as a 2-D array (outputs x bars), in dependency order."""
    lines: dict[str, np.ndarray] = {}
    for name, ind in spec.indicators.items():
        reg = INDICATOR_SPECS[ind.type]
        if ind.source is None:
            inputs = [prices[k] for k in reg.inputs]
        else:
            inputs = [_raw(ind.source, prices, lines)]
        value = reg.func(*inputs, **ind.registry_kwargs())
        lines[name] = np.atleast_2d(np.asarray(value, dtype=float))
    return lines


def _raw(op: Operand, prices, lines) -> np.ndarray:
    if op.kind == "price":
        return prices[op.name]
    return lines[op.name][op.output]


def compile_spec(spec, data: pd.DataFrame) -> Signals:
    """Entry and exit signals of a spec (dict, JSON text or ``Spec``) over ``data``.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"Open": [1.0, 2, 3, 2], "High": [1.0, 2, 3, 2],
    ...                    "Low": [1.0, 2, 3, 2], "Close": [1.0, 2, 3, 2]})
    >>> spec = {"name": "up", "version": 1, "indicators": {},
    ...         "entry": {"long": {"gt": ["close", {"ref": "close", "shift": 1}]}}}
    >>> compile_spec(spec, df).entries.tolist()
    [False, True, True, False]
    """
    spec = parse_spec(spec)
    prices = price_series(data)
    n = len(data)
    lines = compute_indicators(spec, prices)
    with np.errstate(invalid="ignore"):
        start = 1 + max((int(np.isnan(v).argmin(axis=-1).max()) for v in lines.values()), default=0)
        evaluate = _Evaluator(spec, prices, lines, n)
        signals = {}
        for key, group, side in (
            ("entries", spec.entry, "long"),
            ("exits", spec.exit, "long"),
            ("short_entries", spec.entry, "short"),
            ("short_exits", spec.exit, "short"),
        ):
            out = evaluate.condition(group[side]) if side in group else np.zeros(n, dtype=bool)
            out = np.array(out, dtype=bool)
            out[:start] = False
            signals[key] = out
    charts = {}
    for name, value in lines.items():
        outputs = spec.indicators[name].outputs
        for k, row in enumerate(value):
            label = name if len(outputs) == 1 else f"{name}.{outputs[k]}"
            charts[label] = pd.Series(row, index=data.index, name=label)
    return Signals(**signals, indicators=charts, start=min(start, n), index=data.index)


class _Evaluator:
    def __init__(self, spec: Spec, prices, lines, n):
        self.spec, self.prices, self.lines, self.n = spec, prices, lines, n

    def series(self, op: Operand) -> np.ndarray:
        if op.kind == "number":
            return np.full(self.n, op.value)
        if op.kind == "param":
            return np.full(self.n, float(self.spec.parameters[op.name]))
        return _shift(_raw(op, self.prices, self.lines), op.shift)

    def condition(self, cond: Condition) -> np.ndarray:
        op, args = cond.op, cond.args
        if op == "all":
            return np.logical_and.reduce([self.condition(c) for c in args])
        if op == "any":
            return np.logical_or.reduce([self.condition(c) for c in args])
        if op == "not":
            return ~self.condition(args[0])
        values = [self.series(a) for a in args]
        if op == "between":
            x, low, high = values
            return (low <= x) & (x <= high)
        a, b = values
        if op in ("crosses_above", "crosses_below"):
            if op == "crosses_below":
                a, b = b, a
            out = np.zeros(self.n, dtype=bool)
            out[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
            return out
        return {"gt": np.greater, "lt": np.less, "ge": np.greater_equal, "le": np.less_equal}[op](
            a, b
        )


def _shift(x: np.ndarray, bars: int) -> np.ndarray:
    if not bars:
        return x
    out = np.full(len(x), np.nan)
    if bars < len(x):
        out[bars:] = x[: len(x) - bars]
    return out


def run_spec(spec, data: pd.DataFrame, **settings):
    """Compile a spec and run it on the fast path (``from_signals``); returns a ``Result``.

    The spec's risk block becomes ``sl_pct``/``tp_pct`` (percent of the signal bar's
    close) and ``size`` (``size_pct / 100``; 100 = all in). settings: the broker
    settings of ``from_signals`` (cash, commission, spread, slippage, lot_size,
    trade_on_close, finalize_trades, symbol).

    >>> import algobt
    >>> spec = {"name": "EMA cross", "version": 1,
    ...         "indicators": {"fast": {"type": "EMA", "period": 9},
    ...                        "slow": {"type": "EMA", "period": 21}},
    ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
    >>> result = run_spec(spec, algobt.load("DEMO"), commission=0.001)
    >>> result["# Trades"] == len(result.trades) > 0
    True
    """
    from algobt.engine.fast import from_signals

    spec = parse_spec(spec)
    signals = compile_spec(spec, data)
    size = ALL_IN if spec.size_pct >= 100 else spec.size_pct / 100
    # A long-only spec passes no short arrays, so from_signals applies no short-side
    # limits (a take-profit of 100 % or more is fine for longs).
    shorts = "short" in spec.entry
    return from_signals(
        data,
        signals.entries,
        signals.exits,
        short_entries=signals.short_entries if shorts else None,
        short_exits=signals.short_exits if shorts else None,
        sl_pct=spec.stop_loss_pct,
        tp_pct=spec.take_profit_pct,
        size=size,
        **settings,
    )
