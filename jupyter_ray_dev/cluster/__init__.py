"""The Ray cluster the server is attached to: address, auth, status, KubeRay identity.

Nothing here imports ``ray``: the dashboard's REST API is all we need, which
keeps the server extension's start-up cost near zero.
"""

from .address import resolve_dashboard_address
from .auth import RayAuth, resolve_auth
from .kuberay import KubeRayIdentity, kuberay_identity
from .status import build_cluster_summary, fetch_cluster_summary

__all__ = [
    "KubeRayIdentity",
    "RayAuth",
    "build_cluster_summary",
    "fetch_cluster_summary",
    "kuberay_identity",
    "resolve_auth",
    "resolve_dashboard_address",
]
