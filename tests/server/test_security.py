"""Safe by default: every route × credential refused, Host/Origin checked, limits enforced."""

from __future__ import annotations

import logging
import re
import socket

import pytest

from algobt.errors import ConfigError
from algobt.server.app import route_table, serve
from tests.server.conftest import TOKEN, Client, ws_exchange


def concrete_paths():
    """One concrete path per route of the app's own table (ids filled with 1)."""
    out = []
    for pattern, handler in route_table():
        path = re.sub(r"\([^)]*\)", "1", pattern)
        methods = [
            m.upper() for m in ("get", "post", "put", "patch", "delete") if m in handler.__dict__
        ] or ["GET"]
        out.extend((m, path) for m in methods)
    return out


CREDENTIALS = {
    "no token": None,
    "wrong token": "token not-the-token",
    "wrong scheme": f"Bearer {TOKEN}",
    "basic auth": "Basic dXNlcjpwYXNz",
    "empty": "token ",
}


@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_every_route_refuses_a_bad_credential(server, credential):
    client = Client(server.base_url, token=None)
    header = CREDENTIALS[credential]
    checked = 0
    for method, path in concrete_paths():
        if path.startswith("/ws/"):
            continue
        headers = {"Authorization": header} if header else {}
        body = {} if method in ("POST", "PUT", "PATCH") else None
        status, payload = client.request(method, path, body, headers=headers)
        assert status == 401, (method, path, status, payload)
        assert payload["error"]["code"] == "unauthorized"
        checked += 1
    assert checked >= 35


def test_query_token_only_counts_on_get(server):
    client = Client(server.base_url, token=None)
    status, _ = client.get(f"/api/health/?token={TOKEN}")
    assert status == 200
    status, _ = client.post(f"/api/strategies/validate/?token={TOKEN}", {"strategy_code": "x = 1"})
    assert status == 401


@pytest.mark.parametrize("credential", ["none", "wrong"])
def test_websocket_handshake_needs_the_token(server, credential):
    from tornado.websocket import WebSocketError

    token = None if credential == "none" else "wrong"
    with pytest.raises((WebSocketError, Exception)) as info:
        ws_exchange(server, [{"action": "ping"}], token=token, until=("pong",))
    assert "401" in str(info.value)


def test_foreign_origin_is_refused_and_own_origin_allowed(server):
    with pytest.raises(Exception) as info:
        ws_exchange(server, [{"action": "ping"}], origin="http://evil.example", until=("pong",))
    assert "403" in str(info.value)
    with pytest.raises(Exception) as info:  # a suffix trick is no match either
        ws_exchange(
            server,
            [{"action": "ping"}],
            until=("pong",),
            origin=f"http://127.0.0.1:{server.port}.evil.example",
        )
    assert "403" in str(info.value)
    own = ws_exchange(
        server, [{"action": "ping"}], until=("pong",), origin=f"http://127.0.0.1:{server.port}"
    )
    assert own == [{"type": "pong"}]


def test_foreign_host_header_is_refused(server):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /api/health/ HTTP/1.1\r\nHost: evil.example:{server.port}\r\n"
            f"Authorization: token {TOKEN}\r\nConnection: close\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 403")


def test_oversized_body_gets_413(client):
    status, body = client.request(
        "POST",
        "/api/backtests/api/quick_run/",
        raw=b'{"strategy_code": "' + b"#" * (3 * 2**20) + b'"}',
    )
    assert status == 413 and body["error"]["code"] == "payload_too_large"


def test_oversized_websocket_message_closes_only_that_connection(server):
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError

    # Tornado closes the connection (code 1009, message too big): no reply comes, and
    # the close may even overtake the end of our own write.
    try:
        got = ws_exchange(server, ["x" * (2 * 2**20)], until=("pong",))
    except (WebSocketClosedError, StreamClosedError):
        got = []
    assert got == []
    assert ws_exchange(server, [{"action": "ping"}], until=("pong",)) == [{"type": "pong"}]


def test_token_never_reaches_the_log(server, caplog):
    client = Client(server.base_url, token=None)
    with caplog.at_level(logging.INFO, logger="algobt.server.access"):
        client.get(f"/api/health/?token={TOKEN}")
        client.get("/api/health/?token=guess")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/health/" in text
    assert TOKEN not in text and "guess" not in text


def test_non_loopback_bind_needs_a_flag_and_a_token(tmp_path):
    with pytest.raises(ConfigError, match="allow_remote"):
        serve(host="0.0.0.0", db=tmp_path / "a.db", quiet=True)
    with pytest.raises(ConfigError, match="token"):
        serve(host="0.0.0.0", allow_remote=True, db=tmp_path / "a.db", quiet=True)


def test_each_server_has_its_own_random_token(tmp_path):
    a = serve(db=tmp_path / "a.db", quiet=True)
    b = serve(db=tmp_path / "b.db", quiet=True)
    try:
        assert a.token != b.token and len(a.token) >= 32
        assert a.host == "127.0.0.1"
        assert TOKEN not in (a.token, b.token)
        assert a.token not in repr(a)
    finally:
        a.stop()
        b.stop()


def test_hostile_strategy_over_http_costs_an_error_not_the_server(client):
    forever = (
        "from algobt import Strategy\n\nclass Spin(Strategy):\n"
        "    def next(self):\n        while True:\n            pass\n"
    )
    status, body = client.post(
        "/api/backtests/api/quick_run/",
        {"strategy_code": forever, "symbol": "DEMO", "period": "1y"},
    )
    assert status == 422 and "CPU" in body["error"]["message"]
    status, health = client.get("/api/health/")
    assert status == 200 and health["status"] == "ok"
