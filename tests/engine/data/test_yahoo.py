"""The Yahoo source on recorded yfinance frames: shape, cache, range limits, errors. No network."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from algobt.engine.data import load, yahoo
from algobt.engine.data.periods import parse_interval
from algobt.errors import ConfigError, DataError

NOW = pd.Timestamp("2024-01-13 15:00", tz="UTC")  # the Saturday after the recorded week


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(yahoo, "clock", lambda: NOW)


def yahoo_shaped(index_utc: pd.DatetimeIndex, symbol: str, tz="America/New_York") -> pd.DataFrame:
    """A frame shaped like yfinance 1.7's download() output, with smooth made-up prices."""
    close = 100 + np.sin(np.arange(len(index_utc)) / 50.0)
    columns = pd.MultiIndex.from_product(
        [["Close", "High", "Low", "Open", "Volume"], [symbol]], names=["Price", "Ticker"]
    )
    data = np.column_stack([close, close + 0.2, close - 0.2, close, np.full(len(close), 7)])
    frame = pd.DataFrame(data, index=index_utc.tz_convert(tz).rename("Datetime"), columns=columns)
    return frame.astype({("Volume", symbol): "int64"})


def test_recorded_frames_have_yfinance_17_shape(recorded):
    raw = recorded("aapl_1d")
    assert raw.columns.names == ["Price", "Ticker"]
    assert list(raw.columns.get_level_values(0)) == ["Close", "High", "Low", "Open", "Volume"]
    assert str(raw.index.tz) == "America/New_York" and raw.index.name == "Date"
    assert raw[("Volume", "AAPL")].dtype == "int64"
    assert recorded("aapl_1h").index.name == "Datetime"


