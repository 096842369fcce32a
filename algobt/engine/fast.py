"""The vectorized fast path: backtest entry/exit signal arrays in one numba pass.

    >>> import algobt
    >>> from algobt.engine.fast import from_signals
    >>> from algobt.lib import SMA
    >>> data = algobt.load("DEMO")
    >>> above = SMA(data.Close, 10) > SMA(data.Close, 30)
    >>> was_above = above.shift(1, fill_value=False)
    >>> result = from_signals(data, above & ~was_above, ~above & was_above, commission=0.001)
    >>> result["# Trades"] > 0, list(result.trades.columns[:3])
    (True, ['Size', 'EntryBar', 'ExitBar'])

``from_signals`` gives exactly the trades, equity and stats of the class API
running :class:`SignalStrategy` on the same arrays (a test checks it): one
trade at a time, market orders, optional stop-loss/take-profit, the class
broker's fill, sizing and commission rules. The rules, bar by bar:

* bar ``i``'s signals are acted on in that bar's ``next()``, a moment before its
  close; bar 0 has no ``next()`` (as in the class API), so its signals are
  ignored. Orders fill at the next bar's open (``trade_on_close``: at bar
  ``i``'s close, recorded on bar ``i``).
* first the exits: ``exits`` closes a long, ``short_exits`` a short. Then at
  most one entry: ``entries`` opens a long unless one is already open, closing
  a short first; ``short_entries`` opens a short likewise. The position is read
  before this bar's exits, so a trade exited on a bar is not re-entered on the
  same bar (the exit wins). A bar with both ``entries`` and ``short_entries``
  is ambiguous and neither entry is taken (exits still are).
* ``sl_pct``/``tp_pct`` set the stop-loss/take-profit from the signal bar's
  close (long: ``close * (1 - sl_pct/100)`` and ``close * (1 + tp_pct/100)``,
  mirrored for shorts), checked intrabar from the entry's fill bar on; a gap
  through a level fills at the open, and with both inside one bar the
  stop-loss is assumed first.
* equity is marked to every bar's close; at zero or below the open trade is
  closed at that close and the run stops (equity 0 from there on).
"""

from __future__ import annotations

import math
from numbers import Number
from typing import NamedTuple

import numpy as np
import pandas as pd

from algobt.engine.alerts import Alerts
from algobt.engine.backtest import _check_number, simulation_frame, trades_frame
from algobt.engine.broker import make_commission
from algobt.engine.data.frame import PRICE_COLUMNS
from algobt.engine.enums import AlertCode, SimSettings, alert_dt, trade_dt
from algobt.engine.fast_nb import simulate_signals_nb
from algobt.engine.metrics import compute_stats
from algobt.engine.result import Result
from algobt.engine.strategy import ALL_IN, Strategy
from algobt.errors import ConfigError, DataError

SIGNAL_NAMES = ("entries", "exits", "short_entries", "short_exits")


