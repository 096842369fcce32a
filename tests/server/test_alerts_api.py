"""Alerts over the API: the summary by default, every alert with ``?alerts=full``.

200 of cash cannot buy one DEMO share (311-426), so every entry of a run is
canceled with an alert: many alerts of one code, the case the summary is for.
"""

from __future__ import annotations

import pytest

from tests.strategies import EMA_CROSS as SPEC
from tests.strategies import SMA_CROSS

QUICK = "/api/backtests/api/quick_run/"


def config(strategy_code):
    return {
        "strategy_code": strategy_code,
        "symbol": "DEMO",
        "period": "2y",
        "timeframe": "1d",
        "initial_balance": 200,
    }


@pytest.mark.parametrize("code", [SPEC, SMA_CROSS], ids=["json spec", "python (worker)"])
def test_quick_run_gives_the_summary_unless_full_is_asked_for(client, code):
    status, summary = client.post(QUICK, config(code))
    assert status == 200, summary
    status, full = client.post(QUICK + "?alerts=full", config(code))
    assert status == 200, full
    assert summary["total_trades"] == full["total_trades"] == 0
    every, grouped = full["alerts"], summary["alerts"]
    assert len(every) > 3 and {a["code"] for a in every} == {"order_canceled"}
    assert [(g["code"], g["reason"], g["count"]) for g in grouped] == [
        ("order_canceled", "no_lot_affordable", len(every))
    ]
    assert (grouped[0]["bar"], grouped[0]["time"]) == (every[0]["bar"], every[0]["time"])
    assert (grouped[0]["last_bar"], grouped[0]["last_time"]) == (
        every[-1]["bar"],
        every[-1]["time"],
    )
    assert grouped[0]["message"] == every[0]["message"]
    # What was saved is what was answered: the summary row, or every alert.
    status, monitor = client.get(f"/api/backtests/api/monitor/{summary['run']}/")
    assert status == 200 and [a["count"] for a in monitor["alerts"]] == [len(every)]
    status, monitor = client.get(f"/api/backtests/api/monitor/{full['run']}/")
    assert status == 200 and [a["bar"] for a in monitor["alerts"]] == [a["bar"] for a in every]


def test_an_unknown_alerts_mode_is_refused(client):
    status, body = client.post(QUICK + "?alerts=all", config(SPEC))
    assert status == 400 and body["error"]["field"] == "alerts", body
