"""The stream's messages: the replay's chunks in the shapes of ``docs/websocket.md``.

    >>> from pathlib import Path
    >>> from algobt.engine.wire import messages
    >>> msgs = list(messages({"symbol": "DEMO", "period": "3mo",
    ...                       "strategy_code": Path("examples/sma_cross.py").read_text()}))
    >>> [m["type"] for m in msgs[:5]]
    ['metadata', 'metadata', 'stats', 'metadata', 'candle']
    >>> msgs[-1]["type"]
    'complete'

Order: ``metadata(loading_data)`` → ``metadata(running_backtest)`` → ``stats``
(initial, one per symbol) → ``metadata(streaming_visualization)`` → per bar a
``candle``, then that bar's ``signal``s, and ``stats`` every 50 bars and after
the last → ``complete`` — or ``error``. With ``batch`` the candles come as
``{"type": "candles", "bars": [...]}`` of ``batch_size`` bars, each followed by
its signals and one ``stats``.

One encoder for every transport (the WebSocket, the notebook widget): it lives
beside the engine, not in the server, so the widget can use it without Tornado.
It turns ``algobt.engine.replay`` steps into dicts of plain Python values —
NaN and ±inf become ``null`` (a zero volume for volume) — and does nothing
else: no JSON text, no pacing, no threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from algobt.engine.replay import (
    CHUNK_BARS,
    Chunk,
    Finished,
    Loading,
    Ready,
    Running,
    SymbolReplay,
    replay,
)
from algobt.engine.report import is_daily, iso_stamps
from algobt.errors import AlgobtError

STATS_EVERY = 50  # bars between two ``stats`` messages of a bar-by-bar stream
BATCH_SIZE = 500  # bars per ``candles`` message unless the stream asks otherwise

# What the metrics of a ``complete`` message leave out of the full result.
_NOT_METRICS = ("trades", "equity_curve", "daily_stats", "symbol_stats", "per_symbol", "alerts")


def messages(
    config,
    *,
    data: dict[str, pd.DataFrame] | None = None,
    batch: bool = False,
    batch_size: int = BATCH_SIZE,
) -> Iterator[dict]:
    """Run ``config`` and yield its messages, as fast as they are read.

    data: already loaded bars by symbol. batch: candles in groups of ``batch_size``.
    Errors end the stream with one ``error`` message instead of raising.
    """
    try:
        steps = replay(config, data=data, chunk_bars=batch_size if batch else CHUNK_BARS)
        yield from encode(steps, batch=batch)
    except AlgobtError as exc:
        yield error_message(exc)
    except Exception as exc:  # a bug of ours still ends the stream with a message
        yield {
            "type": "error",
            "message": f"internal error: {type(exc).__name__}: {exc}",
            "code": "internal_error",
            "field": None,
        }


def error_message(exc: AlgobtError) -> dict:
    """The ``error`` message of one of our errors (what went wrong, which field)."""
    return {"type": "error", "message": exc.message, "code": exc.code, "field": exc.field}


def encode(steps: Iterable, *, batch: bool = False) -> Iterator[dict]:
    """Messages of replay ``steps`` (``algobt.engine.replay.replay``), in order.

    batch: each chunk becomes one ``candles`` message; otherwise one ``candle`` per
    bar. Exceptions raised by ``steps`` pass through.
    """
    base: dict = {}
    symbols: dict[str, _SymbolEncoder] = {}
    for step in steps:
        if isinstance(step, Chunk):
            yield from symbols[step.symbol].chunk(step, batch=batch)
        elif isinstance(step, Loading):
            cfg = step.config
            base = {
                "symbol": ",".join(cfg.symbol_list),
                "period": cfg.period,
                "interval": cfg.interval,
            }
            yield _metadata(base, "loading_data", None)
        elif isinstance(step, Running):
            yield _metadata(base, "running_backtest", step.total_bars)
        elif isinstance(step, Ready):
            for s in step.symbols:
                symbols[s.symbol] = _SymbolEncoder(s)
                yield symbols[s.symbol].initial_stats()
            outcome = step.outcome
            yield {
                **_metadata(base, "streaming_visualization", step.total_bars),
                "total_trades": int(outcome.result["# Trades"]),
                "strategy": outcome.strategy_name,
                "kind": outcome.kind,
                "indicators": sorted(step.symbols[0].indicators),
            }
        elif isinstance(step, Finished):
            yield complete_message(step)
        else:
            raise TypeError(f"not a replay step: {type(step).__name__}")


def complete_message(step: Finished) -> dict:
    """``complete``: the bars replayed, the headline metrics and the full result."""
    result = step.outcome.to_dict()
    metrics = {k: v for k, v in result.items() if k not in _NOT_METRICS}
    return {"type": "complete", "total_bars": step.total_bars, "metrics": metrics, "result": result}


def _metadata(base: dict, status: str, total_bars: int | None) -> dict:
    return {
        "type": "metadata",
        **base,
        "status": status,
        "total_bars": total_bars,
        "total_trades": None,
    }


def _or_none(values: np.ndarray) -> list:
    """Python floats, with None where a value is NaN or ±inf."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


