"""kaniko: the build runs in the cluster as a Kubernetes Job, for pods where neither
buildah nor a Docker engine can run.

The context ``.tar.gz`` goes to a storage root (``s3://``/``gs://``, or a shared
folder that a PVC mounts in the cluster) through the storage capability; the Job
is ``k8s.kaniko.kaniko_job``'s; its pod's log streams to ``emit`` once it runs and
the pushed digest is the container's termination message. The Job and the uploaded
context are deleted when the build ends (the Job's TTL is the backstop).

Registry credentials are a ``kubernetes.io/dockerconfigjson`` Secret the Job mounts
(``registry_secret``): the server only names it and never reads it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ...errors import RayDevError
from ..manifests import k8s_name
from ..upload import upload_file
from .base import (
    Availability,
    BuildFailed,
    BuildResult,
    CheckUnavailable,
    Emit,
    last_match,
    quietly,
)

# kaniko logs each Dockerfile instruction as it starts it: INFO[0012] RUN pip install ...
_STEP = re.compile(r"^INFO\[\d+\] (FROM|RUN|COPY|ADD|ENV|WORKDIR|USER|LABEL|ARG|ENTRYPOINT|CMD)"
                   r" .*")
# what the build needs from the API server, in the build namespace
RIGHTS = [("create", "jobs", "batch"), ("get", "jobs", "batch"), ("delete", "jobs", "batch"),
          ("list", "pods", ""), ("get", "pods/log", "")]
SETTING = "c.RayDev.promote_kaniko"


@dataclass(frozen=True)
class KanikoConfig:
    context: str = ""  # "<storage root>[/folder]": where build contexts are uploaded
    pvc: str = ""  # the claim that mounts a shared-folder root in the cluster
    namespace: str = ""  # "" = this pod's (or the kubeconfig's)
    registry_secret: str = ""  # kubernetes.io/dockerconfigjson Secret for the push
    context_secret: str = ""  # S3 keys / GCP key.json Secret ("" = IRSA, Workload Identity)
    service_account: str = ""
    image: str = ""  # the kaniko executor image; "" = k8s.kaniko.KANIKO_IMAGE
    s3_endpoint: str = ""  # S3-compatible stores, as the build pod reaches them
    aws_region: str = ""
    schedule_timeout: float = 300.0  # seconds for the build pod to start running
    poll_interval: float = 2.0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> KanikoConfig:
        """Raises ValueError naming the key to fix."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"{SETTING} has an unknown key {unknown[0]!r}; keys: "
                             f"{', '.join(known)}.")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            want = float if key in ("schedule_timeout", "poll_interval") else str
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, want) or (want is float and value <= 0):
                kind = "a number of seconds > 0" if want is float else "a string"
                raise ValueError(f"{SETTING}[{key!r}] must be {kind}.")
            values[key] = value
        return cls(**values)


