"""What a run was made of, recorded with it so it can be made again.

A run's *provenance* is a JSON-ready dict (``docs/store.md`` lists the keys):

* ``algobt_version``: the engine that ran it; ``runner``: ``backtest`` (``Backtest.run``)
  or ``run_config`` (a config, as the server and ``algobt.backtest``'s configs run);
* ``strategy``: its ``kind`` (``python``/``json``/``class``), ``name``, the
  class it ran (``class_name``) and ``hash``, the SHA-256 of its code (Python source,
  or the JSON spec with sorted keys);
* ``params``: the parameter overrides;
* ``data``: per symbol, where the bars came from (``source``, ``path``, ``cache_key``),
  how many (``rows``), the ``first`` and ``last`` bar and ``sha256``, a hash of the
  stamps and prices themselves;
* ``fill_rules``: every broker setting a number depends on (costs, fill timing,
  the intrabar rule for a bar that touches both stop-loss and take-profit...).

    >>> import algobt
    >>> bars = algobt.load("DEMO", period="1mo")
    >>> print_ = data_fingerprint(bars)
    >>> print_["source"], print_["rows"] == len(bars), print_["first"][:10]
    ('demo', True, '2024-12-02')

``input_changes(recorded, now)`` says in words which input differs between two
provenances: the question ``algobt.rerun`` answers when a run does not come out
the same.
"""

from __future__ import annotations

import hashlib
import inspect
import json

import numpy as np
import pandas as pd

#: The settings that decide a run's fills, in the order they are reported.
FILL_RULES = (
    "initial_capital",
    "commission",
    "slippage",
    "spread",
    "lot_size",
    "margin",
    "trade_on_close",
    "hedging",
    "exclusive_orders",
    "finalize_trades",
    "sl_tp_priority",
    "portfolio",
)

_PRICES = ("Open", "High", "Low", "Close", "Volume")


def _version() -> str:
    from algobt import __version__

    return __version__


