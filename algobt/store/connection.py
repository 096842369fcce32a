"""Opening the database file safely, and one connection per thread.

A file is checked before anything can write to it: its 100-byte SQLite header
(magic text, page size, size in pages against the file's length), then a
read-only connection runs ``PRAGMA quick_check`` and reads the schema version.
A text file, a truncated file or a file from a newer algobt is refused with a
``StoreError`` naming the path, and its bytes are left exactly as they were.

Then every thread gets its own connection in WAL mode (readers never wait for
the writer, and the writer never waits for readers), with ``busy_timeout`` so
a second writer — the server while a notebook saves — waits instead of failing,
and foreign keys on. Writes run in ``BEGIN IMMEDIATE`` transactions: the write
lock is taken up front, so a transaction never fails half way for a lock.
``:memory:`` databases have a single connection shared under a lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from algobt.errors import StoreError
from algobt.store import schema

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_S = 10.0
MEMORY = ":memory:"


def default_path() -> Path:
    """``$ALGOBT_HOME/algobt.db``, ``ALGOBT_HOME`` defaulting to ``~/.algobt``."""
    home = os.environ.get("ALGOBT_HOME") or "~/.algobt"
    return Path(home).expanduser() / "algobt.db"


def resolve_path(path: str | os.PathLike | None) -> str:
    """The file a store opens: ``path``, ``":memory:"``, or the default (created)."""
    if path is None:
        target = default_path()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store directory {target.parent}: {exc.strerror}; "
                "set ALGOBT_HOME to a writable directory",
                field="path",
            ) from None
        return str(target)
    if isinstance(path, str) and path == MEMORY:
        return MEMORY
    return str(Path(os.fspath(path)).expanduser())


def _refuse(path: str, why: str) -> StoreError:
    return StoreError(
        f"{path} is not a usable algobt database: {why}. The file was left unchanged; "
        "move it away or pass another path",
        field="path",
    )


def check_header(path: str) -> None:
    """Refuse a file that is not a whole SQLite database, reading only its header.

    A missing or empty file is fine (it becomes a new store).
    """
    target = Path(path)
    if not target.exists():
        if not target.parent.is_dir():
            raise StoreError(
                f"cannot create {path}: the directory {target.parent} does not exist",
                field="path",
            )
        return
    if target.is_dir():
        raise StoreError(f"{path} is a directory; give the database file's path", field="path")
    try:
        size = target.stat().st_size
        with open(target, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}", field="path") from None
    if size == 0:
        return
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise _refuse(path, "it is not a SQLite file (no 'SQLite format 3' header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise _refuse(path, f"its header is damaged (page size {page_size})")
    if size % page_size:
        raise _refuse(path, f"it is truncated ({size} bytes, not whole {page_size}-byte pages)")
    pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    wal = Path(f"{path}-wal")
    # While a checkpoint copies pages from a live WAL, page 1 may be written before the
    # file grows; the page count is only a fair test when no WAL holds pages.
    settled = not wal.exists() or wal.stat().st_size == 0
    if settled and counter_valid and pages and pages * page_size > size:
        raise _refuse(
            path, f"it is truncated ({size} bytes; its header counts {pages * page_size})"
        )


def inspect_file(path: str, *, verify: bool = True) -> None:
    """Header check, then a read-only look: refuse a damaged file, another program's
    database, or one from a newer algobt.

    verify: also run ``PRAGMA quick_check`` (reads every page once; about a second
    per few hundred MB).
    """
    check_header(path)
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        return
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _refuse(path, str(exc)) from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        schema.check_version(version, application_id, path)
        if version == 0:
            schema.check_empty(conn, path)
        if verify:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _refuse(path, f"it is damaged ({'; '.join(problems)})")
        else:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(
                f"{path} stayed locked by another process for {BUSY_TIMEOUT_S:g} s; try again",
                field="path",
            ) from None
        raise _refuse(path, str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, str(exc)) from None
    finally:
        conn.close()


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting out other processes doing the same.

    Switching a new file's journal mode takes an exclusive lock, and when two processes
    open one new file at once SQLite answers ``database is locked`` at once instead of
    calling the busy handler (waiting could deadlock them). So: nothing to do when the
    file is already in WAL mode, else try again with short sleeps until the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if not ("locked" in text or "busy" in text) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def translate(exc: sqlite3.Error, path: str) -> StoreError:
    """A SQLite error as ours, saying what to do."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreError(
            f"the database {path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_S:g} s ({text}); try again"
        )
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"the store refused the change ({text})")
    return StoreError(f"database error on {path}: {text}")


class Database:
    """The file, its connections (one per thread and process) and transactions."""

    def __init__(self, path: str | os.PathLike | None = None, *, verify: bool = True):
        self.path = resolve_path(path)
        self.memory = self.path == MEMORY
        if not self.memory:
            inspect_file(self.path, verify=verify)
        self._closed = False
        self._reset()
        conn = self.connection()
        try:
            self.migrated_from = schema.migrate(conn, self.path)
        except sqlite3.Error as exc:
            self.close()
            raise translate(exc, self.path) from exc
        except BaseException:
            self.close()
            raise

    def _reset(self) -> None:
        # A lock held by another thread at fork() would stay locked in the child: new one.
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._shared: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        conn = None
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # close() may run on another thread
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.memory:
                _use_wal(conn)
                # In WAL mode NORMAL survives a killed process with every committed
                # transaction intact; only an OS crash may lose the last commits.
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise translate(exc, self.path) from exc
        conn.row_factory = sqlite3.Row
        with self._lock:
            self._connections.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a forked child opens its own)."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed; open a new Store")
        if os.getpid() != self._pid:
            if self.memory:
                raise StoreError(
                    "an in-memory store lives in the process that made it; a forked "
                    "process must open a database file"
                )
            # Connections must not cross fork(); leave the parent's alone and start over.
            self._reset()
        if self.memory:
            with self._lock:
                if self._shared is None:
                    self._shared = self._open()
                return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        guard = self._lock if self.memory else _NO_LOCK
        with guard:
            if conn.in_transaction:  # nested call: the outer transaction decides
                yield conn
                return
            try:
                conn.execute(begin)
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translate(exc, self.path) from exc
                raise

    def write(self):
        """A write transaction (``BEGIN IMMEDIATE``): all of it commits, or none."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self):
        """A read transaction: every query inside sees one snapshot."""
        return self._transaction("BEGIN")

    def close(self) -> None:
        """Close every connection this object opened (in this process)."""
        if os.getpid() != self._pid:
            self._reset()  # the parent's connections are the parent's to close
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections = []
            self._shared = None
            self._local = threading.local()
            self._closed = True


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NO_LOCK = _NoLock()

__all__ = [
    "BUSY_TIMEOUT_S",
    "Database",
    "default_path",
    "inspect_file",
    "resolve_path",
]