class SignalStrategy(Strategy):
    """The class-API twin of :func:`from_signals`: trades the given signal arrays.

    Parameters: ``entries``, ``exits``, ``short_entries``, ``short_exits``
    (bool arrays as long as the data, None = never), ``size`` (fraction of
    equity when < 1, else units), ``sl_pct``/``tp_pct`` (percent of the signal
    bar's close, None = off). The rules are those in this module's docstring.

    >>> # Backtest(data, SignalStrategy).run(entries=entries, exits=exits)
    """

    entries = None
    exits = None
    short_entries = None
    short_exits = None
    size = ALL_IN
    sl_pct = None
    tp_pct = None

    def init(self):
        n = len(self.data)
        opts = dict(plot=False, overlay=False, scatter=True)
        self.long_entry = self.I(_signal, self.entries, n, name="entries", **opts)
        self.long_exit = self.I(_signal, self.exits, n, name="exits", **opts)
        self.short_entry = self.I(_signal, self.short_entries, n, name="short_entries", **opts)
        self.short_exit = self.I(_signal, self.short_exits, n, name="short_exits", **opts)

    def next(self):
        position = self.position
        is_long, is_short = position.is_long, position.is_short
        closing = False
        if (is_long and self.long_exit[-1]) or (is_short and self.short_exit[-1]):
            position.close()
            closing = True
        go_long, go_short = bool(self.long_entry[-1]), bool(self.short_entry[-1])
        if go_long == go_short:
            return
        if go_long and not is_long:
            if is_short and not closing:
                position.close()
            price = self.data.Close[-1]
            self.buy(
                size=self.size,
                sl=price * (1 - self.sl_pct / 100) if _is_on(self.sl_pct) else None,
                tp=price * (1 + self.tp_pct / 100) if _is_on(self.tp_pct) else None,
            )
        elif go_short and not is_short:
            if is_long and not closing:
                position.close()
            price = self.data.Close[-1]
            self.sell(
                size=self.size,
                sl=price * (1 + self.sl_pct / 100) if _is_on(self.sl_pct) else None,
                tp=price * (1 - self.tp_pct / 100) if _is_on(self.tp_pct) else None,
            )


def _signal(values, n: int) -> np.ndarray:
    return np.zeros(n, dtype=bool) if values is None else np.asarray(values, dtype=bool)


def _is_on(pct) -> bool:
    return pct is not None and not math.isnan(pct)


class Simulation(NamedTuple):
    """What the kernel returns: ``equity`` (money at every bar's close),
    ``trades`` (closed trades, ``enums.trade_dt`` records), ``alerts``
    (``enums.alert_dt`` records), ``alert_tally`` (``enums.alert_tally_dt``,
    one per alert code: count, first and last bar), ``open_trades`` (0 or 1) and
    ``open_since`` (the entry bar of the trade left open, -1 when flat at the end)."""

    equity: np.ndarray
    trades: np.ndarray
    alerts: np.ndarray
    alert_tally: np.ndarray
    open_trades: int
    open_since: int


def simulate_signals(
    open,
    high,
    low,
    close,
    entries,
    exits,
    *,
    short_entries=None,
    short_exits=None,
    cash=10_000.0,
    commission_rate=0.0,
    commission_fixed=0.0,
    spread=0.0,
    slippage=0.0,
    size=ALL_IN,
    lot_size=1.0,
    sl_pct=None,
    tp_pct=None,
    trade_on_close=False,
    finalize_trades=False,
    col=0,
) -> Simulation:
    """Run the kernel on bare arrays: no validation, no stats (see :func:`from_signals`).

    Prices are float64 arrays, signals bool arrays, all of one length; arrays
    already of those types and contiguous are used without a copy. The keyword
    arguments are those of :class:`algobt.engine.enums.SimSettings` (``col``: the
    column index written into the records); this is the kernel's one entry point.

    >>> import numpy as np
    >>> px = np.array([10.0, 10.0, 11.0, 12.0])
    >>> buy, sell = np.array([0, 1, 0, 0], bool), np.array([0, 0, 1, 0], bool)
    >>> sim = simulate_signals(px, px, px, px, buy, sell)  # buy at 11, sell at 12
    >>> int(sim.trades["size"][0]), float(sim.trades["pnl"][0]), float(sim.equity[-1])
    (909, 909.0, 10909.0)
    """
    n = len(close)
    no_signal = None
    if short_entries is None or short_exits is None:
        no_signal = np.zeros(n, dtype=bool)
    settings = SimSettings(
        cash=float(cash),
        commission_rate=float(commission_rate),
        commission_fixed=float(commission_fixed),
        spread=float(spread),
        slippage=float(slippage),
        size=float(size),
        lot_size=float(lot_size),
        sl_pct=_pct(sl_pct),
        tp_pct=_pct(tp_pct),
        trade_on_close=bool(trade_on_close),
        finalize_trades=bool(finalize_trades),
        col=int(col),
    )
    return Simulation(
        *simulate_signals_nb(
            _prices(open),
            _prices(high),
            _prices(low),
            _prices(close),
            _bools(entries),
            _bools(exits),
            no_signal if short_entries is None else _bools(short_entries),
            no_signal if short_exits is None else _bools(short_exits),
            settings,
        )
    )


