"""Fixtures for the store tests: a fresh database file, and real engine results."""

from __future__ import annotations

import pytest

from algobt.store import Store
from tests.strategies import SMA_CROSS


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # No test may touch the user's ~/.algobt.
    monkeypatch.setenv("ALGOBT_HOME", str(tmp_path / "home"))


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "store.db")


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.fixture(scope="session")
def sma_config():
    return {"symbol": "DEMO", "period": "1y", "strategy_code": SMA_CROSS}


@pytest.fixture(scope="session")
def outcome(sma_config):
    from algobt.engine.run import run_config

    return run_config(sma_config)
