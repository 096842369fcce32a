"""Login as Jupyter does it: ``?token=`` on a page load sets an HttpOnly, SameSite=Strict
cookie that then authorizes the page's requests, assets and WebSocket — but never a
state-changing request from another site. Against a real server on loopback."""

from __future__ import annotations

import asyncio
import http.client
import http.cookiejar
import json
import logging
import time
import urllib.error
import urllib.request

import pytest

from algobt.server import auth
from algobt.server.handlers.pages import STATIC_DIR
from tests.server.conftest import TOKEN


def raw_get(server, path: str, headers=None) -> http.client.HTTPResponse:
    """One request, redirects not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    resp.body = resp.read()
    conn.close()
    return resp


class Browser:
    """urllib with a cookie jar: it keeps the cookie and sends it back, as a browser."""

    def __init__(self, server):
        self.base = server.base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, method: str, path: str, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers

    def cookie(self) -> str:
        (cookie,) = list(self.jar)
        return f"{cookie.name}={cookie.value}"


@pytest.fixture
def browser(server):
    b = Browser(server)
    status, page, _ = b.open("GET", f"/?token={TOKEN}")
    assert status == 200 and b"algobt" in page
    return b


def test_a_page_load_with_the_token_sets_the_cookie_and_drops_the_token(server):
    resp = raw_get(server, f"/?token={TOKEN}&tab=runs")
    assert resp.status == 302
    assert resp.getheader("Location") == "/?tab=runs"  # the token leaves the address bar
    cookie = resp.getheader("Set-Cookie")
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert name == f"algobt-login-{server.port}"
    assert value == auth.cookie_value(TOKEN) and TOKEN not in cookie
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http here: a Secure cookie would never return
    assert resp.getheader("Referrer-Policy") == "no-referrer"
    wrong = raw_get(server, "/?token=wrong")
    assert wrong.status == 401 and wrong.getheader("Set-Cookie") is None
    by_header = raw_get(server, "/", {"Authorization": f"token {TOKEN}"})
    assert by_header.status == 200 and by_header.getheader("Set-Cookie") is None


def test_the_cookie_authorizes_the_pages_own_requests(browser, server):
    status, body, _ = browser.open("GET", "/api/health/")  # no header, no token: the cookie
    assert status == 200 and json.loads(body)["status"] == "ok"
    own = f"http://127.0.0.1:{server.port}"
    status, body, _ = browser.open(
        "POST", "/api/strategies/validate/", {"strategy_code": "x = 1"}, {"Origin": own}
    )
    assert status == 200 and "valid" in json.loads(body)
    status, _, _ = browser.open(  # a Referer from our own page counts as well
        "POST", "/api/strategies/validate/", {"strategy_code": "x = 1"}, {"Referer": own + "/"}
    )
    assert status == 200
    # The header keeps working alongside, and a stale cookie authorizes nothing.
    status, _, _ = browser.open("GET", "/api/health/", headers={"Authorization": f"token {TOKEN}"})
    assert status == 200
    stale = raw_get(server, "/api/health/", {"Cookie": f"algobt-login-{server.port}=beef"})
    assert stale.status == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {},  # a state change by cookie must say where it comes from
    ],
    ids=["foreign-origin", "null-origin", "foreign-referer", "no-origin"],
)
def test_a_cross_site_request_with_the_cookie_is_refused(browser, server, headers):
    for method, path, body in [
        ("POST", "/api/strategies/validate/", {"strategy_code": "x = 1"}),
        ("POST", "/api/backtests/api/run_backtest/", {"symbol": "DEMO"}),
        ("DELETE", "/api/strategies/strategies/1/", None),
    ]:
        status, payload, _ = browser.open(method, path, body, headers)
        assert status == 403, (method, path, status)
        assert json.loads(payload)["error"]["code"] == "forbidden"


def test_the_websocket_accepts_the_cookie_from_its_own_page_only(browser, server):
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    url = server.base_url.replace("http", "ws") + "/ws/backtest/stream/"

    async def ping(headers):
        conn = await websocket_connect(HTTPRequest(url, headers=headers))
        await conn.write_message(json.dumps({"action": "ping"}))
        reply = json.loads(await asyncio.wait_for(conn.read_message(), 30))
        conn.close()
        return reply

    own = f"http://127.0.0.1:{server.port}"
    assert asyncio.run(ping({"Cookie": browser.cookie(), "Origin": own})) == {"type": "pong"}
    with pytest.raises(HTTPClientError) as info:
        asyncio.run(ping({"Cookie": browser.cookie(), "Origin": "http://evil.example"}))
    assert info.value.code == 403
    with pytest.raises(HTTPClientError) as info:
        asyncio.run(ping({"Origin": own}))  # no cookie, no token
    assert info.value.code == 401


def test_static_assets_need_the_login_and_carry_type_and_cache_headers(browser, server):
    built = json.loads((STATIC_DIR / "build-info.json").read_text())
    css = f"/static/{built['css']}"  # content-hashed by the build: cached for ever
    status, body, headers = browser.open("GET", css)
    assert status == 200 and body
    assert headers["Content-Type"] == "text/css; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in headers["Cache-Control"]
    notice = "/static/lightweight-charts.NOTICE"  # not versioned: revalidated
    status, body, headers = browser.open("GET", notice)
    assert status == 200 and b"TradingView" in body
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    status, _, headers = browser.open("GET", notice + "?v=1")
    assert status == 200 and "immutable" in headers["Cache-Control"]
    status, _, _ = browser.open("GET", "/static/../app.py")
    assert status in (403, 404)
    status, payload, _ = browser.open("GET", "/static/missing.js")
    assert status == 404 and json.loads(payload)["error"]["code"] == "not_found"
    assert raw_get(server, css).status == 401


def test_hashed_assets_are_cached_for_a_year(tmp_path):
    from algobt.server.app import serve

    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "app.3f2a9c1b.js").write_text("export const x = 1;\n")
    (assets / "app.js").write_text("export const x = 1;\n")
    (assets / "shape.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    srv = serve(db=tmp_path / "a.db", token=TOKEN, quiet=True)
    srv.app.settings["assets_path"] = str(assets)
    try:
        auth_header = {"Authorization": f"token {TOKEN}"}
        hashed = raw_get(srv, "/static/app.3f2a9c1b.js", auth_header)
        assert hashed.status == 200
        assert hashed.getheader("Content-Type") == "text/javascript; charset=utf-8"
        assert hashed.getheader("Cache-Control") == "private, max-age=31536000, immutable"
        plain = raw_get(srv, "/static/app.js", auth_header)
        assert plain.status == 200 and plain.getheader("Cache-Control") == "no-cache"
        assert plain.getheader("Etag")  # so revalidating is cheap
        svg = raw_get(srv, "/static/shape.svg", auth_header)
        assert svg.getheader("Content-Type") == "image/svg+xml"
    finally:
        srv.stop()


def test_over_https_the_cookie_is_secure(tmp_path):
    """Behind a TLS proxy (``X-Forwarded-Proto: https`` with xheaders) the cookie is Secure."""
    import tornado.httpserver
    import tornado.netutil
    from tornado.httpclient import AsyncHTTPClient

    from algobt.server.app import make_app
    from algobt.store import Store

    async def main():
        with Store(tmp_path / "s.db") as store:
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            port = sockets[0].getsockname()[1]
            app = make_app(store, token=TOKEN, port=port)
            http_server = tornado.httpserver.HTTPServer(app, xheaders=True)
            http_server.add_sockets(sockets)
            try:
                resp = await AsyncHTTPClient().fetch(
                    f"http://127.0.0.1:{port}/?token={TOKEN}",
                    headers={"X-Forwarded-Proto": "https"},
                    follow_redirects=False,
                    raise_error=False,
                )
            finally:
                http_server.stop()
                app.settings["jobs"].close()
        return resp

    resp = asyncio.run(main())
    assert resp.code == 302
    attributes = {a.strip().lower() for a in resp.headers["Set-Cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= attributes


def test_the_login_keeps_the_token_out_of_the_log(server, caplog):
    with caplog.at_level(logging.INFO, logger="algobt.server.access"):
        raw_get(server, f"/?token={TOKEN}")
        deadline = time.time() + 10  # the server logs just after it has answered
        while not caplog.records and time.time() < deadline:
            time.sleep(0.01)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "302 GET /?token=[redacted]" in text
    assert TOKEN not in text and auth.cookie_value(TOKEN) not in text
