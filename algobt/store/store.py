"""``Store``: the one object the server and notebooks use to read and write runs."""

from __future__ import annotations

import os

from algobt.store import schema
from algobt.store.configs import ConfigsMixin
from algobt.store.connection import Database
from algobt.store.diff import DiffMixin
from algobt.store.results import ResultsMixin
from algobt.store.runs import RunsMixin
from algobt.store.strategies import StrategiesMixin


class Store(StrategiesMixin, ConfigsMixin, RunsMixin, ResultsMixin, DiffMixin):
    """The SQLite store: strategies, configs, runs, results, trades, alerts and the
    latest result of each strategy. Plain JSON-ready dicts in and out.

    path: a database file (created if missing), ``":memory:"``, or None for
        ``$ALGOBT_HOME/algobt.db`` (``~/.algobt/algobt.db``).
    verify: run ``PRAGMA quick_check`` on the file before using it (reads it once).

    Safe to share between threads (each gets its own connection) and to open from
    several processes at once (WAL mode; writers wait up to 10 s for each other).
    A damaged, foreign or newer-version file raises ``StoreError`` and is not touched.

    >>> from algobt.store import Store
    >>> store = Store(":memory:")
    >>> sma = store.create_strategy("SMA", "class S(Strategy):\\n    fast = 10\\n")
    >>> sma["kind"], sma["parameters"]
    ('python', {'fast': 10})
    >>> store.list_runs()["count"]
    0
    """

    def __init__(self, path: str | os.PathLike | None = None, *, verify: bool = True):
        self._db = Database(path, verify=verify)

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._db.path

    @property
    def schema_version(self) -> int:
        """The schema version this store is at (always the latest after opening)."""
        return schema.SCHEMA_VERSION

    @property
    def migrated_from(self) -> int:
        """The file's schema version before this store opened it (0 for a new file)."""
        return self._db.migrated_from

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check``: ``["ok"]`` for a healthy file."""
        with self._db.read() as conn:
            return [row[0] for row in conn.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        """Close this store's connections; using it afterwards raises ``StoreError``."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"
