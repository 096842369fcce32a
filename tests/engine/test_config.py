"""RunConfig: the REST BacktestConfig and WebSocket config, both spellings (docs/api.md)."""

from __future__ import annotations

import pytest

from algobt.engine.config import RunConfig
from algobt.errors import ConfigError


def test_defaults_follow_the_report():
    cfg = RunConfig.from_dict({"symbol": "DEMO"})
    assert (cfg.initial_capital, cfg.commission, cfg.slippage, cfg.lot_size, cfg.interval) == (
        10_000.0,
        0.001,
        0.0005,
        1.0,
        "1d",
    )


def test_both_spellings_are_accepted():
    a = RunConfig.from_dict({"symbol": "DEMO", "initial_balance": 5000, "timeframe": "1h"})
    b = RunConfig.from_dict({"symbol": "DEMO", "initial_capital": 5000, "interval": "1h"})
    assert a == b and a.initial_capital == 5000.0 and a.interval == "1h"


def test_nested_config_is_merged_and_top_level_wins():
    cfg = RunConfig.from_dict(
        {"symbol": "DEMO", "commission": 0.002, "config": {"commission": 0.01, "lot_size": 0.1}}
    )
    assert cfg.commission == 0.002 and cfg.lot_size == 0.1


def test_custom_period_needs_dates_in_order():
    cfg = RunConfig.from_dict(
        {"symbol": "DEMO", "period": "custom", "start_date": "2024-01-01", "end_date": "2024-03-31"}
    )
    assert cfg.start_date == "2024-01-01"
    with pytest.raises(ConfigError, match="needs start_date and end_date") as info:
        RunConfig.from_dict({"symbol": "DEMO", "period": "custom"})
    assert info.value.field == "start_date"
    with pytest.raises(ConfigError, match="must be before end_date"):
        RunConfig.from_dict(
            {"symbol": "DEMO", "start_date": "2024-05-01", "end_date": "2024-01-01"}
        )


@pytest.mark.parametrize(
    ("raw", "field", "pattern"),
    [
        ({"symbol": "DEMO", "initial_balance": 0}, "initial_capital", "must be > 0"),
        ({"symbol": "DEMO", "commission": "lots"}, "commission", "a number, not text"),
        # one rule for every numeric field: a number as text is refused (docs/api.md)
        ({"symbol": "DEMO", "initial_balance": "10000"}, "initial_capital", "not text"),
        ({"symbol": "DEMO", "strategy_id": "1"}, "strategy_id", "whole number, not text"),
        ({"symbol": "DEMO", "batch_size": "500"}, "batch_size", "whole number, not text"),
        ({"symbol": "DEMO", "commission": 0.5}, "commission", "<= 0.1"),
        ({"symbol": "DEMO", "slippage": -0.001}, "slippage", ">= 0"),
        ({"symbol": "DEMO", "lot_size": 0}, "lot_size", "> 0"),
        ({"symbol": "DEMO", "start_date": "01/02/2024"}, "start_date", "yyyy-MM-dd"),
        ({"symbol": "DEMO", "batch": "yes"}, "batch", "true or false"),
        ({"symbol": "DEMO", "strategy_id": -3}, "strategy_id", ">= 1"),
        ({"symbol": "DEMO", "params": [1, 2]}, "params", "must be an object"),
        ({"symbol": ""}, "symbol", "non-empty"),
        ({"symbol": None}, "symbol", "give a symbol"),
        ({"symbols": []}, "symbols", "non-empty list"),
        ({"symbols": ["DEMO", "DEMO"]}, "symbols", "twice"),
        ({"symbol": "DEMO", "comission": 0.1}, "comission", "Did you mean 'commission'"),
        (
            {"symbol": "DEMO", "initial_balance": 1, "initial_capital": 2},
            "initial_capital",
            "disagree",
        ),
    ],
)
def test_each_bad_field_is_named(raw, field, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        RunConfig.from_dict(raw)
    assert info.value.field == field


def test_not_an_object():
    with pytest.raises(ConfigError, match="JSON object"):
        RunConfig.from_dict(["DEMO"])


def test_symbols_from_text_and_round_trip():
    cfg = RunConfig.from_dict({"symbols": "DEMO, DEMO-FX"})
    assert cfg.symbol_list == ("DEMO", "DEMO-FX")
    again = RunConfig.from_dict(cfg.to_dict())
    assert again == cfg
