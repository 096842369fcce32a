"""The one-call functions of the public API: ``algobt.backtest`` and ``algobt.serve``."""

from __future__ import annotations

from algobt.engine.backtest import Backtest
from algobt.engine.data import load
from algobt.engine.result import Result
from algobt.engine.strategy import Strategy


def serve(**kwargs):
    """Start the algobt server without blocking (in a notebook: on the kernel's loop).

    Returns the running server: ``server.url`` (with its token), ``server.stop()``.
    Keyword arguments as ``algobt.server.app.serve`` (port, host, db, token, ...).
    """
    from algobt.server.app import serve as _serve

    return _serve(**kwargs)


def backtest(
    strategy: type[Strategy],
    symbol="DEMO",
    *,
    period=None,
    start_date=None,
    end_date=None,
    interval="1d",
    params: dict | None = None,
    save=None,
    strategy_name: str | None = None,
    **settings,
) -> Result:
    """Load ``symbol`` and run ``strategy`` on it in one call.

    symbol: a bundled demo symbol (``DEMO``, ``DEMO-FX``, ``DEMO-BTC``), a Yahoo
    ticker, a CSV/Parquet path or a DataFrame. period/start_date/end_date/interval:
    as for ``algobt.load``. params: strategy parameter overrides. settings: the
    broker settings of ``Backtest`` (cash, commission, slippage, ...).
    save/strategy_name: record the run in the store, as for ``Backtest``
    (``algobt.backtest(SmaCross, strategy_name="SMA")`` files it under "SMA").

    >>> from algobt.examples import SmaCross
    >>> backtest(SmaCross, "DEMO", period="1y", params={"fast": 5})["# Trades"] > 0
    True
    """
    data = load(symbol, period=period, start_date=start_date, end_date=end_date, interval=interval)
    name = symbol if isinstance(symbol, str) else None
    bt = Backtest(data, strategy, symbol=name, save=save, strategy_name=strategy_name, **settings)
    # What the store records with the run, so it can be run again from there.
    bt._save_config = {"symbol": bt.symbol, "interval": interval}
    for key, value in (("period", period), ("start_date", start_date), ("end_date", end_date)):
        if value is not None:
            bt._save_config[key] = value
    return bt.run(**(params or {}))
