"""Opening a store: where the file lives, files refused untouched, threads, closing."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from algobt.errors import ConfigError, StoreError
from algobt.store import SCHEMA_VERSION, Store, default_path
from tests.store._workers import synthetic_result

ROOT = Path(__file__).resolve().parents[2]


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_default_path_follows_algobt_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ALGOBT_HOME", str(tmp_path / "somewhere"))
    assert default_path() == tmp_path / "somewhere" / "algobt.db"
    with Store() as store:
        assert store.path == str(tmp_path / "somewhere" / "algobt.db")
    assert (tmp_path / "somewhere" / "algobt.db").exists()
    monkeypatch.delenv("ALGOBT_HOME")
    assert default_path() == Path("~/.algobt/algobt.db").expanduser()


def test_new_file_is_wal_with_foreign_keys_and_latest_version(db_path):
    with Store(db_path) as store:
        assert store.schema_version == SCHEMA_VERSION == 4
        assert store.migrated_from == 0
        assert store.integrity_check() == ["ok"]
        conn = store._db.connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    with Store(db_path) as again:
        assert again.migrated_from == SCHEMA_VERSION


def test_memory_store(outcome, sma_config):
    store = Store(":memory:")
    run = store.record_run(sma_config, outcome.to_dict(), strategy_name="SMA")
    assert store.get_run(run["id"])["status"] == "completed"
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


@pytest.mark.parametrize(
    "content, why",
    [
        (b"hello, this is a text file and not a database\n" * 20, "not a SQLite file"),
        (b"SQLite format 3\x00", "not a SQLite file"),  # shorter than a header
        (b"\x00" * 4096, "not a SQLite file"),
    ],
)
def test_non_sqlite_files_are_refused_untouched(tmp_path, content, why):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    before = digest(path)
    with pytest.raises(StoreError, match=why) as info:
        Store(path)
    assert str(path) in info.value.message
    assert info.value.field == "path"
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def _filled_file(path) -> None:
    with Store(path) as store:
        rng = __import__("random").Random(0)
        for _ in range(30):
            store.record_run({"symbol": "DEMO"}, synthetic_result(rng, 50), strategy_name="s")
    # Closing the last connection checkpoints the WAL into the file.
    assert not Path(f"{path}-wal").exists()


def test_truncated_file_is_refused_untouched(tmp_path):
    whole = tmp_path / "whole.db"
    _filled_file(whole)
    data = whole.read_bytes()
    assert len(data) > 64 * 1024
    for cut in (len(data) // 2, len(data) // 2 + 100, 150):
        path = tmp_path / f"cut{cut}.db"
        path.write_bytes(data[:cut])
        with pytest.raises(StoreError, match="truncated") as info:
            Store(path)
        assert str(path) in str(info.value)
        assert path.read_bytes() == data[:cut]


def test_damaged_pages_are_refused_untouched(tmp_path):
    path = tmp_path / "damaged.db"
    _filled_file(path)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(2 * page, len(data), page):  # scribble over every b-tree page header
        data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    before = digest(path)
    with pytest.raises(StoreError, match="not a usable algobt database") as info:
        Store(path)
    assert str(path) in str(info.value)
    assert digest(path) == before


def test_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "future.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="newer algobt") as info:
        Store(path)
    assert f"schema version {SCHEMA_VERSION + 1}" in str(info.value)
    assert str(path) in str(info.value)
    assert digest(path) == before


def test_another_programs_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="customers"):
        Store(path)
    assert digest(path) == before
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    with pytest.raises(StoreError, match="another program"):
        Store(path)


def test_bad_paths(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "dir" / "x.db")
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


def test_empty_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as store:
        assert store.migrated_from == 0
        assert len(store.config_templates()) == 4


def test_threads_share_one_store(db_path):
    store = Store(db_path)
    errors = []

    def work(k):
        try:
            rng = __import__("random").Random(k)
            for _ in range(8):
                store.record_run(
                    {"symbol": "DEMO"}, synthetic_result(rng, 20), strategy_name=f"t{k % 3}"
                )
                store.latest_results(page_size=5)
                store.list_trades(symbol="DEMO", page_size=10)
        except Exception as exc:  # collected for the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.list_runs()["count"] == 64
    assert store.latest_results()["count"] == 3
    assert len(store._db._connections) == 9  # the opening thread's and one per worker
    store.close()


def test_memory_store_is_shared_between_threads():
    store = Store(":memory:")
    rng = __import__("random").Random(3)
    results = [synthetic_result(rng, 5) for _ in range(20)]

    def work(k):
        for r in results[k::4]:
            store.record_run({"symbol": "DEMO"}, r, strategy_name="m")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.list_runs()["count"] == 20
    assert store.list_trades(page_size=1000)["count"] == 100


@pytest.mark.parametrize(
    "page, page_size, field",
    [(0, 10, "page"), (-1, 10, "page"), ("x", 10, "page"), (True, 10, "page"),
     (1, 0, "page_size"), (1, 1001, "page_size"), (1, 2.5, "page_size"), (1, None, "page_size")],
)  # fmt: skip
def test_bad_pagination(store, page, page_size, field):
    for lister in (store.list_runs, store.list_results, store.list_strategies,
                   store.list_configs, store.latest_results):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            lister(page=page, page_size=page_size)
        assert info.value.field == field
        assert field in info.value.message
    with pytest.raises(ConfigError):
        store.list_trades(page=page, page_size=page_size)


def test_pages_as_query_text(store):
    page = store.list_strategies(page="1", page_size="20")
    assert page == {"count": 0, "page": 1, "page_size": 20, "results": []}


def test_engine_never_imports_the_store():
    engine = ROOT / "algobt" / "engine"
    offenders = [
        str(p.relative_to(ROOT)) for p in engine.rglob("*.py") if "algobt.store" in p.read_text()
    ]
    assert offenders == []


def _use_inherited(store, queue):
    try:
        store.create_strategy("child", "")
        queue.put(store.list_strategies()["count"])
    except Exception as exc:  # sent back for the assertion
        queue.put(repr(exc))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_opens_its_own_connection(db_path):
    ctx = multiprocessing.get_context("fork")
    with Store(db_path) as store:
        store.create_strategy("parent", "")
        queue = ctx.Queue()
        child = ctx.Process(target=_use_inherited, args=(store, queue))
        child.start()
        assert queue.get(timeout=30) == 2
        child.join(10)
        assert store.list_strategies()["count"] == 2  # the parent's connection still works
    memory = Store(":memory:")
    child = ctx.Process(target=_use_inherited, args=(memory, queue))
    child.start()
    assert "in-memory store" in queue.get(timeout=30)
    child.join(10)
