"""``rerun``: make a stored run again from what it recorded, and say whether it came out
the same (``docs/store.md``).

The run's provenance names its strategy (code and hash), parameters, settings and,
per symbol, the bars (source, file or cache key, rows, first and last bar, a hash
of the values). ``rerun`` reloads those bars the way the run loaded them, runs the
same code with the same settings on the same path (``Backtest`` for a class-API
run, ``run_config`` for a config), and compares the new result with the stored one
float for float. When they differ it says which input changed: a data file whose
bars are no longer the ones recorded is named, and so is a new algobt version.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field

import pandas as pd

from algobt.engine import provenance as prov
from algobt.errors import ConfigError

# Config keys that are settings of Backtest (the class API); the rest go to run_config.
_BACKTEST_SETTINGS = (
    "commission", "spread", "slippage", "lot_size", "margin", "trade_on_close", "hedging",
    "exclusive_orders", "finalize_trades", "sl_tp_priority",
)  # fmt: skip


@dataclass
class Rerun:
    """The outcome of :func:`rerun`.

    identical: the new result equals the stored one (metrics, trades, equity, daily and
    symbol stats), float for float. changes: the inputs that differ from those
    recorded (``{"input", "was", "now", "message"}``). diff: metrics, trades and
    equity side by side (``algobt.store.diff.diff_results``). result: the new
    ``BacktestResult``. run_id: the run made again; new_run_id: the rerun's own run
    when saved (``save=True``).
    """

    run_id: int
    identical: bool
    changes: list[dict] = field(default_factory=list)
    diff: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    new_run_id: int | None = None

    @property
    def message(self) -> str:
        """One sentence: reproduced, or what differs and which input changed."""
        if self.identical:
            return f"run {self.run_id} reproduced exactly"
        what = [m["metric"] for m in self.diff.get("metrics", [])][:5]
        head = f"run {self.run_id} came out different ({', '.join(what) or 'trades/equity'})"
        if self.changes:
            return f"{head}: " + "; ".join(c["message"] for c in self.changes)
        return f"{head}, though no recorded input changed"

    def __repr__(self) -> str:
        return f"Rerun({self.message!r})"


def class_source_in(code: str, class_name: str) -> str | None:
    """The source lines of top-level class ``class_name`` in ``code`` (decorators included),
    as ``inspect.getsource`` gives them for a class defined in a file."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    lines = code.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return "".join(lines[start - 1 : node.end_lineno])
    return None


def _reload(symbol: str, entry: dict, config: dict) -> pd.DataFrame:
    """The bars of ``symbol`` as the run loaded them."""
    from algobt.engine.config import RunConfig
    from algobt.engine.data import load
    from algobt.engine.run import load_for

    source = entry.get("source")
    if source == "dataframe" or source is None:
        raise ConfigError(
            f"the run's bars of {symbol} came from a DataFrame in memory, which the store "
            f"does not keep; pass them: rerun(run_id, data={{{symbol!r}: frame}})",
            field="data",
        )
    windowed = any(config.get(k) for k in ("period", "start_date", "end_date"))
    if windowed:
        cfg = RunConfig.from_dict({k: v for k, v in config.items() if k in _LOAD_KEYS})
        return load_for(cfg, symbol)
    where = entry.get("path") if source == "file" else symbol
    if source == "file" and where and not os.path.exists(where):
        raise ConfigError(
            f"the run read {symbol} from {where}, which no longer exists", field="data"
        )
    bars = load(
        where,
        start_date=(entry.get("first") or "")[:10] or None,
        end_date=(entry.get("last") or "")[:10] or None,
        interval=entry.get("interval"),
        source=source,
    )
    if entry.get("first") and entry.get("last"):
        bars = bars.loc[pd.Timestamp(entry["first"]) : pd.Timestamp(entry["last"])]
    return bars


_LOAD_KEYS = ("symbol", "symbols", "period", "start_date", "end_date", "interval",
              "timeframe", "source")  # fmt: skip


def _strategy_class(code, class_name):
    from algobt.engine.run import strategy_from_source

    if not isinstance(code, str) or not code.strip():
        raise ConfigError(
            "the stored run has no strategy code to run again (it was saved without it)",
            field="strategy_code",
        )
    return strategy_from_source(code, class_name=class_name)


