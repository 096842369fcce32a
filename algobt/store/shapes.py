"""Result, trade, alert and latest rows: checked on the way in, shaped on the way out.

``prepare_result`` turns a ``BacktestResult`` dict into column values
(before any lock is taken); ``result_dict``, ``trade_dict``, ``alert_dict`` and
``latest_dict`` turn rows back into the API's JSON shapes (docs/api.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from algobt.errors import ConfigError
from algobt.store import codec

RESULT_TEXT = ("strategy_name", "symbol", "timeframe", "period", "start_date", "end_date")
RESULT_REAL = (
    "commission",  # the commission *rate* of the run (fraction per side)
    "initial_capital",
    "final_value",
    "net_profit",
    "total_return",
    "sharpe_ratio",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "sortino_ratio",
    "calmar_ratio",
    "cagr",
    "annual_return",
    "volatility",
    "exposure_pct",
    "equity_peak",
    "commissions",  # money paid
    "buy_and_hold_return",
    "alpha",
    "beta",
    "avg_drawdown",
    "max_drawdown_duration",
    "avg_drawdown_duration",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "max_holding_time",
    "avg_holding_time",
    "expectancy",
    "sqn",
    "kelly_criterion",
)
RESULT_INT = ("total_trades", "winning_trades", "losing_trades")
RESULT_JSON = {"summary": {}, "daily_stats": [], "symbol_stats": [], "equity_curve": []}
# The report spells some fields two ways; one column holds both.
RESULT_ALIASES = {
    "strategy": "strategy_name",
    "initial_balance": "initial_capital",
    "final_equity": "final_value",
    "total_return_pct": "total_return",
}
# Filled in by the store, or kept in their own tables.
RESULT_OWN_KEYS = (
    "id", "run", "run_id", "strategy_id", "created_at", "trades", "alerts", "provenance",
)  # fmt: skip
LIGHT_COLUMNS = ", ".join(
    ("id", "run_id", "strategy_id", *RESULT_TEXT, *RESULT_REAL, *RESULT_INT)
    + ("summary", "symbol_stats", "metrics", "created_at")
)

ACTIONS = ("buy", "sell", "short", "cover")
TRADE_TEXT = ("entry_time", "exit_time")
TRADE_REAL = ("entry_price", "exit_price", "quantity", "pnl", "return_pct", "commission", "balance")
TRADE_ALIASES = {"size": "quantity", "profit": "pnl", "date": "exit_time", "timestamp": "exit_time"}
TRADE_OWN_KEYS = ("id", "backtest_run", "run", "run_id", "result", "result_id")

# compare_runs: the metrics side by side, and which way is better.
HIGHER_IS_BETTER = (
    "total_return",
    "net_profit",
    "final_value",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
    "cagr",
    "win_rate",
    "profit_factor",
    "expectancy",
    "sqn",
)
LOWER_IS_BETTER = ("max_drawdown", "volatility")
COMPARE_METRICS = (
    *HIGHER_IS_BETTER,
    *LOWER_IS_BETTER,
    "total_trades",
    "exposure_pct",
    "buy_and_hold_return",
    "commissions",
)


@dataclass
class Prepared:
    """A result checked and turned into column values, before any lock is taken."""

    columns: dict
    trades: list[dict]
    trades_json: str
    alerts: list[dict]
    provenance: str = "{}"  # the run's inputs (docs/store.md), kept on its run row


def _trade_row(trade: Any, i: int, symbol: str | None) -> dict:
    where = f"trades[{i}]"
    if not isinstance(trade, dict):
        raise ConfigError(f"{where} must be an object", field=where)
    action = trade.get("action")
    if action not in ACTIONS:
        raise ConfigError(
            f"{where}.action is {action!r}; use one of {', '.join(ACTIONS)}",
            field=f"{where}.action",
        )
    row: dict[str, Any] = {"action": action}
    row["symbol"] = codec.text(trade.get("symbol") or symbol, f"{where}.symbol", optional=False)
    extra: dict[str, Any] = {}
    for key in TRADE_TEXT + TRADE_REAL:
        aliases = [a for a, target in TRADE_ALIASES.items() if target == key]
        value = trade.get(key)
        if key not in trade:
            value = next((trade[a] for a in aliases if a in trade), None)
        check = codec.text if key in TRADE_TEXT else codec.real
        row[key] = check(value, f"{where}.{key}")
        for alias in aliases:  # an alias that disagrees is kept as given
            if alias in trade and trade[alias] != value:
                extra[alias] = trade[alias]
    for key, value in trade.items():
        if key not in row and key not in TRADE_ALIASES and key not in TRADE_OWN_KEYS:
            extra[key] = value
    row["extra"] = codec.to_json(extra, f"{where}") if extra else None
    return row


def _alert_row(alert: Any, i: int) -> dict:
    where = f"alerts[{i}]"
    if not isinstance(alert, dict):
        raise ConfigError(f"{where} must be an object", field=where)
    stamp = _stamp(alert.get("time", alert.get("bar_time")))
    count = codec.integer(alert.get("count", 1), f"{where}.count", low=1)
    return {
        "level": str(alert.get("level") or "warning"),
        "code": str(alert.get("code") or ""),
        "message": str(alert.get("message") or ""),
        "symbol": codec.text(alert.get("symbol"), f"{where}.symbol", max_len=64),
        "bar": codec.integer(alert.get("bar"), f"{where}.bar"),
        "bar_time": stamp,
        "count": 1 if count is None else count,
        "last_bar": codec.integer(alert.get("last_bar"), f"{where}.last_bar"),
        "last_time": _stamp(alert.get("last_time")),
    }


def _stamp(stamp):
    if stamp is not None and not isinstance(stamp, str):
        stamp = stamp.isoformat() if hasattr(stamp, "isoformat") else str(stamp)
    return stamp


def prepare_result(result: Any, alerts: Any = None) -> Prepared:
    """Check a ``BacktestResult`` dict (``RunOutcome.to_dict()`` or ``Result.to_dict()``).

    Known metrics go to their columns; any other key is kept in the ``metrics``
    JSON column and comes back unchanged.
    """
    if not isinstance(result, dict):
        raise ConfigError(
            f"a result must be a BacktestResult object, got {type(result).__name__}",
            field="result",
        )
    columns: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in result.items():
        if key in RESULT_OWN_KEYS:
            continue
        target = RESULT_ALIASES.get(key, key)
        if target in RESULT_TEXT:
            stored = codec.text(value, key, max_len=10_000)
        elif target in RESULT_REAL:
            stored = codec.real(value, key)
        elif target in RESULT_INT:
            stored = codec.integer(value, key, low=0)
        elif target in RESULT_JSON:
            stored = codec.to_json(RESULT_JSON[target] if value is None else value, key)
        else:
            extra[key] = value
            continue
        if target in columns and columns[target] != stored:
            raise ConfigError(
                f"{key} and {target} disagree ({value!r} vs {columns[target]!r}); give one",
                field=key,
            )
        columns[target] = stored
    columns["metrics"] = codec.to_json(extra, "result")
    trades = result.get("trades") or []
    if not isinstance(trades, list):
        raise ConfigError("trades must be a list of trade objects", field="trades")
    symbol = (columns.get("symbol") or "").split(",")[0] or None
    trade_rows = [_trade_row(t, i, symbol) for i, t in enumerate(trades)]
    if columns.get("total_trades") is None:
        columns["total_trades"] = len(trade_rows)
    if columns.get("winning_trades") is None:
        columns["winning_trades"] = sum(1 for t in trade_rows if (t["pnl"] or 0) > 0)
    if columns.get("losing_trades") is None:
        columns["losing_trades"] = columns["total_trades"] - columns["winning_trades"]
    if alerts is None:
        alerts = result.get("alerts") or []
    if not isinstance(alerts, list):
        raise ConfigError("alerts must be a list of alert objects", field="alerts")
    origin = result.get("provenance") or {}
    if not isinstance(origin, dict):
        raise ConfigError("provenance must be an object of the run's inputs", field="provenance")
    return Prepared(
        columns,
        trade_rows,
        codec.to_json(trades, "trades"),
        [_alert_row(a, i) for i, a in enumerate(alerts)],
        codec.to_json(origin, "provenance"),
    )


def trade_dict(row: sqlite3.Row) -> dict:
    out = {
        "id": row["id"],
        "backtest_run": row["run_id"],
        "result": row["result_id"],
        "entry_time": row["entry_time"],
        "exit_time": row["exit_time"],
        "date": row["exit_time"],
        "timestamp": row["exit_time"],
        "symbol": row["symbol"],
        "action": row["action"],
        "entry_price": row["entry_price"],
        "exit_price": row["exit_price"],
        "quantity": row["quantity"],
        "size": row["quantity"],
        "profit": row["pnl"],
        "pnl": row["pnl"],
        "return_pct": row["return_pct"],
        "commission": row["commission"],
        "balance": row["balance"],
    }
    out.update(codec.from_json(row["extra"], {}))
    return out


def alert_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "run": row["run_id"],
        "level": row["level"],
        "code": row["code"],
        "message": row["message"],
        "symbol": row["symbol"],
        "bar": row["bar"],
        "time": row["bar_time"],
        "count": row["count"],
        "last_bar": row["last_bar"],
        "last_time": row["last_time"],
    }


def result_dict(row: sqlite3.Row, *, trades=None, alerts=None) -> dict:
    """A ``BacktestResult`` from a row; the heavy series only when the row has them."""
    keys = row.keys()
    out: dict[str, Any] = {
        "id": row["id"],
        "run": row["run_id"],
        "run_id": row["run_id"],
        "strategy_id": row["strategy_id"],
        "strategy": row["strategy_name"],
    }
    for column in RESULT_TEXT + RESULT_REAL + RESULT_INT:
        out[column] = row[column]
    out["initial_balance"] = row["initial_capital"]
    out["final_equity"] = row["final_value"]
    out["total_return_pct"] = row["total_return"]
    for column, default in RESULT_JSON.items():
        if column in keys:
            out[column] = codec.from_json(row[column], default)
    out.update(codec.from_json(row["metrics"], {}))
    if trades is not None:
        out["trades"] = trades
    if alerts is not None:
        out["alerts"] = alerts
    out["created_at"] = row["created_at"]
    return out


LATEST_REAL = (
    ("initial_balance", "initial_capital"),
    ("commission", "commission"),
    ("win_rate", "win_rate"),
    ("net_profit", "net_profit"),
    ("total_return_pct", "total_return"),
    ("final_equity", "final_value"),
    ("max_drawdown", "max_drawdown"),
    ("sharpe_ratio", "sharpe_ratio"),
)


def latest_dict(row: sqlite3.Row, *, series: bool = True) -> dict:
    """The ``LatestBacktestResult`` (docs/api.md), plus ``run_id``/``result_id``."""
    out = {
        "strategy_id": row["strategy_id"],
        "strategy_name": row["strategy_name"],
        "run_id": row["run_id"],
        "result_id": row["result_id"],
        "symbol": row["symbol"],
        "timeframe": row["timeframe"],
        "period": row["period"],
    }
    for column, _ in LATEST_REAL:
        out[column] = row[column]
    for column in RESULT_INT:
        out[column] = row[column]
    out["summary"] = codec.from_json(row["summary"], {})
    out["symbol_stats"] = codec.from_json(row["symbol_stats"], [])
    if series:
        out["trades"] = codec.from_json(row["trades"], [])
        out["equity_curve"] = codec.from_json(row["equity_curve"], [])
        out["daily_stats"] = codec.from_json(row["daily_stats"], [])
    out["created_at"] = row["created_at"]
    out["updated_at"] = row["updated_at"]
    return out


LATEST_SELECT = (
    "SELECT l.*, s.name AS strategy_name FROM latest_backtest_results l"
    " JOIN strategies s ON s.id = l.strategy_id"
)