class _SymbolEncoder:
    """Messages of one symbol's chunks; its stamps are written once, for all of them."""

    def __init__(self, source: SymbolReplay):
        self.symbol = source.symbol
        self.n = source.n
        self.initial_cash = source.initial_cash
        # The stamp format depends on the whole index (dates for daily bars).
        self.stamps = iso_stamps(source.time, is_daily(source.time))

    def initial_stats(self) -> dict:
        return {
            "type": "stats",
            "symbol": self.symbol,
            "bar_number": 0,
            "total_trades": 0,
            "winning_trades": 0,
            "losing_trades": 0,
            "pnl": 0.0,
            "win_rate": 0.0,
            "equity": self.initial_cash,
            "unrealized_pnl": self.initial_cash - self.initial_cash - 0.0,
        }

    def chunk(self, chunk: Chunk, *, batch: bool) -> Iterator[dict]:
        candles = self._candles(chunk)
        signals = self._signals(chunk)
        if batch:
            yield {"type": "candles", "symbol": self.symbol, "bars": candles}
            yield from (msg for _, msg in signals)
            yield self._stats(chunk, len(chunk) - 1)
            return
        # Bar by bar: a candle, its signals, and stats every STATS_EVERY bars.
        k = 0
        for j, candle in enumerate(candles):
            yield candle
            while k < len(signals) and signals[k][0] == j:
                yield signals[k][1]
                k += 1
            bar = chunk.start + j
            if (bar + 1) % STATS_EVERY == 0 or bar + 1 == self.n:
                yield self._stats(chunk, j)

    def _candles(self, chunk: Chunk) -> list[dict]:
        start, stop, n = chunk.start, chunk.stop, self.n
        symbol = self.symbol
        volume = chunk.volume.tolist()
        columns = zip(
            range(start + 1, stop + 1),
            self.stamps[start:stop],
            chunk.open.tolist(),
            chunk.high.tolist(),
            chunk.low.tolist(),
            chunk.close.tolist(),
            [v if v == v else 0.0 for v in volume],
            _or_none(chunk.equity),
            strict=True,
        )
        candles = [
            {
                "type": "candle",
                "symbol": symbol,
                "bar_number": number,
                "progress": round(number / n * 100, 2),
                "timestamp": stamp,
                "open": o,
                "high": h,
                "low": low,
                "close": c,
                "volume": v,
                "equity": e,
            }
            for number, stamp, o, h, low, c, v, e in columns
        ]
        if chunk.indicators:
            names = list(chunk.indicators)
            values = [_or_none(chunk.indicators[k]) for k in names]
            for j, candle in enumerate(candles):
                candle["indicators"] = {k: v[j] for k, v in zip(names, values, strict=True)}
        return candles

    def _signals(self, chunk: Chunk) -> list[tuple[int, dict]]:
        """(bar within the chunk, message) of each fill in the chunk."""
        s = chunk.signals
        out = []
        for bar, is_exit, long, price, size, pnl in zip(
            s.bar.tolist(),
            s.exit.tolist(),
            s.long.tolist(),
            s.price.tolist(),
            s.size.tolist(),
            s.pnl.tolist(),
            strict=True,
        ):
            head = {
                "type": "signal",
                "symbol": self.symbol,
                "timestamp": self.stamps[bar],
                "bar_number": bar + 1,
            }
            if is_exit:
                msg = {
                    **head,
                    "action": "EXIT",
                    "side": "CLOSE",
                    "position": "LONG" if long else "SHORT",
                    "price": price,
                    "size": size,
                    "pnl": pnl,
                }
            else:
                msg = {
                    **head,
                    "action": "ENTRY",
                    "side": "BUY" if long else "SELL",
                    "price": price,
                    "size": size,
                    "pnl": None,
                }
            out.append((bar - chunk.start, msg))
        return out

    def _stats(self, chunk: Chunk, j: int) -> dict:
        """``stats`` after the chunk's ``j``-th bar."""
        st = chunk.stats
        closed = int(st.closed_trades[j])
        wins = int(st.winning_trades[j])
        equity = float(chunk.equity[j])
        finite = bool(np.isfinite(equity))
        return {
            "type": "stats",
            "symbol": self.symbol,
            "bar_number": chunk.start + j + 1,
            "total_trades": closed,
            "winning_trades": wins,
            "losing_trades": closed - wins,
            "pnl": float(st.realized_pnl[j]),
            "win_rate": float(st.win_rate_pct[j]),
            "equity": equity if finite else None,
            "unrealized_pnl": float(st.unrealized_pnl[j]) if finite else None,
        }


__all__ = ["messages", "encode", "complete_message", "error_message", "STATS_EVERY", "BATCH_SIZE"]
