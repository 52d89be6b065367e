"""What the server configures for promotions (from ``c.RayDev.promote_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PromoteConfig:
    root_dir: Path
    registry: str = ""  # e.g. registry.example.com/team: images are <registry>/<project>:<hash>
    tls_verify: bool = True
    buildah_root: str = ""
    buildah_runroot: str = ""
    buildah_storage_driver: str = "auto"  # auto | overlay | vfs
    store_path: Path | None = None
    workdir: str = "/home/ray/app"
    builder: str = "buildah"  # when a request names none
    docker_host: str = ""  # DOCKER_HOST for the docker builder ("" = the environment's)
    kaniko: dict[str, Any] = field(default_factory=dict)  # KanikoConfig's keys
