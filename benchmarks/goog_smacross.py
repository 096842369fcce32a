"""GOOG SmaCross(10, 20) through algobt's class API and backtesting.py, same process.

    python benchmarks/goog_smacross.py

Both run the same strategy source (only the import differs) on backtesting.py's
bundled GOOG daily data (2,148 bars) with 0.2% commission; each is warmed up
once, then timed 5 times; the median is reported and written to
``benchmarks/results/goog_smacross.json``. Not part of the test suite.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
import warnings
from pathlib import Path

SOURCE = """
from {pkg} import Strategy
from {pkg}.lib import crossover
from backtesting.test import SMA

class SmaCross(Strategy):
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
"""


def strategy(pkg):
    ns: dict = {}
    exec(SOURCE.format(pkg=pkg), ns)
    return ns["SmaCross"]


def median_ms(fn, repeats=5):
    fn()  # warm: imports, numba, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main():
    import backtesting
    from backtesting.test import GOOG

    import algobt

    warnings.simplefilter("ignore")
    ours_cls, theirs_cls = strategy("algobt"), strategy("backtesting")
    ours = algobt.Backtest(GOOG, ours_cls, commission=0.002)
    theirs = backtesting.Backtest(GOOG, theirs_cls, commission=0.002)
    a, b = ours.run(), theirs.run()
    assert (
        a["# Trades"] == b["# Trades"] and abs(a["Equity Final [$]"] - b["Equity Final [$]"]) < 1e-6
    )
    figures = {
        "bars": len(GOOG),
        "trades": int(a["# Trades"]),
        "algobt_ms": round(median_ms(ours.run), 2),
        "backtesting_py_ms": round(median_ms(theirs.run), 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    figures["speedup"] = round(figures["backtesting_py_ms"] / figures["algobt_ms"], 2)
    out = Path(__file__).parent / "results" / "goog_smacross.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"GOOG SmaCross, {figures['bars']} bars, {figures['trades']} trades (median of 5, warm)")
    print(f"  algobt         {figures['algobt_ms']:8.2f} ms")
    print(f"  backtesting.py {figures['backtesting_py_ms']:8.2f} ms")
    print(f"  speed-up       {figures['speedup']:8.2f}x")


if __name__ == "__main__":
    main()
