"""algobt: a Jupyter-first backtesting toolkit.

>>> import algobt
>>> from algobt.examples import SmaCross
>>> result = algobt.backtest(SmaCross, "DEMO", period="2y")
>>> result["# Trades"] > 0
True
"""

from __future__ import annotations

from algobt import lib
from algobt.engine.backtest import Backtest
from algobt.engine.data import load
from algobt.engine.fast import from_signals
from algobt.engine.result import Result
from algobt.engine.strategy import Strategy
from algobt.errors import AlgobtError, ConfigError, DataError, StrategyError

__version__ = "0.1.0"


def backtest(
    strategy: type[Strategy],
    symbol="DEMO",
    *,
    period=None,
    start_date=None,
    end_date=None,
    interval="1d",
    params: dict | None = None,
    **settings,
) -> Result:
    """Load ``symbol`` and run ``strategy`` on it in one call.

    symbol: a bundled demo symbol (``DEMO``, ``DEMO-FX``, ``DEMO-BTC``), a Yahoo
    ticker, a CSV/Parquet path or a DataFrame. period/start_date/end_date/interval:
    as for ``algobt.load``. params: strategy parameter overrides. settings: the
    broker settings of ``Backtest`` (cash, commission, slippage, ...).
    """
    data = load(symbol, period=period, start_date=start_date, end_date=end_date, interval=interval)
    name = symbol if isinstance(symbol, str) else None
    return Backtest(data, strategy, symbol=name, **settings).run(**(params or {}))


__all__ = [
    "Backtest",
    "Strategy",
    "Result",
    "backtest",
    "from_signals",
    "load",
    "lib",
    "AlgobtError",
    "ConfigError",
    "DataError",
    "StrategyError",
    "__version__",
]
