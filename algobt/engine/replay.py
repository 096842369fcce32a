"""The replay of a finished run as columnar chunks: bars, signals and running stats.

    >>> from pathlib import Path
    >>> from algobt.engine.replay import Chunk, replay
    >>> steps = list(replay({"symbol": "DEMO", "period": "3mo",
    ...                      "strategy_code": Path("examples/sma_cross.py").read_text()},
    ...                     chunk_bars=20))
    >>> [type(s).__name__ for s in steps[:4]]
    ['Loading', 'Running', 'Ready', 'Chunk']
    >>> chunks = [s for s in steps if isinstance(s, Chunk)]
    >>> chunks[0].start, chunks[0].stop, len(chunks[0].close)
    (0, 20, 20)

A run is computed first; the replay then reads the engine's own trades and
equity, so every number a live view shows is the result's number. What comes
out is plain data in the run's order — ``Loading`` → ``Running`` → ``Ready``
→ one ``Chunk`` per ``chunk_bars`` bars of each symbol → ``Finished`` — as
NumPy arrays, a chunk of bars at a time. This module knows nothing of message
shapes, JSON, pacing or threads: the transports (``algobt.engine.wire`` for the
WebSocket's messages, ``algobt.engine.events`` for pacing and asyncio, the
notebook widget) decide how and when a chunk is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from algobt.engine.config import RunConfig
from algobt.engine.data.frame import COLUMNS
from algobt.engine.run import RunOutcome, load_for, run_config
from algobt.errors import ConfigError

CHUNK_BARS = 500  # bars per chunk unless the caller asks otherwise


class Signals(NamedTuple):
    """Fills as columns, one row per fill, by bar; on a bar exits come before entries
    (a reversal closes, then opens). Parts of one fill (a trade split by a partial
    close) are merged back into one row: sizes and PnL added in trade order."""

    bar: np.ndarray  # int64: 0-based bar of the fill
    exit: np.ndarray  # bool: True for a close, False for an entry
    long: np.ndarray  # bool: the trade's direction (entry BUY / close of a LONG)
    price: np.ndarray  # float64: fill price
    size: np.ndarray  # float64: units filled, positive
    pnl: np.ndarray  # float64: the close's realized PnL; NaN on entries

    def between(self, start: int, stop: int) -> Signals:
        """The rows whose bar is in ``[start, stop)``."""
        lo, hi = np.searchsorted(self.bar, [start, stop], side="left")
        return Signals(*(col[lo:hi] for col in self))


class RunningStats(NamedTuple):
    """Stats after each bar of a chunk, from the trades closed up to that bar."""

    closed_trades: np.ndarray  # int64: trades closed so far
    winning_trades: np.ndarray  # int64: of those, with PnL > 0
    realized_pnl: np.ndarray  # float64: their PnL summed, in closing order
    win_rate_pct: np.ndarray  # float64: winning / closed * 100 (0 before the first close)
    unrealized_pnl: np.ndarray  # float64: equity - initial cash - realized PnL


@dataclass(frozen=True)
class Chunk:
    """Bars ``[start, stop)`` of one symbol's replay, with what happened on them.

    time: the bars' stamps (a slice of the data's index, time zone kept);
    open … volume: the data's prices; equity: the account after each bar (NaN where
    the engine has none); indicators: the config's indicator columns by label;
    signals: the fills on these bars; stats: the running stats after each bar.
    """

    symbol: str
    start: int
    stop: int
    total_bars: int  # bars of this symbol in the whole replay
    time: pd.Index
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    equity: np.ndarray
    indicators: dict[str, np.ndarray]
    signals: Signals
    stats: RunningStats

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Loading:
    """The run has started loading its bars."""

    config: RunConfig


@dataclass(frozen=True)
class Running:
    """The bars are loaded; the backtest runs now."""

    config: RunConfig
    total_bars: int


@dataclass(frozen=True)
class Ready:
    """The backtest has run; its chunks follow, symbol by symbol."""

    outcome: RunOutcome
    symbols: tuple[SymbolReplay, ...]

    @property
    def total_bars(self) -> int:
        return sum(s.n for s in self.symbols)


@dataclass(frozen=True)
class Finished:
    """Every chunk has been given; ``outcome`` is the run's result."""

    outcome: RunOutcome
    total_bars: int


