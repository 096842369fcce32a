"""algobt.engine.metrics: stats equal to backtesting.py 0.6.6's, and the JSON records.

The oracle tests run real backtesting.py strategies and feed our
``compute_stats`` with backtesting.py's own trades and equity, so any
difference is in the statistics alone. A hypothesis test compares against
backtesting.py's ``compute_stats`` on random equity curves and trade lists.
The JSON tests are small cases worked by hand.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting._stats import compute_stats as bt_compute_stats
from backtesting.lib import crossover
from backtesting.test import BTCUSD, EURUSD, GOOG, SMA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algobt.engine.metrics import (
    TRADE_COLUMNS,
    backtest_result,
    compute_stats,
    daily_stats,
    drawdown_episodes_nb,
    equity_points,
    symbol_stats,
    trade_records,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "stats.md"


# --------------------------------------------------------------------------- oracle runs


class SmaReversal(Strategy):
    n1, n2 = 10, 20

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


class LongOnly(Strategy):
    def init(self):
        self.fast = self.I(SMA, self.data.Close, 5)
        self.slow = self.I(SMA, self.data.Close, 40)

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(size=0.5)
        elif crossover(self.slow, self.fast):
            self.position.close()


class NeverTrades(Strategy):
    def init(self):
        pass

    def next(self):
        pass


class OneTrade(Strategy):
    def init(self):
        pass

    def next(self):
        if len(self.data) == 30:
            self.buy()
        elif len(self.data) == 90:
            self.position.close()


class BuyAndHold(Strategy):
    """Enters once and never exits: the trade is open at the end."""

    def init(self):
        self.sma = self.I(SMA, self.data.Close, 15)

    def next(self):
        if not self.position:
            self.buy()


def _calendar_daily(n: int = 400, seed: int = 7) -> pd.DataFrame:
    """Synthetic OHLC on every calendar day (weekends included): annualized with 365."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.01, n)) * close
    return pd.DataFrame(
        {
            "Open": open_,
            "High": np.maximum(open_, close) + spread,
            "Low": np.minimum(open_, close) - spread,
            "Close": close,
            "Volume": np.full(n, 1e6),
        },
        index=pd.date_range("2021-01-01", periods=n, freq="D"),
    )


def _weekly(data: pd.DataFrame) -> pd.DataFrame:
    rule = {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}
    return data.resample("W").agg(rule).dropna()


SCENARIOS = {
    # name: (data, strategy, Backtest keyword arguments)
    "goog_sma_reversal": (GOOG, SmaReversal, {}),
    "goog_long_only": (GOOG, LongOnly, {}),
    "eurusd_hourly": (EURUSD, SmaReversal, {"cash": 10_000}),
    "btcusd_monthly": (BTCUSD, LongOnly, {"cash": 1_000_000}),
    "btcusd_bust": (BTCUSD, SmaReversal, {"cash": 1_000_000}),  # equity hits 0
    "calendar_daily_365": (_calendar_daily(), SmaReversal, {}),
    "goog_weekly": (_weekly(GOOG), SmaReversal, {}),
    "zero_trades": (GOOG.iloc[:200], NeverTrades, {}),
    "single_trade": (GOOG.iloc[:200], OneTrade, {}),
    "commission": (GOOG, SmaReversal, {"commission": 0.002}),
    "finalize_trades": (GOOG.iloc[:300], BuyAndHold, {"finalize_trades": True}),
    "open_at_end": (GOOG.iloc[:300], BuyAndHold, {}),
}


@pytest.fixture(scope="module")
def oracle():
    """backtesting.py's stats per scenario (computed once, lazily)."""
    cache: dict[str, pd.Series] = {}

    def run(name: str) -> tuple[pd.DataFrame, pd.Series]:
        data, strategy, kwargs = SCENARIOS[name]
        if name not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cache[name] = Backtest(data, strategy, **kwargs).run()
        return data, cache[name]

    return run


def _ours(data: pd.DataFrame, theirs: pd.Series, **kwargs) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our stats never warn, whatever the data
        return compute_stats(
            theirs["_trades"],
            theirs["_equity_curve"]["Equity"].to_numpy(),
            data,
            theirs["_strategy"],
            **kwargs,
        )


