"""algobt: a Jupyter-first backtesting toolkit.

>>> import algobt
>>> from algobt.examples import SmaCross
>>> result = algobt.backtest(SmaCross, "DEMO", period="2y")
>>> result["# Trades"] > 0
True
"""

from __future__ import annotations

import os

from algobt import lib
from algobt.engine.backtest import Backtest as _EngineBacktest
from algobt.engine.data import load
from algobt.engine.fast import from_signals
from algobt.engine.result import Result
from algobt.engine.strategy import Strategy
from algobt.errors import AlgobtError, ConfigError, DataError, StrategyError
from algobt.store import Store, save_run

__version__ = "0.1.0"

_NOT_SAVED = object()


def _save_target(save, strategy_name):
    """Where a run is recorded: a Store, a path, None (the default store) or _NOT_SAVED."""
    if save is False or (save is None and strategy_name is None):
        return _NOT_SAVED
    if save is None or save is True:
        return None
    if isinstance(save, Store | str | os.PathLike):
        return save
    raise ConfigError("save must be True, a database path or an algobt.Store", field="save")


class Backtest(_EngineBacktest):
    """``Backtest`` of the engine (see ``algobt.engine.backtest``), and it can record runs.

    save: where ``run()`` records each run: True (the default store,
        ``$ALGOBT_HOME/algobt.db``), a database path or a ``Store``; False: never.
        Left out, a run is recorded (in the default store) when ``strategy_name`` is given.
    strategy_name: the strategy the run is filed under (default: the class name),
        created in the store on first use with the class's source code; the run
        becomes its ``latest_by_strategy`` result.
    """

    def __init__(self, data, strategy, *, save=None, strategy_name=None, **settings):
        super().__init__(data, strategy, **settings)
        self._save_to = _save_target(save, strategy_name)
        self._save_as = strategy_name
        self._save_strategy = strategy
        self._save_interval = getattr(data, "attrs", {}).get("interval")

    def run(self, **params) -> Result:
        result = super().run(**params)
        if self._save_to is not _NOT_SAVED:
            config = {"params": params}
            if self._save_interval:
                config["interval"] = self._save_interval
            save_run(
                result,
                strategy_name=self._save_as,
                config=config,
                store=self._save_to,
                strategy=self._save_strategy,
            )
        return result


def serve(**kwargs):
    """Start the algobt server without blocking (in a notebook: on the kernel's loop).

    Returns the running server: ``server.url`` (with its token), ``server.stop()``.
    Keyword arguments as ``algobt.server.app.serve`` (port, host, db, token, ...).
    """
    from algobt.server.app import serve as _serve

    return _serve(**kwargs)


def backtest(
    strategy: type[Strategy],
    symbol="DEMO",
    *,
    period=None,
    start_date=None,
    end_date=None,
    interval="1d",
    params: dict | None = None,
    save=None,
    strategy_name: str | None = None,
    **settings,
) -> Result:
    """Load ``symbol`` and run ``strategy`` on it in one call.

    symbol: a bundled demo symbol (``DEMO``, ``DEMO-FX``, ``DEMO-BTC``), a Yahoo
    ticker, a CSV/Parquet path or a DataFrame. period/start_date/end_date/interval:
    as for ``algobt.load``. params: strategy parameter overrides. settings: the
    broker settings of ``Backtest`` (cash, commission, slippage, ...).
    save/strategy_name: record the run in the store, as for ``Backtest``
    (``algobt.backtest(SmaCross, strategy_name="SMA")`` files it under "SMA").
    """
    data = load(symbol, period=period, start_date=start_date, end_date=end_date, interval=interval)
    name = symbol if isinstance(symbol, str) else None
    target = _save_target(save, strategy_name)
    result = _EngineBacktest(data, strategy, symbol=name, **settings).run(**(params or {}))
    if target is not _NOT_SAVED:
        config = {"symbol": name or result.symbol, "interval": interval, "params": params or {}}
        for key, value in (("period", period), ("start_date", start_date), ("end_date", end_date)):
            if value is not None:
                config[key] = value
        save_run(
            result, strategy_name=strategy_name, config=config, store=target, strategy=strategy
        )
    return result


__all__ = [
    "Backtest",
    "Strategy",
    "Result",
    "Store",
    "backtest",
    "from_signals",
    "load",
    "serve",
    "lib",
    "AlgobtError",
    "ConfigError",
    "DataError",
    "StrategyError",
    "__version__",
]
