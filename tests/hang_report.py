"""When a test is about to hit pytest-timeout, write where the core's private event loop
(``blocking``'s portal: what the magics and the CLI await) is waiting, task by task.
pytest-timeout prints threads' stacks only, and a hung stream waits in a task, not a
thread, so without this a hang in a magic leaves no trace of its cause."""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import threading
import traceback
import types
from collections.abc import Iterator

import pytest

_AHEAD = 15.0  # seconds before the timeout: pytest-timeout ends the process at it


def _await_chain(awaitable: object, out: io.StringIO) -> None:
    """The frames of a coroutine or generator and of what each awaits, outermost first."""
    while awaitable is not None:
        frame = next((getattr(awaitable, a) for a in ("cr_frame", "ag_frame", "gi_frame")
                      if getattr(awaitable, a, None) is not None), None)
        if frame is None:
            out.write(f"    awaiting {awaitable!r}\n")
            return
        out.write("".join(traceback.format_stack(frame, limit=1)))
        awaitable = next((getattr(awaitable, a) for a in ("cr_await", "ag_await", "gi_yieldfrom")
                          if getattr(awaitable, a, None) is not None), None)


def _portal_tasks() -> str:
    from jupyter_ray_dev import blocking

    portal = blocking._portal
    if portal is None:
        return "(the portal was not started)\n"

    def dump() -> str:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            out.write(f"--- {task!r}\n")
            _await_chain(task.get_coro(), out)
        # a task's chain stops at an async generator's step (no way from it to its
        # generator): every suspended generator says where it waits
        out.write("--- async generators\n")
        for gen in gc.get_objects():
            if isinstance(gen, types.AsyncGeneratorType) and gen.ag_frame is not None:
                _await_chain(gen, out)
        return out.getvalue()

    return portal.call(dump)


def _report(nodeid: str) -> None:
    try:
        text = _portal_tasks()
    except Exception as err:  # noqa: BLE001 - a report must not fail the run
        text = f"(no task report: {err!r})\n"
    sys.__stderr__.write(f"\n== {nodeid}: near its timeout; the portal's tasks ==\n{text}")
    sys.__stderr__.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(
        item.config.getoption("timeout", None) or item.config.getini("timeout") or 0)
    timer = None
    if timeout > _AHEAD * 2:
        timer = threading.Timer(timeout - _AHEAD, _report, (item.nodeid,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
