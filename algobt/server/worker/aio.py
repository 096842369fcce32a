"""The isolated runs for asyncio: ``arun_isolated`` and ``astream_isolated`` wait in a
thread of their own, so the event loop stays free."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from algobt.server.worker.limits import WorkerLimits
from algobt.server.worker.pool import WorkerPool
from algobt.server.worker.process import POLL
from algobt.server.worker.run import run_isolated, stream_isolated


async def arun_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008
    pool: WorkerPool | None = None,
    usage: dict | None = None,
) -> dict:
    """``run_isolated`` for asyncio: waits in a thread of its own, the loop stays free.

    Cancelling the awaiting task kills the worker.
    """
    loop = asyncio.get_running_loop()
    cancel = threading.Event()
    future: asyncio.Future = loop.create_future()

    def settle(value=None, exc=None):
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)

    def target():
        try:
            value = run_isolated(config, limits=limits, cancel=cancel, pool=pool, usage=usage)
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting task)
            _call_soon(loop, settle, None, exc)
        else:
            _call_soon(loop, settle, value)

    threading.Thread(target=target, name="algobt-worker-run", daemon=True).start()
    try:
        return await future
    finally:
        cancel.set()  # a no-op once the run is over


def _call_soon(loop, fn, *args) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
        loop.call_soon_threadsafe(fn, *args)


async def astream_isolated(
    config: dict,
    *,
    limits: WorkerLimits = WorkerLimits(),  # noqa: B008
    cancel: threading.Event | None = None,
    pool: WorkerPool | None = None,
    usage: dict | None = None,
    buffer: int = 64,
) -> AsyncIterator[dict]:
    """``stream_isolated`` as an async iterator; a thread of its own reads the worker.

    At most ``buffer`` messages wait between that thread and the loop, so a slow
    consumer still blocks the worker. Closing the iterator kills the worker; after
    leaving ``async for`` early, close it at once with ``contextlib.aclosing``
    (otherwise that waits for the loop's shutdown of async generators).
    """
    loop = asyncio.get_running_loop()
    stop = threading.Event()  # the consumer has gone: stop the worker, stop handing over
    either = _Either(cancel, stop)
    slots = threading.Semaphore(buffer)  # messages handed over but not yet taken
    queue: asyncio.Queue = asyncio.Queue()
    done = object()

    def hand_over(item) -> bool:
        while not slots.acquire(timeout=POLL):
            if stop.is_set():
                return False
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop has closed
            return False
        return True

    def pump():
        stream = stream_isolated(config, limits=limits, cancel=either, pool=pool, usage=usage)
        try:
            for msg in stream:
                if not hand_over(msg):
                    return
        except BaseException as exc:  # noqa: BLE001  (re-raised in the consumer)
            hand_over(exc)
        finally:
            stream.close()
            hand_over(done)

    thread = threading.Thread(target=pump, name="algobt-worker-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            slots.release()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Either:
    """Set when either of two events is (the ``is_set`` that the stream polls)."""

    def __init__(self, *events: threading.Event | None):
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)
