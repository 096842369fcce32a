"""The one event stream of a run: what the WebSocket sends and the notebook widget plays.

    >>> from algobt.engine.events import events
    >>> msgs = list(events({"symbol": "DEMO", "period": "3mo",
    ...                     "strategy_code": open("examples/sma_cross.py").read()}))
    >>> [m["type"] for m in msgs[:4]]                               # doctest: +SKIP
    ['metadata', 'metadata', 'stats', 'metadata']

Order (seed report §6.1 step 5): ``metadata(loading_data)`` →
``metadata(running_backtest)`` → ``stats`` (initial) →
``metadata(streaming_visualization)`` → per bar a ``candle`` then that bar's
``signal``s, and ``stats`` every 50 bars → ``complete`` — or ``error``.

The run is computed first; the replay then reads the engine's own trades and
equity, so every number in the stream is the result's number: nothing is
recomputed downstream. Each ENTRY/EXIT signal sits on the bar where its fill
happened, at the fill price. ``batch`` groups candles as
``{"type": "candles", "bars": [...]}`` (then that group's signals, then one
``stats``); ``speed`` paces the replay in bars per second; ``cancel`` (a
``threading.Event``) stops it between bars without a ``complete``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pandas as pd

from algobt.engine.config import RunConfig
from algobt.engine.data.frame import COLUMNS
from algobt.engine.report import is_daily, iso_stamps, json_number
from algobt.engine.run import RunOutcome, load_for, run_config
from algobt.errors import AlgobtError, ConfigError

STATS_EVERY = 50  # bars between two ``stats`` messages (report §6.1)


def indicator_columns(spec: dict, data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Indicator values to attach to candles, from the config's ``indicators``.

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


class _Replay:
    """Turns a finished run into the stream's messages, bar by bar."""

    def __init__(
        self,
        outcome: RunOutcome,
        symbol: str,
        data: pd.DataFrame,
        indicators: dict[str, np.ndarray],
    ):
        self.cfg = outcome.config
        self.symbol = symbol
        self.data = data
        self.result = outcome.per_symbol[symbol]
        self.indicators = indicators
        self.n = len(data)
        self.stamps = iso_stamps(data.index, is_daily(data.index))
        # Python floats once, so a candle is a few list look-ups, not pandas calls.
        self.ohlcv = [data[c].to_numpy(dtype=float).tolist() for c in COLUMNS]
        self.ind_lists = {
            k: np.where(np.isfinite(v), v, np.nan).tolist() for k, v in indicators.items()
        }
        trades = self.result.trades
        self.initial = float(self.result.settings.get("cash", self.cfg.initial_capital))
        self.equity = self.result.equity_curve["Equity"].to_numpy()
        self.signals = self._signals(trades)
        exit_bars = trades["ExitBar"].to_numpy(dtype=int)
        order = np.argsort(exit_bars, kind="stable")
        self.exit_bars = exit_bars[order]
        self.cum_pnl = np.cumsum(trades["PnL"].to_numpy(dtype=float)[order])
        self.cum_wins = np.cumsum(trades["PnL"].to_numpy(dtype=float)[order] > 0)

    def _signals(self, trades: pd.DataFrame) -> dict[int, list[dict]]:
        """ENTRY/EXIT signals by bar. Parts of one fill (a trade split by a partial
        close) are merged back into one signal."""
        by_bar: dict[int, dict[tuple, dict]] = {}
        for t in trades.itertuples(index=False):
            side = "BUY" if t.Size > 0 else "SELL"
            entry = by_bar.setdefault(int(t.EntryBar), {})
            key = ("ENTRY", side, float(t.EntryPrice))
            sig = entry.get(key)
            if sig is None:
                entry[key] = {
                    "type": "signal",
                    "symbol": self.symbol,
                    "timestamp": self.stamps[int(t.EntryBar)],
                    "bar_number": int(t.EntryBar) + 1,
                    "action": "ENTRY",
                    "side": side,
                    "price": float(t.EntryPrice),
                    "size": abs(float(t.Size)),
                    "pnl": None,
                }
            else:
                sig["size"] += abs(float(t.Size))
            exit_ = by_bar.setdefault(int(t.ExitBar), {})
            key = ("EXIT", side, float(t.ExitPrice))
            sig = exit_.get(key)
            if sig is None:
                exit_[key] = {
                    "type": "signal",
                    "symbol": self.symbol,
                    "timestamp": self.stamps[int(t.ExitBar)],
                    "bar_number": int(t.ExitBar) + 1,
                    "action": "EXIT",
                    "side": "CLOSE",
                    "position": "LONG" if t.Size > 0 else "SHORT",
                    "price": float(t.ExitPrice),
                    "size": abs(float(t.Size)),
                    "pnl": float(t.PnL),
                }
            else:
                sig["size"] += abs(float(t.Size))
                sig["pnl"] += float(t.PnL)
        # Exits before entries on a bar: a reversal closes, then opens.
        return {
            bar: sorted(sigs.values(), key=lambda s: s["action"] != "EXIT")
            for bar, sigs in by_bar.items()
        }

    def stats(self, bar: int | None) -> dict:
        """Running stats after ``bar`` (None: before the first bar)."""
        closed = 0 if bar is None else int(np.searchsorted(self.exit_bars, bar, side="right"))
        wins = int(self.cum_wins[closed - 1]) if closed else 0
        realized = float(self.cum_pnl[closed - 1]) if closed else 0.0
        equity = self.initial if bar is None else json_number(self.equity[bar])
        return {
            "type": "stats",
            "symbol": self.symbol,
            "bar_number": 0 if bar is None else bar + 1,
            "total_trades": closed,
            "winning_trades": wins,
            "losing_trades": closed - wins,
            "pnl": realized,
            "win_rate": wins / closed * 100 if closed else 0.0,
            "equity": equity,
            "unrealized_pnl": None if equity is None else equity - self.initial - realized,
        }

    def candle(self, i: int) -> dict:
        o, h, l, c, v = self.ohlcv
        volume = v[i]
        msg = {
            "type": "candle",
            "symbol": self.symbol,
            "bar_number": i + 1,
            "progress": round((i + 1) / self.n * 100, 2),
            "timestamp": self.stamps[i],
            "open": o[i],
            "high": h[i],
            "low": l[i],
            "close": c[i],
            "volume": volume if volume == volume else 0.0,
            "equity": json_number(self.equity[i]),
        }
        if self.ind_lists:
            msg["indicators"] = {
                k: (x if x == x else None)
                for k, x in ((k, v[i]) for k, v in self.ind_lists.items())
            }
        return msg


