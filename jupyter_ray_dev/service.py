"""The core the three faces (REST handlers, magics, CLI) share.

It holds the server's configuration as plain values and exposes one coroutine
per capability; it knows nothing about Tornado handlers or IPython.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

# the address is all start-up reads; the cluster's other parts load on first use
from .cluster.address import resolve_dashboard_address
from .settings import as_kwargs, from_settings, setting

if TYPE_CHECKING:
    from .cluster.dashboard import DashboardClient
    from .jobs import JobsService
    from .jobs.settings import SaveLogRequest
    from .k8s import KubernetesService
    from .project import ProjectService
    from .promote import PromoteService
    from .runtime_env import RuntimeEnvService
    from .shared_result import SharedResult
    from .storage import StorageService


class RayDevConfig:
    """The server's settings: the Jupyter root, and each ``c.RayDev`` trait's value by its
    name (``RayDev.ray_dev_settings()`` reads them, in the server and outside it). Each capability
    takes the ones its config's fields name (``settings.from_settings``)."""

    def __init__(self, root_dir: str = "", **values: Any) -> None:
        self.root_dir = root_dir  # the Jupyter root: jobs run files from under it ("" = cwd)
        self.values: Mapping[str, Any] = MappingProxyType(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(f"No setting {name!r} was given.") from None

    def __repr__(self) -> str:
        return f"RayDevConfig(root_dir={self.root_dir!r}, **{dict(self.values)!r})"


@dataclass(frozen=True)
class ClusterConfig:
    ray_address: str = setting("ray_address", "")  # any form resolve_dashboard_address accepts
    dashboard_url: str = setting("dashboard_url", "")  # what the browser opens, when it differs
    request_timeout: float = setting("request_timeout", 5.0)


class RayDevService:
    def __init__(self, config: RayDevConfig) -> None:
        self.config = config
        self.cluster_config = from_settings(ClusterConfig, config.values)

    @property
    def dashboard_address(self) -> str:
        return resolve_dashboard_address(self.cluster_config.ray_address)

    def dashboard(self) -> DashboardClient:
        from .cluster import resolve_auth
        from .cluster.dashboard import DashboardClient

        # Auth is resolved per call: a token written after start-up (e.g. by a
        # later `ray start`) is picked up without restarting Jupyter.
        return DashboardClient(self.dashboard_address, resolve_auth(),
                               self.cluster_config.request_timeout)

    @cached_property
    def project(self) -> ProjectService:
        """The Jupyter root: confinement, project folders, their runtime_env files."""
        from .project import ProjectService

        return ProjectService(Path(self.config.root_dir or os.getcwd()))

    @cached_property
    def jobs(self) -> JobsService:
        """Launch, watch, stop and re-run Ray jobs (created on first use)."""
        from .cluster import resolve_auth
        from .jobs import JobsConfig, JobsService

        return JobsService(
            from_settings(JobsConfig, self.config.values, root_dir=self.project.root),
            address=lambda: self.dashboard_address,
            auth=resolve_auth,
        )

    @cached_property
    def runtime_env(self) -> RuntimeEnvService:
        """Read, validate, save a project's runtime_env.yaml; install its packages onto
        shared storage (created on first use)."""
        from .runtime_env import RuntimeEnvConfig, RuntimeEnvService

        return RuntimeEnvService(
            from_settings(RuntimeEnvConfig, self.config.values, root_dir=self.project.root))

    @cached_property
    def storage(self) -> StorageService:
        """Browse, preview, upload to the configured storage roots (created on first use)."""
        from .storage import StorageService
        from .storage.service import StorageConfig

        return StorageService(**as_kwargs(from_settings(StorageConfig, self.config.values)))

    @cached_property
    def kubernetes(self) -> KubernetesService:
        """This pod's RayCluster, apply of promoted KubeRay objects, kaniko builds (first use)."""
        from .cluster import kuberay_identity
        from .k8s import KubernetesService
        from .k8s.client import KubeClient, KubeConfig

        return KubernetesService(
            KubeClient(**as_kwargs(from_settings(KubeConfig, self.config.values))),
            kuberay_identity,
        )

    @cached_property
    def promote(self) -> PromoteService:
        """Promote a project to an image and KubeRay manifests (created on first use)."""
        from .promote import PromoteConfig, PromoteService

        return PromoteService(
            from_settings(PromoteConfig, self.config.values, root_dir=self.project.root),
            cluster=self.cluster,
            storage=lambda: self.storage,
            kubernetes=lambda: self.kubernetes,
            runs=lambda: self.jobs,  # the recorded runs the pins come from
        )

    async def save_job_log(self, submission_id: str,
                           request: SaveLogRequest | dict[str, Any] | None = None
                           ) -> dict[str, Any]:
        """Copy a finished job's log, byte for byte as ``/jobs/<id>/logs`` serves it, into a
        storage root, so it outlives the dev cluster. ``request.dest``: a URI or
        ``root:path`` as the storage core reads them (a folder gets ``<id>.log``); default
        the artifacts root (else the first writable one), ``ray-dev-logs/<project>/<id>.log``."""
        from .errors import Conflict
        from .jobs import TERMINAL
        from .jobs.settings import SaveLogRequest
        from .storage.copy import save_bytes
        from .storage.errors import StorageConflict

        request = SaveLogRequest.coerce(request)
        dest = request.dest
        job = await self.jobs.get(submission_id)  # 404 for an unknown job
        if job["status"] not in TERMINAL:
            raise Conflict(f"Job {submission_id} is {job['status'] or 'unknown to Ray'}: its log "
                           "is saved once it has finished.", submission_id=submission_id)
        if dest is None:
            dest = self._log_folder(job.get("project"))
        text = await self.jobs.logs(submission_id)
        try:
            saved = await save_bytes(self.storage, text.encode("utf-8"), dest,
                                     f"{submission_id}.log", request.overwrite)
        except StorageConflict as err:
            if err.details.get("field") != "overwrite":
                raise
            save = f"--save {request.dest}" if request.dest else "--save"
            raise StorageConflict(
                f"{err.details['dest']} already exists: send \"overwrite\": true to replace it "
                f"(CLI: jupyter ray-dev jobs logs {submission_id} {save} --overwrite), or give "
                "another dest.", **err.details) from err
        return {"submission_id": submission_id, **saved}

    def _log_folder(self, project: str | None) -> str:
        from .errors import BadRequest

        writable = [r for r in self.storage.roots() if not r["read_only"]]
        if not writable:
            raise BadRequest("No writable storage root to save the log to: give `dest`, or add "
                             "one with c.RayDev.storage_roots.", field="dest")
        root = next((r for r in writable if r["name"] == "artifacts"), writable[0])
        name = os.path.basename((project or "").rstrip("/")) or "jobs"
        return f"{root['name']}:ray-dev-logs/{name}/"

    async def close(self) -> None:
        """Release what the capabilities hold (threads, the job store's connection)."""
        if "promote" in self.__dict__:
            await self.promote.close()  # stops builds in progress (their buildah, by PID)
        if "_cluster_summary" in self.__dict__:
            await self._cluster_summary.close()
        if "jobs" in self.__dict__:
            await self.jobs.close()
        if "runtime_env" in self.__dict__:
            await self.runtime_env.close()  # ends installs in progress: no half-made folder
        if "storage" in self.__dict__:
            await self.storage.close()  # aborts uploads in progress: no half-written files
        if "kubernetes" in self.__dict__:
            await self.kubernetes.close()

    @cached_property
    def _cluster_summary(self) -> SharedResult[dict[str, Any]]:
        from .cluster import fetch_cluster_summary, kuberay_identity
        from .shared_result import SharedResult

        async def fetch() -> dict[str, Any]:
            return await fetch_cluster_summary(
                self.dashboard(),
                dashboard_url=self.cluster_config.dashboard_url or None,
                kuberay=kuberay_identity(),
            )

        # every panel and tab polls this: Ray is asked at most once a second, and a
        # caller gets a summary at most 3 s old without waiting on a busy dashboard
        return SharedResult(fetch, reuse=1.0, stale=3.0)

    async def cluster_metrics(self) -> dict[str, Any]:
        """Whether the dashboard's Metrics page has a Grafana to show, or why not."""
        from .cluster.metrics import fetch_metrics_status

        return await fetch_metrics_status(self.dashboard())

    async def cluster(self) -> dict[str, Any]:
        from .cluster import resolve_auth

        auth = resolve_auth()
        return await self._cluster_summary.get(
            (self.dashboard_address, tuple(sorted(auth.headers().items()))))