def _prices(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _bools(values) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.bool_)


def _pct(value) -> float:
    return np.nan if value is None else float(value)


def from_signals(
    data: pd.DataFrame,
    entries,
    exits,
    *,
    short_entries=None,
    short_exits=None,
    cash: float = 10_000,
    commission=0.0,
    spread: float = 0.0,
    slippage: float = 0.0,
    size: float = ALL_IN,
    lot_size: float = 1,
    sl_pct: float | None = None,
    tp_pct: float | None = None,
    trade_on_close: bool = False,
    finalize_trades: bool = False,
    symbol: str | None = None,
) -> Result:
    """Backtest entry/exit signals on ``data`` and return the same ``Result`` as the class API.

    data: OHLC(V) DataFrame (``algobt.load(...)``). entries, exits,
    short_entries, short_exits: boolean numpy arrays or Series, one value per
    bar (None = never); see the module docstring for how a bar's signals act.
    cash: starting capital. commission: fraction of traded value per fill
    (0.001 = 0.1 %), or ``(fixed, rate)`` with a fixed cash amount per fill.
    spread: fraction added to entry prices. slippage: fraction every fill moves
    against the trader. size: fraction of equity when 0 < size < 1 (default:
    all in), else whole units. lot_size: quantities are rounded down to a
    multiple of it. sl_pct/tp_pct: stop-loss/take-profit in percent of the
    signal bar's close (None = off). trade_on_close: fill at the signal bar's
    close instead of the next open. finalize_trades: close what is still open
    on the last bar, as ``Backtest(finalize_trades=True)`` does.

    >>> px = [10.0, 10.0, 11.0, 12.0]
    >>> bars = pd.DataFrame({"Open": px, "High": px, "Low": px, "Close": px},
    ...                     index=pd.date_range("2024-01-01", periods=4))
    >>> result = from_signals(bars, [False, True, False, False], [False, False, True, False])
    >>> result.to_dict()["summary"]["totalTrades"], float(result["Equity Final [$]"])
    (1, 10909.0)
    """
    df = simulation_frame(data)
    n = len(df)
    signals = {
        "entries": _check_signal("entries", entries, df.index, required=True),
        "exits": _check_signal("exits", exits, df.index, required=True),
        "short_entries": _check_signal("short_entries", short_entries, df.index),
        "short_exits": _check_signal("short_exits", short_exits, df.index),
    }
    _check_number("cash", cash, low=0, low_inclusive=False)
    _check_number("spread", spread, low=0, high=0.1)
    _check_number("slippage", slippage, low=0, high=0.1)
    _check_number("lot_size", lot_size, low=0, low_inclusive=False)
    fixed, rate = _commission_parts(commission)
    _check_size(size)
    sl_pct = _check_pct("sl_pct", sl_pct)
    tp_pct = _check_pct("tp_pct", tp_pct)
    shorts = signals["short_entries"] is not None
    if not math.isnan(sl_pct) and sl_pct >= 100:
        raise ConfigError(
            f"sl_pct={sl_pct!r} puts a long's stop-loss at or below zero; "
            "give a percent below 100, e.g. 2.0",
            field="sl_pct",
        )
    if not math.isnan(tp_pct):
        if not 1 + tp_pct / 100 > 1 + spread or not 1 - tp_pct / 100 < 1 - spread:
            raise ConfigError(
                f"tp_pct={tp_pct!r} is inside the spread ({spread * 100:g} %): the take-profit "
                "would be hit on entry; give a larger tp_pct or a smaller spread",
                field="tp_pct",
            )
        if shorts and tp_pct >= 100:
            raise ConfigError(
                f"tp_pct={tp_pct!r} puts a short's take-profit at or below zero; give a "
                "percent below 100",
                field="tp_pct",
            )

    none = np.zeros(n, dtype=bool)
    prices = [df[c].to_numpy(dtype=np.float64) for c in PRICE_COLUMNS]
    sim = simulate_signals(
        *prices,
        signals["entries"],
        signals["exits"],
        short_entries=none if signals["short_entries"] is None else signals["short_entries"],
        short_exits=none if signals["short_exits"] is None else signals["short_exits"],
        cash=cash,
        commission_rate=rate,
        commission_fixed=fixed,
        spread=spread,
        slippage=slippage,
        size=size,
        lot_size=lot_size,
        sl_pct=None if math.isnan(sl_pct) else sl_pct,
        tp_pct=None if math.isnan(tp_pct) else tp_pct,
        trade_on_close=trade_on_close,
        finalize_trades=finalize_trades,
    )
    equity, records, open_trades = sim.equity, sim.trades, sim.open_trades

    whole_units = float(lot_size) == 1.0
    trades = trades_from_records(
        records,
        df.index,
        whole_units=whole_units,
        sl_on=not math.isnan(sl_pct),
        tp_on=not math.isnan(tp_pct),
    )
    params = {
        "size": None if size == ALL_IN else size,
        "sl_pct": _pct_or_none(sl_pct),
        "tp_pct": _pct_or_none(tp_pct),
    }
    label = ",".join(f"{k}={v}" for k, v in params.items() if v is not None)
    label = f"SignalStrategy({label})" if label else "SignalStrategy"
    stats = compute_stats(trades, equity, df, label, risk_free_rate=0.0, warmup_bars=0)
    settings = dict(
        cash=float(cash),
        commission=commission,
        spread=float(spread),
        slippage=float(slippage),
        lot_size=lot_size,
        margin=1.0,
        trade_on_close=bool(trade_on_close),
        hedging=False,
        exclusive_orders=False,
        sl_tp_priority="stop_loss",
        finalize_trades=bool(finalize_trades),
    )
    return Result(
        stats,
        symbol=symbol or df.attrs.get("symbol") or "DATA",
        strategy_name="SignalStrategy",
        open_trades=int(open_trades),
        open_since=None if sim.open_since < 0 else int(sim.open_since),
        alerts=alerts_from_records(_with_open_at_end(sim, len(df)), df.index, lot_size),
        settings=settings,
    )


