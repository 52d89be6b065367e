"""SharedResult: one upstream call for every caller, never an error served from memory."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_ray_dev.shared_result import SharedResult


async def finished(up: Upstream) -> None:
    """Until the newest call has ended and SharedResult has kept (or dropped) its result:
    SharedResult's own done callback was added first, so it has run when this returns."""
    await asyncio.wait([up.tasks[-1]])


class Upstream:
    """Counts calls; each call waits for `release` so concurrency is under the test's control."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail = False
        self.tasks: list[asyncio.Task] = []

    async def fetch(self) -> int:
        self.calls += 1
        self.tasks.append(asyncio.current_task())
        number = self.calls
        await self.release.wait()
        if self.fail:
            raise RuntimeError(f"call {number} failed")
        return number


async def test_callers_arriving_together_share_one_call():
    up = Upstream()
    shared = SharedResult(up.fetch, reuse=60)
    waiting = [asyncio.ensure_future(shared.get()) for _ in range(5)]
    await asyncio.sleep(0)
    up.release.set()
    assert await asyncio.gather(*waiting) == [1] * 5
    assert await shared.get() == 1  # reused inside the window
    assert up.calls == 1


async def test_a_stale_result_is_served_at_once_while_a_newer_one_is_fetched():
    up = Upstream()
    up.release.set()
    shared = SharedResult(up.fetch, reuse=0, stale=60)
    assert await shared.get() == 1
    up.release.clear()  # the refresh now hangs, as on a busy dashboard
    assert await asyncio.wait_for(shared.get(), 1) == 1
    assert up.calls == 2  # a refresh started, and only one however many ask
    assert await asyncio.wait_for(shared.get(), 1) == 1
    assert up.calls == 2
    up.release.set()
    await finished(up)
    assert await shared.get() == 2
    assert up.calls == 2


async def test_without_a_stale_window_an_old_result_is_never_served():
    up = Upstream()
    up.release.set()
    shared = SharedResult(up.fetch, reuse=0)
    assert [await shared.get(), await shared.get()] == [1, 2]


async def test_an_error_reaches_the_caller_and_is_not_kept():
    up = Upstream()
    up.release.set()
    up.fail = True
    shared = SharedResult(up.fetch, reuse=60, stale=60)
    with pytest.raises(RuntimeError, match="call 1"):
        await shared.get()
    up.fail = False
    assert await shared.get() == 2


async def test_a_failed_background_refresh_drops_the_stale_result():
    """Ray went away: the next caller must see the error, not the old summary forever."""
    up = Upstream()
    up.release.set()
    shared = SharedResult(up.fetch, reuse=0, stale=60)
    assert await shared.get() == 1
    up.fail = True
    assert await shared.get() == 1  # served stale; the refresh fails behind it
    await finished(up)
    with pytest.raises(RuntimeError, match="call 3"):
        await shared.get()


async def test_another_key_or_a_forget_never_gets_the_old_result():
    up = Upstream()
    up.release.set()
    shared = SharedResult(up.fetch, reuse=60, stale=60)
    assert await shared.get("token-a") == 1
    assert await shared.get("token-b") == 2
    shared.forget()
    assert await shared.get("token-b") == 3


async def test_one_caller_giving_up_does_not_cancel_the_others():
    up = Upstream()
    shared = SharedResult(up.fetch, reuse=60)
    first = asyncio.ensure_future(shared.get())
    second = asyncio.ensure_future(shared.get())
    await asyncio.sleep(0)
    first.cancel()
    up.release.set()
    assert await second == 1
