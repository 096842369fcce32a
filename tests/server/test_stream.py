"""``WS /ws/backtest/stream/`` with a real WebSocket client, read like ``docs/websocket.md``."""

from __future__ import annotations

import json
import random

import pytest

from tests.server.conftest import ws_exchange
from tests.strategies import EMA_CROSS, SMA_CROSS

CONFIG = {
    "strategy_code": SMA_CROSS,
    "symbol": "DEMO",
    "period": "1y",
    "interval": "1d",
    "initial_balance": 10_000,
    "commission": 0.002,
    "indicators": {"RSI": {"timeperiod": 14}, "EMA": {"periods": [9, 21]}},
}


@pytest.fixture(scope="module")
def saved(client):
    status, strategy = client.post(
        "/api/strategies/strategies/", {"name": "stream test strategy", "strategy_code": SMA_CROSS}
    )
    assert status == 201
    return strategy


def test_stream_order_shapes_and_results_agree(server, client, saved):
    config = {**CONFIG, "strategy_id": saved["id"]}
    msgs = ws_exchange(server, [{"action": "start_backtest", "config": config}])
    kinds = [m["type"] for m in msgs]
    assert [(m["type"], m.get("status")) for m in msgs[:4]] == [
        ("metadata", "loading_data"),
        ("metadata", "running_backtest"),
        ("stats", None),
        ("metadata", "streaming_visualization"),
    ]
    assert kinds[-1] == "complete"
    candles = [m for m in msgs if m["type"] == "candle"]
    assert len(candles) == msgs[3]["total_bars"] == msgs[-1]["total_bars"]
    assert [c["bar_number"] for c in candles] == list(range(1, len(candles) + 1))
    for key in ("timestamp", "open", "high", "low", "close", "volume", "progress"):
        assert key in candles[0]
    assert set(candles[-1]["indicators"]) == {"RSI_14", "EMA_9", "EMA_21"}
    stamps = {c["timestamp"] for c in candles}
    signals = [m for m in msgs if m["type"] == "signal"]
    assert signals and all(s["timestamp"] in stamps for s in signals)
    assert {s["action"] for s in signals} == {"ENTRY", "EXIT"}
    stats = [m for m in msgs if m["type"] == "stats"]
    assert all(
        {"total_trades", "winning_trades", "losing_trades", "pnl", "win_rate"} <= set(s)
        for s in stats
    )

    metrics = msgs[-1]["metrics"]
    status, quick = client.post("/api/backtests/api/quick_run/", config)
    assert status == 200
    for key in (
        "total_trades",
        "winning_trades",
        "losing_trades",
        "win_rate",
        "net_profit",
        "total_return_pct",
        "final_equity",
        "max_drawdown",
        "sharpe_ratio",
    ):
        assert metrics[key] == quick[key], key
    status, latest = client.get(f"/api/strategies/latest-backtest/{saved['id']}/get_by_strategy/")
    assert status == 200
    for key in ("total_trades", "win_rate", "net_profit", "final_equity", "sharpe_ratio"):
        assert latest[key] == metrics[key], key
    assert msgs[-1]["run"] is not None


def test_batch_stream_carries_the_same_bars(server):
    plain = ws_exchange(server, [{"action": "start_backtest", "config": CONFIG}])
    batched = ws_exchange(
        server, [{"action": "start_backtest", "config": {**CONFIG, "batch": True}}]
    )
    bars = [b for m in batched if m["type"] == "candles" for b in m["bars"]]
    assert bars == [m for m in plain if m["type"] == "candle"]
    assert batched[-1]["metrics"] == plain[-1]["metrics"]


def test_json_spec_streams_in_process(server):
    msgs = ws_exchange(
        server, [{"action": "start_backtest", "config": {**CONFIG, "strategy_code": EMA_CROSS}}]
    )
    assert msgs[-1]["type"] == "complete" and msgs[-1]["metrics"]["kind"] == "json"


def test_ping_and_cancel(server):
    msgs = ws_exchange(server, [{"action": "ping"}], until=("pong",))
    assert msgs == [{"type": "pong"}]

    def cancel_at_bar_5(msg):
        if msg.get("type") == "candle" and msg["bar_number"] == 5:
            return {"action": "cancel"}
        return None

    slow = {**CONFIG, "speed": 50}  # 50 bars a second: the cancel arrives mid-stream
    msgs = ws_exchange(
        server, [{"action": "start_backtest", "config": slow}], on_message=cancel_at_bar_5
    )
    assert msgs[-1]["type"] == "cancelled"
    assert not any(m["type"] == "complete" for m in msgs)


def test_bad_configs_answer_with_an_error_message(server):
    for config, field in (
        ({**CONFIG, "period": "7y"}, "period"),
        ({**CONFIG, "strategy_id": 987654}, "strategy_id"),
        ({**CONFIG, "commission": "x"}, "commission"),
    ):
        msgs = ws_exchange(server, [{"action": "start_backtest", "config": config}])
        assert msgs[-1]["type"] == "error" and msgs[-1]["field"] == field, msgs[-1]


