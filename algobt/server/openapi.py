"""The OpenAPI 3.1 document of the REST API, built from the app's own route table.

Every route of ``route_table()`` appears (a test checks it); each operation
says what it accepts and returns; ``docs/api.md`` describes the same API in prose.
"""

from __future__ import annotations

import re
from functools import cache

from algobt import __version__
from algobt.store.runs import STATUSES

ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> dict:
    return {
        "type": "object",
        "required": ["count", "page", "page_size", "results"],
        "properties": {
            "count": {"type": "integer"},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "results": {"type": "array", "items": _ref(item)},
        },
    }


ID_PARAM = {"type": "integer", "minimum": 1}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {
        "name": "page_size",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
]

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    },
    "BacktestConfig": {
        "type": "object",
        "additionalProperties": True,
        "description": "A run's configuration (docs/api.md); both spellings of a field are "
        "accepted (initial_balance|initial_capital, interval|timeframe).",
        "properties": {
            "name": {"type": "string"},
            "strategy_id": {"type": "integer", "minimum": 1},
            "strategy_code": {
                "description": "Python source or a canonical JSON rule spec",
                "oneOf": [{"type": "string"}, {"type": "object"}],
            },
            "symbol": {"type": "string", "examples": ["DEMO"]},
            "symbols": {"type": "array", "items": {"type": "string"}},
            "period": {"type": "string", "examples": ["1y", "6months", "custom"]},
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
            "interval": {
                "type": "string",
                "enum": ["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w", "60m", "1wk"],
            },
            "timeframe": {"type": "string"},
            "initial_capital": {"type": "number", "exclusiveMinimum": 0},
            "initial_balance": {"type": "number", "exclusiveMinimum": 0},
            "commission": {"type": "number", "minimum": 0, "maximum": 0.1},
            "slippage": {"type": "number", "minimum": 0, "maximum": 0.1},
            "lot_size": {"type": "number", "exclusiveMinimum": 0},
            "params": {"type": "object"},
            "indicators": {"type": "object"},
            "config": {"type": "object"},
        },
    },
    "BacktestResult": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "id": {"type": "integer"},
            "run": {"type": "integer"},
            "strategy": {"type": "string"},
            "symbol": {"type": "string"},
            "start_date": {"type": "string"},
            "end_date": {"type": "string"},
            "initial_capital": {"type": "number"},
            "final_value": {"type": ["number", "null"]},
            "total_return": {"type": ["number", "null"]},
            "sharpe_ratio": {"type": ["number", "null"]},
            "max_drawdown": {"type": ["number", "null"]},
            "win_rate": {"type": ["number", "null"]},
            "profit_factor": {"type": ["number", "null"]},
            "total_trades": {"type": "integer"},
            "winning_trades": {"type": "integer"},
            "losing_trades": {"type": "integer"},
            "trades": {"type": "array", "items": _ref("Trade")},
            "daily_stats": {"type": "array", "items": {"type": "object"}},
            "symbol_stats": {"type": "array", "items": {"type": "object"}},
            "equity_curve": {"type": "array", "items": {"type": "object"}},
            "summary": {
                "type": "object",
                "properties": {
                    "totalTrades": {"type": "integer"},
                    "winRate": {"type": "number"},
                    "totalProfit": {"type": "number"},
                    "averageTrade": {"type": "number"},
                },
            },
        },
    },
    "Trade": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "id": {"type": "integer"},
            "backtest_run": {"type": "integer"},
            "symbol": {"type": "string"},
            "action": {"type": "string", "enum": ["buy", "sell", "short", "cover"]},
            "entry_time": {"type": "string"},
            "exit_time": {"type": "string"},
            "entry_price": {"type": "number"},
            "exit_price": {"type": "number"},
            "quantity": {"type": "number"},
            "pnl": {"type": ["number", "null"]},
            "return_pct": {"type": ["number", "null"]},
            "commission": {"type": "number"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": list(STATUSES),
            },
            "progress": {"type": ["number", "null"]},
            "error": {"type": ["string", "null"]},
            "started_at": {"type": ["string", "null"]},
            "finished_at": {"type": ["string", "null"]},
            "result_id": {"type": ["integer", "null"], "description": "once it has a result"},
        },
    },
    "Monitor": {
        "allOf": [
            _ref("Status"),
            {
                "type": "object",
                "properties": {
                    "phase": {
                        "description": "queued, loading, running, saving, completed "
                        "(or the run's final status once the server no longer tracks it)",
                        "type": "string",
                    },
                    "bars": {
                        "description": "bars simulated so far, of all the run's bars",
                        "type": ["object", "null"],
                        "properties": {
                            "done": {"type": "integer"},
                            "total": {"type": "integer"},
                        },
                    },
                    "live_stats": {
                        "description": "headline figures, once the run has a result",
                        "type": ["object", "null"],
                    },
                    "alerts": {"type": "array"},
                },
            },
        ]
    },
    "Run": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string"},
            "config": {"type": "object"},
            "provenance": {
                "type": "object",
                "description": "What the run was made of: algobt_version, runner, strategy "
                "(kind, name, class_name, hash), params, data per symbol (source, path, "
                "cache_key, rows, first, last, sha256), fill_rules",
            },
        },
    },
    "RunDiff": {
        "type": "object",
        "required": [
            "run_a",
            "run_b",
            "identical",
            "settings",
            "inputs",
            "metrics",
            "trades",
            "equity",
        ],
        "properties": {
            "run_a": {"type": "integer"},
            "run_b": {"type": "integer"},
            "identical": {"type": "boolean"},
            "settings": {
                "type": "array",
                "items": {"type": "object", "required": ["key", "a", "b"]},
            },
            "inputs": {"type": "array", "items": {"type": "string"}},
            "metrics": {
                "type": "array",
                "items": {"type": "object", "required": ["metric", "a", "b", "delta"]},
            },
            "trades": {
                "type": "object",
                "required": ["a", "b", "agree", "first_difference"],
            },
            "equity": {
                "type": "object",
                "required": ["a", "b", "common", "max_abs_difference", "first_difference"],
            },
        },
    },
    "Config": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["string", "null"]},
            "config": {"type": "object"},
        },
    },
    "Strategy": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["python", "json"]},
            "code": {"type": "string"},
            "description": {"type": "string"},
            "parameters": {"type": "object"},
        },
    },
    "StrategyInput": {
        "type": "object",
        "required": ["name", "strategy_code"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "strategy_code": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "description": {"type": "string"},
        },
    },
    "CodeInput": {
        "type": "object",
        "required": ["strategy_code"],
        "properties": {"strategy_code": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
    },
    "Validation": {
        "type": "object",
        "required": ["valid", "kind", "errors", "parameters"],
        "properties": {
            "valid": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["python", "json"]},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "line": {"type": ["integer", "null"]},
                        "column": {"type": ["integer", "null"]},
                        "message": {"type": "string"},
                    },
                },
            },
            "parameters": {"type": "object"},
        },
    },
    "LatestBacktestResult": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "strategy_id": {"type": "integer"},
            "strategy_name": {"type": "string"},
            "symbol": {"type": "string"},
            "timeframe": {"type": "string"},
            "total_trades": {"type": "integer"},
            "win_rate": {"type": ["number", "null"]},
            "net_profit": {"type": ["number", "null"]},
            "sharpe_ratio": {"type": ["number", "null"]},
            "trades": {"type": "array"},
            "equity_curve": {"type": "array"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
        },
    },
}

