"""The storage capability the REST handlers, the magics and the CLI share.

Every method takes a root name and a path exactly as a user gave them, checks
them (root known, path clean, root writable), calls the root's backend and
returns plain JSON-ready dicts; errors are RayDevErrors with their HTTP status.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from ..settings import setting
from . import preview as pv
from . import ray_layout
from .backends import Backend, make_backend
from .cursor import decode_cursor, encode_cursor
from .errors import (
    IsADirectory,
    PathRejected,
    ReadOnlyRoot,
    StorageConfigInvalid,
    StorageRootNotFound,
)
from .paths import clean_relpath
from .ranges import parse_content_range, parse_range
from .ray_names import mark_checkpoints
from .roots import StorageRoot, parse_roots
from .uploads import UploadRegistry

DEFAULT_LIMIT = 500
MAX_LIMIT = 10_000


@dataclass
class Download:
    name: str
    size: int  # of the whole file
    start: int
    end: int  # exclusive
    partial: bool  # a Range was honoured: 206
    mime: str
    chunks: AsyncIterator[bytes]

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class StorageConfig:
    """``StorageService``'s settings, by its parameters' names."""

    roots_config: tuple[Any, ...] = setting("storage_roots", (), convert=tuple)
    timeout: float = setting("storage_timeout", 30.0)
    list_process: bool = setting("storage_list_process", True)


class StorageService:
    def __init__(self, roots_config: Iterable[Any], timeout: float = 30.0,
                 max_workers: int = 8, upload_ttl: float = 3600.0,
                 list_process: bool = True) -> None:
        self.timeout = timeout
        self.list_process = list_process
        self.config_error: StorageConfigInvalid | None = None
        try:
            roots = parse_roots(roots_config)
        except StorageConfigInvalid as err:
            # keep serving: every storage call answers with this message until it is fixed
            self.config_error, roots = err, []
        self._roots: dict[str, StorageRoot] = {r.name: r for r in roots}
        # our own pool: a hung NFS mount then stalls storage calls only, not the server's
        # default executor that other capabilities use
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="ray-dev-storage")
        self._backends: dict[str, Backend] = {}
        self.uploads = UploadRegistry(ttl=upload_ttl)

    # -- roots -----------------------------------------------------------------------------------

    def roots(self) -> list[dict[str, Any]]:
        self._check_config()
        return [root.public() for root in self._roots.values()]

    def root(self, name: str) -> StorageRoot:
        self._check_config()
        root = self._roots.get(name)
        if root is None:
            known = ", ".join(sorted(self._roots)) or "none configured"
            raise StorageRootNotFound(f"No storage root named '{name}' (roots: {known}); see "
                                      "c.RayDev.storage_roots.", root=name)
        return root

    def locate(self, uri: str) -> tuple[str, str]:
        """(root name, path) of a URI or ``root:path`` a user typed (magics, CLI)."""
        from .locate import locate

        self._check_config()
        return locate(self._roots.values(), uri)

    def backend(self, name: str) -> Backend:
        root = self.root(name)
        if name not in self._backends:
            self._backends[name] = make_backend(root, self._executor, self.timeout,
                                                self.list_process)
        return self._backends[name]

    def _check_config(self) -> None:
        if self.config_error is not None:
            raise self.config_error

    def _writable(self, name: str) -> Backend:
        root = self.root(name)
        if root.read_only:
            raise ReadOnlyRoot(f"Storage root '{name}' is read-only: nothing can be uploaded, "
                               "created, renamed or deleted there.", root=name)
        return self.backend(name)

    # -- reading -----------------------------------------------------------------------------------

    async def list(self, root: str, path: str = "", limit: int | None = None,
                   cursor: str | None = None, owner: str | None = None) -> dict[str, Any]:
        """A page of a folder. ``owner`` (an opaque key for whoever asks, given by the face)
        lets the backend list the next page ahead for that walk; without it, no page ahead.
        With an owner, a later page's ``entries`` may be bytes: their JSON array, encoded
        by the lister process, for a face to embed as it is rather than decode."""
        backend = self.backend(root)
        path = clean_relpath(path)
        limit = DEFAULT_LIMIT if limit is None else limit
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"`limit` must be between 1 and {MAX_LIMIT}.", field="limit")
        token = decode_cursor(cursor, root, path) if cursor else None
        probing = None
        if token is None and backend.probe_while_listing:
            probing = asyncio.ensure_future(ray_layout.probe_files(backend, path))
        try:
            if owner is None:
                entries, next_token = await backend.list_page(path, limit, token)
            else:
                entries, next_token = await backend.list_page_for(owner, path, limit, token)
        except BaseException:
            if probing is not None:
                probing.cancel()
            raise
        if isinstance(entries, list):  # else JSON the local lister process already marked
            mark_checkpoints(entries)
        out: dict[str, Any] = {
            "root": root, "path": path, "entries": entries,
            "next_cursor": encode_cursor(root, path, next_token) if next_token else None,
        }
        if token is None:
            # the folder's own Ray kind, once, on the first page
            probed = await probing if probing is not None else None
            kind = await ray_layout.detect(backend, path, entries, complete=next_token is None,
                                           probed=probed)
            out["ray"] = pv.jsonable(await ray_layout.summarise(backend, path, kind))
        return out

    async def stat(self, root: str, path: str = "") -> dict[str, Any]:
        backend = self.backend(root)
        path = clean_relpath(path)
        entry = await backend.stat(path)
        out = {**entry, "root": root, "uri": backend.root.uri(path)}
        if entry["kind"] == "directory":
            kind = await ray_layout.detect(backend, path)
            out["ray"] = pv.jsonable(await ray_layout.summarise(backend, path, kind))
        return out

    async def preview(self, root: str, path: str, max_bytes: int | None = None) -> dict[str, Any]:
        backend = self.backend(root)
        path = clean_relpath(path)
        max_bytes = pv.DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        if not isinstance(max_bytes, int) or not 1024 <= max_bytes <= pv.MAX_MAX_BYTES:
            raise BadRequest(f"`max_bytes` must be between 1024 and {pv.MAX_MAX_BYTES}.",
                             field="max_bytes")
        entry = await backend.stat(path)
        if entry["kind"] != "file":
            raise IsADirectory(f"'{path}' is a folder: list it instead of previewing it.",
                               root=root, path=path)
        size = entry["size"] or 0
        out = {"root": root, "path": path, "name": entry["name"], "size": size,
               "modified": entry["modified"], "mime": pv.mime_of(entry["name"]),
               "uri": backend.root.uri(path), "max_bytes": max_bytes, "truncated": False}
        body = await self._preview_body(backend, path, entry["name"], size, max_bytes)
        out.update(body)
        return pv.jsonable(out)

    async def _preview_body(self, backend: Backend, path: str, name: str, size: int,
                            max_bytes: int) -> dict[str, Any]:
        kind = pv.kind_of(name)
        if kind == "json" and size <= pv.MAX_JSON_FILE:
            return pv.json_preview(await backend.read(path, 0, size), max_bytes)
        if kind == "csv":
            head = await backend.read(path, 0, max_bytes)
            return pv.csv_preview(head, size <= max_bytes,
                                  "\t" if name.lower().endswith(".tsv") else ",")
        if kind == "parquet":
            return await backend.in_thread(_parquet, backend, path)
        if kind == "image":
            data = await backend.read(path, 0, size) if size <= pv.MAX_IMAGE_FILE else None
            return pv.image_preview(name, data, size)
        if kind == "notebook" and size <= pv.MAX_NOTEBOOK_FILE:
            return pv.notebook_preview(await backend.read(path, 0, size), max_bytes)
        # text, big JSON/notebooks, unknown: head (and tail when the file is bigger)
        if size <= max_bytes:
            head, tail = await backend.read(path, 0, size), None
        else:
            head = await backend.read(path, 0, max_bytes * 3 // 4)
            tail = await backend.read(path, size - max_bytes // 4, size)
        if kind == "unknown" and pv.looks_binary(head):
            return {"type": "binary", "message": f"Binary file ({size} bytes): download it to "
                    "open it with a suitable tool."}
        return {**pv.text_preview(head, tail), "truncated": size > max_bytes}

    async def download(self, root: str, path: str, range_header: str | None = None) -> Download:
        backend = self.backend(root)
        path = clean_relpath(path)
        entry = await backend.stat(path)
        if entry["kind"] != "file":
            raise IsADirectory(f"'{path}' is a folder: only files can be downloaded.",
                               root=root, path=path)
        size = entry["size"] or 0
        span = parse_range(range_header, size)
        start, end = span if span else (0, size)

        async def chunks() -> AsyncIterator[bytes]:
            pos = start
            while pos < end:
                data = await backend.read(path, pos, min(end, pos + backend.read_chunk))
                if not data:
                    return  # the file shrank meanwhile: stop rather than loop
                pos += len(data)
                yield data

        return Download(entry["name"], size, start, end, span is not None,
                        pv.mime_of(entry["name"]), chunks())

    # -- writing -----------------------------------------------------------------------------------

    async def start_upload(self, root: str, path: str, size: int | None = None,
                           overwrite: bool = False) -> dict[str, Any]:
        backend = self._writable(root)
        path = clean_relpath(path)
        if not path:
            raise PathRejected("`path` must name the file to create.", field="path")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise BadRequest("`size` must be a byte count >= 0.", field="size")
        writer = await backend.open_writer(path, bool(overwrite))
        session = await self.uploads.add(root, path, bool(overwrite), size, writer)
        return session.public()

    async def upload_chunk(self, root: str, upload_id: str, data: bytes,
                           content_range: str | None = None) -> dict[str, Any]:
        self._writable(root)
        session = self.uploads.get(root, upload_id)
        start, total = parse_content_range(content_range, len(data))
        if content_range is None:
            start = session.received  # no header: append
        session = await self.uploads.chunk(session, start, data, total)
        return session.public()

    async def commit_upload(self, root: str, upload_id: str) -> dict[str, Any]:
        self._writable(root)
        session = self.uploads.get(root, upload_id)
        await self.uploads.commit(session)
        return await self.stat(root, session.path)

    async def abort_upload(self, root: str, upload_id: str) -> None:
        self.root(root)
        await self.uploads.abort(self.uploads.get(root, upload_id))

    async def mkdir(self, root: str, path: str) -> dict[str, Any]:
        backend = self._writable(root)
        path = clean_relpath(path)
        await backend.mkdir(path)
        return {**await backend.stat(path), "root": root, "uri": backend.root.uri(path)}

    async def rename(self, root: str, path: str, new_path: str) -> dict[str, Any]:
        backend = self._writable(root)
        path = clean_relpath(path)
        new_path = clean_relpath(new_path, field="new_path")
        if not path or not new_path:
            raise PathRejected("`path` and `new_path` must name items inside the root, not the "
                               "root itself.", field="path")
        if new_path == path or new_path.startswith(path + "/"):
            raise PathRejected("A folder cannot be moved into itself.", field="new_path")
        # what cannot be answered after the move (a link out of the root) is refused before it
        await backend.stat(path)
        await backend.rename(path, new_path)
        return {**await backend.stat(new_path), "root": root,
                "uri": backend.root.uri(new_path)}

    async def delete(self, root: str, path: str, recursive: bool = False) -> dict[str, Any]:
        backend = self._writable(root)
        path = clean_relpath(path)
        if not path:
            raise PathRejected("The root itself cannot be deleted.", field="path")
        await backend.delete(path, bool(recursive))
        return {"root": root, "path": path, "deleted": True}

    async def close(self) -> None:
        await self.uploads.close()
        for backend in self._backends.values():
            await backend.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _parquet(backend: Backend, path: str) -> dict[str, Any]:
    fileobj = backend.open_sync(path)
    try:
        return pv.parquet_preview(fileobj)
    except Exception as err:  # noqa: BLE001 - any pyarrow failure means "not readable Parquet"
        fileobj.close()
        return {"type": "parquet", "message": f"Cannot read this file as Parquet: {err}"}
