"""The bundled demo datasets: realistic, synthetic, offline and the same on every machine.

``DEMO`` (equity index, NYSE hours), ``DEMO-FX`` (EUR/USD-like, 24 hours Monday
to Friday; a session runs 17:00-17:00 New York and its daily bar carries the
date it ends on) and ``DEMO-BTC`` (crypto, every day; quoted per 0.01 coin so
small accounts can trade whole units) ship as Parquet files in the
``demo/`` folder beside this module, made by ``scripts/make_demo_data.py``
(see it for how the bars are generated). ``demo/manifest.json`` lists each
symbol's files and ranges; prices are stored as whole ticks and divided back
into float64 prices here.

Each symbol has daily bars over its whole history, 1h bars for the last two
years and 1m bars for the last 30 sessions; other intervals are aggregated
from the finest stored one that divides them (5m/15m/30m from 1m, 4h from 1h,
1w from 1d).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd

from algobt.engine.data.frame import PRICE_COLUMNS, finish
from algobt.engine.data.periods import INTERVALS, Interval, parse_interval
from algobt.errors import ConfigError

DEMO_DIR = Path(__file__).resolve().parent / "demo"


def is_demo_symbol(symbol) -> bool:
    """True for names the demo source answers to: anything starting with ``DEMO`` (any case).

    >>> is_demo_symbol("demo-btc"), is_demo_symbol("AAPL")
    (True, False)
    """
    return isinstance(symbol, str) and symbol.strip().upper().startswith("DEMO")


@functools.cache
def manifest() -> dict:
    """The parsed ``demo/manifest.json``: symbols, their files, ranges and tick sizes.

    >>> [s["symbol"] for s in manifest()["symbols"]]
    ['DEMO', 'DEMO-FX', 'DEMO-BTC']
    """
    return json.loads((DEMO_DIR / "manifest.json").read_text())


def demo_symbols() -> list[str]:
    """Names of the bundled symbols.

    >>> "DEMO-FX" in demo_symbols()
    True
    """
    return [entry["symbol"] for entry in manifest()["symbols"]]


def list_symbols() -> list[dict]:
    """What the demo source can serve: one JSON-friendly dict per symbol.

    Each dict has ``symbol, name, description, source ("demo"), asset_class,
    currency, tick_size, trades_weekends`` and ``intervals``: one entry per
    servable interval with its ``start``/``end`` stamps (``2024-01-02`` or
    ``2024-01-02T14:30:00Z``), ``bars`` (stored intervals only, else ``None``)
    and ``resampled_from`` (``None`` for stored ones).

    >>> demo = list_symbols()[0]
    >>> demo["symbol"], [i["interval"] for i in demo["intervals"]]
    ('DEMO', ['1m', '5m', '15m', '30m', '1h', '4h', '1d', '1w'])
    """
    out = []
    for entry in manifest()["symbols"]:
        intervals = []
        for name in INTERVALS:
            stored = stored_interval(entry, parse_interval(name))
            if stored is None:
                continue
            info = entry["files"][stored]
            intervals.append(
                {
                    "interval": name,
                    "start": info["start"],
                    "end": info["end"],
                    "bars": info["bars"] if stored == name else None,
                    "resampled_from": None if stored == name else stored,
                }
            )
        out.append(
            {
                "symbol": entry["symbol"],
                "name": entry["name"],
                "description": entry["description"],
                "source": "demo",
                "asset_class": entry["asset_class"],
                "currency": entry["currency"],
                "tick_size": entry["tick_size"],
                "trades_weekends": entry["trades_weekends"],
                "intervals": intervals,
            }
        )
    return out


def stored_interval(entry: dict, interval: Interval) -> str | None:
    """The coarsest stored interval of ``entry`` that ``interval`` can be built from, if any.

    >>> stored_interval(manifest()["symbols"][0], parse_interval("4h"))
    '1h'
    """
    best = None
    for name in entry["files"]:
        length = parse_interval(name).length
        if length <= interval.length and interval.length % length == pd.Timedelta(0):
            if best is None or length > parse_interval(best).length:
                best = name
    return best


def demo_entry(symbol: str) -> dict:
    """The manifest entry of ``symbol`` (any case), or :class:`ConfigError` listing the symbols.

    >>> demo_entry("demo")["asset_class"]
    'equity'
    """
    wanted = symbol.strip().upper()
    for entry in manifest()["symbols"]:
        if entry["symbol"] == wanted:
            return entry
    raise ConfigError(
        f"unknown demo symbol {symbol!r}; the bundled ones are {', '.join(demo_symbols())}",
        field="symbol",
    )


def read_demo(symbol: str, interval: str) -> pd.DataFrame:
    """A fresh copy of the stored ``interval`` bars (``1d``, ``1h`` or ``1m``) of ``symbol``.

    >>> bars = read_demo("DEMO", "1d")
    >>> str(bars.index[0].date()), list(bars.columns)
    ('2010-01-04', ['Open', 'High', 'Low', 'Close', 'Volume'])
    """
    return _read(demo_entry(symbol)["symbol"], interval).copy()


@functools.lru_cache(maxsize=16)
def _read(symbol: str, interval: str) -> pd.DataFrame:
    entry = demo_entry(symbol)
    raw = pd.read_parquet(DEMO_DIR / entry["files"][interval]["file"])
    per_unit = entry["ticks_per_unit"]
    # Ticks / per_unit gives the nearest float64 to the decimal price, as generated.
    for name in PRICE_COLUMNS:
        raw[name] = raw[name].to_numpy() / per_unit
    return finish(raw)
