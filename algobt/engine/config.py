"""``RunConfig``: one validated description of a backtest run.

The REST ``BacktestConfig`` and the WebSocket ``config`` (``docs/api.md``) are
the same thing spelled two ways; this module accepts both spellings and gives
the server, the notebook and the CLI one object:

    >>> cfg = RunConfig.from_dict({"symbol": "DEMO", "timeframe": "1d",
    ...                            "initial_balance": 5000, "period": "1y"})
    >>> cfg.interval, cfg.initial_capital, cfg.commission
    ('1d', 5000.0, 0.001)

Defaults: commission 0.001 (0.1% per side), slippage 0.0005
(0.05% per fill), initial capital 10,000, lot size 1, daily bars.
Each bad field raises ``ConfigError`` with ``field`` set and a fix in words.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from algobt.errors import ConfigError

# Other spellings the API accepts for the same field.
ALIASES = {
    "initial_balance": "initial_capital",
    "cash": "initial_capital",
    "timeframe": "interval",
    "parameters": "params",
}


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to run one backtest (and to replay it as an event stream).

    strategy_code: Python source of an ``algobt.Strategy`` subclass, or a canonical
        JSON rule spec (text or dict); ``strategy`` may instead carry a Strategy class.
    symbol / symbols: one symbol, or several (equal capital split, combined result).
    period, start_date, end_date, interval: as for ``algobt.load``.
    initial_capital: starting money; commission: fraction per side; slippage: fraction
        per fill; lot_size: quantity step.
    indicators: what to attach to each streamed candle, e.g.
        ``{"RSI": {"timeperiod": 14}, "EMA": {"periods": [9, 21]}}``.
    params: strategy parameter overrides.

    How a replay is shown (``speed``, ``batch``, ``batch_size``) is no part of the
    run: those are ``StreamOptions``. ``from_dict`` still accepts them beside the
    run's settings (a WebSocket ``config`` carries both), checks them and leaves
    them out.
    """

    symbol: str | None = "DEMO"
    symbols: tuple[str, ...] | None = None
    strategy_code: Any = None
    strategy_id: int | None = None
    strategy_name: str | None = None
    name: str | None = None
    period: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    interval: str = "1d"
    initial_capital: float = 10_000.0
    commission: float = 0.001
    slippage: float = 0.0005
    spread: float = 0.0
    lot_size: float = 1.0
    margin: float = 1.0
    trade_on_close: bool = False
    hedging: bool = False
    exclusive_orders: bool = False
    finalize_trades: bool = True
    sl_tp_priority: str = "stop_loss"
    portfolio: str = "split"
    source: str | None = None
    params: dict = field(default_factory=dict)
    indicators: dict = field(default_factory=dict)
    id: int | None = None
    strategy: Any = None  # a Strategy subclass, from Python callers only

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        """Build from a request body or WebSocket ``config``; both spellings accepted."""
        if isinstance(raw, RunConfig):
            return raw
        if not isinstance(raw, dict):
            raise ConfigError(
                f"config must be a JSON object, got {type(raw).__name__}", field="config"
            )
        merged = dict(raw)
        nested = merged.pop("config", None)
        if nested is not None:
            if not isinstance(nested, dict):
                raise ConfigError(
                    "config.config must be an object of extra settings", field="config"
                )
            merged = {**nested, **merged}
        StreamOptions.from_dict(merged)  # stream options are checked, then left out
        known = set(cls.fields())
        values: dict[str, Any] = {}
        for key, value in merged.items():
            if key in STREAM_OPTIONS:
                continue
            target = ALIASES.get(key, key)
            if target not in known:
                options = sorted(known | set(ALIASES) | set(STREAM_OPTIONS))
                close = get_close_matches(key, options, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown setting {key!r}.{hint}", field=key)
            if target in values and values[target] != value:
                raise ConfigError(
                    f"{key!r} and another spelling of {target!r} disagree; give it once", field=key
                )
            values[target] = value
        return cls(**values)

    def __post_init__(self):
        check = _Checker(self)
        check.text("symbol", optional=True, max_len=64)
        if self.symbols is not None:
            symbols = self.symbols
            if isinstance(symbols, str):
                symbols = [s.strip() for s in symbols.split(",") if s.strip()]
            if (
                not isinstance(symbols, list | tuple)
                or not symbols
                or not all(isinstance(s, str) and s.strip() for s in symbols)
            ):
                raise ConfigError(
                    'symbols must be a non-empty list of symbol names, e.g. ["DEMO", "DEMO-FX"]',
                    field="symbols",
                )
            if len(set(symbols)) != len(symbols):
                raise ConfigError("symbols lists a symbol twice", field="symbols")
            if len(symbols) > 100:
                raise ConfigError("symbols: at most 100 per run", field="symbols")
            object.__setattr__(self, "symbols", tuple(s.strip() for s in symbols))
        elif not self.symbol:
            raise ConfigError("give a symbol (e.g. DEMO) or a list of symbols", field="symbol")
        check.text("period", optional=True, max_len=16)
        check.date("start_date")
        check.date("end_date")
        if self.period == "custom" and not (self.start_date and self.end_date):
            raise ConfigError(
                "period 'custom' needs start_date and end_date (yyyy-MM-dd)", field="start_date"
            )
        if self.start_date and self.end_date and self.start_date >= self.end_date:
            raise ConfigError(
                f"start_date {self.start_date} must be before end_date {self.end_date}",
                field="start_date",
            )
        check.text("interval", max_len=8)
        check.number("initial_capital", low=0, strict=True, high=1e15)
        check.number("commission", low=0, high=0.1)
        check.number("slippage", low=0, high=0.1)
        check.number("spread", low=0, high=0.1)
        check.number("lot_size", low=0, strict=True, high=1e9)
        check.number("margin", low=0, strict=True, high=1)
        for name in ("trade_on_close", "hedging", "exclusive_orders", "finalize_trades"):
            check.boolean(name)
        check.choice("sl_tp_priority", SL_TP_PRIORITIES)
        check.choice("portfolio", PORTFOLIOS)
        for name in ("strategy_id", "id"):
            check.integer(name, optional=True, low=1)
        for name in ("params", "indicators"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, {})
            elif not isinstance(value, dict):
                raise ConfigError(f'{name} must be an object, e.g. {{"fast": 10}}', field=name)

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """The symbols this run covers (one for a single-symbol run)."""
        return self.symbols or (self.symbol,)

    def to_dict(self) -> dict:
        """JSON-friendly settings (the strategy class, if any, by name)."""
        out = {k: getattr(self, k) for k in self.fields() if k != "strategy"}
        out["symbols"] = list(self.symbols) if self.symbols else None
        if self.strategy is not None:
            out["strategy_name"] = self.strategy_name or getattr(self.strategy, "__name__", None)
        return out

    def require_strategy(self) -> None:
        """Raise ``ConfigError`` unless the config names a strategy to run."""
        if self.strategy is None and self.strategy_code in (None, ""):
            raise ConfigError(
                "give the strategy: strategy_code with Python source or a JSON "
                "rule spec (or strategy_id on the server)",
                field="strategy_code",
            )

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


#: The intrabar rules (which level fills first when a bar touches both) and portfolio modes.
SL_TP_PRIORITIES = ("stop_loss", "take_profit")
PORTFOLIOS = ("split", "shared")

# Settings of how a replay is streamed, not of the run.
STREAM_OPTIONS = ("speed", "batch", "batch_size")


@dataclass(frozen=True)
class StreamOptions:
    """How a transport plays a run's replay; none of it changes a number of the run.

    speed: bars per second (0 = as fast as the reader takes them).
    batch: candles in groups, ``{"type": "candles", "bars": [...]}``, instead of
        one ``candle`` message per bar.
    batch_size: bars per group when ``batch`` is on.

        >>> StreamOptions.split({"symbol": "DEMO", "speed": 20, "batch": True})
        ({'symbol': 'DEMO'}, StreamOptions(speed=20.0, batch=True, batch_size=500))
    """

    speed: float = 0.0
    batch: bool = False
    batch_size: int = 500

    def __post_init__(self):
        check = _Checker(self)
        check.number("speed", low=0, high=1e7)
        check.boolean("batch")
        check.integer("batch_size", low=1, high=100_000)

    @classmethod
    def from_dict(cls, raw: dict) -> StreamOptions:
        """The options in a config dict (top level, or its nested ``config``), checked."""
        if isinstance(raw, StreamOptions):
            return raw
        if not isinstance(raw, dict):
            raise ConfigError(
                f"config must be a JSON object, got {type(raw).__name__}", field="config"
            )
        nested = raw.get("config")
        found = {}
        if isinstance(nested, dict):
            found = {k: v for k, v in nested.items() if k in STREAM_OPTIONS}
        found.update({k: v for k, v in raw.items() if k in STREAM_OPTIONS})
        return cls(**found)

    @classmethod
    def split(cls, raw: dict) -> tuple[dict, StreamOptions]:
        """(the run's config without stream options, the options); checks both spellings."""
        options = cls.from_dict(raw)
        run = {k: v for k, v in raw.items() if k not in STREAM_OPTIONS}
        nested = run.get("config")
        if isinstance(nested, dict) and any(k in STREAM_OPTIONS for k in nested):
            run["config"] = {k: v for k, v in nested.items() if k not in STREAM_OPTIONS}
        return run, options

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in STREAM_OPTIONS}


