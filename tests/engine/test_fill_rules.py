"""The fill rules of docs/broker.md: each scalar rule on hand-worked cases, compiled by
numba with the same answers, and the rules that only show across a whole bar (a second
walk over the queue, a stop-limit entry's wait, a stop entry running to its target,
finalize_trades under trade_on_close) through the class broker on the scenario bars.
"""

from __future__ import annotations

from math import isnan, nan

import pytest
from numba import njit

from algobt.engine import fill_rules as fr
from tests.engine.test_broker_scenarios import run

BUY, SELL = True, False

# (rule, arguments, expected); NaN expected means "does not fill on this bar".
CASES = [
    # A buy stop is reached when the high gets to it, a sell stop when the low does.
    (fr.stop_reached, (BUY, 105.0, 106.0, 99.0), True),
    (fr.stop_reached, (BUY, 105.0, 105.0, 99.0), True),
    (fr.stop_reached, (BUY, 105.0, 104.9, 99.0), False),
    (fr.stop_reached, (SELL, 95.0, 101.0, 95.0), True),
    (fr.stop_reached, (SELL, 95.0, 101.0, 95.1), False),
    # Limit buy at 99 on a bar 104/105/95: reached, fills at the limit.
    (fr.limit_fill_price, (BUY, 99.0, nan, 104.0, 105.0, 95.0), 99.0),
    # ... the bar opens at 97, below the limit: fills at the better open.
    (fr.limit_fill_price, (BUY, 99.0, nan, 97.0, 98.0, 95.0), 97.0),
    # ... the low stays at 100: no fill.
    (fr.limit_fill_price, (BUY, 99.0, nan, 104.0, 105.0, 100.0), nan),
    # Limit sell at 110: the high 112 reaches it; at 110, or at a 111 open.
    (fr.limit_fill_price, (SELL, 110.0, nan, 108.0, 112.0, 107.0), 110.0),
    (fr.limit_fill_price, (SELL, 110.0, nan, 111.0, 112.0, 107.0), 111.0),
    (fr.limit_fill_price, (SELL, 110.0, nan, 108.0, 109.0, 107.0), nan),
    # Stop-limit buy, stop 105 armed on this bar, limit 107: starts at the stop, 105.
    (fr.limit_fill_price, (BUY, 107.0, 105.0, 100.0, 108.0, 99.0), 105.0),
    # ... limit 103 below the stop: the bar passed 103 before arming it: waits.
    (fr.limit_fill_price, (BUY, 103.0, 105.0, 100.0, 108.0, 99.0), nan),
    # ... next bar, a plain limit at 103 now: fills at min(open, limit).
    (fr.limit_fill_price, (BUY, 103.0, nan, 104.0, 106.0, 101.0), 103.0),
    # Stop-limit sell, stop 95 armed, limit 94 below it: starts at the stop, 95.
    (fr.limit_fill_price, (SELL, 94.0, 95.0, 100.0, 101.0, 90.0), 95.0),
    (fr.limit_fill_price, (SELL, 96.0, 95.0, 100.0, 101.0, 90.0), nan),
    # Market orders fill at the bar's start; a stop at its stop or the worse start.
    (fr.market_fill_price, (BUY, 100.0, nan), 100.0),
    (fr.market_fill_price, (BUY, 100.0, 105.0), 105.0),
    (fr.market_fill_price, (BUY, 107.0, 105.0), 107.0),  # gapped above the stop
    (fr.market_fill_price, (SELL, 97.0, 95.0), 95.0),
    (fr.market_fill_price, (SELL, 90.0, 95.0), 90.0),  # gapped below the stop
    # Slippage and spread move the price against the trader.
    (fr.moved_against, (200.0, BUY, 0.5), 300.0),
    (fr.moved_against, (200.0, SELL, 0.5), 100.0),
    (fr.moved_against, (123.25, BUY, 0.0), 123.25),
    # One unit's cost: entry price + the order's commission over the order's size.
    (fr.unit_cost, (102.0, 2.5, 10.0), 102.25),
    (fr.unit_cost, (102.0, 2.5, -10.0), 102.25),
    (fr.unit_cost, (100.0, 0.25, 0.5), 100.5),  # a relative order's size as given
    # Units a budget pays for: whole ones with lot_size=1.
    (fr.units_for_budget, (1000.0, 102.5, True), 9.0),
    (fr.units_for_budget, (1025.0, 102.5, False), 10.0),
    (fr.units_for_budget, (1000.0, 400.0, False), 2.5),
    # An exit closes its size, at most what is left of the trade, signed as the order.
    (fr.exit_units, (-10.0, 4.0), -4.0),
    (fr.exit_units, (-3.0, 10.0), -3.0),
    (fr.exit_units, (5.0, -10.0), 5.0),
    # When a new trade's bracket is first checked (bar 104/112/95 as in the scenarios).
    (fr.bracket_check, (BUY, True, False, 50.0, nan, 112.0, 95.0), fr.BRACKET_THIS_BAR),
    # A stop-market entry whose TP 111 the high reaches, SL 94 below the low: this bar.
    (fr.bracket_check, (BUY, False, True, 94.0, 111.0, 112.0, 95.0), fr.BRACKET_THIS_BAR),
    (fr.bracket_check, (BUY, False, True, nan, 111.0, 112.0, 95.0), fr.BRACKET_THIS_BAR),
    # ... SL 96 inside the bar: which came first is unknown.
    (fr.bracket_check, (BUY, False, True, 96.0, 111.0, 112.0, 95.0), fr.BRACKET_AMBIGUOUS),
    # ... TP 115 out of reach, SL 90 out of reach too: the next bar.
    (fr.bracket_check, (BUY, False, True, 90.0, 115.0, 112.0, 95.0), fr.BRACKET_NEXT_BAR),
    # A short stop-market entry: TP 96 down to the low 95, SL 113 above the high.
    (fr.bracket_check, (SELL, False, True, 113.0, 96.0, 112.0, 95.0), fr.BRACKET_THIS_BAR),
    (fr.bracket_check, (SELL, False, True, 110.0, 96.0, 112.0, 95.0), fr.BRACKET_AMBIGUOUS),
    # A limit (or stop-limit) entry never checks its bracket on its own bar.
    (fr.bracket_check, (BUY, False, False, 90.0, 111.0, 112.0, 95.0), fr.BRACKET_AMBIGUOUS),
    (fr.bracket_check, (BUY, False, False, 90.0, 120.0, 112.0, 95.0), fr.BRACKET_NEXT_BAR),
]


