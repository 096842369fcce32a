"""The store's tables, as a list of forward migrations.

``PRAGMA user_version`` holds the number of migrations applied. Opening a store
applies the missing ones in order, all in one ``BEGIN IMMEDIATE`` transaction
(SQLite's DDL is transactional, and so is ``user_version``): a file is either
at its old version or at the new one, never in between. A released migration
is never edited; a change is a new function appended to ``MIGRATIONS``.

Times are ISO 8601 UTC text; money, prices and percents are REAL (IEEE
doubles, stored exactly); lists and objects are compact JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from algobt.errors import StoreError

# "ALBT": tells an algobt store from another program's SQLite file.
APPLICATION_ID = 0x414C4254


def _run(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT first; one statement at a time keeps the migration atomic.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


# --------------------------------------------------------------------------------------
# Version 1: the original models — strategies, configs, runs, results, trades,
# and the latest result per strategy.
# --------------------------------------------------------------------------------------
_V1 = """
CREATE TABLE strategies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('python', 'json')),
    code        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    parameters  TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE backtest_configs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL DEFAULT '',
    strategy_id     INTEGER REFERENCES strategies(id) ON DELETE SET NULL,
    symbol          TEXT,
    interval        TEXT,
    period          TEXT,
    start_date      TEXT,
    end_date        TEXT,
    initial_capital REAL,
    commission      REAL,
    config          TEXT NOT NULL DEFAULT '{}',
    is_template     INTEGER NOT NULL DEFAULT 0 CHECK (is_template IN (0, 1)),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE backtest_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy_id   INTEGER REFERENCES strategies(id) ON DELETE SET NULL,
    strategy_name TEXT,
    config_id     INTEGER REFERENCES backtest_configs(id) ON DELETE SET NULL,
    name          TEXT,
    config        TEXT NOT NULL DEFAULT '{}',
    symbol        TEXT NOT NULL,
    symbols       TEXT NOT NULL DEFAULT '[]',
    interval      TEXT,
    period        TEXT,
    start_date    TEXT,
    end_date      TEXT,
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress      REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
    error         TEXT,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE INDEX backtest_runs_strategy ON backtest_runs (strategy_id);
