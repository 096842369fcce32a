"""The ``algobt`` command, run as a real process the way the README shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def algobt(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "algobt", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_run_prints_a_stats_table():
    proc = algobt(
        "run", "--symbol", "DEMO", "--strategy", "examples/sma_cross.py", "--period", "5y"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("SmaCrossRsi on DEMO (1d, ")
    for key in ("Return [%]", "Sharpe Ratio", "Max. Drawdown [%]", "# Trades", "Win Rate [%]"):
        assert key in proc.stdout
    assert "_trades" not in proc.stdout


def test_run_json_is_the_backtest_result():
    proc = algobt(
        "run",
        "--symbol",
        "DEMO-FX",
        "--period",
        "2y",
        "--param",
        "fast=5",
        "--param",
        "slow=20",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["symbol"] == "DEMO-FX" and result["strategy"] == "SmaCross"
    assert result["summary"]["totalTrades"] == result["total_trades"] > 0
    assert result["initial_capital"] == 10_000 and result["commission"] == 0.001
    assert len(result["equity_curve"]) > 400


def test_errors_are_one_line_and_exit_2():
    cases = [
        (["run", "--symbol", "DEMO", "--period", "7y"], "period"),
        (["run", "--strategy", "no/such/file.py"], "not found"),
        (["run", "--param", "fsat=3"], "Did you mean 'fast'"),
        (["run", "--cash", "-10"], "must be > 0"),
    ]
    for args, text in cases:
        proc = algobt(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("algobt: error: ") and text in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