def _same(got, expected):
    if isinstance(expected, float) and isnan(expected):
        return isnan(got)
    return got == expected


@pytest.mark.parametrize(("rule", "args", "expected"), CASES)
def test_rule_on_a_hand_worked_case(rule, args, expected):
    assert _same(rule(*args), expected), (rule.__name__, args)


def test_every_rule_has_cases():
    public = {
        name
        for name in dir(fr)
        if not name.startswith("_") and callable(getattr(fr, name)) and name not in ("isnan",)
    }
    assert public == {rule.__name__ for rule, _, _ in CASES}


def test_numba_compiles_every_rule_to_the_same_answers():
    compiled = {}
    for rule, args, expected in CASES:
        jitted = compiled.setdefault(rule, njit(rule))
        assert _same(jitted(*args), expected), (rule.__name__, args)


# --- across a whole bar, through the class broker (bars in test_broker_scenarios) -----
TRADE = ["Size", "EntryBar", "ExitBar", "EntryPrice", "ExitPrice"]


def trades(result):
    return result.trades[TRADE].values.tolist()


def test_a_stop_limit_entry_waits_on_the_bar_that_arms_it():
    # Buy stop 103, limit 101, placed on bar 1. Bar 2 (102/104/100) reaches the stop and
    # the limit, but the limit lies below the stop: filled on bar 3 at min(104, 101).
    result = run({1: lambda s: s.buy(size=1, stop=103, limit=101)}, finalize_trades=True)
    assert trades(result) == [[1, 3, 5, 101, 90]]


def test_a_second_walk_fills_a_stop_limit_its_first_walk_armed():
    # As above, plus a market entry with an SL: its bracket is checked on bar 2, so the
    # queue is walked again there, and the armed stop-limit (a plain limit by then) fills.
    def plan(s):
        s.buy(size=1, stop=103, limit=101)
        s.buy(size=1, sl=50)

    result = run({1: plan}, finalize_trades=True)
    assert trades(result) == [[1, 2, 5, 102, 90], [1, 2, 5, 101, 90]]
    assert not result.alerts


def test_a_stop_entry_runs_to_its_target_on_its_own_bar():
    # Buy stop 105 placed on bar 2; bar 3 (104/112/95) arms it at 105 and reaches the
    # TP 111 while the SL 94 stays below the low: in and out on bar 3.
    result = run({2: lambda s: s.buy(size=1, stop=105, tp=111, sl=94)})
    assert trades(result) == [[1, 3, 3, 105, 111]]
    assert not result.alerts
    # With the SL at 100, inside the bar, the order of events is unknown: the bracket
    # waits for bar 4, where the low 100 reaches an SL at 100.
    result = run({2: lambda s: s.buy(size=1, stop=105, tp=111, sl=100)})
    assert trades(result) == [[1, 3, 4, 105, 100]]
    assert [a["code"] for a in result.alerts] == ["ambiguous_bracket"]


def test_finalize_under_trade_on_close_fills_at_the_close_before_the_last_bar():
    result = run({1: lambda s: s.buy(size=10)}, finalize_trades=True, trade_on_close=True)
    assert trades(result) == [[10, 1, 4, 101, 105]]
    result = run({1: lambda s: s.buy(size=10)}, finalize_trades=True)
    assert trades(result) == [[10, 2, 5, 102, 90]]


def test_position_is_the_open_trades_taken_together():
    # Hedging: long 10 from bar 2 (102), short 4 from bar 3 (104); seen at bar 3's close 110.
    seen = {}

    def look(s):
        p = s.position
        seen.update(size=p.size, pl=p.pl, pl_pct=p.pl_pct, long=p.is_long, truthy=bool(p))

    run({1: lambda s: s.buy(size=10), 2: lambda s: s.sell(size=4), 3: look}, hedging=True)
    assert seen["size"] == 6 and seen["long"] and seen["truthy"]
    assert seen["pl"] == pytest.approx(10 * (110 - 102) - 4 * (110 - 104))
    assert seen["pl_pct"] == pytest.approx(56 / (10 * 102 + 4 * 104) * 100)  # percent
    flat = {}
    run({1: lambda s: flat.update(pct=s.position.pl_pct, truthy=bool(s.position))})
    assert flat == {"pct": 0, "truthy": False}
