"""Long output to the browser: one-way streams of JSON events from a core async iterator.

``pump`` is the one loop: it sends each event, awaiting each write (a slow browser
slows the source, not the server), and turns a failure into one ``error`` event. Two
transports carry it, as the API's clients expect: a WebSocket for what a client
reconnects to (live job logs, live build logs: ``EventStreamHandler``), and
server-sent events on the response of a POST that starts the work (an install:
``send_event_stream``). Closing the connection stops the source either way.

``EventStreamHandler``: a subclass names its events (``events()``); the base
authenticates the upgrade, reads ``?from=<n>`` (a reconnecting client passes the
number after the last line it has) and closes the socket when the events end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import RayDevError
from ..service import RayDevService


Send = Callable[[dict[str, Any]], Awaitable[None]]


async def pump(events: AsyncIterator[dict[str, Any]], send: Send, handler: JupyterHandler,
               closed: type[Exception]) -> bool:
    """Send every event; a failure becomes one ``error`` event (its status as ``code``).
    False when the client went away (``closed`` raised by ``send``); the events are
    closed either way, which stops their source."""
    what, path = getattr(handler, "what", "event stream"), handler.request.path
    try:
        async for event in events:
            await send(event)
    except closed:
        return False
    except RayDevError as err:
        handler.log.warning("%s %s: %s", what, path, err.message)
        return await _send_quietly(send, {"type": "error", "code": err.status,
                                          **err.to_dict()}, closed)
    except asyncio.CancelledError:
        raise
    except Exception:
        handler.log.exception("%s %s failed", what, path)
        return await _send_quietly(send, {"type": "error", "code": 500,
                                          "reason": "internal_error",
                                          "message": f"The {what} failed; see the server log."},
                                   closed)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    return True


async def _send_quietly(send: Send, message: dict[str, Any],
                        closed: type[Exception]) -> bool:
    try:
        await send(message)
    except closed:
        return False
    return True


async def send_event_stream(handler: JupyterHandler,
                            events: AsyncIterator[dict[str, Any]]) -> None:
    """Server-sent events on this response: ``event: <type>`` and the event as JSON.

    The first event is awaited before any header is sent, so a request the core refuses
    at once is still a plain JSON 4xx."""
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        handler.finish()
        return

    async def send(event: dict[str, Any]) -> None:
        handler.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
        await handler.flush()

    async def rest() -> AsyncIterator[dict[str, Any]]:
        yield first
        async for event in events:
            yield event

    handler.set_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.set_header("X-Accel-Buffering", "no")  # proxies (nginx) must not hold it back
    try:
        await pump(rest(), send, handler, StreamClosedError)
    finally:
        await events.aclose()  # the browser went away: closing stops pip and cleans up
    if not handler._finished:
        handler.finish()


class EventStreamHandler(ExtensionHandlerMixin, WebSocketMixin, WebSocketHandler,
                         JupyterHandler):
    what = "event stream"  # named in the server log and the error message
    start_line = 0
    _task: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """JupyterHandler's API headers (CSP etc.) mean nothing on a WebSocket upgrade."""

    @property
    def service(self) -> RayDevService:
        return self.extensionapp.service  # type: ignore[attr-defined]

    def events(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.start_line = int(self.get_argument("from", "0"))
            if self.start_line < 0:
                raise ValueError
        except ValueError:
            raise tornado.web.HTTPError(400, "`from` must be a line number (0 or more)") from None
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # starts the keep-alive pings
        self._task = asyncio.create_task(self._pump())

    async def _send(self, message: dict[str, Any]) -> None:
        await self.write_message(json.dumps(message))

    async def _pump(self) -> None:
        if await pump(self.events(), self._send, self, WebSocketClosedError):
            self.close()

    def on_message(self, message: str | bytes) -> None:
        """The stream is one-way; messages from the client are ignored."""

    def on_close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
