"""Notebook widget benchmark: LiveChart playback in a real JupyterLab, and cell latency meanwhile.

Run on demand (not part of the test suite):

    PYTHONPATH=$PWD python benchmarks/widget.py

Starts ``jupyter lab`` on a loopback port (tests/notebook/lab.py), opens a
notebook in headless Chromium and measures, from Shift+Enter on the cell that
displays the chart to ``data-status=complete`` with every candle drawn:

* a 2,520-bar daily replay (DEMO 2014-12-29 … 2024-12-31) at full speed,
* a 100,000-bar 1-minute replay (a generated random walk) at full speed,

both replays of finished ``Result``\\ s (the backtest itself is not timed), and
the latency of a trivial cell (Shift+Enter → its output shown) while a paced
chart plays. Targets (issue 11): 100,000 bars drawn in under 5 s, the trivial
cell under 200 ms. Results: ``benchmarks/results/widget.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.notebook.lab import CHROMIUM, Lab  # noqa: E402

SETUP = """\
import numpy as np, pandas as pd, algobt
from algobt.examples import SmaCross
from algobt.widgets import LiveChart
daily = algobt.backtest(SmaCross, 'DEMO', start_date='2014-12-29', end_date='2024-12-31')
rng = np.random.default_rng(7)
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, 100_000)))
idx = pd.date_range('2024-01-01', periods=100_000, freq='min', tz='UTC')
bars = pd.DataFrame({'Open': close, 'High': close * 1.0005, 'Low': close * 0.9995,
                     'Close': close, 'Volume': 1000.0}, index=idx)
minute = algobt.backtest(SmaCross, bars, interval='1m', params={'fast': 50, 'slow': 200})
print(len(daily.equity_curve), len(minute.equity_curve))
"""
CELLS = [
    SETUP,
    "LiveChart(daily)",
    "LiveChart(minute)",
    "LiveChart(daily, speed=400)",
    "1 + 1",
    "2 + 2",
    "3 + 3",
]


def main() -> None:
    root = Path(tempfile.mkdtemp())
    lab = Lab(root)
    out: dict = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg()[0],
    }
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(lab.url(lab.write("bench.ipynb", CELLS)))
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000
            )

            def run(i):
                page.locator(".jp-Cell").nth(i).locator(".jp-InputArea-prompt").click()
                page.keyboard.press("Shift+Enter")

            def out_of(i):
                loc = page.locator(".jp-Cell").nth(i).locator(".jp-OutputArea-output").last
                loc.wait_for(timeout=300_000)
                return loc

            run(0)
            n_daily, n_minute = map(int, out_of(0).inner_text().split())
            for cell, n, key in ((1, n_daily, "daily_2520"), (2, n_minute, "minute_100000")):
                started = time.monotonic()
                run(cell)
                chart = page.locator("[data-testid=live-chart]").nth(cell - 1)
                chart.wait_for(timeout=120_000)
                page.wait_for_function(
                    "([i, n]) => { const e = document.querySelectorAll("
                    "'[data-testid=live-chart]')[i]; return e && e.dataset.status === "
                    "'complete' && Number(e.dataset.candles) === n; }",
                    arg=[cell - 1, n],
                    timeout=300_000,
                    polling=10,
                )
                out[key] = {"bars": n, "seconds_to_complete": round(time.monotonic() - started, 3)}
                print(key, out[key], flush=True)
            run(3)
            page.wait_for_function(
                "() => { const e = document.querySelectorAll('[data-testid=live-chart]')[2];"
                " return e && Number(e.dataset.candles) > 0; }",
                timeout=120_000,
                polling=10,
            )
            latencies = []
            for cell in (4, 5, 6):
                started = time.monotonic()
                run(cell)
                out_of(cell)
                latencies.append(round(time.monotonic() - started, 3))
            status = page.locator("[data-testid=live-chart]").nth(2).get_attribute("data-status")
            out["trivial_cell_during_playback_s"] = latencies
            out["chart_status_after_cells"] = status
            print("trivial cell during playback", latencies, "chart", status, flush=True)
            browser.close()
    finally:
        lab.stop()
    out["load_after"] = os.getloadavg()[0]
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "widget.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
