"""What this cluster's RayCluster says about it: versions, groups, volumes, identity.

Pure functions over the objects the API server returns (plain dicts, as the
client's ``CustomObjectsApi`` gives them); the service does the fetching.
"""

from __future__ import annotations

from typing import Any

# KubeRay runs Ray in the pod's first container unless one is named for its role
_RAY_CONTAINERS = ("ray-head", "ray-worker")


def ray_container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec.get("containers") or [{}]
    return next((c for c in containers if c.get("name") in _RAY_CONTAINERS), containers[0])


def _resources(container: dict[str, Any]) -> dict[str, Any]:
    res = container.get("resources") or {}
    return {"requests": res.get("requests") or {}, "limits": res.get("limits") or {}}


def _volume_source(volume: dict[str, Any]) -> dict[str, Any]:
    """The kind of volume and the fields that say where its data lives (never secret contents)."""
    if "persistentVolumeClaim" in volume:
        return {"type": "pvc", "claim_name": volume["persistentVolumeClaim"].get("claimName")}
    if "nfs" in volume:
        nfs = volume["nfs"]
        return {"type": "nfs", "server": nfs.get("server"), "path": nfs.get("path")}
    if "csi" in volume:
        return {"type": "csi", "driver": volume["csi"].get("driver")}
    for kind in ("emptyDir", "hostPath", "configMap", "secret", "projected", "ephemeral"):
        if kind in volume:
            return {"type": kind}
    return {"type": "other"}


def _group_volumes(group: str, pod_spec: dict[str, Any], into: dict[str, dict[str, Any]]) -> None:
    sources = {v.get("name"): v for v in pod_spec.get("volumes") or []}
    for container in pod_spec.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            volume = sources.get(mount.get("name"))
            if volume is None:
                continue
            source = _volume_source(volume)
            if source["type"] in ("secret", "projected", "configMap"):
                continue  # credentials and config, not storage
            key = f'{source["type"]}:{source.get("claim_name") or source.get("server") or ""}:' \
                  f'{source.get("path") or mount.get("name")}'
            entry = into.setdefault(key, {"name": volume.get("name"), **source, "mounts": []})
            entry["mounts"].append({
                "group": group,
                "container": container.get("name"),
                "mount_path": mount.get("mountPath"),
                "sub_path": mount.get("subPath") or None,
                "read_only": bool(mount.get("readOnly")),
            })


def summarize_raycluster(obj: dict[str, Any]) -> dict[str, Any]:
    """Pure: the RayCluster as the cluster panel shows it."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    head_spec = spec.get("headGroupSpec") or {}
    head_pod = (head_spec.get("template") or {}).get("spec") or {}
    head_container = ray_container(head_pod)
    volumes: dict[str, dict[str, Any]] = {}
    _group_volumes("head", head_pod, volumes)
    workers = []
    for group in spec.get("workerGroupSpecs") or []:
        pod = (group.get("template") or {}).get("spec") or {}
        container = ray_container(pod)
        _group_volumes(group.get("groupName") or "", pod, volumes)
        workers.append({
            "name": group.get("groupName"),
            "image": container.get("image"),
            "replicas": group.get("replicas"),
            "min_replicas": group.get("minReplicas"),
            "max_replicas": group.get("maxReplicas"),
            "suspended": bool(group.get("suspend")),
            "resources": _resources(container),
            "ray_start_params": group.get("rayStartParams") or {},
            "service_account": pod.get("serviceAccountName"),
        })
    autoscaler = spec.get("autoscalerOptions") or {}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "ray_version": spec.get("rayVersion"),
        "service_account": head_pod.get("serviceAccountName") or "default",
        "head": {
            "image": head_container.get("image"),
            "resources": _resources(head_container),
            "ray_start_params": head_spec.get("rayStartParams") or {},
            "service_type": head_spec.get("serviceType"),
        },
        "worker_groups": workers,
        "autoscaling": {
            "enabled": bool(spec.get("enableInTreeAutoscaling")),
            "upscaling_mode": autoscaler.get("upscalingMode"),
            "idle_timeout_seconds": autoscaler.get("idleTimeoutSeconds"),
        },
        "volumes": list(volumes.values()),
        "status": {
            "state": status.get("state"),
            "ready_worker_replicas": status.get("readyWorkerReplicas"),
            "desired_worker_replicas": status.get("desiredWorkerReplicas"),
            "head_service": (status.get("head") or {}).get("serviceName"),
        },
    }


def summarize_pvc(pvc: dict[str, Any]) -> dict[str, Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    return {
        "storage_class": spec.get("storageClassName"),
        "access_modes": spec.get("accessModes") or [],
        "capacity": (status.get("capacity") or {}).get("storage")
        or ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
        "phase": status.get("phase"),
        "volume_name": spec.get("volumeName"),
    }
