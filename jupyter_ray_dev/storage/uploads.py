"""Upload sessions: start, send chunks in order (resumable), commit or abort.

A session owns a backend ``Writer`` (a hidden temp file / an S3 multipart / a GCS
resumable upload), so nothing appears at the target until commit. Sessions left
idle longer than ``ttl`` are aborted by a reaper task, and the server aborts
all of them on shutdown: an interrupted upload leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from .backends import Writer
from .errors import PayloadTooLarge, StorageConflict, UploadNotFound

log = logging.getLogger(__name__)

CHUNK_SIZE = 8 << 20  # what clients should send: one S3 part per chunk
MAX_CHUNK = 64 << 20


@dataclass
class UploadSession:
    id: str
    root: str
    path: str
    overwrite: bool
    total: int | None
    writer: Writer
    received: int = 0
    touched: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: bool = False

    def public(self) -> dict[str, Any]:
        return {"upload_id": self.id, "root": self.root, "path": self.path,
                "received": self.received, "size": self.total, "chunk_size": CHUNK_SIZE,
                "max_chunk_size": MAX_CHUNK}


class UploadRegistry:
    def __init__(self, ttl: float = 3600.0, max_sessions: int = 64) -> None:
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._sessions: dict[str, UploadSession] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._targets: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = \
            weakref.WeakValueDictionary()
        # writers whose clean-up failed (the store was unreachable): tried again on the next
        # sweep, so an S3 multipart upload does not stay behind, invisible but billed
        self._unaborted: list[tuple[UploadSession, Writer]] = []

    def _target_lock(self, root: str, path: str) -> asyncio.Lock:
        lock = self._targets.get((root, path))
        if lock is None:
            lock = self._targets[(root, path)] = asyncio.Lock()
        return lock

    def __len__(self) -> int:
        return len(self._sessions)

    async def add(self, root: str, path: str, overwrite: bool, total: int | None,
                  writer: Writer) -> UploadSession:
        await self.sweep()
        if len(self._sessions) >= self.max_sessions:
            await writer.abort()
            raise StorageConflict(f"Too many uploads in progress ({self.max_sessions}): finish "
                                  "or cancel some first.")
        session = UploadSession(secrets.token_urlsafe(18), root, path, overwrite, total, writer)
        self._sessions[session.id] = session
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap())
        return session

    def get(self, root: str, upload_id: str) -> UploadSession:
        session = self._sessions.get(upload_id)
        if session is None or session.root != root:
            raise UploadNotFound(f"No upload '{upload_id}' in progress in storage root '{root}' "
                                 "(finished, cancelled or expired): start it again.", root=root)
        return session

    async def chunk(self, session: UploadSession, start: int, data: bytes,
                    total: int | None) -> UploadSession:
        if len(data) > MAX_CHUNK:
            raise PayloadTooLarge(f"Chunks may be at most {MAX_CHUNK >> 20} MiB; send "
                                  f"{CHUNK_SIZE >> 20} MiB chunks.", max_chunk_size=MAX_CHUNK)
        async with session.lock:
            self._alive(session)
            if total is not None:
                if session.total is None:
                    session.total = total
                elif total != session.total:
                    raise BadRequest(f"The upload's size is {session.total}, not {total}.",
                                     field="Content-Range")
            end = start + len(data)
            if end <= session.received and start < session.received:
                return session  # a retried chunk we already have (its answer was lost)
            if start != session.received:
                raise StorageConflict(
                    f"Chunk starts at byte {start} but {session.received} bytes were received: "
                    "resume from there.", received=session.received, upload_id=session.id)
            if session.total is not None and end > session.total:
                raise BadRequest(f"Chunk ends at {end}, beyond the upload's size "
                                 f"{session.total}.", field="Content-Range")
            try:
                await session.writer.write(data)
            except BaseException:
                await self._drop(session)
                raise
            session.received = end
            session.touched = time.monotonic()
            return session

    async def commit(self, session: UploadSession) -> None:
        async with session.lock:
            self._alive(session)
            if session.total is not None and session.received != session.total:
                raise StorageConflict(f"Only {session.received} of {session.total} bytes were "
                                      "received: send the rest before committing.",
                                      received=session.received, upload_id=session.id)
            try:
                # one commit per target at a time: an object store's check for an existing
                # object and its commit are two calls, and two uploads without overwrite
                # must not both find the name free
                async with self._target_lock(session.root, session.path):
                    await session.writer.commit()
            finally:
                # committed, or failed: either way this session is over and its temp is gone
                await self._drop(session)

    async def abort(self, session: UploadSession) -> None:
        async with session.lock:
            if not session.done:
                await self._drop(session)

    def _alive(self, session: UploadSession) -> None:
        if session.done:
            raise UploadNotFound(f"Upload '{session.id}' is already finished or cancelled.")

    async def _drop(self, session: UploadSession) -> None:
        session.done = True
        self._sessions.pop(session.id, None)
        await self._abort_writer(session, session.writer)

    async def _abort_writer(self, session: UploadSession, writer: Writer) -> None:
        try:
            await writer.abort()
        except Exception:  # noqa: BLE001 - tried again on the next sweep
            log.warning("jupyter_ray_dev: could not clean up upload %s of %s yet", session.id,
                        session.path, exc_info=True)
            self._unaborted.append((session, writer))

    async def sweep(self) -> None:
        unaborted, self._unaborted = self._unaborted, []
        for session, writer in unaborted:
            await self._abort_writer(session, writer)
        now = time.monotonic()
        for session in list(self._sessions.values()):
            if now - session.touched > self.ttl and not session.lock.locked():
                log.info("jupyter_ray_dev: upload of %s idle for %.0f s: cancelled",
                         session.path, now - session.touched)
                await self.abort(session)

    async def _reap(self) -> None:
        while self._sessions or self._unaborted:
            await asyncio.sleep(min(self.ttl / 4, 60))
            await self.sweep()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reaper
        for session in list(self._sessions.values()):
            await self.abort(session)
