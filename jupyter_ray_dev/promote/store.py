"""History of promotions: what went into each image, what came out, and the build log.

One row per build or context export, in sqlite beside the job history, with the
store discipline of sqlite_store.py: one thread owns the only connection, WAL and
a busy timeout let a CLI share the file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS promotions (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,     -- folder relative to the Jupyter root
    entrypoint  TEXT NOT NULL,
    kind        TEXT NOT NULL,     -- build | context | runtime_env
    -- building | pushed | built | blocked (built, the parity check did not pass: waiting for
    -- "Push anyway") | pushing | failed | exported | uploaded
    status      TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    image       TEXT,
    digest      TEXT,
    builder     TEXT,
    dockerfile  TEXT NOT NULL,
    manifests   TEXT NOT NULL,     -- YAML, as downloaded
    requirements TEXT NOT NULL,
    log         TEXT NOT NULL DEFAULT '',
    error       TEXT,
    user        TEXT,
    created     REAL NOT NULL,
    finished    REAL,
    parity      TEXT,              -- JSON: the parity check of the built image
    overrides   TEXT               -- JSON: what the user pushed despite ([{what, by, at, ...}])
);
CREATE INDEX IF NOT EXISTS promotions_project_created ON promotions (project, created);
"""
_SUMMARY = ("id", "project", "entrypoint", "kind", "status", "inputs_hash", "image", "digest",
            "builder", "error", "user", "created", "finished", "overrides")
# columns later than the first schema: added to an older file when it is opened
_ADDED = {"parity": "TEXT", "overrides": "TEXT"}
_JSON = ("parity", "overrides")


def default_store_path() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "ray_dev" / "promotions.sqlite"


@dataclass
class PromotionRecord:
    id: str
    project: str
    entrypoint: str
    kind: str
    status: str
    inputs_hash: str
    dockerfile: str
    manifests: str
    requirements: str
    image: str | None = None
    digest: str | None = None
    builder: str | None = None
    log: str = ""
    error: str | None = None
    user: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    parity: dict[str, Any] | None = None
    overrides: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        from .parity import summary

        return {**{k: getattr(self, k) for k in _SUMMARY}, "parity": summary(self.parity)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record(row: sqlite3.Row) -> PromotionRecord:
    data = dict(row)
    for key in _JSON:
        data[key] = json.loads(data[key]) if data.get(key) else None
    return PromotionRecord(**data)


class PromotionStore(SqliteStore):
    schema = _SCHEMA
    thread_name = "ray-dev-promote"

    def _db(self) -> sqlite3.Connection:
        fresh = self._conn is None
        db = super()._db()
        if fresh:
            have = {r["name"] for r in db.execute("PRAGMA table_info(promotions)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    try:
                        db.execute(f"ALTER TABLE promotions ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as err:  # another process added it first
                        if "duplicate column" not in str(err):
                            raise
        return db

    def _put(self, record: PromotionRecord) -> None:
        data = record.to_dict()
        for key in _JSON:
            data[key] = json.dumps(data[key]) if data[key] is not None else None
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        self._write(f"INSERT OR REPLACE INTO promotions ({cols}) VALUES ({marks})",
                    tuple(data.values()))

    def _get(self, promotion_id: str) -> PromotionRecord | None:
        row = self._db().execute("SELECT * FROM promotions WHERE id = ?",
                                 (promotion_id,)).fetchone()
        return _record(row) if row else None

    def _list(self, project: str | None) -> list[PromotionRecord]:
        sql, args = "SELECT * FROM promotions", ()
        if project is not None:
            sql, args = sql + " WHERE project = ?", (project,)
        rows = self._db().execute(sql + " ORDER BY created DESC", args).fetchall()
        return [_record(r) for r in rows]

    async def put(self, record: PromotionRecord) -> None:
        # a copy: the caller keeps appending to its log while the thread writes
        await self._run(self._put, PromotionRecord(**record.to_dict()))

    async def get(self, promotion_id: str) -> PromotionRecord | None:
        return await self._run(self._get, promotion_id)

    async def list(self, project: str | None = None) -> list[PromotionRecord]:
        return await self._run(self._list, project)

