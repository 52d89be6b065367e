"""KubeRay manifests (``ray.io/v1``) shaped like the cluster the user develops on.

The shape comes from the dev cluster's RayCluster resource when the server runs
in a KubeRay pod that may read it (``kuberay_shape.RayClusterShape``: the groups,
resources, ``rayStartParams`` and scheduling the user set up), and otherwise from
Ray's own view of its nodes (``ClusterShape``: head resources, worker groups of
identical nodes, custom resources), which every cluster has; there each number says
where it came from, and a machine's total is left out of the pods' resources
(``ray_view``). Each manifest is
validated against KubeRay's CRD schemas shipped under ``crds/`` (v1.7.0), with
``jsonschema``.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from .kuberay_shape import GroupShape, RayClusterShape
from .ray_view import BASES, HostFacts, cpu_basis, memory_basis

GIB = 1024**3
JOB_TTL_SECONDS = 600
SERVE_PORT = 8000
_STANDARD = {"CPU", "GPU", "memory", "object_store_memory"}
CRD_FILES = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayService": "ray.io_rayservices.yaml",
    "RayCronJob": "ray.io_raycronjobs.yaml",
}


@dataclass(frozen=True)
class NodeShape:
    cpu: float
    gpu: float
    memory_bytes: int  # Ray's memory plus its object store: what the pod must hold
    custom: tuple[tuple[str, float], ...] = ()
    cpu_basis: str = "pod"  # where the number came from (ray_view.BASES)
    memory_basis: str = "pod"

    @property
    def cpu_used(self) -> bool:
        return BASES[self.cpu_basis][0]

    @property
    def memory_used(self) -> bool:
        return BASES[self.memory_basis][0]


@dataclass
class ClusterShape:
    head: NodeShape
    workers: list[tuple[NodeShape, int]] = field(default_factory=list)  # (shape, count)

    @property
    def has_gpus(self) -> bool:
        return self.head.gpu > 0 or any(s.gpu > 0 for s, _ in self.workers)

    def numbers(self) -> list[dict[str, Any]]:
        """Each group's CPU and memory: the value Ray saw, where it came from, and whether
        the manifests use it (the review flags the ones they do not)."""
        out = []
        groups = [("head", self.head, 1)] + [(_worker_group_name(w, i, len(self.workers)), w, n)
                                             for i, (w, n) in enumerate(self.workers)]
        for name, node, count in groups:
            nodes = "the head node" if name == "head" else f"{count} worker node(s) of {name}"
            for resource, value, basis in (
                    ("cpu", _quantity_cpu(node.cpu), node.cpu_basis),
                    ("memory", f"{max(1, math.ceil(node.memory_bytes / GIB))}Gi",
                     node.memory_basis)):
                used, why = BASES[basis]
                seen = ("CPU" if resource == "cpu"
                        else "memory + object_store_memory")
                out.append({"group": name, "resource": resource, "value": value,
                            "basis": basis, "used": used,
                            "from": f"Ray's resources_total of {nodes} ({seen}): {why}"})
        return out


def _shape(resources: dict[str, float], is_head: bool, facts: HostFacts | None) -> NodeShape:
    custom = tuple(sorted((k, v) for k, v in resources.items() if k not in _STANDARD))
    memory = int(resources.get("memory", 0) + resources.get("object_store_memory", 0))
    cpu = resources.get("CPU", 0.0)
    return NodeShape(cpu=cpu, gpu=resources.get("GPU", 0.0), memory_bytes=memory,
                     custom=custom, cpu_basis=cpu_basis(cpu, is_head, facts),
                     memory_basis=memory_basis(is_head, facts))


def cluster_shape(summary: dict[str, Any], facts: HostFacts | None = None) -> ClusterShape:
    """Head and worker groups from the cluster summary's alive nodes; ``facts`` tell which
    numbers are pod or container limits (used) and which a machine's totals (left out):
    without them, none is known and every CPU and memory number is left out."""
    alive = [n for n in summary.get("nodes") or [] if n.get("state") == "ALIVE"]
    heads = [n for n in alive if n.get("is_head")]
    head = (_shape(heads[0]["resources_total"], True, facts) if heads
            else NodeShape(1.0, 0.0, 2 * GIB, cpu_basis="unknown", memory_basis="unknown"))
    groups: dict[NodeShape, int] = {}
    for node in alive:
        if not node.get("is_head"):
            shape = _shape(node.get("resources_total") or {}, False, facts)
            groups[shape] = groups.get(shape, 0) + 1
    return ClusterShape(head=head, workers=sorted(groups.items(), key=lambda g: (g[0].gpu,
                                                                                  g[0].cpu)))


def k8s_name(text: str, limit: int = 40) -> str:
    """A DNS-1123 label from a project name (KubeRay appends suffixes: keep it short)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return name or "ray-project"


