"""A user's bars from CSV, Parquet or a DataFrame, with odd column names and times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algobt.engine.data import load
from algobt.errors import ConfigError, DataError

CSV = """date,OPEN,high, Low ,CLOSE,Adj Close,volume
2024-01-02,10.0,11.0,9.5,10.5,10.4,1000
2024-01-03,10.5,11.5,10.0,11.0,10.9,1200
2024-01-04,11.0,11.2,10.1,10.2,10.1,900
"""


def test_csv_with_odd_column_cases(tmp_path):
    path = tmp_path / "MyCo.csv"
    path.write_text(CSV)
    bars = load(str(path))
    assert list(bars.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert bars["Close"].tolist() == [10.5, 11.0, 10.2]  # Close, not Adj Close
    assert bars["Volume"].tolist() == [1000.0, 1200.0, 900.0]
    assert str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert bars.attrs == {
        "symbol": "MyCo",
        "source": "file",
        "interval": "1d",
        # where the bars came from, for a stored run's provenance (docs/store.md)
        "path": str(path),
        "cache_key": "file/MyCo/1d/max",
    }
    # a Path object, and path= with a display name, work the same
    pd.testing.assert_frame_equal(load(path), bars)
    assert load("MYCO", path=path).attrs["symbol"] == "MYCO"


def test_parquet_with_datetime_index(tmp_path):
    frame = pd.DataFrame(
        {
            "open": [1.0, 2.0],
            "high": [2.5, 3.0],
            "low": [0.5, 1.5],
            "close": [2.0, 2.5],
            "volume": [10, 20],
        },
        index=pd.date_range("2024-01-02 14:30", periods=2, freq="h", name="timestamp"),
    )
    frame.to_parquet(tmp_path / "bars.parquet")
    bars = load(tmp_path / "bars.parquet")
    assert bars.index[1] == pd.Timestamp("2024-01-02 15:30", tz="UTC")  # naive read as UTC
    assert bars.attrs["interval"] == "1h"


def test_dataframe_with_tz_aware_index_and_no_volume():
    index = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 09:31"]).tz_localize(
        "America/New_York"
    )
    frame = pd.DataFrame(
        {"Open": [1.0, 1.1], "High": [1.2, 1.3], "Low": [0.9, 1.0], "Close": [1.1, 1.2]},
        index=index,
    )
    bars = load(frame)
    assert bars.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert bars["Volume"].tolist() == [0.0, 0.0]  # missing Volume -> 0, as documented
    assert bars.attrs["source"] == "file" and bars.attrs["interval"] == "1m"


def test_daily_bars_keep_their_written_date():
    # Ticker.history() exports look like this: local midnight with a changing offset.
    frame = pd.DataFrame(
        {
            "Date": ["2024-03-08 00:00:00-05:00", "2024-03-11 00:00:00-04:00"],
            "Open": [1.0, 1.1],
            "High": [1.2, 1.3],
            "Low": [0.9, 1.0],
            "Close": [1.1, 1.2],
        }
    )
    bars = load(frame)
    assert [str(t) for t in bars.index] == [
        "2024-03-08 00:00:00+00:00",
        "2024-03-11 00:00:00+00:00",
    ]


def test_epoch_times_in_milliseconds():
    frame = pd.DataFrame(
        {
            "time": [1704205800000, 1704205860000],
            "open": [1.0, 1.1],
            "high": [1.2, 1.3],
            "low": [0.9, 1.0],
            "close": [1.1, 1.2],
        }
    )
    assert load(frame).index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")


def test_own_frames_and_yfinance_frames_round_trip(recorded):
    demo = load("DEMO", period="1mo")
    again = load(demo)
    pd.testing.assert_frame_equal(again, demo)
    assert again.attrs["symbol"] == "DEMO"
    raw = recorded("aapl_1d")  # a yf.download() frame handed over directly
    assert len(load(raw)) == 9


def test_missing_price_column_names_it_and_lists_what_was_found():
    frame = pd.DataFrame({"date": ["2024-01-02"], "open": [1.0], "high": [1.0], "close": [1.0]})
    with pytest.raises(DataError) as err:
        load(frame)
    assert err.value.field == "Low"
    assert "missing price column(s) Low" in err.value.message
    assert "['date', 'open', 'high', 'close']" in err.value.message


def test_adj_close_does_not_stand_in_for_close():
    frame = pd.DataFrame(
        {"Date": ["2024-01-02"], "Open": [1.0], "High": [1.0], "Low": [1.0], "Adj Close": [1.0]}
    )
    with pytest.raises(DataError, match="'Adj Close' is not used as Close"):
        load(frame)


def test_no_times_or_bad_times_or_bad_numbers_name_the_row():
    prices = {"Open": [1.0, 1.0], "High": [1.0, 1.0], "Low": [1.0, 1.0], "Close": [1.0, 1.0]}
    with pytest.raises(DataError, match="no bar times") as err:
        load(pd.DataFrame(prices))
    assert err.value.field == "Date"
    with pytest.raises(DataError, match=r"row 1 \(df.iloc\[1\]\): 'soon' is not a date"):
        load(pd.DataFrame({"Date": ["2024-01-02", "soon"], **prices}))
    with pytest.raises(DataError, match="row 1 at 2024-01-03 .* Close '1,5' is not a number"):
        load(
            pd.DataFrame({"Date": ["2024-01-02", "2024-01-03"], **prices, "Close": ["1.0", "1,5"]})
        )
    with pytest.raises(DataError, match="separate date and time columns"):
        load(pd.DataFrame({"Date": ["2024-01-02"] * 2, "Time": ["10:00", "11:00"], **prices}))


def test_unsorted_file_is_rejected_not_sorted(tmp_path):
    path = tmp_path / "newest_first.csv"
    lines = CSV.splitlines()
    path.write_text("\n".join([lines[0], lines[3], lines[2], lines[1]]) + "\n")
    with pytest.raises(DataError, match="time goes backwards at row 1 at 2024-01-03"):
        load(path)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        load(str(tmp_path / "nope.csv"))
    assert err.value.field == "path"
    (tmp_path / "bars.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        load(tmp_path / "bars.xlsx")


def test_file_bars_can_be_aggregated_but_not_refined():
    index = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    close = np.linspace(100, 110, 48)
    frame = pd.DataFrame(
        {"Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 1.0},
        index=index,
    )
    assert len(load(frame, interval="4h")) == 12
    daily = load(frame, interval="1d")
    assert daily["Volume"].tolist() == [24.0, 24.0]
    last_day = load(frame, period="1wk", interval="1h")
    assert len(last_day) == 48  # a period counts back from the last bar
    with pytest.raises(ConfigError, match="bars every 1h; they cannot make 30m bars") as err:
        load(frame, interval="30m")
    assert err.value.field == "interval"


def test_csv_saved_from_yfinance_or_with_an_unnamed_index(tmp_path, recorded):
    recorded("aapl_1d").to_csv(tmp_path / "aapl.csv")  # three header rows
    bars = load(tmp_path / "aapl.csv")
    assert len(bars) == 9 and str(bars.index[0]) == "2024-01-02 00:00:00+00:00"
    unnamed = load("DEMO", period="1mo").rename_axis(None)
    unnamed.to_csv(tmp_path / "unnamed.csv")
    assert len(load(tmp_path / "unnamed.csv")) == len(unnamed)