def test_daily_frame_normalized_to_midnight_utc_of_the_trading_date(recorded):
    raw = recorded("aapl_1d")
    bars = yahoo.normalize(raw, "AAPL", "1d")
    assert list(bars.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (bars.dtypes == "float64").all() and str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert bars.index.name == "Date"
    assert [str(t.date()) for t in bars.index[:2]] == ["2024-01-02", "2024-01-03"]
    assert (bars.index == bars.index.normalize()).all()
    np.testing.assert_array_equal(bars["Close"], raw[("Close", "AAPL")].to_numpy())
    np.testing.assert_array_equal(bars["Open"], raw[("Open", "AAPL")].to_numpy())


def test_intraday_frames_converted_to_utc(recorded):
    bars = yahoo.normalize(recorded("aapl_1h"), "AAPL", "1h")
    assert bars.index[0] == pd.Timestamp("2024-01-11 14:30", tz="UTC")  # 09:30 New York
    btc = yahoo.normalize(recorded("btc-usd_1h"), "BTC-USD", "1h")
    assert len(btc) == 48 and (btc.index.day_of_week >= 5).all()


def test_ticker_history_shape_is_accepted_too(recorded):
    # Ticker.history(): flat columns, plus Dividends / Stock Splits.
    flat = recorded("aapl_1d").droplevel("Ticker", axis=1).assign(Dividends=0.0)
    bars = yahoo.normalize(flat, "AAPL", "1d")
    assert len(bars) == 9 and list(bars.columns)[-1] == "Volume"


def test_load_uses_yahoo_for_real_tickers_and_caches_on_disk(
    monkeypatch, fake_yahoo, frozen, tmp_path
):
    monkeypatch.setattr(yahoo, "fetch", fake_yahoo)
    bars = load("aapl", period="1mo")
    assert len(bars) == 9
    assert bars.attrs == {
        "symbol": "AAPL",
        "source": "yahoo",
        "interval": "1d",
        # the disk cache entry it came from, for a stored run's provenance (docs/store.md)
        "cache_key": "1d_20231214_20240114",
        "path": bars.attrs["path"],
    }
    assert bars.attrs["path"].endswith("yahoo/AAPL/1d_20231214_20240114.parquet")
    assert len(fake_yahoo.calls) == 1
    call = fake_yahoo.calls[0]
    assert call["interval"] == "1d" and call["end"] == pd.Timestamp("2024-01-14", tz="UTC")
    cached = list((tmp_path / "home" / "cache" / "yahoo" / "AAPL").glob("*.parquet"))
    assert [p.name for p in cached] == ["1d_20231214_20240114.parquet"]

    again = load("AAPL", period="1month")  # same request, same UTC day: no network call
    pd.testing.assert_frame_equal(again, bars)
    assert len(fake_yahoo.calls) == 1

    monkeypatch.setattr(yahoo, "clock", lambda: NOW + pd.Timedelta(hours=8))  # 23:00 UTC
    load("AAPL", period="1mo")
    assert len(fake_yahoo.calls) == 1
    monkeypatch.setattr(yahoo, "clock", lambda: NOW + pd.Timedelta(hours=10))  # next UTC day
    load("AAPL", period="1mo")
    assert len(fake_yahoo.calls) == 2


def test_cache_dir_parameter_and_past_custom_ranges(fake_yahoo, tmp_path):
    kwargs = dict(fetch=fake_yahoo, now=NOW, cache_dir=tmp_path / "elsewhere")
    for _ in range(3):
        bars = yahoo.load_yahoo(
            "AAPL", parse_interval("1d"), None, "2024-01-03", "2024-01-09", **kwargs
        )
    assert [str(t.date()) for t in bars.index[[0, -1]]] == ["2024-01-03", "2024-01-09"]
    assert len(fake_yahoo.calls) == 1
    assert (tmp_path / "elsewhere" / "yahoo" / "AAPL" / "1d_20240103_20240110.parquet").is_file()


def test_4h_is_fetched_as_1h_and_resampled(monkeypatch, recorded, frozen):
    calls = []

    def fetch(symbol, *, start, end, interval):
        calls.append(interval)
        return recorded("aapl_1h")

    monkeypatch.setattr(yahoo, "fetch", fetch)
    bars = load("AAPL", period="1wk", interval="4h")
    assert calls == ["1h"]
    assert [t.strftime("%d %H:%M") for t in bars.index] == [
        "11 14:30",
        "11 18:30",
        "12 14:30",
        "12 18:30",
    ]
    hourly = yahoo.normalize(recorded("aapl_1h"), "AAPL", "1h")
    assert bars["Volume"].sum() == hourly["Volume"].sum()


def test_1m_ranges_are_split_into_7_day_requests(fake_yahoo):
    calls = []

    def fetch(symbol, *, start, end, interval):
        calls.append((start, end))
        stamps = pd.date_range(start, end, freq="min", inclusive="left")
        return yahoo_shaped(stamps[stamps.hour.isin([15, 16])], symbol)

    now = pd.Timestamp("2024-03-28 12:00:30", tz="UTC")
    bars = yahoo.load_yahoo("MSFT", parse_interval("1m"), "1mo", fetch=fetch, now=now)
    assert len(calls) == 5  # ~29 days (trimmed to Yahoo's 30-day window) in 7-day pieces
    assert all(end - start <= pd.Timedelta(days=7) for start, end in calls)
    assert all(calls[i][1] == calls[i + 1][0] for i in range(4))  # contiguous, no overlap
    assert bars.index.is_unique and bars.index.is_monotonic_increasing
    assert calls[0][0] >= now - pd.Timedelta(days=30)


@pytest.mark.parametrize(
    ("interval", "period", "limit", "suggests"),
    [
        ("1m", "3mo", "Yahoo keeps 1m bars for the last 30 days only", "interval='5m' (60 days)"),
        ("5m", "6mo", "Yahoo keeps 5m bars for the last 60 days only", "'1h' (730 days)"),
        ("30m", "1y", "Yahoo keeps 30m bars for the last 60 days only", "period='1wk' or '1mo'"),
        ("1h", "5y", "Yahoo keeps 1h bars for the last 730 days only", "'1d' (no limit)"),
        ("4h", "10y", "algobt builds 4h bars from 1h bars", "period='1wk' or '1mo' or '3mo'"),
    ],
)
def test_ranges_beyond_yahoos_limits_are_refused_naming_the_limit(
    interval, period, limit, suggests, fake_yahoo
):
    with pytest.raises(ConfigError) as err:
        yahoo.load_yahoo("AAPL", parse_interval(interval), period, fetch=fake_yahoo, now=NOW)
    assert limit in err.value.message and suggests in err.value.message
    assert err.value.field == "period"
    assert fake_yahoo.calls == []


def test_1m_limit_mentions_the_per_request_window_and_custom_dates_name_start_date(fake_yahoo):
    with pytest.raises(ConfigError) as err:
        yahoo.load_yahoo(
            "AAPL", parse_interval("1m"), None, "2023-11-01", fetch=fake_yahoo, now=NOW
        )
    assert err.value.field == "start_date"
    assert "at most 7 days of them per request" in err.value.message
    assert "start_date on or after 2023-12-15" in err.value.message


def test_periods_a_day_or_two_over_the_limit_are_trimmed(fake_yahoo):
    # 2y of 1h bars is 730 or 731 days (leap years); Yahoo keeps 730.
    now = pd.Timestamp("2024-03-01 12:00", tz="UTC")

    def fetch(symbol, *, start, end, interval):
        fetch.window = (start, end)
        return yahoo_shaped(pd.date_range(start, end, freq="h", inclusive="left")[:50], symbol)

    yahoo.load_yahoo("AAPL", parse_interval("1h"), "2y", fetch=fetch, now=now)
    start, end = fetch.window
    assert pd.Timedelta(days=729) < end - start < pd.Timedelta(days=730)


def test_max_period_of_intraday_bars_means_what_yahoo_keeps():
    seen = {}

    def fetch(symbol, *, start, end, interval):
        seen.update(start=start, end=end)
        return yahoo_shaped(
            pd.date_range(end - pd.Timedelta(hours=3), end, freq="15min", inclusive="left"), symbol
        )

    yahoo.load_yahoo("AAPL", parse_interval("15m"), "max", fetch=fetch, now=NOW)
    assert pd.Timedelta(days=59) < seen["end"] - seen["start"] < pd.Timedelta(days=60)


def test_empty_download_names_the_symbol(fake_yahoo):
    with pytest.raises(DataError) as err:
        yahoo.load_yahoo("NOSUCHTICKER", parse_interval("1d"), "1mo", fetch=fake_yahoo, now=NOW)
    assert err.value.field == "symbol"
    assert "no data for symbol 'NOSUCHTICKER'" in err.value.message
    assert "check the ticker" in err.value.message


def test_download_failures_become_data_errors():
    def broken(symbol, *, start, end, interval):
        raise ConnectionError("name resolution failed")

    with pytest.raises(DataError, match="check your internet connection") as err:
        yahoo.load_yahoo("AAPL", parse_interval("1d"), "1mo", fetch=broken, now=NOW)
    assert isinstance(err.value.__cause__, ConnectionError)


def test_bad_bars_from_yahoo_are_rejected_with_the_row(recorded):
    raw = recorded("aapl_1d")
    raw.loc[raw.index[4], ("High", "AAPL")] = 1.0

    def fetch(symbol, *, start, end, interval):
        return raw

    with pytest.raises(DataError) as err:
        yahoo.load_yahoo("AAPL", parse_interval("1d"), "1mo", fetch=fetch, now=NOW)
    assert err.value.message.startswith(
        "Yahoo's 1d data for 'AAPL' is unusable: row 4 at 2024-01-08"
    )


@pytest.mark.parametrize("bad", ["AAPL MSFT", "AAPL,MSFT", "../etc", "", "A" * 40])
def test_symbols_that_are_not_one_ticker_are_refused(bad):
    with pytest.raises(ConfigError) as err:
        yahoo.check_ticker(bad)
    assert err.value.field == "symbol"


def test_limits_table_covers_every_interval_fetched():
    assert set(yahoo.YAHOO_INTERVALS.values()) == set(yahoo.YAHOO_LIMITS)
    assert yahoo.YAHOO_LIMITS["1m"].lookback == pd.Timedelta(days=30)
    assert yahoo.YAHOO_LIMITS["1m"].per_request == pd.Timedelta(days=7)
    assert yahoo.YAHOO_LIMITS["15m"].lookback == pd.Timedelta(days=60)
    assert yahoo.YAHOO_LIMITS["1h"].lookback == pd.Timedelta(days=730)
    assert yahoo.YAHOO_LIMITS["1d"].lookback is None


def test_an_unwritable_cache_costs_a_warning_not_the_data(fake_yahoo, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    with pytest.warns(RuntimeWarning, match="could not write the data cache"):
        bars = yahoo.load_yahoo(
            "AAPL", parse_interval("1d"), "1mo", fetch=fake_yahoo, now=NOW, cache_dir=blocker
        )
    assert len(bars) == 9


def test_default_fetcher_calls_yfinance_download_with_a_valid_signature(monkeypatch, recorded):
    import inspect

    import yfinance as yf

    real = inspect.signature(yf.download)
    seen = []

    def fake_download(tickers, **kwargs):
        real.bind(tickers, **kwargs)  # raises TypeError on a keyword yfinance does not take
        seen.append(kwargs)
        return recorded("aapl_1d")

    monkeypatch.setattr(yf, "download", fake_download)
    start, end = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-14", tz="UTC")
    raw = yahoo.download("AAPL", start=start, end=end, interval="1d")
    assert raw.shape == (9, 5)
    daily = seen[-1]
    assert (daily["start"], daily["end"]) == ("2024-01-01", "2024-01-14")
    assert daily["auto_adjust"] is True and daily["progress"] is False
    assert daily["multi_level_index"] is True and daily["ignore_tz"] is False
    yahoo.download("AAPL", start=start, end=end, interval="1m")
    assert seen[-1]["start"] == start.to_pydatetime()  # intraday: exact UTC instants
    yahoo.download("AAPL", start=None, end=end, interval="1d")
    assert seen[-1]["period"] == "max"
