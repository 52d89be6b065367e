"""Put a local file into a storage root through the storage capability (its fsspec
backends, its confinement to the root, its atomic commit): no half-written object
is ever visible to a build that reads it."""

from __future__ import annotations

import asyncio
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


async def upload_file(storage: Any, root: str, path: str, source: Path) -> int:
    """Upload ``source`` to ``root``/``path`` (which must not exist yet); returns bytes sent."""
    await ensure_folder(storage, root, path.rpartition("/")[0])
    loop = asyncio.get_running_loop()
    size = source.stat().st_size
    session = await storage.start_upload(root, path, size, overwrite=False)
    upload_id = session["upload_id"]
    try:
        with source.open("rb") as f:
            while chunk := await loop.run_in_executor(None, f.read, CHUNK):
                await storage.upload_chunk(root, upload_id, chunk)
        await storage.commit_upload(root, upload_id)
    except BaseException:
        await storage.abort_upload(root, upload_id)
        raise
    return size
