"""``algobt serve`` as a real process: a port in use, weak tokens on a public bind, and
stopping on SIGINT or SIGTERM, workers included, however the process was started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from algobt.errors import ConfigError
from tests.server.conftest import Client

ROOT = Path(__file__).parents[2]
TOKEN = "serve-command-token-0123456789abcdefghij"
SLOW = (
    "from algobt import Strategy\n\n"
    "class Slow(Strategy):\n"
    "    def next(self):\n"
    "        import time\n"
    "        time.sleep(0.05)\n"
)


def start(tmp_path, *args, ignore_sigint=False):
    """``algobt serve`` in its own process; returns (process, base URL)."""
    env = {**os.environ, "ALGOBT_HOME": str(tmp_path / "home")}

    def ignore():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup algobt serve &` starts it

    proc = subprocess.Popen(
        [sys.executable, "-m", "algobt", "serve", "--db", str(tmp_path / "s.db"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        preexec_fn=ignore if ignore_sigint else None,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"open (http://[^/]+)/\?token=", line)
        if found:
            return proc, found.group(1)
    proc.kill()
    raise AssertionError(f"no URL printed: {proc.communicate()}")


def run_cli(*args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "algobt", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_port_in_use_says_which_and_how_to_pick_another(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run_cli("serve", "--port", str(port), "--db", str(tmp_path / "a.db"))
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0  # one line
        assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
        assert "--port 0" in proc.stderr
        from algobt.server.app import serve

        with pytest.raises(ConfigError, match=f"port {port} .* already in use") as err:
            serve(port=port, db=tmp_path / "b.db", quiet=True)
        assert err.value.field == "port" and "port=0" in err.value.message


def test_port_0_picks_a_free_port_and_prints_it(tmp_path):
    proc, url = start(tmp_path, "--port", "0", "--token", TOKEN)
    try:
        port = int(url.rsplit(":", 1)[1])
        assert port > 0
        status, health = Client(url, token=TOKEN).get("/api/health/")
        assert status == 200 and health["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize(
    "token, why",
    [("T", "it has 1 character"), ("ab" * 20, "only 2 different characters")],
)
def test_a_public_bind_refuses_a_weak_token_and_says_how_to_make_one(tmp_path, token, why):
    proc = run_cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--allow-remote",
        "--token",
        token,
        "--db",
        str(tmp_path / "w.db"),
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert why in proc.stderr
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in proc.stderr
    assert not (tmp_path / "w.db").exists()  # refused before anything was opened


def test_a_public_bind_takes_a_strong_token(tmp_path):
    import secrets

    strong = secrets.token_urlsafe(32)
    proc, url = start(
        tmp_path, "--host", "0.0.0.0", "--allow-remote", "--token", strong, "--port", "0"
    )
    try:
        port = url.rsplit(":", 1)[1]
        status, _ = Client(f"http://127.0.0.1:{port}", token=strong).get("/api/health/")
        assert status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _busy_worker(url: str) -> list[psutil.Process]:
    """Queue a slow Python run (it runs in a worker process); the server's descendants
    once the run is running."""
    client = Client(url, token=TOKEN)
    status, run = client.post(
        "/api/backtests/api/run_backtest/",
        {"strategy_code": SLOW, "symbol": "DEMO", "period": "1y"},
    )
    assert status == 202, run
    deadline = time.time() + 60
    while time.time() < deadline:
        _, now = client.get(f"/api/backtests/api/status/{run['id']}/")
        if now["status"] == "running":
            break
        time.sleep(0.1)
    assert now["status"] == "running", now
    return run["id"]


@pytest.mark.parametrize(
    "sig, ignore_sigint",
    [
        (signal.SIGINT, False),  # Ctrl-C in a terminal
        (signal.SIGINT, True),  # `nohup algobt serve &`, then `kill -INT`
        (signal.SIGTERM, True),
    ],
    ids=["sigint-foreground", "sigint-inherited-ignored", "sigterm"],
)
def test_a_signal_stops_the_server_and_its_workers(tmp_path, sig, ignore_sigint):
    proc, url = start(tmp_path, "--port", "0", "--token", TOKEN, ignore_sigint=ignore_sigint)
    try:
        _busy_worker(url)
        deadline, children = time.time() + 20, []
        while not children and time.time() < deadline:  # "running" comes just before the spawn
            children = psutil.Process(proc.pid).children(recursive=True)
            time.sleep(0.05)
        assert children  # the run's worker (and its supervisor)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
        assert "algobt server stopped" in proc.stdout.read()
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _headers(url, method, path, headers):
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def test_allow_origin_answers_cors_for_that_origin_only(tmp_path):
    dev = "http://localhost:3000"
    proc, url = start(tmp_path, "--port", "0", "--token", TOKEN, "--allow-origin", dev)
    try:
        preflight = {"Origin": dev, "Access-Control-Request-Method": "POST"}
        status, headers = _headers(url, "OPTIONS", "/api/strategies/strategies/", preflight)
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == dev
        assert "Authorization" in headers["Access-Control-Allow-Headers"]

        other = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
        status, headers = _headers(url, "OPTIONS", "/api/strategies/strategies/", other)
        assert status == 403 and "Access-Control-Allow-Origin" not in headers

        auth = {"Origin": dev, "Authorization": f"token {TOKEN}"}
        status, headers = _headers(url, "GET", "/api/health/", auth)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == dev
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_default_is_same_origin_only(tmp_path):
    proc, url = start(tmp_path, "--port", "0", "--token", TOKEN)
    try:
        preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
        status, headers = _headers(url, "OPTIONS", "/api/strategies/strategies/", preflight)
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_an_origin_that_is_not_one_is_refused_at_start(tmp_path):
    out = run_cli(
        "serve",
        "--db",
        str(tmp_path / "s.db"),
        "--port",
        "0",
        "--allow-origin",
        "http://x.example/",
    )
    assert out.returncode != 0
    assert "is not an origin" in out.stderr + out.stdout
