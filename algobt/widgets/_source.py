"""A run (or a finished ``Result``) as replay steps cut into chunks of any size, on demand.

``algobt.engine.replay.replay`` cuts a run into fixed chunks; the live chart needs
the size to follow its speed (a few bars per message when it plays slowly, many
at full speed), and to change while it plays. ``steps`` yields the same kinds of
steps (``Loading``, ``Running``, ``Ready``, ``Chunk``\\ s, ``Finished``), the chunks
cut by ``SymbolReplay.chunk`` at the size ``chunk_size()`` says at that moment, so
``algobt.engine.wire.encode`` turns them into the stream's own messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from algobt.engine.config import RunConfig
from algobt.engine.replay import Finished, Loading, Ready, Running, SymbolReplay, replay
from algobt.engine.result import Result
from algobt.engine.run import RunOutcome
from algobt.errors import ConfigError


def steps(source, chunk_size: Callable[[], int], indicators: dict | None = None) -> Iterator:
    """Replay steps of ``source`` (a config dict, a ``RunConfig``, a ``Result`` or a
    ``RunOutcome``) with chunks of ``chunk_size()`` bars each; ``indicators`` for a Result."""
    if isinstance(source, Result):
        source = outcome_of(source, indicators)
    if isinstance(source, RunOutcome):
        yield from _finished_steps(source, chunk_size)
        return
    ready = None
    run = replay(source, chunk_bars=1)
    try:
        for step in run:
            yield step
            if isinstance(step, Ready):
                ready = step
                break
    finally:
        run.close()
    if ready is not None:
        yield from _chunks(ready, chunk_size)


def _chunks(ready: Ready, chunk_size: Callable[[], int]) -> Iterator:
    for symbol in ready.symbols:
        start = 0
        while start < symbol.n:
            stop = min(symbol.n, start + max(1, int(chunk_size())))
            yield symbol.chunk(start, stop)
            start = stop
    yield Finished(ready.outcome, ready.total_bars)


def outcome_of(result: Result, indicators: dict | None = None) -> RunOutcome:
    """A finished ``Result`` as the outcome a replay reads: its bars, trades and equity.

    The bars come from the run's strategy (``result._strategy``), so a result
    made by ``algobt.backtest`` or ``Backtest.run`` replays without loading anything.
    indicators: overlays to draw, as a stream config's ``indicators``.
    """
    strategy = result.get("_strategy") if "_strategy" in result.index else None
    data = getattr(getattr(strategy, "_data", None), "df", None)
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(
            "this Result carries no bars to replay (it was not made by Backtest.run); "
            "pass the run's config to LiveChart instead",
            field="result",
        )
    symbol = result.symbol or "DATA"
    cfg = RunConfig.from_dict(
        {
            "symbol": symbol,
            "strategy": type(strategy),
            "initial_capital": float(result.settings.get("cash", 10_000.0)),
            "indicators": indicators or {},
        }
    )
    return RunOutcome(
        cfg,
        result,
        {symbol: result},
        {symbol: data},
        result.strategy_name or type(strategy).__name__,
        "python",
    )


def _finished_steps(source, chunk_size: Callable[[], int]) -> Iterator:
    outcome = source
    cfg = outcome.config
    symbols = list(outcome.per_symbol)
    yield Loading(cfg)
    yield Running(cfg, sum(len(outcome.data[s]) for s in symbols))
    from algobt.engine.replay import indicator_columns

    ready = Ready(
        outcome,
        tuple(
            SymbolReplay(
                outcome, s, outcome.data[s], indicator_columns(cfg.indicators, outcome.data[s])
            )
            for s in symbols
        ),
    )
    yield ready
    yield from _chunks(ready, chunk_size)
