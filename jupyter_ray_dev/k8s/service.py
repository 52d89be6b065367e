"""The Kubernetes capability the REST handlers, the magics, the CLI and promote share.

Discovery of this pod's RayCluster, create-or-update of promoted KubeRay objects
(server-side apply, dry-run first), their status, and kaniko build Jobs. Every
method is a coroutine; the blocking client runs on :class:`KubeClient`'s pool.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ..cluster.kuberay import KubeRayIdentity
from ..errors import BadRequest
from . import apply as ap
from .client import KubeClient, Target, not_configured_message
from .discovery import summarize_pvc, summarize_raycluster
from .kaniko import BUILD_LABEL, ImageCheck, KanikoBuild, build_status, check_job, kaniko_job
from .resources import RAYCLUSTER, RAYCRONJOB, RAYJOB, applicable, check_name

FIELD_MANAGER = "jupyter-ray-dev"
MANAGED = "app.kubernetes.io/managed-by=jupyter-ray-dev"  # what promote labels its objects
CRONJOB_LABEL = "ray.io/cronjob-name"  # KubeRay labels each RayJob a RayCronJob stamps
SCHEDULED_AT = "ray.io/cronjob-scheduled-timestamp"  # ... and notes the run it is for


class KubernetesService:
    def __init__(self, client: KubeClient, identity: Callable[[], KubeRayIdentity | None]) -> None:
        self.client = client
        self.identity = identity

    def _namespace(self, namespace: str | None = None) -> str:
        if namespace:
            return check_name(namespace, "namespace")
        ident = self.identity()
        return (ident.namespace if ident and ident.namespace else None) or \
            self.client.default_namespace()

    # -- discovery ------------------------------------------------------------------

    async def discover(self) -> dict[str, Any]:
        """This pod's RayCluster, or a plain statement of why there is none."""
        ident = self.identity()
        if not self.client.configured():
            return {"in_kubernetes": False, "message": not_configured_message(), "raycluster": None}
        if ident is None:
            return {"in_kubernetes": True, "raycluster": None, "message":
                    "Kubernetes is configured, but this is not a KubeRay pod "
                    "(RAY_CLUSTER_NAME is not set): no RayCluster to read."}
        obj = await self.raycluster(ident)
        ns = obj["metadata"]["namespace"]
        summary = summarize_raycluster(obj)
        for volume in summary["volumes"]:
            if volume["type"] == "pvc" and volume.get("claim_name"):
                volume["pvc"] = await self._pvc(ns, volume["claim_name"])
        return {"in_kubernetes": True, "message": None, "raycluster": summary}

    async def raycluster(self, ident: KubeRayIdentity) -> dict[str, Any]:
        """The RayCluster object ``ident`` names, as the API server returns it."""
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, ident.namespace)
        obj = await self._get(RAYCLUSTER.group, RAYCLUSTER.version, RAYCLUSTER.plural, ns,
                              ident.cluster_name)
        obj.setdefault("metadata", {}).setdefault("namespace", ns)
        return obj

    async def _pvc(self, namespace: str, claim: str) -> dict[str, Any] | None:
        """The claim's class and size, or None when we may not read it (the mount still shows)."""
        from ..errors import KubernetesForbidden, NotFound

        def read(api: Any) -> dict[str, Any]:
            from kubernetes.client import CoreV1Api

            pvc = CoreV1Api(api).read_namespaced_persistent_volume_claim(
                claim, namespace, _request_timeout=self.client.timeout)
            return api.sanitize_for_serialization(pvc)

        try:
            return summarize_pvc(await self.client.call(
                Target("get", "persistentvolumeclaims", "", namespace, claim), read))
        except (KubernetesForbidden, NotFound):
            return None

    async def _get(self, group: str, version: str, plural: str, namespace: str,
                   name: str) -> dict[str, Any]:
        def read(api: Any) -> dict[str, Any]:
            from kubernetes.client import CustomObjectsApi

            return CustomObjectsApi(api).get_namespaced_custom_object(
                group, version, namespace, plural, name, _request_timeout=self.client.timeout)

        return await self.client.call(Target("get", plural, group, namespace, name), read)

    async def _get_or_none(self, *args: Any) -> dict[str, Any] | None:
        from ..errors import NotFound

        try:
            return await self._get(*args)
        except NotFound:
            return None

    # -- apply and status -----------------------------------------------------------

    async def apply_request(self, request: ap.ApplyRequest | Mapping[str, Any] | None
                            ) -> dict[str, Any]:
        """``apply`` of a request body (manifest, dry_run, force), validated first."""
        request = ap.ApplyRequest.coerce(request)
        return await self.apply(request.manifest, dry_run=request.dry_run, force=request.force)

    async def apply(self, manifest: Any, *, dry_run: bool = True,
                    force: bool = False) -> dict[str, Any]:
        """Create or update a RayJob/RayService/RayCluster with server-side apply.

        With ``dry_run`` the API server validates (against KubeRay's CRD schema) and
        computes the result without storing it: ``diff`` is what the real apply
        will change. ``force`` takes over fields another manager owns (409 otherwise).
        """
        resource, name, namespace = ap.check_manifest(manifest)
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": ns}}
        current = await self._get_or_none(resource.group, resource.version, resource.plural,
                                          ns, name)

        def send(api: Any) -> dict[str, Any]:
            from kubernetes.client import CustomObjectsApi

            raw = CustomObjectsApi(api).patch_namespaced_custom_object(
                resource.group, resource.version, ns, resource.plural, name, body,
                dry_run="All" if dry_run else None, field_manager=FIELD_MANAGER, force=force,
                _content_type="application/apply-patch+yaml",  # server-side apply
                # raw: the client decodes only 200, and an apply that creates answers 201
                _preload_content=False, _request_timeout=self.client.timeout)
            return json.loads(raw.data)

        verb = "patch" if current is not None else "create"
        result = await self.client.call(Target(verb, resource.plural, resource.group, ns, name),
                                        send)
        diff = ap.unified_diff(current, result, f"{resource.kind} {ns}/{name}")
        return {
            "dry_run": dry_run,
            "kind": resource.kind,
            "name": name,
            "namespace": ns,
            "exists": current is not None,
            "changed": bool(diff),
            "diff": diff,
            "result": ap.comparable(result),
            "status": None if dry_run else ap.summarize_status(resource.kind, result),
        }

    async def status(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """jobDeploymentStatus, jobStatus, dashboard URL (RayJob); state (RayCluster,
        RayService)."""
        resource = applicable(kind)
        check_name(name)
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)
        obj = await self._get(resource.group, resource.version, resource.plural, ns, name)
        out = ap.summarize_status(resource.kind, obj)
        if resource.kind == "RayCronJob":
            out["jobs"] = await self._stamped_jobs(ns, name)
        return out

    # -- scheduled promotions (RayCronJobs) -----------------------------------------

    async def _list(self, plural: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        def read(api: Any) -> list[dict[str, Any]]:
            from kubernetes.client import CustomObjectsApi

            return CustomObjectsApi(api).list_namespaced_custom_object(
                "ray.io", "v1", namespace, plural, label_selector=selector,
                _request_timeout=self.client.timeout).get("items") or []

        return await self.client.call(Target("list", plural, "ray.io", namespace), read)

    async def _stamped_jobs(self, namespace: str, cronjob: str) -> list[dict[str, Any]]:
        """The RayJobs a RayCronJob created, newest run first, each with its status."""
        items = await self._list(RAYJOB.plural, namespace, f"{CRONJOB_LABEL}={cronjob}")
        jobs = []
        for item in items:
            meta = item.get("metadata") or {}
            jobs.append({**ap.summarize_status("RayJob", item),
                         "scheduled_for": (meta.get("annotations") or {}).get(SCHEDULED_AT),
                         "created": meta.get("creationTimestamp")})
        return sorted(jobs, key=lambda j: j["scheduled_for"] or j["created"] or "",
                      reverse=True)

    async def scheduled(self, project: str | None = None,
                        namespace: str | None = None) -> dict[str, Any]:
        """The RayCronJobs promote made in the namespace (of ``project`` when given), and
        whether this server may suspend and resume them (else the Role rule it lacks)."""
        ns = await self.namespace(namespace)
        items, missing = await asyncio.gather(
            self._list(RAYCRONJOB.plural, ns, MANAGED),
            self.missing_rights([("patch", RAYCRONJOB.plural, RAYCRONJOB.group)], ns))
        found = []
        for item in items:
            annotations = (item.get("metadata") or {}).get("annotations") or {}
            if project is not None and annotations.get("ray-dev.io/project") != project:
                continue
            found.append({**ap.summarize_status("RayCronJob", item),
                          "project": annotations.get("ray-dev.io/project")})
        found.sort(key=lambda c: c["name"] or "")
        return {"namespace": ns, "cronjobs": found, "can_suspend": not missing,
                "missing_rule": missing[0] if missing else None}

    async def suspend(self, name: str, suspend: bool, *, dry_run: bool = True,
                      namespace: str | None = None) -> dict[str, Any]:
        """Suspend (or resume) a RayCronJob: a merge patch of ``spec.suspend`` alone; with
        ``dry_run`` the API server answers what it would store, and nothing changes."""
        check_name(name)
        if not isinstance(suspend, bool):
            raise BadRequest("`suspend` must be true (suspend) or false (resume).",
                             field="suspend")
        ns = await self.namespace(namespace)
        current = await self._get(RAYCRONJOB.group, RAYCRONJOB.version, RAYCRONJOB.plural, ns,
                                   name)

        def send(api: Any) -> dict[str, Any]:
            from kubernetes.client import CustomObjectsApi

            return CustomObjectsApi(api).patch_namespaced_custom_object(
                RAYCRONJOB.group, RAYCRONJOB.version, ns, RAYCRONJOB.plural, name,
                {"spec": {"suspend": suspend}}, dry_run="All" if dry_run else None,
                field_manager=FIELD_MANAGER, _content_type="application/merge-patch+json",
                _request_timeout=self.client.timeout)

        result = await self.client.call(
            Target("patch", RAYCRONJOB.plural, RAYCRONJOB.group, ns, name), send)
        diff = ap.unified_diff(current, result, f"RayCronJob {ns}/{name}")
        return {"dry_run": dry_run, "kind": "RayCronJob", "name": name, "namespace": ns,
                "suspend": suspend, "changed": bool(diff), "diff": diff,
                "status": ap.summarize_status("RayCronJob", result)}

    # -- kaniko builds --------------------------------------------------------------

    async def namespace(self, namespace: str | None = None) -> str:
        """The namespace a call without one goes to: this pod's, else the kubeconfig's."""
        return await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)

    async def missing_rights(self, rules: list[tuple[str, str, str]],
                             namespace: str) -> list[str]:
        """Which of ``(verb, resource, group)`` this server may not do in ``namespace``,
        each as the message naming the Role rule to add (SelfSubjectAccessReview: asks,
        creates nothing)."""
        from .rbac import forbidden_error

        def review(verb: str, resource: str, group: str) -> Callable[[Any], bool]:
            plural, _, sub = resource.partition("/")

            def ask(api: Any) -> bool:
                from kubernetes.client import AuthorizationV1Api

                answer = AuthorizationV1Api(api).create_self_subject_access_review(
                    {"spec": {"resourceAttributes": {
                        "verb": verb, "resource": plural, "subresource": sub or None,
                        "group": group, "namespace": namespace}}},
                    _request_timeout=self.client.timeout)
                return bool(answer.status.allowed)

            return ask

        allowed = await asyncio.gather(*(
            self.client.call(Target("create", "selfsubjectaccessreviews",
                                    "authorization.k8s.io"), review(*rule))
            for rule in rules))
        return [forbidden_error("", verb=verb, resource=resource, group=group,
                                namespace=namespace).message
                for (verb, resource, group), ok in zip(rules, allowed) if not ok]

    async def start_build(self, build: KanikoBuild | ImageCheck,
                          namespace: str | None = None) -> dict[str, Any]:
        """Create the kaniko Job (or the Job checking a pushed image); it deletes itself
        ``ttl_seconds_after_finished`` after it ends. Both are followed as builds."""
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)
        job = check_job(build, ns) if isinstance(build, ImageCheck) else kaniko_job(build, ns)

        def create(api: Any) -> dict[str, Any]:
            from kubernetes.client import BatchV1Api

            made = BatchV1Api(api).create_namespaced_job(ns, job,
                                                         _request_timeout=self.client.timeout)
            return api.sanitize_for_serialization(made)

        created = await self.client.call(Target("create", "jobs", "batch", ns, build.name), create)
        return {"name": build.name, "namespace": ns, "job": created}

    async def build_status(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)
        job, pods = await asyncio.gather(self._job(ns, name), self._build_pods(ns, name))
        return {"name": name, "namespace": ns, **build_status(job, pods)}

    async def _job(self, ns: str, name: str) -> dict[str, Any]:
        def read(api: Any) -> dict[str, Any]:
            from kubernetes.client import BatchV1Api

            job = BatchV1Api(api).read_namespaced_job(name, ns,
                                                      _request_timeout=self.client.timeout)
            return api.sanitize_for_serialization(job)

        return await self.client.call(Target("get", "jobs", "batch", ns, name), read)

    async def _build_pods(self, ns: str, name: str) -> list[dict[str, Any]]:
        def read(api: Any) -> list[dict[str, Any]]:
            from kubernetes.client import CoreV1Api

            pods = CoreV1Api(api).list_namespaced_pod(
                ns, label_selector=f"{BUILD_LABEL}={name}", _request_timeout=self.client.timeout)
            return api.sanitize_for_serialization(pods).get("items") or []

        return await self.client.call(Target("list", "pods", "", ns), read)

    async def build_log(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The build pod's log so far; ``log`` is None while no container has started."""
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)
        pods = await self._build_pods(ns, name)
        if not pods:
            return {"pod": None, "log": None}
        newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "")
        pod = newest["metadata"]["name"]

        def read(api: Any) -> str | None:
            from kubernetes.client import CoreV1Api
            from kubernetes.client.exceptions import ApiException

            try:
                # the pod's one container: kaniko's, or the image check's
                return CoreV1Api(api).read_namespaced_pod_log(
                    pod, ns, _request_timeout=self.client.timeout)
            except ApiException as err:
                # 400 = not scheduled or container not started yet: no log *yet*, not an error
                if err.status == 400:
                    return None
                raise

        log = await self.client.call(Target("get", "pods/log", "", ns, pod), read)
        return {"pod": pod, "log": log}

    async def build_report(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Status and log so far in one answer (what a poller of one build needs)."""
        check_name(name)
        status, log = await asyncio.gather(self.build_status(name, namespace),
                                           self.build_log(name, namespace))
        return {**status, "log": log["log"]}

    async def follow_build(self, name: str, namespace: str | None = None,
                           interval: float = 1.0) -> AsyncIterator[dict[str, Any]]:
        """Events until the build ends: ``{"type": "status", ...}`` on each change and
        ``{"type": "log", "text": ...}`` for new log output (polled: a reconnect loses nothing)."""
        last_status: dict[str, Any] | None = None
        seen = ""
        while True:
            status = await self.build_status(name, namespace)
            log = (await self.build_log(name, namespace))["log"] or ""
            if log.startswith(seen):
                new, seen = log[len(seen):], log
            else:  # a new pod: its log starts over
                new, seen = log, log
            if new:
                yield {"type": "log", "text": new}
            if status != last_status:
                last_status = status
                yield {"type": "status", **status}
            if status["phase"] in ("succeeded", "failed"):
                return
            await asyncio.sleep(interval)

    async def delete_build(self, name: str, namespace: str | None = None) -> None:
        """Delete the Job and its pod now (the TTL would do it later)."""
        ns = await asyncio.get_running_loop().run_in_executor(
            self.client.executor, self._namespace, namespace)

        def delete(api: Any) -> None:
            from kubernetes.client import BatchV1Api

            BatchV1Api(api).delete_namespaced_job(name, ns, propagation_policy="Background",
                                                  _request_timeout=self.client.timeout)

        await self.client.call(Target("delete", "jobs", "batch", ns, name), delete)

    async def close(self) -> None:
        self.client.close()