def events(
    config, *, cancel: threading.Event | None = None, data: dict[str, pd.DataFrame] | None = None
) -> Iterator[dict]:
    """Run ``config`` and yield its messages in the report's order.

    cancel: set it (from another thread) to stop between bars; the stream then
    ends with ``{"type": "cancelled"}`` and no ``complete``. A generator closed
    early stops the same way. Errors of ours end the stream with an ``error``.
    """
    cancel = cancel or threading.Event()
    try:
        cfg = RunConfig.from_dict(config)
        symbols = cfg.symbol_list
        base = {"symbol": ",".join(symbols), "period": cfg.period, "interval": cfg.interval}
        yield {
            "type": "metadata",
            **base,
            "status": "loading_data",
            "total_bars": None,
            "total_trades": None,
        }
        frames = dict(data or {})
        for symbol in symbols:
            if symbol not in frames:
                frames[symbol] = load_for(cfg, symbol)
        yield {
            "type": "metadata",
            **base,
            "status": "running_backtest",
            "total_bars": sum(len(frames[s]) for s in symbols),
            "total_trades": None,
        }
        outcome = run_config(cfg, data=frames)
        replays = [
            _Replay(outcome, s, frames[s], indicator_columns(cfg.indicators, frames[s]))
            for s in symbols
        ]
        total_bars = sum(r.n for r in replays)
        for replay in replays:
            yield replay.stats(None)
        yield {
            "type": "metadata",
            **base,
            "status": "streaming_visualization",
            "total_bars": total_bars,
            "total_trades": int(outcome.result["# Trades"]),
            "strategy": outcome.strategy_name,
            "kind": outcome.kind,
            "indicators": sorted(replays[0].indicators),
        }
        pace = 1.0 / cfg.speed if cfg.speed else 0.0
        started = time.monotonic()
        sent = 0
        for replay in replays:
            step = cfg.batch_size if cfg.batch else 1
            for lo in range(0, replay.n, step):
                if cancel.is_set():
                    yield {"type": "cancelled", "bar_number": lo}
                    return
                hi = min(lo + step, replay.n)
                if cfg.batch:
                    yield {
                        "type": "candles",
                        "symbol": replay.symbol,
                        "bars": [replay.candle(i) for i in range(lo, hi)],
                    }
                    for i in range(lo, hi):
                        yield from replay.signals.get(i, ())
                    yield replay.stats(hi - 1)
                else:
                    yield replay.candle(lo)
                    yield from replay.signals.get(lo, ())
                    if (lo + 1) % STATS_EVERY == 0 or lo + 1 == replay.n:
                        yield replay.stats(lo)
                sent += hi - lo
                if pace:
                    delay = started + sent * pace - time.monotonic()
                    if delay > 0 and cancel.wait(delay):
                        yield {"type": "cancelled", "bar_number": hi}
                        return
        result = outcome.to_dict()
        metrics = {
            k: v
            for k, v in result.items()
            if k
            not in ("trades", "equity_curve", "daily_stats", "symbol_stats", "per_symbol", "alerts")
        }
        yield {"type": "complete", "total_bars": total_bars, "metrics": metrics, "result": result}
    except AlgobtError as exc:
        yield {"type": "error", "message": exc.message, "code": exc.code, "field": exc.field}
    except Exception as exc:  # a bug of ours still ends the stream with a message
        yield {
            "type": "error",
            "message": f"internal error: {type(exc).__name__}: {exc}",
            "code": "internal_error",
            "field": None,
        }


