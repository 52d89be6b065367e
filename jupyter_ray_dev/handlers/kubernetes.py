"""``/kubernetes``: this pod's RayCluster, apply of promoted KubeRay objects, their status,
kaniko builds."""

from __future__ import annotations

import tornado.web

from .base import API_PREFIX, RayDevHandler


class KubernetesHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.service.kubernetes.discover())


class ApplyHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        from ..k8s.apply import ApplyRequest

        self.reply(await self.service.kubernetes.apply_request(self.request_of(ApplyRequest)))


class StatusHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, kind: str, name: str) -> None:
        self.reply(await self.service.kubernetes.status(
            kind, name, namespace=self.get_argument("namespace", None)))


class ScheduledHandler(RayDevHandler):
    """The RayCronJobs promote made, and whether this server may suspend them."""

    @tornado.web.authenticated
    async def get(self) -> None:
        self.finish(await self.service.kubernetes.scheduled(
            project=self.get_argument("project", None),
            namespace=self.get_argument("namespace", None)))


class SuspendHandler(RayDevHandler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        from ..k8s.apply import SuspendRequest

        request = self.request_of(SuspendRequest)
        self.reply(await self.service.kubernetes.suspend(
            name, request.suspend, dry_run=request.dry_run,
            namespace=self.get_argument("namespace", None)))


class BuildHandler(RayDevHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        self.reply(await self.service.kubernetes.build_report(
            name, namespace=self.get_argument("namespace", None)))


ROUTES = [
    (f"{API_PREFIX}/kubernetes", KubernetesHandler),
    (f"{API_PREFIX}/kubernetes/apply", ApplyHandler),
    (rf"{API_PREFIX}/kubernetes/status/(?P<kind>[\w\-]+)/(?P<name>[\w.\-]+)", StatusHandler),
    (rf"{API_PREFIX}/kubernetes/builds/(?P<name>[\w.\-]+)", BuildHandler),
    (f"{API_PREFIX}/kubernetes/scheduled", ScheduledHandler),
    (rf"{API_PREFIX}/kubernetes/raycronjobs/(?P<name>[\w.\-]+)/suspend", SuspendHandler),
]
