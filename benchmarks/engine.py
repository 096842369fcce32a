"""Engine benchmark: one SMA(10/30) crossover through every way algobt (and others) can run it.

    python benchmarks/engine.py                # full run, a few minutes
    python benchmarks/engine.py --quick        # 3 repeats, backtesting.py on daily only
    python benchmarks/engine.py --canceled     # only the canceled-orders cases

Not collected by pytest. Data are deterministic (fixed seed): 2,520 daily bars
(10 years) and 1,000,000 one-minute bars (the first 100,000 of them are the
"100k" set), trending regimes plus noise (see ``make_arrays``). The strategy
is the same everywhere: long only, all in, whole units, 0.1 % commission per
side, market orders filled at the next bar's open; enter when SMA(10) crosses
above SMA(30), exit when it crosses below.

Engines (each warmed up once on the daily data, then timed; the figure is the
median wall time of up to ``--repeats`` runs within ``--budget`` seconds):

* ``fast: simulate_signals``: the numba kernel on precomputed signal arrays,
  equity curve and trade records out, no stats;
* ``fast: from_signals``: the same plus trades table and full stats (pandas);
* ``class API``: ``Backtest`` with a crossover ``Strategy`` (stats included);
* ``JSON rules``: ``algobt.engine.rules.run_spec`` (indicators, signals, fast
  path, stats), skipped if that module is missing;
* ``vectorbt``: ``Portfolio.from_signals`` on the same precomputed signals
  (shifted one bar, filled at the open, ``size_granularity=1``), skipped if
  vectorbt is not installed; its equity curve (``pf.value()``) is timed apart;
* ``backtesting.py``: the same strategy class with backtesting.py's imports
  (its progress bar silenced).

The canceled-orders cases (``CANCELED``; ``--canceled`` runs only them): the same
signals with too little cash, so the broker cancels most entries (1M bars, ~14,000
canceled) or all of them (200k bars), one alert each; the kernel alone,
``from_signals`` with its stats and vectorbt's ``Portfolio.from_signals(...).stats()``
side by side in one process.

Every engine must agree with the kernel on trade count and final equity, else
the run says MISMATCH and exits with 1. Also measured, each in a fresh
process: peak memory of a 1M-bar kernel run relative to its input arrays, and
the cold start (new process, numba cache already on disk) to a first result.
Results: ``benchmarks/results/engine.md`` and ``engine.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SEED = 20240101
CASH = 10_000.0
COMMISSION = 0.001
FAST, SLOW = 10, 30
SIZES = {"daily": 2_520, "minute_100k": 100_000, "minute_1m": 1_000_000}
LABELS = {"daily": "daily 2,520", "minute_100k": "minute 100k", "minute_1m": "minute 1M"}
SPEC = {
    "name": "SMA cross",
    "version": 1,
    "indicators": {
        "fast": {"type": "SMA", "period": FAST},
        "slow": {"type": "SMA", "period": SLOW},
    },
    "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    "exit": {"long": {"crosses_below": ["fast", "slow"]}},
    "risk": {"size_pct": 100},
}


# --- data ------------------------------------------------------------------------------------


def make_arrays(n: int, volatility: float, seed: int, regime_bars: float, trend: float):
    """OHLC float64 arrays in cents: noise of ``volatility`` per bar on top of trending
    regimes (drift ``trend * volatility`` per bar, up or down, lasting ``regime_bars`` on
    average, leaning back toward 100), with opening gaps and wicks.

    The regimes matter: on a plain random walk an SMA crossover pays 0.2 % per round trip
    for nothing and the account is too small to trade long before 1M bars are over, so
    most orders would be canceled and the benchmark would time an idle engine.
    """
    rng = np.random.default_rng(seed)
    drift = np.empty(n)
    i, level = 0, 0.0
    while i < n:
        length = min(int(rng.exponential(regime_bars)) + 1, n - i)
        sign = 1.0 if rng.random() < 1 / (1 + math.exp(4 * level)) else -1.0
        drift[i : i + length] = sign * trend * volatility
        level += sign * trend * volatility * length
        i += length
    close = np.round(100 * np.exp(np.cumsum(drift + rng.normal(0, volatility, n))), 2)
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = np.round(close[:-1] * np.exp(rng.normal(0, volatility / 4, n - 1)), 2)
    wick = np.abs(rng.normal(0, volatility / 2, (2, n)))
    high = np.round(np.maximum(open_, close) * (1 + wick[0]), 2)
    low = np.round(np.minimum(open_, close) * (1 - wick[1]), 2)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    return open_, high, low, close


DAILY = dict(volatility=0.015, seed=SEED, regime_bars=60, trend=0.1)
MINUTE = dict(volatility=0.0008, seed=SEED + 1, regime_bars=400, trend=0.155)


def make_data(name: str):
    import pandas as pd

    if name == "daily":
        o, h, l, c = make_arrays(SIZES["daily"], **DAILY)
        index = pd.bdate_range("2014-01-02", periods=len(c), tz="UTC", name="Date")
    else:
        o, h, l, c = make_arrays(SIZES["minute_1m"], **MINUTE)
        index = pd.date_range("2022-01-03", periods=len(c), freq="min", tz="UTC", name="Date")
        if name == "minute_100k":
            n = SIZES["minute_100k"]
            o, h, l, c, index = o[:n], h[:n], l[:n], c[:n], index[:n]
    volume = np.full(len(c), 1_000.0)
    df = pd.DataFrame({"Open": o, "High": h, "Low": l, "Close": c, "Volume": volume}, index=index)
    df.attrs["symbol"] = f"BENCH-{name.upper()}"
    return df


def cross_signals(close: np.ndarray):
    """Entry/exit bools: SMA(10) crosses above / below SMA(30), as ``crossover()`` sees it."""
    from algobt.lib import SMA

    fast, slow = SMA(close, FAST), SMA(close, SLOW)
    up = np.zeros(len(close), bool)
    down = np.zeros(len(close), bool)
    up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down[1:] = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    return up, down


# --- engines: each returns (closed trades, final equity) --------------------------------------


def engine_fast_sim(df, up, down):
    from algobt.engine.fast import simulate_signals

    arrays = [df[c].to_numpy() for c in ("Open", "High", "Low", "Close")]

    def run():
        sim = simulate_signals(*arrays, up, down, cash=CASH, commission_rate=COMMISSION)
        return len(sim.trades), float(sim.equity[-1])

    return run


def engine_fast_full(df, up, down):
    from algobt.engine.fast import from_signals

    def run():
        result = from_signals(df, up, down, cash=CASH, commission=COMMISSION)
        return int(result["# Trades"]), float(result["Equity Final [$]"])

    return run


def _strategy_class(pkg: str):
    """The same crossover strategy source for algobt and backtesting.py (only imports differ)."""
    source = f"""
