"""Recording a run made in a notebook, so it lands where the server's runs land.

>>> import algobt
>>> from algobt.examples import SmaCross
>>> from algobt.store import save_run
>>> result = algobt.backtest(SmaCross, "DEMO", period="1y")
>>> save_run(result, strategy_name="SMA cross")["status"]        # doctest: +SKIP
'completed'
"""

from __future__ import annotations

import inspect
import json
import math
import os
import threading
from typing import Any

from algobt.errors import ConfigError
from algobt.store.connection import resolve_path
from algobt.store.store import Store

_defaults: dict[tuple[int, str], Store] = {}
_defaults_lock = threading.Lock()

# Bar spacings that name an interval, for results that do not say theirs.
_INTERVALS = {
    60: "1m",
    300: "5m",
    900: "15m",
    1800: "30m",
    3600: "1h",
    14400: "4h",
    86400: "1d",
    604800: "1w",
}


def default_store() -> Store:
    """The default store (``$ALGOBT_HOME/algobt.db``), opened once per process."""
    key = (os.getpid(), resolve_path(None))
    with _defaults_lock:
        store = _defaults.get(key)
        if store is None:
            store = _defaults[key] = Store(key[1])
        return store


def _store(store: Store | str | os.PathLike | None) -> tuple[Store, bool]:
    """(store, opened here and to be closed)."""
    if store is None:
        return default_store(), False
    if isinstance(store, Store):
        return store, False
    if isinstance(store, str | os.PathLike):
        return Store(store), True
    raise ConfigError(
        "store must be a Store, a database path, or None for the default store", field="store"
    )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _json_alert(alert: dict) -> dict:
    stamp = alert.get("time")
    out = {k: v for k, v in alert.items() if _jsonable(v)}
    if stamp is not None:
        out["time"] = stamp if isinstance(stamp, str) else stamp.isoformat()
    if alert.get("bar") is not None:
        out["bar"] = int(alert["bar"])
    return out


def _interval_of(result) -> str | None:
    """The bar interval from the smallest spacing of the equity curve's stamps."""
    try:
        index = result.equity_curve.index
        steps = index[1:] - index[:-1]
        seconds = min(s.total_seconds() for s in steps if s.total_seconds() > 0)
    except (AttributeError, TypeError, ValueError):
        return None
    return _INTERVALS.get(int(seconds)) if math.isfinite(seconds) else None


def _config_of_result(result) -> dict:
    """A run config for a class-API ``Result``: its symbol, interval and broker settings."""
    settings = dict(getattr(result, "settings", {}) or {})
    config: dict[str, Any] = {"symbol": result.symbol or "DATA"}
    interval = _interval_of(result)
    if interval:
        config["interval"] = interval
    if "cash" in settings:
        config["initial_capital"] = settings.pop("cash")
    for key, value in settings.items():
        if _jsonable(value) and not isinstance(value, dict | list):
            config[key] = value
    return config


# What a strategy defined in a notebook cell usually relies on, so its stored
# source runs on its own (e.g. from the server's web page).
_PRELUDE = "from algobt import Strategy\nfrom algobt.lib import *  # noqa: F403\n\n\n"


def _source_of(strategy) -> str | None:
    """Runnable source of a strategy class: its whole module when that is a file of
    one strategy's own (imports included), else the class with algobt's imports."""
    try:
        source = inspect.getsource(strategy)
    except (OSError, TypeError):
        return None  # defined in a REPL cell that is gone, or built at runtime
    module = inspect.getmodule(strategy)
    if module is not None and module.__name__ not in ("__main__", "builtins"):
        try:
            whole = inspect.getsource(module)
        except (OSError, TypeError):
            whole = None
        if whole and whole.count("class ") <= 3:
            return whole
    return _PRELUDE + source


def save_run(
    result_or_outcome,
    *,
    strategy_name: str | None = None,
    config: dict | None = None,
    store: Store | str | os.PathLike | None = None,
    strategy: type | None = None,
    source: str = "notebook",
) -> dict:
    """Record a finished run in the store and return the run (``status: "completed"``).

    result_or_outcome: a ``Result`` (class API), a ``RunOutcome`` (``run_config``),
        or a ``BacktestResult`` dict.
    strategy_name: the strategy to file it under, created on first use (default:
        the strategy's class name); its ``latest_by_strategy`` row becomes this run.
    config: settings of the run that override those taken from the outcome or the
        result, e.g. ``{"period": "1y", "params": {"fast": 5}}``.
    store: a ``Store``, a database path, or None for the default store.
    strategy: the Strategy class, whose source is saved with the run and, for a
        new strategy, as its code.
    """
    from algobt.engine.alerts import Alerts
    from algobt.engine.result import Result
    from algobt.engine.run import RunOutcome

    code: str | dict | None = None
    if isinstance(result_or_outcome, RunOutcome):
        outcome = result_or_outcome
        result = outcome.to_dict()
        alerts = result.get("alerts")
        run_config = outcome.config.to_dict()
        name = strategy_name or outcome.strategy_name
        strategy = strategy or outcome.config.strategy
        if isinstance(outcome.config.strategy_code, str | dict):
            code = outcome.config.strategy_code
    elif isinstance(result_or_outcome, Result):
        result = result_or_outcome.to_dict()
        alerts = result_or_outcome.alerts
        if isinstance(alerts, Alerts):
            alerts = alerts.to_json()  # the summary: one row per code, with its count
        else:
            alerts = [_json_alert(a) for a in alerts]
        run_config = _config_of_result(result_or_outcome)
        name = strategy_name or result_or_outcome.strategy_name
    elif isinstance(result_or_outcome, dict):
        result = result_or_outcome
        alerts = result.get("alerts")
        run_config = {"symbol": result.get("symbol"), "interval": result.get("timeframe")}
        name = strategy_name or result.get("strategy_name") or result.get("strategy")
    else:
        raise ConfigError(
            "save_run takes a Result, a RunOutcome or a BacktestResult dict, got "
            f"{type(result_or_outcome).__name__}",
            field="result",
        )
    if config is not None:
        if not isinstance(config, dict):
            raise ConfigError("config must be a dict of run settings", field="config")
        run_config = {**run_config, **config}
    if not name:
        raise ConfigError("give strategy_name: the name to file this run under", field="name")
    if code is None and strategy is not None:
        code = _source_of(strategy)
    run_config = {k: v for k, v in dict(run_config).items() if _jsonable(v)}
    run_config["strategy_name"] = name
    if code is not None and not run_config.get("strategy_code"):
        run_config["strategy_code"] = code  # each run keeps the exact code it ran
    target, opened = _store(store)
    try:
        return target.record_run(
            run_config, result, strategy_name=name, strategy_code=code, alerts=alerts,
            source=source,
        )  # fmt: skip
    finally:
        if opened:
            target.close()


def _plug_into_the_engine() -> None:
    """Let ``Backtest(save=...)`` record its runs here; the engine never imports the store."""
    from algobt.engine.backtest import use_recorder

    use_recorder(save_run)


_plug_into_the_engine()
