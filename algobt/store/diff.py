"""What differs between two stored runs: settings, metrics, trades and equity.

``Store.diff_runs(a, b)`` (and ``algobt.diff``, and ``GET /api/backtests/runs/diff/``)
answers one object (``docs/store.md``):

* ``identical``: the two results are equal float for float (metrics, trades, equity,
  daily and symbol stats);
* ``settings``: each config or provenance value that differs, ``{"key", "a", "b"}``,
  and ``inputs``: the same in words (which data, which setting, which version);
* ``metrics``: each result number that differs, ``{"metric", "a", "b", "delta"}``;
* ``trades``: how many each run has, how many agree from the start, and the first
  pair that does not;
* ``equity``: points in each curve, the largest difference on common stamps and
  the first stamp where the curves part.

Equality is exact (``==`` on the stored doubles, with null equal to null): a rerun
that reproduces a run gives ``identical: true``.
"""

from __future__ import annotations

import math
from typing import Any

from algobt.engine.provenance import input_changes
from algobt.errors import ConfigError
from algobt.store import codec

# Result keys that name the stored row rather than the numbers of the run.
_BOOKKEEPING = {
    "id", "run", "run_id", "backtest_run", "result", "result_id", "strategy_id",
    "created_at", "updated_at", "alerts", "trades", "equity_curve", "daily_stats",
    "symbol_stats", "provenance", "config",
}  # fmt: skip
_TRADE_BOOKKEEPING = {"id", "backtest_run", "result", "run_id", "result_id"}
_RUN_BOOKKEEPING = {"strategy_id", "id", "name"}


def same(a: Any, b: Any) -> bool:
    """Exact equality of stored values; NaN equals NaN, dicts and lists element-wise."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _flat(prefix: str, value: Any, out: dict) -> dict:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            _flat(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    else:
        out[prefix] = value
    return out


def _trade(trade: dict) -> dict:
    return {k: v for k, v in trade.items() if k not in _TRADE_BOOKKEEPING}


def _curve(result: dict) -> dict:
    return {p.get("timestamp"): p.get("equity") for p in result.get("equity_curve") or []}


def diff_results(a: dict, b: dict) -> dict:
    """Metrics, trades and equity of two stored results (``Store.get_result`` dicts)."""
    a, b = a or {}, b or {}
    metrics = []
    for key in sorted((set(a) | set(b)) - _BOOKKEEPING):
        x, y = a.get(key), b.get(key)
        if not same(x, y):
            delta = None
            if isinstance(x, int | float) and isinstance(y, int | float):
                if not isinstance(x, bool) and not isinstance(y, bool):
                    delta = y - x
            metrics.append({"metric": key, "a": x, "b": y, "delta": delta})
    for key in ("daily_stats", "symbol_stats"):
        if not same(a.get(key), b.get(key)):
            metrics.append({"metric": key, "a": len(a.get(key) or []),
                            "b": len(b.get(key) or []), "delta": None})  # fmt: skip

    trades_a = [_trade(t) for t in a.get("trades") or []]
    trades_b = [_trade(t) for t in b.get("trades") or []]
    agree = 0
    for x, y in zip(trades_a, trades_b, strict=False):
        if not same(x, y):
            break
        agree += 1
    first = None
    if agree < max(len(trades_a), len(trades_b)):
        first = {
            "index": agree,
            "a": trades_a[agree] if agree < len(trades_a) else None,
            "b": trades_b[agree] if agree < len(trades_b) else None,
        }
    trades = {"a": len(trades_a), "b": len(trades_b), "agree": agree, "first_difference": first}

    curve_a = _curve(a)
    curve_b = _curve(b)
    common = [t for t in curve_a if t in curve_b]
    largest, parted = 0.0, None
    for stamp in common:
        x, y = curve_a[stamp], curve_b[stamp]
        if same(x, y):
            continue
        if parted is None:
            parted = {"time": stamp, "a": x, "b": y}
        if isinstance(x, int | float) and isinstance(y, int | float):
            largest = max(largest, abs(y - x))
    if parted is None and list(curve_a) != list(curve_b):
        only = [t for t in curve_a if t not in curve_b] + [t for t in curve_b if t not in curve_a]
        parted = {"time": only[0] if only else None, "a": None, "b": None}
    equity = {
        "a": len(curve_a),
        "b": len(curve_b),
        "common": len(common),
        "max_abs_difference": largest,
        "first_difference": parted,
    }
    identical = (
        not metrics
        and first is None
        and parted is None
        and same(a.get("equity_curve"), b.get("equity_curve"))
    )
    return {"identical": identical, "metrics": metrics, "trades": trades, "equity": equity}


def diff_settings(run_a: dict, run_b: dict) -> list[dict]:
    """Config and provenance values that differ between two runs, as flat dotted keys."""
    flat_a = _flat("config", _clean_config(run_a.get("config") or {}), {})
    flat_b = _flat("config", _clean_config(run_b.get("config") or {}), {})
    _flat("provenance", run_a.get("provenance") or {}, flat_a)
    _flat("provenance", run_b.get("provenance") or {}, flat_b)
    return [
        {"key": key, "a": flat_a.get(key), "b": flat_b.get(key)}
        for key in sorted(set(flat_a) | set(flat_b))
        if not same(flat_a.get(key), flat_b.get(key))
    ]


def _clean_config(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in _RUN_BOOKKEEPING}


class DiffMixin:
    """``diff_runs``: two stored runs side by side, difference by difference."""

    def diff_runs(self, run_a: int, run_b: int) -> dict:
        """What differs between runs ``run_a`` and ``run_b`` (see this module's docstring).

        >>> from algobt.store import Store
        >>> from algobt.engine.run import run_config
        >>> store = Store(":memory:")
        >>> spec = {"name": "EMA", "version": 1,
        ...         "indicators": {"fast": {"type": "EMA", "period": 9},
        ...                        "slow": {"type": "EMA", "period": 21}},
        ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
        ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
        >>> one = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
        >>> two = {**one, "commission": 0.002}
        >>> a = store.record_run(one, run_config(one).to_dict(), strategy_name="EMA")
        >>> b = store.record_run(two, run_config(two).to_dict(), strategy_name="EMA")
        >>> d = store.diff_runs(a["id"], b["id"])
        >>> d["identical"], [s["key"] for s in d["settings"]][:1]
        (False, ['config.commission'])
        """
        ids = [codec.record_id(run_a, "run_a"), codec.record_id(run_b, "run_b")]
        if ids[0] == ids[1]:
            raise ConfigError("give two different runs to diff", field="run_b")
        runs = [self.get_run(i) for i in ids]
        results = []
        for run in runs:
            if run["result_id"] is None:
                raise ConfigError(
                    f"run {run['id']} is {run['status']} and has no result to compare; "
                    "diff completed runs",
                    field="run_a" if run is runs[0] else "run_b",
                )
            results.append(self.get_result(run["result_id"]))
        out = diff_results(*results)
        return {
            "run_a": ids[0],
            "run_b": ids[1],
            "identical": out["identical"],
            "settings": diff_settings(*runs),
            "inputs": [
                c["message"] for c in input_changes(runs[0]["provenance"], runs[1]["provenance"])
            ],
            **{k: out[k] for k in ("metrics", "trades", "equity")},
        }
