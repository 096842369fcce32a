"""The server in its own process, and in a running asyncio loop as a Jupyter kernel has it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import algobt
from algobt.examples import SmaCross
from algobt.store import Store
from tests.server.conftest import Client

TOKEN = "process-test-token-0123456789abcdef"


@pytest.fixture
def server_process(tmp_path):
    db = tmp_path / "shared.db"
    Store(db).close()  # created up front: both processes open an existing file
    env = {**os.environ, "ALGOBT_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobt", "serve", "--port", "0", "--db", str(db), "--token", TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).parents[2],
    )
    url = None
    deadline = time.time() + 60
    while time.time() < deadline and url is None:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"open (http://[^/]+)/\?token=", line)
        if match:
            url = match.group(1)
    assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
    yield url, db
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert TOKEN not in proc.stderr.read()  # the access log never shows it


def test_a_notebook_run_shows_up_in_another_process_server(server_process):
    url, db = server_process
    result = algobt.backtest(
        SmaCross, "DEMO", period="2y", strategy_name="from a notebook", save=db, commission=0.001
    )
    client = Client(url, token=TOKEN)
    status, listed = client.get("/api/strategies/strategies/?search=notebook")
    assert status == 200 and listed["count"] == 1
    strategy_id = listed["results"][0]["id"]
    status, latest = client.get(f"/api/strategies/latest-backtest/{strategy_id}/get_by_strategy/")
    assert status == 200
    assert latest["total_trades"] == result["# Trades"]
    assert latest["final_equity"] == result["Equity Final [$]"]
    assert latest["sharpe_ratio"] == result["Sharpe Ratio"]

    # And the other way round: a web run lands where the notebook reads.
    status, web = client.post(
        "/api/backtests/api/quick_run/",
        {"strategy_id": strategy_id, "symbol": "DEMO-FX", "period": "1y"},
    )
    assert status == 200, web
    with Store(db) as store:
        mine = store.latest_by_strategy(strategy_id)
    assert mine["symbol"] == "DEMO-FX" and mine["final_equity"] == web["final_equity"]


def test_serve_inside_a_running_loop_does_not_block_it(tmp_path):
    from tornado.httpclient import AsyncHTTPClient

    async def kernel():
        ticks = 0
        server = algobt.serve(db=tmp_path / "k.db", quiet=True)  # returns at once
        try:
            assert server._thread is None  # on this loop, not a thread of its own
            client = AsyncHTTPClient()
            fetch = asyncio.ensure_future(
                client.fetch(
                    f"{server.base_url}/api/health/",
                    headers={"Authorization": f"token {server.token}"},
                )
            )
            while not fetch.done():  # "other cells" keep running meanwhile
                ticks += 1
                await asyncio.sleep(0.001)
            body = json.loads((await fetch).body)
            assert body["status"] == "ok"
        finally:
            server.stop()
        with pytest.raises(ConnectionRefusedError):  # stopped: the port is free again
            await AsyncHTTPClient().fetch(f"{server.base_url}/api/health/", request_timeout=2)
        return ticks

    assert asyncio.run(kernel()) > 0
