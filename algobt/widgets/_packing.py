"""Stream messages as comm messages: a ``candles`` group travels as columns in binary buffers.

A ``candles`` message of the event stream (``docs/websocket.md``) holds a list of
bar dicts; sent as JSON, 100,000 bars would be 100,000 objects of repeated keys.
``pack`` turns its numbers into float64 columns (one binary buffer each, NaN
where the stream says ``null``) and its stamps into one list; ``unpack`` (and the
widget's JavaScript, ``frontend/widgets/packing.js``) gives back the very
messages. Every other message goes as it is.

    >>> msg = {"type": "candles", "symbol": "X", "bars": [
    ...     {"type": "candle", "symbol": "X", "bar_number": 1, "progress": 50.0,
    ...      "timestamp": "2024-01-02", "open": 1.0, "high": 2.0, "low": 0.5,
    ...      "close": 1.5, "volume": 10.0, "equity": None}]}
    >>> content, buffers = pack(msg)
    >>> content["columns"], len(buffers)
    (['bar_number', 'progress', 'open', 'high', 'low', 'close', 'volume', 'equity'], 8)
    >>> unpack(content, buffers) == msg
    True
"""

from __future__ import annotations

import numpy as np

COLUMNS = ("bar_number", "progress", "open", "high", "low", "close", "volume", "equity")


def _column(values: list) -> bytes:
    return np.array([np.nan if v is None else v for v in values], dtype="<f8").tobytes()


def pack(msg: dict) -> tuple[dict, list[bytes]]:
    """(JSON content, binary buffers) for one stream message."""
    if msg.get("type") != "candles":
        return {"type": "event", "event": msg}, []
    bars = msg["bars"]
    names = list(bars[0].get("indicators", {})) if bars else []
    has_indicators = bool(bars) and "indicators" in bars[0]
    buffers = [_column([b[c] for b in bars]) for c in COLUMNS]
    buffers += [_column([b["indicators"][k] for b in bars]) for k in names]
    content = {
        "type": "candles",
        "symbol": msg["symbol"],
        "n": len(bars),
        "timestamps": [b["timestamp"] for b in bars],
        "columns": list(COLUMNS),
        "indicators": names if has_indicators else None,
    }
    return content, buffers


def unpack(content: dict, buffers: list) -> dict:
    """The stream message ``pack`` was given."""
    if content["type"] == "event":
        return content["event"]
    n = content["n"]
    cols = [np.frombuffer(bytes(b), dtype="<f8", count=n) for b in buffers]
    values = {c: cols[i] for i, c in enumerate(content["columns"])}
    names = content["indicators"]
    symbol = content["symbol"]

    def num(x):
        x = float(x)
        return None if x != x else x

    bars = []
    for j in range(n):
        bar = {"type": "candle", "symbol": symbol, "bar_number": int(values["bar_number"][j])}
        bar["progress"] = float(values["progress"][j])
        bar["timestamp"] = content["timestamps"][j]
        for c in ("open", "high", "low", "close", "volume"):
            bar[c] = float(values[c][j])
        bar["equity"] = num(values["equity"][j])
        if names is not None:
            start = len(content["columns"])
            bar["indicators"] = {k: num(cols[start + i][j]) for i, k in enumerate(names)}
        bars.append(bar)
    return {"type": "candles", "symbol": symbol, "bars": bars}