def _same_value(ours, theirs) -> bool:
    if isinstance(theirs, pd.Timedelta | pd.Timestamp) or theirs is pd.NaT:
        return type(ours) is type(theirs) and (ours == theirs or (ours is pd.NaT))
    if isinstance(ours, pd.Timedelta | pd.Timestamp) or ours is pd.NaT:
        return False
    a, b = float(ours), float(theirs)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def assert_same_stats(ours: pd.Series, theirs: pd.Series, *, skip=()) -> None:
    keys = [k for k in theirs.index if k not in skip]
    assert [k for k in ours.index if k not in skip] == keys
    for key in keys:
        if key == "_strategy":
            assert ours[key] is theirs[key]
        elif key in ("_equity_curve", "_trades"):
            pd.testing.assert_frame_equal(ours[key], theirs[key], rtol=1e-9)
        else:
            assert _same_value(ours[key], theirs[key]), (key, ours[key], theirs[key])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_stats_equal_backtesting_py(oracle, name):
    data, theirs = oracle(name)
    assert_same_stats(_ours(data, theirs), theirs)


def test_oracle_scenarios_cover_the_subtle_cases(oracle):
    """The scenarios above really exercise what they are named for."""
    assert oracle("zero_trades")[1]["# Trades"] == 0
    assert oracle("single_trade")[1]["# Trades"] == 1
    assert "Commissions [$]" in oracle("commission")[1].index
    assert "Commissions [$]" not in oracle("goog_sma_reversal")[1].index
    assert oracle("finalize_trades")[1]["# Trades"] == 1
    assert oracle("open_at_end")[1]["# Trades"] == 0
    assert oracle("btcusd_bust")[1]["Equity Final [$]"] == 0
    assert oracle("goog_long_only")[1]["Buy & Hold Return [%]"] != pytest.approx(
        (GOOG.Close.iloc[-1] / GOOG.Close.iloc[0] - 1) * 100
    ), "warm-up must move the Buy & Hold start"
    # Annualization: 252 (5-day week), 365 (7-day week), 12 (monthly), 52 (weekly).
    for name, periods in [
        ("goog_sma_reversal", 252),
        ("calendar_daily_365", 365),
        ("btcusd_monthly", 12),
        ("goog_weekly", 52),
    ]:
        data, theirs = oracle(name)
        curve = theirs["_equity_curve"]["Equity"]
        rule = {252: "D", 365: "D", 12: "ME", 52: "W"}[periods]
        returns = curve.resample(rule).last().dropna().pct_change().dropna()
        gmean = np.exp(np.log1p(returns).mean()) - 1
        expected = ((1 + gmean) ** periods - 1) * 100
        assert theirs["Return (Ann.) [%]"] == pytest.approx(expected, rel=1e-9), name


def test_tz_aware_data_gives_tz_aware_stamps_and_same_numbers(oracle):
    data, theirs = oracle("goog_sma_reversal")
    utc = data.tz_localize("UTC")
    trades = theirs["_trades"].copy()
    for col in ("EntryTime", "ExitTime"):
        trades[col] = trades[col].dt.tz_localize("UTC")
    equity = theirs["_equity_curve"]["Equity"].to_numpy()
    ours = compute_stats(trades, equity, utc, theirs["_strategy"])
    assert ours["Start"] == utc.index[0] and str(ours["Start"].tz) == "UTC"
    assert ours["_equity_curve"].index.equals(utc.index)
    expected = theirs.copy()
    expected["Start"], expected["End"] = utc.index[0], utc.index[-1]
    expected["_trades"] = trades
    expected["_equity_curve"] = theirs["_equity_curve"].tz_localize("UTC")
    assert_same_stats(ours, expected)


