"""``/jobs``: launch files as Ray jobs; list, inspect, stop, delete, re-run; logs, live logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join

from .base import API_PREFIX, RayDevHandler
from .streaming import EventStreamHandler

JOB_ID = r"(?P<job_id>[\w\-]+)"


class JobsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        jobs = await self.service.jobs.list(
            status=self.get_argument("status", None), project=self.get_argument("project", None)
        )
        self.reply({"jobs": jobs})

    @tornado.web.authenticated
    async def post(self) -> None:
        from ..jobs.settings import JobSettings

        request = self.request_of(JobSettings)
        _created(self, await self.service.jobs.submit(request, user=self.user))


def _created(handler: RayDevHandler, job: dict[str, Any]) -> None:
    handler.set_header("Location", url_path_join(handler.base_url, API_PREFIX, "jobs",
                                                 job["submission_id"]))
    handler.reply(job, status=201)


class JobHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        self.reply(await self.service.jobs.get(job_id))

    @tornado.web.authenticated
    async def delete(self, job_id: str) -> None:
        await self.service.jobs.delete(job_id)
        self.set_status(204)
        self.finish()


class JobStopHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        self.reply(await self.service.jobs.stop(job_id))


class JobRerunHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        _created(self, await self.service.jobs.rerun(job_id, user=self.user))


class JobLogsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        text = await self.service.jobs.logs(job_id)
        download = self.get_argument("download", "") in ("1", "true")
        disposition = "attachment" if download else "inline"
        self.set_header("Content-Disposition", f'{disposition}; filename="{job_id}.log"')
        self.finish(text, set_content_type="text/plain; charset=utf-8")


class JobLogSaveHandler(RayDevHandler):
    """Copy a finished job's log into a storage root (default: the artifacts root)."""

    @tornado.web.authenticated
    async def post(self, job_id: str) -> None:
        from ..jobs.settings import SaveLogRequest

        request = self.request_of(SaveLogRequest)
        self.finish(await self.service.save_job_log(job_id, request))


class JobRecordHandler(RayDevHandler):
    """What the run used: interpreter, installed and imported distributions, the
    runtime_env as submitted (secrets masked), the project's file digests."""

    @tornado.web.authenticated
    async def get(self, job_id: str) -> None:
        self.finish(await self.service.jobs.record(job_id))


class ProjectRunsHandler(RayDevHandler):
    """The recorded runs of a project, newest first (promote's choice of source run)."""

    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        self.finish({"runs": await self.service.jobs.run_summaries(project)})


class JobLogStreamHandler(EventStreamHandler):
    """Live log of one job as JSON messages: ``status`` (on change), ``lines`` (every line
    once, in order, the first numbered ``n`` counting from 0), then ``end``; or ``error``
    if it cannot follow. ``?from=<n>`` skips lines numbered below n. Closing the socket
    stops following (Ray's stream is closed with it)."""

    what = "log stream"

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.service.jobs.follow(self.path_kwargs["job_id"], self.start_line, batch=True)


ROUTES = [
    (f"{API_PREFIX}/jobs", JobsHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}", JobHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/stop", JobStopHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/rerun", JobRerunHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/logs", JobLogsHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/logs/stream", JobLogStreamHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/logs/save", JobLogSaveHandler),
    (f"{API_PREFIX}/jobs/{JOB_ID}/record", JobRecordHandler),
    (f"{API_PREFIX}/projects/(?P<project>.*)/runs", ProjectRunsHandler),
]
