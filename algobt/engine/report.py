"""A run's stats as the plain, JSON-safe records of the API (``docs/api.md``).

``backtest_result`` builds a ``BacktestResult`` from a stats Series of
``algobt.engine.metrics.compute_stats``; ``trade_records``, ``daily_stats``,
``symbol_stats`` and ``equity_points`` build its ``Trade``, ``DailyStat``,
``SymbolStat`` and ``EquityPoint`` lists. Units: percentages as percent
numbers, money in the account currency, ISO 8601 stamps in UTC (dates alone
for daily bars), and ``None`` wherever a statistic cannot be computed (never
NaN or infinity). ``json_number``, ``is_daily`` and ``iso_stamps`` are the
same conversions for other JSON writers (the event stream).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from algobt.errors import DataError

__all__ = [
    "backtest_result",
    "daily_stats",
    "duration_seconds",
    "equity_points",
    "is_daily",
    "iso_stamps",
    "json_number",
    "symbol_stats",
    "trade_records",
]


def json_number(value: Any) -> float | None:
    """A finite float for JSON, or None for NaN/±inf/missing.

    >>> json_number(2), json_number(float("nan")), json_number(None)
    (2.0, None, None)
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def duration_seconds(value: Any) -> float | None:
    """A duration in seconds, or None when it is NaT/NaN (nothing to measure)."""
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    return None


def is_daily(stamps: pd.Index) -> bool:
    """True when every stamp sits at midnight of its own clock: daily (or coarser)
    bars, written as plain dates.

    >>> is_daily(pd.date_range("2024-01-01", periods=3, freq="D"))
    True
    """
    if not isinstance(stamps, pd.DatetimeIndex):
        return False
    stamps = stamps.dropna()
    return len(stamps) > 0 and bool((stamps == stamps.normalize()).all())


def iso_stamps(stamps: Any, daily: bool) -> list[str | None]:
    """ISO 8601 texts: ``"2024-01-02"`` for daily bars (the bar's own date),
    ``"2024-01-02T14:30:00Z"`` otherwise (converted to UTC; naive stamps are
    taken as UTC). NaT becomes None; a non-datetime index passes through.

    >>> iso_stamps(pd.DatetimeIndex(["2024-01-02 14:30", None]), daily=False)
    ['2024-01-02T14:30:00Z', None]
    """
    stamps = pd.Index(stamps)
    if not isinstance(stamps, pd.DatetimeIndex):
        return [s.item() if isinstance(s, np.generic) else s for s in stamps]
    # numpy writes the texts (ten times faster than strftime on 100,000 stamps).
    if daily:
        if stamps.tz is not None:
            stamps = stamps.tz_localize(None)  # the bar's own date, as its clock reads
        texts = np.datetime_as_string(stamps.values.astype("datetime64[D]"), unit="D")
        suffix = ""
    else:
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
        unit = "us" if (stamps.dropna().microsecond != 0).any() else "s"
        texts = np.datetime_as_string(stamps.values.astype(f"datetime64[{unit}]"), unit=unit)
        suffix = "Z"
    missing = stamps.isna()
    return [
        None if gone else text + suffix for text, gone in zip(texts.tolist(), missing, strict=True)
    ]


def _days(stamps: pd.DatetimeIndex, daily: bool) -> pd.DatetimeIndex:
    """Calendar day of each stamp: the bar's own date for daily bars, the UTC date
    for intraday bars."""
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None) if daily else stamps.tz_convert("UTC").tz_localize(None)
    return stamps.normalize()


def _equity_series(equity_curve: pd.DataFrame | pd.Series) -> pd.Series:
    equity = equity_curve["Equity"] if isinstance(equity_curve, pd.DataFrame) else equity_curve
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise DataError("equity curve needs a DatetimeIndex", field="equity_curve")
    return equity.astype(float)


