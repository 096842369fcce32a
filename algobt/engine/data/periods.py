"""Period and interval rules: which spellings are accepted and what time window they mean.

A request names its bars (``interval``) and its window (``period``, or
``start_date``/``end_date``). This module turns both into plain values every
source shares: an :class:`Interval` (canonical name, bar length) and a
:class:`Window`, a half-open UTC range ``[start, end)``.

Relative periods (``1y``, ``6mo``, ...) count back from an *anchor*: the end of
the data for bundled and file data (so results never depend on today's date),
and "now" for Yahoo. ``ytd`` starts on 1 January (UTC) of the anchor's year;
``max`` has no start. ``custom`` uses ``start_date``/``end_date`` (``yyyy-MM-dd``),
both inclusive: ``end_date="2024-12-31"`` includes that day's bars.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from algobt.errors import ConfigError

#: Canonical period names, in the order a period picker shows them.
PERIODS = ("1wk", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max", "custom")

#: The long spellings (``1week`` ... ``2years``) the API also accepts, mapped to canonical names.
PERIOD_ALIASES = {
    "1week": "1wk",
    "1month": "1mo",
    "3months": "3mo",
    "6months": "6mo",
    "1year": "1y",
    "2years": "2y",
}

#: How far back each relative period reaches from its anchor.
PERIOD_OFFSETS = {
    "1wk": pd.DateOffset(days=7),
    "1mo": pd.DateOffset(months=1),
    "3mo": pd.DateOffset(months=3),
    "6mo": pd.DateOffset(months=6),
    "1y": pd.DateOffset(years=1),
    "2y": pd.DateOffset(years=2),
    "5y": pd.DateOffset(years=5),
    "10y": pd.DateOffset(years=10),
}

#: Canonical interval names, finest first.
INTERVALS = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")

#: Other accepted spellings: Yahoo's ``60m`` and ``1wk``.
INTERVAL_ALIASES = {"60m": "1h", "1wk": "1w"}

_INTERVAL_LENGTHS = {
    "1m": pd.Timedelta(minutes=1),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "30m": pd.Timedelta(minutes=30),
    "1h": pd.Timedelta(hours=1),
    "4h": pd.Timedelta(hours=4),
    "1d": pd.Timedelta(days=1),
    "1w": pd.Timedelta(days=7),
}

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Interval:
    """A bar size: canonical ``name`` (``"4h"``) and ``length`` (a Timedelta)."""

    name: str
    length: pd.Timedelta

    @property
    def intraday(self) -> bool:
        """True for bars shorter than a day (stamped at their UTC time, not at midnight)."""
        return self.length < pd.Timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """A half-open UTC time range ``[start, end)``; ``None`` means unbounded on that side.

    ``relative`` is True when it came from a relative period (``1y``, ``ytd``,
    ``max``) rather than from explicit dates, which lets a source with a
    look-back limit trim a period that overshoots it by a day or two.
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None
    relative: bool = False

    def slice(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows of ``df`` (UTC DatetimeIndex) inside the window.

        >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
        >>> frame = pd.DataFrame({"Close": [1.0, 2, 3, 4]}, index=idx)
        >>> len(Window(pd.Timestamp("2024-01-02", tz="UTC"), None).slice(frame))
        3
        """
        mask = np.ones(len(df), dtype=bool)
        if self.start is not None:
            mask &= df.index >= self.start
        if self.end is not None:
            mask &= df.index < self.end
        return df[mask]


def parse_interval(interval: str | None, *, default: str | None = "1d") -> Interval | None:
    """The :class:`Interval` for ``interval``: one of :data:`INTERVALS` or an alias.

    ``None`` gives ``default`` (``None`` to mean "the source's own bars"). An
    unknown name raises :class:`ConfigError` listing the allowed ones.

    >>> parse_interval("60m")
    Interval(name='1h', length=Timedelta('0 days 01:00:00'))
    >>> parse_interval(None).name
    '1d'
    """
    if interval is None or interval == "":
        return None if default is None else parse_interval(default)
    if not isinstance(interval, str):
        raise ConfigError(
            f"interval must be a string such as '1d', got {interval!r}; "
            f"use one of {', '.join(INTERVALS)}",
            field="interval",
        )
    name = INTERVAL_ALIASES.get(interval.strip(), interval.strip())
    if name not in _INTERVAL_LENGTHS:
        raise ConfigError(
            f"unknown interval {interval!r}; use one of {', '.join(INTERVALS)} "
            f"(or the aliases {', '.join(f'{a}={c}' for a, c in INTERVAL_ALIASES.items())})",
            field="interval",
        )
    return Interval(name, _INTERVAL_LENGTHS[name])


def parse_period(period: str | None) -> str | None:
    """The canonical name of ``period`` (``"6months"`` -> ``"6mo"``); ``None``/``""`` stay ``None``.

    >>> parse_period("2years"), parse_period("ytd")
    ('2y', 'ytd')
    """
    if period is None or period == "":
        return None
    if not isinstance(period, str):
        raise ConfigError(
            f"period must be a string such as '1y', got {period!r}; use one of {_period_list()}",
            field="period",
        )
    name = PERIOD_ALIASES.get(period.strip(), period.strip())
    if name not in PERIODS:
        raise ConfigError(f"unknown period {period!r}; use one of {_period_list()}", field="period")
    return name


def parse_date(value, field: str) -> pd.Timestamp | None:
    """Midnight UTC of a ``yyyy-MM-dd`` string (or a date/Timestamp); ``None``/``""`` stay ``None``.

    >>> parse_date("2024-03-01", "start_date")
    Timestamp('2024-03-01 00:00:00+0000', tz='UTC')
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if not _DATE_RE.fullmatch(text):
                raise ValueError
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                f"{field} {value!r} is not a date; write it as yyyy-MM-dd, e.g. '2024-01-31'",
                field=field,
            ) from None
        return pd.Timestamp(day).tz_localize("UTC")
    if isinstance(value, dt.date | pd.Timestamp):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.normalize()
    raise ConfigError(
        f"{field} must be a yyyy-MM-dd string, got {value!r}; e.g. '2024-01-31'", field=field
    )


