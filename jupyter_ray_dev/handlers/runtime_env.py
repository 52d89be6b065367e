"""``/projects/<project>/runtime-env``: read, validate and save a project's runtime_env.yaml;
its working_dir size; install its packages onto shared storage (server-sent events).

``<project>`` is the folder's path relative to the Jupyter root, with its slashes as
they are or encoded (%2F); ``%2F`` alone is the root itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web

from .base import API_PREFIX, RayDevHandler
from .streaming import send_event_stream

if TYPE_CHECKING:
    from ..runtime_env import RuntimeEnvService

PROJECT = r"(?P<project>.*)"
PREFIX = f"{API_PREFIX}/projects/{PROJECT}"


class RuntimeEnvBase(RayDevHandler):
    @property
    def envs(self) -> RuntimeEnvService:
        return self.service.runtime_env

    def reply_file(self, doc: dict[str, Any]) -> None:
        """A runtime_env.yaml as read or saved: its ETag is the next write's If-Match."""
        if isinstance(doc.get("etag"), str):
            self.set_header("ETag", doc["etag"])
        self.reply(doc)


class RuntimeEnvHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        self.reply_file(await self.envs.read(project))

    @tornado.web.authenticated
    async def put(self, project: str) -> None:
        from ..runtime_env.requests import RuntimeEnvWrite

        request = self.request_of(RuntimeEnvWrite)
        if_match = self.request.headers.get("If-Match") or request.etag
        self.reply_file(await self.envs.write(project, runtime_env=request.runtime_env,
                                              yaml_text=request.yaml, if_match=if_match))


class ValidateHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..runtime_env.requests import ValidateRequest

        self.reply(await self.envs.validate_request(project, self.request_of(ValidateRequest)))


class PackagesHandler(RuntimeEnvBase):
    """Add packages to the project's runtime_env (the review's *Add to runtime_env.yaml*)."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..runtime_env.requests import PackagesRequest

        request = self.request_of(PackagesRequest)
        if_match = self.request.headers.get("If-Match") or request.etag
        self.reply_file(await self.envs.add_packages(project, request.requirements,
                                                     if_match=if_match))


class NotebookInstallsBase(RuntimeEnvBase):
    async def sessions(self) -> dict[str, str]:
        """kernel id -> notebook path of the running sessions."""
        from ..runtime_env.notebook_installs import sessions_by_kernel

        return sessions_by_kernel(await self.session_manager.list_sessions())


class NotebookInstallsHandler(NotebookInstallsBase):
    """What notebooks installed (``%pip install``) that the runtime_env does not declare:
    every project's, or (under ``/projects/<project>``) one project's."""

    @tornado.web.authenticated
    async def get(self, project: str | None = None) -> None:
        self.reply(await self.envs.notebook_installs(project, await self.sessions()))


class DismissInstallsHandler(NotebookInstallsBase):
    @tornado.web.authenticated
    async def post(self) -> None:
        from ..runtime_env.requests import DismissInstallsRequest

        request = self.request_of(DismissInstallsRequest)
        self.reply(await self.envs.dismiss_notebook_installs(request.ids))


class WorkingDirSizeHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        self.reply(await self.envs.working_dir_size(project))


class InstallHandler(RuntimeEnvBase):
    """Server-sent events: ``start``, ``line`` (pip's output), ``progress``, then ``done``
    or ``error``. Closing the connection stops pip and removes what it wrote."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..runtime_env.requests import InstallRequest

        request = self.request_of(InstallRequest)
        await send_event_stream(self, self.envs.install(
            project, requirements=request.requirements, root=request.root,
            apply=request.apply))


class RuntimeEnvSchemaHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply(self.envs.schema())


ROUTES = [
    (f"{API_PREFIX}/runtime-env/schema", RuntimeEnvSchemaHandler),
    (f"{PREFIX}/runtime-env", RuntimeEnvHandler),
    (f"{PREFIX}/runtime-env/validate", ValidateHandler),
    (f"{PREFIX}/runtime-env/packages", PackagesHandler),
    (f"{PREFIX}/notebook-installs", NotebookInstallsHandler),
    (f"{API_PREFIX}/notebook-installs", NotebookInstallsHandler),
    (f"{API_PREFIX}/notebook-installs/dismiss", DismissInstallsHandler),
    (f"{PREFIX}/working-dir-size", WorkingDirSizeHandler),
    (f"{PREFIX}/install", InstallHandler),
]
