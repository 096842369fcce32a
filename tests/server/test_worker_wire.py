"""The worker's wire format: one module both ends use, standard library only."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from algobt.server.worker import wire

MAIN = Path(wire.__file__).with_name("_main.py")


def test_frames_round_trip_in_pieces_and_refuse_what_is_too_large():
    frames = [{"kind": wire.PROGRESS, "phase": "running", "done": 3, "total": 9},
              {"kind": wire.RESULT, "result": {"x": math.nan, "s": "é" * 1000}}]  # fmt: skip
    data = b"".join(wire.encode(f) for f in frames)
    buffer, got = wire.FrameBuffer(), []
    for i in range(0, len(data), 7):  # a pipe hands over bytes in any cut
        buffer.feed(data[i : i + 7])
        while (frame := buffer.take(1 << 20)) is not None:
            got.append(frame)
    assert got[0] == frames[0] and math.isnan(got[1]["result"]["x"])
    big = wire.FrameBuffer()
    big.feed(wire.encode({"kind": wire.MSG, "msg": "x" * 5000})[:10])
    with pytest.raises(wire.FrameError) as info:  # refused from its header alone
        big.take(1000)
    assert info.value.size > 1000
    bad = wire.FrameBuffer()
    bad.feed(wire.HEADER.pack(2) + b"[]")
    with pytest.raises(wire.FrameError):
        bad.take(1000)


def test_stream_messages_of_any_content_survive_the_fast_encoder():
    """Bar messages go through orjson: what it cannot write (an int past 64 bits)
    falls back to json, and a frame json wrote with NaN still decodes."""
    frames = [
        {"kind": wire.MSG, "msg": {"type": "candle", "bar_number": 2**70, "close": 1.5}},
        {"kind": wire.MSG, "msg": {"type": "stats", "pnl": -0.25, "symbol": "é"}},
        {"kind": wire.MSG, "msg": {"type": "complete", "result": {"sharpe": math.nan}}},
    ]
    got = [wire.decode(wire.encode(f)[wire.HEADER.size :]) for f in frames]
    assert got[:2] == frames[:2]
    assert math.isnan(got[2]["msg"]["result"]["sharpe"])


def test_the_job_pipe_reads_whole_frames():
    r, w = os.pipe()
    os.write(w, wire.encode({"mode": "run", "config": {"symbol": "DEMO"}}))
    os.close(w)
    assert wire.read_frame(r) == {"mode": "run", "config": {"symbol": "DEMO"}}
    assert wire.read_frame(r) is None  # end of file
    os.close(r)


def test_the_child_loads_the_wire_without_importing_algobt():
    """The supervisor must stay small: loading its code imports no algobt (nor pandas)."""
    code = (
        "import runpy, sys; ns = runpy.run_path(sys.argv[1], run_name='probe'); "
        "print(ns['wire'].HEADER.size, 'algobt' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(MAIN)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["4", "False", "False"]
