"""What the server configures for promotions (from ``c.RayDev.promote_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import optional_path, setting


@dataclass(frozen=True)
class PromoteConfig:
    root_dir: Path
    # e.g. registry.example.com/team: images are <registry>/<project>:<hash>
    registry: str = setting("promote_registry", "")
    tls_verify: bool = setting("promote_tls_verify", True)
    buildah_root: str = setting("promote_buildah_root", "")
    buildah_runroot: str = setting("promote_buildah_runroot", "")
    buildah_storage_driver: str = setting("promote_buildah_storage_driver", "auto")
    store_path: Path | None = setting("promote_store_path", None, convert=optional_path)
    workdir: str = "/home/ray/app"
    builder: str = setting("promote_builder", "buildah")  # when a request names none
    # DOCKER_HOST for the docker builder ("" = the environment's)
    docker_host: str = setting("promote_docker_host", "")
    # KanikoConfig's keys
    kaniko: dict[str, Any] = setting("promote_kaniko", convert=dict, default_factory=dict)
    parity_timeout: float = 600.0  # seconds for the check in a built image (imports included)
    # "<s3/gs storage root>/<folder>": historyServerOptions in the specs ("" = none)
    history_server: str = setting("history_server", "")
    # the collector image ("" = KubeRay's collector of the CRDs' release)
    history_server_image: str = setting("history_server_collector_image", "")
