"""sqlite for the server's small histories (jobs, promotions), never on the event loop.

Every query runs on one dedicated thread that owns the only connection of this
process (sqlite connections are not shared across threads), so writes from
concurrent requests are serialised there. WAL and a busy timeout let a second
server (or a CLI) on the same file read and write at the same time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch the file to WAL (kept in the file: a no-op once done). sqlite answers
    "database is locked" at once, without its busy handler, when another connection is
    switching the same new file at that moment (two servers starting on one data dir)."""
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteStore:
    schema = ""  # CREATE ... IF NOT EXISTS statements: run on every open, so idempotent
    schema_version: int | None = None
    # (table, column, declaration) added since a table was first created: a file written
    # by an older version gets them on open (CREATE TABLE IF NOT EXISTS leaves it as it is)
    added_columns: tuple[tuple[str, str, str], ...] = ()
    thread_name = "ray-dev-store"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.thread_name)
        self._conn: sqlite3.Connection | None = None  # lives on the store thread only

    # --- on the store thread -------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions explicitly (BEGIN IMMEDIATE takes
            # the write lock up front, so two writers wait instead of failing mid-transaction)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            _wal(conn, deadline=time.monotonic() + 30.0)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL keeps this crash-safe
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(self.schema)  # safe when two servers start together
            self._add_columns(conn)
            if self.schema_version is not None:
                conn.execute(f"PRAGMA user_version={int(self.schema_version)}")
            self._conn = conn
            self._opened()
        return self._conn

    def _opened(self) -> None:
        """Once per process, on the first use of the file: a store's recovery after a
        server that was killed (work it left "in progress" that nobody runs any more)."""

    def _add_columns(self, conn: sqlite3.Connection) -> None:
        for table, column, declaration in self.added_columns:
            have = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column in have:
                continue
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            except sqlite3.OperationalError as err:
                if "duplicate column" not in str(err):  # another server added it first
                    raise

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """One statement in its own write transaction; the number of rows it changed."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            count = db.execute(sql, params).rowcount
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return count

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- from the event loop -------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)