from {pkg} import Strategy
from {pkg}.lib import crossover
from algobt.lib import SMA

class SmaCrossLong(Strategy):
    fast = {FAST}
    slow = {SLOW}

    def init(self):
        self.sma_fast = self.I(SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma_fast, self.sma_slow) and not self.position:
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast) and self.position:
            self.position.close()
"""
    namespace: dict = {}
    exec(compile(source, f"<SmaCrossLong for {pkg}>", "exec"), namespace)
    return namespace["SmaCrossLong"]


def engine_class(df, up, down):
    from algobt import Backtest

    bt = Backtest(df, _strategy_class("algobt"), cash=CASH, commission=COMMISSION)

    def run():
        result = bt.run()
        return int(result["# Trades"]), float(result["Equity Final [$]"])

    return run


def engine_rules(df, up, down):
    from algobt.engine.rules import run_spec

    def run():
        result = run_spec(SPEC, df, cash=CASH, commission=COMMISSION)
        return int(result["# Trades"]), float(result["Equity Final [$]"])

    return run


def engine_vectorbt(df, up, down):
    import vectorbt as vbt

    # vectorbt fills on the signal bar at the given price: shift the signals one bar and
    # fill at the open to get next-bar-open fills.
    entries, exits = np.r_[False, up[:-1]], np.r_[False, down[:-1]]
    close, open_ = df["Close"].to_numpy(), df["Open"].to_numpy()

    def run():
        pf = vbt.Portfolio.from_signals(
            close,
            entries,
            exits,
            price=open_,
            fees=COMMISSION,
            init_cash=CASH,
            size=np.inf,
            size_granularity=1,
        )
        return int(pf.trades.closed.count()), float(pf.final_value())

    return run


def engine_vectorbt_value(df, up, down):
    """vectorbt including its equity curve, the kernel's other output."""
    import vectorbt as vbt

    entries, exits = np.r_[False, up[:-1]], np.r_[False, down[:-1]]
    close, open_ = df["Close"].to_numpy(), df["Open"].to_numpy()

    def run():
        pf = vbt.Portfolio.from_signals(
            close,
            entries,
            exits,
            price=open_,
            fees=COMMISSION,
            init_cash=CASH,
            size=np.inf,
            size_granularity=1,
        )
        value = pf.value()
        return int(pf.trades.closed.count()), float(np.asarray(value)[-1])

    return run


