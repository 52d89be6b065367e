"""The production shape taken from the dev cluster's own RayCluster resource.

Pure functions over the object the API server returns (a plain dict, as
``CustomObjectsApi`` gives it), in the style of ``k8s/discovery.py``; the promote
service does the fetching. What is carried is what the user's code was tested
against and what production scheduling needs (groups, replicas, the Ray
container's resources, ``rayStartParams``, node placement, shared storage);
what is left out is what only serves development (the dev image and its
command, JupyterLab's port and sidecars, dev tooling env, node-local or config
volumes), and every part left out is named so the review can show it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ..k8s.discovery import ray_container

# Ray's own ports on a KubeRay pod: any other port on the Ray container (Jupyter's 8888,
# a debugger, code-server) exists for development only
_RAY_PORTS = {6379, 8265, 10001, 8000, 8080, 44217, 44227}
# what a production pod needs from the dev pod to land on the same kind of node, with the
# same identity (cloud IAM through IRSA/workload identity is bound to the service account:
# the code was tested reading storage with it) and the same file ownership on shared volumes
_POD_FIELDS = ("nodeSelector", "tolerations", "affinity", "serviceAccountName",
               "priorityClassName", "runtimeClassName", "securityContext",
               "topologySpreadConstraints", "schedulerName")
_CONTAINER_FIELDS = ("resources", "securityContext")
# Shared storage stays: artifacts, datasets and checkpoints live on it at the paths the code
# was tested with (the code itself is in the image now). emptyDir (e.g. /dev/shm for the
# object store) and ephemeral claims are per-pod scratch and just as needed in production.
# hostPath is the dev node's disk; configMap/secret/projected volumes carry dev tooling's
# config and credentials (Jupyter's, the dev image's): production gets its secrets from the
# project's Secret instead.
_KEPT_VOLUMES = ("persistentVolumeClaim", "nfs", "csi", "emptyDir", "ephemeral",
                 "awsElasticBlockStore", "gcePersistentDisk", "azureFile", "cephfs",
                 "glusterfs")
# env of the dev tooling (JupyterLab, this extension, code-server), never of the user's code
_DEV_ENV = re.compile(r"^(JUPYTER|JPY|JUPYTERHUB|RAY_DEV|CODE_SERVER|VSCODE)(_|$)")
_GPU_KEY = re.compile(r"(^|/)gpu$")


@dataclass(frozen=True)
class GroupShape:
    """One group's carried parts: ``pod`` and ``container`` are fragments of the dev
    group's pod template, ready to merge into the promoted one."""

    name: str
    ray_start_params: dict[str, str]
    container: dict[str, Any]
    pod: dict[str, Any]
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    num_of_hosts: int | None = None

    @property
    def has_gpus(self) -> bool:
        res = self.container.get("resources") or {}
        keys = {*(res.get("limits") or {}), *(res.get("requests") or {})}
        num_gpus = str(self.ray_start_params.get("num-gpus", "0"))
        return any(_GPU_KEY.search(k) for k in keys) or num_gpus not in ("0", "0.0", "")


@dataclass
class RayClusterShape:
    source: str  # namespace/name of the dev RayCluster
    head: GroupShape
    workers: list[GroupShape] = field(default_factory=list)
    autoscaling: dict[str, Any] = field(default_factory=dict)  # spec fields, carried as is
    dropped: list[str] = field(default_factory=list)  # what was left out, for the review

    @property
    def has_gpus(self) -> bool:
        return self.head.has_gpus or any(w.has_gpus for w in self.workers)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _kept_volumes(pod: dict[str, Any], where: str, dropped: list[str]) -> dict[str, dict]:
    kept = {}
    for volume in pod.get("volumes") or []:
        name = volume.get("name")
        if not isinstance(name, str):
            continue
        if any(kind in volume for kind in _KEPT_VOLUMES):
            kept[name] = copy.deepcopy(volume)
        else:
            kind = next((k for k in volume if k != "name"), "unknown")
            dropped.append(f"{where}: volume {name} ({kind}, dev only)")
    return kept


