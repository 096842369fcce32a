"""``Alerts``: a run's broker warnings, kept as records and shown on demand.

A run that cancels 14,000 orders must not build 14,000 dicts, timestamps and
messages nobody reads. The engines (the fast kernel and the class broker)
write :data:`algobt.engine.enums.alert_dt` records; ``Alerts`` holds them with
the bar index and turns them into something readable only when asked:

* ``summary()``: one row per column (symbol) and alert code, with the count,
  the first and last bar and time, and the first alert's message — what JSON,
  the store, the stream and the monitor endpoint carry by default;
* ``to_frame()``: every alert, one row each, built column by column;
* iteration, ``len`` and indexing: every alert as the dict the class broker has
  always produced (``level``, ``code``, ``bar``, ``time``, ``message``, plus
  ``symbol`` in a multi-symbol run).

    >>> import numpy as np, pandas as pd
    >>> from algobt.engine.enums import AlertCode, alert_dt
    >>> records = np.array([(0, AlertCode.NoMargin, 2, 9.0, 80.0),
    ...                     (0, AlertCode.NoMargin, 5, 9.0, 75.5)], dtype=alert_dt)
    >>> alerts = Alerts(records, pd.date_range("2024-01-01", periods=6))
    >>> len(alerts), alerts[1]["message"]
    (2, 'order of 9 units canceled: not enough margin (equity=75.50)')
    >>> alerts.summary()[["code", "count", "first_bar", "last_bar"]].to_dict("records")
    [{'code': 'order_canceled', 'count': 2, 'first_bar': 2, 'last_bar': 5}]

The layout and the summary's fields are described in ``docs/records.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from algobt.engine.enums import (
    ALERT_LEVEL,
    ALERT_REASON,
    ALERT_TEXT,
    ALERT_WIRE_CODE,
    N_ALERT_CODES,
    alert_dt,
    alert_message,
)

_WIRE = np.array(ALERT_WIRE_CODE, dtype=object)
_REASON = np.array(ALERT_REASON, dtype=object)
_LEVEL = np.array(ALERT_LEVEL, dtype=object)
_NUMBERED = tuple(c for c, text in enumerate(ALERT_TEXT) if "{" in text)

#: JSON modes: ``"summary"`` (one entry per symbol and code) or ``"full"`` (every alert).
ALERT_MODES = ("summary", "full")


class Alerts(Sequence):
    """A run's alerts: :data:`~algobt.engine.enums.alert_dt` records plus the bar index.

    records: the alert records (``col`` indexes ``indexes``/``symbols``).
    index: the bars' index, or one index per column. symbols: the columns'
    names (None for a one-symbol run: the alerts' dicts then carry no
    ``symbol``). lot_size: the run's lot size, quoted by one message.
    """

    __hash__ = None  # compared by value, like the list it stands for

    def __init__(
        self,
        records: np.ndarray | None = None,
        index: pd.Index | Sequence[pd.Index] | None = None,
        *,
        symbols: Sequence[str] | None = None,
        lot_size=1,
    ):
        self.records = (
            np.zeros(0, dtype=alert_dt) if records is None else np.asarray(records, dtype=alert_dt)
        )
        if index is None:
            index = pd.RangeIndex(0)
        self._indexes = [index] if isinstance(index, pd.Index) else list(index)
        self.symbols = None if symbols is None else list(symbols)
        self.lot_size = lot_size

    @classmethod
    def from_rows(cls, rows: Iterable[tuple], index: pd.Index, *, lot_size=1) -> Alerts:
        """From ``(col, code, bar, size, equity)`` tuples (what the class broker collects)."""
        rows = list(rows)
        records = np.array(rows, dtype=alert_dt) if rows else None
        return cls(records, index, lot_size=lot_size)

    @classmethod
    def concat(cls, parts: Mapping[str, Alerts]) -> Alerts:
        """One symbol's alerts after another, each symbol its own column (in ``parts``' order)."""
        pieces, indexes, symbols = [], [], []
        lot_size = 1
        for col, (symbol, part) in enumerate(parts.items()):
            if part.symbols is not None and len(part.symbols) != 1:
                raise ValueError("Alerts.concat takes one-symbol alerts")
            piece = part.records.copy()
            piece["col"] = col
            pieces.append(piece)
            indexes.append(part._indexes[0] if part._indexes else pd.RangeIndex(0))
            symbols.append(symbol)
            lot_size = part.lot_size
        records = np.concatenate(pieces) if pieces else None
        return cls(records, indexes, symbols=symbols, lot_size=lot_size)

    # --- the list of dicts ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._dict(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"alert {i} of {n}")
        return self._dict(i % n)

    def __iter__(self):
        for i in range(len(self)):
            yield self._dict(i)

    def __eq__(self, other) -> bool:
        if isinstance(other, Alerts | list | tuple):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        codes = ", ".join(f"{r['code']}: {r['count']}" for r in self._groups())
        return f"<Alerts: {len(self)} ({codes or 'none'})>"

    def _dict(self, i: int) -> dict:
        r = self.records[i]
        col, code, bar = int(r["col"]), int(r["code"]), int(r["bar"])
        out = {
            "level": ALERT_LEVEL[code],
            "code": ALERT_WIRE_CODE[code],
            "bar": bar,
            "time": self._indexes[col][bar],
            "message": alert_message(code, float(r["size"]), float(r["equity"]), self.lot_size),
        }
        if self.symbols is not None:
            out["symbol"] = self.symbols[col]
        return out

    # --- frames -----------------------------------------------------------------------------
    def _times(self, cols: np.ndarray, bars: np.ndarray):
        if len(self._indexes) == 1:
            return self._indexes[0].take(bars)
        times = np.empty(len(bars), dtype=object)
        for col in np.unique(cols):
            mask = cols == col
            times[mask] = self._indexes[col].take(bars[mask]).astype(object)
        return times

    def _messages(self, codes: np.ndarray, sizes: np.ndarray, equities: np.ndarray):
        messages = np.array(ALERT_TEXT, dtype=object)[codes]
        for code in _NUMBERED:
            where = np.flatnonzero(codes == code)
            if len(where):
                text = ALERT_TEXT[code]
                messages[where] = [
                    text.format(size=s, equity=e, lot_size=self.lot_size)
                    for s, e in zip(sizes[where].tolist(), equities[where].tolist(), strict=True)
                ]
        return messages

    def to_frame(self) -> pd.DataFrame:
        """Every alert, one row each: ``symbol`` (multi-symbol runs), ``level``, ``code``,
        ``reason``, ``bar``, ``time``, ``size``, ``equity`` and ``message``."""
        r = self.records
        codes, cols, bars = r["code"], r["col"], r["bar"]
        columns = {}
        if self.symbols is not None:
            columns["symbol"] = np.array(self.symbols, dtype=object)[cols]
        columns.update(
            level=_LEVEL[codes],
            code=_WIRE[codes],
            reason=_REASON[codes],
            bar=bars.copy(),
            time=self._times(cols, bars),
            size=r["size"].copy(),
            equity=r["equity"].copy(),
            message=self._messages(codes, r["size"], r["equity"]),
        )
        return pd.DataFrame(columns)

    def _groups(self) -> list[dict]:
        """Per (column, code), in order of first appearance: record positions and count."""
        r = self.records
        if not len(r):
            return []
        key = r["col"] * N_ALERT_CODES + r["code"]
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        _, last_rev = np.unique(key[::-1], return_index=True)
        last = len(key) - 1 - last_rev
        order = np.argsort(first, kind="stable")
        return [
            {
                "first": int(first[g]),
                "last": int(last[g]),
                "count": int(counts[g]),
                "code": ALERT_WIRE_CODE[int(r["code"][first[g]])],
            }
            for g in order
        ]

    def summary(self) -> pd.DataFrame:
        """One row per symbol and alert code, in order of first appearance: ``symbol``
        (multi-symbol runs), ``level``, ``code``, ``reason``, ``count``, ``first_bar``,
        ``first_time``, ``last_bar``, ``last_time`` and the first alert's ``message``."""
        groups = self._groups()
        first = np.array([g["first"] for g in groups], dtype=np.int64)
        last = np.array([g["last"] for g in groups], dtype=np.int64)
        r = self.records
        codes, cols = r["code"][first], r["col"][first]
        columns = {}
        if self.symbols is not None:
            columns["symbol"] = np.array(self.symbols, dtype=object)[cols]
        columns.update(
            level=_LEVEL[codes],
            code=_WIRE[codes],
            reason=_REASON[codes],
            count=np.array([g["count"] for g in groups], dtype=np.int64),
            first_bar=r["bar"][first],
            first_time=self._times(cols, r["bar"][first]),
            last_bar=r["bar"][last],
            last_time=self._times(cols, r["bar"][last]),
            message=self._messages(codes, r["size"][first], r["equity"][first]),
        )
        return pd.DataFrame(columns)

    # --- JSON -------------------------------------------------------------------------------
    def to_json(self, mode: str = "summary") -> list[dict]:
        """JSON-ready alerts: ``"summary"`` (default) gives one entry per symbol and code,
        each shaped like an alert (``level``, ``code``, ``message``, ``bar`` and ``time``
        of the first one, ``symbol`` when known) plus ``reason``, ``count``, ``last_bar``
        and ``last_time``; ``"full"`` gives every alert. Times are ISO 8601 strings."""
        if mode == "full":
            return [json_alert(a) for a in self]
        if mode != "summary":
            raise ValueError(f"alerts mode {mode!r}: use one of {', '.join(ALERT_MODES)}")
        out = []
        for row in self.summary().itertuples(index=False):
            entry = {
                "level": row.level,
                "code": row.code,
                "reason": row.reason,
                "message": row.message,
                "count": int(row.count),
                "bar": int(row.first_bar),
                "time": _iso(row.first_time),
                "last_bar": int(row.last_bar),
                "last_time": _iso(row.last_time),
            }
            if self.symbols is not None:
                entry["symbol"] = row.symbol
            out.append(entry)
        return out


def _iso(stamp):
    return None if stamp is None else pd.Timestamp(stamp).isoformat()


def json_alert(alert: dict) -> dict:
    """One alert dict made JSON-ready: ISO time, int bar."""
    stamp = alert.get("time")
    return {
        **alert,
        "time": _iso(stamp),
        "bar": int(alert["bar"]) if alert.get("bar") is not None else None,
    }


def as_alerts(alerts) -> Alerts | list:
    """``Alerts`` as they are; anything else (None, a list of dicts) as a list."""
    if isinstance(alerts, Alerts):
        return alerts
    return list(alerts or [])


def alerts_json(alerts, mode: str = "summary") -> list[dict]:
    """JSON alerts from ``Alerts`` (see :meth:`Alerts.to_json`) or a list of alert dicts
    (kept whole: a list already made by hand is small)."""
    if isinstance(alerts, Alerts):
        return alerts.to_json(mode)
    if mode not in ALERT_MODES:
        raise ValueError(f"alerts mode {mode!r}: use one of {', '.join(ALERT_MODES)}")
    return [json_alert(a) for a in alerts or []]


__all__ = ["ALERT_MODES", "Alerts", "alerts_json", "as_alerts", "json_alert"]
