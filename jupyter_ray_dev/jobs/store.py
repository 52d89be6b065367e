"""History of the jobs launched from here, so the list, re-run and the file link survive restarts.

Job state always comes from Ray; this remembers only what Ray does not: which
project, file and settings launched a submission, and who launched it.

sqlite in the Jupyter data dir, off the event loop (see sqlite_store.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sqlite_store import SqliteStore

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


class JobStore(SqliteStore):
    schema = _SCHEMA
    schema_version = SCHEMA_VERSION
    thread_name = "ray-dev-jobstore"

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

    # --- from the event loop -------------------------------------------------
    async def add(self, record: JobRecord) -> None:
        await self._run(self._add, record)

    async def get(self, submission_id: str) -> JobRecord | None:
        return await self._run(self._get, submission_id)

    async def list(self, address: str | None = None) -> list[JobRecord]:
        """Records for one Ray cluster (its dashboard address), newest first; all when None."""
        return await self._run(self._list, address)

    async def delete(self, submission_id: str) -> bool:
        return await self._run(self._delete, submission_id)
