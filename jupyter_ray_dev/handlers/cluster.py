"""``/cluster``: the Ray cluster the server is attached to."""

from __future__ import annotations

import tornado.web

from .base import API_PREFIX, RayDevHandler


class ClusterHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.service.cluster())


class ClusterMetricsHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.service.cluster_metrics())


ROUTES = [(f"{API_PREFIX}/cluster", ClusterHandler),
          (f"{API_PREFIX}/cluster/metrics", ClusterMetricsHandler)]