def engine_backtesting_py(df, up, down):
    import backtesting

    bt = backtesting.Backtest(df, _strategy_class("backtesting"), cash=CASH, commission=COMMISSION)

    def run():
        result = bt.run()
        return int(result["# Trades"]), float(result["Equity Final [$]"])

    return run


ENGINES = [
    # key, label, factory, datasets, module needed
    (
        "fast_sim",
        "algobt fast: simulate_signals (no stats)",
        engine_fast_sim,
        ("daily", "minute_100k", "minute_1m"),
        None,
    ),
    (
        "fast_full",
        "algobt fast: from_signals (with stats)",
        engine_fast_full,
        ("daily", "minute_100k", "minute_1m"),
        None,
    ),
    (
        "class",
        "algobt class API: Backtest",
        engine_class,
        ("daily", "minute_100k", "minute_1m"),
        None,
    ),
    (
        "rules",
        "algobt JSON rules: run_spec",
        engine_rules,
        ("daily", "minute_100k", "minute_1m"),
        "algobt.engine.rules",
    ),
    (
        "vectorbt",
        "vectorbt Portfolio.from_signals",
        engine_vectorbt,
        ("daily", "minute_100k", "minute_1m"),
        "vectorbt",
    ),
    (
        "vectorbt_value",
        "vectorbt from_signals + value()",
        engine_vectorbt_value,
        ("daily", "minute_100k", "minute_1m"),
        "vectorbt",
    ),
    (
        "backtesting_py",
        "backtesting.py 0.6",
        engine_backtesting_py,
        ("daily", "minute_100k", "minute_1m"),
        "backtesting",
    ),
]


# --- the canceled-orders case ----------------------------------------------------------------

#: Cases where the broker cancels most entries, each raising an alert: key -> (label,
#: bars of the minute data, cash, commission). With 1,000 of cash and 0.3 % per side
#: the account runs low and cannot buy one unit (prices 36-397) for most of the run;
#: with 30 it never can.
CANCELED = {
    "low_1m": ("1M bars, account runs low", 1_000_000, 1_000.0, 0.003),
    "all_200k": ("200k bars, every entry canceled", 200_000, 30.0, 0.001),
}
CANCELED_ENGINES = (
    ("kernel", "algobt simulate_signals (kernel alone)"),
    ("from_signals", "algobt from_signals (with stats)"),
    ("stats", "of which compute_stats alone"),
    ("vectorbt", "vectorbt Portfolio.from_signals(...).stats()"),
)


