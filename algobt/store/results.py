"""Saving a finished run in one transaction, and reading results, trades and alerts.

``save_result`` writes the result row, one row per trade, the alerts, marks the
run completed with the data range it simulated and, when the run belongs to a
strategy, replaces that strategy's row in ``latest_backtest_results`` — all in
one ``BEGIN IMMEDIATE`` transaction. A killed process leaves all of it or none.
"""

from __future__ import annotations

from algobt.errors import ConfigError, ConflictError, NotFoundError
from algobt.store import codec
from algobt.store.runs import FINISHED, run_fields
from algobt.store.shapes import (
    ACTIONS,
    COMPARE_METRICS,
    HIGHER_IS_BETTER,
    LATEST_REAL,
    LATEST_SELECT,
    LIGHT_COLUMNS,
    LOWER_IS_BETTER,
    RESULT_INT,
    TRADE_REAL,
    TRADE_TEXT,
    Prepared,
    alert_dict,
    latest_dict,
    prepare_result,
    result_dict,
    trade_dict,
)


class ResultsMixin:
    """Saving runs' results; results, trades, alerts, latest-per-strategy, comparisons."""

    def save_result(self, run_id: int, result: dict, *, alerts: list | None = None) -> dict:
        """Store a run's result and complete the run, in one transaction.

        result: a ``BacktestResult`` dict (``run_config(...).to_dict()``).
        alerts: defaults to ``result["alerts"]``.
        Returns the stored result (as ``get_result``). A missing run raises
        ``NotFoundError``; a run already finished raises ``ConflictError``.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> spec = {"name": "EMA cross", "version": 1,
        ...         "indicators": {"fast": {"type": "EMA", "period": 9},
        ...                        "slow": {"type": "EMA", "period": 21}},
        ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
        ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
        >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
        >>> from algobt.engine.run import run_config
        >>> run = store.create_run(config)
        >>> outcome = run_config(config).to_dict()
        >>> saved = store.save_result(run["id"], outcome)
        >>> saved["total_trades"] == outcome["total_trades"]
        True
        >>> store.get_run(run["id"])["status"]
        'completed'
        """
        run_id = codec.record_id(run_id, "run")
        prepared = prepare_result(result, alerts)
        with self._db.write() as conn:
            result_id = self._save_prepared(conn, run_id, prepared)
            return self._result(conn, result_id)

    def record_run(
        self,
        config: dict,
        result: dict,
        *,
        strategy_id: int | None = None,
        strategy_name: str | None = None,
        strategy_code: str | dict | None = None,
        alerts: list | None = None,
        source: str = "notebook",
        name: str | None = None,
    ) -> dict:
        """Create a completed run with its result in one transaction (the notebook path).

        strategy_name: when no ``strategy_id`` is given, the strategy of that name,
        created with ``strategy_code`` on first use. Returns the run.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> spec = {"name": "EMA cross", "version": 1,
        ...         "indicators": {"fast": {"type": "EMA", "period": 9},
        ...                        "slow": {"type": "EMA", "period": 21}},
        ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
        ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
        >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
        >>> from algobt.engine.run import run_config
        >>> outcome = run_config(config)
        >>> store.record_run(config, outcome.to_dict(), strategy_name="EMA")["status"]
        'completed'
        """
        fields = run_fields(config)
        prepared = prepare_result(result, alerts)
        with self._db.write() as conn:
            if strategy_id is None and strategy_name is not None:
                strategy_id = self._ensure_strategy(conn, strategy_name, strategy_code)
            run_id = self._insert_run(
                conn, config, fields, strategy_id, "running", source, name, None
            )
            self._save_prepared(conn, run_id, prepared)
            return self._run(conn, run_id)

    def _save_prepared(self, conn, run_id: int, prepared: Prepared) -> int:
        run = conn.execute("SELECT * FROM backtest_runs WHERE id = ?", (run_id,)).fetchone()
        if run is None:
            raise NotFoundError(
                f"no backtest run with id {run_id}; create the run (create_run) before "
                "saving its result, or use record_run",
                field="run_id",
            )
        if run["status"] in FINISHED:
            raise ConflictError(
                f"run {run_id} is already {run['status']}; its result cannot be saved again",
                field="run_id",
            )
        now = codec.now_iso()
        columns = dict(prepared.columns)
        for column, fallback in (
            ("symbol", run["symbol"]),
            ("timeframe", run["interval"]),
            ("period", run["period"]),
            ("strategy_name", run["strategy_name"]),
        ):
            if columns.get(column) is None:
                columns[column] = fallback
        columns.update(run_id=run_id, strategy_id=run["strategy_id"], created_at=now)
        cursor = conn.execute(
            f"INSERT INTO backtest_results ({', '.join(columns)})"
            f" VALUES ({', '.join('?' for _ in columns)})",
            list(columns.values()),
        )
        result_id = cursor.lastrowid
        names = ("symbol", "action", *TRADE_TEXT, *TRADE_REAL, "extra")
        conn.executemany(
            f"INSERT INTO trades (run_id, result_id, {', '.join(names)})"
            f" VALUES (?, ?, {', '.join('?' for _ in names)})",
            [(run_id, result_id, *(t[n] for n in names)) for t in prepared.trades],
        )
        conn.executemany(
            "INSERT INTO backtest_alerts (run_id, level, code, message, symbol, bar, bar_time,"
            " count, last_bar, last_time, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, a["level"], a["code"], a["message"], a["symbol"], a["bar"],
                 a["bar_time"], a["count"], a["last_bar"], a["last_time"], now)
                for a in prepared.alerts
            ],
        )  # fmt: skip
        conn.execute(
            "UPDATE backtest_runs SET status = 'completed', progress = 100, finished_at = ?,"
            " started_at = coalesce(started_at, ?), data_start = ?, data_end = ?,"
            " provenance = ? WHERE id = ?",
            (
                now,
                now,
                columns.get("start_date"),
                columns.get("end_date"),
                prepared.provenance,
                run_id,
            ),  # fmt: skip
        )
        if run["strategy_id"] is not None:
            self._replace_latest(conn, run["strategy_id"], run_id, result_id, columns, prepared)
        return result_id

    @staticmethod
    def _replace_latest(conn, strategy_id, run_id, result_id, columns, prepared) -> None:
        now = columns["created_at"]
        values = {
            "strategy_id": strategy_id,
            "run_id": run_id,
            "result_id": result_id,
            "symbol": columns["symbol"],
            "timeframe": columns.get("timeframe") or "1d",
            "period": columns.get("period") or "",
            **{latest: columns.get(column) for latest, column in LATEST_REAL},
            **{column: columns[column] for column in RESULT_INT},
            "trades": prepared.trades_json,
            "equity_curve": columns.get("equity_curve", "[]"),
            "summary": columns.get("summary", "{}"),
            "daily_stats": columns.get("daily_stats", "[]"),
            "symbol_stats": columns.get("symbol_stats", "[]"),
            "created_at": now,
            "updated_at": now,
        }
        replaced = [k for k in values if k not in ("strategy_id", "created_at")]
        # One row per strategy: the first save inserts it, later ones overwrite it in
        # place (created_at stays, updated_at moves on).
        conn.execute(
            f"INSERT INTO latest_backtest_results ({', '.join(values)})"
            f" VALUES ({', '.join('?' for _ in values)})"
            " ON CONFLICT (strategy_id) DO UPDATE SET "
            + ", ".join(f"{k} = excluded.{k}" for k in replaced),
            list(values.values()),
        )

    # --- reading ---------------------------------------------------------------------
    @staticmethod
    def _result(conn, result_id: int) -> dict:
        row = conn.execute("SELECT * FROM backtest_results WHERE id = ?", (result_id,))
        row = row.fetchone()
        if row is None:
            raise NotFoundError(f"no backtest result with id {result_id}", field="id")
        trades = conn.execute(
            "SELECT * FROM trades WHERE result_id = ? ORDER BY id", (result_id,)
        ).fetchall()
        alerts = conn.execute(
            "SELECT * FROM backtest_alerts WHERE run_id = ? ORDER BY id", (row["run_id"],)
        ).fetchall()
        out = result_dict(
            row, trades=[trade_dict(t) for t in trades], alerts=[alert_dict(a) for a in alerts]
        )
        # The run's inputs come back with its result, as they were given (docs/store.md).
        origin = conn.execute(
            "SELECT provenance FROM backtest_runs WHERE id = ?", (row["run_id"],)
        ).fetchone()
        origin = codec.from_json(origin["provenance"], {}) if origin else {}
        if origin:
            out["provenance"] = origin
        return out

    def get_result(self, result_id: int) -> dict:
        """One result with everything: metrics, ``trades``, ``daily_stats``,
        ``symbol_stats``, ``equity_curve``, ``summary``, ``alerts``."""
        result_id = codec.record_id(result_id, "result")
        with self._db.read() as conn:
            return self._result(conn, result_id)

    def list_results(
        self, page=1, page_size=50, *, run_id=None, strategy_id=None, symbol=None
    ) -> dict:
        """A page of results, newest first: metrics, ``summary`` and ``symbol_stats``
        (the series and trades come with ``get_result``). ``symbol`` also finds
        multi-symbol results that include it."""
        page, page_size = codec.page_args(page, page_size)
        where, args = [], []
        if run_id is not None:
            where.append("run_id = ?")
            args.append(codec.record_id(run_id, "run"))
        if strategy_id is not None:
            where.append("strategy_id = ?")
            args.append(codec.record_id(strategy_id, "strategy"))
        if symbol:  # also finds multi-symbol results ("DEMO,DEMO-FX") that include it
            where.append("instr(',' || symbol || ',', ',' || ? || ',') > 0")
            args.append(codec.text(symbol, "symbol", max_len=64))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._db.read() as conn:
            count = conn.execute(f"SELECT count(*) FROM backtest_results{clause}", args)
            count = count.fetchone()[0]
            rows = conn.execute(
                f"SELECT {LIGHT_COLUMNS} FROM backtest_results{clause}"
                " ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return codec.paginated(count, page, page_size, [result_dict(r) for r in rows])

    def run_results(self, run_id: int) -> list[dict]:
        """The results of one run, complete (as ``get_result``); ``[]`` until it completes."""
        run_id = codec.record_id(run_id, "run")
        with self._db.read() as conn:
            self._run(conn, run_id)
            ids = conn.execute(
                "SELECT id FROM backtest_results WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
            return [self._result(conn, row["id"]) for row in ids]

    def list_trades(
        self,
        run_id=None,
        symbol=None,
        action=None,
        start=None,
        end=None,
        page=1,
        page_size=100,
        *,
        result_id=None,
        strategy_id=None,
    ) -> dict:
        """A page of trades in exit-time order. Filters combine; ``start``/``end`` bound
        the exit time, inclusive (``yyyy-MM-dd`` covers the whole day, or an ISO time).
        An id that matches nothing gives an empty page.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> spec = {"name": "EMA cross", "version": 1,
        ...         "indicators": {"fast": {"type": "EMA", "period": 9},
        ...                        "slow": {"type": "EMA", "period": 21}},
        ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
        ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
        >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
        >>> from algobt.engine.run import run_config
        >>> outcome = run_config(config).to_dict()
        >>> run = store.record_run(config, outcome, strategy_name="EMA")
        >>> store.list_trades(run_id=run["id"])["count"] == outcome["total_trades"]
        True
        >>> store.list_trades(run_id=run["id"], start="1990-01-01", end="1990-12-31")["count"]
        0
        """
        page, page_size = codec.page_args(page, page_size)
        where, args = [], []
        if run_id is not None:
            where.append("t.run_id = ?")
            args.append(codec.record_id(run_id, "run"))
        if result_id is not None:
            where.append("t.result_id = ?")
            args.append(codec.record_id(result_id, "result"))
        if strategy_id is not None:
            where.append("t.run_id IN (SELECT id FROM backtest_runs WHERE strategy_id = ?)")
            args.append(codec.record_id(strategy_id, "strategy"))
        if symbol:
            where.append("t.symbol = ?")
            args.append(codec.text(symbol, "symbol", max_len=64))
        if action is not None:
            if action not in ACTIONS:
                raise ConfigError(f"action must be one of {', '.join(ACTIONS)}", field="action")
            where.append("t.action = ?")
            args.append(action)
        for value, name, is_end in ((start, "start", False), (end, "end", True)):
            bound = codec.time_bound(value, name, end=is_end)
            if bound is not None:
                where.append(f"t.exit_time {bound[0]} ?")
                args.append(bound[1])
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._db.read() as conn:
            count = conn.execute(f"SELECT count(*) FROM trades t{clause}", args).fetchone()[0]
            rows = conn.execute(
                f"SELECT t.* FROM trades t{clause} ORDER BY t.exit_time, t.id LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return codec.paginated(count, page, page_size, [trade_dict(r) for r in rows])

    def list_alerts(self, run_id: int) -> list[dict]:
        """A run's alerts (e.g. ``out_of_money``), in the order they were raised."""
        run_id = codec.record_id(run_id, "run")
        with self._db.read() as conn:
            self._run(conn, run_id)
            rows = conn.execute(
                "SELECT * FROM backtest_alerts WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [alert_dict(r) for r in rows]

    def latest_results(self, page=1, page_size=50, *, series: bool = True) -> dict:
        """A page of ``LatestBacktestResult`` rows, most recently updated first.

        series: include ``trades``, ``equity_curve`` and ``daily_stats``.
        """
        page, page_size = codec.page_args(page, page_size)
        with self._db.read() as conn:
            count = conn.execute("SELECT count(*) FROM latest_backtest_results").fetchone()[0]
            rows = conn.execute(
                f"{LATEST_SELECT} ORDER BY l.updated_at DESC, l.strategy_id LIMIT ? OFFSET ?",
                (page_size, (page - 1) * page_size),
            ).fetchall()
        return codec.paginated(
            count, page, page_size, [latest_dict(r, series=series) for r in rows]
        )

    def latest_by_strategy(self, strategy_id: int) -> dict:
        """The strategy's ``LatestBacktestResult`` (``strategy_name`` included).

        ``NotFoundError`` for an unknown strategy, or one never backtested.
        """
        strategy_id = codec.record_id(strategy_id, "strategy")
        with self._db.read() as conn:
            row = conn.execute(f"{LATEST_SELECT} WHERE l.strategy_id = ?", (strategy_id,))
            row = row.fetchone()
            if row is None:
                self._strategy(conn, strategy_id)  # raises for an unknown strategy
                raise NotFoundError(
                    f"strategy {strategy_id} has no saved backtest yet", field="strategy_id"
                )
        return latest_dict(row)

    def compare_runs(self, run_ids, *, equity: bool = False) -> dict:
        """Runs side by side: each run's settings and metrics, and which run is best on
        each metric.

        Returns ``{"metrics": [...], "runs": [{"run_id", "strategy_name", "symbol",
        "timeframe", "period", "params", <metric>: value, ...}], "best": {metric: run_id}}``;
        ``equity=True`` adds each run's ``equity_curve``. Runs without a result have
        null metrics.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> spec = {"name": "EMA cross", "version": 1,
        ...         "indicators": {"fast": {"type": "EMA", "period": 9},
        ...                        "slow": {"type": "EMA", "period": 21}},
        ...         "entry": {"long": {"crosses_above": ["fast", "slow"]}},
        ...         "exit": {"long": {"crosses_below": ["fast", "slow"]}}}
        >>> config = {"symbol": "DEMO", "period": "1y", "strategy_code": spec}
        >>> from algobt.engine.run import run_config
        >>> one = store.record_run(config, run_config(config).to_dict(), strategy_name="EMA")
        >>> slow = {**config, "strategy_code": {**spec, "indicators": {
        ...     "fast": {"type": "EMA", "period": 20}, "slow": {"type": "EMA", "period": 50}}}}
        >>> two = store.record_run(slow, run_config(slow).to_dict(), strategy_name="EMA")
        >>> table = store.compare_runs([one["id"], two["id"]])
        >>> [row["run_id"] for row in table["runs"]] == [one["id"], two["id"]]
        True
        >>> table["best"]["total_return"] in (one["id"], two["id"])
        True
        """
        if not isinstance(run_ids, list | tuple) or not run_ids:
            raise ConfigError("run_ids must be a non-empty list of run ids", field="run_ids")
        if len(run_ids) > 50:
            raise ConfigError("compare at most 50 runs at once", field="run_ids")
        ids = [codec.record_id(r, "run") for r in run_ids]
        if len(set(ids)) != len(ids):
            raise ConfigError("run_ids lists a run twice", field="run_ids")
        metric_columns = ", ".join(f"x.{m}" for m in COMPARE_METRICS)
        curve = ", x.equity_curve" if equity else ""
        with self._db.read() as conn:
            rows = {}
            for run_id in ids:
                row = conn.execute(
                    f"SELECT r.*, x.id AS result_id, {metric_columns}{curve}"
                    " FROM backtest_runs r LEFT JOIN backtest_results x ON x.id ="
                    " (SELECT id FROM backtest_results WHERE run_id = r.id ORDER BY id LIMIT 1)"
                    " WHERE r.id = ?",
                    (run_id,),
                ).fetchone()
                if row is not None:
                    rows[run_id] = row
        missing = [r for r in ids if r not in rows]
        if missing:
            raise NotFoundError(
                f"no backtest run with id {', '.join(map(str, missing))}", field="run_ids"
            )
        runs = []
        for run_id in ids:
            row = rows[run_id]
            config = codec.from_json(row["config"], {})
            entry = {
                "run_id": run_id,
                "result_id": row["result_id"],
                "name": row["name"],
                "strategy_id": row["strategy_id"],
                "strategy_name": row["strategy_name"],
                "symbol": row["symbol"],
                "timeframe": row["interval"],
                "period": row["period"],
                "data_start": row["data_start"],
                "data_end": row["data_end"],
                "status": row["status"],
                "source": row["source"],
                "created_at": row["created_at"],
                "params": config.get("params") or config.get("parameters") or {},
                **{m: row[m] for m in COMPARE_METRICS},
            }
            if equity:
                entry["equity_curve"] = codec.from_json(row["equity_curve"], [])
            runs.append(entry)
        best = {}
        for metric in HIGHER_IS_BETTER + LOWER_IS_BETTER:
            scored = [(r[metric], r["run_id"]) for r in runs if r[metric] is not None]
            if scored:
                pick = max if metric in HIGHER_IS_BETTER else min
                best[metric] = pick(scored, key=lambda pair: pair[0])[1]
        return {"metrics": list(COMPARE_METRICS), "runs": runs, "best": best}
