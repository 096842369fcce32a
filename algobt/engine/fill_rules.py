"""The fill rules of ``docs/broker.md``, one decision per function.

Each function takes scalars and returns a scalar: booleans for the side
(``buy``: the order's size is positive), floats for prices, ``NaN`` for a
price that is not set (no limit, no stop, no stop-loss...) and for "does not
fill on this bar". They use nothing numba cannot compile, so the fast kernel
can take them as they are (``numba.njit(fill_rules.limit_fill_price)``);
``tests/engine/test_fill_rules.py`` checks that the compiled and the plain
functions agree. The class broker calls the plain ones: from Python, a call
into a jitted function costs more than these few comparisons.

A "worse" price is a higher one for a buyer and a lower one for a seller.
"""

from __future__ import annotations

from math import isnan, nan

#: A price that is not set, and the answer "does not fill on this bar".
NO_PRICE = nan

# What ``bracket_check`` says about a new trade's stop-loss/take-profit.
BRACKET_NEXT_BAR = 0  # checked from the next bar on; nothing to say
BRACKET_THIS_BAR = 1  # checked on the entry's own bar too: match the queue again
BRACKET_AMBIGUOUS = 2  # checked from the next bar on, though a leg lies inside this bar


def stop_reached(buy: bool, stop: float, high: float, low: float) -> bool:
    """True when the bar reaches an order's stop: a buy stop at or below the high,
    a sell stop at or above the low. A reached stop arms the order for good."""
    if buy:
        return high >= stop
    return low <= stop


def limit_fill_price(
    buy: bool, limit: float, armed_stop: float, open_: float, high: float, low: float
) -> float:
    """Price a limit order fills at on this bar, ``NaN`` when it does not fill here.

    The bar must reach the limit (a buy limit at or above the low, a sell limit at
    or below the high); the fill is at the limit or better, i.e. at the bar's start
    when that is already better. The start is the open, or ``armed_stop`` for a
    stop-limit order whose stop this very bar reached (``NaN`` otherwise). Such an
    order does not fill on that bar when its limit is no worse than its stop: the
    bar would have passed the limit before the stop armed it.
    """
    reached = low <= limit if buy else high >= limit
    if not reached:
        return NO_PRICE
    start = open_
    if not isnan(armed_stop):
        passed_first = limit <= armed_stop if buy else limit >= armed_stop
        if passed_first:
            return NO_PRICE
        start = armed_stop
    if buy:
        return min(start, limit)
    return max(start, limit)


def market_fill_price(buy: bool, start: float, armed_stop: float) -> float:
    """Price a market order fills at: the bar's ``start`` (its open, or the previous
    close under ``trade_on_close``). A stop order that this bar armed (``armed_stop``,
    ``NaN`` for a plain market order) fills at its stop or worse: at ``start`` when
    the bar gapped beyond the stop."""
    if isnan(armed_stop):
        return start
    if buy:
        return max(start, armed_stop)
    return min(start, armed_stop)


def moved_against(price: float, buy: bool, fraction: float) -> float:
    """``price`` moved against the trader by ``fraction`` (slippage on every fill,
    the spread on entries): up for a buyer, down for a seller."""
    if buy:
        return price * (1 + fraction)
    return price * (1 - fraction)


def unit_cost(entry_price: float, commission: float, order_size: float) -> float:
    """Money one unit of an entry takes: its entry price plus the order's commission
    (money, computed on the order's size as given) spread over that size."""
    return entry_price + commission / abs(order_size)


def units_for_budget(budget: float, unit_cost: float, whole_units: bool) -> float:
    """How many units ``budget`` (money) pays for at ``unit_cost``, before rounding
    to lots: whole ones with ``lot_size=1``, else a fractional number."""
    if whole_units:
        return budget // unit_cost
    return budget / unit_cost


def exit_units(order_size: float, trade_size: float) -> float:
    """Signed units an exit order closes of its trade: the order's size, at most
    what is left of the trade (which may have shrunk since the order was placed)."""
    units = min(abs(order_size), abs(trade_size))
    return units if order_size > 0 else -units


def bracket_check(
    buy: bool,
    market_entry: bool,
    stop_market_entry: bool,
    sl: float,
    tp: float,
    high: float,
    low: float,
) -> int:
    """When a new trade's bracket (``sl``/``tp``, ``NaN`` when unset) is first checked.

    A market entry filled at the bar's start, so the whole bar came after it:
    ``BRACKET_THIS_BAR``. So does a stop-market entry whose take-profit this bar
    reaches while its stop-loss is out of the bar's reach (it went on from the stop
    to the target). Any other entry's bracket waits for the next bar; when one of
    its legs lies inside this bar the order of events is unknown:
    ``BRACKET_AMBIGUOUS``. Otherwise ``BRACKET_NEXT_BAR``.
    """
    if market_entry:
        return BRACKET_THIS_BAR
    if stop_market_entry and not isnan(tp):
        if buy:
            clear_run = tp <= high and (isnan(sl) or sl < low)
        else:
            clear_run = tp >= low and (isnan(sl) or sl > high)
        if clear_run:
            return BRACKET_THIS_BAR
    if low <= sl <= high or low <= tp <= high:
        return BRACKET_AMBIGUOUS
    return BRACKET_NEXT_BAR
