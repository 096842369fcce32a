"""A real ``algobt serve`` subprocess on loopback over a temporary database, and a headless
Chromium (Playwright with Debian's /usr/bin/chromium) to drive the page through its hooks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("ALGOBT_CHROMIUM", "/usr/bin/chromium")


def chromium_or_skip():
    """Playwright's sync API, or skip with the reason when the browser stack is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    return sync_playwright


class ServeProcess:
    """``algobt serve --port 0 --db …`` as a child process; ``url`` is what it printed."""

    def __init__(self, db: Path, extra: list[str] = (), root: Path = ROOT):
        """root: the algobt checkout to run (a benchmark may run an older one beside ours)."""
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "algobt", "serve", "--port", "0", "--db", str(db), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=str(root),
        )
        self.output: list[str] = []
        deadline = time.time() + 60
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = re.search(r"open (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        if self.url is None:
            self.stop()
            raise RuntimeError("algobt serve printed no URL:\n" + "".join(self.output))
        match = re.match(r"(http://[^/]+)/\?token=(\S+)", self.url)
        self.base_url, self.token = match.group(1), match.group(2)

    def api(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def browser():
    sync_playwright = chromium_or_skip()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def serve(tmp_path_factory, browser):
    srv = ServeProcess(tmp_path_factory.mktemp("web") / "algobt.db")
    yield srv
    srv.stop()


class PageWatch:
    """What a page did that a test should refuse: script errors, requests off loopback."""

    def __init__(self, page, base_url: str):
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.unauthorized: list[str] = []
        host = base_url.split("//", 1)[1]
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # Chrome logs every 4xx answer as a console error; answers are checked on their own
        # (a 404 for a strategy without results is expected, a 401 never is).
        page.on(
            "console",
            lambda msg: (
                self.errors.append(msg.text)
                if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: self.unauthorized.append(r.url) if r.status == 401 else None,
        )

        def on_request(request):
            url = request.url
            if not (url.startswith(f"http://{host}/") or url.startswith(f"ws://{host}/")) and not (
                url.startswith("data:") or url.startswith("blob:")
            ):
                self.foreign.append(url)

        page.on("request", on_request)
        page.on("websocket", lambda ws: on_request(ws))

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign
        assert self.unauthorized == [], self.unauthorized


@pytest.fixture
def page(browser, serve):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.watch = PageWatch(pg, serve.base_url)
    yield pg
    context.close()


def shot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot to tests/artifacts/ (gitignored) and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
