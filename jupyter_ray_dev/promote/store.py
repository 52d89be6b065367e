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

from ..leftovers import owner, owner_gone
from ..sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS promotions (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,     -- folder relative to the Jupyter root
    entrypoint  TEXT NOT NULL,
    kind        TEXT NOT NULL,     -- build | context | runtime_env
    -- building | pushed | built | blocked (built, the parity check did not pass: waiting for
    -- "Push anyway") | pushing | failed | interrupted (the server stopped during the build)
    -- | exported | uploaded
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
    owner       TEXT,              -- the process building or pushing it (leftovers.owner())
    deps_hash   TEXT,              -- sha256 of the dependency files (requirements, wheels)
    build_path  TEXT               -- JSON: {path: full_build | code_layer, reason, earlier}
);
CREATE INDEX IF NOT EXISTS promotions_project_created ON promotions (project, created);
"""
_SUMMARY = ("id", "project", "entrypoint", "kind", "status", "inputs_hash", "image", "digest",
            "builder", "error", "user", "created", "finished", "source_run", "source_run_time",
            "lock_hash", "overrides", "build_path")
_JSON = ("lock", "parity", "overrides", "build_path")  # stored as JSON text


RUNNING = ("building", "pushing")
INTERRUPTED_BUILD = ("The server stopped during this build (restarted or killed): nothing was "
                     "pushed. Build again.")
INTERRUPTED_PUSH = ("The server stopped during the push (restarted or killed): the image is "
                    "still built here; push it again.")


def interrupted(status: str, parity: str | None) -> tuple[str, str]:
    """What a build or push the server stopped in the middle of becomes: (status, error).
    A push goes back to waiting for its push: built when its check passed, else blocked."""
    if status == "pushing":
        passed = json.loads(parity or "null") or {}
        return ("built" if passed.get("status") == "passed" else "blocked"), INTERRUPTED_PUSH
    return "interrupted", INTERRUPTED_BUILD


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
                           "owner", "deps_hash", "build_path")) + (
        ("promotions", "source_run_time", "REAL"),)
    thread_name = "ray-dev-promote"

    def _put(self, record: PromotionRecord) -> None:
        data = record.row()
        # whose work it is while it runs: the next server start settles an owner's that died
        data["owner"] = owner() if record.status in RUNNING else None
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        self._write(f"INSERT OR REPLACE INTO promotions ({cols}) VALUES ({marks})",
                    tuple(data.values()))

    def _opened(self) -> None:
        """Builds and pushes whose server was killed (or stopped while the loop could not
        record it): no longer shown as running, and each says what to do now."""
        db = self._conn
        assert db is not None
        rows = db.execute("SELECT id, status, owner, parity, log FROM promotions "
                          f"WHERE status IN ({', '.join('?' for _ in RUNNING)})",
                          RUNNING).fetchall()
        for row in rows:
            if not owner_gone(row["owner"]):
                continue  # a live server's or CLI's
            status, error = interrupted(row["status"], row["parity"])
            log_text = "\n".join(filter(None, (row["log"], error)))
            self._write("UPDATE promotions SET status = ?, error = ?, log = ?, owner = NULL, "
                        "finished = ? WHERE id = ? AND status = ?",
                        (status, error, log_text, time.time(), row["id"], row["status"]))

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

