"""Copy one file between the local disk and a storage root, or between two roots (CLI ``cp``).

Built on the service's own download and upload sessions, so a copy obeys the
same roots, path checks and read-only rules as the panel; and like an upload it
never leaves half a file: the target appears whole or not at all (a local
target is written beside itself and renamed; a root's upload is committed
only after the last byte, aborted otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict, NotFound, RayDevError
from .errors import StorageConflict

CHUNK = 8 * 1024 * 1024


def _where(storage: Any, uri: str) -> tuple[str, str] | None:
    """(root, path) when ``uri`` is in a storage root, None for a plain local path."""
    try:
        return storage.locate(uri)
    except RayDevError:
        if "://" in uri and not uri.startswith("file://"):
            raise  # s3://... outside every root: say so, do not treat it as a local name
        return None


async def _local_chunks(path: Path) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    fh = await loop.run_in_executor(None, open, path, "rb")  # open can block (NFS) too
    with fh:
        while True:
            data = await loop.run_in_executor(None, fh.read, CHUNK)
            if not data:
                return
            yield data


def _local_source(path: str) -> tuple[Path, int]:
    source = Path(path).expanduser()
    if source.is_dir():
        raise BadRequest(f"The source {path!r} is a folder: copy one file at a time.",
                         field="source")
    if not source.is_file():
        raise NotFound(f"The source {path!r} is neither in a storage root nor a local file.",
                       field="source")
    return source, source.stat().st_size


def _local_target(dest: str, name: str) -> Path:
    target = Path(dest).expanduser()
    if target.is_dir():
        target = target / name
    elif dest.endswith(("/", os.sep)):
        # Path() drops the slash: without this the file would be written *as* the folder
        raise NotFound(f"The destination folder {dest!r} does not exist: create it first.",
                       field="dest")
    if not target.parent.is_dir():
        raise NotFound(f"The destination's folder {str(target.parent)!r} does not exist: "
                       "create it first.", field="dest")
    return target


def _refuse_existing_local(dest: Path) -> None:
    if dest.exists():
        raise Conflict(f"The destination {dest} already exists: pass --force to replace it.",
                       field="dest")


def _part_file(dest: Path, overwrite: bool) -> tuple[int, str]:
    if not overwrite:
        _refuse_existing_local(dest)  # again: it may have appeared during the download
    return tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


async def _to_local(chunks: AsyncIterator[bytes], dest: Path, overwrite: bool) -> int:
    # local disks here may be NFS mounts: every file call runs off the loop
    loop = asyncio.get_running_loop()
    fd, tmp = await loop.run_in_executor(None, _part_file, dest, overwrite)
    written = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            async for data in chunks:
                await loop.run_in_executor(None, fh.write, data)
                written += len(data)
        await loop.run_in_executor(None, os.replace, tmp, dest)
    except BaseException:
        await asyncio.shield(loop.run_in_executor(None, _discard, tmp))
        raise
    return written


async def _to_root(storage: Any, root: str, path: str, chunks: AsyncIterator[bytes],
                   size: int, overwrite: bool) -> int:
    session = await storage.start_upload(root, path, size, overwrite)
    upload_id, written = session["upload_id"], 0
    try:
        async for data in chunks:
            await storage.upload_chunk(root, upload_id, data)
            written += len(data)
        await storage.commit_upload(root, upload_id)
    except BaseException:
        with contextlib.suppress(Exception):
            await storage.abort_upload(root, upload_id)
        raise
    return written


async def _one(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start:start + CHUNK]


async def _folders(storage: Any, root: str, path: str) -> None:
    """The folders above ``path``, made when missing (on object stores a prefix is free)."""
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/".join(parts[:depth])
        try:
            await storage.stat(root, folder)
        except NotFound:
            await storage.mkdir(root, folder)


async def save_bytes(storage: Any, data: bytes, dest: str, name: str,
                     overwrite: bool = False) -> dict[str, Any]:
    """Write ``data`` as ``dest`` in a storage root (``name`` inside it when ``dest`` is a
    root or ends with /): the same upload session as a copy, whole or not at all."""
    found = _where(storage, dest)
    if found is None:
        raise BadRequest(f"{dest!r} is not in a storage root: give s3://..., gs://..., a "
                         "root's folder or root:path (see c.RayDev.storage_roots).",
                         field="dest")
    root, path = found
    if path == "" or dest.endswith("/"):
        path = f"{path.rstrip('/')}/{name}".lstrip("/")
    if not overwrite:
        await _refuse_existing_file(storage, root, path)
    await _folders(storage, root, path)
    written = await _to_root(storage, root, path, _one(data), len(data), overwrite)
    return {"dest": storage.backend(root).root.uri(path), "root": root, "path": path,
            "bytes": written}


async def _refuse_existing_file(storage: Any, root: str, path: str) -> None:
    """A 409 whose ``field`` is ``overwrite``, before any byte moves: the caller's message can
    then name its own way to replace the file (a folder there is the backend's other 409)."""
    try:
        entry = await storage.stat(root, path)
    except NotFound:
        return
    if entry["kind"] != "directory":
        raise StorageConflict(f"{entry['uri']} already exists.", field="overwrite", root=root,
                              path=path, dest=entry["uri"])


async def copy(storage: Any, source: str, dest: str, overwrite: bool = False) -> dict[str, Any]:
    """Copy the file ``source`` to ``dest``; either may be local, at least one in a root.
    A ``dest`` that is a root, a folder or ends with / gets the source's file name."""
    src, dst = _where(storage, source), _where(storage, dest)
    if src is None and dst is None:
        raise BadRequest(f"Neither the source {source!r} nor the destination {dest!r} is in a "
                         "storage root: one of them must be (s3://..., gs://..., root:path, or "
                         "a path inside a root's folder; `jupyter ray-dev storage ls` lists the "
                         "roots).", field="source")
    name = Path(src[1]).name if src is not None else Path(source).name
    if dst is not None and (dst[1] == "" or dest.endswith("/")):
        dst = (dst[0], f"{dst[1].rstrip('/')}/{name}".lstrip("/"))
    loop = asyncio.get_running_loop()
    # refused before a byte moves: the destination is checked first
    target: Path | None = None
    if dst is None:
        target = await loop.run_in_executor(None, _local_target, dest, name)
        if not overwrite:
            await loop.run_in_executor(None, _refuse_existing_local, target)
    elif not overwrite:
        try:
            await _refuse_existing_file(storage, *dst)
        except StorageConflict as err:
            raise StorageConflict(f"The destination {err.details['dest']} already exists: "
                                  "pass --force to replace it.", **err.details) from err
    if src is None:
        local, size = await loop.run_in_executor(None, _local_source, source)
        chunks: AsyncIterator[bytes] = _local_chunks(local)
    else:
        download = await storage.download(*src)
        size, chunks = download.size, download.chunks
    if target is not None:
        written = await _to_local(chunks, target, overwrite)
        shown = str(target)
    else:
        assert dst is not None
        written = await _to_root(storage, dst[0], dst[1], chunks, size, overwrite)
        shown = storage.backend(dst[0]).root.uri(dst[1])
    return {"source": source, "dest": shown, "bytes": written}
