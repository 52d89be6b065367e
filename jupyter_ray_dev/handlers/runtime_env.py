"""``/projects/<project>/runtime-env``: read, validate and save a project's runtime_env.yaml;
its working_dir size; install its packages onto shared storage (server-sent events).

Thin: read the request, call ``service.runtime_env`` (jupyter_ray_dev.runtime_env),
write JSON. ``<project>`` is the folder's path relative to the Jupyter root, with
its slashes as they are or encoded (%2F); ``%2F`` alone is the root itself.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from tornado.iostream import StreamClosedError

from ..errors import BadRequest
from .base import API_PREFIX, RayDevHandler

PROJECT = r"(?P<project>.*)"
PREFIX = f"{API_PREFIX}/projects/{PROJECT}"


class RuntimeEnvBase(RayDevHandler):
    @property
    def envs(self) -> Any:
        return self.service.runtime_env

    def body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise BadRequest("The request body must be a JSON object.", field="body") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.", field="body")
        return body

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        if isinstance(body, dict) and isinstance(body.get("etag"), str):
            self.set_header("ETag", body["etag"])
        self.finish(json.dumps(body, allow_nan=False))


class RuntimeEnvHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        self.reply(await self.envs.read(project))

    @tornado.web.authenticated
    async def put(self, project: str) -> None:
        body = self.body()
        if_match = self.request.headers.get("If-Match") or body.get("etag")
        if if_match is not None and not isinstance(if_match, str):
            raise BadRequest("`etag` must be the ETag the file was read with.", field="etag")
        self.reply(await self.envs.write(project, runtime_env=body.get("runtime_env"),
                                         yaml_text=body.get("yaml"), if_match=if_match))


class ValidateHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        body = self.body()
        if "yaml" in body:
            from ..project.runtime_env import InvalidYaml, parse, plain

            try:
                env = plain(parse(body["yaml"])) if isinstance(body["yaml"], str) else None
            except InvalidYaml as err:
                self.reply({"valid": False, "ray_checked": False, "warnings": [],
                            "errors": [{"path": "", "message": err.message, "fix": None,
                                        "line": err.details.get("line"),
                                        "column": err.details.get("column")}]})
                return
            if env is None:
                raise BadRequest("`yaml` must be the file's text.", field="yaml")
        else:
            env = body.get("runtime_env")
        self.reply(await self.envs.validate(project, env))


class WorkingDirSizeHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    async def get(self, project: str) -> None:
        self.reply(await self.envs.working_dir_size(project))


class InstallHandler(RuntimeEnvBase):
    """Server-sent events: ``start``, ``line`` (pip's output), ``progress``, then ``done``
    or ``error``. Closing the connection stops pip and removes what it wrote."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        body = self.body()
        apply = body.get("apply", True)
        if not isinstance(apply, bool):
            raise BadRequest("`apply` must be true or false.", field="apply")
        events = self.envs.install(project, requirements=body.get("requirements"),
                                   root=body.get("root"), apply=apply)
        try:
            first = await events.__anext__()  # bad input fails here: a plain JSON 400
        except StopAsyncIteration:  # pragma: no cover - install always yields
            first = None
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")  # proxies (nginx) must not hold it back
        try:
            if first is not None:
                await self._send(first)
            async for event in events:
                await self._send(event)
        except StreamClosedError:
            pass  # the browser went away: closing the generator stops pip and cleans up
        finally:
            await events.aclose()
        if not self._finished:
            self.finish()

    async def _send(self, event: dict[str, Any]) -> None:
        self.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
        await self.flush()


class RuntimeEnvSchemaHandler(RuntimeEnvBase):
    @tornado.web.authenticated
    def get(self) -> None:
        self.reply(self.envs.schema())


ROUTES = [
    (f"{API_PREFIX}/runtime-env/schema", RuntimeEnvSchemaHandler),
    (f"{PREFIX}/runtime-env", RuntimeEnvHandler),
    (f"{PREFIX}/runtime-env/validate", ValidateHandler),
    (f"{PREFIX}/working-dir-size", WorkingDirSizeHandler),
    (f"{PREFIX}/install", InstallHandler),
]
