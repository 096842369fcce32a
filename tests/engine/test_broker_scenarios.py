"""SimBroker walked through small scenarios, each worked out by hand.

Bars (daily), prices chosen so every fill is easy to check:

    bar  Open  High  Low  Close
     0   100   101    99   100
     1   100   102    98   101
     2   102   104   100   103
     3   104   112    95   110
     4   108   109   100   105
     5    90    92    85    88      <- gaps down
"""

from __future__ import annotations

import pandas as pd
import pytest

from algobt import Backtest, Strategy

BARS = pd.DataFrame(
    {
        "Open": [100, 100, 102, 104, 108, 90],
        "High": [101, 102, 104, 112, 109, 92],
        "Low": [99, 98, 100, 95, 100, 85],
        "Close": [100, 101, 103, 110, 105, 88],
        "Volume": [1000.0] * 6,
    },
    index=pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC"),
).astype(float)


class Script(Strategy):
    """Calls ``plan[bar](self)`` on the bars listed in ``plan``."""

    plan: dict = {}

    def next(self):
        step = self.plan.get(len(self.data) - 1)
        if step:
            step(self)


def run(plan, **kwargs):
    kwargs.setdefault("cash", 10_000)
    return Backtest(BARS, Script, **kwargs).run(plan=plan)


def test_market_order_fills_next_open_with_commission_both_sides():
    # Buy 10 on bar 1 -> filled at bar 2's open (102); close on bar 3 -> bar 4's open (108).
    result = run({1: lambda s: s.buy(size=10), 3: lambda s: s.position.close()}, commission=0.001)
    (trade,) = result.trades.itertuples()
    assert (trade.EntryBar, trade.EntryPrice, trade.ExitBar, trade.ExitPrice) == (2, 102, 4, 108)
    commission = 0.001 * 10 * 102 + 0.001 * 10 * 108
    assert trade.Commission == pytest.approx(commission)
    assert trade.PnL == pytest.approx(10 * (108 - 102) - commission)
    assert result["Equity Final [$]"] == pytest.approx(10_000 + trade.PnL)


def test_trade_on_close_fills_at_the_signal_bars_close():
    result = run(
        {1: lambda s: s.buy(size=10), 3: lambda s: s.position.close()}, trade_on_close=True
    )
    (trade,) = result.trades.itertuples()
    assert (trade.EntryBar, trade.EntryPrice, trade.ExitBar, trade.ExitPrice) == (1, 101, 3, 110)


def test_slippage_moves_every_fill_against_the_trader():
    long = run({1: lambda s: s.buy(size=10), 3: lambda s: s.position.close()}, slippage=0.01)
    (trade,) = long.trades.itertuples()
    assert trade.EntryPrice == pytest.approx(102 * 1.01)
    assert trade.ExitPrice == pytest.approx(108 * 0.99)
    short = run({1: lambda s: s.sell(size=10), 3: lambda s: s.position.close()}, slippage=0.01)
    (trade,) = short.trades.itertuples()
    assert trade.EntryPrice == pytest.approx(102 * 0.99)
    assert trade.ExitPrice == pytest.approx(108 * 1.01)
    assert trade.PnL == pytest.approx(-10 * (108 * 1.01 - 102 * 0.99))


def test_stop_loss_and_take_profit_in_one_bar_assume_the_worse_by_default():
    # Entry at bar 2's open (102); bar 3 spans 95..112, hitting both SL 97 and TP 110.
    plan = {1: lambda s: s.buy(size=10, sl=97, tp=110)}
    (trade,) = run(plan).trades.itertuples()
    assert (trade.ExitBar, trade.ExitPrice) == (3, 97)
    (trade,) = run(plan, sl_tp_priority="take_profit").trades.itertuples()
    assert (trade.ExitBar, trade.ExitPrice) == (3, 110)


