"""Run statuses: one list, the schema agrees, and the runs a restart must settle."""

from __future__ import annotations

import re
import sqlite3

from algobt.store.runs import ACTIVE, FINISHED, STATUSES


def test_one_list_of_statuses_and_the_schema_spells_the_same(store, db_path):
    assert set(ACTIVE) | set(FINISHED) == set(STATUSES) and not set(ACTIVE) & set(FINISHED)
    with sqlite3.connect(db_path) as conn:
        (sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'backtest_runs'"
        ).fetchone()
    check = re.search(r"CHECK \(status IN \(([^)]*)\)\)", sql)
    assert check, "the runs table checks its status"
    assert tuple(s.strip().strip("'") for s in check.group(1).split(",")) == STATUSES


def test_unfinished_runs_are_the_queued_and_running_ones_of_a_source(store, db_path):
    config = {"symbol": "DEMO", "period": "1y"}
    queued = store.create_run(config)
    running = store.create_run(config, status="running")
    other = store.create_run(config, source="notebook")
    done = store.create_run(config)
    store.update_run(done["id"], status="failed", error="boom")
    mine = [queued["id"], running["id"]]
    assert [r["id"] for r in store.unfinished_runs(source="server")] == mine
    assert [r["id"] for r in store.unfinished_runs()] == [*mine, other["id"]]
    assert store.unfinished_runs(source="server")[0]["config"] == config
    with sqlite3.connect(db_path) as conn:  # the status index serves the query
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM backtest_runs WHERE status IN ('queued', 'running')"
        ).fetchall()
    assert any("backtest_runs_status" in str(row) for row in plan)
