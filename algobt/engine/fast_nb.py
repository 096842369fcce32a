"""The fast path's kernel: a whole signal backtest in one numba pass.

:func:`simulate_signals_nb` replays, bar for bar and float for float, what the
class API's ``SimBroker`` does for :class:`algobt.engine.fast.SignalStrategy`
(one trade at a time, market orders, optional stop-loss/take-profit), so the
two give identical trades. It takes arrays and scalars only and returns arrays:
the per-bar equity, the closed trades as :data:`trade_dt` records and the
broker's warnings as :data:`alert_dt` records. The pandas-facing layer is
:mod:`algobt.engine.fast`.

Where a rule below looks odd it is the class broker's (backtesting.py 0.6's)
rule, kept on purpose: margin for an all-in order is read at the fill bar's
close, the commission in the per-unit cost uses the order's size as given (a
fraction) and the slipped but spread-free price, and the finalize pass re-runs
the last bar with the orders the last ``next()`` placed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

#: A closed trade. ``size``: signed units (negative = short); ``entry_bar``/
#: ``exit_bar``: bar positions (a ``trade_on_close`` fill is on the signal bar);
#: prices in quote currency, ``entry_price`` including spread and slippage,
#: ``exit_price`` including slippage; ``sl``/``tp``: the stop-loss/take-profit
#: prices (NaN when off); ``pnl`` and ``commission`` (entry + exit) in money,
#: ``pnl`` net of commission; ``return_pct``: a fraction (0.05 = 5 %) of the
#: entry value, net of commission.
trade_dt = np.dtype(
    [
        ("size", np.float64),
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("sl", np.float64),
        ("tp", np.float64),
        ("pnl", np.float64),
        ("commission", np.float64),
        ("return_pct", np.float64),
    ],
    align=True,
)

#: A broker warning: ``bar`` it happened on, ``code`` (:data:`AlertCode`), the
#: order's signed ``size`` (units, or the fraction when it could not be sized)
#: and the account ``equity`` at that moment.
alert_dt = np.dtype(
    [("bar", np.int64), ("code", np.int64), ("size", np.float64), ("equity", np.float64)],
    align=True,
)


class AlertCodeT(NamedTuple):
    NoLotAffordable: int = 0  # an all-in/fraction order could not buy one lot
    BelowOneLot: int = 1  # a unit-sized order rounds down to zero lots
    NoMargin: int = 2  # a unit-sized order costs more than the equity
    OutOfMoney: int = 3  # equity fell to zero or below; the run stopped


AlertCode = AlertCodeT()

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
def _record_trade_nb(
    trades,
    k,
    size,
    entry_bar,
    entry_price,
    entry_commission,
    sl,
    tp,
    exit_price,
    exit_bar,
    commission_rate,
    commission_fixed,
):
    """Write the closed trade into ``trades[k]``; return the cash it adds to the account."""
    exit_commission = commission_fixed + abs(size) * exit_price * commission_rate
    commissions = exit_commission + entry_commission
    rec = trades[k]
    rec["size"] = size
    rec["entry_bar"] = entry_bar
    rec["exit_bar"] = exit_bar
    rec["entry_price"] = entry_price
    rec["exit_price"] = exit_price
    rec["sl"] = sl
    rec["tp"] = tp
    rec["pnl"] = size * (exit_price - entry_price) - commissions
    rec["commission"] = commissions
    sign = 1.0 if size > 0 else -1.0
    rec["return_pct"] = sign * (exit_price / entry_price - 1) - commissions / (
        abs(size) * entry_price
    )
    return size * (exit_price - entry_price) - exit_commission


@njit(cache=True)
def _add_alert_nb(alerts, a, bar, code, size, equity):
    rec = alerts[a]
    rec["bar"] = bar
    rec["code"] = code
    rec["size"] = size
    rec["equity"] = equity
    return a + 1


@njit(cache=True)
def _out_of_money_nb(
    i,
    close,
    equity,
    value,
    trades,
    k,
    alerts,
    a,
    cash,
    t_size,
    t_bar,
    t_entry,
    t_commission,
    t_sl,
    t_tp,
    commission_rate,
    commission_fixed,
):
    """Equity at or below zero: close out at bar ``i``'s close, equity 0 from there on."""
    if t_size != 0.0:
        cash += _record_trade_nb(
            trades,
            k,
            t_size,
            t_bar,
            t_entry,
            t_commission,
            t_sl,
            t_tp,
            close[i],
            i,
            commission_rate,
            commission_fixed,
        )
        k += 1
        t_size = 0.0
    equity[i:] = 0.0
    a = _add_alert_nb(alerts, a, i, AlertCode.OutOfMoney, 0.0, value)
    return cash, k, a, t_size


