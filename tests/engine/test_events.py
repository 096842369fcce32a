"""The event stream, read like `docs/websocket.md`: order, shapes, numbers, pacing, cancel."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from algobt import load
from algobt.engine.events import STATS_EVERY, aevents, events, iterate_in_thread
from algobt.engine.run import run_config
from algobt.lib import EMA, RSI

EXAMPLE = (Path(__file__).parents[2] / "examples" / "sma_cross.py").read_text()
REVERSAL = """
from algobt import Strategy
from algobt.lib import SMA, crossover

class Reversal(Strategy):
    fast = 5
    slow = 15
    def init(self):
        self.a = self.I(SMA, self.data.Close, self.fast)
        self.b = self.I(SMA, self.data.Close, self.slow)
    def next(self):
        if crossover(self.a, self.b):
            self.position.close()
            self.buy(size=0.5)
        elif crossover(self.b, self.a):
            self.position.close()
            self.sell(size=10)
"""
CONFIG = {
    "symbol": "DEMO",
    "period": "1y",
    "strategy_code": REVERSAL,
    "indicators": {"RSI": {"timeperiod": 14}, "EMA": {"periods": [9, 21]}},
}


@pytest.fixture(scope="module")
def stream():
    return list(events(CONFIG))


@pytest.fixture(scope="module")
def outcome():
    return run_config(CONFIG)


def test_message_order_follows_the_report(stream):
    head = [(m["type"], m.get("status")) for m in stream[:4]]
    assert head == [
        ("metadata", "loading_data"),
        ("metadata", "running_backtest"),
        ("stats", None),
        ("metadata", "streaming_visualization"),
    ]
    assert stream[2]["total_trades"] == 0 and stream[2]["bar_number"] == 0
    assert stream[-1]["type"] == "complete"
    body = stream[4:-1]
    assert {m["type"] for m in body} == {"candle", "signal", "stats"}
    assert body[0]["type"] == "candle"
    # Each signal and stats message follows the candle of its own bar.
    last_bar = 0
    for m in body:
        if m["type"] == "candle":
            assert m["bar_number"] == last_bar + 1
            last_bar = m["bar_number"]
        else:
            assert m["bar_number"] == last_bar


def test_one_candle_per_bar_with_the_data_values(stream):
    data = load("DEMO", period="1y", interval="1d")
    candles = [m for m in stream if m["type"] == "candle"]
    assert len(candles) == len(data) == stream[3]["total_bars"]
    for m, (_, row) in zip(candles[::50], data.iloc[::50].iterrows(), strict=True):
        assert (m["open"], m["high"], m["low"], m["close"]) == (
            row.Open,
            row.High,
            row.Low,
            row.Close,
        )
    assert candles[-1]["progress"] == 100.0


def test_stats_every_50_bars(stream):
    stats_bars = [m["bar_number"] for m in stream[4:-1] if m["type"] == "stats"]
    n = stream[3]["total_bars"]
    expected = list(range(STATS_EVERY, n + 1, STATS_EVERY))
    if n % STATS_EVERY:
        expected.append(n)
    assert stats_bars == expected


def test_signals_sit_on_the_fill_bar_at_the_fill_price(stream, outcome):
    candles = {m["bar_number"]: m for m in stream if m["type"] == "candle"}
    signals = [m for m in stream if m["type"] == "signal"]
    trades = outcome.result.trades
    assert len(trades) >= 4, "the reversal strategy should trade in a year"
    entries = [s for s in signals if s["action"] == "ENTRY"]
    exits = [s for s in signals if s["action"] == "EXIT"]
    assert len(entries) == len(exits) == len(trades)  # no partial closes here
    for t, entry, exit_ in zip(trades.itertuples(), entries, exits, strict=True):
        assert entry["bar_number"] == t.EntryBar + 1 and entry["price"] == t.EntryPrice
        assert entry["side"] == ("BUY" if t.Size > 0 else "SELL")
        assert exit_["bar_number"] == t.ExitBar + 1 and exit_["price"] == t.ExitPrice
        assert exit_["pnl"] == t.PnL and exit_["size"] == abs(t.Size)
    for s in signals:
        assert s["timestamp"] == candles[s["bar_number"]]["timestamp"]


def test_complete_metrics_equal_the_result_object(stream, outcome):
    metrics = stream[-1]["metrics"]
    r = outcome.result
    assert metrics["total_trades"] == r["# Trades"]
    assert metrics["final_equity"] == r["Equity Final [$]"]
    assert metrics["total_return_pct"] == r["Return [%]"]
    assert metrics["max_drawdown"] == -r["Max. Drawdown [%]"]
    assert metrics["sharpe_ratio"] == r["Sharpe Ratio"]
    assert metrics["win_rate"] == r["Win Rate [%]"]
    assert metrics["net_profit"] == r["Equity Final [$]"] - 10_000
    assert stream[-1]["result"]["trades"] == outcome.to_dict()["trades"]
    final_stats = [m for m in stream if m["type"] == "stats"][-1]
    assert final_stats["total_trades"] == r["# Trades"]
    assert final_stats["pnl"] == pytest.approx(r["_trades"]["PnL"].sum(), rel=1e-12)


def test_candles_carry_the_configs_indicators(stream):
    data = load("DEMO", period="1y", interval="1d")
    close = data["Close"].to_numpy()
    candles = [m for m in stream if m["type"] == "candle"]
    rsi, ema9 = RSI(close, 14), EMA(close, 9)
    assert candles[0]["indicators"]["RSI_14"] is None  # warm-up: null, never NaN
    for i in (20, 100, len(candles) - 1):
        assert candles[i]["indicators"]["RSI_14"] == rsi[i]
        assert candles[i]["indicators"]["EMA_9"] == ema9[i]
    assert set(candles[-1]["indicators"]) == {"RSI_14", "EMA_9", "EMA_21"}


def test_every_message_is_strict_json(stream):
    json.dumps(stream, allow_nan=False)


def test_batch_and_bar_by_bar_carry_the_same_bars(stream):
    batched = list(events({**CONFIG, "batch": True, "batch_size": 64}))
    groups = [m for m in batched if m["type"] == "candles"]
    assert all(len(g["bars"]) <= 64 for g in groups) and len(groups) > 1
    bars = [b for g in groups for b in g["bars"]]
    assert bars == [m for m in stream if m["type"] == "candle"]
    assert [m for m in batched if m["type"] == "signal"] == [
        m for m in stream if m["type"] == "signal"
    ]
    assert batched[-1]["metrics"] == stream[-1]["metrics"]


def test_cancel_stops_between_bars_without_complete():
    cancel = threading.Event()
    seen = []
    for msg in events(CONFIG, cancel=cancel):
        seen.append(msg)
        if msg["type"] == "candle" and msg["bar_number"] == 10:
            cancel.set()
    assert seen[-1] == {"type": "cancelled", "bar_number": 10}
    assert not any(m["type"] == "complete" for m in seen)


def test_cancel_interrupts_a_paced_replay():
    cancel = threading.Event()
    seen = []
    for msg in events({**CONFIG, "speed": 0.5}, cancel=cancel):  # one bar every 2 s
        seen.append(msg)
        if msg["type"] == "candle":
            threading.Timer(0.05, cancel.set).start()
    assert seen[-1]["type"] == "cancelled"
    assert sum(m["type"] == "candle" for m in seen) == 1


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({**CONFIG, "symbol": "DEMO", "period": "7years"}, "period"),
        ({**CONFIG, "commision": 0.1}, "commision"),
        ({**CONFIG, "strategy_code": "class Broken(:"}, None),
        ({**CONFIG, "indicators": {"FOO": {}}}, "indicators.FOO"),
        ({**CONFIG, "initial_balance": -1}, "initial_capital"),
    ],
)
def test_bad_config_ends_in_one_error_message(config, field):
    msgs = list(events(config))
    assert msgs[-1]["type"] == "error" and msgs[-1]["message"]
    assert msgs[-1]["field"] == field
    assert sum(m["type"] == "error" for m in msgs) == 1


def test_async_variant_yields_the_same_stream(stream):
    async def collect():
        return [m async for m in aevents(CONFIG)]

    assert asyncio.run(collect()) == stream


def test_multi_symbol_stream_plays_each_symbol():
    cfg = {**CONFIG, "symbols": ["DEMO", "DEMO-FX"], "period": "6mo"}
    msgs = list(events(cfg))
    symbols = [m["symbol"] for m in msgs if m["type"] == "candle"]
    assert set(symbols) == {"DEMO", "DEMO-FX"}
    done = msgs[-1]
    assert done["type"] == "complete"
    assert {s["symbol"] for s in done["result"]["symbol_stats"]} <= {"DEMO", "DEMO-FX"}
    assert done["total_bars"] == len(symbols)
    assert np.isfinite(done["metrics"]["final_equity"])


def test_the_next_chunk_is_made_while_the_consumer_sends_this_one_and_no_further():
    """iterate_in_thread overlaps making and sending by one chunk: while the consumer
    holds the first message, the thread has pulled the next chunk too, and a consumer
    that stops reading holds the producer there (backpressure)."""
    pulled = []

    def produce():
        for i in range(100):
            pulled.append(i)
            yield i

    async def take_one_then_wait():
        stream = iterate_in_thread(produce(), most=3)
        first = await stream.__anext__()
        held = []
        for _ in range(20):
            await asyncio.sleep(0.01)
            held.append(len(pulled))
        rest = [msg async for msg in stream]
        return first, held, rest

    first, held, rest = asyncio.run(take_one_then_wait())
    assert first == 0
    assert held[-1] == 6  # this chunk (3) and the next (3), nothing more
    assert [first, *rest] == list(range(100))
