"""Fuzzing the REST API described by ``/api/openapi.json``: no input may cause a 5xx.

Hypothesis draws, for every operation of the document, path ids, query values
and JSON bodies — shaped like the documented schema about half of the time and
arbitrary JSON otherwise — and sends them to the real server over loopback.
Bounded: a fixed number of examples, a few per operation.
"""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Client

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
CONFIG_KEYS = [
    "symbol",
    "symbols",
    "period",
    "interval",
    "timeframe",
    "start_date",
    "end_date",
    "initial_balance",
    "initial_capital",
    "commission",
    "slippage",
    "lot_size",
    "strategy_id",
    "strategy_code",
    "params",
    "indicators",
    "name",
    "description",
    "speed",
    "batch",
    "config",
]
FIELD_VALUES = st.one_of(
    JSON,
    st.sampled_from(
        [
            "DEMO",
            "DEMO-FX",
            "1y",
            "custom",
            "1d",
            "4h",
            "2024-01-01",
            "2023-13-45",
            "",
            "x" * 300,
            "class S(Strategy):\n    pass",
            '{"name": "x", "version": 1}',
        ]
    ),
)
BODIES = st.one_of(JSON, st.dictionaries(st.sampled_from(CONFIG_KEYS), FIELD_VALUES, max_size=8))


def operations(client):
    status, doc = client.get("/api/openapi.json")
    assert status == 200
    ops = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if path == "/api/openapi.json":
                continue
            queries = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            ops.append((method.upper(), path, queries, "requestBody" in op))
    return ops


def test_openapi_fuzz_finds_no_5xx(client):
    ops = operations(client)
    assert len(ops) >= 30
    failures = []

    @settings(
        max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(data=st.data())
    def one_request(data):
        method, path, queries, has_body = data.draw(st.sampled_from(ops))
        path = path.replace("{id}", str(data.draw(st.sampled_from([1, 2, 3, 0, 10**18, 424242]))))
        query = {q: data.draw(st.text(max_size=20)) for q in queries if data.draw(st.booleans())}
        if query:
            path += "?" + urllib.parse.urlencode(query)
        body = data.draw(BODIES) if has_body or method in ("POST", "PUT", "PATCH") else None
        raw = json.dumps(body).encode() if body is not None else None
        status, payload = client.request(method, path, raw=raw)
        if status >= 500:
            failures.append((method, path, body, status, payload))
        assert status < 500, (method, path, body, status, payload)
        if status >= 400 and status != 405:
            assert isinstance(payload, dict) and payload["error"]["message"]

    one_request()
    assert not failures


def test_garbage_bytes_and_wrong_content(client):
    raw_client = Client(client.base_url)
    for raw in (
        b"\xff\xfe\x00",
        b"null",
        b'"text"',
        b"1e999999",
        b"{" * 5000,
        b'{"a": ' * 2000 + b"1" + b"}" * 2000,
    ):
        status, payload = raw_client.request("POST", "/api/backtests/api/quick_run/", raw=raw)
        assert 400 <= status < 500, (raw[:20], status, payload)
