"""The pages a paged walk will ask for next, listed before it asks (local folders).

A walk of a big folder asks for page after page, each as soon as the last reply is
read. Listing the next pages meanwhile takes the listing out of the walk's critical
path. Pages are kept per walk, i.e. per owner (the user asking), folder and limit,
and a page is served once, only to that walk, only for the cursor it was listed
after, and only if it was listed less than ``ttl`` seconds ago; the caller then
checks that the folder is still the one listed (``Page.folder``).

Everything here runs on the event loop; the listing itself runs on the pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .local_listing import Page

# (path, limit, after, pages) -> up to ``pages`` consecutive pages, or None (list on demand)
ListPages = Callable[[str, int, str, int], "list[Page] | None"]


class _Walk:
    __slots__ = ("dropped", "expires", "limit", "listing", "pages", "path", "wanted")

    def __init__(self, path: str, limit: int) -> None:
        self.path, self.limit = path, limit
        self.wanted = ""  # the cursor token the client asks with next
        self.pages: dict[str, tuple[float, Page]] = {}  # after token -> (listed at, page)
        self.listing: tuple[str, asyncio.Future[Any]] | None = None  # (after, pages)
        self.expires = 0.0
        self.dropped = False

    def cancel(self) -> None:
        self.dropped = True
        if self.listing is not None:
            self.listing[1].cancel()
            self.listing = None


class ReadAhead:
    def __init__(self, list_pages: ListPages, executor: concurrent.futures.Executor,
                 pages_per_batch: Callable[[int], int], ttl: float = 5.0,
                 max_walks: int = 4) -> None:
        self._list_pages = list_pages
        self._executor = executor
        self._pages_per_batch = pages_per_batch
        self.ttl = ttl
        self.max_walks = max_walks
        self._walks: OrderedDict[tuple[str, str, int], _Walk] = OrderedDict()

    def __len__(self) -> int:
        """Pages listed ahead and not served yet."""
        return sum(len(walk.pages) for walk in self._walks.values())

    async def settled(self) -> None:
        """Wait until nothing is being listed ahead, the batches a finished one starts
        included (tests: a change made next comes after them)."""
        while pending := [w.listing[1] for w in self._walks.values() if w.listing is not None]:
            await asyncio.wait(pending)
            await asyncio.sleep(0)  # the done callbacks run, and may start the next batch

    async def take(self, owner: str, path: str, limit: int, token: str,
                   wait: float) -> Page | None:
        """The page after ``token`` if this walk has it, waiting up to ``wait`` seconds for
        a listing under way that will have it; else None: the caller lists it. Never
        raises: a listing ahead that fails, is dropped by a write or is slow only means
        the page is listed on demand."""
        walk = self._walks.get((owner, path, limit))
        if walk is None:
            return None
        if token not in walk.pages and walk.listing is not None and walk.listing[0] == token:
            # not wait_for: a timeout must not cancel a listing other requests may await,
            # and a cancelled listing (a write, an eviction) must not cancel this request
            await asyncio.wait({walk.listing[1]}, timeout=wait)  # its callback kept the pages
        listed = walk.pages.pop(token, None)
        if listed is None or listed[0] + self.ttl <= time.monotonic():
            return None
        # what the client asks for next, already: a batch listed meanwhile goes on from there
        walk.wanted = listed[1].next_token or ""
        return listed[1]

    def schedule(self, owner: str, path: str, limit: int, after: str) -> None:
        """The walk was just served the page ending at ``after``: keep a batch ahead."""
        now = time.monotonic()
        for key, stale in list(self._walks.items()):
            if stale.expires <= now:
                stale.cancel()
                del self._walks[key]
        key = (owner, path, limit)
        walk = self._walks.get(key)
        if walk is None:
            walk = self._walks[key] = _Walk(path, limit)
            while len(self._walks) > self.max_walks:
                self._walks.popitem(last=False)[1].cancel()
        self._walks.move_to_end(key)
        walk.expires, walk.wanted = now + self.ttl, after
        self._top_up(walk)

    def _top_up(self, walk: _Walk) -> None:
        """Start listing the next batch unless one is under way or two are ready: the
        lister goes on from batch to batch while the client reads, up to that bound."""
        if walk.listing is not None or walk.dropped:
            return
        # the pages still ahead of the client; anything else (an earlier pass) is dropped
        ahead, frontier = {}, walk.wanted
        while frontier is not None and frontier in walk.pages:
            listed = ahead[frontier] = walk.pages[frontier]
            frontier = listed[1].next_token
        walk.pages = ahead
        batch = self._pages_per_batch(walk.limit)
        if frontier is None or len(ahead) >= 2 * batch:
            return
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._list_pages, walk.path, walk.limit, frontier, batch)
        walk.listing = (frontier, future)
        future.add_done_callback(
            functools.partial(self._listed, walk, frontier, time.monotonic()))

    def _listed(self, walk: _Walk, after: str, started: float,
                future: asyncio.Future[Any]) -> None:
        if walk.listing is not None and walk.listing[1] is future:
            walk.listing = None
        if future.cancelled() or future.exception() is not None or not future.result():
            return  # listed on demand instead (and an error reported by that request)
        for page in future.result():
            walk.pages[after] = (started, page)  # as old as when its listing began
            if page.next_token is None:
                break
            after = page.next_token
        if walk.expires > time.monotonic():
            self._top_up(walk)

    def forget(self, *folders: str, tree: str | None = None) -> None:
        """Drop the walks of these folders (and of everything under ``tree``)."""
        for key, walk in list(self._walks.items()):
            if walk.path in folders or (tree is not None and (
                    walk.path == tree or walk.path.startswith(tree + "/"))):
                walk.cancel()
                del self._walks[key]

    def clear(self) -> None:
        for walk in self._walks.values():
            walk.cancel()
        self._walks.clear()
