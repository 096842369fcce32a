"""The wire format between the server and its worker processes — one module, used on
both ends.

The parent (``process.py``) and the child (``_main.py``: the supervisor and the
worker it forks) import this file; the child loads it by path, before anything
else, so it must import nothing but the standard library.

* **Frames** (job: parent → worker; everything else: worker → parent) travel on
  pipes as a 4-byte big-endian length, then that many bytes of JSON — JSON,
  never pickle, so a hostile worker cannot run code in the server. One frame is
  one JSON object with a ``kind``: the job (``mode``, ``config``, ``limits``),
  ``started``, ``progress`` (a run's phase, done, total), ``msg`` (a stream
  message), ``result``, ``error`` (class, message, field, limit hint), ``usage``
  and ``fatal`` (the worker could not start).
* **Control lines** (parent → supervisor, on its stdin): one JSON object a line,
  ``{"max_processes": n}`` before the job, ``{"kill": true}`` to stop. The
  supervisor answers with one JSON status line on its stdout when it ends.
"""

from __future__ import annotations

import json
import os
import struct

HEADER = struct.Struct(">I")

# Frame kinds, worker → parent.
STARTED = "started"
PROGRESS = "progress"
MSG = "msg"
RESULT = "result"
ERROR = "error"
USAGE = "usage"
FATAL = "fatal"


class FrameError(ValueError):
    """A frame the reader refuses: larger than allowed (``size`` set) or not JSON."""

    def __init__(self, message: str, size: int | None = None):
        super().__init__(message)
        self.size = size


# Stream messages the engine has already made finite (no NaN, numbers and text only):
# these, the bulk of a long stream, go through orjson when the interpreter has it
# (ten times faster than json); everything else through json, NaN kept as ever.
FINITE_MESSAGES = frozenset({"candle", "candles", "signal", "stats"})
_orjson = False  # not looked up yet; None when absent


def _fast():
    """orjson, imported on first use (this module imports only the standard library)."""
    global _orjson
    if _orjson is False:
        try:
            import orjson
        except ImportError:
            orjson = None
        _orjson = orjson
    return _orjson


def encode(frame: dict, default=None) -> bytes:
    """One frame: length prefix and JSON (NaN allowed, as Python's json writes it)."""
    fast = _fast()
    msg = frame.get("msg") if frame.get("kind") == MSG else None
    payload = None
    if fast is not None and isinstance(msg, dict) and msg.get("type") in FINITE_MESSAGES:
        try:
            payload = fast.dumps(frame, default=default)
        except TypeError:  # what orjson cannot write (an int past 64 bits): json can
            payload = None
    if payload is None:
        payload = json.dumps(frame, default=default).encode()
    return HEADER.pack(len(payload)) + payload


def decode(body: bytes) -> dict:
    """A frame's JSON object; ``FrameError`` when it is not one."""
    fast = _fast()
    try:
        frame = fast.loads(body) if fast is not None else json.loads(body)
    except ValueError:
        try:  # orjson refuses the NaN that json writes
            frame = json.loads(body)
        except ValueError:
            raise FrameError("malformed frame") from None
    if not isinstance(frame, dict):
        raise FrameError("malformed frame")
    return frame


class FrameBuffer:
    """Bytes read so far from a pipe, cut into frames as they complete."""

    def __init__(self):
        self.data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.data += chunk

    def take(self, max_bytes: int) -> dict | None:
        """The next complete frame, or None until more bytes arrive.

        A frame announced larger than ``max_bytes`` raises ``FrameError`` before its
        body is read, so a hostile worker cannot make the parent buffer it.
        """
        if len(self.data) < HEADER.size:
            return None
        size = HEADER.unpack_from(self.data)[0]
        if size > max_bytes:
            raise FrameError("frame too large", size=size)
        if len(self.data) < HEADER.size + size:
            return None
        body = bytes(self.data[HEADER.size : HEADER.size + size])
        del self.data[: HEADER.size + size]
        return decode(body)


def read_frame(fd: int) -> dict | None:
    """Block until one whole frame is read from ``fd``; None at end of file."""

    def read_exact(n: int) -> bytes | None:
        chunks, got = [], 0
        while got < n:
            chunk = os.read(fd, n - got)
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    head = read_exact(HEADER.size)
    if head is None:
        return None
    body = read_exact(HEADER.unpack(head)[0])
    return None if body is None else decode(body)


def control_line(**command) -> bytes:
    """A command for the supervisor: ``control_line(max_processes=16)``."""
    return json.dumps(command).encode() + b"\n"


def parse_control(line: bytes) -> dict:
    return json.loads(line)


def status_line(status: dict) -> bytes:
    """The supervisor's last word on its stdout."""
    return json.dumps(status).encode() + b"\n"


def parse_status(out: bytes) -> dict | None:
    """The supervisor's status from all it wrote on stdout (its last line), or None."""
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        return None
    status = json.loads(lines[-1])
    return status if isinstance(status, dict) else None
