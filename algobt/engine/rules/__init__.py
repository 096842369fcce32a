"""Canonical JSON strategies: a trading rule as data, for the web UI and the store.

A spec (``SCHEMA`` is its JSON Schema, draft 2020-12)::

    {"name": "EMA cross + RSI filter", "version": 1,
     "parameters": {"rsi_max": 70},
     "indicators": {"fast": {"type": "EMA", "period": 9},
                    "slow": {"type": "EMA", "period": 21},
                    "rsi": {"type": "RSI", "period": 14, "source": "close"}},
     "entry": {"long": {"all": [{"crosses_above": ["fast", "slow"]},
                                {"lt": ["rsi", {"param": "rsi_max"}]}]}},
     "exit": {"long": {"crosses_below": ["fast", "slow"]}},
     "risk": {"stop_loss_pct": 2.0, "take_profit_pct": 5.0, "size_pct": 100}}

* ``indicators``: name -> ``{"type": SMA|EMA|WMA|RSI|MACD|BBANDS|ATR|STOCH|ROC, its
  parameters, "source"}``. Parameters are the registry's (``period`` for ``n``; MACD
  ``fast``/``slow``/``signal``; BBANDS ``period``/``nbdev_up``/``nbdev_dn``; STOCH
  ``fastk_period``/``slowk_period``/``slowd_period``), defaults as in TA-Lib.
  ``source`` (one-input indicators only, default ``close``) is a price field or
  another indicator (``"rsi"``, ``"macd.hist"``): an SMA of the RSI is allowed,
  cycles are not.
* ``entry`` / ``exit``: ``{"long": condition, "short": condition}``, each optional
  (entry needs one side). A condition is one operator: ``crosses_above``,
  ``crosses_below``, ``gt``, ``lt``, ``ge``, ``le`` (two operands), ``between``
  (``[x, low, high]``, inclusive), ``all``/``any`` (a list of conditions), ``not``
  (one condition).
* operands: an indicator (``"fast"``; multi-output ones need the output:
  ``"macd.signal"``, ``"bb.upper"``, ``"stoch.k"``), a price field (``open high low
  close volume hl2 hlc3 ohlc4``), a number, a value ``n`` bars ago
  ``{"ref": "close", "shift": 1}`` (the one canonical form; ``"close[1]"`` is
  refused with this hint), or a parameter ``{"param": "rsi_max"}``.
* ``risk``: ``stop_loss_pct`` / ``take_profit_pct`` (percent of the signal bar's
  close, or null) and ``size_pct`` (share of equity per entry, default 100).
  Broker settings (commission, trade_on_close, ...) belong to the run, not the spec.

Limits keep a spec from the network cheap: conditions nest at most 32 levels, hold
at most 1000 conditions and operands, 64 indicators, 100 parameters, periods and
shifts up to 100000 bars, 500000 characters of JSON. Unknown keys are errors.

Semantics are those of ``algobt.engine.fast.from_signals``: a condition true on bar
``i`` acts in that bar's ``next()`` (exits before entries) and its market order fills
at the next bar's open. ``to_python`` writes the equivalent ``Strategy`` class.

>>> spec = {"name": "up", "version": 1, "indicators": {"fast": {"type": "EMA"}},
...         "entry": {"long": {"crosses_above": ["close", "fast"]}}}
>>> validate_spec(spec)
[]
>>> spec_parameters(spec)
{'fast.period': 30, 'risk.size_pct': 100}
"""

from __future__ import annotations

from algobt.engine.rules._compile import Signals, compile_spec, run_spec
from algobt.engine.rules._export import to_python
from algobt.engine.rules._schema import PRICE_FIELDS, SCHEMA
from algobt.engine.rules._spec import (
    Spec,
    parse_spec,
    spec_name,
    spec_parameters,
    validate_spec,
    with_parameters,
)

__all__ = [
    "SCHEMA",
    "PRICE_FIELDS",
    "Spec",
    "Signals",
    "validate_spec",
    "parse_spec",
    "compile_spec",
    "run_spec",
    "spec_parameters",
    "with_parameters",
    "spec_name",
    "to_python",
]