ALERTS_PARAM = (
    "alerts",
    {
        "type": "string",
        "enum": ["summary", "full"],
        "description": "summary: one entry per alert code with its count; full: every alert",
    },
)

# (method, path) -> summary, request schema, (status, response schema), extra parameters
OPERATIONS: dict[tuple[str, str], dict] = {
    ("post", "/api/backtests/api/quick_run/"): dict(
        summary="Run a backtest now and return its result",
        body="BacktestConfig",
        ok=(200, _ref("BacktestResult")),
        query=[ALERTS_PARAM],
    ),
    ("post", "/api/backtests/api/run_backtest/"): dict(
        summary="Queue a full backtest run", body="BacktestConfig", ok=(202, _ref("Status"))
    ),
    ("get", "/api/backtests/api/status/{id}/"): dict(
        summary="Status of a run", ok=(200, _ref("Status"))
    ),
    ("get", "/api/backtests/api/monitor/{id}/"): dict(
        summary="Status plus live stats and alerts", ok=(200, _ref("Monitor"))
    ),
    ("post", "/api/backtests/api/cancel/{id}/"): dict(
        summary="Cancel a queued or running run", ok=(202, _ref("Status"))
    ),
    ("get", "/api/backtests/configs/"): dict(
        summary="List saved configs", paged=True, ok=(200, _page("Config"))
    ),
    ("post", "/api/backtests/configs/"): dict(
        summary="Save a config", body="BacktestConfig", ok=(201, _ref("Config"))
    ),
    ("get", "/api/backtests/configs/templates/"): dict(
        summary="Ready-made configs", ok=(200, {"type": "array", "items": _ref("Config")})
    ),
    ("get", "/api/backtests/configs/{id}/"): dict(
        summary="A saved config", ok=(200, _ref("Config"))
    ),
    ("put", "/api/backtests/configs/{id}/"): dict(
        summary="Replace a saved config", body="BacktestConfig", ok=(200, _ref("Config"))
    ),
    ("patch", "/api/backtests/configs/{id}/"): dict(
        summary="Update a saved config", body="BacktestConfig", ok=(200, _ref("Config"))
    ),
    ("delete", "/api/backtests/configs/{id}/"): dict(
        summary="Delete a saved config", ok=(204, None)
    ),
    ("get", "/api/backtests/results/"): dict(
        summary="List results",
        paged=True,
        ok=(200, _page("BacktestResult")),
        query=[
            ("run", ID_PARAM),
            ("run_id", {**ID_PARAM, "description": "same as run (results carry both)"}),
            ("strategy", ID_PARAM),
            ("strategy_id", {**ID_PARAM, "description": "same as strategy"}),
            ("symbol", {"type": "string"}),
        ],
    ),
    ("get", "/api/backtests/results/{id}/"): dict(
        summary="A result", ok=(200, _ref("BacktestResult"))
    ),
    ("get", "/api/backtests/trades/"): dict(
        summary="List trades (filter by run, symbol, action, exit date range)",
        paged=True,
        ok=(200, _page("Trade")),
        query=[
            ("run", ID_PARAM),
            ("backtest_run", {**ID_PARAM, "description": "same as run (trades carry it)"}),
            ("result", ID_PARAM),
            ("strategy", ID_PARAM),
            ("symbol", {"type": "string"}),
            ("action", {"type": "string", "enum": ["buy", "sell", "short", "cover"]}),
            ("start_date", {"type": "string", "format": "date"}),
            ("end_date", {"type": "string", "format": "date"}),
            ("start", {"type": "string", "format": "date", "description": "same as start_date"}),
            ("end", {"type": "string", "format": "date", "description": "same as end_date"}),
        ],
    ),
    ("get", "/api/backtests/runs/"): dict(
        summary="List runs (history)",
        paged=True,
        ok=(200, _page("Run")),
        query=[
            (
                "status",
                {
                    "type": "string",
                    "enum": list(STATUSES),
                },
            ),
            ("strategy", ID_PARAM),
            ("strategy_id", {**ID_PARAM, "description": "same as strategy (runs carry it)"}),
            ("symbol", {"type": "string"}),
        ],
    ),
    ("get", "/api/backtests/runs/compare/"): dict(
        summary="Metrics of several runs side by side",
        ok=(200, {"type": "object"}),
        query=[("ids", {"type": "string", "examples": ["3,7"]})],
    ),
    ("get", "/api/backtests/runs/diff/"): dict(
        summary="What differs between two runs: settings, metrics, trades, equity",
        ok=(200, _ref("RunDiff")),
        query=[
            ("a", {"type": "integer", "minimum": 1, "examples": [3]}),
            ("b", {"type": "integer", "minimum": 1, "examples": [7]}),
        ],
    ),
    ("get", "/api/backtests/runs/{id}/"): dict(summary="A run", ok=(200, _ref("Run"))),
    ("get", "/api/backtests/runs/{id}/results/"): dict(
        summary="Results of a run", ok=(200, {"type": "array", "items": _ref("BacktestResult")})
    ),
    ("get", "/api/strategies/strategies/"): dict(
        summary="List strategies",
        paged=True,
        ok=(200, _page("Strategy")),
        query=[("search", {"type": "string"})],
    ),
    ("post", "/api/strategies/strategies/"): dict(
        summary="Create a strategy", body="StrategyInput", ok=(201, _ref("Strategy"))
    ),
    ("get", "/api/strategies/strategies/{id}/"): dict(
        summary="A strategy", ok=(200, _ref("Strategy"))
    ),
    ("put", "/api/strategies/strategies/{id}/"): dict(
        summary="Replace a strategy", body="StrategyInput", ok=(200, _ref("Strategy"))
    ),
    ("patch", "/api/strategies/strategies/{id}/"): dict(
        summary="Update a strategy", body="StrategyInput", ok=(200, _ref("Strategy"))
    ),
    ("delete", "/api/strategies/strategies/{id}/"): dict(
        summary="Delete a strategy", ok=(204, None)
    ),
    ("post", "/api/strategies/strategies/{id}/validate/"): dict(
        summary="Validate a saved strategy", ok=(200, _ref("Validation"))
    ),
    ("post", "/api/strategies/strategies/{id}/backtest/"): dict(
        summary="Quick backtest of a saved strategy",
        body="BacktestConfig",
        ok=(200, _ref("BacktestResult")),
        query=[ALERTS_PARAM],
    ),
    ("post", "/api/strategies/validate/"): dict(
        summary="Validate strategy code", body="CodeInput", ok=(200, _ref("Validation"))
    ),
    ("get", "/api/strategies/schema/"): dict(
        summary="JSON Schema of canonical rule specs", ok=(200, {"type": "object"})
    ),
    ("get", "/api/strategies/latest-backtest/"): dict(
        summary="Latest result of every strategy (series only with ?expand=)",
        paged=True,
        ok=(200, _page("LatestBacktestResult")),
        query=[
            (
                "expand",
                {
                    "type": "string",
                    "examples": ["trades,equity_curve"],
                    "description": "comma-separated: trades, equity_curve, daily_stats",
                },
            )
        ],
    ),
    ("get", "/api/strategies/latest-backtest/{id}/get_by_strategy/"): dict(
        summary="Latest result of one strategy", ok=(200, _ref("LatestBacktestResult"))
    ),
    ("get", "/api/symbols/"): dict(summary="Available symbols", ok=(200, {"type": "object"})),
    ("get", "/api/health/"): dict(summary="Server health", ok=(200, {"type": "object"})),
    ("get", "/api/openapi.json"): dict(summary="This document", ok=(200, {"type": "object"})),
    ("get", "/"): dict(
        summary="The web page (with ?token=: sets the login cookie)", ok=(200, None), html=True
    ),
    ("get", "/static/{path}"): dict(
        summary="A bundled asset of the page (long-cached when its name is hashed)",
        ok=(200, None),
    ),
}


