"""``Backtest``: run a class-API strategy over one symbol's OHLCV data.

    >>> from algobt import Backtest, load
    >>> from algobt.examples import SmaCross
    >>> result = Backtest(load("DEMO", period="2y"), SmaCross, commission=0.001).run()
    >>> result["# Trades"] == len(result.trades) > 0
    True

``run()`` returns a ``Result``: a pandas Series with backtesting.py's stats
keys (``result._trades``, ``result._equity_curve`` included; ``docs/stats.md``
lists them) plus ``.trades``, ``.equity_curve``, ``.alerts`` and ``.to_dict()``
(the ``BacktestResult`` of ``docs/api.md``). With ``save=`` or ``strategy_name=``
each run is also recorded in the store, through the recorder the store plugs in
with ``use_recorder`` when it is imported: the store is an adapter, and the
engine never imports it.
"""

from __future__ import annotations

import functools
import inspect
import os
import traceback
from numbers import Number

import numpy as np
import pandas as pd

from algobt.engine import provenance
from algobt.engine.alerts import Alerts
from algobt.engine.broker import SL_TP_PRIORITIES, Broker, OutOfMoney, make_commission
from algobt.engine.data.frame import PRICE_COLUMNS
from algobt.engine.data.validate import validate_ohlcv
from algobt.engine.enums import AlertCode
from algobt.engine.metrics import TRADE_COLUMNS, compute_stats, missing_values
from algobt.engine.result import Result
from algobt.engine.strategy import Data, Indicator, Strategy
from algobt.errors import ConfigError, StrategyError


