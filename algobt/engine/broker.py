"""SimBroker: orders, trades and account accounting for the class API.

The broker follows backtesting.py 0.6's fill rules so a strategy written for
it gives the same trades here:

* market orders fill at the next bar's open (``trade_on_close``: at the close
  of the bar the order was placed on);
* stop orders turn into market (or limit) orders once High/Low touches the
  stop; limit orders fill at the limit or better, a gap fills at the open;
* stop-loss and take-profit are contingent orders on a trade, checked
  intrabar against High/Low; when both fall inside one bar the stop-loss is
  assumed to fill first (``sl_tp_priority="stop_loss"``, the pessimistic
  default) unless asked otherwise;
* without ``hedging``, an order first closes opposite trades first in, first
  out; ``exclusive_orders`` closes everything before each new order;
* ``spread`` makes entries dearer, ``slippage`` moves *every* fill against the
  trader, ``commission`` is charged on entry and on exit.

A strategy's ``next()`` is Python, so this broker is Python too; its per-bar
work is O(1) when no order is pending (running totals, no loops over trades).
The all-numba path for vectorized signals lives in the fast-path kernel.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from math import copysign, floor, isfinite

import numpy as np
from numba import njit

from algobt.engine.enums import AlertCode
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

    @property
    def is_long(self) -> bool:
        return self.size > 0

    @property
    def is_short(self) -> bool:
        return self.size < 0


class Order(_Side):
    """An order waiting to be filled; place one with ``Strategy.buy()``/``sell()``.

    ``size`` is negative for sells. A size between 0 and 1 is a fraction of the
    available margin, 1 or more is a number of units. Orders are good until
    cancelled. ``sl``/``tp`` become contingent orders on the resulting trade.
    """

    __slots__ = ("_broker", "size", "limit", "stop", "sl", "tp", "parent_trade", "tag")

    def __init__(
        self, broker, size, limit=None, stop=None, sl=None, tp=None, parent_trade=None, tag=None
    ):
        self._broker = broker
        self.size = size
        self.limit = limit
        self.stop = stop
        self.sl = sl
        self.tp = tp
        self.parent_trade = parent_trade
        self.tag = tag

    def __repr__(self):
        fields = (
            ("size", self.size),
            ("limit", self.limit),
            ("stop", self.stop),
            ("sl", self.sl),
            ("tp", self.tp),
            ("contingent", self.is_contingent),
            ("tag", self.tag),
        )
        return "<Order " + ", ".join(f"{k}={v!r}" for k, v in fields if v is not None) + ">"

    def cancel(self):
        """Cancel the order (and unlink it from its trade if it is that trade's SL/TP)."""
        self._broker.orders.remove(self)
        trade = self.parent_trade
        if trade is not None:
            if self is trade._sl_order:
                trade._sl_order = None
            elif self is trade._tp_order:
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
        self._broker = broker
        self.size = size
        self.entry_price = entry_price
        self.exit_price = None
        self.entry_bar = entry_bar
        self.exit_bar = None
        self._sl_order = None
        self._tp_order = None
        self.tag = tag
        self._commissions = 0.0
        self._entry_commission = 0.0  # cash paid on entry for the units still in this trade

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
        """Place an order to close ``portion`` (0 < portion <= 1) of the trade at market."""
        if not 0 < portion <= 1:
            raise StrategyError(f"Trade.close(portion={portion!r}): portion must be in (0, 1]")
        lot = self._broker.lot_size
        units = max(lot, self._broker.round_units(abs(self.size) * portion, nearest=True))
        order = Order(self._broker, copysign(units, -self.size), parent_trade=self, tag=self.tag)
        self._broker.orders.insert(0, order)

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

    @property
    def sl(self):
        order = self._sl_order
        return order and order.stop

    @sl.setter
    def sl(self, price):
        self._set_contingent("sl", price)

    @property
    def tp(self):
        order = self._tp_order
        return order and order.limit

    @tp.setter
    def tp(self, price):
        self._set_contingent("tp", price)

    def _set_contingent(self, kind, price):
        if price is not None and not (0 < price < np.inf):
            raise StrategyError(f"Trade.{kind} = {price!r}: a price must be > 0 and finite")
        attr = "_sl_order" if kind == "sl" else "_tp_order"
        old = getattr(self, attr)
        if old is not None:
            old.cancel()
        if price:
            kwargs = {"stop": price} if kind == "sl" else {"limit": price}
            order = self._broker.new_order(-self.size, trade=self, tag=self.tag, **kwargs)
            setattr(self, attr, order)


class Position(_Side):
    """The net position of all open trades; truthy when non-flat."""

    __slots__ = ("_broker",)

    def __init__(self, broker):
        self._broker = broker

    def __bool__(self):
        return self._broker.position_size != 0  # not through ``size``: read once per bar

    @property
    def size(self) -> float:
        """Net units held, negative when short."""
        return self._broker.position_size

    @property
    def pl(self) -> float:
        """Unrealized profit or loss of the open trades, in cash."""
        return self._broker.unrealized_pl

    @property
    def pl_pct(self) -> float:
        """Unrealized profit or loss in percent of the entry value."""
        invested = sum(abs(t.size) * t.entry_price for t in self._broker.trades)
        return self.pl / invested * 100 if invested else 0

    def close(self, portion: float = 1.0):
        """Close ``portion`` of every open trade at the next market price."""
        for trade in self._broker.trades:
            trade.close(portion)

    def __repr__(self):
        return f"<Position: {self.size} ({len(self._broker.trades)} trades)>"


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

    def _alert(self, code: int, size: float = 0.0, equity: float = np.nan):
        """Raise an ``AlertCode`` on the current bar (its text: ``enums.ALERT_TEXT``)."""
        self.alerts.append((0, code, self.i, size, equity))

    # --- orders ------------------------------------------------------------------------
    def new_order(
        self, size, limit=None, stop=None, sl=None, tp=None, tag=None, *, trade=None
    ) -> Order:
        """Queue an order; ``size`` < 0 sells. Longs need SL < price < TP, shorts the reverse."""
        size = float(size)
        limit = limit and float(limit)
        stop = stop and float(stop)
        sl = sl and float(sl)
        tp = tp and float(tp)
        # A plain market order (no price given) always passes: its reference price, the
        # close, is finite, and without SL/TP the bounds are infinite.
        if sl or tp or limit or stop:
            reference = limit or stop or self.close[self.i] * (1 + copysign(self.spread, size))
            if size > 0:
                if not (sl or -np.inf) < reference < (tp or np.inf):
                    raise StrategyError(
                        f"a long order needs sl < price < tp, got sl={sl}, price={reference}, "
                        f"tp={tp}"
                    )
            elif not (tp or -np.inf) < reference < (sl or np.inf):
                raise StrategyError(
                    f"a short order needs tp < price < sl, got tp={tp}, price={reference}, sl={sl}"
                )
        order = Order(self, size, limit, stop, sl, tp, trade, tag)
        if trade is None and self.exclusive_orders:
            for other in list(self.orders):
                if not other.is_contingent:
                    other.cancel()
            for open_trade in self.trades:
                open_trade.close()
        # A trade's stop-loss goes to the front so it is matched before anything else.
        if trade is not None and stop and self.sl_first:
            self.orders.insert(0, order)
        elif trade is not None and limit and not self.sl_first:
            self.orders.insert(0, order)
        else:
            self.orders.append(order)
        return order

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
                self._close_trade(trade, self.close[i], i)
            self.cash = 0.0
            self._equity[i:] = 0.0
            self._log, self._marked_to = [], len(self._equity)
            self._alert(AlertCode.OutOfMoney, 0.0, equity)
            raise OutOfMoney
        self._log_state(i)

    def _fill_price(self, order: Order, raw: float) -> float:
        """Move a fill against the trader by ``slippage``."""
        if self.slippage:
            return raw * (1 + copysign(self.slippage, order.size))
        return raw

    def _process_orders(self):
        i = self.i
        open_, high, low = self.open[i], self.high[i], self.low[i]
        reprocess = False
        for order in list(self.orders):
            if order not in self.orders:  # removed as the sibling of a filled SL/TP
                continue

            stop = order.stop
            if stop:
                touched = high >= stop if order.is_long else low <= stop
                if not touched:
                    continue
                order.stop = None  # a touched stop becomes a market/limit order

            if order.limit:
                limit = order.limit
                limit_hit = low <= limit if order.is_long else high >= limit
                # Stop and limit in one bar: assume the limit came first, i.e. before
                # the stop armed it, so it does not fill on this bar.
                limit_before_stop = limit_hit and (
                    limit <= (stop or -np.inf) if order.is_long else limit >= (stop or np.inf)
                )
                if not limit_hit or limit_before_stop:
                    continue
                price = min(stop or open_, limit) if order.is_long else max(stop or open_, limit)
            else:
                on_close = self.trade_on_close and not order.is_contingent
                price = self.close[i - 1] if on_close else open_
                if stop:
                    price = max(price, stop) if order.is_long else min(price, stop)

            is_market = not order.limit and not stop
            bar = i - 1 if is_market and self.trade_on_close and not order.is_contingent else i
            price = self._fill_price(order, price)

            trade = order.parent_trade
            if trade is not None:
                # A close order, stop-loss or take-profit against an existing trade.
                units = copysign(min(abs(trade.size), abs(order.size)), order.size)
                if trade in self.trades:
                    self._reduce_trade(trade, price, units, bar)
                    if order is trade._sl_order:
                        order.stop = stop  # keep the SL level on record for the trade list
                if order is not trade._sl_order and order is not trade._tp_order:
                    self.orders.remove(order)
                continue

            entry_price = price * (1 + copysign(self.spread, order.size))
            per_unit_cost = entry_price + self.commission(order.size, price) / abs(order.size)

            size = order.size
            margin = None  # margin_available, while no trade has been touched since
            if -1 < size < 1:
                margin = self.margin_available
                budget = margin * self.leverage * abs(size)
                units = self.round_units(
                    budget // per_unit_cost if self._whole_units else budget / per_unit_cost
                )
                if not units:
                    self._alert(AlertCode.NoLotAffordable, size, self.equity)
                    self.orders.remove(order)
                    continue
                size = copysign(units, size)
            elif not self._whole_units:
                units = self.round_units(abs(size))
                if not units:
                    self._alert(AlertCode.BelowOneLot, size, self.equity)
                    self.orders.remove(order)
                    continue
                size = copysign(units, size)
            need = int(size) if self._whole_units else size

            if not self.hedging:
                # Net against opposite trades first in, first out, at the unadjusted price.
                for other in list(self.trades):
                    if other.is_long == order.is_long:
                        continue
                    margin = None
                    if abs(need) >= abs(other.size):
                        self._close_trade(other, price, bar)
                        need += other.size
                    else:
                        self._reduce_trade(other, price, need, bar)
                        need = 0
                    if not need:
                        break

            if margin is None:
                margin = self.margin_available
            if abs(need) * per_unit_cost > margin * self.leverage:
                self._alert(AlertCode.NoMargin, size, self.equity)
                self.orders.remove(order)
                continue

            if need:
                self._open_trade(entry_price, need, order.sl, order.tp, bar, order.tag)
                if order.sl or order.tp:
                    if is_market:
                        reprocess = True  # a market entry's SL/TP may trigger this same bar
                    elif (
                        stop
                        and not order.limit
                        and order.tp
                        and (
                            (order.is_long and order.tp <= high and (order.sl or -np.inf) < low)
                            or (order.is_short and order.tp >= low and (order.sl or np.inf) > high)
                        )
                    ):
                        reprocess = True
                    elif (
                        low <= (order.sl or -np.inf) <= high or low <= (order.tp or -np.inf) <= high
                    ):
                        self._alert(AlertCode.AmbiguousBracket)
            self.orders.remove(order)

        if reprocess:
            self._process_orders()

    # --- trades ------------------------------------------------------------------------
    def _reduce_trade(self, trade: Trade, price: float, units: float, bar: int):
        """Close ``units`` (opposite sign to the trade) of ``trade``; all of it if they match."""
        remaining = trade.size + units
        if not remaining:
            self._close_trade(trade, price, bar)
            return
        # The running totals need no update here: the units leave ``trade`` and
        # join ``part`` before ``_close_trade(part)`` takes them out.
        part = trade._split(-units)
        trade.size = remaining if self._whole_units else round(remaining, 12)
        if trade._sl_order:
            trade._sl_order.size = -trade.size
        if trade._tp_order:
            trade._tp_order.size = -trade.size
        self.trades.append(part)
        self._close_trade(part, price, bar)

    def _close_trade(self, trade: Trade, price: float, bar: int):
        self.trades.remove(trade)
        self.position_size -= trade.size
        self._position_cost -= trade.size * trade.entry_price
        if not self.trades:  # drop float dust so a flat book is exactly flat
            self.position_size, self._position_cost = 0, 0.0
        if trade._sl_order:
            self.orders.remove(trade._sl_order)
        if trade._tp_order:
            self.orders.remove(trade._tp_order)
        trade.exit_price = price
        trade.exit_bar = bar
        self.closed_trades.append(trade)
        exit_commission = self.commission(trade.size, price)
        self.cash += trade.size * (price - trade.entry_price) - exit_commission
        # The trade's record carries the entry commission actually paid for its units, so
        # closed-trade P&L sums to the change in equity. (backtesting.py re-prices the entry
        # commission on the closed size, which double-counts a fixed fee on partial closes.)
        trade._commissions = exit_commission + trade._entry_commission

    def _open_trade(self, price, size, sl, tp, bar, tag):
        trade = Trade(self, size, price, bar, tag)
        self.trades.append(trade)
        self.position_size += size
        self._position_cost += size * price
        trade._entry_commission = self.commission(size, price)
        self.cash -= trade._entry_commission
        if self.sl_first:
            if tp:
                trade.tp = tp
            if sl:
                trade.sl = sl
        else:
            if sl:
                trade.sl = sl
            if tp:
                trade.tp = tp