@njit(cache=True)
def simulate_signals_nb(
    open_,
    high,
    low,
    close,
    entries,
    exits,
    short_entries,
    short_exits,
    cash,
    commission_rate,
    commission_fixed,
    spread,
    slippage,
    size,
    lot_size,
    sl_pct,
    tp_pct,
    trade_on_close,
    finalize_trades,
):
    """Backtest entry/exit signals with the class broker's rules, in one pass.

    open_, high, low, close: float64 prices per bar. entries, exits,
    short_entries, short_exits: bool per bar, acted on in that bar's ``next()``
    (bar 0 has none). cash: starting money. commission_rate: fraction of the
    traded value and commission_fixed: money, both per fill. spread: fraction
    added to the entry price. slippage: fraction every fill moves against the
    trader. size: fraction of equity when < 1, else units. lot_size: quantities
    are rounded down to a multiple of it (1 = whole units). sl_pct/tp_pct:
    stop-loss/take-profit distance in percent of the signal bar's close (NaN =
    off). trade_on_close: fill at the signal bar's close instead of the next
    open. finalize_trades: close the open trade at the end like
    ``Backtest(finalize_trades=True)``.

    Returns ``(equity, trades, alerts, open_trades)``: float64 equity at every
    bar's close, :data:`trade_dt` records in closing order, :data:`alert_dt`
    records, and the number of trades left open (0 or 1).
    """
    n = close.shape[0]
    equity = np.empty(n)
    capacity = 1  # every trade comes from one entry order
    for i in range(1, n):
        capacity += entries[i] | short_entries[i]
    trades = np.empty(capacity, dtype=trade_dt)
    alerts = np.empty(capacity + 1, dtype=alert_dt)
    k = 0
    a = 0

    # Per-run constants; each equals the expression the broker evaluates per fill.
    whole_units = lot_size == 1.0
    buy_slip = 1.0 + slippage
    sell_slip = 1.0 - slippage
    buy_spread = 1.0 + spread
    sell_spread = 1.0 - spread
    use_sl = not np.isnan(sl_pct)
    use_tp = not np.isnan(tp_pct)
    long_sl = 1 - sl_pct / 100
    short_sl = 1 + sl_pct / 100
    long_tp = 1 + tp_pct / 100
    short_tp = 1 - tp_pct / 100
    order_size = abs(size)
    fraction = order_size < 1

    # The one open trade (size 0 = flat) and the account's running totals.
    t_size = 0.0
    t_entry = 0.0
    t_bar = 0
    t_commission = 0.0
    t_sl = np.nan
    t_tp = np.nan
    pos_size = 0.0
    pos_cost = 0.0
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
        value = cash + (close[i] * pos_size - pos_cost)
        equity[i] = value
        if value <= 0:
            cash, k, a, t_size = _out_of_money_nb(
                i,
                close,
                equity,
                value,
                trades,
                k,
                alerts,
                a,
                cash,
                t_size,
                t_bar,
                t_entry,
                t_commission,
                t_sl,
                t_tp,
                commission_rate,
                commission_fixed,
            )
            break

        # next(): exits, then at most one entry (see fast.SignalStrategy).
        is_long = pos_size > 0
        is_short = pos_size < 0
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
            if not finalize_trades:
                break
            j = i
            pend_close = pend_close or t_size != 0.0

        # Most bars have nothing to fill or check.
        if pend_close or pend_dir != 0 or armed:
            if trade_on_close:
                market_price = close[j - 1]
                market_bar = j - 1
            else:
                market_price = open_[j]
                market_bar = j

            # 1. A close order is first in the broker's queue.
            if pend_close:
                pend_close = False
                if t_size != 0.0:
                    price = market_price * (sell_slip if t_size > 0 else buy_slip)
                    cash += _record_trade_nb(
                        trades,
                        k,
                        t_size,
                        t_bar,
                        t_entry,
                        t_commission,
                        t_sl,
                        t_tp,
                        price,
                        market_bar,
                        commission_rate,
                        commission_fixed,
                    )
                    k += 1
                    t_size = 0.0
                    pos_size = 0.0
                    pos_cost = 0.0
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
                            a = _add_alert_nb(
                                alerts, a, j, AlertCode.NoLotAffordable, d * size, cash
                            )
                            break
                    elif whole_units:
                        units = float(np.trunc(order_size))
                    else:
                        units = _round_units_nb(order_size, lot_size, False)
                        if units == 0.0:
                            a = _add_alert_nb(alerts, a, j, AlertCode.BelowOneLot, d * size, cash)
                            break
                    if units * per_unit_cost > margin:
                        a = _add_alert_nb(alerts, a, j, AlertCode.NoMargin, d * units, cash)
                        break
                    t_size = d * units
                    t_entry = entry_price
                    t_bar = market_bar
                    t_commission = commission_fixed + units * entry_price * commission_rate
                    cash -= t_commission
                    pos_size = t_size
                    pos_cost = t_size * entry_price
                    t_sl = pend_sl
                    t_tp = pend_tp
                    armed = not (np.isnan(t_sl) and np.isnan(t_tp))
                if not armed:
                    continue
                if not np.isnan(t_sl):
                    if t_size > 0:
                        hit = low[j] <= t_sl
                        price = min(open_[j], t_sl) * sell_slip
                    else:
                        hit = high[j] >= t_sl
                        price = max(open_[j], t_sl) * buy_slip
                    if hit:
                        cash += _record_trade_nb(
                            trades,
                            k,
                            t_size,
                            t_bar,
                            t_entry,
                            t_commission,
                            t_sl,
                            t_tp,
                            price,
                            j,
                            commission_rate,
                            commission_fixed,
                        )
                        k += 1
                        t_size = 0.0
                        pos_size = 0.0
                        pos_cost = 0.0
                        armed = False
                        continue
                if not np.isnan(t_tp):
                    if t_size > 0:
                        hit = high[j] >= t_tp
                        price = max(open_[j], t_tp) * sell_slip
                    else:
                        hit = low[j] <= t_tp
                        price = min(open_[j], t_tp) * buy_slip
                    if hit:
                        cash += _record_trade_nb(
                            trades,
                            k,
                            t_size,
                            t_bar,
                            t_entry,
                            t_commission,
                            t_sl,
                            t_tp,
                            price,
                            j,
                            commission_rate,
                            commission_fixed,
                        )
                        k += 1
                        t_size = 0.0
                        pos_size = 0.0
                        pos_cost = 0.0
                        armed = False
            pend_dir = 0

        if j == i:  # the finalize pass: mark the last bar again
            value = cash + (close[j] * pos_size - pos_cost)
            equity[j] = value
            if value <= 0:
                cash, k, a, t_size = _out_of_money_nb(
                    j,
                    close,
                    equity,
                    value,
                    trades,
                    k,
                    alerts,
                    a,
                    cash,
                    t_size,
                    t_bar,
                    t_entry,
                    t_commission,
                    t_sl,
                    t_tp,
                    commission_rate,
                    commission_fixed,
                )

    if n > 1:
        equity[0] = equity[1]  # bar 0 has no next(): backfilled, as the class API does
    elif n == 1:
        equity[0] = cash
    open_trades = 1 if t_size != 0.0 else 0
    return equity, trades[:k].copy(), alerts[:a].copy(), open_trades


__all__ = ["AlertCode", "alert_dt", "simulate_signals_nb", "trade_dt"]
