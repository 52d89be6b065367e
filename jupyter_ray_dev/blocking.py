"""Run the core's coroutines from synchronous code (IPython magics, the CLI).

A kernel's own event loop is often already running (ipykernel), so
``asyncio.run`` cannot be used there; and the core's executors, caches and job
store belong to the loop that first used them. So every call goes to one
private loop in a background thread: anyio's blocking portal, which is made
for exactly this. Ctrl-C (a kernel interrupt) reaches the calling thread while
the coroutine keeps running in the portal: ``call`` cancels it before
re-raising, so nothing is left running behind the user's back.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

_lock = threading.Lock()
_portal: Any = None
_portal_cm: Any = None


def portal() -> Any:
    """The process's portal, started on first use and stopped at exit."""
    global _portal, _portal_cm
    with _lock:
        if _portal is None:
            from anyio.from_thread import start_blocking_portal

            _portal_cm = start_blocking_portal()
            _portal = _portal_cm.__enter__()
            atexit.register(_stop)
        return _portal


def _stop() -> None:
    global _portal, _portal_cm
    with _lock:
        cm, _portal, _portal_cm = _portal_cm, None, None
    if cm is not None:
        cm.__exit__(None, None, None)


def wait(future: Future[Any]) -> Any:
    """The future's result; on KeyboardInterrupt the task is cancelled, then it re-raises."""
    try:
        while True:
            try:
                # short waits: a kernel interrupt (SIGINT, or interrupt_main) is only seen
                # between waits, not during a blocked lock acquire
                return future.result(timeout=0.2)
            except FutureTimeout:  # builtin TimeoutError from 3.11 on, not on 3.10
                continue
    except KeyboardInterrupt:
        future.cancel()
        raise


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``await fn(*args, **kwargs)`` on the private loop, from any thread."""

    async def run() -> Any:
        return await fn(*args, **kwargs)

    return wait(portal().start_task_soon(run))


def iterate(stream: AsyncIterator[Any]) -> Iterator[Any]:
    """The items of an async iterator, one portal call each. A KeyboardInterrupt cancels the
    pending step, which ends the stream (a caller that wants more starts a new one);
    ``close()`` on the returned generator closes the stream on its own loop."""
    iterator = stream.__aiter__()
    try:
        while True:
            try:
                item = call(iterator.__anext__)
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None and _portal is not None:
            try:
                call(aclose)
            except RuntimeError:  # the async generator is still running: cancelled already
                pass
