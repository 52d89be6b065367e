"""``/jobs``: launch files as Ray jobs; list, inspect, stop, delete, re-run; logs, live logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..errors import BadRequest, RayDevError
from ..service import RayDevService
from .base import API_PREFIX, RayDevHandler

JOB_ID = r"(?P<job_id>[\w\-]+)"


def _user(handler: JupyterHandler) -> str | None:
    user = handler.current_user
    return getattr(user, "username", None) or (user if isinstance(user, str) else None)


class JobsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        jobs = await self.service.jobs.list(
            status=self.get_argument("status", None), project=self.get_argument("project", None)
        )
        self.finish({"jobs": jobs})

    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError as err:
            raise BadRequest(f"The request body is not JSON: {err}.", field="body") from err
        _created(self, await self.service.jobs.submit(body, user=_user(self)))


def _created(handler: RayDevHandler, job: dict[str, Any]) -> None:
    handler.set_status(201)
    handler.set_header("Location", url_path_join(handler.base_url, API_PREFIX, "jobs",
                                                 job["submission_id"]))
    handler.finish(job)


class JobHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        self.finish(await self.service.jobs.get(job_id))

    @tornado.web.authenticated
    async def delete(self, job_id: str) -> None:
        await self.service.jobs.delete(job_id)
        self.set_status(204)
        self.finish()


class JobStopHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        self.finish(await self.service.jobs.stop(job_id))


class JobRerunHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        _created(self, await self.service.jobs.rerun(job_id, user=_user(self)))


class JobLogsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        text = await self.service.jobs.logs(job_id)
        download = self.get_argument("download", "") in ("1", "true")
        disposition = "attachment" if download else "inline"
        self.set_header("Content-Disposition", f'{disposition}; filename="{job_id}.log"')
        self.finish(text, set_content_type="text/plain; charset=utf-8")


class JobLogStreamHandler(ExtensionHandlerMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Live log of one job as JSON messages: ``status`` (on change), ``lines`` (every line
    once, in order, the first numbered ``n`` counting from 0), then ``end``; or ``error``
    if it cannot follow.

    ``?from=<n>`` skips lines numbered below n: a client that reconnects passes the
    number after the last line it has.
    """

    _task: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """JupyterHandler's API headers (CSP etc.) mean nothing on a WebSocket upgrade."""

    @property
    def service(self) -> RayDevService:
        return self.extensionapp.service  # type: ignore[attr-defined]

    @ws_authenticated
    async def get(self, job_id: str) -> None:
        try:
            self.start_line = int(self.get_argument("from", "0"))
            if self.start_line < 0:
                raise ValueError
        except ValueError:
            raise tornado.web.HTTPError(400, "`from` must be a line number (0 or more)") from None
        self.job_id = job_id
        await super().get(job_id)

    def open(self, job_id: str) -> None:  # type: ignore[override]
        super().open(job_id)  # starts the keep-alive pings
        self._task = asyncio.create_task(self._pump())

    async def _send(self, message: dict[str, Any]) -> None:
        # awaiting the write gives back-pressure: a slow browser slows the tail, not the server
        await self.write_message(json.dumps(message))

    async def _pump(self) -> None:
        try:
            async for event in self.service.jobs.follow(self.job_id, self.start_line,
                                                         batch=True):
                await self._send(event)
        except WebSocketClosedError:
            return
        except RayDevError as err:
            self.log.warning("log stream of %s: %s", self.job_id, err.message)
            await self._send_quietly({"type": "error", "code": err.status, **err.to_dict()})
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("log stream of %s failed", self.job_id)
            await self._send_quietly({"type": "error", "code": 500, "reason": "internal_error",
                                      "message": "The log stream failed; see the server log."})
        self.close()

    async def _send_quietly(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(WebSocketClosedError):
            await self._send(message)

    def on_message(self, message: str | bytes) -> None:
        """The stream is one-way; messages from the client are ignored."""

    def on_close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()  # stops following: Ray's stream is closed with it


ROUTES = [
    (f"{API_PREFIX}/jobs", JobsHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}", JobHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/stop", JobStopHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/rerun", JobRerunHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/logs", JobLogsHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/logs/stream", JobLogStreamHandler),
]