def canceled_runs(df, up, down, cash: float, commission: float) -> dict:
    """key -> run() returning (closed trades, final equity, alerts or None)."""
    from algobt.engine.fast import from_signals, simulate_signals

    arrays = [df[c].to_numpy() for c in ("Open", "High", "Low", "Close")]

    def kernel():
        sim = simulate_signals(*arrays, up, down, cash=cash, commission_rate=commission)
        return len(sim.trades), float(sim.equity[-1]), len(sim.alerts)

    def full():
        result = from_signals(df, up, down, cash=cash, commission=commission)
        return int(result["# Trades"]), float(result["Equity Final [$]"]), len(result.alerts)

    from algobt.engine.fast import trades_from_records
    from algobt.engine.metrics import compute_stats

    sim = simulate_signals(*arrays, up, down, cash=cash, commission_rate=commission)
    trades = trades_from_records(sim.trades, df.index, sl_on=False, tp_on=False)

    def stats_only():
        stats = compute_stats(trades, sim.equity, df, "x", risk_free_rate=0.0, warmup_bars=0)
        return int(stats["# Trades"]), float(stats["Equity Final [$]"]), None

    runs = {"kernel": kernel, "from_signals": full, "stats": stats_only}
    if _available("vectorbt") is None:
        import vectorbt as vbt

        # Next-bar-open fills as in ``engine_vectorbt``; a Series index gives stats() its
        # frequency.
        entries, exits = np.r_[False, up[:-1]], np.r_[False, down[:-1]]

        def vectorbt():
            pf = vbt.Portfolio.from_signals(
                df["Close"],
                entries,
                exits,
                price=df["Open"],
                fees=commission,
                init_cash=cash,
                size=np.inf,
                size_granularity=1,
            )
            stats = pf.stats()
            return int(stats["Total Closed Trades"]), float(stats["End Value"]), None

        runs["vectorbt"] = vectorbt
    return runs


def run_canceled(args) -> dict:
    """Time the canceled-orders cases, all engines side by side in this process."""
    minute = make_data("minute_1m")
    small = minute.iloc[:5_000]  # warm-up data (vectorbt's stats need a fixed frequency)
    cases = {}
    for key, (label, bars, cash, commission) in CANCELED.items():
        df = minute.iloc[:bars]
        up, down = cross_signals(df["Close"].to_numpy())
        warm = canceled_runs(small, *cross_signals(small["Close"].to_numpy()), cash, commission)
        case = {
            "label": label,
            "bars": bars,
            "cash": cash,
            "commission": commission,
            "entries": int(up.sum()),
            "cells": {},
        }
        for name, fn in canceled_runs(df, up, down, cash, commission).items():
            warm[name]()  # imports and numba compilation, on small data
            seconds, count, (trades, equity, alerts) = time_median(fn, args.repeats, args.budget)
            case["cells"][name] = {
                "median_s": seconds,
                "runs": count,
                "trades": trades,
                "final_equity": equity,
                "alerts": alerts,
            }
            print(
                f"{label:34s} {name:13s} {fmt_ms(seconds):>10s} ms  (x{count})  {trades} trades, "
                f"equity {equity:,.2f}, alerts {alerts}",
                flush=True,
            )
        ref = case["cells"]["kernel"]
        for cell in case["cells"].values():
            cell["agrees"] = cell["trades"] == ref["trades"] and abs(
                cell["final_equity"] - ref["final_equity"]
            ) <= 1e-9 * max(abs(ref["final_equity"]), 1.0)
        cases[key] = case
    return cases


def canceled_report(cases: dict) -> tuple[list[str], list[dict]]:
    """Markdown lines and targets for the canceled-orders cases."""
    lines = [
        "## Canceled orders (one alert per canceled entry)",
        "",
        "The same SMA crossover on the minute data with too little cash; median warm wall "
        "time in milliseconds (runs in brackets), all measured side by side in one process.",
        "",
        "| case | entries | "
        + " | ".join(label for _, label in CANCELED_ENGINES)
        + " | trades | alerts |",
        "|---|---:|" + "---:|" * (len(CANCELED_ENGINES) + 2),
    ]
    targets = []
    for case in cases.values():
        cells = case["cells"]
        row = []
        for name, _ in CANCELED_ENGINES:
            c = cells.get(name)
            if c is None:
                row.append("not run")
            else:
                flag = "" if c["agrees"] else " MISMATCH"
                row.append(f"{fmt_ms(c['median_s'])} ({c['runs']}){flag}")
        ref = cells["kernel"]
        lines.append(
            f"| {case['label']} (cash {case['cash']:g}, commission {case['commission']:.1%}) "
            f"| {case['entries']:,} | " + " | ".join(row) + f" | {ref['trades']:,} | "
            f"{ref['alerts']:,} |"
        )
        kernel, full = ref["median_s"], cells["from_signals"]["median_s"]
        if case["bars"] >= 1_000_000:  # on 200k bars the kernel alone takes under 1 ms
            targets.append(
                {
                    "target": f"from_signals + stats within 4x its kernel ({case['label']})",
                    "measured": f"{full / kernel:.1f}x the kernel",
                    "met": full <= 4 * kernel,
                }
            )
        if "vectorbt" in cells:
            theirs = cells["vectorbt"]["median_s"]
            targets.append(
                {
                    "target": f"from_signals + stats <= 1/2 of vectorbt's ({case['label']})",
                    "measured": f"{theirs / full:.0f}x faster",
                    "met": full <= theirs / 2,
                }
            )
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in targets
    ]
    lines.append("")
    return lines, targets


