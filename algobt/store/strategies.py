"""Saved strategies: Python source or a canonical JSON rule spec, with a unique name."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from algobt.errors import ConfigError, ConflictError, NotFoundError
from algobt.store import codec

MAX_CODE_CHARS = 1_000_000
STRATEGY_FIELDS = ("name", "code", "kind", "description", "parameters")


def strategy_dict(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "code": row["code"],
        "description": row["description"],
        "parameters": codec.from_json(row["parameters"], {}),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("name must be a non-empty text, e.g. 'SMA cross'", field="name")
    value = value.strip()
    if len(value) > 200:
        raise ConfigError("name is longer than 200 characters", field="name")
    return value


def _code(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # a JSON rule spec given as an object
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    if not isinstance(value, str):
        raise ConfigError(
            "code must be Python source text or a JSON rule spec (text or object)", field="code"
        )
    if len(value) > MAX_CODE_CHARS:
        raise ConfigError(f"code is longer than {MAX_CODE_CHARS} characters", field="code")
    return value


def _kind(value: Any, code: str) -> str:
    if value is None:
        from algobt.engine.detect import detect_kind

        return detect_kind(code)
    if value not in ("python", "json"):
        raise ConfigError(f"kind must be 'python' or 'json', got {value!r}", field="kind")
    return value


def _parameters(value: Any, code: str) -> dict:
    if value is None:
        if not code.strip():
            return {}
        from algobt.engine.detect import validate_strategy_code

        # Parsed, never executed; code with errors is stored anyway, with no parameters.
        return validate_strategy_code(code)["parameters"]
    if not isinstance(value, dict):
        raise ConfigError('parameters must be an object, e.g. {"fast": 10}', field="parameters")
    codec.to_json(value, "parameters")
    return value


def _description(value: Any) -> str:
    if value is None:
        return ""
    return codec.text(value, "description", max_len=100_000)


class StrategiesMixin:
    """``create/get/list/update/delete`` for ``strategies``."""

    def create_strategy(
        self,
        name: str,
        code: str | dict = "",
        *,
        kind: str | None = None,
        description: str = "",
        parameters: dict | None = None,
    ) -> dict:
        """Save a strategy; its ``kind`` is detected and its ``parameters`` read from
        the code when not given. A name already taken raises ``ConflictError``.

        >>> from algobt.store import Store
        >>> store = Store(":memory:")
        >>> code = "class Cross(Strategy):\\n    fast = 10\\n    slow = 30\\n"
        >>> saved = store.create_strategy("SMA cross", code)
        >>> saved["kind"], saved["parameters"]
        ('python', {'fast': 10, 'slow': 30})
        """
        name = _name(name)
        code = _code(code)
        kind = _kind(kind, code)
        values = (name, kind, code, _description(description), _parameters(parameters, code))
        with self._db.write() as conn:
            return self._insert_strategy(conn, *values)

    def _insert_strategy(self, conn, name, kind, code, description, parameters) -> dict:
        now = codec.now_iso()
        try:
            cursor = conn.execute(
                "INSERT INTO strategies (name, kind, code, description, parameters,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, kind, code, description, codec.to_json(parameters, "parameters"), now, now),
            )
        except sqlite3.IntegrityError:
            raise self._name_taken(conn, name) from None
        return self._strategy(conn, cursor.lastrowid)

    @staticmethod
    def _name_taken(conn, name: str) -> ConflictError:
        row = conn.execute("SELECT id FROM strategies WHERE name = ?", (name,)).fetchone()
        which = f" (id {row['id']})" if row else ""
        return ConflictError(
            f"a strategy named {name!r} already exists{which}; choose another name "
            "or update that strategy",
            field="name",
        )

    @staticmethod
    def _strategy(conn, strategy_id: int) -> dict:
        row = conn.execute("SELECT * FROM strategies WHERE id = ?", (strategy_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no strategy with id {strategy_id}", field="strategy_id")
        return strategy_dict(row)

    def get_strategy(self, strategy_id: int) -> dict:
        """One strategy by id; ``NotFoundError`` when there is none."""
        strategy_id = codec.record_id(strategy_id, "strategy")
        with self._db.read() as conn:
            return self._strategy(conn, strategy_id)

    def get_strategy_by_name(self, name: str) -> dict:
        """One strategy by its exact name; ``NotFoundError`` when there is none."""
        name = _name(name)
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM strategies WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"no strategy named {name!r}", field="name")
        return strategy_dict(row)

    def list_strategies(self, page=1, page_size=50, search: str | None = None) -> dict:
        """A page of strategies by id; ``search`` matches name or description (any case)."""
        page, page_size = codec.page_args(page, page_size)
        where, args = "", []
        if search:
            pattern = codec.like_pattern(codec.text(search, "search", max_len=200))
            where = " WHERE name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\'"
            args = [pattern, pattern]
        with self._db.read() as conn:
            count = conn.execute(f"SELECT count(*) FROM strategies{where}", args).fetchone()[0]
            rows = conn.execute(
                f"SELECT * FROM strategies{where} ORDER BY id LIMIT ? OFFSET ?",
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
        return codec.paginated(count, page, page_size, [strategy_dict(r) for r in rows])

    def update_strategy(self, strategy_id: int, **fields) -> dict:
        """Change some of ``name, code, kind, description, parameters``.

        New code without a ``kind``/``parameters`` gets them detected again.
        """
        strategy_id = codec.record_id(strategy_id, "strategy")
        for key in fields:
            if key not in STRATEGY_FIELDS:
                raise ConfigError(
                    f"unknown strategy field {key!r}; use {', '.join(STRATEGY_FIELDS)}", field=key
                )
        changes: dict[str, Any] = {}
        if "name" in fields:
            changes["name"] = _name(fields["name"])
        if "code" in fields:
            code = changes["code"] = _code(fields["code"])
            changes["kind"] = _kind(fields.get("kind"), code)
            changes["parameters"] = _parameters(fields.get("parameters"), code)
        elif "kind" in fields:
            changes["kind"] = _kind(fields["kind"], "")
        if "parameters" in fields and "code" not in fields:
            changes["parameters"] = _parameters(fields["parameters"], "")
        if "description" in fields:
            changes["description"] = _description(fields["description"])
        with self._db.write() as conn:
            self._strategy(conn, strategy_id)
            if not changes:
                return self._strategy(conn, strategy_id)
            if "parameters" in changes:
                changes["parameters"] = codec.to_json(changes["parameters"], "parameters")
            columns = ", ".join(f"{key} = ?" for key in changes)
            try:
                conn.execute(
                    f"UPDATE strategies SET {columns}, updated_at = ? WHERE id = ?",
                    [*changes.values(), codec.now_iso(), strategy_id],
                )
            except sqlite3.IntegrityError:
                raise self._name_taken(conn, changes["name"]) from None
            return self._strategy(conn, strategy_id)

    def delete_strategy(self, strategy_id: int) -> None:
        """Delete a strategy and its latest result; its runs and results stay as history
        (their ``strategy_id`` becomes null, their ``strategy_name`` stays)."""
        strategy_id = codec.record_id(strategy_id, "strategy")
        with self._db.write() as conn:
            gone = conn.execute("DELETE FROM strategies WHERE id = ?", (strategy_id,)).rowcount
        if not gone:
            raise NotFoundError(f"no strategy with id {strategy_id}", field="strategy_id")

    def _ensure_strategy(self, conn, name: str, code: str | dict | None) -> int:
        """The id of the strategy called ``name``, created with ``code`` if new (inside
        the caller's write transaction, so two processes cannot both create it)."""
        name = _name(name)
        row = conn.execute("SELECT id, code FROM strategies WHERE name = ?", (name,)).fetchone()
        text = _code(code)
        if row is not None:
            if text and not row["code"]:
                kind = _kind(None, text)
                conn.execute(
                    "UPDATE strategies SET code = ?, kind = ?, parameters = ?, updated_at = ?"
                    " WHERE id = ?",
                    (
                        text,
                        kind,
                        codec.to_json(_parameters(None, text), "parameters"),
                        codec.now_iso(),
                        row["id"],
                    ),
                )
            return row["id"]
        created = self._insert_strategy(
            conn, name, _kind(None, text), text, "", _parameters(None, text)
        )
        return created["id"]
