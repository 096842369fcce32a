"""Shared fixtures: no network, a private ALGOBT_HOME, recorded yfinance frames."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest

from algobt.engine.data import yahoo

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test runs with sockets refused, Yahoo's fetcher disarmed and its own cache home."""

    def refuse(*args, **kwargs):
        raise AssertionError("a data test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(yahoo, "fetch", refuse)
    monkeypatch.setenv("ALGOBT_HOME", str(tmp_path / "home"))


@pytest.fixture
def recorded():
    """``recorded(name)``: a fixture frame exactly as yfinance 1.7's download() returns it."""

    def read(name: str) -> pd.DataFrame:
        return pd.read_parquet(FIXTURES / f"{name}.parquet")

    return read


class FakeYahoo:
    """A stand-in for ``yahoo.fetch`` that serves recorded frames and counts its calls."""

    def __init__(self, frames: dict[str, pd.DataFrame]):
        self.frames = frames
        self.calls: list[dict] = []

    def __call__(self, symbol, *, start, end, interval):
        self.calls.append({"symbol": symbol, "start": start, "end": end, "interval": interval})
        return self.frames[symbol]


@pytest.fixture
def fake_yahoo(recorded):
    """A :class:`FakeYahoo` serving AAPL daily, BTC-USD hourly and an unknown ticker."""
    return FakeYahoo(
        {
            "AAPL": recorded("aapl_1d"),
            "BTC-USD": recorded("btc-usd_1h"),
            "NOSUCHTICKER": recorded("nosuchticker_1d"),
        }
    )
