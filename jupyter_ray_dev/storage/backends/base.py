"""The small interface every storage backend implements, and what they share.

Paths given to a backend are already clean (``paths.clean_relpath``) and relative
to the root. Every method is a coroutine that never blocks the event loop: local
I/O runs on the storage thread pool, remote I/O on fsspec's own event loop.
Every call has a deadline, so a hung NFS mount or a silent endpoint becomes a
503 instead of a request that never ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..errors import StorageNotFound, StorageUnreachable
from ..roots import StorageRoot

T = TypeVar("T")

# entry = {"name", "path", "kind": "file"|"directory"|"symlink", "size", "modified", ...}
Entry = dict[str, Any]


class Writer(ABC):
    """An upload in progress: nothing is visible at the target until ``commit``."""

    @abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def abort(self) -> None:
        """Drop everything written; must be safe to call twice and after a failed commit."""


class Backend(ABC):
    # remote backends read in bigger ranges: each range is a request
    read_chunk = 1 << 20
    # a request costs a network round trip: a folder's Ray markers are asked for while
    # its first page is listed (a few wasted requests beat a second round trip)
    probe_while_listing = False

    def __init__(self, root: StorageRoot, executor: concurrent.futures.Executor,
                 timeout: float) -> None:
        self.root = root
        self.executor = executor
        self.timeout = timeout

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """What a 503 message names: a folder, or the object store's URL."""

    @abstractmethod
    async def list_page(self, path: str, limit: int, token: str | None,
                        name_prefix: str = "") -> tuple[list[Entry], str | None]:
        """Up to ``limit`` entries of folder ``path`` after ``token``, and the next token.

        ``name_prefix`` keeps only entries whose name starts with it (used to find
        ``checkpoint_*`` folders without listing everything).
        """

    async def list_page_for(self, owner: str, path: str, limit: int,
                            token: str | None) -> tuple[list[Entry] | bytes, str | None]:
        """A page a user asked for (``list_page`` without a prefix); ``owner`` names the
        user, for a backend that lists the next page ahead (local) and must serve it to
        that user only. A later page may come as its entries' JSON array already (bytes)."""
        return await self.list_page(path, limit, token)

    async def has_file(self, path: str) -> bool:
        """Is there a file (not a folder) at ``path``?"""
        try:
            return (await self.stat(path))["kind"] == "file"
        except StorageNotFound:
            return False

    @abstractmethod
    async def stat(self, path: str) -> Entry: ...

    @abstractmethod
    async def read(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a file (fewer if the file is shorter)."""

    @abstractmethod
    def open_sync(self, path: str) -> Any:
        """A blocking binary file object, for libraries (pyarrow) run on the thread pool."""

    @abstractmethod
    async def open_writer(self, path: str, overwrite: bool) -> Writer: ...

    @abstractmethod
    async def mkdir(self, path: str) -> None: ...

    @abstractmethod
    async def rename(self, src: str, dst: str) -> None: ...

    @abstractmethod
    async def delete(self, path: str, recursive: bool) -> None: ...

    async def close(self) -> None:
        return None

    # -- helpers ------------------------------------------------------------------------------

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn`` on the storage pool, with the deadline."""
        future = asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        return await self._deadline(future)

    async def _deadline(self, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except asyncio.TimeoutError:
            raise StorageUnreachable(
                f"Storage root '{self.root.name}' did not answer within {self.timeout:g} s "
                f"({self.endpoint}). Check that it is reachable from this server "
                "(mounted, endpoint up, network), or raise c.RayDev.storage_timeout.",
                root=self.root.name, endpoint=self.endpoint,
            ) from None


def epoch_ms(value: Any) -> int | None:
    """Modification times as Unix epoch milliseconds (what JavaScript's Date takes).

    An integer, not an ISO string or a float: formatting either per entry cost as much as
    the stat itself on a 100k-entry folder.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value * 1000)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, str):
        try:
            return epoch_ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None
