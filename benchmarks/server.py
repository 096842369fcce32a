"""Server benchmark: REST quick-run latency, WebSocket stream throughput, concurrent streams.

    python benchmarks/server.py             # about 3 minutes on 2 cores
    python benchmarks/server.py --quick     # fewer requests, two stream variants, 30 s ladder

Not collected by pytest. Loopback only: the script starts its own server
(``algobt.server.app.serve``) in a child process over a temporary SQLite file,
talks to it as a client would, and stops it. The server runs in its own
process so that the client's work (HTTP, WebSocket frames, JSON) does not
share the server's GIL, and so that the server's RSS and CPU time can be read
from ``/proc``; both processes share the same two cores.

1. ``POST /api/backtests/api/quick_run/`` on cached daily demo data (``DEMO``,
   period ``5y``): latency over ``--requests`` sequential requests (after two
   warm-up requests), once with a canonical JSON rule spec (runs in a thread of
   the server) and once with Python strategy source (runs in a fresh, spawned,
   resource-limited worker process per request, taken from
   the server, which keeps one pre-started worker (``WorkerPool(1)``), so a
   Python request is fast only when the previous one left time for the next
   worker's imports: the Python series runs back to back (the figure asked
   for), then ``--spaced`` more requests 2 s apart. The isolation cost is also
   measured apart, in this process: the same config through ``run_config``
   (no server, no worker; measured before the server starts), through
   ``run_isolated`` with a fresh process (``startup_seconds`` = spawn +
   imports) and with a prestarted ``WorkerPool``.
2. One stream of 100,000 synthetic one-minute bars (a Parquet file in the temp
   dir, given as ``symbol``) to one ``tornado.websocket.websocket_connect``
   client that reads as fast as it can: per candle, and with ``batch``
   (``batch_size`` 500); with and without per-message deflate. Wall time from
   ``start_backtest`` to ``complete``, split into loading+backtest and replay;
   messages/s; bytes received (decompressed payload and on the wire).
3. Concurrent paced streams: N clients each stream ``DEMO`` ``5y`` (1,258
   daily bars, JSON spec, one message per candle) at ``speed`` 250 bars/s
   (~5 s). N climbs a ladder (1, 2, 5, 10, 25, 50, 100, 200, 300, 500) until a
   step fails or the ladder's time budget (60 s) would be exceeded. A step
   passes when every stream completes without an error and its candles arrive
   on schedule: p99 lateness of all candles <= 250 ms, where a candle's
   lateness is its arrival minus its slot on the earliest schedule of one
   candle per 1/speed seconds that no candle of its stream beat (0 for perfect
   pacing, whatever the start delay), and no stream's replay takes more than
   1 s longer than 1,258/250 s. After the first failing step the ladder goes
   up to two steps further (unless errors appear) to show how it degrades.
   Reported per step: start latency (start_backtest -> first candle), lateness,
   server RSS and CPU, this client's CPU, and the latency of a JSON quick run
   and of ``GET /api/health/`` issued in the middle of the step.

Diagnostics: ``--executor-threads N`` replaces the server's run thread pool
(``JobRunner.executor``) with one of N threads, to test whether it is the
limit; such a run prints its figures and writes no files.

Results: ``benchmarks/results/server.md`` and ``server.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SEED = 20240101

SPEC = {
    "name": "EMA cross",
    "version": 1,
    "indicators": {"fast": {"type": "EMA", "period": 9}, "slow": {"type": "EMA", "period": 21}},
    "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    "exit": {"long": {"crosses_below": ["fast", "slow"]}},
}
SMA_CROSS = """
from algobt import Strategy
from algobt.lib import SMA, crossover

class SmaCross(Strategy):
    fast = 10
    slow = 30
    def init(self):
        self.a = self.I(SMA, self.data.Close, self.fast)
        self.b = self.I(SMA, self.data.Close, self.slow)
    def next(self):
        if crossover(self.a, self.b):
            self.position.close()
            self.buy()
        elif crossover(self.b, self.a):
            self.position.close()
            self.sell()
