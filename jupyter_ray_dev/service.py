"""The core the three faces (REST handlers, magics, CLI) share.

It holds the server's configuration as plain values and exposes one coroutine
per capability; it knows nothing about Tornado handlers or IPython.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .cluster import (
    fetch_cluster_summary,
    kuberay_identity,
    resolve_auth,
    resolve_dashboard_address,
)
from .cluster.dashboard import DashboardClient
from .shared_result import SharedResult

if TYPE_CHECKING:
    from .jobs import JobsService
    from .k8s import KubernetesService
    from .project import ProjectService
    from .promote import PromoteService
    from .runtime_env import RuntimeEnvService
    from .storage import StorageService


@dataclass(frozen=True)
class RayDevConfig:
    ray_address: str = ""  # any form resolve_dashboard_address accepts
    dashboard_url: str = ""  # what the browser should open, when it differs
    request_timeout: float = 5.0
    root_dir: str = ""  # the Jupyter root: jobs run files from under it ("" = current dir)
    shared_roots: tuple[str, ...] = ()  # folders every Ray node mounts: jobs use local://
    job_store_path: str = ""  # job history sqlite; "" = <jupyter data dir>/ray_dev/jobs.sqlite
    job_upload_limit_mib: float = 100.0  # Ray's dashboard refuses larger uploads (ray#55877)
    ray_temp_dir: str = ""  # the local head's --temp-dir, for reading driver logs in place
    storage_roots: tuple[Any, ...] = ()  # c.RayDev.storage_roots, validated by the storage core
    storage_timeout: float = 30.0  # seconds per storage call before a 503
    storage_list_process: bool = True  # walks' next pages listed in a helper process
    kubeconfig: str = ""  # "" = in-cluster service account, else $KUBECONFIG / ~/.kube/config
    kubernetes_timeout: float = 10.0  # seconds per Kubernetes API call before a 503
    promote_registry: str = ""  # images go to <registry>/<project>:<inputs hash>
    promote_tls_verify: bool = True  # False only for a plain-HTTP registry on loopback/in-cluster
    promote_buildah_root: str = ""  # buildah --root/--runroot ("" = buildah's defaults)
    promote_buildah_runroot: str = ""
    promote_buildah_storage_driver: str = "auto"  # auto (overlay if it mounts, else vfs)
    promote_store_path: str = ""  # "" = <jupyter data dir>/ray_dev/promotions.sqlite
    promote_builder: str = "buildah"  # buildah | docker | kaniko, when a request names none
    promote_docker_host: str = ""  # DOCKER_HOST for the docker builder ("" = the environment's)
    promote_kaniko: Any = None  # c.RayDev.promote_kaniko: where kaniko contexts go, its Secrets

    @classmethod
    def from_env(cls) -> RayDevConfig:
        return cls(ray_address=os.environ.get("RAY_ADDRESS", ""))


class RayDevService:
    def __init__(self, config: RayDevConfig) -> None:
        self.config = config

    @property
    def dashboard_address(self) -> str:
        return resolve_dashboard_address(self.config.ray_address)

    def dashboard(self) -> DashboardClient:
        # Auth is resolved per call: a token written after start-up (e.g. by a
        # later `ray start`) is picked up without restarting Jupyter.
        return DashboardClient(self.dashboard_address, resolve_auth(), self.config.request_timeout)

    @cached_property
    def project(self) -> ProjectService:
        """The Jupyter root: confinement, project folders, their runtime_env files."""
        from pathlib import Path

        from .project import ProjectService

        return ProjectService(Path(self.config.root_dir or os.getcwd()))

    @cached_property
    def jobs(self) -> JobsService:
        """Launch, watch, stop and re-run Ray jobs (created on first use)."""
        from pathlib import Path

        from .jobs import JobsConfig, JobsService

        cfg = self.config
        return JobsService(
            JobsConfig(
                root_dir=self.project.root,
                shared_roots=tuple(Path(p) for p in cfg.shared_roots),
                store_path=Path(cfg.job_store_path) if cfg.job_store_path else None,
                upload_limit=int(cfg.job_upload_limit_mib * 1024 * 1024),
                ray_temp_dir=Path(cfg.ray_temp_dir) if cfg.ray_temp_dir else None,
            ),
            address=lambda: self.dashboard_address,
            auth=resolve_auth,
        )

    @cached_property
    def runtime_env(self) -> RuntimeEnvService:
        """Read, validate, save a project's runtime_env.yaml; install its packages onto
        shared storage (created on first use)."""
        from pathlib import Path

        from .runtime_env import RuntimeEnvConfig, RuntimeEnvService

        cfg = self.config
        return RuntimeEnvService(RuntimeEnvConfig(
            root_dir=self.project.root,
            shared_roots=tuple(Path(p) for p in cfg.shared_roots),
            upload_limit=int(cfg.job_upload_limit_mib * 1024 * 1024),
        ))

    @cached_property
    def storage(self) -> StorageService:
        """Browse, preview, upload to the configured storage roots (created on first use)."""
        from .storage import StorageService

        return StorageService(self.config.storage_roots, timeout=self.config.storage_timeout,
                              list_process=self.config.storage_list_process)

    @cached_property
    def kubernetes(self) -> KubernetesService:
        """This pod's RayCluster, apply of promoted KubeRay objects, kaniko builds (first use)."""
        from .k8s import KubernetesService
        from .k8s.client import KubeClient

        return KubernetesService(
            KubeClient(self.config.kubeconfig, self.config.kubernetes_timeout), kuberay_identity
        )

    @cached_property
    def promote(self) -> PromoteService:
        """Promote a project to an image and KubeRay manifests (created on first use)."""
        from pathlib import Path

        from .promote import PromoteConfig, PromoteService

        cfg = self.config
        return PromoteService(
            PromoteConfig(
                root_dir=self.project.root,
                registry=cfg.promote_registry,
                tls_verify=cfg.promote_tls_verify,
                buildah_root=cfg.promote_buildah_root,
                buildah_runroot=cfg.promote_buildah_runroot,
                buildah_storage_driver=cfg.promote_buildah_storage_driver,
                store_path=Path(cfg.promote_store_path) if cfg.promote_store_path else None,
                builder=cfg.promote_builder,
                docker_host=cfg.promote_docker_host,
                kaniko=dict(cfg.promote_kaniko or {}),
            ),
            cluster=self.cluster,
            storage=lambda: self.storage,
            kubernetes=lambda: self.kubernetes,
        )

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
        async def fetch() -> dict[str, Any]:
            return await fetch_cluster_summary(
                self.dashboard(),
                dashboard_url=self.config.dashboard_url or None,
                kuberay=kuberay_identity(),
            )

        # every panel and tab polls this: Ray is asked at most once a second, and a
        # caller gets a summary at most 3 s old without waiting on a busy dashboard
        return SharedResult(fetch, reuse=1.0, stale=3.0)

    async def cluster(self) -> dict[str, Any]:
        auth = resolve_auth()
        return await self._cluster_summary.get(
            (self.dashboard_address, tuple(sorted(auth.headers().items()))))
