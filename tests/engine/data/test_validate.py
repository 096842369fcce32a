"""validate_ohlcv: one test per kind of bad data, each error naming the row and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algobt.engine.data import validate_ohlcv
from algobt.errors import DataError


def good(n=5):
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="Date")
    close = 100.0 + np.arange(n)
    return pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1,
            "Low": close - 1,
            "Close": close,
            "Volume": 1000.0,
        },
        index=index,
    )


def rejected(df) -> DataError:
    with pytest.raises(DataError) as err:
        validate_ohlcv(df)
    return err.value


def test_good_data_passes_unchanged():
    df = good()
    assert validate_ohlcv(df) is df
    assert validate_ohlcv(good().assign(Volume=0.0)) is not None  # zero volume is fine (FX)


def test_empty_frame():
    err = rejected(good().iloc[:0])
    assert "no bars" in err.message and "widen the period" in err.message


def test_missing_column_lists_what_was_found():
    err = rejected(good().drop(columns="Low"))
    assert err.field == "Low"
    assert "missing column(s) Low" in err.message and "'High'" in err.message


def test_not_a_frame_and_not_numbers():
    assert "DataFrame" in rejected(good()["Close"]).message
    err = rejected(good().assign(Close="x"))
    assert err.field == "Close" and "pd.to_numeric" in err.message


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_price_names_the_row(value):
    df = good()
    df.iloc[3, df.columns.get_loc("Close")] = value
    err = rejected(df)
    assert err.field == "Close"
    assert "row 3 at 2024-01-04 (df.iloc[3])" in err.message
    assert "not a finite number" in err.message and "fix or drop" in err.message


def test_non_positive_price_names_the_row_and_counts_the_others():
    df = good()
    df.iloc[[1, 2], df.columns.get_loc("Low")] = [0.0, -1.0]
    err = rejected(df)
    assert err.field == "Low"
    assert "row 1 at 2024-01-02" in err.message and "must be > 0" in err.message
    assert "2 rows like this" in err.message


def test_bad_volume():
    df = good()
    df.iloc[4, df.columns.get_loc("Volume")] = -5.0
    err = rejected(df)
    assert err.field == "Volume" and "row 4 at 2024-01-05" in err.message
    df.iloc[4, df.columns.get_loc("Volume")] = np.nan
    assert "not a finite number" in rejected(df).message


def test_high_below_low():
    df = good()
    df.iloc[2, df.columns.get_loc("High")] = 98.0
    err = rejected(df)
    assert err.field == "High"
    assert "row 2 at 2024-01-03 (df.iloc[2]): High 98.0 is below Low 101.0" in err.message


def test_high_below_open_or_close():
    df = good()
    df.iloc[1, df.columns.get_loc("Close")] = 101.5  # High is 102, fine
    df.iloc[2, df.columns.get_loc("Close")] = 103.5  # High is 103
    err = rejected(df)
    assert "row 2 at 2024-01-03" in err.message
    assert "High 103.0 is below max(Open 101.5, Close 103.5)" in err.message


def test_low_above_open_or_close():
    df = good()
    df.iloc[0, df.columns.get_loc("Open")] = 98.0  # Low is 99
    err = rejected(df)
    assert err.field == "Low"
    assert "row 0 at 2024-01-01 (df.iloc[0]): Low 99.0 is above min(Open 98.0" in err.message


def test_duplicate_stamps():
    df = good()
    df.index = df.index[[0, 1, 2, 2, 3]]
    err = rejected(df)
    assert err.field == "Date"
    assert "row 3 at 2024-01-03 (df.iloc[3]) repeats the timestamp of row 2" in err.message
    assert "duplicated" in err.message


def test_time_going_backwards_is_not_sorted_silently():
    df = good()
    df.index = df.index[[0, 1, 3, 2, 4]]
    err = rejected(df)
    assert "time goes backwards at row 3 at 2024-01-03 (df.iloc[3])" in err.message
    assert "after row 2 at 2024-01-04" in err.message and "df.sort_index()" in err.message


def test_intraday_rows_are_named_with_their_utc_time():
    df = good()
    df.index = pd.date_range("2024-01-02 14:30", periods=5, freq="min", tz="UTC")
    df.iloc[1, df.columns.get_loc("Open")] = np.nan
    assert "row 1 at 2024-01-02T14:31:00Z" in rejected(df).message


def test_index_must_be_tz_aware_times():
    assert "DatetimeIndex" in rejected(good().reset_index(drop=True)).message
    err = rejected(good().tz_localize(None))
    assert "no time zone" in err.message and "tz_localize('UTC')" in err.message
    df = good()
    df.index = pd.DatetimeIndex([df.index[0], pd.NaT, *df.index[2:]])
    assert "row 1 (df.iloc[1]) has no timestamp" in rejected(df).message


# --------------------------------------------------------------------------- strict=False


def test_lenient_level_takes_what_a_simulation_can_run():
    from backtesting.test import GOOG

    assert validate_ohlcv(GOOG, strict=False) is GOOG  # naive stamps: the loader's level refuses
    assert "no time zone" in rejected(GOOG).message
    bare = good().drop(columns="Volume").reset_index(drop=True)
    bare.iloc[1, bare.columns.get_loc("Open")] = 0.0
    assert validate_ohlcv(bare, strict=False) is bare
    repeated = good()
    repeated.index = repeated.index[[0, 1, 1, 2, 3]]
    assert validate_ohlcv(repeated, strict=False) is repeated


@pytest.mark.parametrize(
    "spoil, words",
    [
        (lambda df: df.iloc[:0], "data is empty: no bars to simulate"),
        (lambda df: df.drop(columns="Low"), r"missing column(s) ['Low']"),
        (lambda df: df.assign(Close=[1.0, np.nan, 1, 1, 1]), "Close is nan at row 1"),
        (lambda df: df.assign(High=[90.0, 200, 200, 200, 200]), "High < Low at row 0"),
        (lambda df: df.iloc[[0, 2, 1, 3]], "the time index goes backwards at row 2"),
        (lambda df: df["Close"], "must be a pandas DataFrame"),
    ],
)
def test_every_simulation_entry_point_uses_the_one_lenient_validator(spoil, words):
    from algobt import Backtest, from_signals
    from algobt.engine import rules
    from algobt.examples import SmaCross

    bad = spoil(good())
    spec = {
        "name": "above",
        "version": 1,
        "indicators": {"ma": {"type": "SMA", "period": 2}},
        "entry": {"long": {"gt": ["close", "ma"]}},
        "exit": {"long": {"lt": ["close", "ma"]}},
    }
    signals = np.zeros(len(bad), dtype=bool)
    runs = [
        lambda: validate_ohlcv(bad, strict=False),
        lambda: Backtest(bad, SmaCross),
        lambda: from_signals(bad, signals, signals),
        lambda: rules.compile_spec(spec, bad),
    ]
    for run in runs:
        with pytest.raises(DataError) as err:
            run()
        assert words in err.value.message