def resolve_window(
    period: str | None,
    start_date=None,
    end_date=None,
    *,
    anchor: pd.Timestamp,
) -> Window:
    """The UTC window a request asks for, counting relative periods back from ``anchor``.

    ``anchor`` is the exclusive end of what the source has (the end of its last
    bar, or "now"). No period and no dates means ``max``; dates without a period
    mean ``custom``. A period other than ``custom`` together with dates is a
    :class:`ConfigError`, as is a bad date or ``start_date >= end_date``.

    >>> end = pd.Timestamp("2025-01-01", tz="UTC")
    >>> resolve_window("1y", anchor=end).start
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    >>> w = resolve_window(None, "2024-01-02", "2024-01-31", anchor=end)
    >>> w.start.date(), w.end.date()
    (datetime.date(2024, 1, 2), datetime.date(2024, 2, 1))
    """
    name = parse_period(period)
    start = parse_date(start_date, "start_date")
    end = parse_date(end_date, "end_date")
    has_dates = start is not None or end is not None
    if name is None:
        name = "custom" if has_dates else "max"
    if name == "custom":
        if not has_dates:
            raise ConfigError(
                "period='custom' needs start_date and/or end_date (yyyy-MM-dd); "
                "give them, or pick a period such as '1y'",
                field="start_date",
            )
        if start is not None and end is not None and start >= end:
            raise ConfigError(
                f"start_date {start.date()} must be before end_date {end.date()}; "
                "swap them or widen the range",
                field="end_date",
            )
        # end_date is inclusive for people; the window's end is exclusive.
        return Window(start, None if end is None else end + pd.Timedelta(days=1))
    if has_dates:
        raise ConfigError(
            f"give either period={period!r} or start_date/end_date, not both; "
            "for a date range use period='custom' (or leave period out)",
            field="period",
        )
    if name == "max":
        return Window(None, None, relative=True)
    if name == "ytd":
        # The year of the last instant inside the window: an anchor of 1 January 00:00
        # (data ending 31 December) still means the year that just ended.
        year = (anchor - pd.Timedelta(1, "ns")).year
        year_start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
        return Window(year_start, anchor, relative=True)
    return Window(anchor - PERIOD_OFFSETS[name], anchor, relative=True)


def _period_list() -> str:
    aliases = ", ".join(f"{a}={c}" for a, c in PERIOD_ALIASES.items())
    return f"{', '.join(PERIODS)} (or {aliases})"
