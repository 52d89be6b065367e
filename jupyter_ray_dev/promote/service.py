"""Promote to prod: project -> build context -> image -> KubeRay manifests, and the history.

The capability the REST handlers, the magics and the CLI share::

    plan = await service.promote.plan("proj", {"entrypoint": "proj/train.ipynb"})
    async for event in service.promote.build("proj", {...}):   # {"type": "line"|"end"}
        ...
    await service.promote.export_context("proj", {...}, Path("ctx.tar.gz"))

The plan (``plan.py``), the builds (``build.py``) and the runtime_env package
(``package.py``) do the work; this service holds what they share: the configuration,
the thread pool file work runs on, the builders and the history.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from .build import Builds, choose_builder
from .builders import Builder, make_builders
from .config import PromoteConfig
from .context import TarGzWriter
from .history import choose_manifest, history_diff
from .manifests import k8s_name, pin_image
from .options import PromoteOptions
from .package import package_plan, package_root
from .plan import Plan, cluster_inputs, compute_plan
from .store import PromotionRecord, PromotionStore, default_store_path

_CHUNK = 1 << 20  # a context download is read and sent a MiB at a time


@dataclass(frozen=True)
class ContextDownload:
    """An exported context being sent: its record, and its bytes read off the loop."""

    info: dict[str, Any]
    chunks: AsyncIterator[bytes]


class PromoteService:
    def __init__(self, config: PromoteConfig,
                 cluster: Callable[[], Awaitable[dict[str, Any]]],
                 storage: Callable[[], Any] | None = None,
                 kubernetes: Callable[[], Any] | None = None) -> None:
        self.config = config
        self._storage = storage  # the storage capability: runtime_env path, kaniko contexts
        self._kubernetes = kubernetes  # the Kubernetes capability: RayCluster shape, re-apply
        self.root = Path(config.root_dir).resolve()
        self._cluster = cluster
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ray-dev-promote")
        self.store = PromotionStore(config.store_path or default_store_path())
        self.builders: dict[str, Builder] = make_builders(config, storage, kubernetes)
        self._builds = Builds(self.store, self._off_loop)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- planning ----------------------------------------------------------------
    async def _plan(self, project: str, options: PromoteOptions,
                    builders: bool = True) -> Plan:
        inputs = await cluster_inputs(self._cluster, self._kubernetes)
        plan: Plan = await self._off_loop(compute_plan, self.config, self.root, project,
                                          options, inputs)
        if builders:  # a context export needs none: it skips the builders' probes
            plan.builders = list(await asyncio.gather(*(b.availability()
                                                        for b in self.builders.values())))
        return plan

    async def plan(self, project: str, body: Any = None) -> dict[str, Any]:
        """What a promotion would build, for review; builds nothing."""
        return (await self._plan(project, PromoteOptions.from_request(body))).to_dict()

    def _record(self, plan: Plan, kind: str, status: str, user: str | None) -> PromotionRecord:
        return PromotionRecord(
            id=f"promo_{secrets.token_hex(6)}", project=plan.project, entrypoint=plan.entrypoint,
            kind=kind, status=status, inputs_hash=plan.inputs_hash, image=plan.image,
            dockerfile=plan.dockerfile, manifests=plan.manifests_yaml,
            requirements=plan.pinned.text(), user=user)

    # --- building ----------------------------------------------------------------
    async def start_build(self, project: str, body: Any = None,
                          user: str | None = None) -> dict[str, Any]:
        """Start building (and pushing) the image; follow it with ``follow(id)``."""
        options = PromoteOptions.from_request(body)
        plan = await self._plan(project, options)
        builder = choose_builder(plan, options, self.config.builder)
        record = self._record(plan, "build", "building", user)
        record.builder = builder
        await self._builds.start(record, plan, self.builders[builder], options.push)
        return record.summary()

    def follow(self, promotion_id: str, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The build log as ``line`` events (numbered from 0), then one ``end`` event."""
        return self._builds.follow(promotion_id, start)

    async def build(self, project: str, body: Any = None,
                    user: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Start a build and follow it to the end (the magic's and the CLI's one call)."""
        started = await self.start_build(project, body, user)
        yield {"type": "started", "promotion": started}
        async for event in self.follow(started["id"]):
            yield event

    # --- the context-only path -------------------------------------------------------
    async def export_context(self, project: str, body: Any, dest: Path,
                             user: str | None = None) -> dict[str, Any]:
        """Write the build context as ``dest`` (.tar.gz) for an external CI, and record it."""
        options = PromoteOptions.from_request(body)
        inputs = await cluster_inputs(self._cluster, self._kubernetes)

        def export() -> tuple[Plan, int]:
            # tar archives the project while the walk, pins and hash are still computed
            with TarGzWriter(dest) as tar:
                plan = compute_plan(self.config, self.root, project, options, inputs,
                                    stream=tar)
                return plan, tar.finish(plan.spec)

        plan, size = await self._off_loop(export)
        record = self._record(plan, "context", "exported", user)
        record.finished = record.created
        await self.store.put(record)
        name = f"{k8s_name(Path(plan.project).name)}-{plan.inputs_hash[:12]}-context.tar.gz"
        return {**record.summary(), "bytes": size, "filename": name}

    @asynccontextmanager
    async def context_download(self, project: str, body: Any,
                               user: str | None = None) -> AsyncIterator[ContextDownload]:
        """``export_context`` into a scratch file that is read in chunks and then removed,
        for a face that sends the archive on (the REST download)."""
        scratch = Path(await self._off_loop(tempfile.mkdtemp, "", "ray-dev-export-"))
        try:
            dest = scratch / "context.tar.gz"
            info = await self.export_context(project, body, dest, user)
            source = await self._off_loop(dest.open, "rb")
            try:
                yield ContextDownload(info, self._chunks(source))
            finally:
                source.close()
        finally:
            await self._off_loop(shutil.rmtree, scratch, True)

    async def _chunks(self, source: Any) -> AsyncIterator[bytes]:
        while chunk := await self._off_loop(source.read, _CHUNK):
            yield chunk

    # --- the runtime_env path (less reproducible) -----------------------------------------
    async def package(self, project: str, body: Any, user: str | None = None
                      ) -> dict[str, Any]:
        """Upload the code zip to a storage root; a RayJob with ``runtimeEnvYAML`` using it.

        ``body`` is a promote request plus ``storage_root``: the name of an s3:// or gs://
        root of ``c.RayDev.storage_roots`` (every node must read it)."""
        body = dict(body or {})
        storage, root = package_root(self._storage, body.pop("storage_root", None))
        options = PromoteOptions.from_request(body)
        if options.variant != "rayjob":
            raise BadRequest("The runtime_env path emits a RayJob only: leave `variant` out "
                             "(the RayService variant needs the image).", field="variant")
        plan = await self._plan(project, options, builders=False)
        packaged = await package_plan(storage, root, plan, self._off_loop)
        record = self._record(plan, "runtime_env", "uploaded", user)
        record.image, record.manifests = plan.base_image, packaged["manifests"]
        record.finished = record.created
        await self.store.put(record)
        return {**record.summary(), **packaged}

    # --- history ---------------------------------------------------------------------
    async def history(self, project: str | None = None) -> list[dict[str, Any]]:
        return [r.summary() for r in await self.store.list(project)]

    async def get(self, promotion_id: str) -> dict[str, Any]:
        """The record, and ``manifests_pinned``: its manifests on the pushed digest (what
        "Download manifests" and re-apply use)."""
        live = self._builds.live.get(promotion_id)
        record = live.record if live else await self.store.get(promotion_id)
        if record is None:
            raise NotFound(f"No promotion {promotion_id!r} in the history.",
                           promotion_id=promotion_id)
        doc = record.to_dict()
        if live:
            doc["log"] = "\n".join(live.lines)
        doc["manifests_pinned"] = await self._off_loop(pin_image, record.manifests,
                                                       record.image, record.digest)
        return doc

    async def diff(self, promotion_id: str, other_id: str) -> dict[str, Any]:
        """What changed from ``other_id`` to ``promotion_id``: a unified diff per artifact
        (Dockerfile, requirements.txt, each manifest by kind/name), empty when equal."""
        new, old = await self.get(promotion_id), await self.get(other_id)
        return await self._off_loop(history_diff, old, new)

    async def reapply(self, promotion_id: str, body: Any) -> dict[str, Any]:
        """Apply one of a recorded promotion's manifests again (its image on the pushed
        digest), through the Kubernetes capability: ``dry_run`` (the default) shows the
        diff against the cluster and changes nothing."""
        from ..k8s.apply import parse_apply_request

        if not isinstance(body, dict):
            raise BadRequest('Send {"kind": "RayJob", "dry_run": true|false}.', field="body")
        kind = body.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise BadRequest("`kind` must be RayJob, RayService or RayCluster.", field="kind")
        _, dry_run, force = parse_apply_request({**body, "manifest": None})
        if self._kubernetes is None:
            raise BadRequest("Kubernetes is not configured on this server.", field="kind")
        record = await self.get(promotion_id)
        if record["status"] in ("building", "failed"):
            raise Conflict(f"Promotion {promotion_id} is {record['status']}: there is no "
                           "image to apply. Re-apply a pushed promotion.",
                           promotion_id=promotion_id)
        manifest = choose_manifest(record["manifests_pinned"], kind)
        result = await self._kubernetes().apply(manifest, dry_run=dry_run, force=force)
        return {**result, "promotion_id": promotion_id}

    async def close(self) -> None:
        await self._builds.close()
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
