"""Web page benchmark: time from clicking Run to the first candle and to the final cards.

Run on demand (not part of the test suite):

    PYTHONPATH=$PWD python benchmarks/web.py

Drives headless Chromium (Playwright with /usr/bin/chromium) against a real
``algobt serve --allow-files`` over a temporary database:

* a 2,5xx-bar daily run (DEMO, 2015-01-01 … 2024-12-31, ``batch``),
* a 100,000-bar 1-minute run (a generated Parquet file, ``batch``),

each run once on a cold server (worker start, JIT cache load) and three times warm
(``--warm N``; the medians are reported too), and
reports click → first candle drawn, click → summary cards filled, the candles
drawn and the page's JS heap after the run. Targets (issue #10): first candle
under 300 ms for the daily run, the 100,000-bar run fully drawn in under 5 s,
heap under 300 MB. Results: ``benchmarks/results/web.json`` and ``web.md``.

``--before REV`` also runs the page and server of git revision REV (exported to a
temporary folder) in the same browser, alternating with this checkout, so a change
is measured side by side under the same machine load:

    PYTHONPATH=$PWD python benchmarks/web.py --before HEAD~1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.web.conftest import CHROMIUM, ServeProcess  # noqa: E402
from tests.web.test_page import SMA_CROSS  # noqa: E402

BARS = 100_000


def write_minutes(path: Path, n: int = BARS, seed: int = 7) -> None:
    """n one-minute OHLCV bars of a random walk (UTC, every minute)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 6e-4, n)))
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


def run_once(page, *, symbol: str, timeframe: str, start: str, end: str) -> dict:
    tid = "[data-testid={}]".format
    page.locator(tid("strategy-code")).fill(SMA_CROSS)
    page.locator(tid("symbol-input")).fill(symbol)
    page.locator(tid("period-select")).select_option("custom")
    page.locator(tid("start-date")).fill(start)
    page.locator(tid("end-date")).fill(end)
    page.locator(tid("timeframe-select")).select_option(timeframe)
    page.locator(tid("speed-input")).fill("0")
    # Timed inside the page: from the click to the first candle / the filled cards.
    page.evaluate(
        """() => {
        window.__bench = {};
        const chart = document.querySelector('[data-testid=live-chart]');
        const t0 = performance.now();
        window.__bench.t0 = t0;
        new MutationObserver((_, obs) => {
            if (+chart.dataset.candles > 0 && !window.__bench.first) {
                window.__bench.first = performance.now() - t0;
            }
        }).observe(chart, { attributes: true, attributeFilter: ['data-candles'] });
        const status = document.querySelector('[data-testid=run-status]');
        new MutationObserver(() => {
            const card = document.querySelector('[data-testid=card-total-trades]');
            const done = status.dataset.status === 'complete' && card.dataset.value;
            if (done && !window.__bench.done) {
                window.__bench.done = performance.now() - t0;
            }
        }).observe(document.body, { attributes: true, subtree: true, childList: true });
    }"""
    )
    page.locator(tid("run-button")).click()
    page.wait_for_function(
        "() => window.__bench.done || "
        "document.querySelector('[data-testid=run-status]').dataset.status === 'error'",
        timeout=300_000,
    )
    bench = page.evaluate("() => window.__bench")
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"] / 2**20
    chart = page.locator(tid("live-chart"))
    return {
        "status": page.locator(tid("run-status")).get_attribute("data-status"),
        "first_candle_ms": round(bench.get("first", float("nan")), 1),
        "cards_ms": round(bench.get("done", float("nan")), 1),
        "candles": int(chart.get_attribute("data-candles")),
        "markers": int(chart.get_attribute("data-markers")),
        "heap_mb": round(heap, 1),
    }


SCENARIOS = (
    (
        "daily DEMO 2015-2024",
        dict(symbol="DEMO", timeframe="1d", start="2015-01-01", end="2024-12-31"),
    ),
    (f"{BARS:,} 1m bars (file)", None),
)


def export(rev: str, into: Path) -> Path:
    """The files of git revision ``rev`` in ``into`` (a checkout to serve beside ours)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--before", help="also measure this git revision, side by side")
    args.add_argument("--warm", type=int, default=3, help="warm runs of each (median reported)")
    opts = args.parse_args(argv)
    tmp = Path(tempfile.mkdtemp())
    data = tmp / "minutes.parquet"
    write_minutes(data)
    versions = {"this": ROOT}
    if opts.before:
        versions = {f"before ({opts.before})": export(opts.before, tmp / "before"), **versions}
    servers = {}
    rows = []
    try:
        for name, root in versions.items():
            servers[name] = ServeProcess(
                tmp / f"{len(servers)}.db", extra=["--allow-files"], root=root
            )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for label, kw in SCENARIOS:
                kw = kw or dict(
                    symbol=str(data), timeframe="1m", start="2024-01-01", end="2024-12-31"
                )
                for attempt in ("cold", *["warm"] * opts.warm):
                    for name, srv in servers.items():
                        page = browser.new_page(viewport={"width": 1280, "height": 800})
                        page.goto(srv.url)
                        page.wait_for_selector("[data-testid=run-button]")
                        row = {
                            "run": label,
                            "server": attempt,
                            "version": name,
                            **run_once(page, **kw),
                        }
                        print(row, flush=True)
                        rows.append(row)
                        page.close()
            browser.close()
    finally:
        for srv in servers.values():
            srv.stop()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"cpus": os.cpu_count(), "load": os.getloadavg(), "when": time.strftime("%F %T")}
    (out / "web.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Web page benchmark (`benchmarks/web.py`)",
        "",
        f"{meta['when']}, {meta['cpus']} CPUs, load {meta['load'][0]:.1f}; headless Chromium.",
        "",
        "| run | server | version | status | click → first candle | click → cards | candles | markers | JS heap |",  # noqa: E501
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['server']} | {r['version']} | {r['status']} | "
            f"{r['first_candle_ms']:.0f} ms | "
            f"{r['cards_ms']:.0f} ms | {r['candles']:,} | {r['markers']:,} | "
            f"{r['heap_mb']:.0f} MB |"
        )
    lines += ["", "Median of the warm runs:", ""]
    for label, _ in SCENARIOS:
        for name in versions:
            warm = [r for r in rows if r["run"] == label and r["version"] == name]
            warm = [r for r in warm if r["server"] == "warm"]
            if warm:
                first = statistics.median(r["first_candle_ms"] for r in warm)
                cards = statistics.median(r["cards_ms"] for r in warm)
                lines.append(
                    f"- {label}, {name}: first candle {first:.0f} ms, cards {cards:.0f} ms"
                    f" ({len(warm)} runs)"
                )
    (out / "web.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
