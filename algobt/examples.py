"""Ready-made strategies for examples, docs and smoke tests.

>>> from algobt import Backtest, load
>>> result = Backtest(load("DEMO", period="2y"), SmaCross).run()
>>> result["# Trades"] > 0
True
"""

from __future__ import annotations

from algobt.engine.strategy import Strategy
from algobt.lib import SMA, crossover


class SmaCross(Strategy):
    """Long when the fast SMA crosses above the slow one, short when below (always in)."""

    fast = 10
    slow = 30

    def init(self):
        self.sma_fast = self.I(SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma_fast, self.sma_slow):
            self.position.close()
            self.buy()
        elif crossover(self.sma_slow, self.sma_fast):
            self.position.close()
            self.sell()
