"""Object stores through fsspec's async file systems (s3fs, gcsfs), without blocking Tornado.

The file system instance is created in non-asynchronous mode, so it runs on
fsspec's own I/O thread and loop: coroutines (``_info``, ``_cat_file``, the raw
list calls) are sent there with ``run_coroutine_threadsafe`` and awaited from
Tornado's loop, and fsspec's blocking file objects (used for uploads: S3
multipart / GCS resumable, committed only at the end) run on the storage thread
pool. Subclasses supply the fs and the one raw list call that pages with the
store's own continuation token (fsspec's ``ls`` would load the whole folder).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from abc import abstractmethod
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import RayDevError
from ...leftovers import Claim, KeepClaim, claim_upload
from ..errors import (
    IsADirectory,
    NotADirectory,
    PathRejected,
    StorageConflict,
    StorageNotFound,
    StoragePermissionDenied,
    StorageUnreachable,
)
from ..paths import parent_and_name
from .base import Backend, Entry, Writer, epoch_ms

log = logging.getLogger(__name__)

# exceptions (by class name, so nothing is imported to check them) meaning "did not get
# through to the service": aiohttp, botocore, requests, asyncio
_UNREACHABLE = {
    "ClientConnectorError", "ClientConnectionError", "ServerDisconnectedError", "ClientOSError",
    "ServerTimeoutError", "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
    "ConnectionClosedError", "ProxyConnectionError", "ProxyError", "ConnectionError",
    "TimeoutError", "SSLError", "ClientSSLError", "ConnectionRefusedError",
}
_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "ProfileNotFound",
                   "DefaultCredentialsError", "RefreshError", "TokenRetrievalError"}

# renaming a folder on an object store copies every object: keep that to folders a
# request can finish; bigger moves belong in a Ray job or the store's own tools
MAX_RENAME_OBJECTS = 1000


def public_endpoint(url: str) -> str:
    """An endpoint URL as error messages may show it: without user:password@."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class FsspecBackend(Backend):
    read_chunk = 8 << 20
    probe_while_listing = True
    part_size = 8 << 20  # S3 parts must be >= 5 MiB; GCS chunks multiples of 256 KiB
    writer_class: type[RemoteWriter]  # set below the class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fs: Any = None
        self._fs_lock: asyncio.Lock | None = None

    # -- subclass hooks ------------------------------------------------------------------------

    @abstractmethod
    def _make_fs(self) -> Any:
        """Import the library and build the (non-asynchronous) fsspec file system."""

    @abstractmethod
    async def _list_call(self, fs: Any, bucket: str, prefix: str, limit: int,
                         token: str | None, delimiter: bool = True
                         ) -> tuple[list[str], list[tuple[str, int, Any]], str | None]:
        """One raw list request: (sub-prefixes, [(key, size, mtime)], next token).

        Keys and prefixes are relative to the bucket; ``delimiter=False`` lists recursively.
        """

    @abstractmethod
    async def _head_call(self, fs: Any, bucket: str, key: str) -> None:
        """One metadata request for an object; FileNotFoundError when there is none."""

    @abstractmethod
    def _abort_interrupted(self, fs: Any, upload: dict[str, Any]) -> str:
        """Abort the upload a killed server started (a claim's ``upload``; blocking): what
        was aborted. Called on the sweep's thread, on a file system made for it."""

    @abstractmethod
    async def _delete_keys(self, fs: Any, bucket: str, keys: list[str]) -> None:
        """Delete exactly these keys (relative to the bucket), folder markers ("x/") included.

        fsspec's ``_rm`` strips trailing slashes, which would leave markers behind.
        """

    # -- plumbing ------------------------------------------------------------------------------

    async def fs(self) -> Any:
        if self._fs is None:
            if self._fs_lock is None:
                self._fs_lock = asyncio.Lock()
            async with self._fs_lock:
                if self._fs is None:
                    # import + construction may look up credentials (metadata servers):
                    # blocking, so on the pool
                    self._fs = await self.in_thread(self._make_fs)
        return self._fs

    async def _remote(self, path: str, make_coro: Any) -> Any:
        """Run ``make_coro(fs)`` on fsspec's loop with the deadline; translate its errors."""
        fs = await self.fs()
        coro: Coroutine[Any, Any, Any] = make_coro(fs)
        future = asyncio.run_coroutine_threadsafe(coro, fs.loop)
        try:
            return await self._deadline(asyncio.wrap_future(future))
        except RayDevError:
            future.cancel()
            raise
        except Exception as err:  # noqa: BLE001 - every library error becomes a RayDevError
            raise self.translate(err, path) from err

    async def _blocking(self, path: str, fn: Any, *args: Any) -> Any:
        try:
            return await self.in_thread(fn, *args)
        except RayDevError:
            raise
        except Exception as err:  # noqa: BLE001
            raise self.translate(err, path) from err

    def key(self, path: str) -> str:
        return f"{self.root.location}/{path}" if path else self.root.location

    def _scrub(self, text: str) -> str:
        """Library messages may quote URLs or settings: never let an option value through."""
        text = re.sub(r"//[^/@\s]+@", "//", text)  # user:password@ in URLs
        for value in self.root.options.values():
            if isinstance(value, str) and len(value) >= 4:
                text = text.replace(value, "***")
        return text

    def translate(self, err: BaseException, path: str) -> RayDevError:
        names = {cls.__name__ for cls in type(err).__mro__}
        where = f"'{path}' in storage root '{self.root.name}'" if path else \
            f"storage root '{self.root.name}' ({self.root.url})"
        details = {"root": self.root.name, "path": path}
        if isinstance(err, FileNotFoundError):
            if not path:
                return StorageUnreachable(
                    f"The bucket of {where} does not exist at {self.endpoint}. Create it or fix "
                    "c.RayDev.storage_roots.", endpoint=self.endpoint, **details)
            return StorageNotFound(f"{where} does not exist.", **details)
        if names & _NO_CREDENTIALS:
            return StoragePermissionDenied(
                f"No usable credentials for {where}: {self._scrub(_short(err))}. "
                f"{self.credentials_hint}", **details)
        code = getattr(err, "code", None)
        if isinstance(err, PermissionError) or str(err).startswith("Forbidden") or \
                code in (401, 403):
            return StoragePermissionDenied(
                f"Permission denied for {where} by {self.endpoint}. {self.credentials_hint}",
                **details)
        if names & _UNREACHABLE:
            return StorageUnreachable(
                f"Cannot reach {self.endpoint} for {where}: {self._scrub(_short(err))}. Check "
                "the endpoint (options.endpoint_url) and the network.", endpoint=self.endpoint,
                **details)
        if isinstance(err, FileExistsError):
            return StorageConflict(f"{where} already exists.", **details)
        if isinstance(err, IsADirectoryError):
            return IsADirectory(f"{where} is a folder.", **details)
        if isinstance(err, NotADirectoryError):
            return NotADirectory(f"{where} is not a folder.", **details)
        return StorageUnreachable(
            f"{self.endpoint} failed on {where}: {self._scrub(_short(err))}.",
            endpoint=self.endpoint,
            **details)

    credentials_hint = ""

    # -- listing ---------------------------------------------------------------------------------

    async def list_page(self, path: str, limit: int, token: str | None,
                        name_prefix: str = "") -> tuple[list[Entry], str | None]:
        state = json.loads(token) if token else {}
        server_token, after = state.get("t"), state.get("a")
        folder_key = self.key(path)
        bucket, _, key = folder_key.partition("/")
        prefix = f"{key}/" if key else ""
        dirs, files, next_token = await self._remote(
            path, lambda fs: self._list_call(fs, bucket, prefix + name_prefix, limit,
                                             server_token))
        entries: list[Entry] = []
        marker = False
        for sub in dirs:
            name = sub[len(prefix):].rstrip("/")
            if name:
                entries.append({"name": name, "path": _join(path, name), "kind": "directory",
                                "size": None, "modified": None})
        for full, size, mtime in files:
            name = full[len(prefix):]
            if not name:
                marker = True  # the folder's own "key/" marker object
                continue
            if "/" in name:
                continue
            entries.append({"name": name, "path": _join(path, name), "kind": "file",
                            "size": size, "modified": epoch_ms(mtime)})
        entries.sort(key=lambda e: e["name"])
        if after is not None:
            entries = [e for e in entries if e["name"] > after]
        if len(entries) > limit:
            # a server that ignores the page size (the GCS emulator does): ask again with
            # the same token and skip what was served
            entries = entries[:limit]
            cursor = json.dumps({"t": server_token, "a": entries[-1]["name"]})
        else:
            cursor = json.dumps({"t": next_token}) if next_token else None
        if path and not token and not name_prefix and not entries and not marker:
            await self._check_is_folder(path)
        return entries, cursor

    async def _check_is_folder(self, path: str) -> None:
        info = await self._remote(path, lambda fs: fs._info(self.key(path)))
        if info.get("type") != "directory":
            raise NotADirectory(f"'{path}' in storage root '{self.root.name}' is a file, not a "
                                "folder.", root=self.root.name, path=path)

    async def _all_keys(self, path: str, cap: int | None) -> list[str]:
        """Every object key (relative to the bucket) under folder ``path``, up to ``cap`` + 1."""
        bucket, _, key = self.key(path).partition("/")
        prefix = f"{key}/" if key else ""
        keys: list[str] = []
        token = None
        while True:
            _, files, token = await self._remote(
                path, lambda fs, t=token: self._list_call(fs, bucket, prefix, 1000, t,
                                                          delimiter=False))
            keys.extend(full for full, _, _ in files)
            if not token or (cap is not None and len(keys) > cap):
                return keys

    # -- items -----------------------------------------------------------------------------------

    async def has_file(self, path: str) -> bool:
        # one metadata request: fsspec's info() follows a miss with a listing (is it a
        # folder?), and listings cost what the whole bucket holds on some stores
        bucket, _, key = self.key(path).partition("/")
        try:
            await self._remote(path, lambda fs: self._head_call(fs, bucket, key))
        except StorageNotFound:
            return False
        return True

    async def stat(self, path: str) -> Entry:
        if not path:
            # the root: one cheap list proves the bucket exists and is reachable
            bucket, _, key = self.key("").partition("/")
            await self._remote("", lambda fs: self._list_call(
                fs, bucket, f"{key}/" if key else "", 1, None))
            return {"name": "", "path": "", "kind": "directory", "size": None, "modified": None}
        info = await self._remote(path, lambda fs: fs._info(self.key(path)))
        is_dir = info.get("type") == "directory"
        mtime = info.get("LastModified") or info.get("mtime") or info.get("updated")
        return {"name": path.rsplit("/", 1)[-1], "path": path,
                "kind": "directory" if is_dir else "file",
                "size": None if is_dir else int(info.get("size") or 0),
                "modified": epoch_ms(mtime)}

    async def _exists(self, path: str) -> Entry | None:
        try:
            return await self.stat(path)
        except StorageNotFound:
            return None

    async def _require_parent(self, path: str) -> None:
        parent, _ = parent_and_name(path)
        if not parent:
            return
        found = await self._exists(parent)
        if found is None:
            raise StorageNotFound(f"The folder '{parent}' does not exist in storage root "
                                  f"'{self.root.name}'.", root=self.root.name, path=parent)
        if found["kind"] != "directory":
            raise NotADirectory(f"'{parent}' in storage root '{self.root.name}' is a file.",
                                root=self.root.name, path=parent)

    async def read(self, path: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        return await self._remote(path, lambda fs: fs._cat_file(self.key(path), start=start,
                                                                end=end))

    def open_sync(self, path: str) -> Any:
        if self._fs is None:
            raise RuntimeError("open_sync before the file system was created")
        try:
            return self._fs.open(self.key(path), "rb", block_size=self.read_chunk)
        except Exception as err:  # noqa: BLE001
            raise self.translate(err, path) from err

    # -- writing ---------------------------------------------------------------------------------

    async def open_writer(self, path: str, overwrite: bool) -> Writer:
        if not path:
            raise PathRejected("Uploads need a file name.", field="path")
        await self._check_target(path, overwrite)
        await self._require_parent(path)
        fs = await self.fs()
        bucket, _, key = self.key(path).partition("/")

        def start() -> tuple[Any, Claim]:
            # claimed before the store hears of it: a server killed while the upload is
            # started still leaves the claim, and the next start's sweep aborts it
            held = claim_upload(root=self.root.name, protocol=self.root.protocol,
                                bucket=bucket, key=key, id=None)
            try:
                # autocommit=False: parts go up as they fill, the object appears on commit
                return fs.open(self.key(path), "wb", block_size=self.part_size,
                               autocommit=False), held
            except BaseException:
                held.release()
                raise

        handle, held = await self._blocking(path, start)
        return self.writer_class(self, path, overwrite, handle, held)

    async def _check_target(self, path: str, overwrite: bool) -> None:
        found = await self._exists(path)
        if found is None:
            return
        if found["kind"] == "directory":
            raise StorageConflict(f"'{path}' is a folder; choose another name.",
                                  root=self.root.name, path=path)
        if not overwrite:
            raise StorageConflict(f"'{path}' already exists; upload with overwrite=true to "
                                  "replace it.", root=self.root.name, path=path)

    async def mkdir(self, path: str) -> None:
        if not path:
            raise PathRejected("mkdir needs a path inside the root.", field="path")
        if await self._exists(path) is not None:
            raise StorageConflict(f"'{path}' already exists in storage root '{self.root.name}'.",
                                  root=self.root.name, path=path)
        await self._require_parent(path)
        # object stores have no folders: an empty "name/" object is how consoles make one
        await self._remote(path, lambda fs: fs._pipe_file(self.key(path) + "/", b""))

    async def rename(self, src: str, dst: str) -> None:
        if not src or not dst:
            raise PathRejected("rename needs paths inside the root.", field="path")
        found = await self.stat(src)
        if await self._exists(dst) is not None:
            raise StorageConflict(f"'{dst}' already exists in storage root '{self.root.name}'.",
                                  root=self.root.name, path=dst)
        await self._require_parent(dst)
        if found["kind"] == "file":
            await self._remote(src, lambda fs: fs._cp_file(self.key(src), self.key(dst)))
            await self._remote(src, lambda fs: fs._rm_file(self.key(src)))
            return
        keys = await self._all_keys(src, MAX_RENAME_OBJECTS)
        if len(keys) > MAX_RENAME_OBJECTS:
            raise PathRejected(
                f"'{src}' holds more than {MAX_RENAME_OBJECTS} objects: an object store renames "
                "by copying each one, too slow for one request. Use the store's own tools "
                "(aws s3 mv, gcloud storage mv) or a Ray job.", field="path", path=src)
        bucket = self.root.bucket
        src_key, dst_key = self.key(src), self.key(dst)
        # copy everything first, delete after: a failure midway leaves the source whole
        for key in keys:
            source = f"{bucket}/{key}"
            target = dst_key + source[len(src_key):]
            if key.endswith("/"):
                # a folder marker: copy_object would drop the trailing '/'; recreate it
                await self._remote(src, lambda fs, t=target: fs._pipe_file(t, b""))
            else:
                await self._remote(src, lambda fs, k=source, t=target: fs._cp_file(k, t))
        if keys:
            await self._remote(src, lambda fs: self._delete_keys(fs, bucket, keys))

    async def delete(self, path: str, recursive: bool) -> None:
        if not path:
            raise PathRejected("Deleting the root itself is not allowed.", field="path")
        found = await self.stat(path)
        if found["kind"] == "file":
            await self._remote(path, lambda fs: fs._rm_file(self.key(path)))
            return
        marker = self.key(path).partition("/")[2] + "/"
        keys = await self._all_keys(path, None if recursive else 1)
        if not recursive and [k for k in keys if k != marker]:
            raise StorageConflict(f"The folder '{path}' is not empty: delete with recursive=true "
                                  "to remove it and everything in it.", root=self.root.name,
                                  path=path)
        if keys:
            await self._remote(path, lambda fs: self._delete_keys(fs, self.root.bucket, keys))


class RemoteWriter(Writer):
    def __init__(self, backend: FsspecBackend, path: str, overwrite: bool, handle: Any,
                 held: Claim) -> None:
        self.backend, self.path, self.overwrite, self.handle = backend, path, overwrite, handle
        self.claim = held  # released once the upload is committed or aborted
        self._claimed_id: str | None = None
        # A write the deadline gave up on may still be running in its thread (starting the
        # multipart upload, say): a discard then would miss what it is about to create, so
        # the discard is left to that thread, to run as soon as its call returns.
        self._state = threading.Lock()
        self._busy = False
        self._abandoned: Any = None  # the handle to discard once the busy call returns

    async def write(self, data: bytes) -> None:
        await self.backend._blocking(self.path, self._exclusive, self.handle.write, data)

    async def commit(self) -> None:
        # another writer may have created the object since we started
        await self.backend._check_target(self.path, self.overwrite)
        await self.backend._blocking(self.path, self._exclusive, self._commit)

    def _exclusive(self, fn: Any, *args: Any) -> Any:
        with self._state:
            self._busy = True
        try:
            return fn(*args)
        finally:
            self._record_upload_id()
            with self._state:
                self._busy, abandoned, self._abandoned = False, self._abandoned, None
            if abandoned is not None:
                try:
                    self._discard_now(abandoned)
                except Exception:  # noqa: BLE001 - nobody waits for this thread any more
                    log.warning("jupyter_ray_dev: could not clean up the upload of %s",
                                self.path, exc_info=True)

    def _record_upload_id(self) -> None:
        """The store's id of the upload, in the claim, once a write has started it."""
        upload_id = self.upload_id(self.handle) if self.handle is not None else None
        if upload_id and upload_id != self._claimed_id:
            self._claimed_id = upload_id
            self.claim.update_upload(id=upload_id)

    @staticmethod
    def upload_id(handle: Any) -> str | None:
        """S3: the multipart upload's id (None before the first part goes up)."""
        mpu = getattr(handle, "mpu", None)
        return mpu.get("UploadId") if isinstance(mpu, dict) else None

    def _commit(self) -> None:
        self.handle.close()  # uploads the last part; with autocommit=False nothing is visible
        self.handle.commit()  # S3: complete the multipart upload; GCS: finalise the upload
        self.handle = None  # committed: nothing left to abort
        self.claim.release()

    async def abort(self) -> None:
        if self.handle is None:
            return
        # kept until the discard succeeds: the upload registry asks again later
        await self.backend._blocking(self.path, self._discard, self.handle)
        self.handle = None

    def _discard(self, handle: Any) -> None:
        with self._state:
            if self._busy:
                self._abandoned = handle
                return
        self._discard_now(handle)

    def _discard_now(self, handle: Any) -> None:
        try:
            handle.discard()  # S3: abort the multipart upload; GCS: cancel the session
        except FileNotFoundError:
            pass  # gone already (an earlier attempt got through after all)
        finally:
            # closed, so the file object's __del__ cannot flush (and start an upload) later
            handle.closed = True
        self.claim.release()


def abort_interrupted_upload(roots: list[Any], upload: dict[str, Any]) -> str:
    """Abort an upload a killed server left (a leftovers claim's ``upload``; blocking, for
    the sweep's thread). The root's endpoint and credentials come from the configuration
    as it is now, never from the claim. KeepClaim when it cannot be done now."""
    from . import make_backend

    root = next((r for r in roots if r.name == upload.get("root")
                 and r.protocol == upload.get("protocol")), None)
    if root is None:
        raise KeepClaim(f"an upload to {upload.get('protocol')}://{upload.get('bucket')}/"
                        f"{upload.get('key')} was left by an interrupted server, and storage "
                        f"root '{upload.get('root')}' is no longer configured to abort it")
    backend = make_backend(root, None, 60)  # type: ignore[arg-type]  # no pool: blocking here
    if not isinstance(backend, FsspecBackend):
        raise KeepClaim(f"storage root '{root.name}' is not an object store any more")
    try:
        return backend._abort_interrupted(backend._make_fs(), upload)
    except KeepClaim:
        raise
    except RayDevError as err:  # s3fs/gcsfs not installed any more, say
        raise KeepClaim(err.message) from err
    except Exception as err:  # noqa: BLE001 - every failure: try again on the next start
        raise KeepClaim(backend.translate(err, upload.get("key") or "").message) from err


FsspecBackend.writer_class = RemoteWriter


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:300]