def _run_again(run: dict, frames: dict) -> dict:
    """The new ``BacktestResult`` of ``run`` on ``frames``, by the route it first took."""
    from algobt.engine.backtest import Backtest
    from algobt.engine.run import run_config

    config = dict(run["config"])
    recorded = run["provenance"]
    strategy = recorded.get("strategy") or {}
    code = config.get("strategy_code")
    if recorded.get("runner") == "backtest":
        cls = _strategy_class(code, strategy.get("class_name"))
        (symbol,) = frames
        settings = {k: config[k] for k in _BACKTEST_SETTINGS if k in config}
        bt = Backtest(
            frames[symbol], cls, cash=config.get("initial_capital", 10_000), symbol=symbol,
            **settings,
        )  # fmt: skip
        return bt.run(**(config.get("params") or {})).to_dict()
    config = {k: v for k, v in config.items() if k != "strategy_id"}
    if strategy.get("kind") == "class":
        config["strategy"] = _strategy_class(code, strategy.get("class_name"))
        config.pop("strategy_code", None)
    return run_config(config, data=frames).to_dict()


def _store_shape(config: dict, result: dict, strategy_name: str | None) -> dict:
    """A result as the store gives it back, so the comparison is like with like."""
    from algobt.store.store import Store

    with Store(":memory:") as scratch:
        run = scratch.record_run(config, result, strategy_name=strategy_name or "rerun")
        return scratch.get_result(run["result_id"])


def rerun(run_id: int, *, store=None, data: dict | None = None, save: bool = False) -> Rerun:
    """Run stored run ``run_id`` again; report whether it reproduced and, if not, why.

    store: a ``Store``, a database path, or None for the default store.
    data: bars by symbol to use instead of reloading them (a run made on a DataFrame).
    save: record the rerun as a new run (``new_run_id``), e.g. to diff the two later.

    >>> from algobt.store import Store
    >>> from algobt.engine.run import run_config
    >>> store = Store(":memory:")
    >>> spec = {"name": "EMA", "version": 1,
    ...         "indicators": {"fast": {"type": "EMA", "period": 9},
    ...                        "slow": {"type": "EMA", "period": 21}},
    ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
    >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
    >>> run = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
    >>> rerun(run["id"], store=store).message == f"run {run['id']} reproduced exactly"
    True
    """
    from algobt.store.notebook import _store

    target, opened = _store(store)
    try:
        run = target.get_run(run_id)
        if run["result_id"] is None:
            raise ConfigError(
                f"run {run['id']} is {run['status']}: only a completed run can be made again",
                field="run_id",
            )
        recorded = run["provenance"]
        if not recorded.get("data"):
            raise ConfigError(
                f"run {run['id']} was saved before runs recorded their inputs (or without "
                "them), so it cannot be made again from the store",
                field="run_id",
            )
        given = dict(data or {})
        frames = {
            symbol: given[symbol] if symbol in given else _reload(symbol, entry, run["config"])
            for symbol, entry in recorded["data"].items()
        }
        fresh = _run_again(run, frames)
        now = dict(fresh.get("provenance") or {})
        strategy = dict(now.get("strategy") or {})
        code = run["config"].get("strategy_code")
        if strategy.get("kind") == "class" and isinstance(code, str):
            # The class ran from its stored text: hash the class as it stands there.
            segment = class_source_in(code, strategy.get("class_name") or "")
            strategy["hash"] = prov.code_hash(segment) if segment else strategy.get("hash")
            now["strategy"] = strategy
            fresh["provenance"] = now
        for symbol in given:  # given bars keep the origin recorded for them
            if symbol in now.get("data", {}):
                fingerprint = now["data"][symbol]
                for key in ("source", "path", "cache_key", "interval", "symbol"):
                    fingerprint[key] = recorded["data"][symbol].get(key)
        changes = prov.input_changes(recorded, now)
        stored = target.get_result(run["result_id"])
        again = _store_shape(run["config"], fresh, run["strategy_name"])
        from algobt.store.diff import diff_results

        diff = diff_results(stored, again)
        new_run_id = None
        if save:
            saved = target.record_run(
                run["config"], fresh, strategy_id=run["strategy_id"], source="rerun",
                name=f"rerun of {run['id']}",
            )  # fmt: skip
            new_run_id = saved["id"]
        return Rerun(run["id"], diff["identical"], changes, diff, fresh, new_run_id)
    finally:
        if opened:
            target.close()


def diff(run_a: int, run_b: int, *, store=None) -> dict:
    """What differs between two stored runs: settings, metrics, trades, equity
    (``Store.diff_runs``; ``docs/store.md``)."""
    from algobt.store.notebook import _store

    target, opened = _store(store)
    try:
        return target.diff_runs(run_a, run_b)
    finally:
        if opened:
            target.close()