def daily_stats(trades: pd.DataFrame, equity_curve: pd.DataFrame | pd.Series) -> list[dict]:
    """One ``DailyStat`` per calendar day that has bars.

    ``profit``: realized P&L (money, net of commission) of trades closed that
    day; ``trades``: how many closed; ``balance``: equity at the day's last bar;
    ``drawdown``: percent below the running peak of those end-of-day balances
    (positive). Days are UTC dates for intraday data, the bar's date for daily.

    >>> idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    >>> trades = pd.DataFrame({"PnL": [5.0], "ExitTime": [idx[1]]})
    >>> daily_stats(trades, pd.Series([100.0, 105.0], index=idx))[1]["profit"]
    5.0
    """
    equity = _equity_series(equity_curve)
    daily = is_daily(equity.index)
    balance = equity.groupby(_days(equity.index, daily)).last()
    peak = balance.cummax()
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, (1 - balance / peak) * 100, 0.0)
    closed = pd.DataFrame(
        {
            "day": _days(pd.DatetimeIndex(trades["ExitTime"]), daily),
            "PnL": trades["PnL"].to_numpy(dtype=float),
        }
    )
    per_day = closed.groupby("day")["PnL"].agg(["sum", "size"]).reindex(balance.index)
    profit = per_day["sum"].fillna(0.0).to_numpy()
    count = per_day["size"].fillna(0).to_numpy(dtype=np.int64)
    days = balance.index.strftime("%Y-%m-%d")
    return [
        {
            "day": days[i],
            "profit": json_number(profit[i]) or 0.0,
            "trades": int(count[i]),
            "balance": json_number(balance.iloc[i]),
            "drawdown": json_number(drawdown[i]),
        }
        for i in range(len(balance))
    ]


def symbol_stats(per_symbol: Mapping[str, pd.DataFrame]) -> list[dict]:
    """One ``SymbolStat`` per symbol, in the mapping's order.

    ``profit``: summed trade P&L (money); ``percentage``: that profit's share of
    the summed *absolute* profits of all symbols (percent; the shares add to
    100 when any symbol made or lost money, else all 0); ``win_rate``: percent of
    the symbol's trades with P&L > 0 (0 with no trades, like ``summary``).

    >>> t = pd.DataFrame({"PnL": [30.0, -10.0]})
    >>> [row["percentage"] for row in symbol_stats({"A": t, "B": t.iloc[:1]})]
    [40.0, 60.0]
    """
    rows = []
    for symbol, trades in per_symbol.items():
        pnl = trades["PnL"].to_numpy(dtype=float)
        rows.append(
            {
                "symbol": symbol,
                "trades": int(pnl.size),
                "profit": float(pnl.sum()),
                "win_rate": float((pnl > 0).mean() * 100) if pnl.size else 0.0,
            }
        )
    total = sum(abs(row["profit"]) for row in rows)
    for row in rows:
        row["percentage"] = abs(row["profit"]) / total * 100 if total > 0 else 0.0
    return rows


