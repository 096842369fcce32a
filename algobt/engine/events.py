"""A run's event stream in this process: the replay's messages, paced and cancellable.

    >>> from pathlib import Path
    >>> from algobt.engine.events import events
    >>> msgs = list(events({"symbol": "DEMO", "period": "3mo",
    ...                     "strategy_code": Path("examples/sma_cross.py").read_text()}))
    >>> [m["type"] for m in msgs[:4]]
    ['metadata', 'metadata', 'stats', 'metadata']

The messages and their order are ``docs/websocket.md``'s; they come from
``algobt.engine.wire`` (the encoder) over ``algobt.engine.replay`` (the run as
columnar chunks). This module is what a transport adds on top, kept in one
place for the WebSocket and the notebook widget:

* ``pace``: ``speed`` in bars per second, and ``cancel`` (a ``threading.Event``)
  that stops the stream between bars with ``{"type": "cancelled"}``;
* ``iterate_in_thread``: a blocking stream driven from asyncio with backpressure;
* ``events`` / ``aevents``: the three composed for a config that carries its
  stream options (``speed``, ``batch``, ``batch_size``) beside the run's settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator

import pandas as pd

from algobt.engine.config import StreamOptions
from algobt.engine.replay import indicator_columns
from algobt.engine.wire import STATS_EVERY, error_message, messages
from algobt.errors import AlgobtError


def events(
    config,
    *,
    cancel: threading.Event | None = None,
    data: dict[str, pd.DataFrame] | None = None,
    options: StreamOptions | None = None,
) -> Iterator[dict]:
    """Run ``config`` and yield its messages, paced by its ``speed``.

    options: the stream options; by default taken from ``config`` (``speed``,
    ``batch``, ``batch_size``). cancel: set it (from another thread) to stop between
    bars; the stream then ends with ``{"type": "cancelled"}`` and no ``complete``.
    A generator closed early stops the same way. Errors of ours end the stream
    with an ``error``.
    """
    try:
        run, found = StreamOptions.split(config) if isinstance(config, dict) else (config, None)
        options = options or found or StreamOptions()
    except AlgobtError as exc:
        yield error_message(exc)
        return
    stream = messages(run, data=data, batch=options.batch, batch_size=options.batch_size)
    yield from pace(stream, options.speed, cancel)


def pace(
    stream: Iterable[dict], speed: float = 0.0, cancel: threading.Event | None = None
) -> Iterator[dict]:
    """Pass ``stream`` on at ``speed`` bars per second (0: at once), stopping on ``cancel``.

    A message that carries bars (``candle``, ``candles``) is held until the bars
    before it have had their time, and so is ``complete``; the first bar goes at
    once. ``cancel`` is looked at before each bar message and interrupts a wait;
    the stream then ends with ``{"type": "cancelled", "bar_number": n}``, ``n`` the
    bars of the current symbol already passed on. ``stream`` is closed on exit.
    """
    cancel = cancel or threading.Event()
    seconds_per_bar = 1.0 / speed if speed else 0.0
    started = None
    sent = 0  # bars passed on, all symbols
    last_bar = 0  # bar_number of the last bar passed on (of its symbol)
    try:
        for msg in stream:
            kind = msg.get("type")
            bars = msg["bars"] if kind == "candles" else (msg,) if kind == "candle" else ()
            if started is not None and seconds_per_bar and (bars or kind == "complete"):
                delay = started + sent * seconds_per_bar - time.monotonic()
                if delay > 0 and cancel.wait(delay):
                    yield {"type": "cancelled", "bar_number": last_bar}
                    return
            if bars:
                if cancel.is_set():
                    yield {"type": "cancelled", "bar_number": bars[0]["bar_number"] - 1}
                    return
                if started is None:
                    started = time.monotonic()
                sent += len(bars)
                last_bar = bars[-1]["bar_number"]
            yield msg
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


async def aevents(
    config,
    *,
    cancel: threading.Event | None = None,
    data: dict[str, pd.DataFrame] | None = None,
    options: StreamOptions | None = None,
) -> AsyncIterator[dict]:
    """``events`` for asyncio: the run happens in a worker thread, the loop stays free.

    Messages are handed over in small chunks on demand, so a slow reader slows
    the replay (no unbounded buffering); closing the async generator cancels the run.
    """
    cancel = cancel or threading.Event()
    stream = events(config, cancel=cancel, data=data, options=options)
    async for msg in iterate_in_thread(stream, cancel):
        yield msg


async def iterate_in_thread(
    stream: Iterator[dict], cancel: threading.Event | None = None, *, executor=None, most: int = 256
) -> AsyncIterator[dict]:
    """Drive a blocking iterator from asyncio: chunks of up to ``most`` messages (or what
    came within 50 ms) are pulled in ``executor`` threads; ``most=1`` hands each message
    over as soon as it exists (paced replays). The next chunk is pulled while the
    consumer works through the current one (making and sending overlap), and no further:
    a consumer that stops holds the producer back by one chunk at most.
    On exit ``cancel`` is set and the iterator closed.
    """
    loop = asyncio.get_running_loop()
    ahead = None
    try:
        ahead = loop.run_in_executor(executor, _take, stream, most, 0.05)
        while True:
            chunk = await ahead
            ahead = None
            if not chunk:
                return
            ahead = loop.run_in_executor(executor, _take, stream, most, 0.05)
            for msg in chunk:
                yield msg
    finally:
        if cancel is not None:
            cancel.set()
        if ahead is not None:  # let the pull in flight end before closing the stream
            with contextlib.suppress(BaseException):
                await ahead
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


__all__ = [
    "events",
    "aevents",
    "pace",
    "iterate_in_thread",
    "indicator_columns",
    "STATS_EVERY",
]
