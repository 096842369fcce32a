"""The class API's broker: orders, trades and the account over one symbol's bars.

The rules it fills by are written down in ``docs/broker.md`` (order of checks
within a bar, brackets, netting, margin, going bust); each single decision is a
scalar function of :mod:`algobt.engine.fill_rules`, and the ``Broker`` methods
here string them together: ``_process_orders`` walks the queue, ``_match``
decides whether and at what price one order fills, ``_fill_exit`` and
``_fill_entry`` carry the fill out (``_entry_units`` sizes an entry,
``_net_opposite`` nets it against opposite trades, ``_new_bracket`` decides when
the new trade's stop-loss/take-profit is first checked), and ``_book_entry``/
``_take_units``/``_book_exit`` keep the trades, the cash and the running totals.
The rules give the trades backtesting.py 0.6 gives, which the oracle tests check.

A strategy's ``next()`` is Python, so this broker is Python too; its per-bar
work is O(1) when no order is pending (running totals, no loops over trades).
The all-numba path for vectorized signals lives in the fast-path kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from math import copysign, floor, isfinite, isnan

import numpy as np
from numba import njit

from algobt.engine.enums import AlertCode
from algobt.engine.fill_rules import (
    BRACKET_AMBIGUOUS,
    BRACKET_THIS_BAR,
    NO_PRICE,
    bracket_check,
    exit_units,
    limit_fill_price,
    market_fill_price,
    moved_against,
    stop_reached,
    unit_cost,
    units_for_budget,
)
from algobt.errors import ConfigError, StrategyError

CommissionFunc = Callable[[float, float], float]

SL_TP_PRIORITIES = ("stop_loss", "take_profit")


class OutOfMoney(Exception):
    """Raised inside the run loop when equity reaches zero: the run stops there."""


def make_commission(commission) -> CommissionFunc:
    """Turn the user's ``commission`` setting into ``f(order_size, price) -> cash``.

    commission: a rate (fraction of traded value per side, e.g. ``0.001``), a
    ``(fixed, rate)`` tuple (fixed cash per fill plus a rate), or a callable
    ``f(order_size, price)`` returning cash (order size negative for sells).

    >>> make_commission((1.0, 0.01))(-10, 50.0)
    6.0
    """
    if callable(commission):
        return commission
    if isinstance(commission, tuple | list):
        if len(commission) != 2:
            raise ConfigError(
                f"commission={commission!r}: a tuple must be (fixed, rate), "
                "e.g. (1.0, 0.001) for $1 plus 0.1% per fill",
                field="commission",
            )
        fixed, rate = commission
    else:
        fixed, rate = 0.0, commission
    try:
        fixed, rate = float(fixed), float(rate)
    except (TypeError, ValueError):
        raise ConfigError(
            f"commission={commission!r} is not a number; give a rate such as 0.001 "
            "(0.1% per side), a (fixed, rate) tuple or a function f(size, price)",
            field="commission",
        ) from None
    if not (isfinite(fixed) and fixed >= 0):
        raise ConfigError(
            f"commission fixed part {fixed!r} must be a finite cash amount >= 0",
            field="commission",
        )
    if not (isfinite(rate) and 0 <= rate < 0.1):
        raise ConfigError(
            f"commission rate {rate!r} must be between 0 and 0.1 (a fraction of traded "
            "value, e.g. 0.001 for 0.1%); market-maker rebates (negative rates) are "
            "not supported",
            field="commission",
        )

    # A partial of a module-level function, not a closure: it pickles, so a Backtest
    # or a Result (which holds the strategy and its broker) can go to another process.
    return functools.partial(_fixed_plus_rate, fixed, rate)


def _fixed_plus_rate(fixed: float, rate: float, order_size: float, price: float) -> float:
    """Commission in cash: ``fixed`` per fill plus ``rate`` of the traded value."""
    return fixed + abs(order_size) * price * rate


class _Side:
    """``is_long``/``is_short`` from the sign of ``size`` (orders, trades, the position)."""

    __slots__ = ()

    is_long = property(lambda self: self.size > 0, doc="True when ``size`` is positive.")
    is_short = property(lambda self: self.size < 0, doc="True when ``size`` is negative.")


class Order(_Side):
    """An order waiting to be filled; place one with ``Strategy.buy()``/``sell()``.

    ``size`` is negative for sells. A size between 0 and 1 is a fraction of the
    available margin, 1 or more is a number of units. Orders are good until
    cancelled. ``sl``/``tp`` become contingent orders on the resulting trade.
    """

    __slots__ = ("_broker", "size", "limit", "stop", "sl", "tp", "parent_trade", "tag", "_queued")

    def __init__(
        self, broker, size, limit=None, stop=None, sl=None, tp=None, parent_trade=None, tag=None
    ):
        self._broker, self.size, self.tag = broker, size, tag
        self.limit, self.stop = limit, stop  # both None: a market order
        self.sl, self.tp = sl, tp  # the bracket an entry gives its trade
        self.parent_trade = parent_trade  # the trade an exit order closes (None: an entry)
        self._queued = False  # in the broker's queue (see Broker._enqueue/_dequeue)

    def __repr__(self):
        shown = [f"size={self.size!r}"]
        for name in ("limit", "stop", "sl", "tp"):
            price = getattr(self, name)
            if price is not None:
                shown.append(f"{name}={price!r}")
        if self.is_contingent:
            shown.append("contingent")
        if self.tag is not None:
            shown.append(f"tag={self.tag!r}")
        return f"<Order {', '.join(shown)}>"

    def cancel(self):
        """Take the order off the queue; a bracket leg leaves its trade's bracket too."""
        self._broker._dequeue(self)
        trade = self.parent_trade
        if trade is None:
            return
        if trade._sl_order is self:
            trade._sl_order = None
        if trade._tp_order is self:
            trade._tp_order = None

    @property
    def is_contingent(self) -> bool:
        """True for a trade's stop-loss or take-profit order (one cancels the other)."""
        trade = self.parent_trade
        return bool(trade is not None and (self is trade._sl_order or self is trade._tp_order))


