"""Helpers for the store tests: synthetic results, and the code child processes run.

Importable by name (``tests.store._workers``) so spawned processes can find it.
"""

from __future__ import annotations

import random
import sqlite3
import time


def synthetic_result(rng: random.Random, n_trades: int, n_bars: int = 300) -> dict:
    """A BacktestResult-shaped dict with awkward floats, made without the engine."""
    capital = 10_000.0
    balance = capital
    trades = []
    for i in range(n_trades):
        pnl = rng.uniform(-200, 300)
        balance += pnl
        trades.append(
            {
                "entry_time": f"2024-01-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
                "exit_time": f"2024-02-{1 + i % 28:02d}T11:{i % 60:02d}:00Z",
                "date": f"2024-02-{1 + i % 28:02d}T11:{i % 60:02d}:00Z",
                "timestamp": f"2024-02-{1 + i % 28:02d}T11:{i % 60:02d}:00Z",
                "symbol": "DEMO",
                "action": rng.choice(["buy", "short"]),
                "entry_price": rng.uniform(1, 500) / 3,
                "exit_price": rng.uniform(1, 500) / 7,
                "quantity": float(rng.randint(1, 100)),
                "size": None,
                "profit": pnl,
                "pnl": pnl,
                "return_pct": pnl / capital * 100,
                "commission": rng.random() / 10,
                "balance": balance,
            }
        )
        trades[-1]["size"] = trades[-1]["quantity"]
    winning = sum(1 for t in trades if t["pnl"] > 0)
    equity = [
        {"timestamp": f"2024-01-01T{h % 24:02d}:00:00Z", "equity": capital + rng.gauss(0, 50)}
        for h in range(n_bars)
    ]
    net = balance - capital
    return {
        "strategy": "Synthetic",
        "strategy_name": "Synthetic",
        "symbol": "DEMO",
        "timeframe": "1h",
        "period": "1mo",
        "commission": 0.001,
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-01-13T11:00:00Z",
        "initial_capital": capital,
        "initial_balance": capital,
        "final_value": balance,
        "final_equity": balance,
        "net_profit": net,
        "total_return": net / capital * 100,
        "total_return_pct": net / capital * 100,
        "sharpe_ratio": rng.gauss(0, 1) if n_trades > 1 else None,
        "max_drawdown": rng.uniform(0, 30),
        "win_rate": winning / n_trades * 100 if n_trades else 0.0,
        "profit_factor": None,
        "total_trades": n_trades,
        "winning_trades": winning,
        "losing_trades": n_trades - winning,
        "summary": {"totalTrades": n_trades, "winRate": 0.0, "totalProfit": net, "averageTrade": 0},
        "trades": trades,
        "daily_stats": [{"day": "2024-01-01", "profit": net, "trades": n_trades}],
        "symbol_stats": [{"symbol": "DEMO", "trades": n_trades, "profit": net, "percentage": 100}],
        "equity_curve": equity,
        "alerts": [
            {"level": "warning", "code": "synthetic", "bar": 3, "time": "2024-01-01T03:00:00Z",
             "message": "made up"}
        ],
    }  # fmt: skip


def wholeness_problems(conn: sqlite3.Connection) -> list[str]:
    """Every run is whole: completed runs have one result, all its trades and alerts;
    other runs have none; nothing points at a missing run or result. One snapshot."""
    problems = []
    conn.execute("BEGIN")
    try:
        checks = {
            "completed run without exactly one result": """
                SELECT id FROM backtest_runs r WHERE status = 'completed'
                AND (SELECT count(*) FROM backtest_results x WHERE x.run_id = r.id) != 1""",
            "completed run whose trade rows differ from total_trades": """
                SELECT r.id FROM backtest_runs r JOIN backtest_results x ON x.run_id = r.id
                WHERE (SELECT count(*) FROM trades t WHERE t.result_id = x.id) != x.total_trades
                   OR (SELECT count(*) FROM trades t WHERE t.run_id = r.id) != x.total_trades""",
            "completed run without its alert": """
                SELECT id FROM backtest_runs r WHERE status = 'completed'
                AND (SELECT count(*) FROM backtest_alerts a WHERE a.run_id = r.id) != 1""",
            "completed run without data range or finish time": """
                SELECT id FROM backtest_runs WHERE status = 'completed'
                AND (data_start IS NULL OR finished_at IS NULL OR progress != 100)""",
            "unfinished run with results, trades or alerts": """
                SELECT id FROM backtest_runs r WHERE status != 'completed' AND (
                    EXISTS (SELECT 1 FROM backtest_results x WHERE x.run_id = r.id)
                    OR EXISTS (SELECT 1 FROM trades t WHERE t.run_id = r.id)
                    OR EXISTS (SELECT 1 FROM backtest_alerts a WHERE a.run_id = r.id))""",
            "orphan trade": """
                SELECT t.id FROM trades t LEFT JOIN backtest_results x ON x.id = t.result_id
                WHERE x.id IS NULL OR x.run_id != t.run_id""",
            "orphan result": """
                SELECT x.id FROM backtest_results x LEFT JOIN backtest_runs r ON r.id = x.run_id
                WHERE r.id IS NULL""",
            "latest row not matching its completed run": """
                SELECT l.strategy_id FROM latest_backtest_results l
                LEFT JOIN backtest_runs r ON r.id = l.run_id
                LEFT JOIN backtest_results x ON x.id = l.result_id
                WHERE r.status IS NOT 'completed' OR r.strategy_id != l.strategy_id
                   OR x.run_id != r.id OR json_array_length(l.trades) != l.total_trades
                   OR x.total_trades != l.total_trades""",
        }
        for label, sql in checks.items():
            ids = [row[0] for row in conn.execute(sql).fetchall()]
            if ids:
                problems.append(f"{label}: {ids[:10]}")
    finally:
        conn.execute("COMMIT")
    return problems