def test_a_gap_through_the_stop_fills_at_the_open():
    # Long from bar 2 (102) with SL 89: bar 5 opens at 90, above the stop, then trades
    # down to 85, so the stop is touched intrabar and fills at 89.
    (trade,) = run({1: lambda s: s.buy(size=10, sl=89)}).trades.itertuples()
    assert (trade.ExitBar, trade.ExitPrice) == (5, 89)
    # Short from bar 2 (102) with SL 111: bar 3's high 112 touches it -> fills at 111.
    (trade,) = run({1: lambda s: s.sell(size=10, sl=111)}).trades.itertuples()
    assert (trade.ExitBar, trade.ExitPrice) == (3, 111)
    # Long with SL 91, placed on bar 4: bar 5 gaps below it and fills at its open, 90.
    plan = {1: lambda s: s.buy(size=10), 4: lambda s: setattr(s.trades[0], "sl", 91)}
    (trade,) = run(plan).trades.itertuples()
    assert (trade.ExitBar, trade.ExitPrice) == (5, 90)


def test_limit_order_fills_at_limit_or_better():
    # Limit buy at 99 placed on bar 1: bar 2 (low 100) misses, bar 3 (low 95, open 104)
    # fills at the limit, 99.
    (trade,) = run({1: lambda s: s.buy(size=5, limit=99)}, finalize_trades=True).trades.itertuples()
    assert (trade.EntryBar, trade.EntryPrice) == (3, 99)


def test_fraction_sizing_and_lot_size_round_down():
    # 50% of 1000 cash at bar 2's open 102 with lot 0.01: floor(500 / 102 / 0.01) * 0.01 = 4.90.
    result = run(
        {1: lambda s: s.buy(size=0.5), 3: lambda s: s.position.close()}, cash=1000, lot_size=0.01
    )
    (trade,) = result.trades.itertuples()
    assert trade.Size == pytest.approx(4.90)
    # With whole units the same order buys 4.
    (trade,) = run(
        {1: lambda s: s.buy(size=0.5), 3: lambda s: s.position.close()}, cash=1000
    ).trades.itertuples()
    assert trade.Size == 4


def test_an_order_the_account_cannot_pay_is_canceled_and_reported():
    result = run({1: lambda s: s.buy(size=500)}, cash=1000)
    assert result["# Trades"] == 0 and result.open_trades == 0
    assert [a["code"] for a in result.alerts] == ["order_canceled"]
    assert result.alerts[0]["bar"] == 2


def test_next_sees_only_the_past():
    seen = []

    class Peek(Strategy):
        def init(self):
            self.ma = self.I(lambda c: c * 2, self.data.Close)

        def next(self):
            i = len(self.data) - 1
            seen.append(
                (i, len(self.data.Close), len(self.ma), self.data.Close[-1], self.data.index[-1])
            )

    Backtest(BARS, Peek).run()
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5]  # bar 0 only seeds "previous bar"
    for i, n_close, n_ma, close, stamp in seen:
        assert n_close == n_ma == i + 1
        assert close == BARS["Close"].iloc[i] and stamp == BARS.index[i]


def test_equity_is_cash_plus_open_pl_every_bar_and_pl_sums_up():
    plan = {
        1: lambda s: s.buy(size=10),
        2: lambda s: s.sell(size=4),
        3: lambda s: s.buy(size=0.3, sl=80),
        4: lambda s: s.position.close(),
    }
    result = run(plan, commission=0.001, finalize_trades=True)
    equity = result.equity_curve["Equity"]
    assert result.trades["PnL"].sum() == pytest.approx(equity.iloc[-1] - 10_000)


def test_going_bust_closes_every_trade_and_stops():
    # Three short entries of 30 units, then the price triples: equity goes below zero.
    bars = BARS.copy()
    bars.loc[bars.index[4] :, ["Open", "High", "Low", "Close"]] = [300.0, 310.0, 290.0, 305.0]
    plan = {
        1: lambda s: s.sell(size=30),
        2: lambda s: s.sell(size=30),
        3: lambda s: s.sell(size=30),
    }
    result = Backtest(bars, Script, cash=10_000).run(plan=plan)
    equity = result.equity_curve["Equity"].to_numpy()
    assert equity[4] == 0 and (equity[4:] == 0).all()
    assert result.open_trades == 0 and len(result.trades) == 2  # the third never filled
    assert (result.trades["ExitBar"] == 4).all()
    assert [a["code"] for a in result.alerts][-1] == "out_of_money"
