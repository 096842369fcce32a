"""A long-only SMA crossover with an RSI filter and a stop-loss, as a user would write it.

Run it:  algobt run --symbol DEMO --strategy examples/sma_cross.py --period 5y
"""

from algobt import Strategy
from algobt.lib import RSI, SMA, crossover


class SmaCrossRsi(Strategy):
    fast = 20  # bars
    slow = 50  # bars
    rsi_max = 70  # skip entries when RSI is above this
    stop_pct = 5.0  # stop-loss distance below the entry, in percent

    def init(self):
        self.sma_fast = self.I(SMA, self.data.Close, self.fast)
        self.sma_slow = self.I(SMA, self.data.Close, self.slow)
        self.rsi = self.I(RSI, self.data.Close, 14)

    def next(self):
        price = self.data.Close[-1]
        if crossover(self.sma_fast, self.sma_slow) and self.rsi[-1] < self.rsi_max:
            if not self.position:
                self.buy(sl=price * (1 - self.stop_pct / 100))
        elif crossover(self.sma_slow, self.sma_fast) and self.position:
            self.position.close()