def _available(module: str | None) -> str | None:
    """None if importable, else why not."""
    if module is None:
        return None
    try:
        __import__(module)
    except Exception as exc:  # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"
    return None


def time_median(fn, repeats: int, budget_s: float):
    """Median wall time of back-to-back calls, the garbage collector off while timing
    (as ``timeit`` does), after one collection for the whole cell."""
    times, out = [], None
    gc.collect()
    while len(times) < repeats:
        gc.disable()
        try:
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
        if sum(times) > budget_s:
            break
    return statistics.median(times), len(times), out


# --- fresh-process probes ---------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def probe_memory() -> dict:
    """Peak memory of one 1M-bar kernel run, measured in this (fresh) process."""
    import tracemalloc

    from algobt.engine.fast import simulate_signals

    o, h, l, c = make_arrays(SIZES["minute_1m"], **MINUTE)
    up, down = cross_signals(c)
    simulate_signals(o[:100], h[:100], l[:100], c[:100], up[:100], down[:100])  # load the kernel
    gc.collect()
    input_bytes = sum(a.nbytes for a in (o, h, l, c, up, down))
    out = {"bars": len(c), "input_bytes": input_bytes}
    try:  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        rss0 = _status_kib("VmRSS")
        sim = simulate_signals(o, h, l, c, up, down, cash=CASH, commission_rate=COMMISSION)
        out["rss_peak_extra_bytes"] = (_status_kib("VmHWM") - rss0) * 1024
    except OSError as exc:
        out["rss_error"] = str(exc)
    del sim
    gc.collect()
    tracemalloc.start()
    sim = simulate_signals(o, h, l, c, up, down, cash=CASH, commission_rate=COMMISSION)
    out["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out["output_bytes"] = sim.equity.nbytes + sim.trades.nbytes + sim.alerts.nbytes
    return out


def probe_cold(kind: str) -> dict:
    """Import + first result in this fresh process (numba's on-disk cache is warm)."""
    t0 = time.perf_counter()
    if kind == "simulate_signals":
        from algobt.engine.fast import simulate_signals
    else:
        from algobt.engine.fast import from_signals
    t_import = time.perf_counter() - t0
    df = make_data("daily")
    up, down = cross_signals(df["Close"].to_numpy())
    t1 = time.perf_counter()
    if kind == "simulate_signals":
        arrays = [df[c].to_numpy() for c in ("Open", "High", "Low", "Close")]
        simulate_signals(*arrays, up, down, cash=CASH, commission_rate=COMMISSION)
    else:
        from_signals(df, up, down, cash=CASH, commission=COMMISSION)
    t_first = time.perf_counter() - t1
    return {"import_s": t_import, "first_call_s": t_first}


def run_probe(name: str, *extra: str) -> dict:
    # A fixed mmap threshold makes glibc return big freed blocks to the OS, so a new
    # array shows up in RSS instead of silently reusing memory freed earlier.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--probe", name, *extra],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    return out


# --- report -----------------------------------------------------------------------------------


def fmt_ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.1f}" if ms < 1000 else f"{ms:,.0f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell (max)")
    parser.add_argument(
        "--budget", type=float, default=15.0, help="stop repeating a cell after this many seconds"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 repeats, 5 s budget, backtesting.py on daily data only",
    )
    parser.add_argument(
        "--canceled",
        action="store_true",
        help="only the canceled-orders cases (results/engine_canceled.md and .json)",
    )
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("probe_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        result = probe_memory() if args.probe == "memory" else probe_cold(args.probe_args[0])
        print(json.dumps(result))
        return 0
    if args.quick:
        args.repeats, args.budget = 3, 5.0

    warnings.simplefilter("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar
    if args.canceled:
        return write_canceled(run_canceled(args), args)
    datasets = {name: make_data(name) for name in SIZES}
    signals = {name: cross_signals(df["Close"].to_numpy()) for name, df in datasets.items()}
    rows, mismatches = [], []
    reference: dict[str, tuple[int, float]] = {}
    for key, label, factory, names, module in ENGINES:
        if args.quick and key == "backtesting_py":
            names = ("daily",)
        missing = _available(module)
        row = {"engine": key, "label": label, "cells": {}}
        rows.append(row)
        if missing:
            row["skipped"] = missing
            print(f"{label:45s} skipped ({missing})", flush=True)
            continue
        try:
            factory(datasets["daily"], *signals["daily"])()  # warm up: imports, numba
        except Exception as exc:
            row["skipped"] = f"failed: {type(exc).__name__}: {exc}"
            print(f"{label:45s} {row['skipped']}", flush=True)
            continue
        for name in names:
            fn = factory(datasets[name], *signals[name])
            seconds, count, (trades, equity) = time_median(fn, args.repeats, args.budget)
            cell = {"median_s": seconds, "runs": count, "trades": trades, "final_equity": equity}
            if key == "fast_sim":
                reference[name] = (trades, equity)
            ref_trades, ref_equity = reference[name]
            cell["agrees"] = trades == ref_trades and abs(equity - ref_equity) <= 1e-9 * max(
                abs(ref_equity), 1.0
            )
            if not cell["agrees"]:
                mismatches.append(
                    f"{label} on {name}: {trades} trades, equity {equity!r} vs "
                    f"{ref_trades} trades, {ref_equity!r}"
                )
            row["cells"][name] = cell
            print(
                f"{label:45s} {LABELS[name]:12s} {fmt_ms(seconds):>10s} ms  (x{count})  "
                f"{trades} trades, equity {equity:,.2f}{'' if cell['agrees'] else '  MISMATCH'}",
                flush=True,
            )

    canceled = run_canceled(args)
    memory = run_probe("memory")
    cold = {
        kind: [run_probe("cold", kind) for _ in range(3)]
        for kind in ("simulate_signals", "from_signals")
    }
    report = build_report(rows, memory, cold, mismatches, args, canceled)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine.md").write_text(report["markdown"])
    (RESULTS / "engine.json").write_text(json.dumps(report["json"], indent=2, default=float) + "\n")
    print()
    print(report["markdown"])
    return 1 if mismatches else 0


def write_canceled(cases: dict, args) -> int:
    """Write the canceled-orders cases alone (``--canceled``)."""
    lines, targets = canceled_report(cases)
    markdown = "\n".join(["# Engine benchmark: canceled orders", "", *lines])
    data = {
        "machine": _machine(),
        "settings": {"repeats": args.repeats, "budget_s": args.budget, "seed": SEED},
        "cases": cases,
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine_canceled.md").write_text(markdown)
    (RESULTS / "engine_canceled.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    print()
    print(markdown)
    mismatched = [c for case in cases.values() for c in case["cells"].values() if not c["agrees"]]
    return 1 if mismatched else 0


def _machine() -> dict:
    return {
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def build_report(rows, memory, cold, mismatches, args, canceled=None) -> dict:
    def cell(key, name):
        for row in rows:
            if row["engine"] == key:
                return row["cells"].get(name)
        return None

    def seconds(key, name):
        c = cell(key, name)
        return c and c["median_s"]

    lines = [
        "# Engine benchmark",
        "",
        f"SMA({FAST}/{SLOW}) crossover, long only, all in, whole units, "
        f"{COMMISSION:.1%} commission per side, next-bar-open fills. Median warm wall "
        "time in milliseconds (runs in brackets); trades and final equity on 1M bars.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, {platform.platform()}.",
        "",
        "| engine | " + " | ".join(LABELS[n] for n in SIZES) + " | trades 1M | final equity 1M |",
        "|---|" + "---:|" * (len(SIZES) + 2),
    ]
    for row in rows:
        if "skipped" in row:
            skipped = f"| {row['label']} | skipped: {row['skipped']} |"
            lines.append(skipped + " |" * (len(SIZES) + 1))
            continue
        cells = []
        for name in SIZES:
            c = row["cells"].get(name)
            if c is None:
                cells.append("not run")
            else:
                flag = "" if c["agrees"] else " MISMATCH"
                cells.append(f"{fmt_ms(c['median_s'])} ({c['runs']}){flag}")
        big = row["cells"].get("minute_1m")
        lines.append(
            f"| {row['label']} | "
            + " | ".join(cells)
            + " | "
            + (f"{big['trades']} | {big['final_equity']:,.6f}" if big else "- | -")
            + " |"
        )

    targets = []
    fast_1m = seconds("fast_sim", "minute_1m")
    vbt_1m = seconds("vectorbt", "minute_1m")
    if fast_1m is not None:
        targets.append(
            ("fast path, 1M bars, < 25 ms warm", f"{fast_1m * 1000:.2f} ms", fast_1m < 0.025)
        )
    if fast_1m and vbt_1m:
        targets.append(
            (
                "fast path <= 1/2 of vectorbt (1M bars)",
                f"{vbt_1m / fast_1m:.1f}x faster",
                fast_1m <= vbt_1m / 2,
            )
        )
    for name in SIZES:
        ours, theirs = seconds("class", name), seconds("backtesting_py", name)
        if ours and theirs:
            targets.append(
                (
                    f"class API >= 5x backtesting.py ({LABELS[name]})",
                    f"{theirs / ours:.1f}x faster",
                    theirs / ours >= 5,
                )
            )
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---:|:---:|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets]

    lines += ["", "## Memory (fresh process, 1M-bar kernel run)", ""]
    if "error" in memory:
        lines.append(f"probe failed: {memory['error']}")
    else:
        mib = 1024 * 1024
        inputs = memory["input_bytes"]
        lines.append(f"- input arrays (4 price float64 + 2 signal bool): {inputs / mib:.1f} MiB")
        if "rss_peak_extra_bytes" in memory:
            extra = memory["rss_peak_extra_bytes"]
            lines.append(
                f"- peak RSS above the process's RSS before the run: {extra / mib:.1f} "
                f"MiB = {extra / inputs:.2f}x the inputs"
            )
        lines.append(
            f"- arrays returned (equity + trade and alert records): "
            f"{memory['output_bytes'] / mib:.1f} MiB"
        )
        lines.append(
            f"- tracemalloc peak during the call (numba's allocations included): "
            f"{memory['tracemalloc_peak_bytes'] / mib:.1f} MiB = "
            f"{memory['tracemalloc_peak_bytes'] / inputs:.2f}x the inputs"
        )

    lines += [
        "",
        "## Cold start (new process, numba cache on disk, 2,520 daily bars)",
        "",
        "| call | import | first call | import + first call | process wall |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, probes in cold.items():
        ok = [p for p in probes if "error" not in p]
        if not ok:
            lines.append(f"| {kind} | failed: {probes[0]['error']} | | | |")
            continue
        med = {
            k: statistics.median(p[k] for p in ok)
            for k in ("import_s", "first_call_s", "process_wall_s")
        }
        lines.append(
            f"| {kind} | {fmt_ms(med['import_s'])} ms | {fmt_ms(med['first_call_s'])} "
            f"ms | {fmt_ms(med['import_s'] + med['first_call_s'])} ms | "
            f"{fmt_ms(med['process_wall_s'])} ms |"
        )

    canceled_targets = []
    if canceled:
        canceled_lines, canceled_targets = canceled_report(canceled)
        lines += ["", *canceled_lines]
    if mismatches:
        lines += ["", "## MISMATCHES", ""] + [f"- {m}" for m in mismatches]
    lines.append("")
    data = {
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "settings": {
            "repeats": args.repeats,
            "budget_s": args.budget,
            "seed": SEED,
            "bars": SIZES,
            "cash": CASH,
            "commission": COMMISSION,
            "fast": FAST,
            "slow": SLOW,
        },
        "engines": rows,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets]
        + canceled_targets,
        "canceled": canceled,
        "memory": memory,
        "cold_start": cold,
        "mismatches": mismatches,
    }
    return {"markdown": "\n".join(lines), "json": data}


if __name__ == "__main__":
    sys.exit(main())