def trade_records(
    trades: pd.DataFrame,
    symbol: str,
    *,
    initial_capital: float | None = None,
    daily: bool | None = None,
) -> list[dict]:
    """``Trade`` records, in the frame's (closing) order.

    ``action``: ``"buy"`` for a long, ``"short"`` for a short; ``quantity`` and
    ``size``: absolute units; ``profit``/``pnl``: money net of commission;
    ``return_pct``: percent; ``commission``: money paid on entry and exit;
    ``date``/``timestamp``: the exit time. ``balance`` is the realized account
    balance after this exit, ``initial_capital`` plus the P&L of this and all
    earlier closed trades (None when ``initial_capital`` is not given); with one
    position at a time it equals equity right after the exit fill.
    A ``Symbol`` column, when present, overrides ``symbol`` per row.
    ``daily`` forces date-only stamps (True) or full UTC stamps (False);
    None decides from the stamps themselves.

    >>> t = pd.DataFrame({"Size": [-2], "EntryPrice": [10.0], "ExitPrice": [9.0],
    ...     "PnL": [2.0], "ReturnPct": [0.1], "Commission": [0.0],
    ...     "EntryTime": [pd.Timestamp("2024-01-02")], "ExitTime": [pd.Timestamp("2024-01-03")]})
    >>> trade_records(t, "X")[0]["action"], trade_records(t, "X", initial_capital=100)[0]["balance"]
    ('short', 102.0)
    """
    entry, exit_ = pd.Index(trades["EntryTime"]), pd.Index(trades["ExitTime"])
    if daily is None:
        daily = is_daily(entry.append(exit_))
    entry_iso, exit_iso = iso_stamps(entry, daily), iso_stamps(exit_, daily)

    def column(name: str) -> np.ndarray:
        return pd.to_numeric(trades[name], errors="coerce").to_numpy(dtype=float)

    size, pnl = column("Size"), column("PnL")
    entry_price, exit_price = column("EntryPrice"), column("ExitPrice")
    return_pct, commission = column("ReturnPct") * 100, column("Commission")
    balance = (
        initial_capital + np.cumsum(np.nan_to_num(pnl)) if initial_capital is not None else None
    )
    symbols = trades["Symbol"].tolist() if "Symbol" in trades.columns else [symbol] * len(trades)
    records = []
    for i in range(len(trades)):
        units, profit = json_number(abs(size[i])), json_number(pnl[i])
        records.append(
            {
                "entry_time": entry_iso[i],
                "exit_time": exit_iso[i],
                "date": exit_iso[i],
                "timestamp": exit_iso[i],
                "symbol": symbols[i],
                "action": "buy" if size[i] > 0 else "short",
                "entry_price": json_number(entry_price[i]),
                "exit_price": json_number(exit_price[i]),
                "quantity": units,
                "size": units,
                "profit": profit,
                "pnl": profit,
                "return_pct": json_number(return_pct[i]),
                "commission": json_number(commission[i]),
                "balance": None if balance is None else json_number(balance[i]),
            }
        )
    return records


def equity_points(equity_curve: pd.DataFrame | pd.Series) -> list[dict]:
    """One ``EquityPoint`` ``{"timestamp", "equity"}`` per bar (equity in money).

    >>> idx = pd.date_range("2024-01-02 14:30", periods=1, freq="h", tz="UTC")
    >>> equity_points(pd.Series([100.0], index=idx))
    [{'timestamp': '2024-01-02T14:30:00Z', 'equity': 100.0}]
    """
    equity = _equity_series(equity_curve)
    stamps = iso_stamps(equity.index, is_daily(equity.index))
    return [
        {"timestamp": t, "equity": json_number(v)}
        for t, v in zip(stamps, equity.to_numpy(), strict=True)
    ]


