"""``Result``: what a run returns — backtesting.py's stats Series, and more.

It *is* a pandas Series with backtesting.py's keys (``result["Sharpe Ratio"]``,
``result._trades``), so code written against backtesting.py keeps working,
and it adds the names algobt's other faces use: ``.stats``, ``.trades``,
``.equity_curve``, ``.alerts`` and ``.to_dict()`` (the JSON ``BacktestResult``
the server and the store use). ``.alerts`` is an :class:`~algobt.engine.alerts.Alerts`: the
broker's warnings as records, read as a list of dicts, a frame (``to_frame()``)
or one row per code (``summary()``); see ``docs/records.md``.
"""

from __future__ import annotations

import pandas as pd

from algobt.engine.alerts import as_alerts


class Result(pd.Series):
    """Stats of one run; see ``docs/stats.md`` for every key and its unit."""

    # pandas pickles exactly these attributes; Series' own ``_name`` must stay among them.
    _metadata = [
        *pd.Series._metadata,
        "symbol",
        "strategy_name",
        "open_trades",
        "open_since",
        "alerts",
        "settings",
        "provenance",
    ]

    def __init__(
        self,
        data=None,
        *args,
        symbol=None,
        strategy_name=None,
        open_trades=0,
        open_since=None,
        alerts=None,
        settings=None,
        provenance=None,
        **kwargs,
    ):
        super().__init__(data, *args, **kwargs)
        self.symbol = symbol
        self.strategy_name = strategy_name
        self.open_trades = open_trades
        #: Entry bar of the earliest trade still open at the end (None: flat at the end);
        #: with the closed trades it tells at which bars a position was open.
        self.open_since = open_since
        self.alerts = as_alerts(alerts)
        self.settings = dict(settings or {})
        #: What the run was made of (``algobt.engine.provenance``), when the runner knows.
        self.provenance = dict(provenance or {})

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
        """The ``BacktestResult`` of ``docs/api.md``: JSON-ready (no NaN), percent, ISO stamps."""
        from algobt.engine.report import backtest_result

        commission = self.settings.get("commission")
        result = backtest_result(
            self.stats,
            symbol=self.symbol,
            strategy_name=self.strategy_name,
            initial_capital=self.settings.get("cash"),
            commission=commission if isinstance(commission, int | float) else None,
        )
        if self.provenance:
            result["provenance"] = self.provenance
        return into(result) if into is not dict else result

    def plot(self):
        """The result widget in a notebook: summary cards, equity with drawdown, daily
        performance, symbol distribution and trades (``algobt.widgets.ResultWidget``;
        needs the ``notebook`` extra)."""
        from algobt.widgets import ResultWidget

        return ResultWidget(self)

    def _repr_html_(self) -> str:
        """A notebook shows a Result as its key stats and an equity sparkline."""
        from algobt.widgets.html import result_html

        return result_html(self.to_dict())