def _stamp(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def data_fingerprint(frame: pd.DataFrame) -> dict:
    """Where ``frame`` came from and a hash of what it holds (stamps and OHLCV values)."""
    digest = hashlib.sha256()
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        digest.update(np.ascontiguousarray(index.asi8).tobytes())
    else:
        digest.update(np.ascontiguousarray(np.asarray(index, dtype=np.float64)).tobytes())
    for column in _PRICES:
        if column in frame.columns:
            digest.update(column.encode())
            values = frame[column].to_numpy(dtype=np.float64)
            digest.update(np.ascontiguousarray(values).tobytes())
    attrs = frame.attrs or {}
    out = {
        "symbol": attrs.get("symbol"),
        "source": attrs.get("source") or "dataframe",
        "interval": attrs.get("interval"),
        "cache_key": attrs.get("cache_key"),
        "path": attrs.get("path"),
        "rows": int(len(frame)),
        "first": _stamp(index[0]) if len(frame) else None,
        "last": _stamp(index[-1]) if len(frame) else None,
        "sha256": digest.hexdigest(),
    }
    return out


def code_hash(code) -> str | None:
    """SHA-256 of strategy code: Python text as it is, a JSON spec with sorted keys."""
    if code is None:
        return None
    if isinstance(code, dict):
        text = json.dumps(code, sort_keys=True, separators=(",", ":"), allow_nan=False)
    else:
        text = str(code)
    return hashlib.sha256(text.encode()).hexdigest()


def class_source(cls) -> str | None:
    """The source of a strategy class, when Python can still find it."""
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return None


def strategy_entry(kind: str, name: str | None, code=None, cls=None) -> dict:
    """The ``strategy`` part of a provenance."""
    if code is None and cls is not None:
        code = class_source(cls) or f"{cls.__module__}.{cls.__qualname__}"
    return {
        "kind": kind,
        "name": name,
        "class_name": getattr(cls, "__name__", None),
        "hash": code_hash(code),
    }


def _plain(value):
    """A JSON-ready copy of a setting (a commission function by its name)."""
    if callable(value):
        return f"callable:{getattr(value, '__qualname__', type(value).__name__)}"
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def make_provenance(
    *, strategy: dict, params: dict, frames: dict, fill_rules: dict, runner: str
) -> dict:
    """Assemble a provenance from its parts (see the module docstring). runner:
    ``"backtest"`` (``Backtest.run``) or ``"run_config"`` (a config)."""
    return {
        "algobt_version": _version(),
        "runner": runner,
        "strategy": strategy,
        "params": {k: _plain(v) for k, v in sorted((params or {}).items())},
        "data": {symbol: data_fingerprint(frame) for symbol, frame in frames.items()},
        "fill_rules": {k: _plain(fill_rules[k]) for k in FILL_RULES if k in fill_rules},
    }


def input_changes(recorded: dict, now: dict) -> list[dict]:
    """Which inputs differ between a recorded provenance and a new one, in words.

    Each change is ``{"input", "was", "now", "message"}``; ``input`` is e.g.
    ``"data.DEMO"``, ``"algobt_version"``, ``"strategy"``, ``"params"`` or
    ``"fill_rules.commission"``.

    >>> a = {"algobt_version": "0.1.0", "data": {}}
    >>> [c["message"] for c in input_changes(a, {**a, "algobt_version": "0.2.0"})]
    ['algobt version changed: 0.1.0 then, 0.2.0 now']
    """
    changes: list[dict] = []
    recorded, now = recorded or {}, now or {}

    def add(key, was, is_, message):
        changes.append({"input": key, "was": was, "now": is_, "message": message})

    was_v, now_v = recorded.get("algobt_version"), now.get("algobt_version")
    if was_v != now_v:
        add("algobt_version", was_v, now_v, f"algobt version changed: {was_v} then, {now_v} now")
    was_s, now_s = recorded.get("strategy") or {}, now.get("strategy") or {}
    if was_s.get("hash") != now_s.get("hash"):
        add("strategy", was_s.get("hash"), now_s.get("hash"), "the strategy's code changed")
    if (recorded.get("params") or {}) != (now.get("params") or {}):
        add(
            "params",
            recorded.get("params"),
            now.get("params"),
            f"parameters changed: {recorded.get('params')} then, {now.get('params')} now",
        )
    was_f, now_f = recorded.get("fill_rules") or {}, now.get("fill_rules") or {}
    for key in sorted(set(was_f) | set(now_f)):
        if was_f.get(key) != now_f.get(key):
            add(
                f"fill_rules.{key}",
                was_f.get(key),
                now_f.get(key),
                f"setting {key} changed: {was_f.get(key)!r} then, {now_f.get(key)!r} now",
            )
    was_d, now_d = recorded.get("data") or {}, now.get("data") or {}
    for symbol in sorted(set(was_d) | set(now_d)):
        was, is_ = was_d.get(symbol), now_d.get(symbol)
        if was is None or is_ is None:
            add(
                f"data.{symbol}",
                was,
                is_,
                f"symbol {symbol} is {'new' if was is None else 'no longer in the run'}",
            )
            continue
        if was.get("sha256") == is_.get("sha256"):
            continue
        where = is_.get("path") or was.get("path") or is_.get("cache_key") or "its source"
        what = []
        for key, label in (("rows", "rows"), ("first", "first bar"), ("last", "last bar")):
            if was.get(key) != is_.get(key):
                what.append(f"{label} {was.get(key)} then, {is_.get(key)} now")
        detail = "; ".join(what) if what else "same bars, different values"
        add(
            f"data.{symbol}",
            was,
            is_,
            f"the data of {symbol} changed ({detail}): {where}",
        )
    return changes


__all__ = [
    "FILL_RULES",
    "class_source",
    "code_hash",
    "data_fingerprint",
    "input_changes",
    "make_provenance",
    "strategy_entry",
]
