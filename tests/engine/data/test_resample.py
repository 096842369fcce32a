"""Aggregation into coarser bars, checked by hand on tiny frames."""

from __future__ import annotations

import pandas as pd

from algobt.engine.data.periods import parse_interval
from algobt.engine.data.resample import resample_ohlcv


def bars(stamps, rows):
    index = pd.DatetimeIndex(stamps, name="Date").tz_localize("UTC").as_unit("ns")
    return pd.DataFrame(rows, index=index, columns=["Open", "High", "Low", "Close", "Volume"])


def test_4h_from_1h_by_hand_with_a_missing_hour():
    # 24h market, 00:00..06:00 UTC, with 02:00 missing and a bar on the next day.
    hourly = bars(
        [
            "2024-01-01 00:00",
            "2024-01-01 01:00",
            "2024-01-01 03:00",
            "2024-01-01 04:00",
            "2024-01-01 05:00",
            "2024-01-01 06:00",
            "2024-01-02 01:00",
        ],
        [
            [10, 12, 9, 11, 100],
            [11, 15, 10, 14, 200],
            [14, 14, 8, 9, 300],
            [9, 10, 7, 8, 50],
            [8, 11, 8, 10, 60],
            [10, 10, 9, 9.5, 70],
            [20, 21, 19, 20.5, 5],
        ],
    )
    out = resample_ohlcv(hourly, parse_interval("4h"))
    expected = bars(
        ["2024-01-01 00:00", "2024-01-01 04:00", "2024-01-02 01:00"],
        # first Open, max High, min Low, last Close, summed Volume
        [[10, 15, 8, 9, 600], [9, 11, 7, 9.5, 180], [20, 21, 19, 20.5, 5]],
    )
    pd.testing.assert_frame_equal(out, expected, check_dtype=False)


def test_4h_bins_follow_the_session_open_and_never_cross_midnight():
    # NYSE in winter: 1h bars at 14:30 .. 20:30 UTC -> 4h bars at 14:30 and 18:30.
    stamps = pd.date_range("2024-01-02 14:30", periods=7, freq="h").append(
        pd.date_range("2024-07-01 13:30", periods=7, freq="h")  # summer time: one hour earlier
    )
    rows = [[i + 1, i + 2, i, i + 1, 1.0] for i in range(14)]
    out = resample_ohlcv(bars(stamps, rows), parse_interval("4h"))
    assert [t.strftime("%m-%d %H:%M") for t in out.index] == [
        "01-02 14:30",
        "01-02 18:30",
        "07-01 13:30",
        "07-01 17:30",
    ]
    assert out["Volume"].tolist() == [4.0, 3.0, 4.0, 3.0]


def test_minutes_go_on_the_clock_and_empty_bins_are_dropped():
    minutes = bars(
        ["2024-01-02 14:30", "2024-01-02 14:33", "2024-01-02 14:44", "2024-01-02 15:01"],
        [[1, 2, 0.5, 1.5, 1], [1.5, 3, 1, 2, 1], [2, 2, 1.5, 1.8, 1], [5, 6, 4, 5, 1]],
    )
    out = resample_ohlcv(minutes, parse_interval("5m"))
    assert [t.strftime("%H:%M") for t in out.index] == ["14:30", "14:40", "15:00"]
    assert out.iloc[0].tolist() == [1, 3, 0.5, 2, 2]


def test_weeks_start_on_monday_and_days_at_midnight():
    daily = bars(
        ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"],  # Fri, Sat, Sun, Mon
        [[1, 2, 1, 2, 1], [2, 3, 2, 3, 1], [3, 4, 3, 4, 1], [4, 5, 4, 5, 1]],
    )
    weekly = resample_ohlcv(daily, parse_interval("1w"))
    assert [str(t.date()) for t in weekly.index] == ["2024-01-01", "2024-01-08"]
    assert weekly.iloc[0].tolist() == [1, 4, 1, 4, 3]
    hourly = bars(
        ["2024-01-02 22:00", "2024-01-02 23:00", "2024-01-03 00:00"],
        [[1, 2, 1, 2, 1], [2, 3, 2, 3, 1], [3, 4, 3, 4, 1]],
    )
    days = resample_ohlcv(hourly, parse_interval("1d"))
    assert [str(t) for t in days.index] == [
        "2024-01-02 00:00:00+00:00",
        "2024-01-03 00:00:00+00:00",
    ]