class Backtest:
    """A strategy class, data and broker settings, ready to ``run()``.

    data: OHLC(V) DataFrame indexed by time (``algobt.load(...)`` gives one).
    strategy: a ``Strategy`` subclass (the class, not an instance).
    cash: starting capital in account currency, > 0.
    commission: fraction of traded value, charged on entry and on exit (0.001 = 0.1%);
        or ``(fixed, rate)``; or ``f(order_size, price) -> cash``.
    spread: bid-ask spread as a fraction of price, paid on entries.
    slippage: fraction every fill (entry and exit) moves against the trader.
    lot_size: order quantities are rounded down to a multiple of this (1 = whole units).
    margin: required margin ratio (1 = no leverage, 0.02 = 50:1).
    trade_on_close: fill market orders at the signal bar's close instead of the next open.
    hedging: allow long and short trades at once (else orders net FIFO).
    exclusive_orders: each new order closes all open trades and pending orders first.
    finalize_trades: close trades still open at the end, so they count in the stats.
    sl_tp_priority: which fills first when stop-loss and take-profit are both inside
        one bar: ``"stop_loss"`` (the worse case, default) or ``"take_profit"``.
    symbol: name used in ``to_dict()`` records (default: ``data.attrs["symbol"]``).
    save: where ``run()`` records each run: True (the default store,
        ``$ALGOBT_HOME/algobt.db``), a database path or an ``algobt.Store``; False: never.
        Left out, a run is recorded (in the default store) when ``strategy_name`` is given.
    strategy_name: the strategy the run is filed under (default: the class name),
        created in the store on first use with the class's source code; the run
        becomes its ``latest_by_strategy`` result.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        strategy: type[Strategy],
        *,
        cash: float = 10_000,
        commission=0.0,
        spread: float = 0.0,
        slippage: float = 0.0,
        lot_size: float = 1,
        margin: float = 1.0,
        trade_on_close: bool = False,
        hedging: bool = False,
        exclusive_orders: bool = False,
        finalize_trades: bool = False,
        sl_tp_priority: str = "stop_loss",
        symbol: str | None = None,
        save=None,
        strategy_name: str | None = None,
    ):
        if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
            raise ConfigError(
                f"strategy must be a subclass of algobt.Strategy, got {strategy!r}; "
                "pass the class itself, not an instance",
                field="strategy",
            )
        self._data = simulation_frame(data)
        self._strategy = strategy
        _check_number("cash", cash, low=0, low_inclusive=False)
        _check_number("spread", spread, low=0, high=0.1)
        _check_number("slippage", slippage, low=0, high=0.1)
        _check_number("lot_size", lot_size, low=0, low_inclusive=False)
        _check_number("margin", margin, low=0, high=1, low_inclusive=False)
        make_commission(commission)  # validates now, not on the first fill
        if sl_tp_priority not in SL_TP_PRIORITIES:
            raise ConfigError(
                f"sl_tp_priority={sl_tp_priority!r}; use one of {SL_TP_PRIORITIES}",
                field="sl_tp_priority",
            )
        self._settings = dict(
            cash=float(cash),
            commission=commission,
            spread=float(spread),
            slippage=float(slippage),
            lot_size=lot_size,
            margin=float(margin),
            trade_on_close=bool(trade_on_close),
            hedging=bool(hedging),
            exclusive_orders=bool(exclusive_orders),
            sl_tp_priority=sl_tp_priority,
        )
        self._finalize_trades = bool(finalize_trades)
        self.symbol = symbol or self._data.attrs.get("symbol") or "DATA"
        self._origin: tuple | None = None  # the strategy's and data's fingerprints
        self._columns: dict | None = None  # the data as arrays, built on the first run
        self._arrays: dict | None = None
        # Plain values (a flag, a target, a dict), so a Backtest pickles and runs elsewhere.
        self._saves, self._save_to = save_target(save, strategy_name)
        self._save_as = strategy_name
        interval = self._data.attrs.get("interval")
        self._save_config: dict = {"interval": interval} if interval else {}

    @staticmethod
    def _loop(strategy, data, broker, indicators, start, n):
        """The per-bar loop, kept lean: it is the class API's hot path.

        On each bar: reveal one more bar of data and indicators, let the broker
        match pending orders, then call ``next()``. The broker marks equity from its
        log of account states, so a bar with no pending order (and no margin call
        due, see ``Broker.next_due``) costs it nothing. A failure in ``next()``
        becomes a StrategyError naming the bar. See ``_LOOP_SOURCE``.
        """
        loop = _loop_for(tuple(ind.ndim for _, ind in indicators))
        names = [name for name, _ in indicators]
        loop(strategy, data, broker, start, n, *(ind for _, ind in indicators), *names)

    def run(self, **params) -> Result:
        """Run the strategy once and return its stats as a ``Result``.

        ``params`` override the strategy's class-attribute parameters for this run
        (``bt.run(fast=5)``); an unknown name raises ``ConfigError`` with a hint.

        The ``Result`` is a pandas Series with backtesting.py's keys, in this order
        (units in brackets; ``docs/stats.md`` defines each one)::

            Start                     first bar's timestamp
            End                       last bar's timestamp
            Duration                  End - Start
            Exposure Time [%]         share of bars with a trade open
            Equity Final [$]          equity at the last bar
            Equity Peak [$]           highest equity
            Commissions [$]           commissions paid (present only when non-zero)
            Return [%]                final equity / starting cash - 1
            Buy & Hold Return [%]     close-to-close, from the end of the warm-up
            Return (Ann.) [%]         compounded annual return of period returns
            Volatility (Ann.) [%]     volatility of the annual return
            CAGR [%]                  compound annual growth rate (DatetimeIndex only)
            Sharpe Ratio              Return (Ann.) / Volatility (Ann.)
            Sortino Ratio             annual return / downside deviation
            Calmar Ratio              annual return / max. drawdown
            Alpha [%]                 Jensen's alpha against Buy & Hold
            Beta                      exposure to the market (Close)
            Max. Drawdown [%]         deepest drawdown (negative)
            Avg. Drawdown [%]         mean drawdown depth (negative)
            Max. Drawdown Duration    longest drawdown, peak to recovery
            Avg. Drawdown Duration    mean drawdown length
            # Trades                  closed trades
            Win Rate [%]              share of trades with P&L > 0
            Best Trade [%]            highest trade return
            Worst Trade [%]           lowest trade return
            Avg. Trade [%]            geometric mean trade return
            Max. Trade Duration       longest trade
            Avg. Trade Duration       mean trade length
            Profit Factor             sum of winning / losing trade returns
            Expectancy [%]            mean trade return
            SQN                       System Quality Number
            Kelly Criterion           Kelly fraction from win rate and win/loss ratio
            _strategy                 the strategy instance that ran
            _equity_curve             DataFrame: Equity, DrawdownPct, DrawdownDuration
            _trades                   DataFrame: one row per closed trade

        ``Result`` adds ``.trades``, ``.equity_curve``, ``.alerts`` (warnings such as a
        margin call) and ``.to_dict()`` (JSON-ready, the ``BacktestResult`` of ``docs/api.md``).

        >>> Backtest(load("DEMO", period="2y"), SmaCross).run(fast=5)["# Trades"]  # doctest: +SKIP
        """
        df = self._data
        n = len(df)
        if self._arrays is None:  # built once: the data cannot change between runs
            self._columns = Data(df)._full
            self._arrays = {
                c: np.ascontiguousarray(df[c].to_numpy(dtype=float)) for c in PRICE_COLUMNS
            }
        data = Data(df, self._columns)
        arrays = self._arrays
        broker = Broker(
            open=arrays["Open"],
            high=arrays["High"],
            low=arrays["Low"],
            close=arrays["Close"],
            index=df.index,
            **self._settings,
        )
        strategy = self._strategy(broker, data, params)
        _call_user(strategy, "init", None, df.index)
        data._add_new_columns()
        indicators = [(k, v) for k, v in vars(strategy).items() if isinstance(v, Indicator)]
        # Like backtesting.py, only indicators kept as attributes delay the start.
        start = 1 + _warmup_bars(v for _, v in indicators)

        finished = True
        with np.errstate(invalid="ignore"):
            try:
                self._loop(strategy, data, broker, indicators, start, n)
            except OutOfMoney:
                finished = False
            if finished and self._finalize_trades:
                for trade in reversed(broker.trades):
                    trade.close()
                if start < n:
                    try:
                        broker.next(n - 1)
                    except OutOfMoney:
                        pass
            data._set_length(n)
            for attr, indicator in indicators:
                setattr(strategy, attr, indicator)

        if n and not broker.closed_trades and not broker.trades:
            _why_no_trades(broker, indicators, start, n)
        if n and broker.trades:  # so the trade stats and the equity reconcile for the reader
            broker.alerts.append((0, AlertCode.OpenAtEnd, n - 1, float(len(broker.trades)), 0.0))
        equity = _backfilled(broker.equity_curve, start, broker.cash)
        trades = trades_frame(broker.closed_trades, df.index, strategy._indicators)
        stats = compute_stats(trades, equity, df, strategy, risk_free_rate=0.0)
        result = Result(
            stats,
            symbol=self.symbol,
            strategy_name=type(strategy).__name__,
            open_trades=len(broker.trades),
            open_since=min((t.entry_bar for t in broker.trades), default=None),
            alerts=Alerts.from_rows(broker.alerts, df.index, lot_size=broker.lot_size),
            settings={**self._settings, "finalize_trades": self._finalize_trades},
            provenance=self._provenance(params),
        )
        if self._saves:
            self._record(result, params)
        return result

    def _provenance(self, params: dict) -> dict:
        """What this run was made of: the class, its parameters, the data, the settings."""
        if self._origin is None:  # built once: the data and the class cannot change
            self._origin = (
                provenance.strategy_entry("class", self._strategy.__name__, cls=self._strategy),
                {self.symbol: provenance.data_fingerprint(self._data)},
            )
        settings = {**self._settings, "finalize_trades": self._finalize_trades}
        settings["initial_capital"] = settings.pop("cash")
        record = provenance.make_provenance(
            strategy=self._origin[0], params=params, frames={}, fill_rules=settings,
            runner="backtest",
        )  # fmt: skip
        record["data"] = self._origin[1]
        return record

    def _record(self, result: Result, params: dict) -> None:
        """Record a finished run in the store (``save=``/``strategy_name=``)."""
        if _recorder is None:
            raise ConfigError(
                "saving a run needs algobt's store: import algobt first", field="save"
            )
        _recorder(
            result,
            strategy_name=self._save_as,
            config={**self._save_config, "params": params},
            store=self._save_to,
            strategy=self._strategy,
        )


# What records a run: ``record(result, *, strategy_name, config, store, strategy)``. The
# store sets it (``import algobt`` imports the store), so the engine needs no import of it.
_recorder = None


def use_recorder(record) -> None:
    """Make ``record`` the function every saving ``Backtest.run()`` calls; the store
    registers its ``save_run`` here when it is imported."""
    global _recorder
    _recorder = record


def save_target(save, strategy_name: str | None) -> tuple[bool, object]:
    """``(record runs?, where)`` for ``save=``/``strategy_name=``: where is a Store, a
    database path, or None for the default store.

    >>> save_target(None, None), save_target(None, "SMA"), save_target("runs.db", None)
    ((False, None), (True, None), (True, 'runs.db'))
    """
    if save is False or (save is None and strategy_name is None):
        return False, None
    if save is None or save is True:
        return True, None
    if isinstance(save, str | os.PathLike) or callable(getattr(save, "record_run", None)):
        return True, save  # a path, or a Store (anything that records runs as one does)
    raise ConfigError("save must be True, a database path or an algobt.Store", field="save")


# The run loop's source. Each indicator is revealed by a line of its own rather than
# by an inner loop over the indicators, which would cost ~35 ns per indicator and bar
# (a tenth of a bar's budget); ``_loop_for`` writes those lines and compiles the
# loop once per shape (the indicators' count and dimensions).
_LOOP_SOURCE = """
def loop(strategy, data, broker, start, n{parameters}):
    attrs = strategy.__dict__
    orders, cache = broker.orders, data._cache
    due = broker.begin(start)
    i = start
    try:
        for i in range(start, n):
            stop = i + 1
            data._len = stop
            if cache:
                cache.clear()
            broker.i = i
{reveal}
            if orders or i == due:
                broker.next(i)
                due = broker.next_due(i + 1)
            # Looked up on every bar, so a strategy may swap its own ``next``
            # (``self.next = ...``, as backtesting.py allows). Python 3.11 specialises
            # the lookup: it costs ~3 ns more than calling a method bound up front.
            strategy.next()
    except OutOfMoney:
        raise
    except Exception as exc:
        _raise_located(strategy, "next", i, data._index, exc)