def test_warmup_bars_override_and_risk_free_rate(oracle):
    data, theirs = oracle("goog_sma_reversal")
    equity = theirs["_equity_curve"]["Equity"].to_numpy()
    by_number = compute_stats(theirs["_trades"], equity, data, warmup_bars=19)
    assert by_number["Buy & Hold Return [%]"] == theirs["Buy & Hold Return [%]"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = bt_compute_stats(theirs["_trades"], equity, data, theirs["_strategy"], 0.03)
    ours = compute_stats(theirs["_trades"], equity, data, theirs["_strategy"], 0.03)
    assert_same_stats(ours, expected, skip=("_trades",))


def test_bad_inputs_are_named():
    from algobt.errors import ConfigError, DataError

    data = GOOG.iloc[:5]
    trades = pd.DataFrame(columns=list(TRADE_COLUMNS))
    with pytest.raises(DataError, match="equity"):
        compute_stats(trades, np.ones(4), data)
    with pytest.raises(DataError, match="PnL"):
        compute_stats(trades.drop(columns="PnL"), np.ones(5), data)
    with pytest.raises(ConfigError, match="risk_free_rate"):
        compute_stats(trades, np.ones(5), data, risk_free_rate=1.5)


# --------------------------------------------------------------------------- property test

FREQS = {"B": "B", "D": "D", "h": "h", "W": "W-SUN", "ME": "ME"}


@st.composite
def runs(draw):
    n = draw(st.integers(2, 60))
    freq = draw(st.sampled_from(list(FREQS)))
    tz = draw(st.sampled_from([None, "UTC"]))
    index = pd.date_range("2022-01-03", periods=n, freq=FREQS[freq], tz=tz)
    steps = draw(
        st.lists(
            st.sampled_from([0.0, 0.0, 0.01, -0.01, 0.05, -0.2, 0.3, -0.5]), min_size=n, max_size=n
        )
    )
    if draw(st.booleans()):  # a bust: equity (or the market) hits 0 and stays there
        steps[draw(st.integers(0, n - 1))] = -1.0
    equity = 1000 * np.cumprod(1 + np.asarray(steps))
    close = 50 * np.cumprod(1 + np.asarray(draw(st.permutations(steps))))
    k = draw(st.integers(0, min(6, n)))
    rows = []
    for _ in range(k):
        a, b = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
        pnl = draw(st.sampled_from([-30.0, -5.0, 0.0, 12.5, 40.0]))
        ret = draw(st.sampled_from([-1.2, -0.1, 0.0, 0.02, 0.25]))
        rows.append((1.0, a, b, 10.0, 11.0, np.nan, np.nan, pnl, 0.0, ret, index[a], index[b]))
    trades = pd.DataFrame(rows, columns=list(TRADE_COLUMNS[:12]))
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    trades["Tag"] = None
    ohlc = pd.DataFrame({"Close": close}, index=index)
    return trades, equity, ohlc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_stats_equal_backtesting_py_on_random_runs(run):
    trades, equity, ohlc = run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = bt_compute_stats(trades, equity, ohlc, None, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = compute_stats(trades, equity, ohlc)
    assert_same_stats(ours, theirs)


def test_drawdown_episodes_kernel_by_hand():
    dd = np.array([0.0, 0.1, 0.3, 0.0, 0.0, 0.2, np.nan, 0.1])
    start, end, peak = drawdown_episodes_nb(dd)
    assert start.tolist() == [0, 4] and end.tolist() == [3, 7]
    assert peak.tolist() == [0.3, 0.2]
    # A dip only on the last bar is no episode (backtesting.py reports it raw).
    assert [a.size for a in drawdown_episodes_nb(np.array([0.0, 0.0, 0.1]))] == [0, 0, 0]


# --------------------------------------------------------------------------- JSON records


def _hand_case(index: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Five bars, two trades: a long closed on bar 1 (+10), a short closed on bar 4 (-5)."""
    equity = np.array([1000.0, 1010.0, 990.0, 1020.0, 1005.0])
    trades = pd.DataFrame(
        {
            "Size": [10, -5],
            "EntryBar": [0, 2],
            "ExitBar": [1, 4],
            "EntryPrice": [100.0, 102.0],
            "ExitPrice": [101.0, 103.0],
            "SL": [np.nan, np.nan],
            "TP": [np.nan, np.nan],
            "PnL": [10.0, -5.0],
            "Commission": [0.0, 0.0],
            "ReturnPct": [0.01, -1 / 102],
            "EntryTime": [index[0], index[2]],
            "ExitTime": [index[1], index[4]],
        }
    )
    trades["Duration"] = trades["ExitTime"] - trades["EntryTime"]
    trades["Tag"] = None
    ohlc = pd.DataFrame({"Close": [100.0, 101.0, 102.0, 101.0, 103.0]}, index=index)
    return trades, compute_stats(trades, equity, ohlc)


def test_daily_stats_by_hand_daily_bars():
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    trades, stats = _hand_case(index)
    rows = daily_stats(trades, stats["_equity_curve"])
    assert [r["day"] for r in rows] == [f"2024-01-0{d}" for d in range(1, 6)]
    assert [r["profit"] for r in rows] == [0.0, 10.0, 0.0, 0.0, -5.0]
    assert [r["trades"] for r in rows] == [0, 1, 0, 0, 1]
    assert [r["balance"] for r in rows] == [1000.0, 1010.0, 990.0, 1020.0, 1005.0]
    drawdown = [r["drawdown"] for r in rows]
    assert drawdown == pytest.approx([0, 0, 20 / 1010 * 100, 0, 15 / 1020 * 100], rel=1e-12)
    # The stats agree with the hand numbers.
    assert stats["Exposure Time [%]"] == 100.0
    assert stats["Win Rate [%]"] == 50.0
    assert stats["Max. Drawdown [%]"] == pytest.approx(-20 / 1010 * 100, rel=1e-12)
    assert stats["Return [%]"] == pytest.approx(0.5, rel=1e-12)


def test_daily_stats_by_hand_intraday_bars_group_by_utc_day():
    # 17:00..21:00 New York = 22:00..02:00 UTC: bars 0-1 on Jan 1, bars 2-4 on Jan 2 (UTC).
    index = pd.date_range("2024-01-01 17:00", periods=5, freq="h", tz="America/New_York")
    trades, stats = _hand_case(index)
    rows = daily_stats(trades, stats["_equity_curve"])
    assert rows == [
        {"day": "2024-01-01", "profit": 10.0, "trades": 1, "balance": 1010.0, "drawdown": 0.0},
        {
            "day": "2024-01-02",
            "profit": -5.0,
            "trades": 1,
            "balance": 1005.0,
            "drawdown": pytest.approx(5 / 1010 * 100, rel=1e-12),
        },
    ]


def test_trade_records_and_iso_stamps():
    index = pd.date_range("2024-01-02 09:30", periods=5, freq="h", tz="America/New_York")
    trades, _ = _hand_case(index)
    long, short = trade_records(trades, "AAPL", initial_capital=1000.0)
    assert long["entry_time"] == "2024-01-02T14:30:00Z"
    assert long["exit_time"] == long["date"] == long["timestamp"] == "2024-01-02T15:30:00Z"
    assert (long["action"], short["action"]) == ("buy", "short")
    assert (short["quantity"], short["size"]) == (5.0, 5.0)
    assert (short["profit"], short["pnl"]) == (-5.0, -5.0)
    assert long["return_pct"] == pytest.approx(1.0) and long["symbol"] == "AAPL"
    assert (long["balance"], short["balance"]) == (1010.0, 1005.0)
    daily = pd.date_range("2024-01-02", periods=5, freq="D")  # naive midnight: dates
    trades, _ = _hand_case(daily)
    assert trade_records(trades, "X")[0]["entry_time"] == "2024-01-02"
    assert trade_records(trades, "X")[0]["balance"] is None
    ny_daily = pd.date_range("2024-01-02", periods=5, freq="D", tz="America/New_York")
    trades, stats = _hand_case(ny_daily)
    assert trade_records(trades, "X")[1]["exit_time"] == "2024-01-06"
    points = equity_points(stats["_equity_curve"])
    assert points[0] == {"timestamp": "2024-01-02", "equity": 1000.0} and len(points) == 5


def test_symbol_stats_percentages_sum_to_100():
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    trades, _ = _hand_case(index)
    rows = symbol_stats({"A": trades.iloc[:1], "B": trades.iloc[1:], "C": trades.iloc[:0]})
    assert [r["symbol"] for r in rows] == ["A", "B", "C"]
    assert [r["profit"] for r in rows] == [10.0, -5.0, 0.0]
    assert [r["trades"] for r in rows] == [1, 1, 0]
    assert [r["win_rate"] for r in rows] == [100.0, 0.0, 0.0]
    assert sum(r["percentage"] for r in rows) == pytest.approx(100.0)
    assert rows[0]["percentage"] == pytest.approx(200 / 3)
    flat = symbol_stats({"A": trades.iloc[:0]})
    assert flat == [{"symbol": "A", "trades": 0, "profit": 0.0, "win_rate": 0.0, "percentage": 0.0}]


def _json_round_trip(result: dict) -> dict:
    return json.loads(json.dumps(result, allow_nan=False))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_backtest_result_is_json_and_carries_the_stats_numbers(oracle, name):
    data, theirs = oracle(name)
    stats = _ours(data, theirs)
    result = backtest_result(stats, symbol="GOOG", strategy_name="SmaReversal", timeframe="1d")
    assert _json_round_trip(result) == result
    same = {
        "sharpe_ratio": "Sharpe Ratio",
        "sortino_ratio": "Sortino Ratio",
        "calmar_ratio": "Calmar Ratio",
        "total_return": "Return [%]",
        "total_return_pct": "Return [%]",
        "final_value": "Equity Final [$]",
        "final_equity": "Equity Final [$]",
        "win_rate": "Win Rate [%]",
        "profit_factor": "Profit Factor",
        "total_trades": "# Trades",
        "cagr": "CAGR [%]",
        "volatility": "Volatility (Ann.) [%]",
        "exposure_pct": "Exposure Time [%]",
        "expectancy": "Expectancy [%]",
        "sqn": "SQN",
        "best_trade_pct": "Best Trade [%]",
        "worst_trade_pct": "Worst Trade [%]",
        "avg_trade_pct": "Avg. Trade [%]",
        "buy_and_hold_return": "Buy & Hold Return [%]",
    }
    for field, key in same.items():
        value = float(stats[key])
        expected = value if math.isfinite(value) else None
        assert result[field] == expected, field
    assert result["max_drawdown"] == -stats["Max. Drawdown [%]"] >= 0
    assert result["commissions"] == stats.get("Commissions [$]", 0.0)
    assert result["winning_trades"] + result["losing_trades"] == result["total_trades"]
    assert len(result["trades"]) == stats["# Trades"] == result["summary"]["totalTrades"]
    assert len(result["equity_curve"]) == len(data)
    assert result["net_profit"] == pytest.approx(
        stats["Equity Final [$]"] - 10_000 * (100 if name.startswith("btcusd") else 1)
    )
    assert result["summary"]["totalProfit"] == result["net_profit"]
    if stats["# Trades"]:
        assert result["trades"][-1]["balance"] == pytest.approx(
            result["initial_capital"] + stats["_trades"]["PnL"].sum()
        )
        assert sum(d["trades"] for d in result["daily_stats"]) == stats["# Trades"]
        assert sum(d["profit"] for d in result["daily_stats"]) == pytest.approx(
            stats["_trades"]["PnL"].sum()
        )
    avg = result["avg_holding_time"]
    assert avg is None or avg == stats["Avg. Trade Duration"].total_seconds()
    stamp = result["trades"][0]["exit_time"] if result["trades"] else result["end_date"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", stamp)


def test_zero_trades_flat_equity_gives_zeros_and_nulls():
    index = pd.date_range("2024-01-01", periods=30, freq="B", tz="UTC")
    ohlc = pd.DataFrame({"Close": np.linspace(10, 20, 30)}, index=index)
    stats = compute_stats(pd.DataFrame(columns=list(TRADE_COLUMNS)), np.full(30, 5000.0), ohlc)
    result = _json_round_trip(backtest_result(stats, symbol="DEMO", strategy_name="Idle"))
    assert result["summary"] == {
        "totalTrades": 0,
        "winRate": 0,
        "totalProfit": 0,
        "averageTrade": 0,
    }
    for field in ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "win_rate", "profit_factor"):
        assert result[field] is None, field
    assert result["max_drawdown"] == 0.0 and result["total_return"] == 0.0
    assert result["trades"] == [] and result["total_trades"] == 0
    assert result["symbol_stats"] == [
        {"symbol": "DEMO", "trades": 0, "profit": 0.0, "win_rate": 0.0, "percentage": 0.0}
    ]
    assert [d["trades"] for d in result["daily_stats"]] == [0] * 30
    assert result["start_date"] == "2024-01-01" and result["end_date"] == "2024-02-09"


def test_multi_symbol_result_uses_the_symbol_column():
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    trades, _ = _hand_case(index)
    trades["Symbol"] = ["AAA", "BBB"]
    ohlc = pd.DataFrame({"Close": [1.0, 2.0, 3.0, 2.0, 1.0]}, index=index)
    stats = compute_stats(trades, np.array([1000.0, 1010.0, 990.0, 1020.0, 1005.0]), ohlc)
    result = backtest_result(stats, symbol="AAA,BBB", strategy_name="S")
    assert [t["symbol"] for t in result["trades"]] == ["AAA", "BBB"]
    assert [s["symbol"] for s in result["symbol_stats"]] == ["AAA", "BBB"]


# --------------------------------------------------------------------------- docs


def test_every_stats_key_and_result_field_is_documented(oracle):
    text = DOCS.read_text()
    data, theirs = oracle("commission")  # the one run that has every key
    stats = _ours(data, theirs)
    for key in stats.index:
        assert f"`{key}`" in text, f"docs/stats.md lacks {key!r}"
    result = backtest_result(stats, symbol="GOOG", strategy_name="S")
    for field in [*result, *result["summary"]]:
        assert f"`{field}`" in text, f"docs/stats.md lacks the field {field!r}"
