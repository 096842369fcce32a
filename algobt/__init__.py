"""algobt: a Jupyter-first backtesting toolkit.

>>> import algobt
>>> from algobt.examples import SmaCross
>>> result = algobt.backtest(SmaCross, "DEMO", period="2y")
>>> result["# Trades"] > 0
True

The public names are those of ``__all__``; ``docs/api.md`` describes them.
"""

from algobt import errors, lib
from algobt._api import backtest, serve
from algobt.engine.backtest import Backtest
from algobt.engine.data import load
from algobt.engine.fast import from_signals
from algobt.engine.result import Result
from algobt.engine.strategy import Strategy
from algobt.errors import AlgobtError, ConfigError, DataError, StrategyError  # noqa: F401
from algobt.store import Store, diff, rerun

__version__ = "0.1.0"

__all__ = [
    "Backtest",
    "Strategy",
    "backtest",
    "from_signals",
    "load",
    "serve",
    "lib",
    "Result",
    "Store",
    "rerun",
    "diff",
    "errors",
    "__version__",
]