"""


@functools.cache
def _loop_for(dimensions: tuple[int, ...]):
    """The run loop for indicators of these dimensions (1: one line, 2: several)."""
    count = len(dimensions)
    parameters = "".join(f", ind{k}" for k in range(count))
    parameters += "".join(f", name{k}" for k in range(count))
    reveal = "\n".join(
        f"            attrs[name{k}] = ind{k}[{':, ' if ndim != 1 else ''}:stop]"
        for k, ndim in enumerate(dimensions)
    )
    namespace = {"OutOfMoney": OutOfMoney, "_raise_located": _raise_located}
    source = _LOOP_SOURCE.format(parameters=parameters, reveal=reveal)
    exec(compile(source, f"<algobt run loop {dimensions}>", "exec"), namespace)
    return namespace["loop"]


def trades_frame(closed_trades, index: pd.Index, indicators=()) -> pd.DataFrame:
    """Closed trades as backtesting.py's ``_trades`` table (one row per trade)."""
    if not closed_trades:
        return pd.DataFrame({name: [] for name in TRADE_COLUMNS})  # all float64, as pandas has it
    entry_bars = np.array([t.entry_bar for t in closed_trades])
    exit_bars = np.array([t.exit_bar for t in closed_trades])
    # Numbers go in as arrays (numpy infers the dtype pandas would infer from the list,
    # much faster); SL, TP and Tag stay lists, where None makes pandas' choice.
    columns = {
        "Size": np.array([t.size for t in closed_trades]),
        "EntryBar": entry_bars,
        "ExitBar": exit_bars,
        "EntryPrice": np.array([t.entry_price for t in closed_trades]),
        "ExitPrice": np.array([t.exit_price for t in closed_trades]),
        "SL": [t.sl for t in closed_trades],
        "TP": [t.tp for t in closed_trades],
        "PnL": np.array([t.pl for t in closed_trades]),
        "Commission": np.array([t._commissions for t in closed_trades]),
        "ReturnPct": np.array([t.pl_pct for t in closed_trades]),
    }
    stamped = isinstance(index, pd.DatetimeIndex)
    if stamped:
        # One take per column instead of a Timestamp per trade: the same stamps and dtype.
        entry_times, exit_times = index.take(entry_bars), index.take(exit_bars)
        columns["EntryTime"], columns["ExitTime"] = entry_times, exit_times
        columns["Duration"] = exit_times - entry_times
        columns["Tag"] = [t.tag for t in closed_trades]
    else:
        columns["EntryTime"] = [index[bar] for bar in entry_bars]
        columns["ExitTime"] = [index[bar] for bar in exit_bars]
    for ind in indicators:
        values = np.atleast_2d(ind)
        for k, row in enumerate(values):
            suffix = f"_{k}" if len(values) > 1 else ""
            columns[f"Entry_{ind.name}{suffix}"] = row[entry_bars]
            columns[f"Exit_{ind.name}{suffix}"] = row[exit_bars]
    frame = pd.DataFrame(columns)
    if not stamped:
        frame.insert(12, "Duration", frame["ExitTime"] - frame["EntryTime"])
        frame.insert(13, "Tag", [t.tag for t in closed_trades])
    return frame


