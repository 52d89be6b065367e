"""Follow a driver's log from the local file when the driver runs on this machine.

Ray's log tail polls the driver's log file once a second. JupyterLab on a KubeRay
head pod shares the head's disk, and drivers run on the head by default, so the
file ``<temp dir>/<session>/logs/job-driver-<submission_id>.log`` is right here:
reading it every 0.1 s delivers lines ten times sooner than Ray can. Ray's stream stays
the fallback for drivers on other nodes and for any doubt.

A file is used only if all of these hold: the job's driver agent address is an
address of this machine, the session directory is the one the dashboard reports
(not a previous cluster's), and the file exists. The text is decoded as Ray reads
it (UTF-8, universal newlines), so character offsets agree with Ray's full log.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_SAFE_ID = re.compile(r"[\w\-]+")
_MAX_ROUND = 1 << 20  # per file per round: one chatty driver cannot hold the poller up


def default_ray_temp_dir() -> Path:
    """Where ``ray start`` puts its sessions unless told otherwise
    (ray._common.utils.get_default_ray_temp_dir)."""
    if "RAY_TMPDIR" in os.environ:
        base = os.environ["RAY_TMPDIR"]
    elif sys.platform.startswith("linux") and "TMPDIR" in os.environ:
        base = os.environ["TMPDIR"]
    else:
        base = "/tmp"
    return Path(base) / "ray"


def is_local_address(host: str | None) -> bool:
    """Is ``host`` an address of this machine? (Binding to it only works if it is.)"""
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, kind, proto, _, sockaddr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.bind((sockaddr[0], 0))
            return True
        except OSError:
            continue
    return False


@dataclass(eq=False)
class _Follow:
    """One followed file. Only the poller's pool call touches ``handle`` and ``decoder``."""

    path: Path
    queue: asyncio.Queue[str | OSError]
    handle: Any = None
    decoder: Any = None
    done: bool = False  # the follower left: close the handle on the next round


def _read_round(follows: list[_Follow]) -> list[tuple[_Follow, str, OSError | None]]:
    """One pass over every followed file (runs on the pool)."""
    out: list[tuple[_Follow, str, OSError | None]] = []
    for follow in follows:
        try:
            if follow.done:
                if follow.handle is not None:
                    follow.handle.close()
                    follow.handle = None
                continue
            if follow.handle is None:
                follow.handle = open(follow.path, "rb")  # noqa: SIM115 - closed when done
                # the same decoding as Ray's text-mode reads; never final, so a character
                # or a '\r\n' split across two reads waits for its second half
                follow.decoder = io.IncrementalNewlineDecoder(
                    codecs.getincrementaldecoder("utf-8")(errors="replace"), translate=True
                )
            out.append((follow, follow.decoder.decode(follow.handle.read(_MAX_ROUND)), None))
        except OSError as err:
            out.append((follow, "", err))
    return out


class LocalDriverLogs:
    """Every followed driver log is read by one poller, one pool call per interval for
    all of them: 20 live logs cost the event loop what one does."""

    def __init__(
        self,
        temp_dir: Path,
        session_name: Callable[[], Awaitable[str | None]] | None,
        executor: Executor,
        poll_interval: float = 0.1,
    ) -> None:
        self.temp_dir = temp_dir
        self._session_name = session_name
        self._executor = executor
        self.poll_interval = poll_interval
        self._follows: list[_Follow] = []
        self._poller: asyncio.Task[None] | None = None

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def find(self, job_id: str, info: dict[str, Any]) -> Path | None:
        if not _SAFE_ID.fullmatch(job_id) or self._session_name is None:
            return None
        host = urlsplit(info.get("driver_agent_http_address") or "").hostname
        if not host or not await self._run(is_local_address, host):
            return None
        session = await self._session_name()
        if not session or not _SAFE_ID.fullmatch(session):
            return None
        path = self.temp_dir / session / "logs" / f"job-driver-{job_id}.log"
        return path if await self._run(path.is_file) else None

    async def _poll(self) -> None:
        try:
            while self._follows:
                for follow, text, err in await self._run(_read_round, list(self._follows)):
                    if err is not None:
                        follow.queue.put_nowait(err)
                    elif text:
                        follow.queue.put_nowait(text)
                self._follows = [f for f in self._follows if not (f.done and f.handle is None)]
                await asyncio.sleep(self.poll_interval)
        except BaseException as err:
            # a poller that stops (its pool shut down, the task cancelled) must not leave
            # its followers waiting for text that never comes: each falls back to Ray's
            # stream, which resumes at the same character
            failed = OSError(f"the local log poller stopped: {type(err).__name__}: {err}")
            for follow in self._follows:
                follow.queue.put_nowait(failed)
            self._follows = []
            raise
        finally:
            self._poller = None

    async def tail(self, path: Path) -> AsyncIterator[str]:
        """The file's text from its first byte, then as it grows (never ends by itself)."""
        follow = _Follow(path, asyncio.Queue())
        self._follows.append(follow)
        if self._poller is None:
            self._poller = asyncio.ensure_future(self._poll())
        try:
            while True:
                item = await follow.queue.get()
                if isinstance(item, OSError):
                    raise item
                yield item
        finally:
            follow.done = True  # the poller closes the file on its next round

    async def open(self, job_id: str, info: dict[str, Any]) -> AsyncIterator[str] | None:
        path = await self.find(job_id, info)
        return self.tail(path) if path is not None else None
