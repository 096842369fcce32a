"""Schema versions: old files are upgraded on open, all at once or not at all."""

from __future__ import annotations

import sqlite3

import pytest

from algobt.errors import StoreError
from algobt.store import Store, schema
from tests.store._workers import synthetic_result

# Version 1 exactly as released, written by hand here so that an edit to the
# released migration cannot go unnoticed.
V1_DDL = [
    """CREATE TABLE strategies (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('python', 'json')), code TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '', parameters TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    """CREATE TABLE backtest_configs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT '',
        strategy_id INTEGER REFERENCES strategies(id) ON DELETE SET NULL,
        symbol TEXT, interval TEXT, period TEXT, start_date TEXT, end_date TEXT,
        initial_capital REAL, commission REAL, config TEXT NOT NULL DEFAULT '{}',
        is_template INTEGER NOT NULL DEFAULT 0 CHECK (is_template IN (0, 1)),
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    """CREATE TABLE backtest_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        strategy_id INTEGER REFERENCES strategies(id) ON DELETE SET NULL, strategy_name TEXT,
        config_id INTEGER REFERENCES backtest_configs(id) ON DELETE SET NULL, name TEXT,
        config TEXT NOT NULL DEFAULT '{}', symbol TEXT NOT NULL,
        symbols TEXT NOT NULL DEFAULT '[]', interval TEXT, period TEXT, start_date TEXT,
        end_date TEXT, status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
        ('queued', 'running', 'completed', 'failed', 'cancelled')),
        progress REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
        error TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT)""",
    "CREATE INDEX backtest_runs_strategy ON backtest_runs (strategy_id)",
    "CREATE INDEX backtest_runs_status ON backtest_runs (status)",
    """CREATE TABLE backtest_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
        strategy_id INTEGER REFERENCES strategies(id) ON DELETE SET NULL,
        strategy_name TEXT, symbol TEXT, timeframe TEXT, period TEXT, start_date TEXT,
        end_date TEXT, commission REAL, initial_capital REAL, final_value REAL,
        net_profit REAL, total_return REAL, sharpe_ratio REAL, max_drawdown REAL,
        win_rate REAL, profit_factor REAL, total_trades INTEGER NOT NULL DEFAULT 0,
        winning_trades INTEGER NOT NULL DEFAULT 0, losing_trades INTEGER NOT NULL DEFAULT 0,
        sortino_ratio REAL, calmar_ratio REAL, cagr REAL, annual_return REAL, volatility REAL,
        exposure_pct REAL, equity_peak REAL, commissions REAL, buy_and_hold_return REAL,
        alpha REAL, beta REAL, avg_drawdown REAL, max_drawdown_duration REAL,
        avg_drawdown_duration REAL, best_trade_pct REAL, worst_trade_pct REAL,
        avg_trade_pct REAL, max_holding_time REAL, avg_holding_time REAL, expectancy REAL,
        sqn REAL, kelly_criterion REAL, summary TEXT NOT NULL DEFAULT '{}',
        daily_stats TEXT NOT NULL DEFAULT '[]', symbol_stats TEXT NOT NULL DEFAULT '[]',
        equity_curve TEXT NOT NULL DEFAULT '[]', metrics TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL)""",
    "CREATE INDEX backtest_results_run ON backtest_results (run_id)",
    "CREATE INDEX backtest_results_strategy ON backtest_results (strategy_id)",
    """CREATE TABLE trades (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
        result_id INTEGER NOT NULL REFERENCES backtest_results(id) ON DELETE CASCADE,
        symbol TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('buy', 'sell', 'short', 'cover')),
        entry_time TEXT, exit_time TEXT, entry_price REAL, exit_price REAL, quantity REAL,
        pnl REAL, return_pct REAL, commission REAL, balance REAL, extra TEXT)""",
    "CREATE INDEX trades_run ON trades (run_id)",
    """CREATE TABLE latest_backtest_results (
        strategy_id INTEGER PRIMARY KEY REFERENCES strategies(id) ON DELETE CASCADE,
        run_id INTEGER REFERENCES backtest_runs(id) ON DELETE SET NULL,
        result_id INTEGER REFERENCES backtest_results(id) ON DELETE SET NULL,
        symbol TEXT NOT NULL, timeframe TEXT NOT NULL DEFAULT '1d',
        period TEXT NOT NULL DEFAULT '', initial_balance REAL, commission REAL,
        total_trades INTEGER NOT NULL DEFAULT 0, winning_trades INTEGER NOT NULL DEFAULT 0,
        losing_trades INTEGER NOT NULL DEFAULT 0, win_rate REAL, net_profit REAL,
        total_return_pct REAL, final_equity REAL, max_drawdown REAL, sharpe_ratio REAL,
        trades TEXT NOT NULL DEFAULT '[]', equity_curve TEXT NOT NULL DEFAULT '[]',
        summary TEXT NOT NULL DEFAULT '{}', daily_stats TEXT NOT NULL DEFAULT '[]',
        symbol_stats TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
]
T0 = "2025-06-01T09:00:00.000000Z"


def make_v1_file(path) -> None:
    """A version-1 store with one strategy, one completed run with two trades, and its
    latest row — what an algobt of version 1 would have left."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for statement in V1_DDL:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO strategies VALUES (1, 'old', 'python', 'class S(Strategy): pass', '',"
        " '{}', ?, ?)",
        (T0, T0),
    )
    conn.execute(
        "INSERT INTO backtest_configs (name, symbol, interval, period, config, created_at,"
        " updated_at) VALUES ('mine', 'DEMO', '1d', '1y', '{\"symbol\":\"DEMO\"}', ?, ?)",
        (T0, T0),
    )
    conn.execute(
        "INSERT INTO backtest_runs (id, strategy_id, strategy_name, config, symbol, symbols,"
        " interval, period, status, progress, created_at, started_at, finished_at) VALUES"
        " (7, 1, 'old', '{\"symbol\":\"DEMO\"}', 'DEMO', '[\"DEMO\"]', '1d', '1y',"
        " 'completed', 100, ?, ?, ?)",
        (T0, T0, T0),
    )
    conn.execute(
        "INSERT INTO backtest_runs (id, config, symbol, status, created_at)"
        " VALUES (8, '{}', 'DEMO-FX', 'failed', ?)",
        (T0,),
    )
    conn.execute(
        "INSERT INTO backtest_results (id, run_id, strategy_id, strategy_name, symbol,"
        " timeframe, period, start_date, end_date, initial_capital, final_value,"
        " total_return, total_trades, winning_trades, losing_trades, created_at) VALUES"
        " (3, 7, 1, 'old', 'DEMO', '1d', '1y', '2024-01-02', '2024-12-31', 10000.0,"
        " 10100.125, 1.00125, 2, 1, 1, ?)",
        (T0,),
    )
    for i, pnl in enumerate((150.5, -50.375)):
        conn.execute(
            "INSERT INTO trades (run_id, result_id, symbol, action, entry_time, exit_time,"
            " entry_price, exit_price, quantity, pnl) VALUES (7, 3, 'DEMO', 'buy', ?, ?,"
            " 100.0, 101.0, 10.0, ?)",
            (f"2024-0{i + 3}-01", f"2024-0{i + 3}-15", pnl),
        )
    conn.execute(
        "INSERT INTO latest_backtest_results (strategy_id, run_id, result_id, symbol,"
        " total_trades, trades, created_at, updated_at) VALUES (1, 7, 3, 'DEMO', 2,"
        " '[{},{}]', ?, ?)",
        (T0, T0),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()


def test_version_1_file_is_upgraded_with_its_data(tmp_path):
    path = tmp_path / "v1.db"
    make_v1_file(path)
    with Store(path) as store:
        assert store.migrated_from == 1
        assert store.schema_version == schema.SCHEMA_VERSION
        conn = store._db.connection()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
        # Old rows kept, new columns filled: the data range back-filled from the result.
        run = store.get_run(7)
        assert run["source"] == "server"
        assert (run["data_start"], run["data_end"]) == ("2024-01-02", "2024-12-31")
        assert run["result_id"] == 3
        assert store.get_run(8)["data_start"] is None
        result = store.get_result(3)
        assert result["final_value"] == 10100.125
        assert [t["pnl"] for t in result["trades"]] == [150.5, -50.375]
        assert result["alerts"] == []
        assert store.latest_by_strategy(1)["strategy_name"] == "old"
        assert store.get_config(1)["name"] == "mine"
        assert [c["name"] for c in store.config_templates()][:2] == [
            "DEMO daily 1y",
            "DEMO-FX 1h 3mo",
        ]
        # New indexes serve the trade filters.
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM trades WHERE exit_time >= '2024-03-10'"
        ).fetchall()
        assert "trades_exit_time" in str([tuple(row) for row in plan])
        assert store.list_trades(start="2024-03-10", end="2024-03-31")["count"] == 1
        # And the upgraded file takes new runs.
        rng = __import__("random").Random(0)
        run = store.record_run({"symbol": "DEMO"}, synthetic_result(rng, 3), strategy_id=1)
        assert store.latest_by_strategy(1)["run_id"] == run["id"]
        assert store.integrity_check() == ["ok"]