def _backfilled(curve: np.ndarray, start: int, cash: float) -> np.ndarray:
    """The equity curve with the bars before the first one run (NaN) taken from it:
    ``pd.Series(curve).bfill().fillna(cash)``, without a Series when only those are NaN."""
    equity = curve.copy()
    if start >= len(equity) or np.isnan(equity[start:]).any():
        return pd.Series(curve).bfill().fillna(cash).to_numpy()
    equity[:start] = equity[start]
    return equity


def _why_no_trades(broker, indicators, start: int, n: int) -> None:
    """A run without a single trade whose indicators never warmed up within the data
    says so in its alerts, rather than leaving a silent 0 trades."""
    empty = [name for name, ind in indicators if _never_valued(ind)]
    if empty or 1 < start >= n:  # a warm-up (not a one-bar data set) left no bar to trade
        broker.alerts.append((0, AlertCode.WarmupTooLong, n - 1, float(len(empty)), float(n)))


def _never_valued(indicator) -> bool:
    mask = missing_values(indicator) if not indicator._opts.get("scatter") else None
    return mask is not None and bool(mask.all(axis=-1).any())


def _warmup_bars(indicators) -> int:
    """Bars until every (non-scatter, numeric) indicator has its first value."""
    masks = (missing_values(ind) for ind in indicators if not ind._opts.get("scatter"))
    counts = [mask.argmin(axis=-1).max() for mask in masks if mask is not None]
    return int(max(counts, default=0))


