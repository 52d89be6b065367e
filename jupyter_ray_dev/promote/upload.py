"""Put a local file or bytes into a storage root through the storage capability (its
fsspec backends, its confinement to the root, its atomic commit): no half-written object
is ever visible to a build or a Ray node that reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..errors import NotFound, RayDevError

CHUNK = 8 << 20  # one S3 multipart part per chunk


async def ensure_folder(storage: Any, root: str, folder: str) -> None:
    """Create ``folder`` and its parents in ``root`` where missing."""
    parts = [p for p in folder.split("/") if p]
    for i in range(1, len(parts) + 1):
        path = "/".join(parts[:i])
        try:
            await storage.stat(root, path)
        except NotFound:
            try:
                await storage.mkdir(root, path)
            except RayDevError as err:
                if err.status != 409:  # 409: made meanwhile by another build, just as good
                    raise


async def exists(storage: Any, root: str, path: str) -> bool:
    try:
        await storage.stat(root, path)
    except NotFound:
        return False
    return True


async def upload_file(storage: Any, root: str, path: str, source: Path) -> int:
    """Upload ``source`` to ``root``/``path`` (which must not exist yet); returns bytes sent."""
    loop = asyncio.get_running_loop()
    f = await loop.run_in_executor(None, source.open, "rb")
    try:
        size = await loop.run_in_executor(None, lambda: Path(f.name).stat().st_size)

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await loop.run_in_executor(None, f.read, CHUNK):
                yield chunk

        await _upload(storage, root, path, size, chunks())
    finally:
        f.close()
    return size


async def upload_bytes(storage: Any, root: str, path: str, data: bytes) -> int:
    """Upload ``data`` to ``root``/``path`` (which must not exist yet); returns bytes sent."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]

    await _upload(storage, root, path, len(data), chunks())
    return len(data)


async def _upload(storage: Any, root: str, path: str, size: int,
                  chunks: AsyncIterator[bytes]) -> None:
    await ensure_folder(storage, root, path.rpartition("/")[0])
    session = await storage.start_upload(root, path, size, overwrite=False)
    upload_id = session["upload_id"]
    try:
        async for chunk in chunks:
            await storage.upload_chunk(root, upload_id, chunk)
        await storage.commit_upload(root, upload_id)
    except BaseException:
        await storage.abort_upload(root, upload_id)
        raise