def test_version_2_alert_rows_read_as_single_alerts(tmp_path):
    path = tmp_path / "v2.db"
    make_v1_file(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    schema.MIGRATIONS[1](conn)  # version 2 as released
    conn.execute(
        "INSERT INTO backtest_alerts (run_id, code, message, bar, bar_time, created_at)"
        " VALUES (7, 'out_of_money', 'equity fell', 17, '2024-06-03', ?)",
        (T0,),
    )
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.close()
    with Store(path) as store:
        assert store.migrated_from == 2
        (alert,) = store.list_alerts(7)
        assert (alert["code"], alert["bar"], alert["time"]) == ("out_of_money", 17, "2024-06-03")
        assert (alert["count"], alert["last_bar"], alert["last_time"]) == (1, None, None)


def test_version_0_empty_file_is_upgraded(tmp_path):
    path = tmp_path / "v0.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE scratch (x)")
    conn.execute("DROP TABLE scratch")
    conn.commit()
    conn.close()
    assert path.stat().st_size > 0
    with Store(path) as store:
        assert store.migrated_from == 0
        assert store.list_strategies()["count"] == 0
        assert len(store.config_templates()) == 4


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "store.db"
    with Store(path) as store:
        store.create_strategy("kept", "class S(Strategy): pass")

    def broken(conn):
        conn.execute("ALTER TABLE trades ADD COLUMN tag TEXT")
        conn.execute("CREATE TABLE strategies (x)")  # fails: the table exists

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with pytest.raises(StoreError, match="already exists"):
        Store(path)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    columns = [row[1] for row in conn.execute("PRAGMA table_info(trades)")]
    assert "tag" not in columns
    conn.close()
    with Store(path) as store:
        assert store.get_strategy_by_name("kept")["kind"] == "python"


def test_migrations_are_numbered_by_position():
    assert schema.SCHEMA_VERSION == len(schema.MIGRATIONS) == 4
    with Store(":memory:") as store:
        conn = store._db.connection()
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        }
    assert {
        "strategies",
        "backtest_configs",
        "backtest_runs",
        "backtest_results",
        "trades",
        "backtest_alerts",
        "latest_backtest_results",
    } <= tables