def _quantity_cpu(cpu: float) -> str:
    return str(int(cpu)) if float(cpu).is_integer() else f"{int(math.ceil(cpu * 1000))}m"


def _resources(shape: NodeShape) -> dict[str, Any]:
    """Requests and limits of the numbers known to be a pod's or container's; GPUs always
    (a limit is how a pod gets one). A machine's totals are left out: the review says so."""
    amounts: dict[str, Any] = {}
    if shape.cpu_used:
        amounts["cpu"] = _quantity_cpu(max(shape.cpu, 1.0))
    if shape.memory_used:
        amounts["memory"] = f"{max(1, math.ceil(shape.memory_bytes / GIB))}Gi"
    gpus = {"nvidia.com/gpu": str(int(math.ceil(shape.gpu)))} if shape.gpu else {}
    out: dict[str, Any] = {}
    if amounts:
        out["requests"] = dict(amounts)
    if amounts or gpus:
        out["limits"] = {**amounts, **gpus}
    return out


def _worker_group_name(worker: NodeShape, index: int, groups: int) -> str:
    kind = "gpu" if worker.gpu else "cpu"
    return f"{kind}-workers-{index}" if groups > 1 else f"{kind}-workers"


def _start_params(shape: NodeShape, head: bool) -> dict[str, str]:
    # KubeRay derives num-cpus/num-gpus/memory from the container's limits; what it
    # cannot derive is a fractional CPU count and the custom resources the code asks for
    params: dict[str, str] = {"dashboard-host": "0.0.0.0"} if head else {}
    if shape.cpu and shape.cpu_used and not float(shape.cpu).is_integer():
        params["num-cpus"] = str(shape.cpu)
    if shape.custom:
        params["resources"] = json.dumps(dict(shape.custom), sort_keys=True)
    return params


