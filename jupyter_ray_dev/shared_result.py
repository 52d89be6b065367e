"""One upstream call shared by every caller: no polling storm reaches Ray.

Every open panel, browser tab and live log stream asks the server the same few
questions (the cluster summary, the job list) every second or two. Asking Ray
once per question and handing the answer to everyone who asks meanwhile keeps
the dashboard's load flat however many clients there are.

``reuse``: a result younger than this is handed out as is.
``stale``: a result younger than this (and older than ``reuse``) is handed out
at once while a newer one is fetched in the background, so a caller never waits
on Ray for data a second or two newer than what it gets. A failed fetch is
never reused: the next caller asks again, and sees the error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedResult(Generic[T]):
    def __init__(self, fetch: Callable[[], Awaitable[T]], reuse: float, stale: float = 0.0) -> None:
        self._fetch = fetch
        self.reuse = reuse
        self.stale = max(stale, reuse)
        self._key: Hashable = None
        self._asked = 0.0  # loop time of the newest fetch
        self._newest: asyncio.Future[T] | None = None
        self._served: tuple[float, T] | None = None  # the last good result, and when asked

    async def get(self, key: Hashable = None) -> T:
        """The shared result; ``key`` names what is asked (an address, a token): a
        different key never gets another key's result."""
        loop = asyncio.get_running_loop()
        if key != self._key:
            self.forget()
            self._key = key
        now = loop.time()
        running = self._newest is not None and not self._newest.done()
        if self._served is not None:
            asked, value = self._served
            if now - asked < self.reuse:
                return value
            if now - asked < self.stale:
                if not running:
                    self._start(loop)
                return value
        if not running:
            self._start(loop)
        assert self._newest is not None
        # shielded: one caller giving up (a closed browser tab) does not cancel the others'
        return await asyncio.shield(self._newest)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        asked = loop.time()
        future = asyncio.ensure_future(self._fetch())
        self._asked, self._newest = asked, future

        def keep(done: asyncio.Future[T]) -> None:
            if done is not self._newest:
                return  # forgotten meanwhile
            if done.cancelled() or done.exception() is not None:
                self._served = None  # an error is never served from here
            else:
                self._served = (asked, done.result())

        future.add_done_callback(keep)

    def forget(self) -> None:
        """Our own change (a submit, a stop): the next caller must see Ray's new answer."""
        self._served = None
        self._newest = None

    async def close(self) -> None:
        future, self._newest = self._newest, None
        if future is not None and not future.done():
            future.cancel()
            with contextlib.suppress(BaseException):
                await future
