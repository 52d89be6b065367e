"""History of promotions: what went into each image, what came out, and the build log.

Each promotion keeps its provenance: the run its pins came from (``source_run``,
NULL when they came from the server's Python), the ``lock`` (the pinned
requirements, each with where its version came from, as JSON) and its ``lock_hash``
(sha256 of the requirements.txt), the image's ``parity`` check against the run and
the ``overrides`` a user chose (JSON; NULL when there were none).

One row per build or context export, in sqlite beside the job history, with the
store discipline of sqlite_store.py: one thread owns the only connection, WAL and
a busy timeout let a CLI share the file.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field, fields
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
    source_run  TEXT,
    source_run_time REAL,          -- when that run started
    lock        TEXT,
    lock_hash   TEXT,
    parity      TEXT,              -- JSON: the parity check of the built image
    overrides   TEXT,              -- JSON: what a user pushed despite ([{what, user, ...}])
    deps_hash   TEXT,              -- sha256 of the dependency files (requirements, wheels)
    build_path  TEXT               -- JSON: {path: full_build | code_layer, reason, earlier}
);
CREATE INDEX IF NOT EXISTS promotions_project_created ON promotions (project, created);
"""
_SUMMARY = ("id", "project", "entrypoint", "kind", "status", "inputs_hash", "image", "digest",
            "builder", "error", "user", "created", "finished", "source_run", "source_run_time",
            "lock_hash", "overrides", "build_path")
_JSON = ("lock", "parity", "overrides", "build_path")  # stored as JSON text


def _lines(text: str) -> list[str]:
    """A requirements.txt's requirement lines (an older record keeps only the file)."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


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
    source_run: str | None = None
    source_run_time: float | None = None
    lock: dict[str, Any] | None = None
    lock_hash: str | None = None
    parity: dict[str, Any] | None = None
    overrides: list[dict[str, Any]] | None = None
    deps_hash: str | None = None
    # how the image was made: a full build, or the code layer on an earlier promotion's
    build_path: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        from .parity import summary

        return {**{k: getattr(self, k) for k in _SUMMARY}, "parity": summary(self.parity),
                "provenance": self.provenance()}

    def provenance(self) -> dict[str, Any]:
        """Where the image came from, as every face shows it: the run its pins came from,
        the lock it installs, its parity check and what a user pushed despite it."""
        from .parity import summary

        lock = self.lock or {}
        source = lock.get("source") or {}
        return {
            "source_run": ({"id": self.source_run, "time": self.source_run_time}
                           if self.source_run else None),
            "pins_from": source.get("description"),
            "lock": {"sha256": self.lock_hash,
                     "requirements": lock.get("requirements")
                     if self.lock is not None else _lines(self.requirements)},
            "parity": summary(self.parity),
            "overrides": list(self.overrides or []),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "provenance": self.provenance()}

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        for key in _JSON:
            data[key] = None if data[key] is None else json.dumps(data[key], sort_keys=True)
        return data

    @classmethod
    def from_row(cls, row: Any) -> PromotionRecord:
        # a file a newer version wrote has columns this one does not know: the
        # history stays readable (those values are kept in the file, unread)
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in dict(row).items() if k in known}
        for key in _JSON:
            data[key] = None if data.get(key) is None else json.loads(data[key])
        return cls(**data)


class PromotionStore(SqliteStore):
    schema = _SCHEMA
    added_columns = tuple(("promotions", c, "TEXT") for c in
                          ("source_run", "lock", "lock_hash", "parity", "overrides",
                           "deps_hash", "build_path")) + (
        ("promotions", "source_run_time", "REAL"),)
    thread_name = "ray-dev-promote"

    def _put(self, record: PromotionRecord) -> None:
        data = record.row()
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        self._write(f"INSERT OR REPLACE INTO promotions ({cols}) VALUES ({marks})",
                    tuple(data.values()))

    def _get(self, promotion_id: str) -> PromotionRecord | None:
        row = self._db().execute("SELECT * FROM promotions WHERE id = ?",
                                 (promotion_id,)).fetchone()
        return PromotionRecord.from_row(row) if row else None

    def _list(self, project: str | None) -> list[PromotionRecord]:
        sql, args = "SELECT * FROM promotions", ()
        if project is not None:
            sql, args = sql + " WHERE project = ?", (project,)
        rows = self._db().execute(sql + " ORDER BY created DESC", args).fetchall()
        return [PromotionRecord.from_row(r) for r in rows]

    async def put(self, record: PromotionRecord) -> None:
        # a copy: the caller keeps appending to its log while the thread writes
        await self._run(self._put, copy.deepcopy(record))

    async def get(self, promotion_id: str) -> PromotionRecord | None:
        return await self._run(self._get, promotion_id)

    async def list(self, project: str | None = None) -> list[PromotionRecord]:
        return await self._run(self._list, project)

