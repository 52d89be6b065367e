"""A server extension for benchmarks only: how long each event-loop callback held the loop.

On a loaded machine a request's latency mostly measures the scheduler: the server
process waits for a core. What the server itself does wrong is a callback that holds
the loop, and its CPU time (``time.thread_time``: the main thread's own, not inflated
by waiting for a core) says so whatever the load. Every callback the loop runs is
timed (wall and CPU); ``GET /bench/loop`` returns the longest ones since the last
``?reset=1`` with where they ran, how many took over 50 ms of CPU, and the longest in
wall time (a callback blocked on the disk shows there, with little CPU).

Loaded with ``--ServerApp.jpserver_extensions='{"loop_monitor": true}'`` and this
folder on PYTHONPATH (bench/jobs.py does both).
"""

from __future__ import annotations

import asyncio.events
import heapq
import json
import threading
import time

import tornado.web
from jupyter_server.base.handlers import APIHandler

SLOW = 0.05
_KEEP = 10
_stats: dict = {"callbacks": 0, "slow": 0, "longest": [], "wall": (0.0, 0.0, "-"),
          "other": (0.0, 0.0, "-")}


def _describe(handle: asyncio.events.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    coro = getattr(owner, "get_coro", lambda: None)()
    if coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame else ""
        return f"task {getattr(coro, '__qualname__', coro)}{where}"
    return repr(callback)[:200]


def _install() -> None:
    run = asyncio.events.Handle._run
    if getattr(run, "_monitored", False):
        return
    thread_time, perf = time.thread_time, time.perf_counter
    # the server's loop runs on the main thread; libraries run loops of their own on other
    # threads (fsspec's IO loop for s3fs/gcsfs), which hold only the GIL, not this loop
    server, ident = threading.main_thread().ident, threading.get_ident

    def timed_run(self: asyncio.events.Handle) -> None:
        cpu, wall = thread_time(), perf()
        try:
            run(self)
        finally:
            cpu, wall = thread_time() - cpu, perf() - wall
            if ident() != server:
                if cpu > _stats["other"][0]:
                    _stats["other"] = (cpu, wall, _describe(self))
                return
            _stats["callbacks"] += 1
            if cpu > SLOW:
                _stats["slow"] += 1
            if wall > _stats["wall"][0]:  # blocked (disk, a lock) or waiting for a core
                _stats["wall"] = (wall, cpu, _describe(self))
            longest = _stats["longest"]
            if len(longest) < _KEEP or cpu > longest[0][0]:
                # where the callback ended: a task's frame at its last suspension
                entry = (cpu, wall, _describe(self))
                if len(longest) < _KEEP:
                    heapq.heappush(longest, entry)
                else:
                    heapq.heapreplace(longest, entry)

    timed_run._monitored = True  # type: ignore[attr-defined]
    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]


class LoopStats(APIHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        longest = sorted(_stats["longest"], reverse=True)
        self.finish(json.dumps({
            "callbacks": _stats["callbacks"], "slow": _stats["slow"],
            "longest": [{"cpu_ms": round(c * 1000, 1), "wall_ms": round(w * 1000, 1),
                         "where": where} for c, w, where in longest],
            "longest_wall": {"wall_ms": round(_stats["wall"][0] * 1000, 1),
                             "cpu_ms": round(_stats["wall"][1] * 1000, 1),
                             "where": _stats["wall"][2]},
            "other_loops": {"cpu_ms": round(_stats["other"][0] * 1000, 1),
                            "wall_ms": round(_stats["other"][1] * 1000, 1),
                            "where": _stats["other"][2]}}))
        if self.get_argument("reset", ""):
            _stats.update(callbacks=0, slow=0, longest=[], wall=(0.0, 0.0, "-"),
                          other=(0.0, 0.0, "-"))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "loop_monitor"}]


def _load_jupyter_server_extension(serverapp) -> None:
    _install()
    serverapp.web_app.add_handlers(".*$", [("/bench/loop", LoopStats)])
