"""In-cluster image builds: the kaniko Job, and what its Job and pod status mean.

Pure functions. The build context is a ``.tar.gz`` on S3/GCS (``s3://``,
``gs://``), or a ``.tar.gz`` or a folder on a shared PVC (``pvc://<claim>/<path>``); registry
credentials come from a ``kubernetes.io/dockerconfigjson`` Secret, mounted where
kaniko reads them. Nothing secret is ever placed in the Job itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from .resources import check_name

KANIKO_IMAGE = "gcr.io/kaniko-project/executor:v1.23.2"
BUILD_LABEL = "jupyter-ray-dev/build"  # every build Job and pod carries it
CONTEXT_MOUNT = "/workspace"
GCP_KEY_MOUNT = "/var/secrets/google"
# kaniko writes the pushed digest here; Kubernetes returns the file as the container's
# termination message, so the digest is read from the pod status (no log scraping)
DIGEST_FILE = "/dev/termination-log"


@dataclass(frozen=True)
class KanikoBuild:
    name: str  # of the Job
    destination: str  # registry/repo:tag to push
    context: str  # s3://bucket/ctx.tar.gz | gs://bucket/ctx.tar.gz | pvc://claim/path
    dockerfile: str = "Dockerfile"  # relative to the context
    registry_secret: str | None = None  # Secret of type kubernetes.io/dockerconfigjson
    # S3: a Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or none, with IRSA on the
    # service account); GCS: a Secret with key.json (or none, with Workload Identity)
    context_secret: str | None = None
    service_account: str | None = None
    s3_endpoint: str | None = None  # S3-compatible stores (MinIO, Ceph)
    aws_region: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # on the image (--label)
    push: bool = True  # False: build only (--no-push), e.g. to test the Dockerfile
    image: str = KANIKO_IMAGE
    ttl_seconds_after_finished: int = 3600  # Kubernetes deletes the Job and its pod after this
    active_deadline_seconds: int = 3600
    resources: dict[str, Any] = field(default_factory=lambda: {
        "requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}})


def _context(build: KanikoBuild) -> tuple[str, list[dict], list[dict], list[dict]]:
    """kaniko's --context, and the volumes, mounts and env that let it read the context."""
    ctx = build.context
    volumes: list[dict] = []
    mounts: list[dict] = []
    env: list[dict] = []
    if ctx.startswith("pvc://"):
        claim, _, sub = ctx[len("pvc://"):].partition("/")
        check_name(claim, "context")
        volumes.append({"name": "context", "persistentVolumeClaim": {"claimName": claim,
                                                                      "readOnly": True}})
        mounts.append({"name": "context", "mountPath": CONTEXT_MOUNT, "readOnly": True})
        scheme = "tar" if sub.endswith(".tar.gz") else "dir"  # kaniko reads either in place
        return f"{scheme}://{CONTEXT_MOUNT}/{sub.strip('/')}".rstrip("/"), volumes, mounts, env
    if ctx.startswith("s3://"):
        if build.s3_endpoint:
            env += [{"name": "S3_ENDPOINT", "value": build.s3_endpoint},
                    {"name": "S3_FORCE_PATH_STYLE", "value": "true"}]
        if build.aws_region:
            env.append({"name": "AWS_REGION", "value": build.aws_region})
        if build.context_secret:
            env += [{"name": key, "valueFrom": {"secretKeyRef": {
                "name": build.context_secret, "key": key, "optional": key == "AWS_SESSION_TOKEN"}}}
                for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")]
        return ctx, volumes, mounts, env
    if ctx.startswith("gs://"):
        if build.context_secret:
            volumes.append({"name": "gcp-key", "secret": {"secretName": build.context_secret}})
            mounts.append({"name": "gcp-key", "mountPath": GCP_KEY_MOUNT, "readOnly": True})
            env.append({"name": "GOOGLE_APPLICATION_CREDENTIALS",
                        "value": f"{GCP_KEY_MOUNT}/key.json"})
        return ctx, volumes, mounts, env
    raise BadRequest(
        f"context {ctx!r}: kaniko in the cluster reads s3://bucket/ctx.tar.gz, "
        "gs://bucket/ctx.tar.gz or pvc://<claim>/<folder>.",
        field="context",
    )


def kaniko_job(build: KanikoBuild, namespace: str) -> dict[str, Any]:
    """Pure: the batch/v1 Job that builds and pushes ``build.destination``."""
    check_name(build.name, "name")
    if not build.destination or " " in build.destination:
        raise BadRequest("destination must be an image reference, e.g. "
                         "registry.example.com/team/app:1.0", field="destination")
    context, volumes, mounts, env = _context(build)
    args = [f"--context={context}", f"--dockerfile={build.dockerfile}",
            f"--destination={build.destination}", f"--digest-file={DIGEST_FILE}"]
    args += [f"--build-arg={k}={v}" for k, v in sorted(build.build_args.items())]
    args += [f"--label={k}={v}" for k, v in sorted(build.labels.items())]
    if not build.push:
        args.append("--no-push")
    if build.registry_secret:
        volumes.append({"name": "registry-credentials", "secret": {
            "secretName": build.registry_secret,
            "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}})
        mounts.append({"name": "registry-credentials", "mountPath": "/kaniko/.docker",
                       "readOnly": True})
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{
            "name": "kaniko",
            "image": build.image,
            "args": args,
            "env": env,
            "volumeMounts": mounts,
            "resources": build.resources,
            "terminationMessagePath": DIGEST_FILE,
            "terminationMessagePolicy": "File",
        }],
        "volumes": volumes,
    }
    if build.service_account:
        pod_spec["serviceAccountName"] = build.service_account
    return _job(build.name, namespace, pod_spec, build.ttl_seconds_after_finished,
                build.active_deadline_seconds)


def _job(name: str, namespace: str, pod_spec: dict[str, Any], ttl: int,
         deadline: int) -> dict[str, Any]:
    """A run-once Job, labelled as a build (the build status and log readers find it)."""
    labels = {BUILD_LABEL: name, "app.kubernetes.io/managed-by": "jupyter-ray-dev"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,  # a failed run fails the same way again: report it, no retry
            "ttlSecondsAfterFinished": ttl,
            "activeDeadlineSeconds": deadline,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


@dataclass(frozen=True)
class ImageCheck:
    """A short Job that runs a command in a pushed image (the parity check of a kaniko
    build, which keeps no image anywhere else)."""

    name: str
    image: str  # registry/repo@sha256:...: exactly what was pushed
    command: list[str]
    workdir: str
    pull_secret: str | None = None  # the dockerconfigjson Secret the push used
    service_account: str | None = None
    deadline_seconds: int = 600
    ttl_seconds_after_finished: int = 600
    resources: dict[str, Any] = field(default_factory=lambda: {
        "requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}})


def check_job(check: ImageCheck, namespace: str) -> dict[str, Any]:
    """Pure: the batch/v1 Job running ``check.command`` once in ``check.image``, labelled
    like a build so the build's status and log readers follow it."""
    check_name(check.name, "name")
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,  # the check needs no Kubernetes API
        "containers": [{
            "name": "check",
            "image": check.image,
            "command": check.command,
            "workingDir": check.workdir,
            "resources": check.resources,
        }],
    }
    if check.pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": check.pull_secret}]
    if check.service_account:
        pod_spec["serviceAccountName"] = check.service_account
    return _job(check.name, namespace, pod_spec, check.ttl_seconds_after_finished,
                check.deadline_seconds)


# container waiting reasons that will not resolve by waiting: the build cannot start
_STUCK = {"ErrImagePull", "ImagePullBackOff", "CreateContainerConfigError", "InvalidImageName",
          "CreateContainerError"}


def build_status(job: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """Pure: ``{phase, message, digest, pod}`` from the Job and its pods.

    phase is pending | running | succeeded | failed.
    """
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []
                  if c.get("status") == "True"}
    pod = _latest(pods)
    container = _container_status(pod)
    terminated = (container.get("state") or {}).get("terminated") or {}
    waiting = (container.get("state") or {}).get("waiting") or {}
    out = {"phase": "pending", "message": "", "digest": None,
           "pod": (pod.get("metadata") or {}).get("name") if pod else None}
    if terminated.get("exitCode") == 0 and (terminated.get("message") or "").startswith("sha256:"):
        out["digest"] = terminated["message"].strip()
    if "Complete" in conditions or status.get("succeeded"):
        out.update(phase="succeeded", message="Image built and pushed.")
    elif "Failed" in conditions or status.get("failed"):
        cond = conditions.get("Failed") or {}
        why = terminated.get("message") or cond.get("message") or cond.get("reason") or ""
        if terminated.get("exitCode"):
            why = f"kaniko exited with code {terminated['exitCode']}: {why}".rstrip(": ")
        out.update(phase="failed", message=why or "The build Job failed; see the log.")
    elif waiting.get("reason") in _STUCK:
        out.update(phase="failed", message=f"{waiting['reason']}: {waiting.get('message') or ''}"
                   .rstrip(": "))
    elif ((pod or {}).get("status") or {}).get("phase") == "Running" or "running" in (
            container.get("state") or {}):
        # the Job counts a pod as active from its creation: only a running container builds
        out.update(phase="running", message="Building.")
    elif pod is None:
        out["message"] = "Waiting for Kubernetes to create the build pod."
    else:
        out["message"] = _pending_reason(pod)
    return out


def _latest(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not pods:
        return None
    return max(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")


def _container_status(pod: dict[str, Any] | None) -> dict[str, Any]:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == "kaniko"), statuses[0] if statuses else {})


def _pending_reason(pod: dict[str, Any]) -> str:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f"Not scheduled yet: {cond.get('message') or cond.get('reason')}"
    waiting = (_container_status(pod).get("state") or {}).get("waiting") or {}
    if waiting:
        return f"Starting: {waiting.get('reason')}"
    if not (pod.get("spec") or {}).get("nodeName"):
        return "Waiting for a node to run the build pod."
    return "Starting the build pod."