def indicator_columns(spec: dict, data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Indicator values to show with the bars, from the config's ``indicators``.

    ``{"RSI": {"timeperiod": 14}, "EMA": {"periods": [9, 21]}}`` gives
    ``RSI_14``, ``EMA_9`` and ``EMA_21``; ``timeperiod``/``period`` name an
    indicator's first parameter, ``periods`` lists several values of it, other
    keys are its own parameter names. Multi-output indicators add the output
    name (``MACD_12_26_9_signal``, ``BBANDS_20_2_2_upper``).
    """
    from algobt.engine.indicators import INDICATOR_SPECS

    out: dict[str, np.ndarray] = {}
    for raw_name, raw_params in (spec or {}).items():
        field = f"indicators.{raw_name}"
        ind = INDICATOR_SPECS.get(str(raw_name).upper())
        if ind is None:
            raise ConfigError(
                f"unknown indicator {raw_name!r}; choose from {sorted(INDICATOR_SPECS)}",
                field=field,
            )
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):
            raise ConfigError(
                f'{field} must be an object of parameters, e.g. {{"timeperiod": 14}}', field=field
            )
        params = dict(raw_params)
        first = ind.params[0].name
        for alias in ("timeperiod", "period"):
            if alias in params:
                params[first] = params.pop(alias)
        periods = params.pop("periods", None)
        if periods is not None and (
            not isinstance(periods, list) or not periods or len(periods) > 20
        ):
            raise ConfigError(f"{field}.periods must be a list of 1 to 20 numbers", field=field)
        for values in [dict(params, **{first: p}) for p in periods] if periods else [params]:
            ind.lookback(**values)  # unknown parameter names fail here, by name
            full = {**ind.defaults(), **values}
            label = "_".join([ind.name, *(f"{full[p.name]:g}" for p in ind.params)])
            columns = [data[c.capitalize()].to_numpy(dtype=float) for c in ind.inputs]
            result = ind.func(*columns, **values)
            if len(ind.outputs) == 1:
                out[label] = np.asarray(result, dtype=float)
            else:
                for name, arr in zip(ind.outputs, result, strict=True):
                    out[f"{label}_{name}"] = np.asarray(arr, dtype=float)
    return out


class SymbolReplay:
    """One symbol of a finished run as columns, cut into chunks on demand."""

    def __init__(
        self,
        outcome: RunOutcome,
        symbol: str,
        data: pd.DataFrame,
        indicators: dict[str, np.ndarray] | None = None,
    ):
        result = outcome.per_symbol[symbol]
        self.symbol = symbol
        self.n = len(data)
        self.time = data.index
        self.prices = {c: data[c].to_numpy(dtype=float) for c in COLUMNS}
        self.indicators = dict(indicators or {})
        self.initial_cash = float(result.settings.get("cash", outcome.config.initial_capital))
        self.equity = result.equity_curve["Equity"].to_numpy(dtype=float)
        trades = result.trades
        self.signals = _signals(trades)
        pnl = trades["PnL"].to_numpy(dtype=float)
        exit_bars = trades["ExitBar"].to_numpy(dtype=np.int64)
        order = np.argsort(exit_bars, kind="stable")
        self._exit_bars = exit_bars[order]
        self._cum_pnl = np.cumsum(pnl[order])
        self._cum_wins = np.cumsum(pnl[order] > 0)
        # Where a position was open: each closed trade from its entry bar up to (not
        # including) its exit bar, and what was still open at the end from its entry.
        self._entry_bars = np.sort(trades["EntryBar"].to_numpy(dtype=np.int64))
        open_since = getattr(result, "open_since", None)
        self._open_since = self.n if open_since is None else int(open_since)

    def stats_after(self, bars: np.ndarray) -> RunningStats:
        """Running stats after each of ``bars`` (0-based), from the closed trades."""
        bars = np.asarray(bars, dtype=np.int64)
        closed = np.searchsorted(self._exit_bars, bars, side="right").astype(np.int64)
        has = closed > 0
        last = np.maximum(closed - 1, 0)
        wins = np.where(has, self._cum_wins[last] if len(self._cum_wins) else 0, 0)
        realized = np.where(has, self._cum_pnl[last] if len(self._cum_pnl) else 0.0, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            win_rate = np.where(has, wins / np.maximum(closed, 1) * 100, 0.0)
        entered = np.searchsorted(self._entry_bars, bars, side="right")
        holding = (entered > closed) | (bars >= self._open_since)
        # Flat: exactly 0, not the float noise of equity - cash - a sum of trade P&Ls.
        unrealized = np.where(holding, self.equity[bars] - self.initial_cash - realized, 0.0)
        return RunningStats(closed, wins.astype(np.int64), realized, win_rate, unrealized)

    def chunk(self, start: int, stop: int) -> Chunk:
        """Bars ``[start, stop)`` as a ``Chunk``."""
        p = self.prices
        return Chunk(
            symbol=self.symbol,
            start=start,
            stop=stop,
            total_bars=self.n,
            time=self.time[start:stop],
            open=p["Open"][start:stop],
            high=p["High"][start:stop],
            low=p["Low"][start:stop],
            close=p["Close"][start:stop],
            volume=p["Volume"][start:stop],
            equity=self.equity[start:stop],
            indicators={k: v[start:stop] for k, v in self.indicators.items()},
            signals=self.signals.between(start, stop),
            stats=self.stats_after(np.arange(start, stop)),
        )

    def chunks(self, chunk_bars: int = CHUNK_BARS) -> Iterator[Chunk]:
        """Every bar, ``chunk_bars`` at a time (the last chunk may be shorter)."""
        if chunk_bars < 1:
            raise ValueError("chunk_bars must be at least 1")
        for start in range(0, self.n, chunk_bars):
            yield self.chunk(start, min(start + chunk_bars, self.n))


def _signals(trades: pd.DataFrame) -> Signals:
    """The fills of ``trades`` as ``Signals`` columns."""
    rows: dict[tuple, list] = {}  # (bar, exit, long, price) -> [first seen, size, pnl]
    seen = 0
    for t in trades.itertuples(index=False):
        long = bool(t.Size > 0)
        size = abs(float(t.Size))
        for key, pnl in (
            ((int(t.EntryBar), False, long, float(t.EntryPrice)), np.nan),
            ((int(t.ExitBar), True, long, float(t.ExitPrice)), float(t.PnL)),
        ):
            row = rows.get(key)
            if row is None:
                rows[key] = [seen, size, pnl]
                seen += 1
            else:
                row[1] += size
                row[2] += pnl
    # By bar; on a bar exits first; otherwise in the order the trades list them.
    keys = sorted(rows, key=lambda k: (k[0], not k[1], rows[k][0]))
    return Signals(
        bar=np.array([k[0] for k in keys], dtype=np.int64),
        exit=np.array([k[1] for k in keys], dtype=bool),
        long=np.array([k[2] for k in keys], dtype=bool),
        price=np.array([k[3] for k in keys], dtype=float),
        size=np.array([rows[k][1] for k in keys], dtype=float),
        pnl=np.array([rows[k][2] for k in keys], dtype=float),
    )


def replay(
    config, *, data: dict[str, pd.DataFrame] | None = None, chunk_bars: int = CHUNK_BARS
) -> Iterator[Loading | Running | Ready | Chunk | Finished]:
    """Run ``config`` and yield its replay: ``Loading``, ``Running``, ``Ready``, the
    ``Chunk``s of each symbol in turn, ``Finished``.

    data: already loaded bars by symbol (skips loading). Errors (``AlgobtError`` for
    the user's mistakes) are raised where they happen; nothing is yielded after one.
    """
    cfg = RunConfig.from_dict(config)
    symbols = cfg.symbol_list
    yield Loading(cfg)
    frames = dict(data or {})
    for symbol in symbols:
        if symbol not in frames:
            frames[symbol] = load_for(cfg, symbol)
    yield Running(cfg, sum(len(frames[s]) for s in symbols))
    outcome = run_config(cfg, data=frames)
    ready = Ready(
        outcome,
        tuple(
            SymbolReplay(outcome, s, frames[s], indicator_columns(cfg.indicators, frames[s]))
            for s in symbols
        ),
    )
    yield ready
    for symbol in ready.symbols:
        yield from symbol.chunks(chunk_bars)
    yield Finished(outcome, ready.total_bars)


__all__ = [
    "replay",
    "SymbolReplay",
    "Chunk",
    "Signals",
    "RunningStats",
    "Loading",
    "Running",
    "Ready",
    "Finished",
    "indicator_columns",
    "CHUNK_BARS",
]