async def aevents(
    config, *, cancel: threading.Event | None = None, data: dict[str, pd.DataFrame] | None = None
) -> AsyncIterator[dict]:
    """``events`` for asyncio: the run happens in a worker thread, the loop stays free.

    Messages are handed over in small chunks on demand, so a slow reader slows
    the replay (no unbounded buffering); closing the async generator cancels the run.
    """
    cancel = cancel or threading.Event()
    async for msg in iterate_in_thread(events(config, cancel=cancel, data=data), cancel):
        yield msg


async def iterate_in_thread(
    stream: Iterator[dict], cancel: threading.Event | None = None, *, executor=None, most: int = 256
) -> AsyncIterator[dict]:
    """Drive a blocking iterator from asyncio: chunks of up to ``most`` messages (or what
    came within 50 ms) are pulled in ``executor`` threads only when the consumer asks for
    more; ``most=1`` hands each message over as soon as it exists (paced replays).
    On exit ``cancel`` is set and the iterator closed.
    """
    loop = asyncio.get_running_loop()
    try:
        while True:
            chunk = await loop.run_in_executor(executor, _take, stream, most, 0.05)
            if not chunk:
                return
            for msg in chunk:
                yield msg
    finally:
        if cancel is not None:
            cancel.set()
        close = getattr(stream, "close", None)
        if close is not None:
            await loop.run_in_executor(executor, close)


def _take(stream: Iterator[dict], most: int, seconds: float) -> list[dict]:
    """Up to ``most`` messages, or what came within ``seconds`` (at least one)."""
    chunk: list[dict] = []
    deadline = time.monotonic() + seconds
    for msg in stream:
        chunk.append(msg)
        if len(chunk) >= most or time.monotonic() >= deadline:
            break
    return chunk


__all__ = ["events", "aevents", "iterate_in_thread", "indicator_columns", "STATS_EVERY"]
