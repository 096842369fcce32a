"""The bundled demo data: deterministic, reproducible by its script, realistic, compact."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from algobt.engine.data import list_symbols, load, validate_ohlcv
from algobt.engine.data.demo import DEMO_DIR, manifest, read_demo
from algobt.engine.data.periods import parse_interval
from algobt.engine.data.resample import resample_ohlcv
from algobt.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[3]
SYMBOLS = ("DEMO", "DEMO-FX", "DEMO-BTC")
STORED = [(s, i) for s in SYMBOLS for i in ("1d", "1h", "1m")]


def test_loading_twice_gives_identical_frames_and_copies():
    first = load("DEMO", period="2y")
    first.iloc[0, 0] = -1.0  # callers may scribble on their copy
    second, third = load("DEMO", period="2y"), load("demo", period="2years")
    pd.testing.assert_frame_equal(second, third)
    assert second.iloc[0, 0] > 0


def test_generator_script_reproduces_the_committed_files(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "make_demo_data", ROOT / "scripts" / "make_demo_data.py"
    )
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_demo_data", script)  # dataclasses look it up
    spec.loader.exec_module(script)
    script.main([str(tmp_path)])
    made = json.loads((tmp_path / "manifest.json").read_text())
    assert made == manifest()
    for entry in made["symbols"]:
        per_unit = entry["ticks_per_unit"]
        for interval, info in entry["files"].items():
            fresh = pd.read_parquet(tmp_path / info["file"])
            committed = pd.read_parquet(DEMO_DIR / info["file"])
            pd.testing.assert_frame_equal(fresh, committed, check_exact=True)
            prices = read_demo(entry["symbol"], interval)
            assert np.array_equal(prices["Close"].to_numpy(), fresh["Close"].to_numpy() / per_unit)


def test_bundle_is_small():
    total = sum(f.stat().st_size for f in DEMO_DIR.iterdir())
    assert total < 3_000_000, f"demo data grew to {total / 1e6:.1f} MB"


@pytest.mark.parametrize(("symbol", "interval"), STORED)
def test_stored_bars_are_consistent_and_realistic(symbol, interval):
    bars = read_demo(symbol, interval)
    validate_ohlcv(bars)  # OHLC order, positive finite prices, sorted unique UTC stamps
    assert str(bars.index.dtype) == "datetime64[ns, UTC]"
    assert not bars.isna().any().any()
    assert (bars["Volume"] > 0).mean() > 0.95
    if interval == "1d":
        assert (bars.index == bars.index.normalize()).all()  # midnight UTC
        assert bars.index[0].year <= 2014 and str(bars.index[-1].date()) == "2024-12-31"
        assert len(bars) > 2500  # 10+ years
        returns = np.log(bars["Close"]).diff().dropna()
        assert returns.kurt() > 3  # fat tails
        assert returns.abs().autocorr(1) > 0.05  # volatility clustering
        # gaps: today's open is not always yesterday's close (equities)
        gaps = (bars["Open"] != bars["Close"].shift()).iloc[1:].mean()
        assert gaps > 0.9 if symbol == "DEMO" else gaps < 0.3


def test_weekends_only_for_the_crypto_symbol():
    for symbol in SYMBOLS:
        days = read_demo(symbol, "1d").index.day_of_week
        assert ((days >= 5).any()) == (symbol == "DEMO-BTC")
    assert (read_demo("DEMO", "1h").index.day_of_week < 5).all()
    assert (read_demo("DEMO-BTC", "1h").index.day_of_week == 6).any()
    fx = read_demo("DEMO-FX", "1h").index
    assert not (fx.day_of_week == 5).any()  # no Saturday; Sunday evening opens the week
    assert (fx[fx.day_of_week == 6].hour >= 21).all()


def test_intraday_bars_add_up_to_the_daily_bars():
    daily = read_demo("DEMO", "1d")
    from_hours = resample_ohlcv(read_demo("DEMO", "1h"), parse_interval("1d"))
    from_minutes = resample_ohlcv(read_demo("DEMO", "1m"), parse_interval("1d"))
    pd.testing.assert_frame_equal(from_hours, daily.loc[from_hours.index])
    pd.testing.assert_frame_equal(from_minutes, daily.loc[from_minutes.index])
    hours = read_demo("DEMO", "1h")
    assert hours.index[0].strftime("%H:%M") == "14:30"  # 09:30 New York in winter
    assert (hours.index.strftime("%H:%M") == "13:30").any()  # and in summer


def test_periods_count_back_from_the_last_bar_not_today():
    year = load("DEMO", period="1y")
    assert str(year.index[0].date()) == "2024-01-02" and str(year.index[-1].date()) == "2024-12-31"
    week = load("DEMO-BTC", period="1week", interval="1h")
    assert len(week) == 7 * 24
    ytd = load("DEMO-FX", period="ytd")
    assert ytd.index[0].year == 2024
    custom = load("DEMO", start_date="2020-03-02", end_date="2020-03-06")
    assert len(custom) == 5


def test_other_intervals_are_built_from_the_stored_ones():
    four = load("DEMO", period="1mo", interval="4h")
    assert set(four.index.strftime("%H:%M")) == {"14:30", "18:30"}
    five = load("DEMO-BTC", period="1wk", interval="5m")
    assert len(five) == 7 * 24 * 12
    weekly = load("DEMO-BTC", period="1y", interval="1wk")
    assert (weekly.index.day_of_week == 0).all()


def test_list_symbols_is_json_friendly_and_complete():
    listed = list_symbols()
    assert json.loads(json.dumps(listed)) == listed
    by_name = {s["symbol"]: s for s in listed}
    assert set(by_name) == set(SYMBOLS)
    btc = by_name["DEMO-BTC"]
    assert btc["source"] == "demo" and btc["trades_weekends"] is True
    intervals = {i["interval"]: i for i in btc["intervals"]}
    assert list(intervals) == ["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]
    assert intervals["1m"]["bars"] == 30 * 24 * 60
    assert intervals["4h"]["resampled_from"] == "1h" and intervals["4h"]["bars"] is None
    assert intervals["1d"]["end"] == "2024-12-31"
    assert intervals["1h"]["start"].endswith("Z")


def test_unknown_demo_symbol_and_ranges_outside_the_data():
    with pytest.raises(ConfigError, match="DEMO, DEMO-FX, DEMO-BTC") as err:
        load("DEMO-XYZ")
    assert err.value.field == "symbol"
    with pytest.raises(DataError, match="the data runs from 2010-01-04 to 2024-12-31") as err:
        load("DEMO", start_date="2025-06-01", end_date="2025-06-30")
    assert err.value.field == "start_date"


def test_windows_before_the_demo_data_are_refused_naming_the_range():
    with pytest.raises(ConfigError) as err:
        load("DEMO", period="1y", interval="1m")
    assert err.value.field == "period"
    assert "DEMO has 1m bars from 2024-11-18T14:30:00Z to 2024-12-31T20:59:00Z only" in str(
        err.value
    )
    assert "period='1wk' or '1mo'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load("DEMO-BTC", start_date="2010-01-01")
    assert err.value.field == "start_date" and "from 2014-09-17" in str(err.value)
    # a few days of slack for weekends and holidays before the first bar
    assert len(load("DEMO", period="2y", interval="1h")) == 3514
    assert str(load("DEMO", start_date="2010-01-01").index[0].date()) == "2010-01-04"
