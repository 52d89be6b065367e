"""The server extension: configuration (``c.RayDev.*``) and route registration."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Unicode, default

from .errors import RayDevError
from .service import RayDevConfig, RayDevService


class RayDev(ExtensionApp):
    """Interactive Ray development on the head node of a (KubeRay) Ray cluster."""

    name = "jupyter_ray_dev"
    load_other_extensions = True

    ray_address = Unicode(
        help=(
            "Address of the Ray cluster: the dashboard URL (http://host:8265), a Ray Client "
            "address (ray://host:10001) or the GCS address (host:6379) that KubeRay puts in "
            "RAY_ADDRESS. Default: $RAY_ADDRESS, else the local dashboard http://127.0.0.1:8265."
        )
    ).tag(config=True)

    dashboard_url = Unicode(
        "",
        help=(
            "URL of the Ray dashboard as the user's browser reaches it, when it differs from "
            "the address the server uses (an Ingress or a proxied path). Default: the server's."
        ),
    ).tag(config=True)

    request_timeout = Float(
        5.0, help="Seconds to wait for the Ray dashboard before reporting it unreachable."
    ).tag(config=True)

    @default("ray_address")
    def _default_ray_address(self) -> str:
        return os.environ.get("RAY_ADDRESS", "")

    def initialize_settings(self) -> None:
        self.service = RayDevService(
            RayDevConfig(
                ray_address=self.ray_address,
                dashboard_url=self.dashboard_url,
                request_timeout=self.request_timeout,
            )
        )
        try:
            self.log.info("jupyter_ray_dev: Ray dashboard at %s", self.service.dashboard_address)
        except RayDevError as err:
            # keep serving: the panel shows this same message until the config is fixed
            self.log.warning("jupyter_ray_dev: %s", err.message)

    def initialize_handlers(self) -> None:
        from .handlers import ROUTES

        self.handlers.extend(ROUTES)