class Trade(_Side):
    """An open or closed trade: ``size`` units (negative when short) bought at ``entry_price``.

    ``pl`` is in cash and includes both commissions once the trade is closed;
    ``pl_pct`` is a fraction (0.05 = 5%). ``sl``/``tp`` are writable: assign a
    price to set or move the stop-loss/take-profit, ``None`` to cancel it.
    """

    __slots__ = (
        "_broker",
        "size",
        "entry_price",
        "exit_price",
        "entry_bar",
        "exit_bar",
        "_sl_order",
        "_tp_order",
        "tag",
        "_commissions",
        "_entry_commission",
    )

    def __init__(self, broker, size, entry_price, entry_bar, tag=None):
        self._broker, self.size, self.tag = broker, size, tag
        self.entry_price, self.entry_bar = entry_price, entry_bar
        self.exit_price = self.exit_bar = None  # set when the trade closes
        self._sl_order = self._tp_order = None  # its bracket legs, while queued
        self._entry_commission = 0.0  # cash paid on entry for the units still in this trade
        self._commissions = 0.0  # entry + exit commission, once closed

    def __repr__(self):
        return (
            f"<Trade size={self.size} bars={self.entry_bar}-{self.exit_bar or ''} "
            f"price={self.entry_price}-{self.exit_price or ''} pl={self.pl:.0f}>"
        )

    def _split(self, size):
        """Carve ``size`` units out of this trade into a new one (no SL/TP), for a partial
        close. The entry commission paid goes with the units, pro rata."""
        part = Trade(self._broker, size, self.entry_price, self.entry_bar, self.tag)
        share = self._entry_commission * (size / self.size)
        part._entry_commission = share
        self._entry_commission -= share
        return part

    def close(self, portion: float = 1.0):
        """Place an order to close ``portion`` (0 < portion <= 1) of the trade at market:
        that share of its units rounded to the nearest lot, at least one lot."""
        if not 0 < portion <= 1:
            raise StrategyError(f"Trade.close(portion={portion!r}): portion must be in (0, 1]")
        broker = self._broker
        units = max(broker.lot_size, broker.round_units(abs(self.size) * portion, nearest=True))
        broker.queue_exit(self, copysign(units, -self.size))

    @property
    def entry_time(self):
        return self._broker.index[self.entry_bar]

    @property
    def exit_time(self):
        return None if self.exit_bar is None else self._broker.index[self.exit_bar]

    @property
    def _mark_price(self) -> float:
        return self.exit_price or self._broker.last_price

    @property
    def pl(self) -> float:
        """Profit or loss in cash (commissions included only once closed)."""
        return self.size * (self._mark_price - self.entry_price) - self._commissions

    @property
    def pl_pct(self) -> float:
        """Profit or loss as a fraction of the entry value, net of commissions."""
        gross = copysign(1, self.size) * (self._mark_price / self.entry_price - 1)
        return gross - self._commissions / (abs(self.size) * self.entry_price)

    @property
    def value(self) -> float:
        """Market value in cash (units × current or exit price)."""
        return abs(self.size) * self._mark_price

    # The bracket: ``sl`` is the stop of the ``_sl_order`` leg, ``tp`` the limit of the
    # ``_tp_order`` leg (None when there is no such leg).
    sl = property(
        lambda self: self._sl_order.stop if self._sl_order else None,
        lambda self, price: self._replace_leg(True, price),
        doc="Stop-loss price; assign a price to set or move it, None to cancel it.",
    )
    tp = property(
        lambda self: self._tp_order.limit if self._tp_order else None,
        lambda self, price: self._replace_leg(False, price),
        doc="Take-profit price; assign a price to set or move it, None to cancel it.",
    )

    def _replace_leg(self, stop_loss: bool, price):
        """Cancel the stop-loss (or take-profit) leg and queue a new one at ``price``."""
        if price is not None and not 0 < price < np.inf:
            name = "sl" if stop_loss else "tp"
            raise StrategyError(f"Trade.{name} = {price!r}: a price must be > 0 and finite")
        old = self._sl_order if stop_loss else self._tp_order
        if old is not None:
            old.cancel()  # unlinks it
        if price is None:
            return
        stop, limit = (price, None) if stop_loss else (None, price)
        leg = self._broker.new_order(-self.size, limit, stop, tag=self.tag, trade=self)
        if stop_loss:
            self._sl_order = leg
        else:
            self._tp_order = leg