def test_500_malformed_frames_each_get_an_error_and_the_connection_lives(server):
    rng = random.Random(7)
    frames = []
    for i in range(500):
        kind = i % 10
        if kind == 0:
            frames.append("{not json" + "x" * rng.randint(0, 50))
        elif kind == 1:
            frames.append(json.dumps([1, 2, 3]))
        elif kind == 2:
            frames.append(json.dumps({"action": "dance"}))
        elif kind == 3:
            frames.append(json.dumps({"action": 12}))
        elif kind == 4:
            frames.append(json.dumps({"action": "start_backtest", "config": "DEMO"}))
        elif kind == 5:
            frames.append(
                json.dumps(
                    {"action": "start_backtest", "config": {**CONFIG, "initial_balance": 10**400}}
                )
            )
        elif kind == 6:
            frames.append(
                json.dumps(
                    {"action": "start_backtest", "config": {**CONFIG, "lot_size": -rng.random()}}
                )
            )
        elif kind == 7:
            frames.append(json.dumps({"action": "cancel"}))
        elif kind == 8:
            frames.append(json.dumps({"noaction": True}))
        else:
            frames.append('"just a string"')
    got = ws_exchange(server, [*frames, {"action": "ping"}], until=("pong",))
    errors = [m for m in got if m["type"] == "error"]
    assert len(errors) == 500 and got[-1] == {"type": "pong"}
    assert all(e["message"] for e in errors)
    # The server is still fine for a real run on a new connection.
    msgs = ws_exchange(server, [{"action": "start_backtest", "config": CONFIG}])
    assert msgs[-1]["type"] == "complete"


def _wait_until(predicate, seconds=30.0):
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_client_that_disconnects_stops_its_run(server):
    import asyncio

    from tornado.websocket import websocket_connect

    jobs = server.app.settings["jobs"]

    async def leave_early():
        url = server.base_url.replace("http", "ws") + f"/ws/backtest/stream/?token={server.token}"
        conn = await websocket_connect(url)
        await conn.write_message(
            json.dumps(
                {
                    "action": "start_backtest",
                    "config": {**CONFIG, "strategy_code": EMA_CROSS, "speed": 20},
                }
            )
        )
        for _ in range(8):
            await conn.read_message()
        assert len(jobs.streams) == 1
        conn.close()

    asyncio.run(leave_early())
    assert _wait_until(lambda: not jobs.streams), "the stream outlived its client"


def test_a_client_that_stops_reading_holds_the_run_back(server):
    """43,200 one-minute bars, unpaced: if the server buffered freely it would have sent
    them all within a second; a client that stops reading must stop it far earlier."""
    import asyncio
    import time

    from tornado.websocket import websocket_connect

    jobs = server.app.settings["jobs"]
    config = {
        "strategy_code": EMA_CROSS,
        "symbol": "DEMO-BTC",
        "interval": "1m",
        "indicators": {"EMA": {"periods": [9, 21, 50]}, "RSI": {}},
    }

    async def stall():
        url = server.base_url.replace("http", "ws") + f"/ws/backtest/stream/?token={server.token}"
        conn = await websocket_connect(url)
        await conn.write_message(json.dumps({"action": "start_backtest", "config": config}))
        for _ in range(10):
            await conn.read_message()
        (progress,) = jobs.streams.values()
        # Stop reading. The socket buffers fill up, then the server waits.
        time.sleep(3)  # blocks this client's loop: nothing is read meanwhile
        await asyncio.sleep(0)
        first = progress["sent"]
        time.sleep(2)
        second = progress["sent"]
        conn.close()
        return first, second

    first, second = asyncio.run(stall())
    assert first < 30_000, first  # well short of the 43,200 candles
    assert second - first < 200, (first, second)  # and no longer moving
    assert _wait_until(lambda: not jobs.streams)


def test_stream_options_play_the_run_and_are_not_saved_with_it(server):
    """speed/batch/batch_size ride in the client's config; the server plays the run
    with them (batched, paced here) and saves the run's config without them."""
    import time

    config = {**CONFIG, "period": "3mo", "speed": 200, "batch": True, "batch_size": 16}
    started = time.monotonic()
    msgs = ws_exchange(server, [{"action": "start_backtest", "config": config}])
    took = time.monotonic() - started
    groups = [m for m in msgs if m["type"] == "candles"]
    bars = sum(len(g["bars"]) for g in groups)
    assert msgs[-1]["type"] == "complete" and bars == msgs[-1]["total_bars"]
    assert all(len(g["bars"]) <= 16 for g in groups) and len(groups) > 2
    assert took >= bars / 200 * 0.9  # held to 200 bars a second
    saved = server.app.settings["jobs"].store.get_run(msgs[-1]["run"])
    assert saved["config"]["symbol"] == "DEMO"
    assert not {"speed", "batch", "batch_size"} & set(saved["config"])


def test_a_flat_position_streams_an_unrealized_pnl_of_exactly_zero(server):
    """Between trades the stats say 0, not the float noise of equity minus cash minus
    a sum of trade P&Ls (-1.8e-12 and the like)."""
    long_only = SMA_CROSS.replace("self.sell()", "pass")
    assert long_only != SMA_CROSS
    config = {"symbol": "DEMO-FX", "interval": "1h", "period": "2y", "strategy_code": long_only}
    msgs = ws_exchange(server, [{"action": "start_backtest", "config": config}])
    assert msgs[-1]["type"] == "complete"
    stamp = {m["bar_number"]: m["timestamp"] for m in msgs if m["type"] == "candle"}
    trades = msgs[-1]["result"]["trades"]
    last_exit = max(t["exit_time"] for t in trades)
    flat = held = 0
    for m in msgs:
        if m["type"] != "stats" or m["bar_number"] == 0:
            continue
        ts = stamp[m["bar_number"]]
        if any(t["entry_time"] <= ts < t["exit_time"] for t in trades):
            held += 1
            assert m["unrealized_pnl"] != 0.0
        elif ts < last_exit:  # after it a trade may still be open
            flat += 1
            assert m["unrealized_pnl"] == 0.0, m
    assert flat > 20 and held > 20