def backtest_result(
    stats: pd.Series,
    *,
    symbol: str,
    strategy_name: str,
    trades_by_symbol: Mapping[str, pd.DataFrame] | None = None,
    initial_capital: float | None = None,
    timeframe: str | None = None,
    period: str | None = None,
    commission: float | None = None,
) -> dict:
    """The ``BacktestResult`` (and ``LatestBacktestResult`` metrics) as a JSON-safe dict.

    Every metric is the number in ``stats`` (``sharpe_ratio`` is ``Sharpe
    Ratio``), except ``max_drawdown``/``avg_drawdown`` which flip the sign to a
    positive percent and durations which become seconds; NaN/±inf become None.
    ``initial_capital`` defaults to the first equity value; ``commission`` is
    the commission *rate* echoed from the config (``commissions`` is the money
    paid). ``trades_by_symbol`` fills ``symbol_stats`` for multi-symbol runs
    (else the trades' ``Symbol`` column, else all trades under ``symbol``).
    ``summary.totalProfit`` is ``net_profit`` (final − initial equity, money);
    ``summary.averageTrade`` the mean trade P&L (money); both 0 with no trades
    where undefined. Survives ``json.dumps(..., allow_nan=False)``.
    """
    trades: pd.DataFrame = stats["_trades"]
    curve: pd.DataFrame = stats["_equity_curve"]
    daily = is_daily(curve.index)
    capital = float(curve["Equity"].iloc[0]) if initial_capital is None else initial_capital
    pnl = trades["PnL"].to_numpy(dtype=float)
    n_trades = int(stats["# Trades"])
    winning = int((pnl > 0).sum())
    final = json_number(stats["Equity Final [$]"])
    net_profit = json_number(stats["Equity Final [$]"] - capital)
    win_rate = json_number(stats["Win Rate [%]"])
    if trades_by_symbol is None:
        if "Symbol" in trades.columns:
            trades_by_symbol = {str(k): g for k, g in trades.groupby("Symbol", sort=False)}
        else:
            trades_by_symbol = {symbol: trades}
    start, end = iso_stamps(pd.Index([stats["Start"], stats["End"]]), daily)

    def stat(key: str) -> float | None:
        return json_number(stats.get(key))

    def positive(key: str) -> float | None:
        value = stat(key)
        return None if value is None else -value + 0.0  # + 0.0 turns -0.0 into 0.0

    return {
        "strategy": strategy_name,
        "strategy_name": strategy_name,
        "symbol": symbol,
        "timeframe": timeframe,
        "period": period,
        "commission": commission,
        "start_date": start,
        "end_date": end,
        "initial_capital": capital,
        "initial_balance": capital,
        "final_value": final,
        "final_equity": final,
        "net_profit": net_profit,
        "total_return": stat("Return [%]"),
        "total_return_pct": stat("Return [%]"),
        "sharpe_ratio": stat("Sharpe Ratio"),
        "max_drawdown": positive("Max. Drawdown [%]"),
        "win_rate": win_rate,
        "profit_factor": stat("Profit Factor"),
        "total_trades": n_trades,
        "winning_trades": winning,
        "losing_trades": n_trades - winning,
        "sortino_ratio": stat("Sortino Ratio"),
        "calmar_ratio": stat("Calmar Ratio"),
        "cagr": stat("CAGR [%]"),
        "annual_return": stat("Return (Ann.) [%]"),
        "volatility": stat("Volatility (Ann.) [%]"),
        "exposure_pct": stat("Exposure Time [%]"),
        "equity_peak": stat("Equity Peak [$]"),
        "commissions": stat("Commissions [$]") or 0.0,
        "buy_and_hold_return": stat("Buy & Hold Return [%]"),
        "alpha": stat("Alpha [%]"),
        "beta": stat("Beta"),
        "avg_drawdown": positive("Avg. Drawdown [%]"),
        "max_drawdown_duration": duration_seconds(stats["Max. Drawdown Duration"]),
        "avg_drawdown_duration": duration_seconds(stats["Avg. Drawdown Duration"]),
        "best_trade_pct": stat("Best Trade [%]"),
        "worst_trade_pct": stat("Worst Trade [%]"),
        "avg_trade_pct": stat("Avg. Trade [%]"),
        "max_holding_time": duration_seconds(stats["Max. Trade Duration"]),
        "avg_holding_time": duration_seconds(stats["Avg. Trade Duration"]),
        "expectancy": stat("Expectancy [%]"),
        "sqn": stat("SQN"),
        "kelly_criterion": stat("Kelly Criterion"),
        "summary": {
            "totalTrades": n_trades,
            "winRate": win_rate or 0.0,
            "totalProfit": net_profit or 0.0,
            "averageTrade": (json_number(pnl.mean()) or 0.0) if n_trades else 0.0,
        },
        "trades": trade_records(trades, symbol, initial_capital=capital, daily=daily),
        "daily_stats": daily_stats(trades, curve),
        "symbol_stats": symbol_stats(trades_by_symbol),
        "equity_curve": equity_points(curve),
    }