def _env(container: dict[str, Any], where: str, dropped: list[str]) -> list[dict[str, Any]]:
    kept = []
    for var in container.get("env") or []:
        name = var.get("name") if isinstance(var, dict) else None
        if not isinstance(name, str):
            continue
        if _DEV_ENV.match(name):
            dropped.append(f"{where}: env {name} (dev tooling)")
        else:
            kept.append(copy.deepcopy(var))
    return kept


def _group(name: str, spec: dict[str, Any], where: str, dropped: list[str]) -> GroupShape:
    pod = (spec.get("template") or {}).get("spec") or {}
    ray = ray_container(pod)
    for other in pod.get("containers") or []:
        if other is not ray:
            dropped.append(f"{where}: sidecar container {other.get('name')}")
    for init in pod.get("initContainers") or []:
        dropped.append(f"{where}: init container {init.get('name')}")
    if ray.get("command") or ray.get("args"):
        dropped.append(f"{where}: the dev container's command (KubeRay generates `ray start`)")
    volumes = _kept_volumes(pod, where, dropped)
    mounts = []
    for mount in ray.get("volumeMounts") or []:
        if mount.get("name") in volumes:
            mounts.append(copy.deepcopy(mount))
    used = {m["name"] for m in mounts}
    for unused in sorted(volumes.keys() - used):  # only a sidecar mounted it: nothing does now
        dropped.append(f"{where}: volume {unused} (only a dev sidecar mounted it)")
    container: dict[str, Any] = {k: copy.deepcopy(ray[k]) for k in _CONTAINER_FIELDS if ray.get(k)}
    ports = []
    for port in ray.get("ports") or []:
        if port.get("containerPort") in _RAY_PORTS:
            ports.append(copy.deepcopy(port))
        else:
            dropped.append(f"{where}: port {port.get('name') or port.get('containerPort')} "
                           f"({port.get('containerPort')}, dev only)")
    if ports:
        container["ports"] = ports
    env = _env(ray, where, dropped)
    if env:
        container["env"] = env
    if ray.get("envFrom"):
        container["envFrom"] = copy.deepcopy(ray["envFrom"])
    if mounts:
        container["volumeMounts"] = mounts
    carried_pod = {k: copy.deepcopy(pod[k]) for k in _POD_FIELDS if pod.get(k)}
    if used:
        carried_pod["volumes"] = [volumes[n] for n in volumes if n in used]
    params = spec.get("rayStartParams") or {}
    return GroupShape(
        name=name,
        ray_start_params={str(k): str(v) for k, v in params.items()},
        container=container, pod=carried_pod,
        replicas=_int_or_none(spec.get("replicas")),
        min_replicas=_int_or_none(spec.get("minReplicas")),
        max_replicas=_int_or_none(spec.get("maxReplicas")),
        num_of_hosts=_int_or_none(spec.get("numOfHosts")),
    )


def shape_from_raycluster(obj: dict[str, Any]) -> RayClusterShape:
    """Pure: the promoted cluster's groups from the dev RayCluster; ValueError (with what is
    wrong) when the object has no head group to take a shape from."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    source = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}".strip("/")
    head_spec = spec.get("headGroupSpec")
    if not isinstance(head_spec, dict) or not ((head_spec.get("template") or {}).get("spec")
                                               or {}).get("containers"):
        raise ValueError(f"RayCluster {source} has no head group with a container")
    dropped: list[str] = []
    head = _group("head", head_spec, "head", dropped)
    workers = []
    for i, group in enumerate(spec.get("workerGroupSpecs") or []):
        if not isinstance(group, dict):
            continue
        name = group.get("groupName") or f"workers-{i}"
        if group.get("suspend"):
            dropped.append(f"{name}: suspend (a suspended dev group runs in production)")
        workers.append(_group(name, group, name, dropped))
    autoscaling = {k: copy.deepcopy(spec[k]) for k in ("enableInTreeAutoscaling",)
                   if k in spec}
    options = spec.get("autoscalerOptions") or {}
    # the autoscaler's policy carries; its image/env/volumes are the dev deployment's
    carried = {k: copy.deepcopy(options[k]) for k in
               ("upscalingMode", "idleTimeoutSeconds", "resources") if k in options}
    if carried and autoscaling.get("enableInTreeAutoscaling"):
        autoscaling["autoscalerOptions"] = carried
    return RayClusterShape(source=source, head=head, workers=workers, autoscaling=autoscaling,
                           dropped=dropped)
