"""Cluster summary: versions, nodes and resources, from three dashboard endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

from .auth import RayAuth
from .dashboard import DashboardClient
from .kuberay import KubeRayIdentity

# Ray's internal bookkeeping resources: one per node IP, one for the head, one per
# accelerator type. They are labels, not capacity, so they are not shown.
_HIDDEN_PREFIXES = ("node:", "accelerator_type:")


def _camel(key: str) -> str:
    # The dashboard's cluster_status camel-cases resource names with this rule
    # (ray.dashboard.utils.to_camel_case); we invert it by applying it to the
    # snake-case names the state API gives.
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _visible(resources: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in resources.items() if not k.startswith(_HIDDEN_PREFIXES)}


def _available(total: dict[str, float], usage: dict[str, list[float]] | None) -> dict[str, float] | None:
    if usage is None:
        return None
    available = {}
    for key, amount in total.items():
        used_total = usage.get(_camel(key)) or usage.get(key)
        used = used_total[0] if used_total else 0.0
        available[key] = max(amount - used, 0.0)
    return available


def build_cluster_summary(
    *,
    address: str,
    dashboard_url: str,
    auth: RayAuth,
    version: dict[str, Any],
    metadata: dict[str, Any],
    nodes: list[dict[str, Any]],
    usage_by_node: dict[str, dict[str, list[float]]],
    kuberay: KubeRayIdentity | None,
) -> dict[str, Any]:
    """Pure: shape the dashboard's answers into the ``GET /cluster`` document."""
    out_nodes = []
    totals: dict[str, dict[str, float]] = {}
    for node in nodes:
        total = _visible(node.get("resources_total") or {})
        alive = node.get("state") == "ALIVE"
        available = _available(total, usage_by_node.get(node["node_id"])) if alive else None
        out_nodes.append(
            {
                "node_id": node["node_id"],
                "node_ip": node.get("node_ip"),
                "hostname": node.get("node_name") or node.get("node_ip"),
                "is_head": bool(node.get("is_head_node")),
                "state": node.get("state", "UNKNOWN"),
                "resources_total": total,
                # None until the autoscaler's first report for a new node: unknown, not idle
                "resources_available": available,
            }
        )
        if not alive:
            continue
        for key, amount in total.items():
            bucket = totals.setdefault(key, {"total": 0.0, "available": 0.0})
            bucket["total"] += amount
            # a node with no usage report yet counts as free: it has just joined
            bucket["available"] += amount if available is None else available[key]
    out_nodes.sort(key=lambda n: (not n["is_head"], n["state"] != "ALIVE", n["node_ip"] or ""))
    alive_count = sum(1 for n in out_nodes if n["state"] == "ALIVE")
    return {
        "address": address,
        "dashboard_url": dashboard_url,
        "ray_version": metadata.get("rayVersion") or version.get("ray_version"),
        "python_version": metadata.get("pythonVersion"),
        "session_name": version.get("session_name"),
        "auth_mode": auth.mode,
        "nodes": out_nodes,
        "totals": totals,
        "alive_nodes": alive_count,
        "dead_nodes": len(out_nodes) - alive_count,
        "kuberay": kuberay.to_dict() if kuberay else None,
    }


async def fetch_cluster_summary(
    client: DashboardClient, *, dashboard_url: str | None, kuberay: KubeRayIdentity | None
) -> dict[str, Any]:
    """Ask the dashboard concurrently for versions, nodes and usage, then summarise."""
    version, metadata, nodes, status = await asyncio.gather(
        client.get_json("/api/version"),
        client.get_data("/api/v0/cluster_metadata"),
        client.get_data("/api/v0/nodes?detail=true&limit=10000"),
        client.get_data("/api/cluster_status"),
    )
    load = (status.get("clusterStatus") or {}).get("loadMetricsReport") or {}
    return build_cluster_summary(
        address=client.address,
        dashboard_url=dashboard_url or client.address,
        auth=client.auth,
        version=version if isinstance(version, dict) else {},
        metadata=metadata,
        nodes=(nodes.get("result") or {}).get("result") or [],
        usage_by_node=load.get("usageByNode") or {},
        kuberay=kuberay,
    )
