"""``Result``: what a run returns — backtesting.py's stats Series, and more.

It *is* a pandas Series with backtesting.py's keys (``result["Sharpe Ratio"]``,
``result._trades``), so code written against backtesting.py keeps working,
and it adds the names algobt's other faces use: ``.stats``, ``.trades``,
``.equity_curve``, ``.alerts`` and ``.to_dict()`` (SPEC's ``BacktestResult``).
"""

from __future__ import annotations

import pandas as pd


class Result(pd.Series):
    """Stats of one run; see ``docs/stats.md`` for every key and its unit."""

    # pandas pickles exactly these attributes; Series' own ``_name`` must stay among them.
    _metadata = [
        *pd.Series._metadata,
        "symbol",
        "strategy_name",
        "open_trades",
        "alerts",
        "settings",
    ]

    def __init__(
        self,
        data=None,
        *args,
        symbol=None,
        strategy_name=None,
        open_trades=0,
        alerts=None,
        settings=None,
        **kwargs,
    ):
        super().__init__(data, *args, **kwargs)
        self.symbol = symbol
        self.strategy_name = strategy_name
        self.open_trades = open_trades
        self.alerts = list(alerts or [])
        self.settings = dict(settings or {})

    @property
    def _constructor(self):
        # Slices and arithmetic give plain Series: only a whole run is a Result.
        return pd.Series

    @property
    def stats(self) -> pd.Series:
        """The stats as a plain pandas Series."""
        return pd.Series(self)

    @property
    def trades(self) -> pd.DataFrame:
        """Closed trades, one row each (backtesting.py's ``_trades``)."""
        return self["_trades"]

    @property
    def equity_curve(self) -> pd.DataFrame:
        """Equity, drawdown fraction and drawdown duration per bar."""
        return self["_equity_curve"]

    def to_dict(self, into=dict) -> dict:
        """SPEC's ``BacktestResult``: JSON-ready (no NaN), percent units, ISO timestamps."""
        from algobt.engine.metrics import backtest_result

        commission = self.settings.get("commission")
        result = backtest_result(
            self.stats,
            symbol=self.symbol,
            strategy_name=self.strategy_name,
            initial_capital=self.settings.get("cash"),
            commission=commission if isinstance(commission, int | float) else None,
        )
        return into(result) if into is not dict else result