class KanikoBuilder:
    name = "kaniko"
    context_form = "tar.gz"
    local_image = False  # the image exists only in the registry kaniko pushes to

    def __init__(self, config: Mapping[str, Any], storage: Callable[[], Any] | None,
                 kubernetes: Callable[[], Any] | None) -> None:
        self._storage, self._kubernetes = storage, kubernetes
        self.config_error: str | None = None
        try:
            self.config = KanikoConfig.from_dict(config)
        except ValueError as err:
            self.config, self.config_error = KanikoConfig(), str(err)

    def _target(self) -> tuple[str, str, Any]:
        """(root name, folder, root) of the context location; ValueError says what is wrong."""
        cfg = self.config
        if self.config_error:
            raise ValueError(self.config_error)
        if not cfg.context:
            raise ValueError(f"no context location is configured: set {SETTING} = "
                             "{'context': '<storage root>/<folder>', 'registry_secret': "
                             "'<dockerconfigjson Secret>'}.")
        if self._storage is None:
            raise ValueError("this server has no storage capability for the build context.")
        name, _, folder = cfg.context.partition("/")
        try:
            root = self._storage().root(name)
        except RayDevError as err:
            raise ValueError(f"{SETTING}['context']: {err.message}") from err
        if root.read_only:
            raise ValueError(f"storage root {name!r} is read-only: the build context cannot "
                             "be uploaded there.")
        if root.protocol == "file" and not cfg.pvc:
            raise ValueError(f"storage root {name!r} is a local folder: give {SETTING}['pvc'],"
                             " the PersistentVolumeClaim that mounts it in the cluster.")
        return name, folder.strip("/"), root

    async def availability(self) -> Availability:
        try:
            _, _, root = self._target()
        except ValueError as err:
            return Availability(self.name, False, str(err))
        kube = self._kubernetes() if self._kubernetes else None
        if kube is None or not kube.client.configured():
            from ...k8s.client import not_configured_message

            return Availability(self.name, False, "it runs the build as a Kubernetes Job: "
                                + not_configured_message())
        try:
            ns = await kube.namespace(self.config.namespace or None)
            missing = await kube.missing_rights(RIGHTS, ns)
        except RayDevError as err:
            return Availability(self.name, False, err.message)
        if missing:
            return Availability(self.name, False, " ".join(missing))
        return Availability(self.name, True, f"kaniko Job in namespace {ns!r}, build context "
                            f"via {root.url}")

    def _context_uri(self, root: Any, path: str) -> str:
        if root.protocol == "file":
            return f"pvc://{self.config.pvc}/{path}"
        return root.uri(path)

    async def build(self, context: Path, image: str, build_args: dict[str, str], push: bool,
                    emit: Emit) -> BuildResult:
        try:
            root_name, folder, root = self._target()
        except ValueError as err:
            raise BuildFailed(f"kaniko cannot build: {err}", failed_step="configuration") \
                from err
        from ...k8s.kaniko import KANIKO_IMAGE, KanikoBuild  # the k8s package loads yaml

        cfg = self.config
        kube, storage = self._kubernetes(), self._storage()  # type: ignore[misc]
        repo = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        job = f"{k8s_name('build-' + repo)}-{secrets.token_hex(3)}"
        path = f"{folder}/{job}.tar.gz".lstrip("/")
        await emit(f"Uploading the build context to {root.uri(path)} ...")
        try:
            await upload_file(storage, root_name, path, context)
        except RayDevError as err:
            raise BuildFailed(f"The build context could not be uploaded to {root.url}: "
                              f"{err.message}", failed_step="upload") from err
        try:
            build = KanikoBuild(
                name=job, destination=image, context=self._context_uri(root, path),
                registry_secret=cfg.registry_secret or None,
                context_secret=cfg.context_secret or None,
                service_account=cfg.service_account or None, image=cfg.image or KANIKO_IMAGE,
                s3_endpoint=(cfg.s3_endpoint or None) if root.protocol == "s3" else None,
                aws_region=cfg.aws_region or None, build_args=build_args, push=push)
            try:
                created = await kube.start_build(build, cfg.namespace or None)
            except RayDevError as err:
                raise BuildFailed(f"The kaniko Job could not be created: {err.message}",
                                  failed_step="create job") from err
            ns = created["namespace"]
            await emit(f"Created Job {ns}/{job} ({build.image}); waiting for its pod ...")
            try:
                digest = await self._follow(kube, job, ns, emit)
            finally:
                await quietly(kube.delete_build(job, ns), f"deleting the kaniko Job {job}")
        finally:
            await quietly(storage.delete(root_name, path), f"deleting the build context {path}")
        if push and digest is None:
            raise BuildFailed("kaniko finished but reported no digest (its termination "
                              "message was empty).", failed_step="push")
        return BuildResult(image=image, image_id=digest or "", digest=digest if push else None)

    async def push(self, image: str, emit: Emit) -> str | None:
        raise BuildFailed("kaniko pushes in its build Job and keeps no image to push later: "
                          "build again.", failed_step="push")

    async def run_in_image(self, image: str, argv: list[str], workdir: str, emit: Emit,
                           timeout: float) -> tuple[int, list[str]]:
        """kaniko keeps no image: the pushed one (``image`` is ``repo@sha256:...``) runs the
        command in a short Job of its own, deleted afterwards. CheckUnavailable when no pod
        of it runs within ``schedule_timeout``."""
        from ...k8s.kaniko import ImageCheck

        ahead = ("kaniko builds inside the cluster and pushes in the same Job, so its image "
                 "could not be checked before the push")
        if "@sha256:" not in image:
            raise CheckUnavailable(f"{ahead}, and this build pushed nothing to check.")
        cfg = self.config
        kube = self._kubernetes() if self._kubernetes else None
        if kube is None:
            raise CheckUnavailable(f"{ahead}; Kubernetes is not configured for a check Job.")
        repo = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
        job = f"{k8s_name('check-' + repo)}-{secrets.token_hex(3)}"
        check = ImageCheck(name=job, image=image, command=argv, workdir=workdir,
                           pull_secret=cfg.registry_secret or None,
                           service_account=cfg.service_account or None,
                           deadline_seconds=max(1, int(timeout)))
        try:
            created = await kube.start_build(check, cfg.namespace or None)
        except RayDevError as err:
            raise CheckUnavailable(f"{ahead}; the Job to check it after the push could not "
                                   f"be created: {err.message}") from err
        ns = created["namespace"]
        await emit(f"{ahead}: checking it after the push in Job {ns}/{job} ...")

        def not_started(said: str) -> Exception:
            return CheckUnavailable(
                f"{ahead}, and no pod of the check Job {ns}/{job} ran within "
                f"{cfg.schedule_timeout:.0f} s ({said}): it cannot be checked here (kubectl "
                f"describe job {job} -n {ns} says why).")

        try:
            lines, status = await asyncio.wait_for(
                self._watch(kube, job, ns, emit, not_started),
                cfg.schedule_timeout + timeout)
        except asyncio.TimeoutError:
            raise CheckUnavailable(f"The check Job {ns}/{job} did not finish within "
                                   f"{timeout:.0f} s.") from None
        except RayDevError as err:
            raise CheckUnavailable(f"Following the check Job {ns}/{job} failed: "
                                   f"{err.message}") from err
        finally:
            await quietly(kube.delete_build(job, ns), f"deleting the check Job {job}")
        return (0 if status["phase"] == "succeeded" else 1), lines

    async def _watch(self, kube: Any, job: str, ns: str, emit: Emit,
                     not_started: Callable[[str], Exception]) -> tuple[list[str], dict[str, Any]]:
        """Stream the pod's log until the Job ends: (its lines, the last status). Raises
        ``not_started(what Kubernetes said)`` when no pod runs within ``schedule_timeout``
        (no node fits, no quota, an image pull that hangs)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.schedule_timeout
        events = kube.follow_build(job, ns, interval=self.config.poll_interval)
        lines: list[str] = []
        partial = ""
        status: dict[str, Any] = {"phase": "pending", "message": ""}
        started = False
        try:
            while True:
                wait = None if started else max(0.0, deadline - loop.time())
                try:
                    event = await asyncio.wait_for(events.__anext__(), wait)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise not_started(status["message"] or "no pod") from None
                if event["type"] == "log":
                    *done, partial = (partial + event["text"]).split("\n")
                    for line in done:
                        lines.append(line)
                        await emit(line)
                    continue
                if event["message"] and event["message"] != status["message"]:
                    await emit(f"[{event['phase']}] {event['message']}")
                status = event
                started = started or event["phase"] in ("running", "succeeded")
        finally:
            await events.aclose()
        if partial:
            lines.append(partial)
            await emit(partial)
        return lines, status

    async def _follow(self, kube: Any, job: str, ns: str, emit: Emit) -> str | None:
        """Follow the build Job to its end; the digest."""
        def not_started(said: str) -> Exception:
            return BuildFailed(
                f"No build pod of Job {ns}/{job} started running within "
                f"{self.config.schedule_timeout:.0f} s ({said}). Check that the cluster can "
                f"schedule it (kubectl describe job {job} -n {ns}): nodes with room for its "
                "requests, quota, the kaniko image reachable.", failed_step="schedule")

        try:
            lines, status = await self._watch(kube, job, ns, emit, not_started)
        except RayDevError as err:
            raise BuildFailed(f"Following the kaniko Job {ns}/{job} failed: {err.message}",
                              failed_step="follow") from err
        if status["phase"] != "succeeded":
            step = last_match(lines, _STEP.match)
            raise BuildFailed(f"The kaniko build failed at {step or 'the start'}: "
                              f"{status['message']}", failed_step=step or "start")
        return status.get("digest")