def trades_from_records(
    records: np.ndarray,
    index: pd.Index,
    *,
    whole_units: bool = True,
    sl_on: bool = True,
    tp_on: bool = True,
) -> pd.DataFrame:
    """Closed-trade records as the class API's trades table (``backtest.trades_frame``).

    ``Size`` is int when trading whole units; ``SL``/``TP`` hold None when the
    stop-loss/take-profit was off, as the class API's do.
    """
    records = np.asarray(records, dtype=trade_dt)
    k = len(records)
    if k == 0:
        return trades_frame([], index)  # the class API's empty table, dtypes and all
    entry_bar = records["entry_bar"].astype(np.int64)
    exit_bar = records["exit_bar"].astype(np.int64)
    size = records["size"]
    frame = pd.DataFrame(
        {
            "Size": size.astype(np.int64) if whole_units else size.copy(),
            "EntryBar": entry_bar,
            "ExitBar": exit_bar,
            "EntryPrice": records["entry_price"].copy(),
            "ExitPrice": records["exit_price"].copy(),
            "SL": records["sl"].copy() if sl_on else [None] * k,
            "TP": records["tp"].copy() if tp_on else [None] * k,
            "PnL": records["pnl"].copy(),
            "Commission": records["commission"].copy(),
            "ReturnPct": records["return_frac"].copy(),
            "EntryTime": index.take(entry_bar),
            "ExitTime": index.take(exit_bar),
        }
    )
    frame["Duration"] = frame["ExitTime"] - frame["EntryTime"]
    frame["Tag"] = [None] * k
    return frame


