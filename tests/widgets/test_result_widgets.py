"""The result widgets carry the run's own numbers; the plain-HTML display without a widget."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("anywidget")

import algobt  # noqa: E402
from algobt.engine.run import run_config  # noqa: E402
from algobt.errors import ConfigError  # noqa: E402
from algobt.examples import SmaCross  # noqa: E402
from algobt.store import Store  # noqa: E402
from algobt.widgets import Compare, Heatmap, ResultWidget, StoredRun  # noqa: E402
from algobt.widgets.html import sparkline  # noqa: E402

SMA_CODE = (Path(__file__).resolve().parents[2] / "examples" / "sma_cross.py").read_text()


@pytest.fixture(scope="module")
def result():
    return algobt.backtest(SmaCross, "DEMO", period="2y")


def test_plot_gives_the_result_widget_with_the_results_numbers(result):
    widget = result.plot()
    assert isinstance(widget, ResultWidget)
    assert widget.result == result.to_dict()
    summary = widget.result["summary"]
    trades = result.trades
    assert summary["totalTrades"] == len(trades) == result["# Trades"]
    assert summary["winRate"] == pytest.approx(100 * (trades["PnL"] > 0).mean())
    assert len(widget.result["equity_curve"]) == len(result.equity_curve)


def test_repr_html_shows_key_stats_and_an_equity_sparkline(result):
    page = result._repr_html_()
    assert f"{result['Return [%]']:.1f}%" in page
    assert f">{int(result['# Trades'])}<" in page
    assert f"{-result['Max. Drawdown [%]']:.1f}%" in page
    assert "Buy &amp; hold" in page and "<script" not in page
    points = re.search(r'points="([^"]+)"', page).group(1).split()
    assert len(points) == min(240, len(result.equity_curve))
    # the sparkline's highest point (smallest y) is the equity's peak
    ys = [float(p.split(",")[1]) for p in points]
    assert min(ys) == pytest.approx(1.0) and max(ys) == pytest.approx(47.0)


def test_sparkline_scales_a_hand_worked_series():
    svg = sparkline([10.0, 20.0, 15.0, None], width=100, height=12)
    assert 'points="0.0,11.0 50.0,1.0 100.0,6.0"' in svg and "#1e8e7e" in svg
    assert sparkline([1.0]) == ""


def test_compare_results_side_by_side_with_the_best_marked(result):
    other = algobt.backtest(SmaCross, "DEMO", period="2y", params={"fast": 5, "slow": 20})
    widget = Compare([result, other])
    runs = widget.compare["runs"]
    assert [r["run_id"] for r in runs] == [1, 2]
    assert [r["total_return"] for r in runs] == [result["Return [%]"], other["Return [%]"]]
    best = 1 if result["Return [%]"] >= other["Return [%]"] else 2
    assert widget.compare["best"]["total_return"] == best
    assert [len(c["points"]) for c in widget.curves] == [len(result.equity_curve)] * 2
    with pytest.raises(ConfigError, match="two or more"):
        Compare([result])


def test_compare_stored_runs_and_a_stored_run_displays_itself(tmp_path):
    store = Store(tmp_path / "runs.db")
    ids = []
    for fast in (5, 10):
        cfg = {"symbol": "DEMO", "period": "1y", "strategy_code": SMA_CODE}
        cfg["params"] = {"fast": fast}
        ids.append(store.record_run(cfg, run_config(cfg).to_dict(), strategy_name="SMA")["id"])
    widget = Compare(ids, store=store)
    assert [c.get("run_id") for c in widget.compare["runs"]] == ids
    assert widget.compare == {**store.compare_runs(ids), "runs": widget.compare["runs"]}
    stored = StoredRun(ids[0], store=store)
    page = stored._repr_html_()
    assert f"run #{ids[0]}" in page and "<polyline" in page
    assert stored.plot().result["summary"] == stored.result["summary"]
    store.close()


def test_heatmap_shows_the_best_of_a_metric_per_cell():
    rows = [
        {"fast": f, "slow": s, "stop": st, "sharpe": f * 0.1 - s * 0.01 + st, "dd": -f - st}
        for f in (5, 10)
        for s in (20, 30, 40)
        for st in (0.0, 0.5)
    ]
    table = pd.DataFrame(rows)
    widget = Heatmap(table, x="fast", y="slow", parameters=["fast", "slow", "stop"])
    assert widget.metric == "sharpe" and widget.metrics == ["sharpe", "dd"]
    grid = widget.grid()
    for r in rows:  # a bare loop: the best over the third parameter
        best = max(x["sharpe"] for x in rows if x["fast"] == r["fast"] and x["slow"] == r["slow"])
        assert grid.loc[r["slow"], r["fast"]] == best
    assert len(widget.rows) == 12
    with pytest.raises(ConfigError, match="no column 'nope'"):
        Heatmap(table, x="nope", y="slow")
    with pytest.raises(ConfigError, match="metric="):
        Heatmap(table, x="fast", y="slow", parameters=["fast", "slow", "stop"], metric="x")