def raw_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


# --------------------------------------------------------------------------------------
# Two processes at once: a writer saving runs, a reader checking what it sees.
# --------------------------------------------------------------------------------------
STRATEGIES = ("alpha", "beta", "gamma")


def writer(path: str, seconds: float, barrier, queue) -> None:
    from algobt.store import Store

    report = {"saved": 0, "errors": []}
    try:
        store = Store(path)
        ids = {name: store.create_strategy(name, "")["id"] for name in STRATEGIES}
        barrier.wait(60)
        rng = random.Random(1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            n = report["saved"]
            name = STRATEGIES[n % len(STRATEGIES)]
            result = synthetic_result(rng, rng.randint(0, 80))
            config = {"symbol": "DEMO", "interval": "1h", "period": "1mo", "params": {"n": n}}
            if n % 2:
                store.record_run(config, result, strategy_name=name, source="notebook")
            else:
                run = store.create_run(config, strategy_id=ids[name])
                store.update_run(run["id"], status="running", progress=50.0)
                store.save_result(run["id"], result)
            report["saved"] += 1
        store.close()
    except Exception as exc:  # reported to the test, which fails on it
        report["errors"].append(repr(exc))
    queue.put(("writer", report))


def reader(path: str, seconds: float, barrier, queue) -> None:
    from algobt.store import Store

    report = {"reads": 0, "runs_checked": 0, "snapshots": 0, "problems": [], "errors": []}
    try:
        store = Store(path)
        raw = raw_connection(path)
        barrier.wait(60)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(report["problems"]) < 20:
            for latest in store.latest_results(page_size=10)["results"]:
                report["reads"] += 1
                if len(latest["trades"]) != latest["total_trades"]:
                    report["problems"].append(f"latest of {latest['strategy_name']} is partial")
                run = store.get_run(latest["run_id"])
                results = store.run_results(run["id"])
                trades = store.list_trades(run_id=run["id"], page_size=1000)
                report["reads"] += 3
                if run["status"] != "completed" or len(results) != 1:
                    report["problems"].append(f"run {run['id']} in latest is not whole")
                    continue
                stored = [
                    {k: v for k, v in t.items() if k not in ("id", "backtest_run", "result")}
                    for t in results[0]["trades"]
                ]
                if not (
                    stored == latest["trades"]
                    and trades["count"] == results[0]["total_trades"] == latest["total_trades"]
                ):
                    report["problems"].append(f"run {run['id']}: trades differ from its latest")
            for run in store.list_runs(page_size=25)["results"]:
                report["reads"] += 1
                report["runs_checked"] += 1
                if (run["status"] == "completed") != (run["result_id"] is not None):
                    report["problems"].append(f"run {run['id']} {run['status']} vs its result")
            report["problems"] += wholeness_problems(raw)
            report["snapshots"] += 1
        raw.close()
        store.close()
    except Exception as exc:
        report["errors"].append(repr(exc))
    queue.put(("reader", report))


# --------------------------------------------------------------------------------------
# Crash test: a child saving in a loop, killed at a random moment.
# --------------------------------------------------------------------------------------
def saver_loop(path: str, cycle: int, pipe) -> None:
    from algobt.store import Store

    rng = random.Random(cycle)
    store = Store(path)
    i = 0
    while True:
        token = f"{cycle}-{i}"
        result = synthetic_result(rng, rng.randint(0, 120), n_bars=rng.randint(50, 600))
        config = {"symbol": "DEMO", "interval": "1h", "token": token}
        pipe.send(token)  # sent just before the store is called
        if i % 3 == 2:
            run = store.create_run(config, strategy_id=store.get_strategy_by_name("alpha")["id"])
            store.update_run(run["id"], status="running", progress=10.0)
            store.save_result(run["id"], result)
        else:
            store.record_run(config, result, strategy_name=STRATEGIES[i % 2])
        i += 1


def opener(path: str, barrier, queue) -> None:
    """Open a (new) store the moment the barrier falls, save one strategy, report."""
    import os

    from algobt.store import Store

    try:
        barrier.wait(30)
        with Store(path) as store:
            store.create_strategy(f"opener-{os.getpid()}", "")
        queue.put(None)
    except Exception as exc:  # reported to the parent, which asserts on it
        queue.put(repr(exc))