def _with_open_at_end(sim: Simulation, n: int) -> np.ndarray:
    """The kernel's alerts, and one for a trade left open on the last bar (as the class
    broker raises it)."""
    if not sim.open_trades or n == 0:
        return sim.alerts
    extra = np.array([(0, AlertCode.OpenAtEnd, n - 1, float(sim.open_trades), 0.0)], alert_dt)
    return np.concatenate([np.asarray(sim.alerts, dtype=alert_dt), extra])


def alerts_from_records(records: np.ndarray, index: pd.Index, lot_size=1) -> Alerts:
    """The kernel's alert records as a run's :class:`~algobt.engine.alerts.Alerts`
    (which read as the class broker's alert dicts)."""
    return Alerts(np.asarray(records, dtype=alert_dt), index, lot_size=lot_size)


def _check_signal(name: str, values, index: pd.Index, *, required: bool = False):
    if values is None:
        if required:
            raise ConfigError(
                f"{name} is required: a boolean array with one value per bar", field=name
            )
        return None
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataError(
                f"{name} must be one column of booleans, got a DataFrame with "
                f"{values.shape[1]} columns; pass one of them",
                field=name,
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        if (
            len(values) == len(index)
            and not values.index.equals(index)
            and isinstance(values.index, pd.DatetimeIndex)
        ):
            raise DataError(
                f"{name} is a Series whose time index differs from the data's; align it "
                f"first, e.g. {name}.reindex(data.index, fill_value=False)",
                field=name,
            )
        if values.hasnans:
            raise DataError(
                f"{name} has missing values (NaN/NA); fill them, e.g. {name}.fillna(False)",
                field=name,
            )
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(
            f"{name} must be one-dimensional (one bool per bar), got shape {array.shape}",
            field=name,
        )
    if len(array) != len(index):
        raise DataError(
            f"{name} has {len(array)} values but the data has {len(index)} bars; "
            "compute the signals on the same data",
            field=name,
        )
    if array.dtype == object and all(isinstance(v, bool | np.bool_) for v in array):
        array = array.astype(bool)
    if array.dtype != np.bool_:
        raise DataError(
            f"{name} must be booleans, got dtype {array.dtype}; build it from a comparison "
            f"(e.g. fast > slow) or convert with {name}.astype(bool)",
            field=name,
        )
    return np.ascontiguousarray(array)


def _commission_parts(commission) -> tuple[float, float]:
    if callable(commission):
        raise ConfigError(
            "from_signals takes commission as a rate (0.001) or (fixed, rate); a commission "
            "function needs the class API: Backtest(data, SignalStrategy, commission=f)",
            field="commission",
        )
    make_commission(commission)  # validates with the class API's messages
    if isinstance(commission, tuple | list):
        return float(commission[0]), float(commission[1])
    return 0.0, float(commission)


def _check_size(size) -> None:
    ok = (
        isinstance(size, Number)
        and not isinstance(size, bool)
        and (0 < size < 1 or (math.isfinite(size) and round(size) == size and size >= 1))
    )
    if not ok:
        raise ConfigError(
            f"size={size!r}: give a fraction of equity between 0 and 1 (e.g. 0.5), or a "
            "whole number of units >= 1",
            field="size",
        )


def _check_pct(name: str, value) -> float:
    if value is None:
        return np.nan
    if isinstance(value, bool) or not isinstance(value, Number):
        raise ConfigError(
            f"{name}={value!r} must be a percent number such as 2.0, or None", field=name
        )
    value = float(value)
    if math.isnan(value):
        return value
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{name}={value!r} must be a percent > 0 (2.0 = 2 %), or None for no level", field=name
        )
    return value


def _pct_or_none(value: float):
    return None if math.isnan(value) else value


__all__ = [
    "SignalStrategy",
    "Simulation",
    "from_signals",
    "simulate_signals",
    "trades_from_records",
    "alerts_from_records",
]
