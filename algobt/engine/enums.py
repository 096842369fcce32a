"""The engine's records, codes and settings: the types its kernels share.

Everything a run emits besides the equity curve is a structured numpy array of
one of the record dtypes below, so a kernel can write it without a Python
object per row and a wrapper can turn it into a frame in one vectorised step.
Every record carries ``col``, the column (symbol) it belongs to: 0 for a
one-symbol run, the symbol's position for a portfolio. Codes are NamedTuples of
ints (numba reads them as constants); the kernel's settings and its open trade
are NamedTuples too, so a kernel takes a few arguments instead of twenty.
The layouts and the alert summary are described in ``docs/records.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# --- records --------------------------------------------------------------------------------

#: A closed trade. ``col``: column (symbol) index; ``size``: signed units
#: (negative = short); ``entry_bar``/``exit_bar``: bar positions (a
#: ``trade_on_close`` fill is on the signal bar); prices in quote currency,
#: ``entry_price`` including spread and slippage, ``exit_price`` including
#: slippage; ``sl``/``tp``: the stop-loss/take-profit prices (NaN when off);
#: ``pnl`` and ``commission`` (entry + exit) in money, ``pnl`` net of
#: commission; ``return_frac``: the return as a fraction (0.05 = 5 %) of the
#: entry value, net of commission (the trades table's ``ReturnPct``, named as
#: backtesting.py names it, holds the same fraction).
trade_dt = np.dtype(
    [
        ("col", np.int64),
        ("size", np.float64),
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("sl", np.float64),
        ("tp", np.float64),
        ("pnl", np.float64),
        ("commission", np.float64),
        ("return_frac", np.float64),
    ],
    align=True,
)

#: A broker warning. ``col``: column (symbol) index; ``code``: an
#: :data:`AlertCode`; ``bar``: the bar it happened on; ``size``: the order's
#: signed size (units, or the fraction of equity when it could not be sized;
#: 0 when no order is involved); ``equity``: the account's equity (money) at
#: that moment (NaN when the alert has no use for it).
alert_dt = np.dtype(
    [
        ("col", np.int64),
        ("code", np.int64),
        ("bar", np.int64),
        ("size", np.float64),
        ("equity", np.float64),
    ],
    align=True,
)

#: How often one alert code was raised in one column: ``count`` alerts, the
#: first on ``first_bar`` and the last on ``last_bar`` (-1 for both when
#: ``count`` is 0). The kernel keeps one per code as it goes.
alert_tally_dt = np.dtype(
    [
        ("col", np.int64),
        ("code", np.int64),
        ("count", np.int64),
        ("first_bar", np.int64),
        ("last_bar", np.int64),
    ],
    align=True,
)


# --- codes ----------------------------------------------------------------------------------


class AlertCodeT(NamedTuple):
    NoLotAffordable: int = 0  # an all-in/fraction order could not buy one lot
    BelowOneLot: int = 1  # a unit-sized order rounds down to zero lots
    NoMargin: int = 2  # a unit-sized order costs more than the equity allows
    OutOfMoney: int = 3  # equity fell to zero or below; the run stopped
    AmbiguousBracket: int = 4  # a stop/limit entry's SL/TP fell inside its fill bar
    WarmupTooLong: int = 5  # the indicators' warm-up covers all the data: next() never ran
    OpenAtEnd: int = 6  # trades still open on the last bar (finalize_trades=False)


#: Alert codes (ints), e.g. ``AlertCode.NoMargin``.
AlertCode = AlertCodeT()
N_ALERT_CODES = len(AlertCode)

#: Per alert code: the wire ``code`` (what JSON, the store and the stream show),
#: the ``reason`` (the code's own name, snake case), the level and the message
#: template (filled from the record's ``size``/``equity`` and the run's ``lot_size``).
ALERT_WIRE_CODE = (
    "order_canceled",
    "order_canceled",
    "order_canceled",
    "out_of_money",
    "ambiguous_bracket",
    "warmup_too_long",
    "trade_open_at_end",
)
ALERT_REASON = (
    "no_lot_affordable",
    "below_one_lot",
    "no_margin",
    "out_of_money",
    "ambiguous_bracket",
    "warmup_too_long",
    "trade_open_at_end",
)
ALERT_LEVEL = ("warning",) * N_ALERT_CODES
ALERT_TEXT = (
    "relative-sized order canceled: not enough margin for one lot (equity={equity:.2f})",
    "order of {size:g} units is below one lot of {lot_size}",
    "order of {size:g} units canceled: not enough margin (equity={equity:.2f})",
    "equity fell to zero or below; the run stopped here",
    "SL/TP would trigger on the bar its stop/limit entry filled; it is checked from the "
    "next bar on",
    "no trade was made and the indicators never warmed up: they need more bars than the "
    "{equity:.0f} the data has; use a longer period or shorter indicators",
    "{size:g} trade(s) still open on the last bar: counted in equity, not in the trade "
    "stats; finalize_trades=True closes them",
)


def alert_message(code: int, size: float, equity: float, lot_size=1) -> str:
    """The text of one alert, as the class broker has always worded it."""
    return ALERT_TEXT[code].format(size=size, equity=equity, lot_size=lot_size)


# --- settings and state ---------------------------------------------------------------------


class SimSettings(NamedTuple):
    """What :func:`algobt.engine.fast_nb.simulate_signals_nb` is told about the run.

    cash: starting money. commission_rate: fraction of the traded value and
    commission_fixed: money, both per fill. spread: fraction added to the
    entry price. slippage: fraction every fill moves against the trader.
    size: fraction of equity when < 1, else units. lot_size: quantities are
    rounded down to a multiple of it (1 = whole units). sl_pct/tp_pct:
    stop-loss/take-profit distance in percent of the signal bar's close (NaN =
    off). trade_on_close: fill at the signal bar's close instead of the next
    open. finalize_trades: close the open trade at the end like
    ``Backtest(finalize_trades=True)``. col: the column index written into the
    records.
    """

    cash: float
    commission_rate: float
    commission_fixed: float
    spread: float
    slippage: float
    size: float
    lot_size: float
    sl_pct: float
    tp_pct: float
    trade_on_close: bool
    finalize_trades: bool
    col: int


class OpenTrade(NamedTuple):
    """The kernel's one open trade (``size`` 0.0 = flat): signed units, entry price
    (spread and slippage included), entry bar, the entry commission paid (money)
    and its stop-loss/take-profit prices (NaN = none)."""

    size: float
    entry_price: float
    entry_bar: int
    entry_commission: float
    sl: float
    tp: float


__all__ = [
    "ALERT_LEVEL",
    "ALERT_REASON",
    "ALERT_TEXT",
    "ALERT_WIRE_CODE",
    "AlertCode",
    "AlertCodeT",
    "N_ALERT_CODES",
    "OpenTrade",
    "SimSettings",
    "alert_dt",
    "alert_message",
    "alert_tally_dt",
    "trade_dt",
]
