"""Follow a job's log: every line once, in order, until the job is terminal.

Ray's ``tail_job_logs`` stream is the source, but it can end early when its own
WebSocket drops (ray#57002), and each new stream starts again from the first
byte of the log. So we count the characters consumed so far; when a stream
ends we re-check the job's status, and either reconnect and skip what was
already consumed, or, once the job is terminal, take the rest from the full log
(``get_job_logs`` reads the same file the same way, so offsets agree).

When the driver runs on this machine (the head node, where JupyterLab runs on
KubeRay) its log file is read directly instead (driver_log.py): same text, same
offsets, lines ten times sooner than Ray's one-second polling; Ray's stream stays
the fallback.

Sources send chunks, not lines (a chunk can end mid-line): lines are reassembled
here, and a last line without a newline is delivered at the end.

Events are plain dicts, ready for JSON:

- ``{"type": "status", "status", "message", "error_type"}`` at start and on every change;
- ``{"type": "line", "n": <0-based line number>, "line": <text without newline>}``; or,
  with ``batch=True``, ``{"type": "lines", "n": <number of the first>, "lines": [...]}``
  for the lines of one chunk (the WebSocket sends those: a reopened log of 10,000 lines
  is a few messages, not 10,000);
- ``{"type": "end", "status", "message", "error_type"}`` last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..errors import RayDevError, RayUnreachable

log = logging.getLogger(__name__)

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
_TICK = object()


def _status_event(kind: str, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "status": info.get("status"),
        "message": info.get("message"),
        "error_type": info.get("error_type"),
    }


async def _with_ticks(stream: AsyncIterator[str], interval: float) -> AsyncIterator[Any]:
    """The stream's items, plus a _TICK every ``interval`` seconds, busy or quiet (the
    status is re-read on each tick, so PENDING -> RUNNING shows while lines flow)."""
    loop = asyncio.get_running_loop()
    iterator = stream.__aiter__()
    pending: asyncio.Future[str] | None = None
    next_tick = loop.time() + interval
    try:
        while True:
            if loop.time() >= next_tick:
                next_tick = loop.time() + interval
                yield _TICK
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=max(next_tick - loop.time(), 0))
            if not done:
                continue
            future, pending = pending, None
            try:
                item = future.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending


class LogFollower:
    def __init__(
        self,
        info: Callable[[str], Awaitable[dict[str, Any]]],
        full_log: Callable[[str], Awaitable[str]],
        tail: Callable[[str], AsyncIterator[str]],
        *,
        local: Callable[[str, dict[str, Any]], Awaitable[AsyncIterator[str] | None]] | None = None,
        status_interval: float = 2.0,
        pending_interval: float = 0.25,
        retry_delay: float = 0.5,
        max_retry_delay: float = 5.0,
        unreachable_for: float = 60.0,
    ) -> None:
        self._info = info
        self._full_log = full_log
        self._tail = tail
        self._local = local
        self.status_interval = status_interval
        self.pending_interval = pending_interval
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.unreachable_for = unreachable_for

    async def _info_retrying(self, job_id: str) -> dict[str, Any]:
        """Status, waiting out a short Ray outage (a restarting dashboard) before giving up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.unreachable_for
        delay = self.retry_delay
        while True:
            try:
                return await self._info(job_id)
            except RayUnreachable:
                if loop.time() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

    async def follow(self, job_id: str, start_line: int = 0, batch: bool = False
                     ) -> AsyncIterator[dict[str, Any]]:
        """Events for ``job_id``; lines numbered below ``start_line`` are not sent (a client
        reconnecting after line n-1 passes n)."""
        info = await self._info(job_id)  # NotFound / RayUnreachable reach the caller at once
        status = info.get("status")
        yield _status_event("status", info)

        consumed = 0  # characters of the log already taken from Ray, from its first byte
        pending = ""  # the start of a line whose newline has not arrived yet
        number = 0  # the number of the next complete line

        def take(text: str, last: bool = False) -> list[dict[str, Any]]:
            """The events of the complete lines in ``text`` (with ``last``, of the rest too)."""
            nonlocal consumed, pending, number
            consumed += len(text)
            *lines, pending = (pending + text).split("\n")
            if last and pending:
                lines.append(pending)
                pending = ""
            first = number
            number += len(lines)
            lines = lines[max(start_line - first, 0):]
            first = max(first, start_line)
            if not lines:
                return []
            if batch:
                return [{"type": "lines", "n": first, "lines": lines}]
            return [{"type": "line", "n": first + i, "line": line} for i, line in enumerate(lines)]

        delay = self.retry_delay
        use_local = self._local is not None
        pending_delay = self.pending_interval
        while status not in TERMINAL:
            source = None
            if use_local:
                if status == "PENDING" and not info.get("driver_agent_http_address"):
                    # where the driver will run is not known yet (Ray's own stream waits
                    # for the same thing): look again shortly, then pick the source; a job
                    # waiting long for resources is asked less and less often
                    await asyncio.sleep(pending_delay)
                    pending_delay = min(pending_delay * 1.5, self.status_interval)
                    info = await self._info_retrying(job_id)
                    if info.get("status") != status:
                        status = info.get("status")
                        yield _status_event("status", info)
                    continue
                try:
                    source = await self._local(job_id, info)
                except (OSError, RayDevError) as err:
                    log.debug("no local driver log for %s: %s", job_id, err)
                use_local = source is not None  # a driver on another node: Ray's stream
            local = source is not None
            skip = consumed  # a new stream starts again from the first byte
            quiet_terminal_ticks = 0
            try:
                stream = source if source is not None else self._tail(job_id)
                async with contextlib.aclosing(_with_ticks(stream, self.status_interval)) as items:
                    async for item in items:
                        if item is _TICK:
                            info = await self._info(job_id)
                            if info.get("status") != status:
                                status = info.get("status")
                                yield _status_event("status", info)
                            if status in TERMINAL:
                                # a file never ends by itself; Ray closes its stream after
                                # the job ends, and if it stays silent the connection is
                                # dead: either way, finish from the full log
                                quiet_terminal_ticks += 1
                                if local or quiet_terminal_ticks >= 2:
                                    break
                            continue
                        quiet_terminal_ticks = 0
                        if skip:
                            if len(item) <= skip:
                                skip -= len(item)
                                continue
                            item, skip = item[skip:], 0
                        for event in take(item):
                            yield event
                        delay = self.retry_delay  # progress: the next drop retries quickly
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except RayDevError as err:
                log.debug("log stream of %s: %s", job_id, err.message)
            except Exception as err:  # aiohttp/WebSocket errors: the drop ray#57002 is about
                log.info("log stream for %s dropped (%s); resuming", job_id, type(err).__name__)
                if local:
                    use_local = False  # the file went away: Ray's stream from here on
            # the stream ended: the job is over, or the connection dropped (ray#57002)
            info = await self._info_retrying(job_id)
            if info.get("status") != status:
                status = info.get("status")
                yield _status_event("status", info)
            if status not in TERMINAL:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)

        # terminal: whatever no stream delivered is in the full log, after `consumed`
        text = await self._full_log(job_id)
        for event in take(text[consumed:], last=True):  # a last line without its newline too
            yield event
        yield _status_event("end", info)
