"""The widgets in a real JupyterLab, driven by headless Chromium.

One ``jupyter lab`` (loopback port, temporary root, token) serves every check: a
notebook is opened, its cells run one by one with Shift+Enter, and the outputs
are found through their ``data-testid`` hooks (``docs/page.md``). What the page
shows is compared with what the kernel printed about the same objects.
Screenshots land in tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")
sync_api = pytest.importorskip("playwright.sync_api")

from tests.notebook.lab import CHROMIUM, Lab  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
KERNEL: dict = {}  # what the kernel printed about the live run, for the later checks

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")

CELLS = [
    # 0: a 2-year daily run with overlays, paced so that it plays for a few seconds
    "import json\n"
    "import algobt\n"
    "from algobt.examples import SmaCross\n"
    "from algobt.widgets import Compare, Heatmap, LiveChart\n"
    "config = {'symbol': 'DEMO', 'period': '2y', 'strategy': SmaCross,\n"
    "          'indicators': {'EMA': {'periods': [9, 21]}}}\n"
    "chart = LiveChart(config, speed=150)\n"
    "chart",
    # 1: a trivial cell, run while the chart plays
    "print(json.dumps({'status': chart.status, 'sum': 1 + 1}))",
    # 2: what the kernel knows about the finished run
    "chart.wait(120)\n"
    "signals = [m for m in chart.messages if m['type'] == 'signal']\n"
    "print(json.dumps({'status': chart.status, 'bars': chart.total_bars,\n"
    "                  'signals': len(signals), 'summary': chart.result.to_dict()['summary']}))",
    # 3: the result widget of the same run
    "chart.result.plot()",
    # 4: two runs compared, and a small sweep as a heat map
    "import pandas as pd\n"
    "rows = []\n"
    "for fast in (5, 10, 15):\n"
    "    for slow in (20, 30):\n"
    "        p = {'fast': fast, 'slow': slow}\n"
    "        r = algobt.backtest(SmaCross, 'DEMO', period='1y', params=p)\n"
    "        rows.append({'fast': fast, 'slow': slow, 'Return [%]': r['Return [%]'], 'run': r})\n"
    "table = pd.DataFrame(rows)\n"
    "display(Compare([rows[0]['run'], rows[-1]['run']]))\n"
    "Heatmap(table.drop(columns='run'), x='fast', y='slow')",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(lab):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(lab.url(lab.write("widgets.ipynb", CELLS)))
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        page.wait_for_selector(
            ".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000
        )
        try:  # JupyterLab's "notified about news?" toast covers the outputs' corner
            page.get_by_role("button", name="No", exact=True).click(timeout=5_000)
        except sync_api.TimeoutError:
            pass
        yield page
        browser.close()


def run(page, cell: int) -> None:
    """Select cell ``cell`` (by its prompt, in command mode) and run it with Shift+Enter.

    Under load JupyterLab may drop a key press that comes while it is still settling:
    the run counts once the cell's prompt shows it queued or ran (``[*]`` or ``[n]``),
    otherwise it is pressed again (at most three times)."""
    prompt = page.locator(".jp-Cell").nth(cell).locator(".jp-InputArea-prompt")
    for _ in range(3):
        prompt.click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if re.search(r"\[(\*|\d+)\]", prompt.inner_text()):
                return
            time.sleep(0.1)
    raise AssertionError(f"cell {cell} never started: its prompt reads {prompt.inner_text()!r}")


def output(page, cell: int, timeout: float = 120_000):
    area = page.locator(".jp-Cell").nth(cell).locator(".jp-OutputArea-output").last
    area.wait_for(timeout=timeout)
    return area


def printed(page, cell: int) -> dict:
    return json.loads(output(page, cell).inner_text().strip())


def shot(page, name: str, locator=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if locator is not None:
        locator.scroll_into_view_if_needed()
    page.screenshot(path=str(path))
    return path


def test_live_chart_plays_to_complete_and_the_kernel_answers_meanwhile(page):
    run(page, 0)  # cell 0: display the chart
    chart = page.locator("[data-testid=live-chart]")
    chart.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=live-chart]').dataset.candles) > 0",
        timeout=120_000,
    )
    assert chart.get_attribute("data-status") == "streaming"
    started = time.monotonic()
    run(page, 1)  # cell 1, during playback
    during = printed(page, 1)
    took = time.monotonic() - started
    assert during == {"status": "streaming", "sum": 2}
    assert took < 1.0, f"a trivial cell took {took:.2f} s during playback"
    shot(page, "jupyterlab-live-chart-playing.png")
    page.wait_for_selector("[data-testid=live-chart][data-status=complete]", timeout=120_000)
    run(page, 2)  # cell 2
    kernel = printed(page, 2)
    assert kernel["status"] == "complete" and kernel["bars"] == 502
    assert chart.get_attribute("data-candles") == str(kernel["bars"])  # every candle drawn
    assert chart.get_attribute("data-markers") == str(kernel["signals"]) != "0"
    assert chart.locator("canvas").count() > 0
    live_trades = page.locator("[data-testid=live-trades]").get_attribute("data-value")
    assert float(live_trades) == kernel["summary"]["totalTrades"]
    assert page.locator("[data-testid=signal-row]").count() == min(10, kernel["signals"])
    assert page.locator("[data-testid=progress]").get_attribute("data-current") == "502"
    chart.scroll_into_view_if_needed()
    shot(page, "jupyterlab-live-chart.png")
    KERNEL.update(kernel)


def test_result_cards_equal_the_results_numbers(page):
    if not KERNEL:
        pytest.skip("needs the live chart test first")
    summary = KERNEL["summary"]
    run(page, 3)  # cell 3: result.plot()
    view = page.locator("[data-testid=result-view]")
    view.wait_for(timeout=60_000)
    cards = {
        "card-total-trades": "totalTrades",
        "card-win-rate": "winRate",
        "card-total-profit": "totalProfit",
        "card-average-trade": "averageTrade",
    }
    for testid, key in cards.items():
        value = page.locator(f"[data-testid={testid}]").get_attribute("data-value")
        assert float(value) == pytest.approx(summary[key], rel=1e-12), testid
    assert page.locator("[data-testid=trade-row]").count() == summary["totalTrades"]
    equity = page.locator("[data-testid=equity-chart]")
    assert equity.get_attribute("data-points") == "502"
    assert int(page.locator("[data-testid=daily-chart]").get_attribute("data-points")) > 0
    assert page.locator("[data-testid=symbol-chart] .sym-row").count() == 1
    equity.scroll_into_view_if_needed()
    shot(page, "jupyterlab-result.png")


def test_compare_and_heatmap_render(page):
    run(page, 4)  # cell 4
    heatmap = page.locator("[data-testid=heatmap]")
    heatmap.wait_for(timeout=120_000)
    assert page.locator("[data-testid=compare-column]").count() == 2
    assert page.locator("[data-testid=heatmap-cell][data-value]").count() == 6
    assert heatmap.get_attribute("data-metric") == "Return [%]"
    heatmap.scroll_into_view_if_needed()
    shot(page, "jupyterlab-compare-heatmap.png")
