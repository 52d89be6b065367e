"""One-way JSON event streams over a WebSocket: live job logs, live build logs.

A subclass names its events (``events()``); this base authenticates the upgrade,
reads ``?from=<n>`` (a reconnecting client passes the number after the last line it
has), sends each event as one JSON text message, awaiting each write (a slow browser
slows the source, not the server), turns a failure into one ``error`` message and
closes the socket when the events end. Closing the socket stops the source.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import RayDevError
from ..service import RayDevService


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
        try:
            async for event in self.events():
                await self._send(event)
        except WebSocketClosedError:
            return
        except RayDevError as err:
            self.log.warning("%s %s: %s", self.what, self.request.path, err.message)
            await self._send_quietly({"type": "error", "code": err.status, **err.to_dict()})
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("%s %s failed", self.what, self.request.path)
            await self._send_quietly({"type": "error", "code": 500, "reason": "internal_error",
                                      "message": f"The {self.what} failed; see the server log."})
        self.close()

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self._send(message)

    def on_message(self, message: str | bytes) -> None:
        """The stream is one-way; messages from the client are ignored."""

    def on_close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
