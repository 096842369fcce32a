"""load(): picking the source, the frame contract, and setting errors."""

from __future__ import annotations

import pandas as pd
import pytest

from algobt.engine.data import SOURCES, load, yahoo
from algobt.errors import ConfigError


@pytest.mark.parametrize("symbol", ["DEMO", "DEMO-FX", "DEMO-BTC"])
def test_frame_contract(symbol):
    bars = load(symbol, period="6months", interval="1h")
    assert list(bars.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert (bars.dtypes == "float64").all()
    assert str(bars.index.dtype) == "datetime64[ns, UTC]" and bars.index.name == "Date"
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert bars.attrs == {
        "symbol": symbol,
        "source": "demo",
        "interval": "1h",
        # where the bars came from, for a stored run's provenance (docs/store.md)
        "cache_key": f"demo/{symbol}/1h/6months",
        "path": bars.attrs["path"],
    }
    assert bars.attrs["path"].endswith(f"{symbol}_1h.parquet")


def test_source_is_picked_from_the_symbol(monkeypatch, fake_yahoo, tmp_path):
    monkeypatch.setattr(yahoo, "fetch", fake_yahoo)
    monkeypatch.setattr(yahoo, "clock", lambda: pd.Timestamp("2024-01-13", tz="UTC"))
    assert load("demo-btc", period="1wk").attrs["source"] == "demo"
    assert load("AAPL", period="1mo").attrs["source"] == "yahoo"
    assert load("AAPL", period="1mo", source="yahoo").attrs["source"] == "yahoo"
    demo_as_file = load("DEMO", period="1mo")
    assert load(demo_as_file).attrs["source"] == "file"
    assert len(fake_yahoo.calls) == 1


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="demo, yahoo, file") as err:
        load("DEMO", source="bloomberg")
    assert err.value.field == "source" and SOURCES == ("demo", "yahoo", "file")
    with pytest.raises(ConfigError) as err:
        load(None)
    assert err.value.field == "symbol"
    with pytest.raises(ConfigError, match="not a file or DataFrame"):
        load(load("DEMO", period="1mo"), source="demo")
    with pytest.raises(ConfigError) as err:
        load("DEMO", interval="2h")
    assert err.value.field == "interval"
    with pytest.raises(ConfigError) as err:
        load("DEMO", period="1 year")
    assert err.value.field == "period"
    with pytest.raises(ConfigError) as err:
        load("DEMO", start_date="2024-05-01", end_date="2024-04-01")
    assert err.value.field == "end_date"


def test_timeframe_is_the_reports_name_for_interval():
    pd.testing.assert_frame_equal(
        load("DEMO", period="1mo", timeframe="1h"), load("DEMO", period="1mo", interval="60m")
    )
    with pytest.raises(ConfigError, match="give only one") as err:
        load("DEMO", interval="1d", timeframe="1h")
    assert err.value.field == "timeframe"
