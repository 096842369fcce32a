"""The strategies the tests share, written once.

``SMA_CROSS`` is the Python source of ``algobt.examples.SmaCross`` (fast/slow SMA
crossover, always in the market, parameters ``fast=10``, ``slow=30``), as a user would
send it in ``strategy_code``: the same strategy the Python-side tests pass as a class.
``EMA_CROSS`` is the smallest canonical JSON rule spec (EMA 9/21 crossover, long only),
and ``EMA_RSI`` the README's spec with an RSI filter and a risk block.

A plain module (not only fixtures) so spawned worker processes can import it by name.
"""

from __future__ import annotations

import inspect

from algobt.examples import SmaCross

SMA_CROSS = (
    "from algobt import Strategy\n"
    "from algobt.lib import SMA, crossover\n"
    "\n\n" + inspect.getsource(SmaCross)
)

EMA_CROSS = {
    "name": "EMA cross",
    "version": 1,
    "indicators": {"fast": {"type": "EMA", "period": 9}, "slow": {"type": "EMA", "period": 21}},
    "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    "exit": {"long": {"crosses_below": ["fast", "slow"]}},
}

EMA_RSI = {
    "name": "EMA cross + RSI filter",
    "version": 1,
    "indicators": {
        "fast": {"type": "EMA", "period": 9},
        "slow": {"type": "EMA", "period": 21},
        "rsi": {"type": "RSI", "period": 14, "source": "close"},
    },
    "entry": {"long": {"all": [{"crosses_above": ["fast", "slow"]}, {"lt": ["rsi", 70]}]}},
    "exit": {"long": {"any": [{"crosses_below": ["fast", "slow"]}]}},
    "risk": {"stop_loss_pct": 2.0, "take_profit_pct": 5.0, "size_pct": 100},
}