@cache
def _query_rules() -> list[tuple[str, re.Pattern, tuple[str, ...]]]:
    rules = []
    for (method, path), op in OPERATIONS.items():
        names = [p["name"] for p in PAGING] if op.get("paged") else []
        names += [name for name, _ in op.get("query", ())]
        pattern = re.escape(path).replace(r"\{id\}", r"[^/]+").replace(r"\{path\}", ".*")
        rules.append((method, re.compile(pattern + "$"), tuple(names)))
    return rules


def query_names(method: str, path: str) -> tuple[str, ...] | None:
    """The query parameters ``method path`` accepts (as this document lists them), or
    None for a path it does not describe."""
    for m, pattern, names in _query_rules():
        if m == method.lower() and pattern.match(path):
            return names
    return None


def path_of(pattern: str) -> str:
    """Tornado route pattern → OpenAPI path: ``(\\d{1,18})`` becomes ``{id}``, ``(.*)``
    ``{path}``."""
    return re.sub(r"\([^)]*\)", "{id}", pattern.replace("(.*)", "{path}")).replace("\\", "")


def openapi_document(app=None) -> dict:
    """The document; with ``app`` it also checks every route is described."""
    paths: dict[str, dict] = {}
    for (method, path), op in OPERATIONS.items():
        status, schema = op["ok"]
        responses = {str(status): {"description": "OK"}}
        if schema is not None:
            responses[str(status)]["content"] = {"application/json": {"schema": schema}}
        elif op.get("html"):
            responses[str(status)]["content"] = {"text/html": {"schema": {"type": "string"}}}
        for code, text in (
            ("400", "Bad request (a field is wrong)"),
            ("401", "Missing or wrong token"),
            ("403", "Host not allowed"),
            ("404", "Not found"),
            ("413", "Body too large"),
            ("422", "The strategy or data cannot be run"),
        ):
            responses[code] = {
                "description": text,
                "content": {"application/json": {"schema": ERROR}},
            }
        operation = {
            "summary": op["summary"],
            "responses": responses,
            "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower())}",
        }
        params = []
        if "{id}" in path:
            params.append({"name": "id", "in": "path", "required": True, "schema": ID_PARAM})
        if "{path}" in path:
            params.append(
                {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
            )
        if op.get("paged"):
            params.extend(PAGING)
        for name, schema_ in op.get("query", ()):
            params.append({"name": name, "in": "query", "schema": schema_})
        if params:
            operation["parameters"] = params
        if op.get("body"):
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op["body"])}},
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "algobt",
            "version": __version__,
            "description": "Backtesting REST API (docs/api.md). Send the server's token as "
            "`Authorization: token …`, or use the login cookie a page load with `?token=` "
            "sets. The streaming WebSocket is `/ws/backtest/stream/` (docs/websocket.md).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <the server's token>`",
                }
            },
        },
        "security": [{"token": []}],
        "paths": paths,
    }
