"""algobt against backtesting.py 0.6.6: the same strategy source, only the import changed.

Each strategy below is written once as backtesting.py source text. The test runs
that text as is, then with ``backtesting`` replaced by ``algobt`` in its
imports, and asks for the same trade list (entry/exit bar, size, prices, P&L),
final equity, return, max drawdown, Sharpe and win rate to 1e-6 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting.test import BTCUSD, EURUSD, GOOG

STRATEGIES = {
    "sma_cross_reversal": """
from backtesting import Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

class Strat(Strategy):
    n1 = 10
    n2 = 20
    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)
    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()
""",
    "long_only_fractional": """
from backtesting import Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

class Strat(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 5)
        self.slow = self.I(SMA, self.data.Close, 40)
    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(size=0.4)
        elif crossover(self.slow, self.fast):
            self.position.close()
""",
    "sl_tp_brackets": """
from backtesting import Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

class Strat(Strategy):
    sl_pct = 0.03
    tp_pct = 0.06
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 10)
        self.slow = self.I(SMA, self.data.Close, 30)
    def next(self):
        price = self.data.Close[-1]
        if not self.position and crossover(self.fast, self.slow):
            self.buy(size=0.5, sl=price * (1 - self.sl_pct), tp=price * (1 + self.tp_pct))
        elif not self.position and crossover(self.slow, self.fast):
            self.sell(size=0.5, sl=price * (1 + self.sl_pct), tp=price * (1 - self.tp_pct))
""",
    "unit_sizes_partial_close": """
from backtesting import Strategy
from backtesting.test import SMA

class Strat(Strategy):
    def init(self):
        self.ma = self.I(SMA, self.data.Close, 5)
    def next(self):
        if self.data.Close[-1] > self.ma[-1] and self.position.size < 30:
            self.buy(size=10)
        elif self.data.Close[-1] < self.ma[-1] and self.position:
            self.position.close(0.5)
""",
    "short_only_with_stops": """
from backtesting import Strategy
from backtesting.lib import crossover
from backtesting.test import SMA

class Strat(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 8)
        self.slow = self.I(SMA, self.data.Close, 21)
    def next(self):
        if crossover(self.slow, self.fast) and not self.position:
            self.sell(size=0.9, sl=self.data.Close[-1] * 1.04)
        elif crossover(self.fast, self.slow) and self.position.is_short:
            self.position.close()
        for trade in self.trades:
            if self.data.index[-1] - trade.entry_time > self.data.index[-1] - self.data.index[-6]:
                trade.sl = max(trade.entry_price, self.data.High[-1] * 1.01)
""",
    "limit_and_stop_entries": """
from backtesting import Strategy
from backtesting.test import SMA

class Strat(Strategy):
    def init(self):
        self.ma = self.I(SMA, self.data.Close, 20)
    def next(self):
        price = self.data.Close[-1]
        for order in self.orders:
            if not order.is_contingent:
                order.cancel()
        if not self.position:
            self.buy(limit=price * 0.99, sl=price * 0.95, tp=price * 1.05)
            self.sell(stop=price * 0.97, size=5)
""",
}

# (strategy, data, Backtest keyword arguments)
CASES = [
    ("sma_cross_reversal", "GOOG", dict(cash=10_000, commission=0.002)),
    ("sma_cross_reversal", "GOOG", dict(cash=10_000, trade_on_close=True, finalize_trades=True)),
    ("long_only_fractional", "GOOG", dict(cash=10_000, commission=0.001)),
    ("sl_tp_brackets", "GOOG", dict(cash=10_000, commission=0.001)),
    ("sl_tp_brackets", "EURUSD", dict(cash=100_000, spread=0.0002, finalize_trades=True)),
    ("unit_sizes_partial_close", "GOOG", dict(cash=100_000, commission=0.0005)),
    ("long_only_fractional", "GOOG", dict(cash=10_000, commission=(2.0, 0.0005))),
    ("short_only_with_stops", "GOOG", dict(cash=10_000, commission=0.002, margin=0.5)),
    ("short_only_with_stops", "BTCUSD", dict(cash=1_000_000, commission=0.001)),
    ("limit_and_stop_entries", "GOOG", dict(cash=10_000, commission=0.001, hedging=True)),
    (
        "sma_cross_reversal",
        "EURUSD",
        dict(cash=100_000, exclusive_orders=True, commission=0.0001, finalize_trades=True),
    ),
]

DATA = {"GOOG": GOOG, "EURUSD": EURUSD, "BTCUSD": BTCUSD}
TRADE_COLUMNS = [
    "Size",
    "EntryBar",
    "ExitBar",
    "EntryPrice",
    "ExitPrice",
    "PnL",
    "Commission",
    "ReturnPct",
    "EntryTime",
    "ExitTime",
    "SL",
    "TP",
]
STATS = [
    "Equity Final [$]",
    "Return [%]",
    "Max. Drawdown [%]",
    "Sharpe Ratio",
    "Win Rate [%]",
    "# Trades",
    "Sortino Ratio",
    "Profit Factor",
    "Exposure Time [%]",
    "Buy & Hold Return [%]",
    "Commissions [$]",
    "Calmar Ratio",
    "SQN",
    "CAGR [%]",
]


def strategy_class(source: str, package: str):
    """Exec the strategy text with its imports pointing at ``package``."""
    namespace: dict = {}
    text = source.replace("from backtesting import", f"from {package} import")
    text = text.replace("from backtesting.lib import", f"from {package}.lib import")
    exec(compile(text, f"<{package} strategy>", "exec"), namespace)
    return namespace["Strat"]


def run_both(name, data_name, kwargs):
    import backtesting

    import algobt

    data = DATA[data_name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # backtesting.py's own UserWarnings
        theirs = backtesting.Backtest(
            data, strategy_class(STRATEGIES[name], "backtesting"), **kwargs
        ).run()
    ours = algobt.Backtest(data, strategy_class(STRATEGIES[name], "algobt"), **kwargs).run()
    return ours, theirs


@pytest.mark.parametrize(
    ("name", "data_name", "kwargs"), CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_same_trades_and_stats_as_backtesting_py(name, data_name, kwargs):
    ours, theirs = run_both(name, data_name, kwargs)
    assert theirs["# Trades"] > 0, "a case that trades nothing proves nothing"
    mine, ref = ours._trades[TRADE_COLUMNS], theirs._trades[TRADE_COLUMNS]
    pd.testing.assert_frame_equal(
        mine.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )
    for key in STATS:
        if key not in theirs.index:
            continue
        a, b = ours[key], theirs[key]
        if isinstance(b, float) and np.isnan(b):
            assert np.isnan(a), key
        else:
            assert a == pytest.approx(b, rel=1e-6), key
    np.testing.assert_allclose(
        ours._equity_curve["Equity"], theirs._equity_curve["Equity"], rtol=1e-9
    )


def test_every_case_kind_is_covered():
    """The issue asks for crossover+reversal, fractional long-only, SL/TP, unit sizes,
    trade_on_close, a spread or commission tuple and a short-selling case."""
    kinds = {c[0] for c in CASES}
    assert len(kinds) >= 6
    assert any(c[2].get("trade_on_close") for c in CASES)
    assert any("spread" in c[2] or isinstance(c[2].get("commission"), tuple) for c in CASES)
    assert {c[1] for c in CASES} == set(DATA)
