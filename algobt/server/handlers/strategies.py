"""``/api/strategies/…``: strategy CRUD, validation, per-strategy backtests and latest results."""

from __future__ import annotations

from algobt.engine.detect import validate_strategy_code
from algobt.engine.rules import SCHEMA
from algobt.errors import ConfigError
from algobt.server.handlers.backtests import ID
from algobt.server.handlers.base import ApiHandler


def _code_from(body: dict) -> str | dict:
    code = body.get("strategy_code", body.get("code"))
    if code is None or code == "":
        raise ConfigError(
            "give the strategy as strategy_code (Python source or a JSON rule spec)",
            field="strategy_code",
        )
    if not isinstance(code, str | dict):
        raise ConfigError("strategy_code must be text or a JSON object", field="strategy_code")
    return code


class StrategiesHandler(ApiHandler):
    def get(self):
        page, size = self.page_args()
        self.send(
            self.store.list_strategies(page=page, page_size=size, search=self.str_arg("search"))
        )

    def post(self):
        body = self.get_json_body()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("name is required: a short text naming the strategy", field="name")
        code, check = checked_code(_code_from(body))
        created = self.store.create_strategy(
            name.strip(),
            code,
            kind=check["kind"],
            description=str(body.get("description") or ""),
            parameters=check["parameters"],
        )
        self.send(created, status=201)


class StrategyHandler(ApiHandler):
    def get(self, strategy_id):
        self.send(self.store.get_strategy(int(strategy_id)))

    def put(self, strategy_id):
        body = self.get_json_body()
        fields = {}
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise ConfigError("name must be a non-empty text", field="name")
            fields["name"] = body["name"].strip()
        if "description" in body:
            fields["description"] = str(body["description"] or "")
        if "strategy_code" in body or "code" in body:
            code, check = checked_code(_code_from(body))
            fields.update(code=code, kind=check["kind"], parameters=check["parameters"])
        self.send(self.store.update_strategy(int(strategy_id), **fields))

    patch = put

    def delete(self, strategy_id):
        self.store.delete_strategy(int(strategy_id))
        self.send(None, status=204)


def validation(code: str | dict) -> dict:
    """The answer of both validate endpoints (a request's code, or a saved strategy's):
    ``{"valid", "kind", "errors": [{"line", "column", "message"}], "parameters"}``."""
    return validate_strategy_code(code)


def checked_code(code: str | dict) -> tuple[str, dict]:
    """Code fit to save, as text, and its validation; ``ConfigError`` when it is not valid."""
    check = validation(code)
    if not check["valid"]:
        raise ConfigError(
            f"the strategy code is not valid: {check['errors'][0]['message']}",
            field="strategy_code",
        )
    return (code if isinstance(code, str) else _json_text(code)), check


class ValidateHandler(ApiHandler):
    def post(self):
        """Check code without saving it (see ``validation``)."""
        self.send(validation(_code_from(self.get_json_body())))


class ValidateSavedHandler(ApiHandler):
    def post(self, strategy_id):
        """Check a saved strategy's code (see ``validation``)."""
        self.send(validation(self.store.get_strategy(int(strategy_id))["code"]))


class StrategyBacktestHandler(ApiHandler):
    async def post(self, strategy_id):
        """Quick backtest of a saved strategy; the body is the rest of the config."""
        body = self.get_json_body()
        body["strategy_id"] = int(strategy_id)
        self.send(await self.jobs.quick_run(body))


class SchemaHandler(ApiHandler):
    def get(self):
        self.send(SCHEMA)


SERIES = ("trades", "equity_curve", "daily_stats")


class LatestListHandler(ApiHandler):
    def get(self):
        """Rows without their series (a row of 1h bars is ~1.5 MB with them);
        ``?expand=trades,equity_curve,daily_stats`` adds the ones named."""
        page, size = self.page_args()
        expand = [n.strip() for n in (self.str_arg("expand") or "").split(",") if n.strip()]
        for name in expand:
            if name not in SERIES:
                raise ConfigError(
                    f"expand={name!r}: give any of {', '.join(SERIES)}, comma-separated",
                    field="expand",
                )
        listed = self.store.latest_results(page=page, page_size=size, series=bool(expand))
        for row in listed["results"]:
            for name in SERIES:
                if name not in expand:
                    row.pop(name, None)
        self.send(listed)


class LatestByStrategyHandler(ApiHandler):
    def get(self, strategy_id):
        self.send(self.store.latest_by_strategy(int(strategy_id)))


def _json_text(spec: dict) -> str:
    import json

    return json.dumps(spec, indent=2)


P = "/api/strategies"
default_handlers = [
    (rf"{P}/strategies/", StrategiesHandler),
    (rf"{P}/strategies/{ID}/", StrategyHandler),
    (rf"{P}/strategies/{ID}/validate/", ValidateSavedHandler),
    (rf"{P}/strategies/{ID}/backtest/", StrategyBacktestHandler),
    (rf"{P}/validate/", ValidateHandler),
    (rf"{P}/schema/", SchemaHandler),
    (rf"{P}/latest-backtest/", LatestListHandler),
    (rf"{P}/latest-backtest/{ID}/get_by_strategy/", LatestByStrategyHandler),
]
