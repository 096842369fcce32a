"""The replay as columnar chunks (``algobt.engine.replay``), its encoder and its pacing."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import algobt.engine.replay as replay_module
from algobt.engine.config import RunConfig, StreamOptions
from algobt.engine.events import events, pace
from algobt.engine.replay import (
    Chunk,
    Finished,
    Loading,
    Ready,
    Running,
    Signals,
    indicator_columns,
    replay,
)
from algobt.engine.run import run_config
from algobt.engine.wire import encode, messages
from algobt.errors import ConfigError
from algobt.lib import EMA, RSI

# Partial closes and several entries on one bar: signals have parts to merge.
PARTIAL = """
from algobt import Strategy
from algobt.lib import SMA, crossover

class Partial(Strategy):
    def init(self):
        self.a = self.I(SMA, self.data.Close, 5)
        self.b = self.I(SMA, self.data.Close, 20)
    def next(self):
        if crossover(self.a, self.b):
            self.buy(size=10)
            self.buy(size=4)
        elif len(self.trades) and len(self.data) % 7 == 0:
            self.trades[0].close(0.5)
        elif crossover(self.b, self.a):
            self.position.close()
            self.sell(size=3)
"""
CONFIG = {
    "symbol": "DEMO",
    "period": "2y",
    "strategy_code": PARTIAL,
    "hedging": True,
    "indicators": {"RSI": {"timeperiod": 14}, "EMA": {"periods": [9, 21]}},
}
CHUNK = 64


@pytest.fixture(scope="module")
def steps():
    return list(replay(CONFIG, chunk_bars=CHUNK))


@pytest.fixture(scope="module")
def chunks(steps):
    return [s for s in steps if isinstance(s, Chunk)]


@pytest.fixture(scope="module")
def outcome(steps):
    return steps[-1].outcome


def test_steps_come_in_the_runs_order(steps):
    kinds = [type(s) for s in steps]
    assert kinds[:3] == [Loading, Running, Ready] and kinds[-1] is Finished
    assert set(kinds[3:-1]) == {Chunk}
    assert steps[1].total_bars == steps[2].total_bars == steps[-1].total_bars
    assert isinstance(steps[0].config, RunConfig)


def test_chunk_boundaries_cover_every_bar_once(chunks, outcome):
    n = len(outcome.data["DEMO"])
    assert n > 5 * CHUNK and n % CHUNK  # several chunks and a short last one
    assert [c.start for c in chunks] == list(range(0, n, CHUNK))
    assert [c.stop for c in chunks] == [min(s + CHUNK, n) for s in range(0, n, CHUNK)]
    assert [len(c) for c in chunks[:-1]] == [CHUNK] * (len(chunks) - 1)
    assert len(chunks[-1]) == n % CHUNK
    for c in chunks:
        assert c.total_bars == n and c.symbol == "DEMO"
        for column in (c.open, c.high, c.low, c.close, c.volume, c.equity, c.time):
            assert len(column) == len(c)
        assert all(len(v) == len(c) for v in c.indicators.values())


def test_columns_equal_the_results_data(chunks, outcome):
    data = outcome.data["DEMO"]
    for name in ("Open", "High", "Low", "Close", "Volume"):
        column = np.concatenate([getattr(c, name.lower()) for c in chunks])
        np.testing.assert_array_equal(column, data[name].to_numpy())
    equity = np.concatenate([c.equity for c in chunks])
    np.testing.assert_array_equal(equity, outcome.result.equity_curve["Equity"].to_numpy())
    assert chunks[0].time.append([c.time for c in chunks[1:]]).equals(data.index)
    close = data["Close"].to_numpy()
    rsi = np.concatenate([c.indicators["RSI_14"] for c in chunks])
    np.testing.assert_array_equal(rsi, RSI(close, 14))
    np.testing.assert_array_equal(
        np.concatenate([c.indicators["EMA_21"] for c in chunks]), EMA(close, 21)
    )


def test_signals_land_on_their_fill_bars(chunks, outcome):
    trades = outcome.result.trades
    assert len(trades) > 10
    parts = zip(*(c.signals for c in chunks), strict=True)
    got = Signals(*(np.concatenate(cols) for cols in parts))
    for c in chunks:  # each chunk holds exactly the fills of its own bars
        assert ((c.signals.bar >= c.start) & (c.signals.bar < c.stop)).all()
    # Every part of every trade is in one signal row at its bar and price; the sizes
    # of the parts add up to the row's size (parts of one fill merged).
    expected: dict[tuple, float] = {}
    pnl: dict[tuple, float] = {}
    for t in trades.itertuples():
        long = bool(t.Size > 0)
        for key in ((t.EntryBar, False, long, t.EntryPrice), (t.ExitBar, True, long, t.ExitPrice)):
            expected[key] = expected.get(key, 0.0) + abs(t.Size)
        exit_key = (t.ExitBar, True, long, t.ExitPrice)
        pnl[exit_key] = pnl.get(exit_key, 0.0) + t.PnL
    rows = list(zip(got.bar, got.exit, got.long, got.price, strict=True))
    assert len(rows) == len(set(rows)) == len(expected)
    assert len(rows) < 2 * len(trades)  # this strategy does split fills
    for key, size, row_pnl in zip(rows, got.size, got.pnl, strict=True):
        assert size == pytest.approx(expected[key], rel=1e-12)
        if key[1]:
            assert row_pnl == pytest.approx(pnl[key], rel=1e-12, abs=1e-9)
        else:
            assert np.isnan(row_pnl)
    # By bar; on one bar the closes come before the entries.
    order = np.lexsort((~got.exit, got.bar))
    np.testing.assert_array_equal(order, np.arange(len(order)))


def test_running_stats_follow_the_closed_trades(chunks, outcome):
    trades = outcome.result.trades
    initial = outcome.config.initial_capital
    equity = outcome.result.equity_curve["Equity"].to_numpy()
    for c in chunks[::3]:
        for j in (0, len(c) // 2, len(c) - 1):
            bar = c.start + j
            closed = trades[trades["ExitBar"] <= bar]
            assert c.stats.closed_trades[j] == len(closed)
            assert c.stats.winning_trades[j] == int((closed["PnL"] > 0).sum())
            assert c.stats.realized_pnl[j] == pytest.approx(closed["PnL"].sum(), abs=1e-9)
            rate = 100 * (closed["PnL"] > 0).mean() if len(closed) else 0.0
            assert c.stats.win_rate_pct[j] == pytest.approx(rate)
            assert c.stats.unrealized_pnl[j] == pytest.approx(
                equity[bar] - initial - closed["PnL"].sum(), abs=1e-6
            )


def test_the_replay_module_knows_no_json_pacing_or_threads():
    tree = ast.parse(Path(replay_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    banned = {"json", "time", "threading", "asyncio", "algobt.engine.wire"}
    assert not imported & banned, imported & banned
    assert not any(m.startswith("algobt.server") for m in imported)


def test_chunks_hold_arrays_not_messages(chunks):
    c = chunks[1]
    for name in ("open", "high", "low", "close", "volume", "equity"):
        assert isinstance(getattr(c, name), np.ndarray)
    assert all(isinstance(col, np.ndarray) for col in (*c.signals, *c.stats))
    assert all(isinstance(v, np.ndarray) for v in c.indicators.values())


def test_chunk_size_does_not_change_the_messages():
    data = {"DEMO": run_config(CONFIG).data["DEMO"]}

    def stream(chunk_bars):
        return list(encode(replay(CONFIG, data=data, chunk_bars=chunk_bars)))

    one, many = stream(1), stream(500)
    assert one == many
    assert one[-1]["type"] == "complete"


def test_indicator_errors_name_the_field():
    data = run_config(CONFIG).data["DEMO"]
    with pytest.raises(ConfigError) as info:
        indicator_columns({"EMA": {"periods": "9"}}, data)
    assert info.value.field == "indicators.EMA"


def test_stream_options_leave_the_run_config():
    run, options = StreamOptions.split({**CONFIG, "speed": 5, "config": {"batch": True}})
    assert options == StreamOptions(speed=5.0, batch=True, batch_size=500)
    assert "speed" not in run and "batch" not in run["config"]
    cfg = RunConfig.from_dict({**CONFIG, "speed": 5, "batch_size": 10})  # accepted, left out
    assert not {"speed", "batch", "batch_size"} & set(cfg.to_dict())
    with pytest.raises(ConfigError) as info:
        StreamOptions.from_dict({"batch_size": 0})
    assert info.value.field == "batch_size"
    with pytest.raises(ConfigError, match="Did you mean 'speed'"):
        RunConfig.from_dict({"symbol": "DEMO", "sped": 3})


def test_pace_holds_bars_to_the_speed():
    msgs = list(messages({**CONFIG, "period": "1mo"}))
    bars = sum(m["type"] == "candle" for m in msgs)
    started = time.monotonic()
    paced = list(pace(iter(msgs), speed=bars / 0.5))  # all bars in about 0.5 s
    took = time.monotonic() - started
    assert paced == msgs
    assert 0.45 < took < 5


def test_pace_cancels_between_bars_and_closes_its_source():
    closed = threading.Event()

    def source():
        try:
            yield from messages({**CONFIG, "period": "3mo"}, batch=True, batch_size=10)
        finally:
            closed.set()

    cancel = threading.Event()
    seen = []
    for msg in pace(source(), cancel=cancel):
        seen.append(msg)
        if msg["type"] == "candles" and msg["bars"][-1]["bar_number"] == 20:
            cancel.set()
    assert seen[-1] == {"type": "cancelled", "bar_number": 20}
    assert closed.is_set()


def test_events_takes_options_apart_from_the_config():
    plain = list(events({**CONFIG, "period": "3mo"}))
    batched = list(events({**CONFIG, "period": "3mo"}, options=StreamOptions(batch=True)))
    assert [b for m in batched if m["type"] == "candles" for b in m["bars"]] == [
        m for m in plain if m["type"] == "candle"
    ]