"""
DAILY = {"symbol": "DEMO", "period": "5y", "interval": "1d"}
QUICK_RUN = "/api/backtests/api/quick_run/"
STREAM_BARS = 100_000
LADDER = (1, 2, 5, 10, 25, 50, 100, 200, 300, 500)
MAX_CONNECTIONS = 500
PACE = 250.0  # bars per second of each concurrent stream
LATE_P99 = 0.25  # seconds
LATE_TOTAL = 1.0  # seconds a replay may overrun bars/speed
FINAL = ("complete", "error", "cancelled")


# --------------------------------------------------------------------------- helpers


def pct(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(seconds: list[float]) -> dict:
    if not seconds:
        return {"n": 0}
    return {
        "n": len(seconds),
        "p50_s": pct(seconds, 50),
        "p95_s": pct(seconds, 95),
        "mean_s": statistics.fmean(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
    }


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    value = seconds * 1000
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f}"


def msg_type(raw: str) -> str:
    """The ``type`` of a server message without parsing it all (``dumps`` keeps key
    order and every message starts with ``{"type": "...``)."""
    if raw.startswith('{"type": "'):
        end = raw.find('"', 10)
        if end > 0:
            return raw[10:end]
    try:
        return str(json.loads(raw).get("type"))
    except (ValueError, AttributeError):
        return "?"


# --------------------------------------------------------------------------- the server


def serve_child(db: str, executor_threads: int | None = None) -> int:
    """``--serve DB``: run the server here until stdin closes (the parent's signal)."""
    from algobt.server.app import serve

    server = serve(port=0, db=db, quiet=True, allow_files=True)  # part 2 streams a file
    if executor_threads:  # diagnostics only: a bigger run thread pool
        from concurrent.futures import ThreadPoolExecutor

        jobs = server.app.settings["jobs"]
        old, jobs.executor = (
            jobs.executor,
            ThreadPoolExecutor(executor_threads, thread_name_prefix="algobt-run"),
        )
        old.shutdown(wait=False)
    print(
        json.dumps({"base_url": server.base_url, "token": server.token, "pid": os.getpid()}),
        flush=True,
    )
    sys.stdin.read()
    server.stop()
    return 0


class ServerProcess:
    """The server in a child process (this script with ``--serve``)."""

    def __init__(self, tmp: Path, executor_threads: int | None = None):
        self.log_path = tmp / "server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                str(tmp / "algobt.db"),
                *(["--executor-threads", str(executor_threads)] if executor_threads else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=str(tmp),
            env=env,
        )
        line = self._readline(60)
        info = json.loads(line)
        self.base_url, self.token, self.pid = info["base_url"], info["token"], info["pid"]
        host, port = self.base_url.split("//")[1].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.ws_url = self.base_url.replace("http", "ws", 1) + "/ws/backtest/stream/"

    def _readline(self, timeout: float) -> str:
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if not out or not out[0]:
            self.stop()
            raise RuntimeError(f"the server did not start; see {self.log_path}")
        return out[0].decode()

    def status(self) -> dict:
        """VmRSS / VmHWM (bytes) and CPU seconds of the server process."""
        out = {}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    parts = value.split()
                    out[key] = int(parts[0]) * (1024 if key != "Threads" else 1)
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            tick = os.sysconf("SC_CLK_TCK")
            out["cpu_s"] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def open_files_limit(self) -> str | None:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    soft, hard = line.split()[3:5]
                    return f"{soft} (hard {hard})"
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.terminate()  # this child only, by its handle
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()

    def log_lines(self) -> list[str]:
        """Distinct non-empty lines the server wrote to stderr (warnings, tracebacks)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        seen: dict[str, int] = {}
        for line in text.splitlines():
            line = line.rstrip()
            if line:
                seen[line] = seen.get(line, 0) + 1
        return [f"{line}  (x{n})" if n > 1 else line for line, n in seen.items()]


class Http:
    """A keep-alive JSON client over one loopback connection."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=120)

    def request(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"token {self.server.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=120)
            raise
        return resp.status, payload, time.perf_counter() - t0

    def close(self):
        self.conn.close()


# --------------------------------------------------------------------------- 1. quick runs


def quick_run_series(
    http_: Http, config: dict, count: int, budget: float, *, gap: float = 0.0, warmup: int = 2
) -> dict:
    path = QUICK_RUN
    warm = []
    for _ in range(warmup):
        status, payload, seconds = http_.request("POST", path, config)
        warm.append(seconds)
        if status != 200:
            return {"error": f"HTTP {status}: {payload[:300]!r}", "warmup_s": warm}
    times, sizes, failures = [], [], []
    trades = None
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() - started > budget:
            break
        time.sleep(gap)
        status, payload, seconds = http_.request("POST", path, config)
        if status != 200:
            failures.append(f"HTTP {status}: {payload[:200]!r}")
            continue
        times.append(seconds)
        sizes.append(len(payload))
        if trades is None:
            body = json.loads(payload)
            trades = body.get("total_trades")
    return {
        **summary(times),
        "gap_s": gap,
        "times_s": times,
        "warmup_s": warm,
        "failures": failures,
        "response_bytes": statistics.median(sizes) if sizes else None,
        "total_trades": trades,
    }


def in_process_baseline(config: dict, repeats: int = 10) -> dict:
    """The same config run in this process, no server and no worker (compute only)."""
    from algobt.engine.run import run_config

    run_config(config).to_dict()  # warm: imports, numba, the demo cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_config(config).to_dict()
        times.append(time.perf_counter() - t0)
    return summary(times)


def isolation_breakdown(config: dict, runs: int) -> dict:
    """``run_isolated`` as the server calls it (a new process per run), and with a pool."""
    from algobt.server.worker import WorkerPool, run_isolated

    fresh, startup, cpu = [], [], []
    for _ in range(runs):
        usage: dict = {}
        t0 = time.perf_counter()
        run_isolated(config, usage=usage)
        fresh.append(time.perf_counter() - t0)
        if usage.get("startup_seconds") is not None:
            startup.append(usage["startup_seconds"])
        for key in ("cpu_seconds", "cpu"):
            if isinstance(usage.get(key), int | float):
                cpu.append(usage[key])
                break
    pooled = []
    with WorkerPool(size=1) as pool:
        for _ in range(runs):
            time.sleep(2.0)  # let the pool's next process finish its imports
            t0 = time.perf_counter()
            run_isolated(config, pool=pool)
            pooled.append(time.perf_counter() - t0)
    return {
        "fresh_process": summary(fresh),
        "startup_to_ready": summary(startup),
        "worker_cpu": summary(cpu),
        "prestarted_pool": summary(pooled),
    }


# --------------------------------------------------------------------------- 2. one big stream


def write_minute_bars(path: Path, n: int) -> None:
    """``n`` deterministic one-minute bars (trending regimes plus noise), as Parquet."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    regimes = np.repeat(rng.normal(0, 4e-5, n // 500 + 1), 500)[:n]
    close = 100 * np.exp(np.cumsum(regimes + rng.normal(0, 6e-4, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wiggle = np.abs(rng.normal(0, 3e-4, n)) * close
    frame = pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + wiggle,
            "Low": np.minimum(open_, close) - wiggle,
            "Close": close,
            "Volume": rng.integers(1, 1000, n).astype(float),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="Date"),
    )
    frame.to_parquet(path)


async def stream_once(server: ServerProcess, config: dict, *, compress: bool, timeout: float):
    from tornado.websocket import websocket_connect

    url = f"{server.ws_url}?token={server.token}"
    load_before = os.getloadavg()[0]
    conn = await websocket_connect(url, compression_options={} if compress else None)
    counts: dict[str, int] = {}
    marks: dict[str, float] = {}
    payload = 0
    complete_bytes = None
    error = None
    t0 = time.perf_counter()
    await conn.write_message(json.dumps({"action": "start_backtest", "config": config}))
    try:
        while True:
            left = timeout - (time.perf_counter() - t0)
            raw = await asyncio.wait_for(conn.read_message(), max(left, 0.001))
            now = time.perf_counter() - t0
            if raw is None:
                error = "the server closed the connection"
                break
            payload += len(raw)
            kind = msg_type(raw)
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "metadata":
                status = json.loads(raw).get("status")
                marks.setdefault(str(status), now)
            elif kind in ("candle", "candles"):
                marks.setdefault("first_candle", now)
            if kind in FINAL:
                marks[kind] = now
                if kind == "complete":
                    complete_bytes = len(raw)
                else:
                    error = raw[:300]
                break
    except TimeoutError:
        error = f"no complete within {timeout:.0f} s"
    wire = getattr(getattr(conn, "protocol", None), "_wire_bytes_in", None)
    conn.close()
    total = marks.get("complete")
    messages = sum(counts.values())
    out = {
        "batch": bool(config.get("batch")),
        "compressed": compress,
        "loadavg_1m_before": load_before,
        "error": error,
        "wall_s": total,
        "marks_s": marks,
        "messages": messages,
        "counts": counts,
        "payload_bytes": payload,
        "wire_bytes": wire,
        "complete_message_bytes": complete_bytes,
    }
    if total:
        out["messages_per_s"] = messages / total
        out["bars_per_s"] = STREAM_BARS / total
        replay = total - marks.get("streaming_visualization", 0.0)
        out["replay_s"] = replay
        out["replay_messages_per_s"] = messages / replay if replay > 0 else None
    return out


# --------------------------------------------------------------------------- 3. concurrency


class PacedClient:
    """One paced stream: when each of its candles arrived."""

    def __init__(self):
        self.conn = None
        self.connect_s = None
        self.start_latency = None
        self.arrivals: list[float] = []
        self.replay_s = None
        self.error = None
        self.done = False

    def lateness(self, pace: float) -> list[float]:
        """Each candle's arrival minus its slot on the earliest schedule (one candle
        every ``pace`` seconds) that no candle beat: 0 for a perfectly paced stream."""
        offsets = [t - k * pace for k, t in enumerate(self.arrivals)]
        if not offsets:
            return []
        anchor = min(offsets)
        return [o - anchor for o in offsets]


async def paced_client(url: str, config: dict, client: PacedClient, go: asyncio.Event, timeout):
    from tornado.websocket import websocket_connect

    t0 = time.perf_counter()
    try:
        client.conn = await asyncio.wait_for(websocket_connect(url), 30)
    except Exception as exc:  # connection refused, timeouts, too many files
        client.error = f"connect: {type(exc).__name__}: {exc}"
        return
    client.connect_s = time.perf_counter() - t0
    await go.wait()
    conn = client.conn
    start = time.perf_counter()
    first = None
    try:
        await conn.write_message(json.dumps({"action": "start_backtest", "config": config}))
        while True:
            left = timeout - (time.perf_counter() - start)
            raw = await asyncio.wait_for(conn.read_message(), max(left, 0.001))
            now = time.perf_counter()
            if raw is None:
                client.error = "closed by the server"
                return
            if raw.startswith('{"type": "candle"'):
                if first is None:
                    first = now
                    client.start_latency = now - start
                client.arrivals.append(now)
                continue
            kind = msg_type(raw)
            if kind in FINAL:
                if kind == "complete":
                    client.done = True
                    client.replay_s = now - (first or now)
                else:
                    client.error = raw[:200]
                return
    except TimeoutError:
        client.error = "timeout"
    except Exception as exc:
        client.error = f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def probe_requests(server: ServerProcess, out: dict) -> None:
    """Mid-step: a health check (no thread pool) and a JSON quick run (thread pool)."""
    client = Http(server)
    try:
        for name, method, path, body in (
            ("health", "GET", "/api/health/", None),
            ("quick_run_json", "POST", QUICK_RUN, {**DAILY, "strategy_code": SPEC}),
        ):
            try:
                status, _, seconds = client.request(method, path, body)
                out[name] = {"status": status, "seconds": seconds}
            except Exception as exc:
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()


async def concurrency_step(server: ServerProcess, n: int, config: dict, bars: int) -> dict:
    url = f"{server.ws_url}?token={server.token}"
    expected = bars / config["speed"]
    timeout = expected + 20
    go = asyncio.Event()
    clients = [PacedClient() for _ in range(n)]
    before = server.status()
    load_before = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    tasks = [asyncio.ensure_future(paced_client(url, config, c, go, timeout)) for c in clients]
    # Wait for every handshake (or its failure) before starting the streams together.
    t_connect = time.perf_counter()
    while time.perf_counter() - t_connect < 35 and not all(
        c.conn is not None or c.error for c in clients
    ):
        await asyncio.sleep(0.01)
    connect_wall = time.perf_counter() - t_connect
    go.set()
    t_start = time.perf_counter()
    probes: dict = {}
    rss_peak = 0
    probe_thread = None
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.25)
        rss_peak = max(rss_peak, server.status().get("VmRSS", 0))
        if probe_thread is None and time.perf_counter() - t_start >= expected / 2:
            probe_thread = threading.Thread(target=probe_requests, args=(server, probes))
            probe_thread.start()
    wall = time.perf_counter() - t_start
    if probe_thread is not None:
        probe_thread.join(60)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    after = server.status()
    lateness = [x for c in clients for x in c.lateness(1.0 / config["speed"])]
    errors = [c.error for c in clients if c.error]
    completed = sum(c.done for c in clients)
    replays = [c.replay_s for c in clients if c.replay_s is not None]
    starts = [c.start_latency for c in clients if c.start_latency is not None]
    connects = [c.connect_s for c in clients if c.connect_s is not None]
    late_p99 = pct(lateness, 99)
    on_time = (
        completed == n
        and not errors
        and late_p99 is not None
        and late_p99 <= LATE_P99
        and max(replays) <= expected + LATE_TOTAL
    )
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    server_cpu = after.get("cpu_s", 0) - before.get("cpu_s", 0)
    step = {
        "n": n,
        "passed": on_time,
        "completed": completed,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "expected_replay_s": expected,
        "loadavg_1m_before": load_before,
        "wall_s": wall,
        "connect_wall_s": connect_wall,
        "connect_p95_s": pct(connects, 95),
        "start_latency_p50_s": pct(starts, 50),
        "start_latency_max_s": max(starts) if starts else None,
        "lateness_p50_s": pct(lateness, 50),
        "lateness_p99_s": late_p99,
        "lateness_max_s": max(lateness) if lateness else None,
        "replay_max_s": max(replays) if replays else None,
        "candles": len(lateness),
        "server_rss_after_bytes": after.get("VmRSS"),
        "server_rss_peak_sampled_bytes": rss_peak or None,
        "server_rss_hwm_bytes": after.get("VmHWM"),
        "server_threads": after.get("Threads"),
        "server_cpu_s": server_cpu,
        "server_cpu_pct": 100 * server_cpu / wall if wall else None,
        "client_cpu_s": client_cpu,
        "client_cpu_pct": 100 * client_cpu / wall if wall else None,
        "probes": probes,
    }
    for c in clients:
        if c.conn is not None:
            c.conn.close()
    await asyncio.sleep(1.0)  # let the server see the closes and settle
    return step


async def concurrency_ladder(server: ServerProcess, ladder: tuple, budget: float) -> dict:
    from algobt.engine.data import load

    bars = len(load(DAILY["symbol"], period=DAILY["period"], interval=DAILY["interval"]))
    config = {**DAILY, "strategy_code": SPEC, "speed": PACE}
    expected = bars / PACE
    steps = []
    first_failure = None
    started = time.monotonic()
    for n in ladder:
        if n > MAX_CONNECTIONS:
            break
        # A step costs about expected + 2 s when it goes well; don't start one that
        # would take the ladder past its budget.
        if time.monotonic() - started + expected + 2 > budget:
            steps.append({"n": n, "skipped": f"the ladder's {budget:.0f} s budget"})
            break
        step = await concurrency_step(server, n, config, bars)
        steps.append(step)
        print(
            f"  N={n:4d}  {'ok  ' if step['passed'] else 'FAIL'}  completed {step['completed']}/{n}"
            f"  errors {step['errors']}  start p50 {ms(step['start_latency_p50_s'])} ms"
            f"  late p99 {ms(step['lateness_p99_s'])} ms max {ms(step['lateness_max_s'])} ms"
            f"  replay max {step['replay_max_s'] or 0:.2f}/{expected:.2f} s"
            f"  server RSS {mib(step['server_rss_after_bytes'])} MiB"
            f"  CPU server {step['server_cpu_pct'] or 0:.0f}%"
            f" client {step['client_cpu_pct'] or 0:.0f}%"
            f"  probes {_probe_text(step['probes'])}",
            flush=True,
        )
        if not step["passed"] and first_failure is None:
            first_failure = n
        if step["errors"] or (
            first_failure is not None and ladder.index(n) - ladder.index(first_failure) >= 2
        ):
            break
    passed = [
        s["n"]
        for s in steps
        if s.get("passed") and (first_failure is None or s["n"] < first_failure)
    ]
    return {
        "config": {**config, "strategy_code": "EMA cross (JSON spec)"},
        "bars": bars,
        "expected_replay_s": expected,
        "criteria": {"lateness_p99_s": LATE_P99, "replay_overrun_s": LATE_TOTAL},
        "steps": steps,
        "largest_on_time": max(passed) if passed else 0,
        "first_failure": first_failure,
        "ladder_seconds": time.monotonic() - started,
    }


def _probe_text(probes: dict) -> str:
    parts = []
    for name in ("health", "quick_run_json"):
        p = probes.get(name)
        if p is None:
            parts.append(f"{name} -")
        elif "error" in p:
            parts.append(f"{name} {p['error']}")
        else:
            parts.append(f"{name} {ms(p['seconds'])} ms")
    return ", ".join(parts)


# --------------------------------------------------------------------------- report


def versions() -> dict:
    import numpy
    import pandas
    import tornado

    return {
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tornado": tornado.version,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def _fast_count(series: dict, limit: float = 0.3) -> int:
    return sum(t < limit for t in series.get("times_s", []))


def _probe_cell(probes: dict, name: str) -> str:
    v = probes.get(name)
    if v is None:
        return "-"
    return v.get("error") or ms(v["seconds"])


def build_markdown(report: dict) -> str:
    m = report["machine"]
    q = report["quick_run"]
    lines = [
        "# Server benchmark",
        "",
        f"Machine: {m['arch']}, {m['cpus']} cores (shared; load average at start "
        f"{m['loadavg_at_start'][0]:.1f}), Python {m['python']}, tornado {m['tornado']}, "
        f"pandas {m['pandas']}. Server in a child process on 127.0.0.1, temporary SQLite "
        f"store; open-files limit: client {report['limits']['client_nofile']}, server "
        f"{report['limits']['server_nofile']}. Milliseconds unless marked.",
        "",
        "## 1. `POST /api/backtests/api/quick_run/` (DEMO, 5y daily, cached)",
        "",
        "| strategy | runs in | requests | p50 | p95 | mean | max | response |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label, where in (
        ("json", "JSON rule spec (EMA 9/21 cross)", "server thread"),
        ("python", "Python source (SMA 10/30 cross), back to back", "worker process"),
        ("python_spaced", "Python source, 2 s between requests", "worker process"),
    ):
        r = q.get(key)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"| {label} | {where} | error: {r['error']} | | | | | |")
            continue
        lines.append(
            f"| {label} | {where} | {r['n']} | {ms(r.get('p50_s'))} | {ms(r.get('p95_s'))} | "
            f"{ms(r.get('mean_s'))} | {ms(r.get('max_s'))} | "
            f"{(r['response_bytes'] or 0) / 1000:,.0f} kB |"
        )
    base = q["in_process"]
    iso = q["isolation"]
    lines += [
        "",
        "The same configs without the server (this process, before the server started, "
        f"`run_config(...).to_dict()`, median of {base['json']['n']}): JSON spec "
        f"{ms(base['json']['p50_s'])}, Python class {ms(base['python']['p50_s'])}. "
        f"HTTP, validation and saving the run add about "
        f"{ms(q['json']['p50_s'] - base['json']['p50_s'])} to a JSON request (p50 minus p50).",
        "",
        "Python isolation, measured apart (`run_isolated` in this process, "
        f"{iso['fresh_process']['n']} runs each):",
        "",
        "| path | p50 | max |",
        "|---|---:|---:|",
        f"| a fresh process per run | {ms(iso['fresh_process']['p50_s'])} | "
        f"{ms(iso['fresh_process']['max_s'])} |",
        f"| of which spawn + imports until the worker is ready | "
        f"{ms(iso['startup_to_ready']['p50_s'])} | {ms(iso['startup_to_ready']['max_s'])} |",
        f"| worker CPU for the job itself | {ms(iso['worker_cpu']['p50_s'])} | "
        f"{ms(iso['worker_cpu']['max_s'])} |",
        f"| a `WorkerPool(size=1)` worker started 2 s before (what the server keeps) | "
        f"{ms(iso['prestarted_pool']['p50_s'])} | {ms(iso['prestarted_pool']['max_s'])} |",
        "",
        "The server keeps one pre-started worker and starts the next one when it takes it, "
        "so back to back only every other Python request finds a ready worker "
        f"({_fast_count(q['python'])} of {q['python']['n']} under 300 ms; the others wait "
        f"for the next worker's imports; p50 {ms(q['python']['p50_s'])}); spaced 2 s apart "
        "they find it ready "
        f"(p50 {ms(q.get('python_spaced', {}).get('p50_s'))}). Isolation cost per request, "
        f"server p50 minus in-process p50: back to back "
        f"{ms(q['python']['p50_s'] - base['python']['p50_s'])}, spaced "
        + (
            ms(q["python_spaced"]["p50_s"] - base["python"]["p50_s"])
            if q.get("python_spaced", {}).get("p50_s") is not None
            else "-"
        )
        + ".",
        "",
        f"## 2. One stream of {STREAM_BARS:,} one-minute bars (Parquet file, JSON spec)",
        "",
        "Client reads as fast as it can. Load + backtest = until "
        "`metadata(streaming_visualization)`; replay = from there to `complete`.",
        "",
        "| mode | deflate | total s | load + backtest s | replay s | messages | msg/s | "
        "bars/s | payload MB | wire MB | `complete` kB | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["stream"]:
        mode = "batch (500 bars/message)" if s["batch"] else "one message per candle"
        if s.get("error"):
            lines.append(
                f"| {mode} | {'on' if s['compressed'] else 'off'} | error: {s['error']} |"
                + " |" * 9
            )
            continue
        prep = s["marks_s"].get("streaming_visualization")
        wire = s.get("wire_bytes")
        lines.append(
            f"| {mode} | {'on' if s['compressed'] else 'off'} | {s['wall_s']:.2f} | "
            f"{prep:.2f} | {s['replay_s']:.2f} | {s['messages']:,} | "
            f"{s['messages_per_s']:,.0f} | {s['bars_per_s']:,.0f} | "
            f"{s['payload_bytes'] / 1e6:,.1f} | {'-' if wire is None else f'{wire / 1e6:,.1f}'} | "
            f"{(s['complete_message_bytes'] or 0) / 1000:,.0f} | {s['loadavg_1m_before']:.1f} |"
        )
    c = report["concurrency"]
    lines += [
        "",
        f"## 3. Concurrent paced streams (DEMO 5y = {c['bars']:,} daily bars, JSON spec, "
        f"{PACE:.0f} bars/s, one message per candle, ~{c['expected_replay_s']:.1f} s each)",
        "",
        f"On time = all complete, no errors, p99 candle lateness <= {LATE_P99 * 1000:.0f} ms "
        f"and no replay longer than {c['expected_replay_s']:.2f} + {LATE_TOTAL:.0f} s. "
        "Probes: one `GET /api/health/` and one JSON quick run sent mid-step.",
        "",
        "| N | on time | completed | errors | start p50 / max | lateness p50 / p99 / max | "
        "slowest replay s | server RSS MiB (peak) | server CPU | client CPU | "
        "health probe | quick-run probe |",
        "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in c["steps"]:
        if "skipped" in s:
            lines.append(f"| {s['n']} | skipped: {s['skipped']} |" + " |" * 10)
            continue
        p = s["probes"]
        lines.append(
            f"| {s['n']} | {'yes' if s['passed'] else 'NO'} | {s['completed']} | {s['errors']} | "
            f"{ms(s['start_latency_p50_s'])} / {ms(s['start_latency_max_s'])} | "
            f"{ms(s['lateness_p50_s'])} / {ms(s['lateness_p99_s'])} / {ms(s['lateness_max_s'])} | "
            f"{s['replay_max_s'] or 0:.2f} | {mib(s['server_rss_after_bytes'])} "
            f"({mib(s['server_rss_peak_sampled_bytes'])}) | {s['server_cpu_pct'] or 0:.0f}% | "
            f"{s['client_cpu_pct'] or 0:.0f}% | {_probe_cell(p, 'health')} | "
            f"{_probe_cell(p, 'quick_run_json')} |"
        )
    lines += [
        "",
        f"**Largest N with every stream on time: {c['largest_on_time']}** "
        f"(ladder {', '.join(str(n) for n in report['settings']['ladder'])}; capped at "
        f"{MAX_CONNECTIONS} connections and {report['settings']['ladder_budget_s']:.0f} s). "
        "CPU columns are % of one core over the step; client and server share the 2 cores.",
        "",
    ]
    errors = [s for s in c["steps"] if s.get("error_samples")]
    if errors:
        lines += ["Errors seen:", ""]
        for s in errors:
            lines += [f"- N={s['n']}: {e}" for e in s["error_samples"]]
        lines.append("")
    if report["server_log"]:
        lines += ["## Server stderr (distinct lines)", "", "```"]
        lines += report["server_log"][:40]
        lines += ["```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="quick runs per strategy kind")
    parser.add_argument("--spaced", type=int, default=15, help="extra Python quick runs, 2 s apart")
    parser.add_argument(
        "--quick", action="store_true", help="10 (+5 spaced) requests, 2 streams, 30 s ladder"
    )
    parser.add_argument("--ladder-budget", type=float, default=60.0, help="seconds for part 3")
    parser.add_argument(
        "--parts", default="1,2,3", help="which parts to run (a subset writes no files)"
    )
    parser.add_argument(
        "--executor-threads",
        type=int,
        help="diagnostics: give the server's JobRunner a pool of this many threads "
        "(writes no files)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve_child(args.serve, args.executor_threads)
    if args.quick:
        args.requests, args.spaced, args.ladder_budget = 10, 5, 30.0
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    write = parts == {"1", "2", "3"} and not args.executor_threads

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    report: dict = {
        "machine": versions(),
        "settings": {
            "requests": args.requests,
            "spaced_requests": args.spaced,
            "ladder": list(LADDER),
            "ladder_budget_s": args.ladder_budget,
            "max_connections": MAX_CONNECTIONS,
            "pace_bars_per_s": PACE,
            "stream_bars": STREAM_BARS,
            "quick": args.quick,
            "executor_threads": args.executor_threads,
        },
    }
    json_cfg = {**DAILY, "strategy_code": SPEC}
    py_cfg = {**DAILY, "strategy_code": SMA_CROSS}
    if "1" in parts:
        # Before the server starts, so nothing else of ours competes for the cores.
        print("1. in-process baselines and run_isolated (no server) ...", flush=True)
        report["quick_run"] = {
            "in_process": {
                "json": in_process_baseline(json_cfg),
                "python": in_process_baseline(py_cfg),
            },
            "isolation": isolation_breakdown(py_cfg, 3 if args.quick else 5),
        }
    with tempfile.TemporaryDirectory(prefix="algobt-bench-") as tmp_name:
        tmp = Path(tmp_name)
        server = ServerProcess(tmp, args.executor_threads)
        try:
            report["limits"] = {
                "client_nofile": f"{soft} (hard {hard})",
                "server_nofile": server.open_files_limit(),
            }
            print(f"server pid {server.pid} at {server.base_url}", flush=True)
            report["server_rss_start_bytes"] = server.status().get("VmRSS")

            if "1" in parts:
                quick = report["quick_run"]
                client = Http(server)
                print("1. quick_run: JSON spec ...", flush=True)
                quick["json"] = quick_run_series(client, json_cfg, args.requests, budget=60)
                print(
                    f"   p50 {ms(quick['json'].get('p50_s'))} ms  "
                    f"p95 {ms(quick['json'].get('p95_s'))} ms",
                    flush=True,
                )
                print("1. quick_run: Python source, back to back ...", flush=True)
                quick["python"] = quick_run_series(client, py_cfg, args.requests, budget=120)
                print(
                    f"   p50 {ms(quick['python'].get('p50_s'))} ms  p95 "
                    f"{ms(quick['python'].get('p95_s'))} ms",
                    flush=True,
                )
                print(
                    f"1. quick_run: Python source, {args.spaced} requests 2 s apart ...", flush=True
                )
                quick["python_spaced"] = quick_run_series(
                    client, py_cfg, args.spaced, budget=60, gap=2.0, warmup=0
                )
                print(
                    f"   p50 {ms(quick['python_spaced'].get('p50_s'))} ms  p95 "
                    f"{ms(quick['python_spaced'].get('p95_s'))} ms",
                    flush=True,
                )
                client.close()
                time.sleep(2.0)  # the pool's next worker finishes its imports
                report["server_rss_after_quick_runs_bytes"] = server.status().get("VmRSS")

            if "2" in parts:
                bars_path = tmp / "minute100k.parquet"
                write_minute_bars(bars_path, STREAM_BARS)
                variants = [(False, False), (True, False)]
                if not args.quick:
                    variants += [(False, True), (True, True)]
                streams = []
                for batch, compress in variants:
                    config = {
                        "symbol": str(bars_path),
                        "interval": "1m",
                        "strategy_code": SPEC,
                        "batch": batch,
                    }
                    print(
                        f"2. stream {STREAM_BARS:,} bars batch={batch} deflate={compress} ...",
                        flush=True,
                    )
                    s = asyncio.run(stream_once(server, config, compress=compress, timeout=180))
                    streams.append(s)
                    if s.get("error"):
                        print(f"   error: {s['error']}", flush=True)
                    else:
                        print(
                            f"   {s['wall_s']:.2f} s (load+backtest "
                            f"{s['marks_s'].get('streaming_visualization', 0):.2f} s), "
                            f"{s['messages']:,} messages, {s['messages_per_s']:,.0f} msg/s, "
                            f"{s['payload_bytes'] / 1e6:.1f} MB payload, "
                            f"{(s['wire_bytes'] or 0) / 1e6:.1f} MB wire",
                            flush=True,
                        )
                report["stream"] = streams
                report["server_rss_after_streams_bytes"] = server.status().get("VmRSS")

            if "3" in parts:
                print(f"3. concurrent paced streams ({PACE:.0f} bars/s) ...", flush=True)
                report["concurrency"] = asyncio.run(
                    concurrency_ladder(server, LADDER, args.ladder_budget)
                )
            report["server_status_end"] = server.status()
        finally:
            server.stop()
            report["server_log"] = server.log_lines()

    if not write:
        print("\n(a subset of parts or --executor-threads: no files written)")
        for line in report["server_log"]:
            print("server:", line)
        return 0
    report["markdown"] = build_markdown(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "server.md").write_text(report["markdown"])
    data = {k: v for k, v in report.items() if k != "markdown"}
    (RESULTS / "server.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    print()
    print(report["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