def _check_bracket_sides(buy: bool, sl, price: float, tp):
    """A long order needs ``sl < price < tp``, a short one ``tp < price < sl`` (an unset
    side is no bound); raise a StrategyError naming the three prices otherwise."""
    below, above = (sl, tp) if buy else (tp, sl)
    if (below or -np.inf) < price < (above or np.inf):
        return
    if buy:
        raise StrategyError(
            f"a long order needs sl < price < tp, got sl={sl}, price={price}, tp={tp}"
        )
    raise StrategyError(f"a short order needs tp < price < sl, got tp={tp}, price={price}, sl={sl}")


class Position(_Side):
    """All open trades taken together: a live view of the broker's running totals.

    Truthy while the net size is not zero. See docs/broker.md, "The account".
    """

    __slots__ = ("_broker",)

    def __init__(self, broker):
        self._broker = broker

    def __repr__(self):
        return f"<Position size={self.size} trades={len(self._broker.trades)}>"

    # Read straight from the broker (not through ``size``): strategies ask every bar.
    def __bool__(self):
        return self._broker.position_size != 0

    size = property(
        lambda self: self._broker.position_size, doc="Net units held, negative when short."
    )
    pl = property(
        lambda self: self._broker.unrealized_pl,
        doc="Unrealized profit or loss of the open trades, in money.",
    )

    @property
    def pl_pct(self) -> float:
        """Unrealized profit or loss in **percent** of what the open trades cost at entry
        (0 while flat). Unlike ``Trade.pl_pct``, which is a fraction."""
        paid = self._broker.entry_value
        return self.pl / paid * 100 if paid else 0

    def close(self, portion: float = 1.0):
        """Place orders closing ``portion`` (0 < portion <= 1) of every open trade at market."""
        for trade in self._broker.trades:
            trade.close(portion)


# --- equity between fills ------------------------------------------------------------------
# Between two bars that fill orders the account's cash, net units and Σ size × entry
# price do not change, so equity on each bar is a function of that bar's close alone.
# The broker logs those states and marks the equity curve from the log in one pass,
# instead of bar by bar in Python. Same arithmetic, in the same order, as ``Broker.next``
# (and no fastmath), so every value comes out bit for bit the same.


