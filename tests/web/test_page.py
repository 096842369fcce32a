"""The page in a real browser against a real ``algobt serve``, through the SPEC §6 hooks only."""

from __future__ import annotations

import pytest

from tests.web.conftest import shot

SMA_CROSS = """from algobt import Strategy
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

BROKEN = """from algobt import Strategy


class Broken(Strategy):
    def init(self):
        pass

    def next(self)
        self.buy()
"""

T = 60_000  # ms: a run on 2 busy cores


def tid(name: str) -> str:
    return f"[data-testid={name}]"


def value_of(page, name: str) -> float:
    return float(page.locator(tid(name)).get_attribute("data-value"))


@pytest.fixture(scope="module")
def stored(serve):
    body = {"name": "SMA cross (page test)", "strategy_code": SMA_CROSS}
    return serve.api("POST", "/api/strategies/strategies/", body)


def open_page(page, serve, query: str = ""):
    page.goto(f"{serve.url}{query}")
    page.wait_for_selector(tid("run-button"))
    assert "token=" not in page.url  # the page hid the token from the address bar


CARDS = (
    ("card-total-trades", "totalTrades"),
    ("card-win-rate", "winRate"),
    ("card-total-profit", "totalProfit"),
    ("card-average-trade", "averageTrade"),
)


def no_sideways_scrolling(page, width: int) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= width


def test_a_persons_path_open_validate_run_reload_run_again_compare(page, serve, stored):
    """Open with the token and a strategy id, validate, run (candles and markers appear),
    the cards equal the saved result, reload and see it again, run again and compare."""
    open_page(page, serve, f"&strategy_id={stored['id']}")
    code = page.locator(tid("strategy-code"))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=strategy-code]').value.includes('SmaCross')"
    )
    assert page.locator(tid("strategy-select")).input_value() == str(stored["id"])
    assert page.locator(tid("run-status")).get_attribute("data-status") == "idle"

    code.fill(SMA_CROSS)
    page.locator(tid("validate-button")).click()
    result = page.locator(f"{tid('validation-result')}[data-valid=true]")
    result.wait_for(timeout=T)
    assert "fast" in result.inner_text()

    page.locator(tid("symbol-input")).fill("DEMO")
    page.locator(tid("period-select")).select_option("2y")
    page.locator(tid("timeframe-select")).select_option("1d")
    page.locator(tid("initial-balance")).fill("10000")
    page.locator(tid("speed-input")).fill("200")  # slow enough to watch it grow
    page.locator(tid("run-button")).click()

    chart = page.locator(tid("live-chart"))
    page.wait_for_function(
        "() => +document.querySelector('[data-testid=live-chart]').dataset.candles > 20",
        timeout=T,
    )
    first = int(chart.get_attribute("data-candles"))
    assert page.locator(tid("run-status")).get_attribute("data-status") in ("streaming", "paused")
    shot(page, "run-streaming")
    page.wait_for_function(
        "n => +document.querySelector('[data-testid=live-chart]').dataset.candles > n",
        arg=first,
        timeout=T,
    )
    page.locator(tid("speed-input")).fill("0")  # then as fast as the page can draw
    page.locator(f"{tid('run-status')}[data-status=complete]").wait_for(timeout=T)

    progress = page.locator(tid("progress"))
    total = int(progress.get_attribute("data-total"))
    assert total > 400 and int(progress.get_attribute("data-current")) == total
    assert int(chart.get_attribute("data-candles")) == total
    markers = int(chart.get_attribute("data-markers"))
    assert 0 < page.locator(f"{tid('signal-log')} {tid('signal-row')}").count() <= 10
    assert page.locator(tid("error-message")).count() == 0

    latest = serve.api("GET", f"/api/strategies/latest-backtest/{stored['id']}/get_by_strategy/")
    summary = latest["summary"]
    for card, key in CARDS:
        assert value_of(page, card) == summary[key], card  # the very number, not a rounding
    trades = latest["total_trades"]
    assert markers == 2 * trades  # an entry and an exit marker per (closed) trade
    assert int(page.locator(tid("live-trades")).get_attribute("data-value")) == trades
    assert page.locator(f"{tid('trades-table')} {tid('trade-row')}").count() == trades
    assert int(page.locator(tid("equity-chart")).get_attribute("data-points")) == total
    assert int(page.locator(tid("daily-chart")).get_attribute("data-points")) > 0
    assert int(page.locator(tid("symbol-chart")).get_attribute("data-points")) == 1
    # money and percentages formatted for people
    profit = page.locator(tid("card-total-profit")).inner_text()
    assert f"{summary['totalProfit']:,.2f}" in profit
    assert f"{summary['winRate']:.1f}%" in page.locator(tid("card-win-rate")).inner_text()
    # the trades table sorts by a column (its header's button), and back the other way
    pnl = f"{tid('trades-table')} {tid('trade-row')} td[data-key=pnl]"
    page.locator(f"{tid('trades-table')} th[data-key=pnl] button").click()
    values = [float(v) for v in page.locator(pnl).evaluate_all("t => t.map(c => c.dataset.value)")]
    assert values == sorted(values) and len(values) == trades
    page.locator(f"{tid('trades-table')} th[data-key=pnl] button").click()
    values = [float(v) for v in page.locator(pnl).evaluate_all("t => t.map(c => c.dataset.value)")]
    assert values == sorted(values, reverse=True)
    rows = page.locator(f"{tid('run-history')} {tid('history-row')}")
    rows.first.wait_for(timeout=T)
    assert rows.first.get_attribute("data-run-id") == str(latest["run_id"])
    assert no_sideways_scrolling(page, 1280)
    shot(page, "run-complete")
    shot(page, "page", full_page=False)  # the README's picture (docs/img/page.png)

    # Reload: the login cookie keeps the page authorized, the saved result comes back.
    page.reload()
    page.locator(f"{tid('card-total-profit')}[data-value]").wait_for(timeout=T)
    assert "token=" not in page.url and f"strategy_id={stored['id']}" in page.url
    for card, key in CARDS:
        assert value_of(page, card) == summary[key], card
    assert page.locator(f"{tid('trades-table')} {tid('trade-row')}").count() == trades
    assert int(page.locator(tid("equity-chart")).get_attribute("data-points")) == total
    rows.first.wait_for(timeout=T)
    assert rows.first.get_attribute("data-run-id") == str(latest["run_id"])
    before = rows.count()

    # Run again with other settings, then compare the two runs side by side.
    page.locator(tid("period-select")).select_option("1y")
    page.locator(tid("commission")).fill("0.2")
    page.locator(tid("run-button")).click()
    status_is(page, "complete")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=history-row]').length > n", arg=before
    )
    ids = [int(r.get_attribute("data-run-id")) for r in rows.all()]
    assert ids == sorted(ids, reverse=True) and ids[1] == latest["run_id"]  # newest first
    second = serve.api("GET", f"/api/strategies/latest-backtest/{stored['id']}/get_by_strategy/")
    assert second["run_id"] == ids[0]
    for card, key in CARDS:
        assert value_of(page, card) == second["summary"][key], card
    for row in rows.all()[:2]:
        row.locator(tid("compare-check")).check()
    page.locator(tid("compare-button")).click()
    view = page.locator(tid("compare-view"))
    view.wait_for(timeout=T)
    columns = view.locator(tid("compare-column"))
    assert sorted(int(c.get_attribute("data-run-id")) for c in columns.all()) == sorted(ids[:2])
    compared = serve.api("GET", f"/api/backtests/runs/compare/?ids={ids[0]},{ids[1]}")
    for column in columns.all():
        run = next(
            r for r in compared["runs"] if str(r["run_id"]) == column.get_attribute("data-run-id")
        )
        shown = column.locator("[data-value]").evaluate_all("e => e.map(x => +x.dataset.value)")
        assert shown == [run["total_return"], run["net_profit"]]
    page.wait_for_function(
        "() => +document.querySelector('[data-testid=compare-chart]')?.dataset.points > 0"
    )
    view.scroll_into_view_if_needed()
    shot(page, "compare")
    page.watch.assert_clean()


def test_a_broken_strategy_shows_its_line(page, serve):
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill(BROKEN)
    page.locator(tid("run-button")).click()
    page.locator(f"{tid('run-status')}[data-status=error]").wait_for(timeout=T)
    assert page.locator(f"{tid('validation-result')}[data-valid=false]").is_visible()
    assert "line 8" in page.locator(tid("validation-result")).inner_text()
    assert page.locator(tid("error-message")).is_visible()
    assert page.locator(f"{tid('field-error')}[data-field=strategy_code]").is_visible()
    assert page.locator(tid("live-chart")).get_attribute("data-candles") == "0"
    shot(page, "error-broken-strategy")
    page.watch.assert_clean()


def test_an_unknown_symbol_shows_the_servers_message(page, serve):
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill(SMA_CROSS)
    page.locator(tid("symbol-input")).fill("NO-SUCH-SYMBOL-XYZ")
    page.locator(tid("run-button")).click()
    page.locator(f"{tid('run-status')}[data-status=error]").wait_for(timeout=T)
    message = page.locator(tid("error-message"))
    assert message.is_visible() and "NO-SUCH-SYMBOL-XYZ" in message.inner_text()
    assert page.locator(f"{tid('field-error')}[data-field=symbol]").is_visible()
    shot(page, "error-unknown-symbol")
    page.watch.assert_clean()


def test_required_fields_are_checked_before_sending(page, serve):
    open_page(page, serve)
    page.locator(tid("symbol-input")).fill("")
    page.locator(tid("initial-balance")).fill("-5")
    page.locator(tid("run-button")).click()
    page.locator(f"{tid('run-status')}[data-status=error]").wait_for(timeout=T)
    for field in ("symbol", "strategy_code", "initial_balance"):
        assert page.locator(f"{tid('field-error')}[data-field={field}]").is_visible(), field
    assert page.locator(tid("error-message")).is_visible()


def candles(page) -> int:
    return int(page.locator(tid("live-chart")).get_attribute("data-candles"))


def wait_candles(page, more_than: int) -> None:
    page.wait_for_function(
        "n => +document.querySelector('[data-testid=live-chart]').dataset.candles > n",
        arg=more_than,
        timeout=T,
    )


def status_is(page, status: str) -> None:
    page.locator(f"{tid('run-status')}[data-status={status}]").wait_for(timeout=T)


def test_pause_resume_and_cancel(page, serve):
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill(SMA_CROSS)
    page.locator(tid("speed-input")).fill("40")
    page.locator(tid("run-button")).click()
    wait_candles(page, 5)
    page.locator(tid("pause-button")).click()
    status_is(page, "paused")
    held = candles(page)
    page.wait_for_timeout(600)
    assert candles(page) == held  # nothing drawn while paused
    page.locator(tid("pause-button")).click()
    status_is(page, "streaming")
    wait_candles(page, held)
    page.locator(tid("cancel-button")).click()
    status_is(page, "cancelled")
    stopped = candles(page)
    page.wait_for_timeout(600)
    assert candles(page) == stopped
    assert stopped < int(page.locator(tid("progress")).get_attribute("data-total"))
    page.watch.assert_clean()


def test_stored_strategy_opens_with_its_saved_result(page, serve, stored):
    latest = serve.api("GET", f"/api/strategies/latest-backtest/{stored['id']}/get_by_strategy/")
    open_page(page, serve, f"&strategy_id={stored['id']}")
    page.locator(f"{tid('card-total-profit')}[data-value]").wait_for(timeout=T)
    assert value_of(page, "card-total-profit") == latest["summary"]["totalProfit"]
    assert value_of(page, "card-total-trades") == latest["summary"]["totalTrades"]
    rows = page.locator(f"{tid('trades-table')} {tid('trade-row')}")
    assert rows.count() == len(latest["trades"])
    page.watch.assert_clean()


def test_a_long_trade_list_shows_its_first_rows_in_order_and_the_rest_on_request(page, serve):
    """Past 250 trades the table shows the first 250 in the chosen order (sorting sorts
    them all) and a button for the rest."""
    code = SMA_CROSS.replace("fast = 10", "fast = 2").replace("slow = 30", "slow = 5")
    body = {"name": "SMA 2/5 (many trades)", "strategy_code": code}
    strategy = serve.api("POST", "/api/strategies/strategies/", body)
    open_page(page, serve, f"&strategy_id={strategy['id']}")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=strategy-code]').value.includes('fast = 2')"
    )
    page.locator(tid("symbol-input")).fill("DEMO")
    page.locator(tid("period-select")).select_option("custom")
    page.locator(tid("start-date")).fill("2015-01-01")
    page.locator(tid("end-date")).fill("2024-12-31")
    page.locator(tid("timeframe-select")).select_option("1d")
    page.locator(tid("speed-input")).fill("0")
    page.locator(tid("run-button")).click()
    status_is(page, "complete")
    latest = serve.api("GET", f"/api/strategies/latest-backtest/{strategy['id']}/get_by_strategy/")
    trades = latest["trades"]
    assert len(trades) > 250
    rows = page.locator(f"{tid('trades-table')} {tid('trade-row')}")
    more = page.locator(tid("trades-more"))
    assert rows.count() == 250 and int(more.get_attribute("data-total")) == len(trades)
    pnl = f"{tid('trades-table')} {tid('trade-row')} td[data-key=pnl]"
    header = page.locator(f"{tid('trades-table')} th[data-key=pnl] button")
    header.click()
    header.click()  # descending: the best trades of the whole list come first
    shown = [float(v) for v in page.locator(pnl).evaluate_all("t => t.map(c => c.dataset.value)")]
    assert shown == sorted((t["pnl"] for t in trades), reverse=True)[:250]
    more.scroll_into_view_if_needed()
    shot(page, "trades-more", full_page=False)
    more.click()
    assert rows.count() == len(trades) and more.count() == 0
    page.watch.assert_clean()


def test_server_killed_mid_run_ends_in_an_error(browser, tmp_path):
    from tests.web.conftest import PageWatch, ServeProcess

    srv = ServeProcess(tmp_path / "algobt.db")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.watch = PageWatch(page, srv.base_url)
        open_page(page, srv)
        page.locator(tid("strategy-code")).fill(SMA_CROSS)
        page.locator(tid("speed-input")).fill("20")
        page.locator(tid("run-button")).click()
        wait_candles(page, 3)
        srv.kill()
        status_is(page, "error")
        message = page.locator(tid("error-message"))
        assert message.is_visible() and "connection" in message.inner_text().lower()
        assert page.locator(tid("live-chart")).get_attribute("data-status") == "error"
        shot(page, "error-server-killed")
        page.watch.assert_clean()
    finally:
        context.close()
        srv.stop()


def test_narrow_screen_has_no_sideways_scrolling(browser, serve):
    from tests.web.conftest import PageWatch

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.watch = PageWatch(page, serve.base_url)
        open_page(page, serve)
        page.locator(tid("strategy-code")).fill(SMA_CROSS)
        page.locator(tid("run-button")).click()
        status_is(page, "complete")
        assert no_sideways_scrolling(page, 390)
        shot(page, "narrow-complete")
        page.watch.assert_clean()
    finally:
        context.close()


def test_a_json_spec_error_shows_its_path(page, serve):
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill('{"name": 1, "version": 1}')
    page.locator(tid("validate-button")).click()
    result = page.locator(f"{tid('validation-result')}[data-valid=false]")
    result.wait_for(timeout=T)
    assert "$.name" in result.inner_text()
    assert page.locator(f"{tid('field-error')}[data-field=strategy_code]").is_visible()
    assert page.locator(tid("run-status")).get_attribute("data-status") == "idle"
    page.watch.assert_clean()


def test_a_strategy_failing_while_it_runs_ends_in_the_streams_error(page, serve):
    failing = SMA_CROSS.replace("self.b = self.I(SMA, self.data.Close, self.slow)", "1 / 0")
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill(failing)
    page.locator(tid("run-button")).click()
    status_is(page, "error")
    message = page.locator(tid("error-message"))
    assert message.is_visible() and "ZeroDivisionError" in message.inner_text()
    assert "<strategy>:11" in message.inner_text()  # the line of the 1 / 0
    page.watch.assert_clean()


def test_several_symbols_with_custom_dates(page, serve):
    open_page(page, serve)
    page.locator(tid("strategy-code")).fill(SMA_CROSS)
    page.locator(tid("symbol-input")).fill("DEMO, DEMO-BTC")
    page.locator(tid("period-select")).select_option("custom")
    page.locator(tid("start-date")).fill("2023-01-01")
    page.locator(tid("end-date")).fill("2024-06-30")
    page.locator(tid("run-button")).click()
    status_is(page, "complete")
    assert page.locator(tid("symbol-chart")).get_attribute("data-points") == "2"
    chart = page.locator(tid("live-chart"))
    total = int(page.locator(tid("progress")).get_attribute("data-total"))
    assert candles(page) == total  # both symbols' bars
    # a tab per symbol picks the one drawn; the first is drawn to begin with
    tabs = page.locator(f"{tid('live-symbols')} {tid('live-symbol')}")
    assert [t.get_attribute("data-symbol") for t in tabs.all()] == ["DEMO", "DEMO-BTC"]
    assert chart.get_attribute("data-symbol") == "DEMO"
    tabs.nth(1).click()
    page.locator(f"{tid('live-chart')}[data-symbol=DEMO-BTC]").wait_for(timeout=T)
    assert tabs.nth(1).get_attribute("aria-selected") == "true"
    assert candles(page) == total
    shot(page, "multi-symbol")
    run_id = page.locator(f"{tid('run-history')} {tid('history-row')}").first.get_attribute(
        "data-run-id"
    )
    saved = serve.api("GET", f"/api/backtests/runs/{run_id}/results/")
    saved = saved[0] if isinstance(saved, list) else saved
    assert value_of(page, "card-total-trades") == saved["summary"]["totalTrades"]
    assert value_of(page, "card-total-profit") == saved["summary"]["totalProfit"]
    # every symbol's markers: an entry and an exit per closed trade, of both symbols
    assert int(chart.get_attribute("data-markers")) == 2 * saved["summary"]["totalTrades"]
    page.watch.assert_clean()
