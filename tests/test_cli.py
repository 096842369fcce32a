"""The ``algobt`` command, run as a real process the way the README shows it."""

from __future__ import annotations

import json
import os
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
        # said before the run, not as an indicator failing in algobt's own example file
        (["run", "--param", "fast=abc"], "--param fast must be a number (got 'abc')"),
    ]
    for args, text in cases:
        proc = algobt(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("algobt: error: ") and text in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert "examples.py" not in proc.stderr


SPEC = ROOT / "tests" / "engine" / "rules_corpus" / "valid" / "atr_breakout.json"


def test_run_goes_through_the_servers_pipeline():
    from algobt.engine.run import run_config

    proc = algobt("run", "--symbol", "DEMO", "--period", "2y", "--param", "fast=5", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    from algobt.examples import SmaCross

    expected = run_config(
        {"symbol": "DEMO", "period": "2y", "strategy": SmaCross, "params": {"fast": 5}}
    ).to_dict()
    assert printed["kind"] == "python" and printed["period"] == "2y"
    for key in ("total_trades", "final_equity", "sharpe_ratio", "max_drawdown", "trades"):
        assert printed[key] == expected[key], key


def test_a_json_spec_file_runs_by_its_content(tmp_path):
    from algobt.engine.run import run_config

    spec = tmp_path / "breakout.rules"  # no .json: the content says what it is
    spec.write_text(SPEC.read_text())
    proc = algobt("run", "--strategy", str(spec), "--period", "5y", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    expected = run_config(
        {"symbol": "DEMO", "period": "5y", "strategy_code": SPEC.read_text()}
    ).to_dict()
    assert printed["kind"] == "json" and printed["strategy"] == "Breakout on expanding ATR"
    assert printed["total_trades"] == expected["total_trades"] > 0
    assert printed["final_equity"] == expected["final_equity"]
    table = algobt("run", "--strategy", str(spec), "--period", "5y")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("Breakout on expanding ATR on DEMO (1d, ")


def test_a_python_file_with_another_name_runs_too(tmp_path):
    source = tmp_path / "strategy.txt"
    source.write_text((ROOT / "examples" / "sma_cross.py").read_text())
    proc = algobt("run", "--strategy", str(source), "--period", "5y")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("SmaCrossRsi on DEMO (1d, ")
    wrong = algobt("run", "--strategy", str(source), "--class", "Nope")
    assert wrong.returncode == 2 and "has no Strategy class 'Nope'" in wrong.stderr
    assert str(source) in wrong.stderr


def test_bad_spec_and_bad_python_name_the_file(tmp_path):
    spec = tmp_path / "broken.json"
    spec.write_text('{"name": "x", "version": 1, "entry": {}}')
    proc = algobt("run", "--strategy", str(spec))
    assert proc.returncode == 2 and proc.stderr.startswith(f"algobt: error: {spec}: ")
    assert "Traceback" not in proc.stderr
    code = tmp_path / "broken.py"
    code.write_text("from algobt import Strategy\nclass S(Strategy)\n    pass\n")
    proc = algobt("run", "--strategy", str(code))
    assert proc.returncode == 2 and f"{code}: syntax error at line 2" in proc.stderr


def test_a_data_file_and_several_symbols(tmp_path):
    from algobt import load

    load("DEMO-FX", period="2y").to_csv(tmp_path / "fx.csv")
    proc = algobt("run", "--data", str(tmp_path / "fx.csv"), "--period", "1y", "--json")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["symbol"] == "fx" and printed["total_trades"] > 0
    both = algobt("run", "--symbol", "DEMO,DEMO-FX", "--period", "1y", "--json")
    assert both.returncode == 0, both.stderr
    combined = json.loads(both.stdout)
    assert combined["symbols"] == ["DEMO", "DEMO-FX"]
    assert [row["symbol"] for row in combined["symbol_stats"]] == ["DEMO", "DEMO-FX"]


def test_demo_prints_the_stats_of_a_demo_run():
    proc = algobt("demo")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("SmaCross on DEMO (1d, ")
    for key in ("Return [%]", "Sharpe Ratio", "# Trades", "Buy & Hold Return [%]"):
        assert key in proc.stdout
    assert "algobt run --strategy" in proc.stdout  # what to try next
    as_json = algobt("demo", "--symbol", "DEMO-BTC", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["symbol"] == "DEMO-BTC"


def test_a_yahoo_ticker_without_network_says_yahoo_is_unreachable(tmp_path):
    """The real yfinance, pointed at a closed loopback proxy: nothing leaves 127.0.0.1,
    and it fails the way it does offline. The message says the network failed, not
    that the ticker is wrong, and yfinance's own log lines stay out of the output."""
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "ALGOBT_HOME": str(tmp_path), "HTTPS_PROXY": closed, "HTTP_PROXY": closed}
    env.pop("NO_PROXY", None)
    proc = algobt("run", "--symbol", "AAPL", "--period", "1mo", env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("algobt: error: could not reach Yahoo Finance (network")
    assert "check the ticker" not in proc.stderr
    assert "Failed download" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_a_run_that_cannot_warm_up_or_leaves_a_trade_open_says_so():
    """0 trades because SMA(300) never has a value on 64 bars: an alert says why. A
    trade left open (--keep-open) is an alert and a line, so the trade stats and the
    equity reconcile for the reader."""
    proc = algobt("run", "--param", "slow=300", "--period", "3mo")
    assert proc.returncode == 0, proc.stderr
    assert "warning: no trade was made and the indicators never warmed up" in proc.stdout
    assert "the 64 the data has" in proc.stdout
    proc = algobt("run", "--keep-open", "--json")
    alerts = json.loads(proc.stdout)["alerts"]
    assert [a["code"] for a in alerts] == ["trade_open_at_end"]
    assert alerts[0]["message"].startswith("1 trade(s) still open on the last bar")
    proc = algobt("run", "--keep-open")
    assert "warning: 1 trade(s) still open on the last bar" in proc.stdout
    proc = algobt("run")  # closed on the last bar by default: nothing to say
    assert "warning:" not in proc.stdout


def test_errors_speak_the_command_lines_words():
    proc = algobt("run", "--period", "custom", "--start", "1990-01-01", "--end", "1991-01-01")
    assert proc.returncode == 2
    assert "--start '1990-01-01' is before that" in proc.stderr
    assert "a --start on or after 2010-01-04" in proc.stderr and "--period 1wk or" in proc.stderr
    assert "start_date" not in proc.stderr and "list_symbols()" not in proc.stderr
    assert "coarser interval" not in proc.stderr  # daily data has nothing coarser earlier
    proc = algobt("run", "--period", "10y", "--interval", "1h")
    assert "--period 10y would reach back" in proc.stderr and "coarser interval" in proc.stderr


def test_a_bad_row_of_a_data_file_is_named_by_its_line_too(tmp_path):
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,1,2,0.5,1.5,10\n"
        "2024-01-03,1,2,0.5,1.5,10\n"
        "2024-01-04,1,0.2,0.5,1.5,10\n"
    )
    proc = algobt("run", "--data", str(bars))
    assert proc.returncode == 2
    assert "bars.csv line 4, row 2 at 2024-01-04" in proc.stderr
    good = tmp_path / "good.csv"
    good.write_text("".join(bars.read_text().splitlines(keepends=True)[:3]))
    proc = algobt("run", "--data", str(good), "--period", "5y")
    assert proc.returncode == 2 and "--period 5y would reach back" in proc.stderr, proc.stderr
