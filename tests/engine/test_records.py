"""The record layouts, the kernel's alert tally, ``Result.alerts`` and the alerts in JSON.

A run whose account runs low cancels entry after entry; these tests make such
runs (GOOG, too little cash for one share for a stretch) and check that the
records, the frame, the summary, the dicts and the JSON all tell the same story,
on the fast path and the class broker alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG

from algobt import Backtest
from algobt.engine import enums
from algobt.engine.alerts import Alerts
from algobt.engine.enums import AlertCode, SimSettings, alert_dt, alert_tally_dt, trade_dt
from algobt.engine.fast import SignalStrategy, from_signals, simulate_signals
from algobt.engine.run import run_config
from algobt.engine.strategy import ALL_IN
from algobt.store import Store

UP = np.zeros(len(GOOG), bool)
DOWN = np.zeros(len(GOOG), bool)
UP[5::20] = True  # enter SMA 3/12 cross, leave 10 bars later
DOWN[15::20] = True
# GOOG trades at 100-900; 400 of cash buys a share only while the price is below it.
LOW_CASH = dict(cash=400.0, commission=0.002)


def canceled_run():
    return from_signals(GOOG, UP, DOWN, **LOW_CASH)


def test_record_layouts_carry_a_column_index_first():
    for dtype in (trade_dt, alert_dt, alert_tally_dt):
        assert dtype.names[0] == "col" and dtype["col"] == np.int64
    assert trade_dt.names == (
        "col", "size", "entry_bar", "exit_bar", "entry_price", "exit_price", "sl", "tp",
        "pnl", "commission", "return_frac",
    )  # fmt: skip
    assert alert_dt.names == ("col", "code", "bar", "size", "equity")
    assert alert_tally_dt.names == ("col", "code", "count", "first_bar", "last_bar")
    assert list(AlertCode) == list(range(enums.N_ALERT_CODES))
    for table in (enums.ALERT_WIRE_CODE, enums.ALERT_REASON, enums.ALERT_LEVEL, enums.ALERT_TEXT):
        assert len(table) == enums.N_ALERT_CODES
    assert len(set(enums.ALERT_REASON)) == enums.N_ALERT_CODES
    assert "col" in SimSettings._fields and "cash" in SimSettings._fields


def test_kernel_tallies_each_alert_code():
    arrays = [GOOG[c].to_numpy(dtype=float) for c in ("Open", "High", "Low", "Close")]
    sim = simulate_signals(*arrays, UP, DOWN, cash=400.0, commission_rate=0.002, col=3)
    alerts, tally = sim.alerts, sim.alert_tally
    assert len(alerts) > 20 and len(sim.trades) > 5  # both trades and canceled entries
    assert (alerts["col"] == 3).all() and (sim.trades["col"] == 3).all()
    assert (tally["col"] == 3).all() and tally["code"].tolist() == list(AlertCode)
    for code in AlertCode:
        bars = alerts["bar"][alerts["code"] == code]
        t = tally[code]
        assert t["count"] == len(bars)
        if len(bars):
            assert (t["first_bar"], t["last_bar"]) == (bars[0], bars[-1])
        else:
            assert (t["first_bar"], t["last_bar"]) == (-1, -1)
    assert tally["count"][AlertCode.NoLotAffordable] == len(alerts)
    # Each cancellation is an entry signal's fill bar.
    assert set(alerts["bar"] - 1) <= set(np.flatnonzero(UP))


def test_out_of_money_is_tallied_once():
    px = np.array([10.0, 10.0, 10.0, 30.0, 40.0, 50.0])
    short = np.array([0, 1, 0, 0, 0, 0], bool)
    never = np.zeros(6, bool)
    sim = simulate_signals(
        px, px, px, px, never, never, short_entries=short, short_exits=never,
        size=1000, cash=20_000.0,
    )  # fmt: skip
    assert sim.alerts["code"].tolist() == [AlertCode.OutOfMoney]
    out = sim.alert_tally[AlertCode.OutOfMoney]
    assert (out["count"], out["first_bar"], out["last_bar"]) == (1, 3, 3)
    assert sim.equity[3:].tolist() == [0.0, 0.0, 0.0]
    assert sim.trades["exit_bar"].tolist() == [3] and sim.open_trades == 0


def test_alerts_read_as_dicts_frame_and_summary():
    result = canceled_run()
    alerts = result.alerts
    assert isinstance(alerts, Alerts) and len(alerts) == len(alerts.records) > 20
    first, last = alerts[0], alerts[-1]
    assert set(first) == {"level", "code", "bar", "time", "message"}
    assert first["code"] == "order_canceled" and first["time"] == GOOG.index[first["bar"]]
    assert first["message"].startswith("relative-sized order canceled: not enough margin")
    assert alerts[-1] == list(alerts)[-1] and alerts[1:3] == list(alerts)[1:3]
    with pytest.raises(IndexError):
        alerts[len(alerts)]

    frame = alerts.to_frame()
    assert list(frame.columns) == [
        "level", "code", "reason", "bar", "time", "size", "equity", "message",
    ]  # fmt: skip
    assert len(frame) == len(alerts)
    as_dicts = frame[["level", "code", "bar", "time", "message"]].to_dict("records")
    assert as_dicts == list(alerts)
    assert (frame["reason"] == "no_lot_affordable").all()
    assert (frame["size"] == ALL_IN).all()  # the all-in fraction, as ordered

    summary = alerts.summary()
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row["count"] == len(alerts)
    assert (row["first_bar"], row["last_bar"]) == (first["bar"], last["bar"])
    assert (row["first_time"], row["last_time"]) == (first["time"], last["time"])
    assert row["message"] == first["message"]


def test_class_broker_writes_the_same_records():
    fast = canceled_run()
    slow = Backtest(GOOG, SignalStrategy, **LOW_CASH).run(entries=UP, exits=DOWN)
    assert isinstance(slow.alerts, Alerts)
    a, b = fast.alerts.records, slow.alerts.records
    for field in ("col", "code", "bar", "size"):
        assert a[field].tolist() == b[field].tolist(), field
    np.testing.assert_allclose(a["equity"], b["equity"], rtol=1e-12)
    assert fast.alerts == slow.alerts
    pd.testing.assert_frame_equal(fast.alerts.summary(), slow.alerts.summary())


def test_summary_orders_codes_by_first_appearance_and_counts_each():
    index = pd.date_range("2024-01-01", periods=10, freq="D")
    rows = [
        (0, AlertCode.NoMargin, 2, 5.0, 99.0),
        (0, AlertCode.BelowOneLot, 3, 0.4, 98.0),
        (0, AlertCode.NoMargin, 6, 5.0, 97.5),
        (0, AlertCode.OutOfMoney, 8, 0.0, -1.0),
    ]
    alerts = Alerts(np.array(rows, dtype=alert_dt), index, lot_size=0.5)
    s = alerts.summary()
    assert s["reason"].tolist() == ["no_margin", "below_one_lot", "out_of_money"]
    assert s["code"].tolist() == ["order_canceled", "order_canceled", "out_of_money"]
    assert s["count"].tolist() == [2, 1, 1]
    assert s["first_bar"].tolist() == [2, 3, 8] and s["last_bar"].tolist() == [6, 3, 8]
    assert s["message"].tolist()[:2] == [
        "order of 5 units canceled: not enough margin (equity=99.00)",
        "order of 0.4 units is below one lot of 0.5",
    ]
    summary = alerts.to_json()
    assert summary[0] == {
        "level": "warning",
        "code": "order_canceled",
        "reason": "no_margin",
        "message": "order of 5 units canceled: not enough margin (equity=99.00)",
        "count": 2,
        "bar": 2,
        "time": index[2].isoformat(),
        "last_bar": 6,
        "last_time": index[6].isoformat(),
    }
    full = alerts.to_json("full")
    assert [a["bar"] for a in full] == [2, 3, 6, 8]
    assert full[2]["time"] == index[6].isoformat()
    assert Alerts().summary().empty and Alerts().to_json() == [] and not Alerts()
    with pytest.raises(ValueError, match="summary, full"):
        alerts.to_json("some")


def test_multi_symbol_alerts_name_their_symbol():
    a = Alerts(np.array([(0, AlertCode.NoMargin, 1, 2.0, 3.0)], alert_dt), GOOG.index[:5])
    b = Alerts(np.array([(0, AlertCode.NoMargin, 4, 2.0, 3.0)] * 2, alert_dt), GOOG.index[100:110])
    both = Alerts.concat({"A": a, "B": b})
    assert both.records["col"].tolist() == [0, 1, 1]
    assert [(x["symbol"], x["time"]) for x in both] == [
        ("A", GOOG.index[1]),
        ("B", GOOG.index[104]),
        ("B", GOOG.index[104]),
    ]
    assert list(both) == [dict(x, symbol="A") for x in a] + [dict(x, symbol="B") for x in b]
    summary = both.to_json()
    assert [(s["symbol"], s["count"]) for s in summary] == [("A", 1), ("B", 2)]
    assert both.to_frame()["time"].tolist() == [GOOG.index[1], GOOG.index[104], GOOG.index[104]]


SPEC = {
    "name": "SMA 3/12 cross",
    "version": 1,
    "indicators": {"fast": {"type": "SMA", "period": 3}, "slow": {"type": "SMA", "period": 12}},
    "entry": {"long": {"crosses_above": ["fast", "slow"]}},
    "exit": {"long": {"crosses_below": ["fast", "slow"]}},
    "risk": {"size_pct": 100},
}


def test_json_carries_the_summary_unless_the_full_list_is_asked_for(tmp_path):
    data = {"GOOG": GOOG}
    config = {
        "symbol": "GOOG",
        "strategy_code": SPEC,
        "initial_capital": 150.0,  # a share costs 100-800
        "commission": 0.002,
    }
    outcome = run_config(config, data=data)
    alerts = outcome.result.alerts
    assert len(alerts) > 10
    summary = outcome.to_dict()["alerts"]
    full = outcome.to_dict(alerts="full")["alerts"]
    assert sum(s["count"] for s in summary) == len(alerts) == len(full)
    assert len(summary) == len(set(alerts.records["code"].tolist())) < len(full)
    assert full[0] == {**alerts[0], "time": alerts[0]["time"].isoformat()}
    assert summary[0]["bar"] == full[0]["bar"] and summary[0]["last_bar"] == full[-1]["bar"]
    with pytest.raises(Exception, match="summary, full"):
        outcome.to_dict(alerts="all")

    with Store(tmp_path / "store.db") as store:
        run = store.record_run(config, outcome.to_dict())
        stored = store.list_alerts(run["id"])
        assert [
            (a["code"], a["bar"], a["count"], a["last_bar"], a["last_time"]) for a in stored
        ] == [(s["code"], s["bar"], s["count"], s["last_bar"], s["last_time"]) for s in summary]
        assert store.get_result(run["result_id"])["alerts"] == stored
        # A full list is kept as given, one row per alert (count 1).
        whole = store.record_run(config, outcome.to_dict(alerts="full"))
        rows = store.list_alerts(whole["id"])
        assert len(rows) == len(full) and {r["count"] for r in rows} == {1}
