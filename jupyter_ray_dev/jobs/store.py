"""History of the jobs launched from here, so the list, re-run and the file link survive restarts.

Job state always comes from Ray; this remembers only what Ray does not: which
project, file and settings launched a submission, and who launched it.

sqlite in the Jupyter data dir. The event loop never waits on it: every query
runs on one dedicated thread that owns the only connection of this process
(sqlite connections are not shared across threads), so writes from concurrent
requests are serialised there. WAL and a busy timeout let a second server (or a
CLI) on the same file read and write at the same time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    submission_id TEXT PRIMARY KEY,
    address       TEXT NOT NULL,      -- the Ray dashboard the job was submitted to
    project       TEXT NOT NULL,      -- folder relative to the Jupyter root ('' = the root)
    file          TEXT NOT NULL,      -- relative to the Jupyter root
    user          TEXT,
    settings      TEXT NOT NULL,      -- JSON: JobSettings.to_dict(), for re-run
    created       REAL NOT NULL       -- seconds since the epoch
);
CREATE INDEX IF NOT EXISTS jobs_address_created ON jobs (address, created);
"""


def default_store_path() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ray_dev" / "jobs.sqlite"


@dataclass(frozen=True)
class JobRecord:
    submission_id: str
    address: str
    project: str
    file: str
    user: str | None
    settings: dict[str, Any]
    created: float = field(default_factory=time.time)


def _row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        submission_id=row["submission_id"],
        address=row["address"],
        project=row["project"],
        file=row["file"],
        user=row["user"],
        settings=json.loads(row["settings"]),
        created=row["created"],
    )


class JobStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ray-dev-jobstore")
        self._conn: sqlite3.Connection | None = None  # lives on the store thread only

    # --- on the store thread -------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we open transactions explicitly (BEGIN IMMEDIATE takes
            # the write lock up front, so two writers wait instead of failing mid-transaction)
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL keeps this crash-safe
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)  # idempotent: safe when two servers start together
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._conn = conn
        return self._conn

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            count = db.execute(sql, params).rowcount
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return count

    def _add(self, record: JobRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO jobs (submission_id, address, project, file, user, settings,"
            " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.submission_id, record.address, record.project, record.file, record.user,
             json.dumps(record.settings, sort_keys=True), record.created),
        )

    def _get(self, submission_id: str) -> JobRecord | None:
        row = self._db().execute(
            "SELECT * FROM jobs WHERE submission_id = ?", (submission_id,)
        ).fetchone()
        return _row(row) if row else None

    def _list(self, address: str | None) -> list[JobRecord]:
        if address is None:
            rows = self._db().execute("SELECT * FROM jobs ORDER BY created DESC")
        else:
            rows = self._db().execute(
                "SELECT * FROM jobs WHERE address = ? ORDER BY created DESC", (address,)
            )
        return [_row(r) for r in rows.fetchall()]

    def _delete(self, submission_id: str) -> bool:
        return self._write("DELETE FROM jobs WHERE submission_id = ?", (submission_id,)) > 0

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- from the event loop -------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def add(self, record: JobRecord) -> None:
        await self._run(self._add, record)

    async def get(self, submission_id: str) -> JobRecord | None:
        return await self._run(self._get, submission_id)

    async def list(self, address: str | None = None) -> list[JobRecord]:
        """Records for one Ray cluster (its dashboard address), newest first; all when None."""
        return await self._run(self._list, address)

    async def delete(self, submission_id: str) -> bool:
        return await self._run(self._delete, submission_id)

    async def close(self) -> None:
        await self._run(self._close)
        self._executor.shutdown(wait=True)
