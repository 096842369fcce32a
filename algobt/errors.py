"""algobt's own exceptions: each names what was wrong and how to fix it.

Every error a user can cause ends in one of these, never in a traceback from
deep inside pandas or numba. ``field`` names the offending input (a config
key, a column, a parameter) so the server can answer ``{"error": {"field"}}``.
"""

from __future__ import annotations


class AlgobtError(Exception):
    """Base of algobt's errors; ``field`` names the input at fault, if any."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class DataError(AlgobtError, ValueError):
    """Market data that cannot be simulated: missing columns, NaN prices, bad rows."""

    code = "data_error"


class ConfigError(AlgobtError, ValueError):
    """A bad setting: negative cash, unknown period, unknown parameter name."""

    code = "config_error"


class StrategyError(AlgobtError):
    """A strategy that failed: raised in ``init()``/``next()`` or is malformed."""

    code = "strategy_error"


class StoreError(AlgobtError):
    """The store cannot do what was asked: a bad database file, a broken invariant."""

    code = "store_error"


class NotFoundError(StoreError, LookupError):
    """No such strategy, run, result or config (the server answers 404)."""

    code = "not_found"


class ConflictError(StoreError):
    """The request clashes with what is stored, e.g. a duplicate name (409)."""

    code = "conflict"
