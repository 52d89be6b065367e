"""``/projects/<path>/promote/*`` and ``/promotions``: review, build and push, export the
build context, the history, the live build log, and the push of an image held back by its
parity check."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join

from ..errors import BadRequest
from .base import API_PREFIX, RayDevHandler
from .streaming import EventStreamHandler

PROJECT = r"(?P<project>.+)"
PROMOTION_ID = r"(?P<promotion_id>[\w\-]+)"
_CHUNK = 1 << 20


def _body(handler: RayDevHandler) -> Any:
    try:
        return json.loads(handler.request.body or b"null")
    except ValueError as err:
        raise BadRequest(f"The request body is not JSON: {err}.", field="body") from err


def _user(handler: JupyterHandler) -> str | None:
    user = handler.current_user
    return getattr(user, "username", None) or (user if isinstance(user, str) else None)


class PromotePlanHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        self.finish(await self.service.promote.plan(project, _body(self)))


class PromoteBuildHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        started = await self.service.promote.start_build(project, _body(self), user=_user(self))
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, "promotions",
                                                  started["id"]))
        self.finish(started)


class PromoteContextHandler(RayDevHandler):
    """The build context as a .tar.gz download (for an external CI)."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="ray-dev-export-"))
        try:
            info = await self.service.promote.export_context(
                project, _body(self), scratch / "context.tar.gz", user=_user(self))
            self.set_header("Content-Type", "application/gzip")
            self.set_header("Content-Disposition", f'attachment; filename="{info["filename"]}"')
            self.set_header("X-Ray-Dev-Promotion", info["id"])
            with (scratch / "context.tar.gz").open("rb") as f:
                while chunk := f.read(_CHUNK):
                    self.write(chunk)
                    await self.flush()
            self.finish()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class PromotePackageHandler(RayDevHandler):
    """The runtime_env path: code zip to a storage root, RayJob with runtimeEnvYAML."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        self.finish(await self.service.promote.package(project, _body(self), user=_user(self)))


class PromotionsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        project = self.get_argument("project", None)
        self.finish({"promotions": await self.service.promote.history(project)})


class PromotionHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, promotion_id: str) -> None:
        self.finish(await self.service.promote.get(promotion_id))


class PromotionDiffHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, promotion_id: str) -> None:
        other = self.get_argument("other", "")
        if not other:
            raise BadRequest("Give `other`: the id of the promotion to compare with.",
                             field="other")
        self.finish(await self.service.promote.diff(promotion_id, other))


class PromotionPushHandler(RayDevHandler):
    """Push a built image waiting for its push; ``{"override": true}`` is *Push anyway* for
    one whose parity check did not pass (recorded). Follow it on the stream route."""

    @tornado.web.authenticated
    async def post(self, promotion_id: str) -> None:
        started = await self.service.promote.start_push(promotion_id, _body(self),
                                                        user=_user(self))
        self.set_status(202)
        self.finish(started)


class PromotionApplyHandler(RayDevHandler):
    """Re-apply a recorded promotion's manifest (dry run first, as Apply to cluster)."""

    @tornado.web.authenticated
    async def post(self, promotion_id: str) -> None:
        self.finish(await self.service.promote.reapply(promotion_id, _body(self)))


class PromotionStreamHandler(EventStreamHandler):
    """A build's log as JSON messages: ``line`` (numbered ``n`` from 0), then ``end`` with
    the promotion (status, image, digest, error); or ``error``. ``?from=<n>`` resumes.
    Closing the socket stops only the stream: the build goes on and its log stays in the
    history."""

    what = "build log stream"

    def events(self) -> AsyncIterator[dict[str, Any]]:
        return self.service.promote.follow(self.path_kwargs["promotion_id"], self.start_line)


ROUTES = [
    (f"{API_PREFIX}/projects/{PROJECT}/promote/plan", PromotePlanHandler),
    (f"{API_PREFIX}/projects/{PROJECT}/promote/build", PromoteBuildHandler),
    (f"{API_PREFIX}/projects/{PROJECT}/promote/context", PromoteContextHandler),
    (f"{API_PREFIX}/projects/{PROJECT}/promote/package", PromotePackageHandler),
    (f"{API_PREFIX}/promotions", PromotionsHandler),
    (f"{API_PREFIX}/promotions/{PROMOTION_ID}", PromotionHandler),
    (f"{API_PREFIX}/promotions/{PROMOTION_ID}/diff", PromotionDiffHandler),
    (f"{API_PREFIX}/promotions/{PROMOTION_ID}/apply", PromotionApplyHandler),
    (f"{API_PREFIX}/promotions/{PROMOTION_ID}/push", PromotionPushHandler),
    (f"{API_PREFIX}/promotions/{PROMOTION_ID}/stream", PromotionStreamHandler),
]
