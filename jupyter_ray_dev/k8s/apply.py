"""Create-or-update of promoted KubeRay objects: check the manifest, show the diff, read status.

Pure functions; the service sends the server-side apply (dry-run first) and
passes the answers here.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import BadRequest
from ..request_model import REQUIRED, RequestModel, option
from .resources import Resource, applicable, check_name

# Fields the server owns: they change on every write and say nothing about the spec
_SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp",
                    "selfLink")


def check_manifest(manifest: object) -> tuple[Resource, str, str | None]:
    """The manifest's resource, name and namespace (None = the default); else a 400 naming
    the field."""
    if not isinstance(manifest, dict):
        raise BadRequest("manifest must be one Kubernetes object (a JSON object).",
                         field="manifest")
    kind = manifest.get("kind")
    if not isinstance(kind, str):
        raise BadRequest("manifest.kind is missing: RayJob, RayService, RayCluster or "
                         "RayCronJob.",
                         field="manifest.kind")
    resource = applicable(kind, manifest.get("apiVersion"))
    meta = manifest.get("metadata")
    if not isinstance(meta, dict):
        raise BadRequest("manifest.metadata with a name is required.", field="manifest.metadata")
    name = check_name(meta.get("name"), "manifest.metadata.name")
    namespace = meta.get("namespace")
    if namespace is not None:
        check_name(namespace, "manifest.metadata.namespace")
    return resource, name, namespace


def comparable(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object without status and server bookkeeping: what a user wrote or will write."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not annotations:
        meta.pop("annotations", None)
    return out


def _yaml_lines(obj: dict[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def unified_diff(current: dict[str, Any] | None, proposed: dict[str, Any] | None,
                 label: str) -> str:
    """A unified YAML diff: what is on the cluster -> what the apply leaves there."""
    return "".join(difflib.unified_diff(
        _yaml_lines(comparable(current)), _yaml_lines(comparable(proposed)),
        fromfile=f"{label} (on the cluster)" if current is not None else "/dev/null",
        tofile=f"{label} (after apply)",
    ))


def summarize_status(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Pure: the fields of a KubeRay object's status a user watches after applying it."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    out: dict[str, Any] = {
        "kind": kind,
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
    }
    if kind == "RayJob":
        out.update(
            job_deployment_status=status.get("jobDeploymentStatus"),
            job_status=status.get("jobStatus"),
            job_id=status.get("jobId"),
            ray_cluster_name=status.get("rayClusterName"),
            dashboard_url=status.get("dashboardURL"),
            message=status.get("message"),
            start_time=status.get("startTime"),
            end_time=status.get("endTime"),
        )
    elif kind == "RayCronJob":
        spec = obj.get("spec") or {}
        out.update(
            schedule=spec.get("schedule"),
            time_zone=spec.get("timeZone"),
            suspend=bool(spec.get("suspend")),
            last_schedule_time=status.get("lastScheduleTime"),
            dashboard_url=None,
        )
    elif kind == "RayService":
        active = status.get("activeServiceStatus") or {}
        out.update(
            service_status=status.get("serviceStatus"),
            conditions=status.get("conditions") or [],
            ray_cluster_name=active.get("rayClusterName"),
            dashboard_url=None,
        )
    else:
        out.update(
            state=status.get("state"),
            ready_worker_replicas=status.get("readyWorkerReplicas"),
            desired_worker_replicas=status.get("desiredWorkerReplicas"),
            dashboard_url=None,
        )
    if not out.get("dashboard_url") and kind != "RayCronJob":  # its clusters come and go
        # KubeRay sets dashboardURL on RayJobs; the others are reached through the head service
        own = meta.get("name") if kind == "RayCluster" else None
        cluster = out.get("ray_cluster_name") or own
        if cluster and meta.get("namespace"):
            out["dashboard_url"] = f"{cluster}-head-svc.{meta['namespace']}.svc.cluster.local:8265"
    return out


def _manifest(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        raise BadRequest('Send {"manifest": {...}, "dry_run": true|false}.', field=name)
    return value  # checked by check_manifest, which names the field inside it


@dataclass(frozen=True)
class ApplyRequest(RequestModel):
    """Apply a promoted KubeRay object. dry_run defaults to true: nothing is written unless
    the caller says so."""

    what = "apply request"

    manifest: dict[str, Any] = option(REQUIRED, help="the Kubernetes object (JSON)", raw=True,
                                      check=_manifest, cli=())
    dry_run: bool = option(True, help="show the diff against the cluster, change nothing")
    force: bool = option(False, help="take over fields another manager owns")


def parse_apply_request(body: object) -> tuple[dict[str, Any], bool, bool]:
    """``{"manifest": {...}, "dry_run": true, "force": false}`` -> (manifest, dry_run, force)."""
    request = ApplyRequest.from_json(body)
    return request.manifest, request.dry_run, request.force


@dataclass(frozen=True)
class SuspendRequest(RequestModel):
    """Suspend (true: no new runs) or resume a RayCronJob; dry_run defaults to true, as for
    apply."""

    what = "suspend request"

    suspend: bool = option(REQUIRED, help="true stops new runs, false resumes them")
    dry_run: bool = option(True, help="show the diff against the cluster, change nothing")

