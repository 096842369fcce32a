"""The fast path's kernel: a whole signal backtest in one numba pass.

:func:`simulate_signals_nb` replays, bar for bar and float for float, what the
class API's broker does for :class:`algobt.engine.fast.SignalStrategy` (one
trade at a time, market orders, optional stop-loss/take-profit), so the two give
identical trades. It takes arrays and a :class:`~algobt.engine.enums.SimSettings`
and returns arrays: the per-bar equity, the closed trades as ``trade_dt``
records, the broker's warnings as ``alert_dt`` records and a per-code tally of
them (the layouts: ``docs/records.md``). The blocks the loop needs more than
once (closing a trade, marking equity, running out of money, raising an alert)
are small jitted functions of their own. The pandas-facing layer is
:mod:`algobt.engine.fast`; :func:`algobt.engine.fast.simulate_signals` is the
one way in.

Where a rule below looks odd it is the class broker's (backtesting.py 0.6's)
rule, kept on purpose: margin for an all-in order is read at the fill bar's
close, the commission in the per-unit cost uses the order's size as given (a
fraction) and the slipped but spread-free price, and the finalize pass re-runs
the last bar with the orders the last ``next()`` placed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from algobt.engine.enums import (
    N_ALERT_CODES,
    AlertCode,
    OpenTrade,
    SimSettings,
    alert_dt,
    alert_tally_dt,
    trade_dt,
)

# Beyond 2**13 a double's spacing exceeds 1e-12, so rounding to 12 decimals
# gives the number back (see _round12_nb).
_ROUND12_IDENTITY = 8192.0
_SPLITTER = 134217729.0  # 2**27 + 1, Veltkamp's splitting constant


@njit(cache=True)
def _round12_nb(x):
    """Python's ``round(x, 12)`` exactly (correctly rounded, ties to even).

    The naive ``rint(x * 1e12) / 1e12`` differs from Python once ``x * 1e12``
    is inexact (about 1 case in 30 above 4096 units), so the product is taken
    exactly as a double-double (Dekker) and the tie decided on it.
    """
    if not abs(x) < _ROUND12_IDENTITY:
        return x
    scale = 1e12
    p = x * scale
    # Exact error of the product (Dekker's TwoProduct, no FMA needed).
    t = _SPLITTER * x
    xh = t - (t - x)
    xl = x - xh
    t = _SPLITTER * scale
    sh = t - (t - scale)
    sl = scale - sh
    e = ((xh * sh - p) + xh * sl + xl * sh) + xl * sl
    z = np.rint(p)
    r = p - z  # exact: p and z are within 0.5 of each other
    if r == 0.5 and e > 0:
        z += 1.0
    elif r == -0.5 and e < 0:
        z -= 1.0
    elif r == 0.0 and abs(e) == 0.5:
        # p is an integer and the exact value lies halfway: pick the even neighbour.
        if z % 2.0 != 0.0:
            z += 1.0 if e > 0 else -1.0
    return z / scale


@njit(cache=True)
def _round_units_nb(units, lot_size, whole_units):
    """Round a quantity down to a multiple of ``lot_size`` (the broker's ``round_units``)."""
    if whole_units:
        return float(np.trunc(units))
    return _round12_nb(np.floor(units / lot_size + 1e-9) * lot_size)


@njit(cache=True)
def flat_trade_nb():
    """No open trade."""
    return OpenTrade(0.0, 0.0, 0, 0.0, np.nan, np.nan)


@njit(cache=True)
def close_trade_nb(trades, k, cash, trade, exit_price, exit_bar, s):
    """Close ``trade`` at ``exit_price`` on ``exit_bar``: write it into ``trades[k]``.

    Returns ``(cash, k + 1, flat)``: the cash after the trade's P&L and exit
    commission, the next free record and the flat (no) trade.
    """
    size = trade.size
    entry_price = trade.entry_price
    exit_commission = s.commission_fixed + abs(size) * exit_price * s.commission_rate
    commissions = exit_commission + trade.entry_commission
    rec = trades[k]
    rec["col"] = s.col
    rec["size"] = size
    rec["entry_bar"] = trade.entry_bar
    rec["exit_bar"] = exit_bar
    rec["entry_price"] = entry_price
    rec["exit_price"] = exit_price
    rec["sl"] = trade.sl
    rec["tp"] = trade.tp
    rec["pnl"] = size * (exit_price - entry_price) - commissions
    rec["commission"] = commissions
    sign = 1.0 if size > 0 else -1.0
    rec["return_frac"] = sign * (exit_price / entry_price - 1) - commissions / (
        abs(size) * entry_price
    )
    cash += size * (exit_price - entry_price) - exit_commission
    return cash, k + 1, flat_trade_nb()


@njit(cache=True)
def add_alert_nb(alerts, a, tally, col, code, bar, size, equity):
    """Write an alert into ``alerts[a]`` and count it in ``tally[code]``; return ``a + 1``."""
    rec = alerts[a]
    rec["col"] = col
    rec["code"] = code
    rec["bar"] = bar
    rec["size"] = size
    rec["equity"] = equity
    t = tally[code]
    if t["count"] == 0:
        t["first_bar"] = bar
    t["count"] += 1
    t["last_bar"] = bar
    return a + 1


@njit(cache=True)
def new_alert_tally_nb(col):
    """One empty tally per alert code for column ``col``."""
    tally = np.empty(N_ALERT_CODES, dtype=alert_tally_dt)
    for c in range(N_ALERT_CODES):
        tally[c]["col"] = col
        tally[c]["code"] = c
        tally[c]["count"] = 0
        tally[c]["first_bar"] = -1
        tally[c]["last_bar"] = -1
    return tally


@njit(cache=True)
def mark_nb(i, close, equity, cash, trade):
    """Mark bar ``i`` to its close (cash plus the open trade's unrealized P&L); return it."""
    value = cash + (close[i] * trade.size - trade.size * trade.entry_price)
    equity[i] = value
    return value


@njit(cache=True)
def out_of_money_nb(i, close, equity, value, cash, trade, trades, k, alerts, a, tally, s):
    """Equity ``value`` at bar ``i`` is zero or below: the broker closes the open trade at
    that close, equity is 0 from there on and an ``OutOfMoney`` alert is raised.

    Returns ``(cash, k, a, trade)``.
    """
    if trade.size != 0.0:
        cash, k, trade = close_trade_nb(trades, k, cash, trade, close[i], i, s)
    equity[i:] = 0.0
    a = add_alert_nb(alerts, a, tally, s.col, AlertCode.OutOfMoney, i, 0.0, value)
    return cash, k, a, trade


@njit(cache=True)
def level_touched_nb(level, below, open_, high, low):
    """Does the bar reach ``level`` (from above when ``below``, else from below), and at
    what raw price does it fill there (the open when the bar gaps through it)?"""
    if below:
        return low <= level, min(open_, level)
    return high >= level, max(open_, level)


@njit(cache=True)
def simulate_signals_nb(open_, high, low, close, entries, exits, short_entries, short_exits, s):
    """Backtest entry/exit signals with the class broker's rules, in one pass.

    open_, high, low, close: float64 prices per bar. entries, exits,
    short_entries, short_exits: bool per bar, acted on in that bar's ``next()``
    (bar 0 has none). s: :class:`algobt.engine.enums.SimSettings` (cash, costs,
    sizing, stop-loss/take-profit, fill timing, the column index).

    Returns ``(equity, trades, alerts, alert_tally, open_trades, open_since)``: float64
    equity at every bar's close, :data:`trade_dt` records in closing order,
    :data:`alert_dt` records in the order raised, one :data:`alert_tally_dt`
    per alert code (count, first and last bar), the number of trades left
    open (0 or 1) and the entry bar of the one left open (-1 when flat).
    """
    n = close.shape[0]
    equity = np.empty(n)
    capacity = 1  # every trade comes from one entry order
    for i in range(1, n):
        capacity += entries[i] | short_entries[i]
    trades = np.empty(capacity, dtype=trade_dt)
    alerts = np.empty(capacity + 1, dtype=alert_dt)
    tally = new_alert_tally_nb(s.col)
    k = 0
    a = 0

    # Per-run constants; each equals the expression the broker evaluates per fill.
    cash = s.cash
    commission_rate = s.commission_rate
    commission_fixed = s.commission_fixed
    size = s.size
    lot_size = s.lot_size
    whole_units = lot_size == 1.0
    buy_slip = 1.0 + s.slippage
    sell_slip = 1.0 - s.slippage
    buy_spread = 1.0 + s.spread
    sell_spread = 1.0 - s.spread
    use_sl = not np.isnan(s.sl_pct)
    use_tp = not np.isnan(s.tp_pct)
    long_sl = 1 - s.sl_pct / 100
    short_sl = 1 + s.sl_pct / 100
    long_tp = 1 + s.tp_pct / 100
    short_tp = 1 - s.tp_pct / 100
    order_size = abs(size)
    fraction = order_size < 1

    trade = flat_trade_nb()  # the one open trade
    # Orders placed by the last next(): a market close, a market entry (+1/-1).
    pend_close = False
    pend_dir = 0
    pend_sl = np.nan
    pend_tp = np.nan

    armed = False  # the open trade has a stop-loss or take-profit order
    # Bar 0 has no next(), as in the class API. Each iteration marks bar i, runs its
    # next(), then fills the orders on bar j = i + 1; at the end, the finalize pass
    # fills on the last bar again (j = i), as Backtest(finalize_trades=True) does.
    for i in range(1, n):
        # Mark to the close; at zero equity the broker closes out and the run stops.
        value = mark_nb(i, close, equity, cash, trade)
        if value <= 0:
            cash, k, a, trade = out_of_money_nb(
                i, close, equity, value, cash, trade, trades, k, alerts, a, tally, s
            )
            break

        # next(): exits, then at most one entry (see fast.SignalStrategy).
        is_long = trade.size > 0
        is_short = trade.size < 0
        if (is_long and exits[i]) or (is_short and short_exits[i]):
            pend_close = True
        go_long = entries[i]
        go_short = short_entries[i]
        if go_long and not go_short and not is_long:
            if is_short:
                pend_close = True
            pend_dir = 1
            pend_sl = close[i] * long_sl if use_sl else np.nan
            pend_tp = close[i] * long_tp if use_tp else np.nan
        elif go_short and not go_long and not is_short:
            if is_long:
                pend_close = True
            pend_dir = -1
            pend_sl = close[i] * short_sl if use_sl else np.nan
            pend_tp = close[i] * short_tp if use_tp else np.nan

        j = i + 1
        if j == n:
            if not s.finalize_trades:
                break
            j = i
            pend_close = pend_close or trade.size != 0.0

        # Most bars have nothing to fill or check.
        if pend_close or pend_dir != 0 or armed:
            if s.trade_on_close:
                market_price = close[j - 1]
                market_bar = j - 1
            else:
                market_price = open_[j]
                market_bar = j

            # 1. A close order is first in the broker's queue.
            if pend_close:
                pend_close = False
                if trade.size != 0.0:
                    price = market_price * (sell_slip if trade.size > 0 else buy_slip)
                    cash, k, trade = close_trade_nb(trades, k, cash, trade, price, market_bar, s)
                    armed = False

            # 2./3. The trade's stop-loss, then its take-profit; then the entry, whose own
            # SL/TP are checked on its fill bar too (the broker's reprocess pass).
            passes = 2 if pend_dir != 0 else 1
            for p in range(passes):
                if p == 1:
                    d = pend_dir
                    pend_dir = 0
                    price = market_price * (buy_slip if d > 0 else sell_slip)
                    entry_price = price * (buy_spread if d > 0 else sell_spread)
                    per_unit_cost = (
                        entry_price
                        + (commission_fixed + order_size * price * commission_rate) / order_size
                    )
                    # Flat here: a reversal's close filled first, so equity is cash.
                    margin = max(0.0, cash)
                    if fraction:
                        budget = margin * order_size
                        if whole_units:
                            units = float(np.trunc(budget // per_unit_cost))
                        else:
                            units = _round_units_nb(budget / per_unit_cost, lot_size, False)
                        if units == 0.0:
                            a = add_alert_nb(
                                alerts, a, tally, s.col, AlertCode.NoLotAffordable, j,
                                d * size, cash,
                            )  # fmt: skip
                            break
                    elif whole_units:
                        units = float(np.trunc(order_size))
                    else:
                        units = _round_units_nb(order_size, lot_size, False)
                        if units == 0.0:
                            a = add_alert_nb(
                                alerts, a, tally, s.col, AlertCode.BelowOneLot, j, d * size, cash
                            )
                            break
                    if units * per_unit_cost > margin:
                        a = add_alert_nb(
                            alerts, a, tally, s.col, AlertCode.NoMargin, j, d * units, cash
                        )
                        break
                    trade = OpenTrade(
                        d * units,
                        entry_price,
                        market_bar,
                        commission_fixed + units * entry_price * commission_rate,
                        pend_sl,
                        pend_tp,
                    )
                    cash -= trade.entry_commission
                    armed = not (np.isnan(trade.sl) and np.isnan(trade.tp))
                if not armed:
                    continue
                long = trade.size > 0
                exit_slip = sell_slip if long else buy_slip
                if not np.isnan(trade.sl):
                    hit, raw = level_touched_nb(trade.sl, long, open_[j], high[j], low[j])
                    if hit:
                        cash, k, trade = close_trade_nb(
                            trades, k, cash, trade, raw * exit_slip, j, s
                        )
                        armed = False
                        continue
                if not np.isnan(trade.tp):
                    hit, raw = level_touched_nb(trade.tp, not long, open_[j], high[j], low[j])
                    if hit:
                        cash, k, trade = close_trade_nb(
                            trades, k, cash, trade, raw * exit_slip, j, s
                        )
                        armed = False
            pend_dir = 0

        if j == i:  # the finalize pass: mark the last bar again
            value = mark_nb(j, close, equity, cash, trade)
            if value <= 0:
                cash, k, a, trade = out_of_money_nb(
                    j, close, equity, value, cash, trade, trades, k, alerts, a, tally, s
                )

    if n > 1:
        equity[0] = equity[1]  # bar 0 has no next(): backfilled, as the class API does
    elif n == 1:
        equity[0] = cash
    open_trades = 1 if trade.size != 0.0 else 0
    open_since = trade.entry_bar if trade.size != 0.0 else -1
    return equity, trades[:k].copy(), alerts[:a].copy(), tally, open_trades, open_since


__all__ = [
    "AlertCode",
    "SimSettings",
    "add_alert_nb",
    "alert_dt",
    "close_trade_nb",
    "mark_nb",
    "out_of_money_nb",
    "simulate_signals_nb",
    "trade_dt",
]
