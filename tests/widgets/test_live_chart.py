"""LiveChart sends the engine's own event stream, batched, and obeys pause, speed and cancel.

The widget runs without a browser here: what it sent is read back from its log of comm
messages (``messages``, unpacked from the binary columns) and compared with the stream
``algobt.engine.events`` yields for the same config.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("anywidget")

from algobt.engine.events import events  # noqa: E402
from algobt.engine.run import run_config  # noqa: E402
from algobt.errors import ConfigError  # noqa: E402
from algobt.examples import SmaCross  # noqa: E402
from algobt.widgets import LiveChart  # noqa: E402
from algobt.widgets._packing import COLUMNS  # noqa: E402

CONFIG = {
    "symbol": "DEMO",
    "period": "1y",
    "strategy": SmaCross,
    "indicators": {"EMA": {"periods": [9, 21]}, "RSI": {}},
}


def played(source, **kwargs) -> LiveChart:
    chart = LiveChart(source, **kwargs).play()
    assert chart.wait(60) in ("complete", "cancelled", "error")
    return chart


def flat(messages):
    """candles groups opened into one candle message per bar."""
    out = []
    for m in messages:
        out.extend(m["bars"] if m["type"] == "candles" else [m])
    return out


def test_messages_are_the_engines_batched_stream_exactly():
    chart = played(CONFIG, batch_size=100)
    expected = list(events({**CONFIG, "batch": True, "batch_size": 100}))
    assert chart.messages == expected
    assert chart.status == "complete" and chart.bars_sent == chart.total_bars == 252
    # the same candles, and the same signals, in the same order, as the bar-by-bar stream
    by_bar = list(events(CONFIG))
    for kind in ("candle", "signal"):
        got = [m for m in flat(chart.messages) if m["type"] == kind]
        assert got == [m for m in by_bar if m["type"] == kind] and got
    complete = chart.messages[-1]
    assert complete["type"] == "complete"
    assert complete["metrics"]["total_trades"] == run_config(CONFIG).result["# Trades"]
    assert complete["result"] == run_config(CONFIG).to_dict()
    assert chart.result["# Trades"] == complete["metrics"]["total_trades"]


def test_candles_travel_as_binary_columns_one_comm_message_per_group():
    chart = played(CONFIG, batch_size=100)
    contents = [content for content, _ in chart._log]
    groups = [(c, b) for c, b in chart._log if c["type"] == "candles"]
    assert [c["n"] for c, _ in groups] == [100, 100, 52]
    for content, buffers in groups:
        assert len(buffers) == len(COLUMNS) + 3  # OHLCV..., EMA_9, EMA_21, RSI_14
        assert all(len(b) == 8 * content["n"] for b in buffers)
        assert "bars" not in content
    assert not any(c.get("event", {}).get("type") == "candle" for c in contents)
    assert chart.comm_messages == len(contents) < 252 / 10


def test_speed_sets_the_group_size_and_the_pace():
    start = time.monotonic()
    chart = played({**CONFIG, "period": "3mo"}, speed=200)  # 20 groups a second of 10 bars
    took = time.monotonic() - start
    sizes = [len(m["bars"]) for m in chart.messages if m["type"] == "candles"]
    assert set(sizes[:-1]) == {10} and sum(sizes) == chart.total_bars
    assert took >= (chart.total_bars - 10) / 200 * 0.9  # the bars had their time
    fast = played({**CONFIG, "period": "3mo"})
    assert [len(m["bars"]) for m in fast.messages if m["type"] == "candles"] == [fast.total_bars]
    # the paced replay and the full-speed one carry the same bars and signals
    for kind in ("candle", "signal"):
        got = [m for m in flat(chart.messages) if m["type"] == kind]
        assert got == [m for m in flat(fast.messages) if m["type"] == kind] and got


def test_pause_holds_the_stream_and_resume_finishes_it():
    chart = LiveChart(CONFIG, speed=100).play()
    deadline = time.monotonic() + 30
    while chart.bars_sent == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    chart.pause()
    assert chart.status == "paused"
    time.sleep(0.1)
    held = chart.comm_messages
    time.sleep(0.5)  # 50 bars' time at speed 100
    assert chart.comm_messages == held and chart.bars_sent < 252
    chart.speed = 0  # and the rest at full speed
    chart.resume()
    assert chart.wait(30) == "complete" and chart.bars_sent == 252
    assert [m for m in flat(chart.messages) if m["type"] == "candle"] == [
        m for m in events(CONFIG) if m["type"] == "candle"
    ]


def test_cancel_ends_the_stream_with_cancelled_and_no_complete():
    chart = LiveChart(CONFIG, speed=100).play()
    deadline = time.monotonic() + 30
    while chart.bars_sent < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    chart.cancel()
    assert chart.wait(10) == "cancelled"
    last = chart.messages[-1]
    assert last == {"type": "cancelled", "bar_number": chart.bars_sent}
    assert 20 <= chart.bars_sent < 252
    assert not any(m["type"] == "complete" for m in chart.messages)


def test_a_replayed_result_sends_what_the_live_run_sent():
    live = played(CONFIG, batch_size=100)
    outcome = run_config(CONFIG)
    replayed = played(outcome.result, batch_size=100, indicators=CONFIG["indicators"])
    assert len(replayed.messages) == len(live.messages)
    for got, want in zip(replayed.messages, live.messages, strict=True):
        if got["type"] == "metadata":  # a Result does not know the period it was loaded for
            assert want["period"] == "1y" and got == {**want, "period": None}
        elif got["type"] == "complete":
            # nor what it was made of: the provenance is the runner's (``run_config``)
            assert got["metrics"] == {**want["metrics"], "period": None, "provenance": {}}
            assert got["result"] == {**want["result"], "period": None, "provenance": {}}
        else:
            assert got == want
    # the run's own outcome (config included) replays exactly
    assert played(outcome, batch_size=100).messages == live.messages


def test_bad_input_is_refused_by_name():
    with pytest.raises(ConfigError, match="LiveChart takes a run config"):
        LiveChart([1, 2, 3])
    with pytest.raises(ConfigError) as err:
        LiveChart({"symbol": "DEMO"})
    assert err.value.field == "strategy_code"
    with pytest.raises(ConfigError):
        LiveChart(CONFIG, speed=-1)
    chart = played({**CONFIG, "symbol": "NO-SUCH-FILE.csv"})
    assert chart.status == "error" and chart.messages[-1]["type"] == "error"
    assert chart.error == chart.messages[-1]["message"]
