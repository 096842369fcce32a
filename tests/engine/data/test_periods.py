"""Period and interval spellings, windows and their errors."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from algobt.engine.data import INTERVALS, PERIODS
from algobt.engine.data.periods import (
    PERIOD_ALIASES,
    parse_date,
    parse_interval,
    parse_period,
    resolve_window,
)
from algobt.errors import ConfigError

END = pd.Timestamp("2025-01-01", tz="UTC")  # exclusive end of data ending 2024-12-31


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("1wk", "1week"),
        ("1mo", "1month"),
        ("3mo", "3months"),
        ("6mo", "6months"),
        ("1y", "1year"),
        ("2y", "2years"),
    ],
)
def test_both_spellings_of_the_report_mean_the_same_period(short, long):
    assert parse_period(short) == parse_period(long) == short
    assert resolve_window(short, anchor=END) == resolve_window(long, anchor=END)


def test_every_spec_period_is_accepted():
    assert set(PERIODS) == {
        "1wk",
        "1mo",
        "3mo",
        "6mo",
        "1y",
        "2y",
        "5y",
        "10y",
        "ytd",
        "max",
        "custom",
    }
    assert set(PERIOD_ALIASES.values()) <= set(PERIODS)
    for name in PERIODS:
        assert parse_period(name) == name


def test_intervals_and_aliases():
    assert INTERVALS == ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
    assert parse_interval("60m") == parse_interval("1h")
    assert parse_interval("1wk").name == "1w"
    assert parse_interval("4h").length == pd.Timedelta(hours=4)
    assert parse_interval(None).name == "1d"
    assert parse_interval(None, default=None) is None
    assert parse_interval("1h").intraday and not parse_interval("1d").intraday


@pytest.mark.parametrize("bad", ["2h", "1M", "daily", "1 d"])
def test_unknown_interval_lists_the_allowed_ones(bad):
    with pytest.raises(ConfigError) as err:
        parse_interval(bad)
    assert err.value.field == "interval"
    assert "1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w" in err.value.message
    assert "60m=1h" in err.value.message


@pytest.mark.parametrize("bad", ["2weeks", "1d", "1Y", "forever", 12])
def test_unknown_period_lists_the_allowed_ones(bad):
    with pytest.raises(ConfigError) as err:
        parse_period(bad)
    assert err.value.field == "period"
    assert "1wk, 1mo, 3mo" in err.value.message and "1week=1wk" in err.value.message


def test_relative_periods_count_back_from_the_anchor():
    assert resolve_window("1wk", anchor=END).start == pd.Timestamp("2024-12-25", tz="UTC")
    assert resolve_window("6mo", anchor=END).start == pd.Timestamp("2024-07-01", tz="UTC")
    assert resolve_window("10y", anchor=END).start == pd.Timestamp("2015-01-01", tz="UTC")
    window = resolve_window("ytd", anchor=pd.Timestamp("2024-06-15 13:00", tz="UTC"))
    assert window.start == pd.Timestamp("2024-01-01", tz="UTC") and window.relative
    assert resolve_window("max", anchor=END).start is None
    assert resolve_window(None, anchor=END).start is None  # default: everything


def test_custom_dates_are_inclusive_and_half_open_inside():
    window = resolve_window("custom", "2024-01-02", "2024-01-31", anchor=END)
    assert window.start == pd.Timestamp("2024-01-02", tz="UTC")
    assert window.end == pd.Timestamp("2024-02-01", tz="UTC")
    assert not window.relative
    # dates without a period mean custom; either end may be open
    assert resolve_window(None, "2024-01-02", None, anchor=END).end is None
    assert resolve_window("", None, "2024-01-31", anchor=END).start is None
    # dates may also be date objects (notebooks)
    assert resolve_window(None, dt.date(2024, 1, 2), anchor=END).start.day == 2


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2024-13-01", None, "start_date"),
        ("02/01/2024", None, "start_date"),
        ("2024-01-02", "2024-02-30", "end_date"),
        ("2024-02-01", "2024-01-01", "end_date"),
        ("2024-01-01", "2024-01-01", "end_date"),
    ],
)
def test_bad_or_reversed_dates_name_the_field(start, end, field):
    with pytest.raises(ConfigError) as err:
        resolve_window("custom", start, end, anchor=END)
    assert err.value.field == field
    assert "yyyy-MM-dd" in err.value.message or "before" in err.value.message


def test_custom_needs_dates_and_periods_do_not_mix_with_dates():
    with pytest.raises(ConfigError, match="needs start_date") as err:
        resolve_window("custom", anchor=END)
    assert err.value.field == "start_date"
    with pytest.raises(ConfigError, match="not both") as err:
        resolve_window("1y", "2024-01-01", anchor=END)
    assert err.value.field == "period"


def test_parse_date_rejects_non_dates():
    with pytest.raises(ConfigError) as err:
        parse_date(20240101, "start_date")
    assert err.value.field == "start_date"


def test_ytd_of_data_ending_on_new_years_eve_is_that_year():
    window = resolve_window("ytd", anchor=pd.Timestamp("2025-01-01", tz="UTC"))
    assert window.start == pd.Timestamp("2024-01-01", tz="UTC")
