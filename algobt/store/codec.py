"""Values in and out of SQLite: JSON text, ISO timestamps, ids, pages, time bounds.

Everything the store hands back is a plain dict of JSON-ready values, so the
server can answer with it as is. Everything it takes in is checked here first,
and a bad value becomes a ``ConfigError`` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from algobt.errors import ConfigError

MAX_PAGE_SIZE = 1000


def now_iso() -> str:
    """The current UTC time as ISO 8601 text with microseconds: ``2024-01-02T14:30:00.123456Z``.

    Always the same width, so text order is time order.
    """
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(value: Any, field: str) -> str:
    """Compact JSON text; NaN/inf or objects JSON cannot hold raise ``ConfigError``.

    Floats are written with ``repr``, so they read back bit for bit.
    """
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{field} cannot be stored as JSON ({exc}); give plain numbers, text, lists "
            "and objects, with null instead of NaN",
            field=field,
        ) from None


def from_json(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


def real(value: Any, field: str) -> float | None:
    """A finite float or None (for REAL columns); booleans and NaN are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{field} must be a number or null, got {value!r}", field=field)
    if not math.isfinite(value):
        raise ConfigError(
            f"{field} is {value!r}; the store keeps finite numbers only (use null)", field=field
        )
    return float(value)


def integer(value: Any, field: str, *, optional: bool = True, low: int | None = None):
    """A whole number (an integral float is accepted) or None."""
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{field} must be a whole number, got {value!r}", field=field)
    if low is not None and value < low:
        raise ConfigError(f"{field}={value} must be >= {low}", field=field)
    return value


def text(value: Any, field: str, *, optional: bool = True, max_len: int = 10_000_000):
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{field} must be text, got {type(value).__name__}", field=field)
    if len(value) > max_len:
        raise ConfigError(f"{field} is longer than {max_len} characters", field=field)
    return value


def record_id(value: Any, what: str) -> int:
    """A positive integer id; anything else is a ``ConfigError`` on field ``id``."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} id must be a positive whole number, got {value!r}", field="id")
    return value


def page_args(page: Any, page_size: Any) -> tuple[int, int]:
    """Validated ``(page, page_size)``: page >= 1, 1 <= page_size <= 1000."""
    page = integer(page, "page", optional=False, low=1)
    page_size = integer(page_size, "page_size", optional=False, low=1)
    if page_size > MAX_PAGE_SIZE:
        raise ConfigError(
            f"page_size={page_size} is too large; at most {MAX_PAGE_SIZE}", field="page_size"
        )
    return page, page_size


def paginated(count: int, page: int, page_size: int, results: list) -> dict:
    """The DRF-like page: ``{"count", "page", "page_size", "results"}``."""
    return {"count": count, "page": page, "page_size": page_size, "results": results}


def time_bound(value: Any, field: str, *, end: bool) -> tuple[str, str] | None:
    """A ``yyyy-MM-dd`` or ISO 8601 bound as ``(operator, text)`` to compare with stored
    ISO text. A date-only end is inclusive of that whole day (``< next day``).

    Stored stamps are ``2024-01-02`` (daily bars) or ``2024-01-02T14:30:00Z`` (UTC),
    and these texts sort in time order, so the bounds are texts too.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        day = value
        stamp = None
    elif isinstance(value, str):
        raw = value.strip()
        stamp = None
        try:
            if len(raw) == 10:
                day = dt.date.fromisoformat(raw)
            else:
                stamp = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{field}={value!r} is not a date; use yyyy-MM-dd or an ISO 8601 time "
                "such as 2024-01-02T14:30:00Z",
                field=field,
            ) from None
    else:
        raise ConfigError(f"{field} must be a date text (yyyy-MM-dd)", field=field)
    if stamp is None:
        if end:
            return "<", (day + dt.timedelta(days=1)).isoformat()
        return ">=", day.isoformat()
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    if not end and stamp == datetime_midnight(stamp):
        # A daily bar's stamp "2024-01-02" is that midnight, and sorts before any
        # "2024-01-02T..." text: a start at midnight is written as the date itself.
        return ">=", stamp.date().isoformat()
    fraction = ".%f" if stamp.microsecond else ""
    iso = stamp.strftime(f"%Y-%m-%dT%H:%M:%S{fraction}Z")
    return ("<=" if end else ">="), iso


def datetime_midnight(stamp: dt.datetime) -> dt.datetime:
    return stamp.replace(hour=0, minute=0, second=0, microsecond=0)


def like_pattern(term: str) -> str:
    """``%term%`` with LIKE's wildcards escaped (use ``ESCAPE '\\'``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
