"""History of the jobs launched from here, so the list, re-run and the file link survive restarts.

Job state always comes from Ray; this remembers only what Ray does not: which
project, file and settings launched a submission, who launched it, and the record
of what the run used (``project.run_record``): one ``runs`` row per job, its
project's file digests kept once per distinct set in ``file_sets``. For when Ray
forgets a job (a head that restarted: its jobs go with it), the status Ray last reported
(``last_seen``) and the log as last read (``KeptLogs``, files beside the store) are kept
too; they are shown only while Ray does not know the job.

sqlite in the Jupyter data dir, off the event loop (see sqlite_store.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project.run_record import RunRecord
from ..sqlite_store import SqliteStore

SCHEMA_VERSION = 2
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
CREATE TABLE IF NOT EXISTS runs (
    submission_id TEXT PRIMARY KEY,
    root          TEXT NOT NULL,      -- the Jupyter root the project path is relative to
    project       TEXT NOT NULL,
    file          TEXT NOT NULL,
    created       REAL NOT NULL,
    state         TEXT NOT NULL,      -- pending | recorded | partial | missing | not_recorded
    status        TEXT,               -- Ray's final status
    ended         REAL,
    runtime_env   TEXT NOT NULL,      -- JSON, as submitted, secrets masked
    files_hash    TEXT,               -- -> file_sets.hash
    environment   TEXT NOT NULL,      -- JSON: what the launcher recorded
    note          TEXT
);
CREATE INDEX IF NOT EXISTS runs_project_created ON runs (root, project, created);
-- what this server last saw of a job, for when Ray no longer knows it (a restarted head)
CREATE TABLE IF NOT EXISTS last_seen (
    submission_id TEXT PRIMARY KEY,
    status        TEXT NOT NULL,
    message       TEXT,
    start_time    REAL,               -- seconds since the epoch, as Ray reported
    end_time      REAL,
    seen          REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS file_sets (
    hash  TEXT PRIMARY KEY,
    files TEXT NOT NULL               -- JSON: {relative path: sha256}
);
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
    # what this server last saw Ray report (None: never seen)
    last: LastSeen | None = None


@dataclass(frozen=True)
class LastSeen:
    status: str
    message: str | None = None
    start_time: float | None = None
    end_time: float | None = None


def _row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        submission_id=row["submission_id"],
        address=row["address"],
        project=row["project"],
        file=row["file"],
        user=row["user"],
        settings=json.loads(row["settings"]),
        created=row["created"],
        last=LastSeen(row["last_status"], row["last_message"], row["last_start"],
                      row["last_end"]) if row["last_status"] else None,
    )


_SELECT_JOBS = (
    "SELECT jobs.*, last_seen.status AS last_status, last_seen.message AS last_message,"
    " last_seen.start_time AS last_start, last_seen.end_time AS last_end"
    " FROM jobs LEFT JOIN last_seen USING (submission_id)")


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
            f"{_SELECT_JOBS} WHERE submission_id = ?", (submission_id,)
        ).fetchone()
        return _row(row) if row else None

    def _list(self, address: str | None) -> list[JobRecord]:
        if address is None:
            rows = self._db().execute(f"{_SELECT_JOBS} ORDER BY created DESC")
        else:
            rows = self._db().execute(
                f"{_SELECT_JOBS} WHERE address = ? ORDER BY created DESC", (address,)
            )
        return [_row(r) for r in rows.fetchall()]

    def _delete(self, submission_id: str) -> bool:
        self._write("DELETE FROM last_seen WHERE submission_id = ?", (submission_id,))
        return self._write("DELETE FROM jobs WHERE submission_id = ?", (submission_id,)) > 0

    def _put_last(self, seen: dict[str, LastSeen]) -> None:
        now = time.time()
        for submission_id, last in seen.items():
            self._write(
                "INSERT OR REPLACE INTO last_seen (submission_id, status, message, start_time,"
                " end_time, seen) VALUES (?, ?, ?, ?, ?, ?)",
                (submission_id, last.status, last.message, last.start_time, last.end_time, now))

    def _put_run(self, run: RunRecord) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if run.files_hash is not None and run.files is not None:
                db.execute("INSERT OR IGNORE INTO file_sets (hash, files) VALUES (?, ?)",
                           (run.files_hash, json.dumps(run.files, sort_keys=True)))
            db.execute(
                "INSERT OR REPLACE INTO runs (submission_id, root, project, file, created, state,"
                " status, ended, runtime_env, files_hash, environment, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run.submission_id, run.root, run.project, run.file, run.created, run.state,
                 run.status,
                 run.ended, json.dumps(run.runtime_env, sort_keys=True), run.files_hash,
                 json.dumps(run.environment, sort_keys=True), run.note))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _run_row(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            submission_id=row["submission_id"], root=row["root"], project=row["project"],
            file=row["file"],
            created=row["created"], state=row["state"], status=row["status"],
            ended=row["ended"], runtime_env=json.loads(row["runtime_env"]),
            files_hash=row["files_hash"], environment=json.loads(row["environment"]),
            note=row["note"])

    def _get_run(self, submission_id: str, files: bool) -> RunRecord | None:
        row = self._db().execute("SELECT * FROM runs WHERE submission_id = ?",
                                 (submission_id,)).fetchone()
        if row is None:
            return None
        run = self._run_row(row)
        if files and run.files_hash is not None:
            found = self._db().execute("SELECT files FROM file_sets WHERE hash = ?",
                                       (run.files_hash,)).fetchone()
            run.files = json.loads(found["files"]) if found else None
        return run

    def _list_runs(self, root: str, project: str) -> list[RunRecord]:
        rows = self._db().execute(
            "SELECT * FROM runs WHERE root = ? AND project = ? ORDER BY created DESC",
            (root, project)).fetchall()
        return [self._run_row(r) for r in rows]

    def _delete_run(self, submission_id: str) -> None:
        self._write("DELETE FROM runs WHERE submission_id = ?", (submission_id,))
        # a file set no run refers to any more goes with its last run
        self._write("DELETE FROM file_sets WHERE hash NOT IN (SELECT files_hash FROM runs "
                    "WHERE files_hash IS NOT NULL)", ())

    # --- from the event loop -------------------------------------------------
    async def add(self, record: JobRecord) -> None:
        await self._run(self._add, record)

    async def put_run(self, run: RunRecord) -> None:
        await self._run(self._put_run, run)

    async def get_run(self, submission_id: str, files: bool = False) -> RunRecord | None:
        """The run's record; with ``files``, its file digests too."""
        return await self._run(self._get_run, submission_id, files)

    async def list_runs(self, root: str, project: str) -> list[RunRecord]:
        """Runs of one project of a Jupyter root, newest first, without their file digests."""
        return await self._run(self._list_runs, root, project)

    async def delete_run(self, submission_id: str) -> None:
        await self._run(self._delete_run, submission_id)

    async def put_last(self, seen: dict[str, LastSeen]) -> None:
        """Remember what Ray reported of these jobs (by submission id)."""
        if seen:
            await self._run(self._put_last, seen)

    async def get(self, submission_id: str) -> JobRecord | None:
        return await self._run(self._get, submission_id)

    async def list(self, address: str | None = None) -> list[JobRecord]:
        """Records for one Ray cluster (its dashboard address), newest first; all when None."""
        return await self._run(self._list, address)

    async def delete(self, submission_id: str) -> bool:
        return await self._run(self._delete, submission_id)


class KeptLogs:
    """The last log text read of each of our jobs (one file each beside the store), so a job
    Ray forgot (a restarted head) still shows its log. Blocking: call off the event loop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, submission_id: str) -> Path:
        return self.folder / f"{submission_id.replace('/', '_')}.log"

    def keep(self, submission_id: str, text: str) -> None:
        """Replace the kept text unless what is kept is longer already (a log only grows)."""
        path = self._path(submission_id)
        data = text.encode()
        try:
            if path.stat().st_size >= len(data):
                return
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
        # written aside and renamed: a crash leaves the previous text, never half of one
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_bytes(data)
        os.replace(part, path)

    def read(self, submission_id: str) -> str | None:
        try:
            return self._path(submission_id).read_text(errors="replace")
        except FileNotFoundError:
            return None

    def forget(self, submission_id: str) -> None:
        self._path(submission_id).unlink(missing_ok=True)
