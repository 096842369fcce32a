"""Saved backtest configurations (the API's ``BacktestConfig``) and templates."""

from __future__ import annotations

import sqlite3
from typing import Any

from algobt.errors import ConfigError, ConflictError, NotFoundError
from algobt.store import codec

# Keys that describe the saved record rather than the run.
_RECORD_KEYS = ("id", "name", "is_template", "is_builtin", "created_at", "updated_at")


def config_dict(row: sqlite3.Row) -> dict:
    """The stored config as a ``BacktestConfig``, plus the record's fields."""
    body = codec.from_json(row["config"], {})
    return {
        "id": row["id"],
        "name": row["name"],
        **body,
        "strategy_id": row["strategy_id"],
        "is_template": bool(row["is_template"]),
        "is_builtin": bool(row["is_builtin"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _prepare(config: Any) -> dict:
    """Check a config with ``RunConfig`` (bad fields raise ``ConfigError`` naming them)
    and split it into the record's columns and the stored body."""
    if not isinstance(config, dict):
        raise ConfigError(
            f"a config must be a JSON object, got {type(config).__name__}", field="config"
        )
    body = {k: v for k, v in config.items() if k not in _RECORD_KEYS}
    name = config.get("name") or ""
    if not isinstance(name, str) or len(name) > 200:
        raise ConfigError("name must be a text of at most 200 characters", field="name")
    is_template = config.get("is_template", False)
    if not isinstance(is_template, bool):
        raise ConfigError("is_template must be true or false", field="is_template")
    from algobt.engine.config import RunConfig

    cfg = RunConfig.from_dict(body)
    if cfg.strategy is not None:
        raise ConfigError(
            "a saved config cannot hold a Strategy class; give strategy_code or strategy_id",
            field="strategy",
        )
    return {
        "name": name.strip(),
        "strategy_id": cfg.strategy_id,
        "symbol": ",".join(cfg.symbol_list),
        "symbols": codec.to_json(list(cfg.symbol_list), "symbols"),
        "interval": cfg.interval,
        "period": cfg.period,
        "start_date": cfg.start_date,
        "end_date": cfg.end_date,
        "initial_capital": cfg.initial_capital,
        "commission": cfg.commission,
        "config": codec.to_json(body, "config"),
        "is_template": int(is_template),
    }


class ConfigsMixin:
    """CRUD for ``backtest_configs`` and the built-in templates."""

    def create_config(self, config: dict) -> dict:
        """Save a config: a ``BacktestConfig`` of docs/api.md (either spelling of each field,
        e.g. ``timeframe`` or ``interval``), plus ``name`` and ``is_template``.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> saved = store.create_config({"name": "mine", "symbol": "DEMO", "timeframe": "1d"})
        >>> saved["name"], saved["timeframe"], saved["is_template"]
        ('mine', '1d', False)
        """
        values = _prepare(config)
        now = codec.now_iso()
        with self._db.write() as conn:
            self._check_strategy(conn, values["strategy_id"])
            columns = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            cursor = conn.execute(
                f"INSERT INTO backtest_configs ({columns}, created_at, updated_at)"
                f" VALUES ({marks}, ?, ?)",
                [*values.values(), now, now],
            )
            return self._config(conn, cursor.lastrowid)

    @staticmethod
    def _check_strategy(conn, strategy_id: int | None) -> None:
        if strategy_id is None:
            return
        row = conn.execute("SELECT 1 FROM strategies WHERE id = ?", (strategy_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no strategy with id {strategy_id}", field="strategy_id")

    @staticmethod
    def _config(conn, config_id: int) -> dict:
        row = conn.execute("SELECT * FROM backtest_configs WHERE id = ?", (config_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no backtest config with id {config_id}", field="id")
        return config_dict(row)

    def get_config(self, config_id: int) -> dict:
        """One config by id; ``NotFoundError`` when there is none."""
        config_id = codec.record_id(config_id, "config")
        with self._db.read() as conn:
            return self._config(conn, config_id)

    def list_configs(
        self, page=1, page_size=50, *, is_template: bool | None = None, strategy_id=None
    ) -> dict:
        """A page of configs by id, templates included unless ``is_template=False``."""
        page, page_size = codec.page_args(page, page_size)
        where, args = [], []
        if is_template is not None:
            where.append("is_template = ?")
            args.append(int(bool(is_template)))
        if strategy_id is not None:
            where.append("strategy_id = ?")
            args.append(codec.record_id(strategy_id, "strategy"))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._db.read() as conn:
            count = conn.execute(f"SELECT count(*) FROM backtest_configs{clause}", args)
            count = count.fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM backtest_configs{clause} ORDER BY id LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return codec.paginated(count, page, page_size, [config_dict(r) for r in rows])

    def config_templates(self) -> list[dict]:
        """Template configs: the built-in ones first (``DEMO daily 1y``, ``DEMO-FX 1h 3mo``,
        ``DEMO-BTC 1d 2y``, ``Multi-symbol demo``), then users' own."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM backtest_configs WHERE is_template = 1 ORDER BY is_builtin DESC, id"
            ).fetchall()
        return [config_dict(r) for r in rows]

    def update_config(self, config_id: int, config: dict, *, partial: bool = False) -> dict:
        """Replace a config (``PUT``), or change only the given keys (``partial=True``,
        ``PATCH``). Built-in templates are read-only (``ConflictError``)."""
        config_id = codec.record_id(config_id, "config")
        if not isinstance(config, dict):
            raise ConfigError("a config must be a JSON object", field="config")
        with self._db.write() as conn:
            current = self._config(conn, config_id)
            if current["is_builtin"]:
                raise ConflictError(
                    f"config {config_id} ({current['name']!r}) is a built-in template and "
                    "cannot change; save a copy with create_config",
                    field="id",
                )
            if partial:
                kept = {k: v for k, v in current.items() if k not in _RECORD_KEYS}
                if kept.get("strategy_id") is None:
                    kept.pop("strategy_id", None)
                base = {**kept, "name": current["name"], "is_template": current["is_template"]}
                config = {**base, **config}
            values = _prepare(config)
            self._check_strategy(conn, values["strategy_id"])
            columns = ", ".join(f"{key} = ?" for key in values)
            conn.execute(
                f"UPDATE backtest_configs SET {columns}, updated_at = ? WHERE id = ?",
                [*values.values(), codec.now_iso(), config_id],
            )
            return self._config(conn, config_id)

    def delete_config(self, config_id: int) -> None:
        """Delete a saved config (runs made from it keep their own copy of it)."""
        config_id = codec.record_id(config_id, "config")
        with self._db.write() as conn:
            current = self._config(conn, config_id)
            if current["is_builtin"]:
                raise ConflictError(
                    f"config {config_id} ({current['name']!r}) is a built-in template and "
                    "cannot be deleted",
                    field="id",
                )
            conn.execute("DELETE FROM backtest_configs WHERE id = ?", (config_id,))
