"""frontend/src/player.js (pacing, pause, resume) under Node with a fake clock and timer."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

PLAYER = Path(__file__).resolve().parents[2] / "frontend" / "src" / "player.js"

SCRIPT = """
import { Player } from %(module)s;
let t = 0;
const timers = [];
const schedule = (fn) => { timers.push(fn); return timers.length; };
const tick = (ms) => { t += ms; const fns = timers.splice(0); fns.forEach((f) => f()); };
const got = [];
const bar = (n) => ({ type: 'candle', bar_number: n, timestamp: 'x' });
const out = {};

// speed 0: everything queued goes out in order on the next tick
const opts = (speed) => ({ speed, now: () => t, schedule });
let p = new Player((e) => got.push(e.type + (e.bars ? e.bars.length : '')), opts(0));
p.push({ type: 'metadata' });
p.push({ type: 'candles', bars: [bar(1), bar(2), bar(3)] });
p.push({ type: 'signal' });
tick(16);
out.fast = got.splice(0);

// 10 bars/s, ticks of 100 ms: a batch of 5 is handed on one bar per tick; a signal waits its turn
const numbers = (e) => (e.type === 'candles' ? e.bars.map((b) => b.bar_number) : e.type);
p = new Player((e) => got.push(numbers(e)), opts(10));
p.push({ type: 'candles', bars: [bar(1), bar(2), bar(3), bar(4), bar(5)] });
p.push({ type: 'signal' });
const paced = [];
for (let i = 0; i < 6; i++) { tick(100); paced.push(got.splice(0)); }
out.paced = paced;

// pause holds everything; resume goes on; clear drops what is queued
p = new Player((e) => got.push(e.bar_number), opts(0));
p.pause(); p.push(bar(1)); p.push(bar(2)); tick(16); out.paused = got.splice(0);
p.resume(); tick(16); out.resumed = got.splice(0);
p.pause(); p.push(bar(3)); p.clear(); p.resume(); tick(16); out.cleared = got.splice(0);
console.log(JSON.stringify(out));
"""


def test_player_paces_pauses_and_resumes():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = SCRIPT % {"module": json.dumps(PLAYER.as_uri())}
    run = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["fast"] == ["metadata", "candles3", "signal"]
    assert out["paced"] == [[[1]], [[2]], [[3]], [[4]], [[5], "signal"], []]
    assert out["paused"] == [] and out["resumed"] == [1, 2] and out["cleared"] == []