class _Checker:
    """Field checks that raise ConfigError naming the field and the allowed values."""

    def __init__(self, cfg):
        self.cfg = cfg

    def _set(self, name, value):
        object.__setattr__(self.cfg, name, value)

    def text(self, name, *, optional=False, max_len=256):
        value = getattr(self.cfg, name)
        if value is None and optional:
            return
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise ConfigError(
                f"{name} must be a non-empty text of at most {max_len} characters, got {value!r}",
                field=name,
            )
        self._set(name, value.strip())

    def date(self, name):
        value = getattr(self.cfg, name)
        if value in (None, ""):
            self._set(name, None)
            return
        import datetime as dt

        try:
            parsed = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ConfigError(
                f"{name}={value!r} is not a date; use yyyy-MM-dd, e.g. 2024-01-31", field=name
            ) from None
        self._set(name, parsed.isoformat())

    def number(self, name, *, low=None, high=None, strict=False):
        value = getattr(self.cfg, name)
        if isinstance(value, str):  # one rule for every number: JSON numbers, not text
            shown = repr(value) if len(value) < 40 else repr(value[:37] + "...")
            raise ConfigError(
                f"{name} must be a number, not text (got {shown}): write it without quotes",
                field=name,
            )
        try:
            finite = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and (math.isfinite(float(value)))
            )
        except OverflowError:  # an int too big for a float
            finite = False
        if not finite:
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:37] + "..."
            raise ConfigError(f"{name} must be a finite number, got {shown}", field=name)
        if low is not None and (value < low or (strict and value == low)):
            raise ConfigError(
                f"{name}={value!r} must be {'>' if strict else '>='} {low}", field=name
            )
        if high is not None and value > high:
            raise ConfigError(f"{name}={value!r} must be <= {high:g}", field=name)
        self._set(name, float(value))

    def integer(self, name, *, optional=False, low=None, high=None):
        value = getattr(self.cfg, name)
        if value is None and optional:
            return
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            raise ConfigError(
                f"{name} must be a whole number, not text (got {value!r}): write it without quotes",
                field=name,
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, got {value!r}", field=name)
        if low is not None and value < low:
            raise ConfigError(f"{name}={value} must be >= {low}", field=name)
        if high is not None and value > high:
            raise ConfigError(f"{name}={value} must be <= {high}", field=name)
        self._set(name, value)

    def choice(self, name, options):
        value = getattr(self.cfg, name)
        if value not in options:
            raise ConfigError(
                f"{name}={value!r}: give one of {', '.join(map(repr, options))}", field=name
            )

    def boolean(self, name):
        value = getattr(self.cfg, name)
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}", field=name)