def _call_user(strategy: Strategy, method: str, bar: int | None, index: pd.Index):
    """Call ``strategy.init()``/``next()``; a failure becomes a StrategyError naming the
    bar and the strategy's own line."""
    try:
        getattr(strategy, method)()
    except Exception as exc:
        _raise_located(strategy, method, bar, index, exc)


def _raise_located(strategy, method, bar, index, exc: Exception):
    """Re-raise ``exc`` as a StrategyError that says where (once: nested calls keep it)."""
    if isinstance(exc, StrategyError) and getattr(exc, "_located", False):
        raise exc
    raise _located_error(strategy, method, bar, index, exc) from exc


def _located_error(strategy, method, bar, index, exc) -> StrategyError:
    name = type(strategy).__name__
    where = f"{name}.{method}()"
    if bar is not None:
        where += f" on bar {bar} ({index[bar]})"
    try:
        own_file = inspect.getsourcefile(type(strategy))
    except TypeError:
        own_file = None
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename == own_file] or [
        f for f in frames if "algobt" not in f.filename and "site-packages" not in f.filename
    ]
    line = ""
    if own:
        f = own[-1]
        line = f" at {f.filename}:{f.lineno}"
        if f.line:
            line += f": {f.line.strip()}"
    err = StrategyError(f"{where} raised {type(exc).__name__}: {exc}{line}")
    err._located = True
    err.bar = bar
    return err


def _check_number(name, value, *, low=None, high=None, low_inclusive=True):
    if isinstance(value, bool) or not isinstance(value, Number) or not np.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number", field=name)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ConfigError(f"{name}={value!r} must be {op} {low}", field=name)
    if high is not None and value > high:
        raise ConfigError(f"{name}={value!r} must be <= {high}", field=name)


def simulation_frame(data) -> pd.DataFrame:
    """``data`` checked for simulation (``validate_ohlcv(strict=False)``), as a shallow
    copy with a NaN ``Volume`` column when it has none.

    >>> px = [1.0, 2.0]
    >>> list(simulation_frame(pd.DataFrame({"Open": px, "High": px, "Low": px, "Close": px})))
    ['Open', 'High', 'Low', 'Close', 'Volume']
    """
    df = validate_ohlcv(data, strict=False).copy(deep=False)
    if "Volume" not in df.columns:
        df["Volume"] = np.nan
    return df


__all__ = ["Backtest", "save_target", "simulation_frame", "trades_frame", "use_recorder"]
