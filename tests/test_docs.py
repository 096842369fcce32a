"""docs/ keeps up with the code: every endpoint, config field, stream message, indicator
and rule operator the code has is named on its page (as docs/stats.md's keys are, in
tests/engine/test_metrics.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from algobt.engine.config import ALIASES, RunConfig
from algobt.engine.indicators import INDICATOR_SPECS
from algobt.engine.rules._schema import OPERATORS, PRICE_FIELDS, SCHEMA

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_api_and_websocket_route_is_in_api_md():
    from algobt.server.app import route_table
    from algobt.server.openapi import path_of

    text = _page("api.md")
    paths = [path_of(pattern) for pattern, _ in route_table()]
    routes = [p for p in paths if p.startswith(("/api/", "/ws/"))]
    assert len(routes) > 25
    missing = [p for p in routes if f"`{p}`" not in text]
    assert not missing, f"docs/api.md does not list {missing}"


def test_every_config_field_is_in_api_md():
    text = _page("api.md")
    fields = [f for f in RunConfig.fields() if f not in ("strategy", "id")] + list(ALIASES)
    missing = [f for f in fields if f"`{f}`" not in text]
    assert not missing, f"docs/api.md's config table misses {missing}"


@pytest.mark.parametrize(
    "kind", ["metadata", "candle", "candles", "signal", "stats", "complete", "error", "cancelled"]
)
def test_every_stream_message_has_a_section(kind):
    assert re.search(rf"^### .*`{kind}`", _page("websocket.md"), re.MULTILINE), kind


def test_the_stream_messages_listed_are_the_ones_sent():
    from algobt.engine.events import events
    from tests.strategies import EMA_CROSS

    config = {"symbol": "DEMO", "period": "3mo", "strategy_code": EMA_CROSS}
    sent = {m["type"] for m in events(config)} | {m["type"] for m in events({**config, "batch": 1})}
    text = _page("websocket.md")
    assert not [t for t in sent if f'"type": "{t}"' not in text and f"`{t}`" not in text]
    assert {"metadata", "candle", "signal", "stats", "complete"} <= sent


def test_rules_md_names_every_indicator_operator_and_field():
    text = _page("rules.md")
    names = [*INDICATOR_SPECS, *OPERATORS, *PRICE_FIELDS, *SCHEMA["properties"]]
    names += list(SCHEMA["properties"]["risk"]["properties"])
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"docs/rules.md misses {missing}"


def test_the_index_links_every_page():
    index = _page("README.md")
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert "api.md" in pages
    assert not [p for p in pages if f"({p})" not in index]