@njit(cache=True)
def first_ruin_bar_nb(close, start, stop, cash, size, cost):
    """First bar in ``[start, stop)`` whose equity ``cash + (close * size - cost)`` is
    at or below zero (money); ``stop`` when there is none."""
    for i in range(start, stop):
        if cash + (close[i] * size - cost) <= 0:
            return i
    return stop


@njit(cache=True)
def mark_equity_nb(curve, close, log, start, end):
    """Mark ``curve[start:end]`` as ``cash + (close * size - cost)`` (money).

    ``log`` rows are ``(bar, cash, size, cost)``, bars ascending, the first at or
    before ``start``: each row's state holds from its bar until the next row's bar.
    """
    k = 0
    rows = log.shape[0]
    for i in range(start, end):
        while k + 1 < rows and log[k + 1, 0] <= i:
            k += 1
        curve[i] = log[k, 1] + (close[i] * log[k, 2] - log[k, 3])


_FIRST_WINDOW = 64  # bars ``next_due`` searches ahead after a fill


class Broker:
    """Account state and order matching over one symbol's OHLC arrays.

    Prices: ``open``, ``high``, ``low``, ``close`` are float64 arrays of the
    whole run; ``i`` is the bar being processed. Money is in account currency.
    """

    def __init__(
        self,
        *,
        open,
        high,
        low,
        close,
        index,
        cash,
        spread=0.0,
        slippage=0.0,
        commission=0.0,
        margin=1.0,
        lot_size=1,
        trade_on_close=False,
        hedging=False,
        exclusive_orders=False,
        sl_tp_priority="stop_loss",
    ):
        self.open, self.high, self.low, self.close = open, high, low, close
        self.index = index
        self.cash = float(cash)
        self.spread = float(spread)
        self.slippage = float(slippage)
        self.commission = make_commission(commission)
        self.leverage = 1 / margin
        self.lot_size = lot_size
        self._whole_units = float(lot_size) == 1.0
        self.trade_on_close = trade_on_close
        self.hedging = hedging
        self.exclusive_orders = exclusive_orders
        self.sl_first = sl_tp_priority == "stop_loss"
        self.i = 0
        self._equity = np.full(len(close), np.nan)
        # The account's states, flat, four numbers each: bar, cash, units and Σ size ×
        # entry price, each state holding from its bar on; and the first bar of the
        # curve not yet marked from them.
        self._log: list[float] = []
        self._marked_to = len(close)
        self._window = _FIRST_WINDOW
        self.orders: list[Order] = []
        self.trades: list[Trade] = []
        self.closed_trades: list[Trade] = []
        self.position = Position(self)
        # Alerts as (col, code, bar, size, equity) rows of ``enums.alert_dt``.
        self.alerts: list[tuple] = []
        # Running totals of the open trades: units and Σ size × entry price.
        self.position_size = 0
        self._position_cost = 0.0

    # --- account -----------------------------------------------------------------------
    @property
    def equity_curve(self) -> np.ndarray:
        """Equity (money) at the close of every bar run so far (NaN before the first)."""
        self._mark(self.i + 1)
        return self._equity

    def _mark(self, end: int):
        """Mark the equity curve up to (not including) bar ``end`` from the state log."""
        if end > self._marked_to and self._log:
            log = np.array(self._log, dtype=float).reshape(-1, 4)
            mark_equity_nb(self._equity, self.close, log, self._marked_to, end)
            self._log = self._log[-4:]
            self._marked_to = end

    def _log_state(self, i: int):
        self._log += (i, self.cash, self.position_size, self._position_cost)
        self._marked_to = min(self._marked_to, i)

    def begin(self, bar: int) -> int:
        """Start the account at ``bar`` (the run's first bar); return the first bar
        the broker must process even without pending orders (see ``next_due``)."""
        self._log, self._marked_to = [], bar
        self._log_state(bar)
        return self.next_due(bar)

    def next_due(self, start: int) -> int:
        """First bar from ``start`` on where ``next()`` must run with no order pending:
        the bar where equity would reach zero, else the end of the stretch searched
        (it doubles each time); ``len(close)``, never, while flat, as equity then
        stays what ``next()`` last found, above zero."""
        n = len(self.close)
        if not self.position_size or start >= n:
            return n
        stop = min(n, start + self._window)
        self._window *= 2
        return first_ruin_bar_nb(
            self.close, start, stop, self.cash, float(self.position_size), self._position_cost
        )

    @property
    def last_price(self) -> float:
        """Close of the current bar: what open trades are marked to."""
        return self.close[self.i]

    @property
    def unrealized_pl(self) -> float:
        return self.last_price * self.position_size - self._position_cost

    @property
    def equity(self) -> float:
        """Cash plus the open trades' unrealized P&L."""
        return self.cash + self.unrealized_pl

    @property
    def margin_available(self) -> float:
        # ``equity`` minus Σ ``Trade.value`` / leverage, inlined (it runs on every fill):
        # open trades are marked to the current close.
        price, trades = self.close[self.i], self.trades
        used = (sum(abs(t.size) * price for t in trades) if trades else 0) / self.leverage
        return max(0.0, self.cash + (price * self.position_size - self._position_cost) - used)

    def round_units(self, units: float, nearest: bool = False) -> float:
        """Round a quantity to a multiple of ``lot_size`` (down, or to the nearest)."""
        if self._whole_units:
            return int(round(units)) if nearest else int(units)
        lots = round(units / self.lot_size) if nearest else floor(units / self.lot_size + 1e-9)
        return round(lots * self.lot_size, 12)

    @property
    def entry_value(self) -> float:
        """What the open trades cost at entry, Σ |units| × entry price (money)."""
        return sum(abs(t.size) * t.entry_price for t in self.trades)

    def _alert(self, code: int, size: float = 0.0, equity: float = np.nan):
        """Raise an ``AlertCode`` on the current bar (its text: ``enums.ALERT_TEXT``)."""
        self.alerts.append((0, code, self.i, size, equity))

    # --- orders ------------------------------------------------------------------------
    def new_order(
        self, size, limit=None, stop=None, sl=None, tp=None, tag=None, *, trade=None
    ) -> Order:
        """Queue an order and return it; ``size`` < 0 sells. ``trade``: the trade a
        bracket leg belongs to. See docs/broker.md, "Orders and settings"."""
        size = float(size)
        limit, stop, sl, tp = (p and float(p) for p in (limit, stop, sl, tp))
        if sl or tp or limit or stop:  # a plain market order has nothing to check
            price = limit or stop or moved_against(self.close[self.i], size > 0, self.spread)
            _check_bracket_sides(size > 0, sl, price, tp)
        order = Order(self, size, limit, stop, sl, tp, trade, tag)
        if trade is None and self.exclusive_orders:
            self._flatten()
        # A bracket leg that wins a tie goes to the front, so it is matched first.
        self._enqueue(order, front=trade is not None and bool(stop if self.sl_first else limit))
        return order

    def queue_exit(self, trade: Trade, units: float):
        """Queue a market order closing ``units`` (signed against the trade) of ``trade``,
        at the front: exits are matched before anything else."""
        self._enqueue(Order(self, units, parent_trade=trade, tag=trade.tag), front=True)

    def _enqueue(self, order: Order, front: bool):
        if front:
            self.orders.insert(0, order)
        else:
            self.orders.append(order)
        order._queued = True

    def _dequeue(self, order: Order):
        self.orders.remove(order)
        order._queued = False

    def _flatten(self):
        """``exclusive_orders``: before an entry, cancel every waiting order but the bracket
        legs and queue a close for every open trade."""
        for order in [o for o in self.orders if not o.is_contingent]:
            order.cancel()
        for trade in self.trades:
            trade.close()

    def next(self, i: int):
        """Process bar ``i``: match pending orders, then mark equity. Raises OutOfMoney.

        The run loop calls it on bars with pending orders and on ``next_due`` bars;
        on the others equity is marked from the state logged here.
        """
        self.i = i
        if self.orders:
            self._process_orders()
            self._window = _FIRST_WINDOW
        equity = self.cash + (self.close[i] * self.position_size - self._position_cost)
        if equity <= 0:
            self._mark(i)
            for trade in list(self.trades):
                self._book_exit(trade, self.close[i], i)
            self.cash = 0.0
            self._equity[i:] = 0.0
            self._log, self._marked_to = [], len(self._equity)
            self._alert(AlertCode.OutOfMoney, 0.0, equity)
            raise OutOfMoney
        self._log_state(i)

    # --- matching (docs/broker.md, "Matching the queue") -------------------------------
    def _process_orders(self):
        """Match the queue against bar ``self.i``, walking it again while a walk has
        opened a trade whose bracket must be checked on this same bar."""
        i = self.i
        bar = self.open[i], self.high[i], self.low[i]
        again = True
        while again:
            again = False
            for order in list(self.orders):
                if order._queued:  # else it went as the other leg of a filled bracket
                    again |= self._match(order, *bar)

    def _match(self, order: Order, open_, high, low) -> bool:
        """Fill ``order`` if bar ``self.i`` (``open_``, ``high``, ``low``) triggers it; True
        when the fill opened a trade whose bracket is to be checked on this bar too."""
        i = self.i
        buy = order.size > 0
        armed = order.stop  # the stop this bar reaches, if the order has one waiting
        if armed:
            if not stop_reached(buy, armed, high, low):
                return False
            order.stop = None  # spent: a market or limit order from now on
        limit = order.limit
        if limit:
            price = limit_fill_price(buy, limit, armed or NO_PRICE, open_, high, low)
            if isnan(price):
                return False
            bar = i
        else:
            on_close = self.trade_on_close and not order.is_contingent
            start = self.close[i - 1] if on_close else open_
            price = market_fill_price(buy, start, armed or NO_PRICE)
            bar = i - 1 if on_close and not armed else i
        price = moved_against(price, buy, self.slippage)
        if order.parent_trade is not None:
            self._fill_exit(order, price, bar, armed)
            return False
        return self._fill_entry(order, price, bar, armed)

    def _fill_exit(self, order: Order, price: float, bar: int, armed):
        """Close (part of) the order's trade; a bracket leg leaves the queue with the trade."""
        trade = order.parent_trade
        if trade.exit_bar is None:  # still open
            self._take_units(trade, exit_units(order.size, trade.size), price, bar)
            if order is trade._sl_order:
                order.stop = armed  # the closed trade's record shows its stop-loss level
        if not order.is_contingent:
            self._dequeue(order)

    def _fill_entry(self, order: Order, price: float, bar: int, armed) -> bool:
        """Size the entry, net it against opposite trades, open what is left and queue
        its bracket; cancel it (with an alert) when the account cannot pay."""
        size = order.size
        buy = size > 0
        entry_price = moved_against(price, buy, self.spread)
        cost = unit_cost(entry_price, self.commission(size, price), size)
        units, margin = self._entry_units(order, cost)
        wanted = units  # what the alert names when the rest after netting cannot be paid
        if units and not self.hedging:
            units, netted = self._net_opposite(units, buy, price, bar)
            if netted:
                margin = None  # closed trades changed it
        if units:
            if margin is None:
                margin = self.margin_available
            if abs(units) * cost > margin * self.leverage:
                self._alert(AlertCode.NoMargin, wanted, self.equity)
            else:
                self._book_entry(entry_price, units, order.sl, order.tp, bar, order.tag)
                if order.sl or order.tp:
                    return self._new_bracket(order, armed, buy)
        self._dequeue(order)
        return False

    def _entry_units(self, order: Order, cost: float):
        """The entry's signed units (0 when it cannot have one lot, with an alert) and the
        margin available, if reading it was needed on the way (else None)."""
        size = order.size
        if -1 < size < 1:
            margin = self.margin_available
            budget = margin * self.leverage * abs(size)
            units = self.round_units(units_for_budget(budget, cost, self._whole_units))
            if not units:
                self._alert(AlertCode.NoLotAffordable, size, self.equity)
                return 0, margin
            return self._signed(units, size), margin
        if self._whole_units:
            return int(size), None
        units = self.round_units(abs(size))
        if not units:
            self._alert(AlertCode.BelowOneLot, size, self.equity)
        return copysign(units, size), None

    def _signed(self, units, size):
        """``units`` with the sign of ``size``; a Python int with whole units."""
        signed = copysign(units, size)
        return int(signed) if self._whole_units else signed

    def _net_opposite(self, units, buy: bool, price: float, bar: int):
        """Close opposite trades, oldest first, with the entry's signed ``units`` at the
        fill price (no spread); return the units left and whether any trade changed."""
        netted = False
        for trade in list(self.trades):
            if (trade.size > 0) == buy:
                continue
            netted = True
            if abs(units) < abs(trade.size):
                self._take_units(trade, units, price, bar)
                return 0, netted
            self._book_exit(trade, price, bar)
            units += trade.size
            if not units:
                break
        return units, netted

    def _new_bracket(self, order: Order, armed, buy: bool) -> bool:
        """Apply the rule for a new trade's bracket on its entry bar; True to match the
        queue again on this bar."""
        i = self.i
        verdict = bracket_check(
            buy,
            not order.limit and not armed,
            bool(armed) and not order.limit,
            order.sl or NO_PRICE,
            order.tp or NO_PRICE,
            self.high[i],
            self.low[i],
        )
        if verdict == BRACKET_AMBIGUOUS:
            self._alert(AlertCode.AmbiguousBracket)
        self._dequeue(order)
        return verdict == BRACKET_THIS_BAR

    # --- trades (docs/broker.md, "Filling an exit" and "The account") -------------------
    def _book_entry(self, price: float, units, sl, tp, bar: int, tag) -> Trade:
        """Open a trade of ``units`` at ``price`` on ``bar``, pay its entry commission and
        queue its bracket."""
        trade = Trade(self, units, price, bar, tag)
        self.trades.append(trade)
        self._add_to_totals(units, units * price)
        paid = trade._entry_commission = self.commission(units, price)
        self.cash -= paid
        self._attach_bracket(trade, sl, tp)
        return trade

    def _attach_bracket(self, trade: Trade, sl, tp):
        """Queue a new trade's legs, the one that wins a tie last: it goes to the front
        (see ``new_order``), so it ends up matched first."""
        legs = ((False, tp), (True, sl)) if self.sl_first else ((True, sl), (False, tp))
        for stop_loss, price in legs:
            if price:
                trade._replace_leg(stop_loss, price)

    def _take_units(self, trade: Trade, units, price: float, bar: int):
        """Close ``units`` (signed against the trade) of ``trade`` at ``price``: the whole
        trade when they match, else a split-off part of it."""
        left = trade.size + units
        if not left:
            self._book_exit(trade, price, bar)
            return
        # The units move from ``trade`` to ``part``, so the running totals stay right
        # until ``_book_exit(part)`` takes them out.
        part = trade._split(-units)
        trade.size = left if self._whole_units else round(left, 12)
        for leg in (trade._sl_order, trade._tp_order):
            if leg:
                leg.size = -trade.size  # the bracket covers what is left
        self.trades.append(part)
        self._book_exit(part, price, bar)

    def _book_exit(self, trade: Trade, price: float, bar: int):
        """Close the whole of ``trade`` at ``price`` on ``bar``: its bracket leaves the
        queue, cash takes its P&L less the exit commission."""
        self.trades.remove(trade)
        self._add_to_totals(-trade.size, -trade.size * trade.entry_price)
        for leg in (trade._sl_order, trade._tp_order):
            if leg:
                self._dequeue(leg)
        trade.exit_price, trade.exit_bar = price, bar
        self.closed_trades.append(trade)
        fee = self.commission(trade.size, price)
        self.cash += trade.size * (price - trade.entry_price) - fee
        # The record keeps the entry commission its own units paid, so closed-trade P&L
        # sums to the change in equity (backtesting.py re-prices it on the closed size,
        # which counts a fixed fee twice on partial closes).
        trade._commissions = fee + trade._entry_commission

    def _add_to_totals(self, units, cost: float):
        """Move the running totals (net units, Σ size × entry price) by a trade's share."""
        self.position_size += units
        self._position_cost += cost
        if not self.trades:  # drop float dust so a flat book is exactly flat
            self.position_size, self._position_cost = 0, 0.0
