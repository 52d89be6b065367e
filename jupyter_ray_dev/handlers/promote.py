"""``/projects/<path>/promote/*`` and ``/promotions``: review, build and push, export the
build context, the history, the live build log, and the push of an image held back by its
parity check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join

from ..errors import BadRequest
from .base import API_PREFIX, RayDevHandler
from .streaming import EventStreamHandler

PROJECT = r"(?P<project>.+)"
PROMOTION_ID = r"(?P<promotion_id>[\w\-]+)"


class PromotePlanHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..promote.options import PromoteOptions

        self.reply(await self.service.promote.plan(project, self.request_of(PromoteOptions)))


class PromoteBuildHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..promote.options import PromoteOptions

        started = await self.service.promote.start_build(
            project, self.request_of(PromoteOptions), user=self.user)
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, "promotions",
                                                  started["id"]))
        self.reply(started, status=202)


class PromoteContextHandler(RayDevHandler):
    """The build context as a .tar.gz download (for an external CI)."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..promote.options import PromoteOptions

        export = await self.service.promote.context_download(
            project, self.request_of(PromoteOptions), user=self.user)
        self.set_header("Content-Type", "application/gzip")
        self.set_header("Content-Disposition", f'attachment; filename="{export.filename}"')
        self.set_header("X-Ray-Dev-Promotion", export.promotion_id)
        await self.reply_stream(export.chunks)


class PromotePackageHandler(RayDevHandler):
    """The runtime_env path: code zip to a storage root, RayJob with runtimeEnvYAML."""

    @tornado.web.authenticated
    async def post(self, project: str) -> None:
        from ..promote.options import PackageRequest

        self.reply(await self.service.promote.package(project, self.request_of(PackageRequest),
                                                      user=self.user))


class PromotionsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        project = self.get_argument("project", None)
        self.reply({"promotions": await self.service.promote.history(project)})


class PromotionHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, promotion_id: str) -> None:
        self.reply(await self.service.promote.get(promotion_id))


class PromotionDiffHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, promotion_id: str) -> None:
        other = self.get_argument("other", "")
        if not other:
            raise BadRequest("Give `other`: the id of the promotion to compare with.",
                             field="other")
        self.reply(await self.service.promote.diff(promotion_id, other))


class PromotionPushHandler(RayDevHandler):
    """Push a built image waiting for its push; ``{"override": true}`` is *Push anyway* for
    one whose parity check did not pass (recorded). Follow it on the stream route."""

    @tornado.web.authenticated
    async def post(self, promotion_id: str) -> None:
        from ..promote.options import PushRequest

        started = await self.service.promote.start_push(
            promotion_id, self.request_of(PushRequest), user=self.user)
        self.reply(started, status=202)


class PromotionApplyHandler(RayDevHandler):
    """Re-apply a recorded promotion's manifest (dry run first, as Apply to cluster)."""

    @tornado.web.authenticated
    async def post(self, promotion_id: str) -> None:
        from ..promote.options import ReapplyRequest

        self.reply(await self.service.promote.reapply(promotion_id,
                                                      self.request_of(ReapplyRequest)))


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
