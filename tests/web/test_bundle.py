"""The committed page and widget bundles match their sources, and the server serves the page
(no browser needed)."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "algobt" / "server" / "static"
WIDGETS = ROOT / "algobt" / "widgets" / "static"


def source_files() -> list[str]:
    """The same list as frontend/build.mjs sourceFiles(): src/**, vendor/**, widgets/**, lock,
    build, html."""
    files = [
        p
        for folder in ("src", "vendor", "widgets")
        for p in (FRONTEND / folder).rglob("*")
        if p.is_file()
    ]
    files += [FRONTEND / "package-lock.json", FRONTEND / "build.mjs", FRONTEND / "index.html"]
    return sorted(p.relative_to(FRONTEND).as_posix() for p in files)


def source_hash() -> str:
    """sha256 over "path\\0content\\0" (CRLF read as LF), as build.mjs computes it."""
    h = hashlib.sha256()
    for name in source_files():
        h.update(name.encode() + b"\0")
        h.update((FRONTEND / name).read_bytes().replace(b"\r\n", b"\n"))
        h.update(b"\0")
    return h.hexdigest()


def test_committed_bundle_is_built_from_the_current_sources():
    info = json.loads((STATIC / "build-info.json").read_text("utf-8"))
    assert info["files"] == source_files(), "frontend/ gained or lost files: run npm run build"
    assert info["source_hash"] == source_hash(), (
        "algobt/server/static/ is older than frontend/: run `npm install && npm run build` "
        "in frontend/ and commit the result"
    )
    for name in (info["js"], info["css"], "index.html"):
        assert (STATIC / name).is_file(), name
    # exactly one bundle: stale hashed files are not left behind
    assert sorted(p.name for p in STATIC.glob("app-*")) == sorted([info["js"], info["css"]])


def test_committed_widget_bundles_are_built_from_the_current_sources():
    info = json.loads((WIDGETS / "build-info.json").read_text("utf-8"))
    assert info["files"] == source_files(), "frontend/ gained or lost files: run npm run build"
    assert info["source_hash"] == source_hash(), (
        "algobt/widgets/static/ is older than frontend/: run `npm install && npm run build` "
        "in frontend/ and commit the result"
    )
    assert info["widgets"] == ["live_chart.js", "result.js", "compare.js", "heatmap.js"]
    built = sorted(p.name for p in WIDGETS.iterdir())
    assert built == sorted(
        [*info["widgets"], "widgets.css", "build-info.json"]
        + ["lightweight-charts.LICENSE", "lightweight-charts.NOTICE"]
    )
    for name in info["widgets"]:
        text = (WIDGETS / name).read_text("utf-8")
        # self-contained ES modules: anywidget's _esm cannot import a sibling or a CDN file
        assert not re.search(r"""(^|[;\s])import\s*[^(]*?from\s*["']""", text), name
        assert not re.search(r"""import\s*\(\s*["']https?:""", text), name
        assert "export{" in text.replace(" ", "") and "render" in text, name
    assert "Apache License" in (WIDGETS / "lightweight-charts.LICENSE").read_text("utf-8")
    assert "TradingView" in (WIDGETS / "lightweight-charts.NOTICE").read_text("utf-8")


def test_chart_library_licence_and_notice_sit_beside_the_bundle():
    licence = (STATIC / "lightweight-charts.LICENSE").read_text("utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    assert "TradingView" in (STATIC / "lightweight-charts.NOTICE").read_text("utf-8")
    lock = json.loads((FRONTEND / "package-lock.json").read_text("utf-8"))
    version = lock["packages"]["node_modules/lightweight-charts"]["version"]
    assert version.startswith("5.")
    assert json.loads((STATIC / "build-info.json").read_text())["lightweight-charts"] == version


def test_bundle_loads_nothing_from_the_internet():
    info = json.loads((STATIC / "build-info.json").read_text("utf-8"))
    text = (STATIC / info["js"]).read_text("utf-8") + (STATIC / info["css"]).read_text("utf-8")
    assert not re.search(r"""(import\s*\(?\s*["']https?:|url\(\s*["']?https?:|@import)""", text)
    assert "cdn" not in (STATIC / "index.html").read_text("utf-8").lower()


def _get(url: str, token: str | None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from algobt.server.app import serve

    srv = serve(port=0, db=tmp_path_factory.mktemp("page") / "a.db", quiet=True)
    yield srv
    srv.stop()


def test_page_is_the_built_index_loading_its_bundle_from_static(server):
    info = json.loads((STATIC / "build-info.json").read_text("utf-8"))
    status, headers, body = _get(f"{server.base_url}/", server.token)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    assert f'<script type="module" src="/static/{info["js"]}"></script>' in html
    assert f'<link rel="stylesheet" href="/static/{info["css"]}">' in html
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp  # scripts: same origin only
    assert server.token not in html


def test_static_files_need_the_token_and_hashed_names_cache_long(server):
    info = json.loads((STATIC / "build-info.json").read_text("utf-8"))
    status, _, _ = _get(f"{server.base_url}/static/{info['js']}", None)
    assert status == 401
    status, headers, body = _get(f"{server.base_url}/static/{info['js']}", server.token)
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in headers["Cache-Control"] and body == (STATIC / info["js"]).read_bytes()
    status, headers, _ = _get(f"{server.base_url}/static/lightweight-charts.NOTICE", server.token)
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert headers["Cache-Control"] == "no-cache"
    for bad in ("..%2Fapp.py", "%2e%2e%2f%2e%2e%2fcli.py", ".hidden", "nope.js"):
        status, _, _ = _get(f"{server.base_url}/static/{bad}", server.token)
        assert status in (403, 404), bad  # outside the folder: 403; not there: 404


def test_status_info_stays_reachable(server):
    status, _, body = _get(f"{server.base_url}/api/health/", server.token)
    assert status == 200 and json.loads(body)["status"] == "ok"
