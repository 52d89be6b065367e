"""The core the three faces (REST handlers, magics, CLI) share.

It holds the server's configuration as plain values and exposes one coroutine
per capability; it knows nothing about Tornado handlers or IPython.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .cluster import fetch_cluster_summary, kuberay_identity, resolve_auth, resolve_dashboard_address
from .cluster.dashboard import DashboardClient


@dataclass(frozen=True)
class RayDevConfig:
    ray_address: str = ""  # any form resolve_dashboard_address accepts
    dashboard_url: str = ""  # what the browser should open, when it differs
    request_timeout: float = 5.0

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

    async def cluster(self) -> dict[str, Any]:
        return await fetch_cluster_summary(
            self.dashboard(),
            dashboard_url=self.config.dashboard_url or None,
            kuberay=kuberay_identity(),
        )
