"""Backtest runs: one row per execution, with its status, progress and timing.

Status moves one way: ``queued → running → completed | failed | cancelled``
(``queued`` may also end directly). ``completed`` is reached only by saving
the run's result (``save_result``/``record_run``), in the same transaction,
so a completed run always has its result and all its trades.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from algobt.errors import ConfigError, ConflictError, NotFoundError
from algobt.store import codec

# The one list of run statuses: the server's filters, its OpenAPI enums and the job runner
# all read these (the schema's CHECK constraint spells the same five; a test compares).
STATUSES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")  # not finished yet: a run in these may still change
FINISHED = ("completed", "failed", "cancelled")
SOURCES_MAX = 32

_RUN_SELECT = (
    "SELECT r.*, (SELECT x.id FROM backtest_results x WHERE x.run_id = r.id"
    " ORDER BY x.id LIMIT 1) AS result_id FROM backtest_runs r"
)


def run_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "strategy_id": row["strategy_id"],
        "strategy_name": row["strategy_name"],
        "config_id": row["config_id"],
        "symbol": row["symbol"],
        "symbols": codec.from_json(row["symbols"], []),
        "interval": row["interval"],
        "timeframe": row["interval"],
        "period": row["period"],
        "start_date": row["start_date"],
        "end_date": row["end_date"],
        "status": row["status"],
        "progress": row["progress"],
        "error": row["error"],
        "source": row["source"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "data_start": row["data_start"],
        "data_end": row["data_end"],
        "result_id": row["result_id"],
        "config": codec.from_json(row["config"], {}),
        "provenance": codec.from_json(row["provenance"], {}),
    }


def run_fields(config: Any) -> dict:
    """The columns of a run taken from its config (either spelling of each field)."""
    if not isinstance(config, dict):
        raise ConfigError(
            f"config must be a JSON object, got {type(config).__name__}", field="config"
        )
    nested = config.get("config")
    merged = {**nested, **config} if isinstance(nested, dict) else dict(config)
    symbols = merged.get("symbols")
    if isinstance(symbols, str):
        symbols = [s.strip() for s in symbols.split(",") if s.strip()]
    if not symbols:
        symbol = merged.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise ConfigError("the config needs a symbol (or symbols)", field="symbol")
        symbols = [s.strip() for s in symbol.split(",") if s.strip()]
    if not isinstance(symbols, list | tuple) or not all(isinstance(s, str) for s in symbols):
        raise ConfigError("symbols must be a list of symbol names", field="symbols")
    interval = merged.get("interval") or merged.get("timeframe") or "1d"

    def optional_text(key: str, value: Any) -> str | None:
        return codec.text(value, key, max_len=64) if value not in (None, "") else None

    return {
        "symbol": ",".join(symbols),
        "symbols": codec.to_json(list(symbols), "symbols"),
        "interval": optional_text("interval", interval),
        "period": optional_text("period", merged.get("period")),
        "start_date": optional_text("start_date", merged.get("start_date")),
        "end_date": optional_text("end_date", merged.get("end_date")),
        "config": codec.to_json(config, "config"),
    }


class RunsMixin:
    """Create, advance and query ``backtest_runs``."""

    def create_run(
        self,
        config: dict,
        *,
        strategy_id: int | None = None,
        status: str = "queued",
        source: str = "server",
        name: str | None = None,
        config_id: int | None = None,
    ) -> dict:
        """Record a run about to execute (``queued`` or already ``running``).

        strategy_id: defaults to ``config["strategy_id"]``; must exist.
        source: who ran it, e.g. ``"server"`` or ``"notebook"``.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> store.create_run({"symbol": "DEMO", "period": "1y"})["status"]
        'queued'
        """
        fields = run_fields(config)
        with self._db.write() as conn:
            run_id = self._insert_run(
                conn, config, fields, strategy_id, status, source, name, config_id
            )
            return self._run(conn, run_id)

    def _insert_run(self, conn, config, fields, strategy_id, status, source, name, config_id):
        if status not in ACTIVE:
            raise ConfigError(
                f"a new run is 'queued' or 'running', not {status!r}; a completed run is "
                "recorded with record_run",
                field="status",
            )
        source = codec.text(source, "source", optional=False, max_len=SOURCES_MAX)
        name = codec.text(name, "name", max_len=200)
        if strategy_id is None:
            strategy_id = config.get("strategy_id")
        strategy_name = config.get("strategy_name")
        if strategy_id is not None:
            strategy_id = codec.record_id(strategy_id, "strategy")
            row = conn.execute("SELECT name FROM strategies WHERE id = ?", (strategy_id,))
            row = row.fetchone()
            if row is None:
                raise NotFoundError(f"no strategy with id {strategy_id}", field="strategy_id")
            strategy_name = row["name"]
        if config_id is not None:
            config_id = codec.record_id(config_id, "config")
            found = conn.execute("SELECT 1 FROM backtest_configs WHERE id = ?", (config_id,))
            if found.fetchone() is None:
                raise NotFoundError(f"no backtest config with id {config_id}", field="config_id")
        now = codec.now_iso()
        values = {
            **fields,
            "strategy_id": strategy_id,
            "strategy_name": strategy_name if isinstance(strategy_name, str) else None,
            "config_id": config_id,
            "name": name,
            "status": status,
            "source": source,
            "created_at": now,
            "started_at": now if status == "running" else None,
        }
        cursor = conn.execute(
            f"INSERT INTO backtest_runs ({', '.join(values)})"
            f" VALUES ({', '.join('?' for _ in values)})",
            list(values.values()),
        )
        return cursor.lastrowid

    @staticmethod
    def _run(conn, run_id: int) -> dict:
        row = conn.execute(f"{_RUN_SELECT} WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no backtest run with id {run_id}", field="run_id")
        return run_dict(row)

    def get_run(self, run_id: int) -> dict:
        """One run: config, status, progress, error, timing, data range, ``result_id``."""
        run_id = codec.record_id(run_id, "run")
        with self._db.read() as conn:
            return self._run(conn, run_id)

    def update_run(
        self,
        run_id: int,
        *,
        status: str | None = None,
        progress: float | None = None,
        error: str | None = None,
    ) -> dict:
        """Advance a run: ``running`` sets ``started_at``; ``failed``/``cancelled`` set
        ``finished_at``. A finished run cannot change (``ConflictError``), and
        ``completed`` comes only with the result, from ``save_result``.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> run = store.create_run({"symbol": "DEMO", "period": "1y"})
        >>> store.update_run(run["id"], status="running", progress=10)["started_at"] is None
        False
        """
        run_id = codec.record_id(run_id, "run")
        if status is not None and status not in STATUSES:
            raise ConfigError(f"status must be one of {', '.join(STATUSES)}", field="status")
        if status == "completed":
            raise ConfigError(
                "a run becomes 'completed' only with its result: call save_result(run_id, "
                "result), which stores both in one transaction",
                field="status",
            )
        if progress is not None:
            progress = codec.real(progress, "progress")
            if not 0 <= progress <= 100:
                raise ConfigError(f"progress={progress} must be within 0..100", field="progress")
        error = codec.text(error, "error", max_len=100_000)
        with self._db.write() as conn:
            run = self._run(conn, run_id)
            current = run["status"]
            if current in FINISHED:
                raise ConflictError(
                    f"run {run_id} is already {current}; a finished run cannot change"
                    + (f" to {status}" if status else ""),
                    field="status",
                )
            if status == "queued" and current == "running":
                raise ConflictError(
                    f"run {run_id} is running; it cannot go back to queued", field="status"
                )
            now = codec.now_iso()
            changes: dict[str, Any] = {}
            if status is not None and status != current:
                changes["status"] = status
                if status == "running" and run["started_at"] is None:
                    changes["started_at"] = now
                if status in FINISHED:
                    changes["finished_at"] = now
            if progress is not None:
                changes["progress"] = progress
            if error is not None:
                changes["error"] = error
            if changes:
                conn.execute(
                    f"UPDATE backtest_runs SET {', '.join(f'{k} = ?' for k in changes)}"
                    " WHERE id = ?",
                    [*changes.values(), run_id],
                )
            return self._run(conn, run_id)

    def list_runs(
        self,
        page=1,
        page_size=50,
        *,
        status: str | None = None,
        strategy_id: int | None = None,
        symbol: str | None = None,
        source: str | None = None,
    ) -> dict:
        """A page of runs, newest first; filters combine. ``symbol`` also finds
        multi-symbol runs that include it."""
        page, page_size = codec.page_args(page, page_size)
        where, args = [], []
        if status is not None:
            if status not in STATUSES:
                raise ConfigError(f"status must be one of {', '.join(STATUSES)}", field="status")
            where.append("r.status = ?")
            args.append(status)
        if strategy_id is not None:
            where.append("r.strategy_id = ?")
            args.append(codec.record_id(strategy_id, "strategy"))
        if symbol:
            symbol = codec.text(symbol, "symbol", max_len=64)
            where.append(
                "(r.symbol = ? OR EXISTS (SELECT 1 FROM json_each(r.symbols) j WHERE j.value = ?))"
            )
            args += [symbol, symbol]
        if source:
            where.append("r.source = ?")
            args.append(codec.text(source, "source", max_len=SOURCES_MAX))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._db.read() as conn:
            count = conn.execute(f"SELECT count(*) FROM backtest_runs r{clause}", args)
            count = count.fetchone()[0]
            rows = conn.execute(
                f"{_RUN_SELECT}{clause} ORDER BY r.id DESC LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return codec.paginated(count, page, page_size, [run_dict(r) for r in rows])

    def unfinished_runs(self, *, source: str | None = None) -> list[dict]:
        """Every run still ``queued`` or ``running`` (of ``source``, when given), oldest
        first: what a restarted server must settle, since nothing else will move them."""
        where, args = f"r.status IN ({', '.join('?' for _ in ACTIVE)})", list(ACTIVE)
        if source is not None:
            where += " AND r.source = ?"
            args.append(codec.text(source, "source", max_len=SOURCES_MAX))
        with self._db.read() as conn:
            rows = conn.execute(f"{_RUN_SELECT} WHERE {where} ORDER BY r.id", args).fetchall()
        return [run_dict(r) for r in rows]

    def delete_run(self, run_id: int) -> None:
        """Delete a run with its results, trades and alerts (a latest-per-strategy row
        made from it stays, as the strategy's last known result)."""
        run_id = codec.record_id(run_id, "run")
        with self._db.write() as conn:
            gone = conn.execute("DELETE FROM backtest_runs WHERE id = ?", (run_id,)).rowcount
        if not gone:
            raise NotFoundError(f"no backtest run with id {run_id}", field="run_id")