CREATE INDEX backtest_runs_status ON backtest_runs (status);
CREATE TABLE backtest_results (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id                INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
    strategy_id           INTEGER REFERENCES strategies(id) ON DELETE SET NULL,
    strategy_name         TEXT,
    symbol                TEXT,
    timeframe             TEXT,
    period                TEXT,
    start_date            TEXT,
    end_date              TEXT,
    commission            REAL,
    initial_capital       REAL,
    final_value           REAL,
    net_profit            REAL,
    total_return          REAL,
    sharpe_ratio          REAL,
    max_drawdown          REAL,
    win_rate              REAL,
    profit_factor         REAL,
    total_trades          INTEGER NOT NULL DEFAULT 0,
    winning_trades        INTEGER NOT NULL DEFAULT 0,
    losing_trades         INTEGER NOT NULL DEFAULT 0,
    sortino_ratio         REAL,
    calmar_ratio          REAL,
    cagr                  REAL,
    annual_return         REAL,
    volatility            REAL,
    exposure_pct          REAL,
    equity_peak           REAL,
    commissions           REAL,
    buy_and_hold_return   REAL,
    alpha                 REAL,
    beta                  REAL,
    avg_drawdown          REAL,
    max_drawdown_duration REAL,
    avg_drawdown_duration REAL,
    best_trade_pct        REAL,
    worst_trade_pct       REAL,
    avg_trade_pct         REAL,
    max_holding_time      REAL,
    avg_holding_time      REAL,
    expectancy            REAL,
    sqn                   REAL,
    kelly_criterion       REAL,
    summary               TEXT NOT NULL DEFAULT '{}',
    daily_stats           TEXT NOT NULL DEFAULT '[]',
    symbol_stats          TEXT NOT NULL DEFAULT '[]',
    equity_curve          TEXT NOT NULL DEFAULT '[]',
    metrics               TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL
);
CREATE INDEX backtest_results_run ON backtest_results (run_id);
CREATE INDEX backtest_results_strategy ON backtest_results (strategy_id);
CREATE TABLE trades (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
    result_id   INTEGER NOT NULL REFERENCES backtest_results(id) ON DELETE CASCADE,
    symbol      TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('buy', 'sell', 'short', 'cover')),
    entry_time  TEXT,
    exit_time   TEXT,
    entry_price REAL,
    exit_price  REAL,
    quantity    REAL,
    pnl         REAL,
    return_pct  REAL,
    commission  REAL,
    balance     REAL,
    extra       TEXT
);
CREATE INDEX trades_run ON trades (run_id);
CREATE TABLE latest_backtest_results (
    strategy_id      INTEGER PRIMARY KEY REFERENCES strategies(id) ON DELETE CASCADE,
    run_id           INTEGER REFERENCES backtest_runs(id) ON DELETE SET NULL,
    result_id        INTEGER REFERENCES backtest_results(id) ON DELETE SET NULL,
    symbol           TEXT NOT NULL,
    timeframe        TEXT NOT NULL DEFAULT '1d',
    period           TEXT NOT NULL DEFAULT '',
    initial_balance  REAL,
    commission       REAL,
    total_trades     INTEGER NOT NULL DEFAULT 0,
    winning_trades   INTEGER NOT NULL DEFAULT 0,
    losing_trades    INTEGER NOT NULL DEFAULT 0,
    win_rate         REAL,
    net_profit       REAL,
    total_return_pct REAL,
    final_equity     REAL,
    max_drawdown     REAL,
    sharpe_ratio     REAL,
    trades           TEXT NOT NULL DEFAULT '[]',
    equity_curve     TEXT NOT NULL DEFAULT '[]',
    summary          TEXT NOT NULL DEFAULT '{}',
    daily_stats      TEXT NOT NULL DEFAULT '[]',
    symbol_stats     TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
"""


def _v1(conn: sqlite3.Connection) -> None:
    _run(conn, _V1)


# --------------------------------------------------------------------------------------
# Version 2: where a run came from and what it actually simulated, its alerts, the
# trade filters' indexes, and built-in config templates.
# --------------------------------------------------------------------------------------
TEMPLATES = (
    (
        "DEMO daily 1y",
        {
            "symbol": "DEMO",
            "timeframe": "1d",
            "period": "1y",
            "initial_capital": 10000.0,
            "commission": 0.001,
            "slippage": 0.0005,
        },
    ),
    (
        "DEMO-FX 1h 3mo",
        {
            "symbol": "DEMO-FX",
            "timeframe": "1h",
            "period": "3mo",
            "initial_capital": 10000.0,
            "commission": 0.0001,
            "slippage": 0.0001,
        },
    ),
    (
        "DEMO-BTC 1d 2y",
        {
            "symbol": "DEMO-BTC",
            "timeframe": "1d",
            "period": "2y",
            "initial_capital": 10000.0,
            "commission": 0.001,
            "slippage": 0.0005,
        },
    ),
    (
        "Multi-symbol demo",
        {
            "symbols": ["DEMO", "DEMO-FX", "DEMO-BTC"],
            "timeframe": "1d",
            "period": "1y",
            "initial_capital": 30000.0,
            "commission": 0.001,
            "slippage": 0.0005,
        },
    ),
)

_V2 = """
ALTER TABLE backtest_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'server';
ALTER TABLE backtest_runs ADD COLUMN data_start TEXT;
ALTER TABLE backtest_runs ADD COLUMN data_end TEXT;
UPDATE backtest_runs SET
    data_start = (SELECT r.start_date FROM backtest_results r
                  WHERE r.run_id = backtest_runs.id ORDER BY r.id LIMIT 1),
    data_end = (SELECT r.end_date FROM backtest_results r
                WHERE r.run_id = backtest_runs.id ORDER BY r.id LIMIT 1)
    WHERE status = 'completed';
CREATE TABLE backtest_alerts (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
    level      TEXT NOT NULL DEFAULT 'warning',
    code       TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL DEFAULT '',
    symbol     TEXT,
    bar        INTEGER,
    bar_time   TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX backtest_alerts_run ON backtest_alerts (run_id);
CREATE INDEX trades_result ON trades (result_id);
CREATE INDEX trades_symbol ON trades (symbol);
CREATE INDEX trades_exit_time ON trades (exit_time);
ALTER TABLE backtest_configs ADD COLUMN symbols TEXT;
ALTER TABLE backtest_configs ADD COLUMN is_builtin INTEGER NOT NULL DEFAULT 0
    CHECK (is_builtin IN (0, 1))
"""


def _v2(conn: sqlite3.Connection) -> None:
    _run(conn, _V2)
    conn.execute(
        "UPDATE backtest_configs SET symbols = json_array(symbol) WHERE symbol IS NOT NULL"
    )
    stamp = "2026-01-01T00:00:00.000000Z"
    for name, body in TEMPLATES:
        symbols = body.get("symbols") or [body["symbol"]]
        conn.execute(
            "INSERT INTO backtest_configs (name, symbol, symbols, interval, period,"
            " initial_capital, commission, config, is_template, is_builtin,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?)",
            (
                name,
                ",".join(symbols),
                json.dumps(symbols),
                body["timeframe"],
                body["period"],
                body["initial_capital"],
                body["commission"],
                json.dumps(body, separators=(",", ":")),
                stamp,
                stamp,
            ),
        )
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


# --------------------------------------------------------------------------------------
# Version 3: an alert row may stand for many alerts of one code (the run's alert
# summary): how many, and the bar and time of the last one (``bar``/``bar_time``
# hold the first). A row of one alert has count 1 and no last bar.
# --------------------------------------------------------------------------------------
_V3 = """
ALTER TABLE backtest_alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1);
ALTER TABLE backtest_alerts ADD COLUMN last_bar INTEGER;
ALTER TABLE backtest_alerts ADD COLUMN last_time TEXT
"""


def _v3(conn: sqlite3.Connection) -> None:
    _run(conn, _V3)


# --------------------------------------------------------------------------------------
# Version 4: what each run was made of (its provenance: strategy hash, parameters, data
# source, cache key, rows and first/last bar with a hash of the bars, fill rules and the
# algobt version), so ``algobt.rerun`` can make it again or say which input changed.
# Runs saved before have ``{}``: nothing recorded.
# --------------------------------------------------------------------------------------
_V4 = """
ALTER TABLE backtest_runs ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}'
"""


def _v4(conn: sqlite3.Connection) -> None:
    _run(conn, _V4)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def check_version(version: int, application_id: int, path: str) -> None:
    """Refuse a file written by a newer algobt, or by another program."""
    if application_id not in (0, APPLICATION_ID):
        raise StoreError(
            f"{path} is a SQLite database of another program (application_id "
            f"{application_id:#x}), not an algobt store; pass another path",
            field="path",
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer algobt (schema version {version}; this "
            f"algobt knows versions up to {SCHEMA_VERSION}). Upgrade algobt "
            "(pip install -U algobt) or use another database file; the file was not changed",
            field="path",
        )


def check_empty(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a version-0 file that already has tables: another program's database."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    if tables:
        raise StoreError(
            f"{path} is a SQLite database with tables of its own "
            f"({', '.join(tables[:5])}), not an algobt store; pass another path",
            field="path",
        )


def migrate(conn: sqlite3.Connection, path: str) -> int:
    """Bring the database to ``SCHEMA_VERSION``; return the version it was at.

    The connection must be in autocommit mode with foreign keys enabled.
    """
    found = user_version(conn)
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    check_version(found, application_id, path)
    if found == SCHEMA_VERSION:
        return found
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the write lock.
        found = user_version(conn)
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        check_version(found, application_id, path)
        if found == 0:
            check_empty(conn, path)
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise StoreError(
                f"migrating {path} to version {SCHEMA_VERSION} left {len(problems)} broken "
                f"references (first: table {problems[0][0]}); the file was not changed",
                field="path",
            )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
