"""The Ray cluster the server is attached to: address, auth, status, KubeRay identity.

Nothing here imports ``ray``: the dashboard's REST API is all we need, which
keeps the server extension's start-up cost near zero. The parts load on first use
(PEP 562): the server reads only the address at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import by_module, exports

if TYPE_CHECKING:
    from .address import resolve_dashboard_address
    from .auth import RayAuth, resolve_auth
    from .kuberay import KubeRayIdentity, kuberay_identity
    from .status import build_cluster_summary, fetch_cluster_summary

_LAZY = by_module(
    address="resolve_dashboard_address",
    auth="RayAuth resolve_auth",
    kuberay="KubeRayIdentity kuberay_identity",
    status="build_cluster_summary fetch_cluster_summary",
)

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
