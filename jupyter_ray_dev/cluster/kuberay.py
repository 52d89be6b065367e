"""Who we are in Kubernetes, from what KubeRay puts in the head pod's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class KubeRayIdentity:
    cluster_name: str
    namespace: str | None
    pod_name: str | None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def kuberay_identity(env: Mapping[str, str] | None = None) -> KubeRayIdentity | None:
    """KubeRay sets ``RAY_CLUSTER_NAME``/``RAY_CLUSTER_NAMESPACE`` on every Ray pod.

    The pod name is Kubernetes' default ``HOSTNAME`` unless the downward API
    exposes it as ``POD_NAME``.
    """
    env = os.environ if env is None else env
    name = env.get("RAY_CLUSTER_NAME")
    if not name:
        return None
    return KubeRayIdentity(
        cluster_name=name,
        namespace=env.get("RAY_CLUSTER_NAMESPACE") or None,
        pod_name=env.get("POD_NAME") or env.get("HOSTNAME") or None,
    )
