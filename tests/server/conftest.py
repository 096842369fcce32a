"""A real algobt server on a loopback port, over a real SQLite file, and clients for it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

TOKEN = "test-token-" + "x" * 20


class Client:
    """A tiny JSON HTTP client (urllib): real requests over loopback."""

    def __init__(self, base_url: str, token: str | None = TOKEN):
        self.base_url = base_url
        self.token = token

    def request(self, method: str, path: str, body=None, *, headers=None, raw: bytes | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"token {self.token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, payload, ctype = (
                    resp.status,
                    resp.read(),
                    resp.headers.get("Content-Type", ""),
                )
        except urllib.error.HTTPError as err:
            status, payload, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
        if "json" in ctype and payload:
            return status, json.loads(payload)
        return status, payload.decode("utf-8", "replace")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from algobt.server.app import serve
    from algobt.server.worker import WorkerLimits

    db = tmp_path_factory.mktemp("srv") / "algobt.db"
    srv = serve(
        port=0,
        db=db,
        token=TOKEN,
        quiet=True,
        worker_limits=WorkerLimits(cpu_seconds=5, wall_seconds=20),
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return Client(server.base_url)


def ws_exchange(
    server,
    messages,
    *,
    until=("complete", "error", "cancelled"),
    token=TOKEN,
    origin=None,
    max_messages=100_000,
    on_message=None,
):
    """Open the stream WebSocket, send ``messages``, collect replies until a final type."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    async def run():
        url = server.base_url.replace("http", "ws") + "/ws/backtest/stream/"
        if token:
            url += f"?token={token}"
        headers = {"Origin": origin} if origin else {}
        conn = await websocket_connect(HTTPRequest(url, headers=headers))
        got = []
        for m in messages:
            await conn.write_message(m if isinstance(m, str) else json.dumps(m))
        while len(got) < max_messages:
            raw = await asyncio.wait_for(conn.read_message(), timeout=120)
            if raw is None:
                break
            msg = json.loads(raw)
            got.append(msg)
            if on_message is not None:
                reply = on_message(msg)
                if reply is not None:
                    await conn.write_message(json.dumps(reply))
            if msg.get("type") in until:
                break
        conn.close()
        return got

    return asyncio.run(run())
