"""``/api/backtests/…``: runs (quick and queued), their status, configs, results, trades."""

from __future__ import annotations

from algobt.errors import ConfigError
from algobt.server.handlers.base import ApiError, ApiHandler
from algobt.server.jobs import status_view
from algobt.store.runs import ACTIVE, STATUSES

ID = r"(\d{1,18})"
ALERT_MODES = ("summary", "full")


def _alerts_arg(handler) -> str:
    """``?alerts=summary`` (default: one entry per alert code, with its count) or
    ``?alerts=full`` (every alert; see docs/records.md)."""
    mode = handler.get_query_argument("alerts", "summary")
    if mode not in ALERT_MODES:
        raise ConfigError("alerts must be summary or full", field="alerts")
    return mode


class QuickRunHandler(ApiHandler):
    async def post(self):
        """Run now and answer with the ``BacktestResult`` (saved, latest result replaced)."""
        result = await self.jobs.quick_run(self.get_json_body(), alerts=_alerts_arg(self))
        self.send(result)


class RunBacktestHandler(ApiHandler):
    def post(self):
        """Queue a full run: ``202 {"id", "status": "queued", …}``."""
        run = self.jobs.submit(self.get_json_body())
        self.send(status_view(run), status=202)


class StatusHandler(ApiHandler):
    def get(self, run_id):
        self.send(status_view(self.store.get_run(int(run_id))))


class MonitorHandler(ApiHandler):
    def get(self, run_id):
        self.send(self.jobs.monitor(int(run_id)))


class CancelHandler(ApiHandler):
    def post(self, run_id):
        run = self.jobs.cancel(int(run_id))
        self.send(status_view(run), status=202 if run["status"] in ACTIVE else 200)


class ConfigsHandler(ApiHandler):
    def get(self):
        page, size = self.page_args()
        self.send(self.store.list_configs(page=page, page_size=size))

    def post(self):
        self.send(self.store.create_config(self.get_json_body()), status=201)


class ConfigHandler(ApiHandler):
    def get(self, config_id):
        self.send(self.store.get_config(int(config_id)))

    def put(self, config_id):
        self.send(self.store.update_config(int(config_id), self.get_json_body()))

    patch = put

    def delete(self, config_id):
        self.store.delete_config(int(config_id))
        self.send(None, status=204)


class TemplatesHandler(ApiHandler):
    def get(self):
        self.send(self.store.config_templates())


class ResultsHandler(ApiHandler):
    def get(self):
        page, size = self.page_args()
        self.send(
            self.store.list_results(
                page=page,
                page_size=size,
                run_id=self.id_arg("run", "run_id"),
                strategy_id=self.id_arg("strategy", "strategy_id"),
                symbol=self.str_arg("symbol"),
            )
        )


class ResultHandler(ApiHandler):
    def get(self, result_id):
        self.send(self.store.get_result(int(result_id)))


class TradesHandler(ApiHandler):
    def get(self):
        page, size = self.page_args()
        action = self.str_arg("action")
        if action is not None and action not in ("buy", "sell", "short", "cover"):
            raise ConfigError("action must be one of buy, sell, short, cover", field="action")
        self.send(
            self.store.list_trades(
                run_id=self.id_arg("run", "backtest_run"),
                symbol=self.str_arg("symbol"),
                action=action,
                start=self.str_arg("start_date") or self.str_arg("start"),
                end=self.str_arg("end_date") or self.str_arg("end"),
                page=page,
                page_size=size,
                result_id=self.id_arg("result"),
                strategy_id=self.id_arg("strategy"),
            )
        )


class RunsHandler(ApiHandler):
    def get(self):
        page, size = self.page_args()
        status = self.str_arg("status")
        if status is not None and status not in STATUSES:
            raise ConfigError(f"status must be one of {', '.join(STATUSES)}", field="status")
        self.send(
            self.store.list_runs(
                page=page,
                page_size=size,
                status=status,
                strategy_id=self.id_arg("strategy", "strategy_id"),
                symbol=self.str_arg("symbol"),
            )
        )


class RunHandler(ApiHandler):
    def get(self, run_id):
        self.send(self.store.get_run(int(run_id)))


class RunResultsHandler(ApiHandler):
    def get(self, run_id):
        self.send(self.store.run_results(int(run_id)))


class CompareRunsHandler(ApiHandler):
    def get(self):
        raw = self.get_query_argument("ids", "")
        try:
            ids = [int(x) for x in raw.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(
                "ids must be run ids separated by commas, e.g. ids=3,7", field="ids"
            ) from None
        if not 1 <= len(ids) <= 20:
            raise ApiError(400, "config_error", "give 1 to 20 run ids, e.g. ids=3,7", field="ids")
        self.send(self.store.compare_runs(ids))


class DiffRunsHandler(ApiHandler):
    """Two runs difference by difference: settings, metrics, trades, equity (docs/api.md)."""

    def get(self):
        ids = []
        for name in ("a", "b"):
            raw = self.get_query_argument(name, "")
            if not raw.strip().isdigit():
                raise ConfigError(
                    f"{name} must be a run id, e.g. /api/backtests/runs/diff/?a=3&b=7", field=name
                )
            ids.append(int(raw))
        self.send(self.store.diff_runs(*ids))


P = "/api/backtests"
default_handlers = [
    (rf"{P}/api/quick_run/", QuickRunHandler),
    (rf"{P}/api/run_backtest/", RunBacktestHandler),
    (rf"{P}/api/status/{ID}/", StatusHandler),
    (rf"{P}/api/monitor/{ID}/", MonitorHandler),
    (rf"{P}/api/cancel/{ID}/", CancelHandler),
    (rf"{P}/configs/", ConfigsHandler),
    (rf"{P}/configs/templates/", TemplatesHandler),
    (rf"{P}/configs/{ID}/", ConfigHandler),
    (rf"{P}/results/", ResultsHandler),
    (rf"{P}/results/{ID}/", ResultHandler),
    (rf"{P}/trades/", TradesHandler),
    (rf"{P}/runs/", RunsHandler),
    (rf"{P}/runs/compare/", CompareRunsHandler),
    (rf"{P}/runs/diff/", DiffRunsHandler),
    (rf"{P}/runs/{ID}/", RunHandler),
    (rf"{P}/runs/{ID}/results/", RunResultsHandler),
]