def _container(name: str, image: str, shape: NodeShape, env: list[dict[str, Any]],
               head: bool, serve: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": image}
    resources = _resources(shape)
    if resources:
        container["resources"] = resources
    if head:
        container["ports"] = [{"containerPort": 6379, "name": "gcs-server"},
                              {"containerPort": 8265, "name": "dashboard"},
                              {"containerPort": 10001, "name": "client"}]
        if serve:  # KubeRay's serve Service targets the head's port named "serve"
            container["ports"].append({"containerPort": SERVE_PORT, "name": "serve"})
    if env:
        container["env"] = env
    return container


def _with_env(carried: list[dict[str, Any]], env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # the project's own (Secret) env wins over a dev variable of the same name
    names = {e["name"] for e in env}
    return [e for e in carried if e.get("name") not in names] + env


def _head_ports(carried: list[dict[str, Any]], serve: bool) -> list[dict[str, Any]]:
    ports = [{"containerPort": 6379, "name": "gcs-server"},
             {"containerPort": 8265, "name": "dashboard"},
             {"containerPort": 10001, "name": "client"}]
    numbers = {p["containerPort"] for p in ports}
    ports += [p for p in carried if p.get("containerPort") not in numbers
              and not (serve and p.get("containerPort") == SERVE_PORT)]
    if serve:  # KubeRay's serve Service targets the head's port named "serve"
        ports.append({"containerPort": SERVE_PORT, "name": "serve"})
    return ports


def _group_from_dev(group: GroupShape, image: str, env: list[dict[str, Any]], head: bool,
                    serve: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "ray-head" if head else "ray-worker", "image": image,
                                 **group.container}
    if head:
        container["ports"] = _head_ports(group.container.get("ports") or [], serve)
    merged = _with_env(group.container.get("env") or [], env)
    if merged:
        container["env"] = merged
    spec: dict[str, Any] = {} if head else {"groupName": group.name}
    for key, value in (("replicas", group.replicas), ("minReplicas", group.min_replicas),
                       ("maxReplicas", group.max_replicas),
                       ("numOfHosts", group.num_of_hosts)):
        if value is not None and not head:
            spec[key] = value
    spec["rayStartParams"] = dict(group.ray_start_params)
    spec["template"] = {"spec": {**group.pod, "containers": [container]}}
    # one copy per group: objects shared with the shape or another group would come out of
    # the YAML dump as anchors and aliases, which reviewers and some tools trip over
    return copy.deepcopy(spec)


def _cluster_spec_from_dev(image: str, ray_version: str, shape: RayClusterShape,
                           env: list[dict[str, Any]], serve: bool = False) -> dict[str, Any]:
    return {
        "rayVersion": ray_version,
        **shape.autoscaling,
        "headGroupSpec": _group_from_dev(shape.head, image, env, head=True, serve=serve),
        "workerGroupSpecs": [_group_from_dev(w, image, env, head=False) for w in shape.workers],
    }


Shape = ClusterShape | RayClusterShape


def _cluster_spec(image: str, ray_version: str, shape: Shape, env: list[dict[str, Any]],
                  serve: bool = False, history: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = _cluster_spec_of_shape(image, ray_version, shape, env, serve)
    if history:  # KubeRay injects the History Server's collector into every pod
        spec["historyServerOptions"] = copy.deepcopy(history)
    return spec


def _cluster_spec_of_shape(image: str, ray_version: str, shape: Shape,
                           env: list[dict[str, Any]], serve: bool) -> dict[str, Any]:
    if isinstance(shape, RayClusterShape):
        return _cluster_spec_from_dev(image, ray_version, shape, env, serve)
    workers = []
    for i, (worker, count) in enumerate(shape.workers):
        workers.append({
            "groupName": _worker_group_name(worker, i, len(shape.workers)),
            "replicas": count, "minReplicas": count, "maxReplicas": count,
            "rayStartParams": _start_params(worker, head=False),
            "template": {"spec": {"containers": [
                _container("ray-worker", image, worker, env, head=False)]}},
        })
    return {
        "rayVersion": ray_version,
        "headGroupSpec": {
            "rayStartParams": _start_params(shape.head, head=True),
            "template": {"spec": {"containers": [
                _container("ray-head", image, shape.head, env, head=True, serve=serve)]}},
        },
        "workerGroupSpecs": workers,
    }


def secret_env(names: list[str], secret_name: str) -> list[dict[str, Any]]:
    return [{"name": n, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": n}}}
            for n in names]


def _metadata(name: str, project: str) -> dict[str, Any]:
    return {"name": name, "labels": {"app.kubernetes.io/name": name,
                                     "app.kubernetes.io/managed-by": "jupyter-ray-dev"},
            "annotations": {"ray-dev.io/project": project}}


def rayjob(*, name: str, project: str, image: str, ray_version: str, entrypoint: str,
           shape: Shape, env: list[dict[str, Any]],
           history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job runs on a cluster of its own, torn down after it finishes. No runtime_env:
    code and dependencies are in the image."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": _metadata(name, project),
        "spec": {
            "entrypoint": entrypoint,
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "rayClusterSpec": _cluster_spec(image, ray_version, shape, env, history=history),
        },
    }


def raycronjob(*, schedule: str, time_zone: str | None, suspend: bool,
               **job: Any) -> dict[str, Any]:
    """The RayJob of :func:`rayjob`, stamped by KubeRay on ``schedule`` (five-field cron,
    in ``time_zone`` when given): each run gets a cluster of its own, torn down after it."""
    stamped = rayjob(**job)
    spec: dict[str, Any] = {"schedule": schedule}
    if time_zone:
        spec["timeZone"] = time_zone
    if suspend:
        spec["suspend"] = True
    spec["jobTemplate"] = stamped["spec"]
    return {"apiVersion": "ray.io/v1", "kind": "RayCronJob", "metadata": stamped["metadata"],
            "spec": spec}


def raycluster(*, name: str, project: str, image: str, ray_version: str,
               shape: Shape, env: list[dict[str, Any]],
               history: dict[str, Any] | None = None) -> dict[str, Any]:
    """A long-lived cluster running the image (submit the entrypoint to it, or serve)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": _metadata(name, project),
        "spec": _cluster_spec(image, ray_version, shape, env, history=history),
    }


def rayservice(*, name: str, project: str, image: str, ray_version: str,
               serve_config: dict[str, Any], shape: Shape, env: list[dict[str, Any]],
               history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's Serve applications on a cluster KubeRay keeps up (and upgrades with a
    new cluster when the image changes). ``serveConfigV2`` is Serve's config file as text:
    that is the type KubeRay's CRD gives it."""
    import yaml

    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": _metadata(name, project),
        "spec": {
            "serveConfigV2": yaml.safe_dump(serve_config, sort_keys=False),
            "rayClusterConfig": _cluster_spec(image, ray_version, shape, env, serve=True,
                                              history=history),
        },
    }


@cache
def _validator(kind: str) -> Any:
    import jsonschema

    return jsonschema.Draft7Validator(_schema(kind))  # compiled once per kind


@cache
def _schema(kind: str) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are ~1 MB each
    text = files("jupyter_ray_dev.promote").joinpath("crds", CRD_FILES[kind]).read_text()
    crd = yaml.load(text, Loader=loader)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def validate_manifest(manifest: dict[str, Any]) -> list[str]:
    """Every violation of the KubeRay CRD schema (empty when valid)."""
    kind = manifest.get("kind")
    if kind not in CRD_FILES or manifest.get("apiVersion") != "ray.io/v1":
        return [f"not a ray.io/v1 KubeRay resource: {manifest.get('apiVersion')}/{kind}"]
    validator = _validator(kind)
    return [f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"
            for err in sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))]


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    import yaml

    # libyaml's emitter when PyYAML has it: the same text, 5x faster
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return "---\n".join(yaml.dump(m, Dumper=dumper, sort_keys=False) for m in manifests)


def pinned_reference(image: str, digest: str | None) -> str:
    """``registry/name@sha256:...`` for ``registry[:port]/name:tag``: exactly what was pushed."""
    if not digest:
        return image
    slash, colon = image.rfind("/"), image.rfind(":")
    return f"{image[:colon] if colon > slash else image}@{digest}"


def cluster_spec_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The RayCluster spec inside any of the KubeRay kinds (a RayCronJob's in its template)."""
    spec = manifest.get("spec") or {}
    spec = spec.get("jobTemplate") or spec
    return spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec


def _containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    cluster = cluster_spec_of(manifest)
    groups = [cluster.get("headGroupSpec") or {}, *(cluster.get("workerGroupSpecs") or [])]
    return [c for g in groups for c in ((g.get("template") or {}).get("spec") or {})
            .get("containers") or []]


def pin_image(manifests_yaml: str, image: str | None, digest: str | None) -> str:
    """The manifests with every container of ``image`` on its pushed digest, so applying
    them again later runs the very image that was built, whatever the tag points at now."""
    import yaml

    if not image or not digest:
        return manifests_yaml
    docs = [d for d in yaml.safe_load_all(manifests_yaml) if d]
    for doc in docs:
        for container in _containers(doc):
            if container.get("image") == image:
                container["image"] = pinned_reference(image, digest)
    return to_yaml(docs)


def manifest_key(manifest: dict[str, Any]) -> str:
    return f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"
