"""Promote to prod: project -> build context -> image -> KubeRay manifests, and the history.

The capability the REST handlers, the magics and the CLI share::

    plan = await service.promote.plan("proj", {"entrypoint": "proj/train.ipynb"})
    async for event in service.promote.build("proj", {...}):   # {"type": "line"|"end"}
        ...
    await service.promote.export_context("proj", {...}, Path("ctx.tar.gz"))

The plan (``plan.py``), the builds with the parity check of their images (``build.py``,
``parity.py``) and the runtime_env package (``package.py``) do the work; this service
holds what they share: the configuration, the thread pool file work runs on, the
builders, the history, and where tested versions come from (the jobs capability's
recorded runs, ``source.py``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..leftovers import claimed_tempdir, remove_tempdir
from ..project.root import resolve_in_root, to_api_path
from .build import Builds, choose_builder
from .builder_registry import make_builders
from .builders import Builder
from .codelayer import decide
from .config import PromoteConfig
from .context import TarGzWriter
from .history import choose_manifest, history_diff, schedule_of
from .history_server import HistoryServer, not_configured, resolve
from .manifests import k8s_name, pin_image
from .options import (
    PackageRequest,
    PromoteOptions,
    PromoteRequestLike,
    PushRequest,
    ReapplyRequest,
)
from .package import package_plan, package_root
from .parity import summary as parity_summary
from .plan import ClusterInputs, Plan, cluster_inputs, compute_plan
from .source import LATEST, Runs, Source, choose_source
from .store import PromotionRecord, PromotionStore, default_store_path

_DOWNLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class ContextDownload:
    """A build context on its way to a browser: read ``chunks`` to the end (or close it)."""

    promotion_id: str
    filename: str
    chunks: AsyncIterator[bytes]


class PromoteService:
    def __init__(self, config: PromoteConfig,
                 cluster: Callable[[], Awaitable[dict[str, Any]]],
                 storage: Callable[[], Any] | None = None,
                 kubernetes: Callable[[], Any] | None = None,
                 runs: Callable[[], Runs] | None = None) -> None:
        self.config = config
        self._runs = runs  # the jobs capability's recorded runs: where pins come from
        self._storage = storage  # the storage capability: runtime_env path, kaniko contexts
        self._kubernetes = kubernetes  # the Kubernetes capability: RayCluster shape, re-apply
        self.root = Path(config.root_dir).resolve()
        self._cluster = cluster
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ray-dev-promote")
        self.store = PromotionStore(config.store_path or default_store_path())
        self.builders: dict[str, Builder] = make_builders(config, storage, kubernetes)
        self._builds = Builds(self.store, self._off_loop, config.parity_timeout,
                              config.tls_verify)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- planning ----------------------------------------------------------------
    async def _inputs(self, project: str, options: PromoteOptions
                      ) -> tuple[ClusterInputs, Source]:
        """What a plan needs besides the project's files: the cluster's versions and shape,
        and the tested environment the pins come from."""
        inputs = await cluster_inputs(self._cluster, self._kubernetes, self._off_loop)
        folder = await self._off_loop(resolve_in_root, self.root, project, "project")
        runs = self._runs() if self._runs is not None else None
        source = await choose_source(runs, to_api_path(self.root, folder),
                                     options.source_run or LATEST)
        return inputs, source

    async def _plan(self, project: str, options: PromoteOptions,
                    builders: bool = True) -> Plan:
        inputs, source = await self._inputs(project, options)
        plan: Plan = await self._off_loop(compute_plan, self.config, self.root, project,
                                          options, inputs, source, None,
                                          self.history_server())
        if builders:  # a context export needs none: it skips the builders' probes
            plan.builders = list(await asyncio.gather(*(b.availability()
                                                        for b in self.builders.values())))
            # full build or the code layer on an earlier promotion (reads the registry)
            records = await self.store.list(plan.project)
            plan.build_path = await self._off_loop(decide, plan, records, options.push,
                                                   self.config.tls_verify)
        return plan

    async def plan(self, project: str, request: PromoteRequestLike = None) -> dict[str, Any]:
        """What a promotion would build, for review; builds nothing."""
        return (await self._plan(project, PromoteOptions.coerce(request))).to_dict()

    def history_server(self) -> tuple[HistoryServer | None, dict[str, Any]]:
        """Where KubeRay's History Server keeps the runs' logs, and what the review says."""
        if not self.config.history_server:
            return None, not_configured()
        try:
            found = resolve(self.config.history_server,
                            self._storage() if self._storage else None,
                            self.config.history_server_image)
        except ValueError as err:
            return None, {**not_configured(), "error": str(err)}
        return found, found.review()

    def _record(self, plan: Plan, kind: str, status: str, user: str | None) -> PromotionRecord:
        return PromotionRecord(
            id=f"promo_{secrets.token_hex(6)}", project=plan.project, entrypoint=plan.entrypoint,
            kind=kind, status=status, inputs_hash=plan.inputs_hash, image=plan.image,
            dockerfile=plan.dockerfile, manifests=plan.manifests_yaml,
            requirements=plan.pinned.text(), user=user, source_run=plan.source_run,
            source_run_time=plan.source_run_time, lock=plan.lock(), lock_hash=plan.lock_hash,
            deps_hash=plan.deps_hash)

    # --- building ----------------------------------------------------------------
    async def start_build(self, project: str, request: PromoteRequestLike = None,
                          user: str | None = None) -> dict[str, Any]:
        """Start building (and pushing) the image; follow it with ``follow(id)``."""
        options = PromoteOptions.coerce(request)
        plan = await self._plan(project, options)
        plan.check_logs()
        builder = choose_builder(plan, options, self.config.builder)
        record = self._record(plan, "build", "building", user)
        record.builder = builder
        record.build_path = plan.build_path.to_dict() if plan.build_path else None
        await self._builds.start(record, plan, self.builders[builder] if builder else None,
                                 options.push)
        return record.summary()

    def follow(self, promotion_id: str, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The build log as ``line`` events (numbered from 0), then one ``end`` event."""
        return self._builds.follow(promotion_id, start)

    async def build(self, project: str, request: PromoteRequestLike = None,
                    user: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Start a build and follow it to the end (the magic's and the CLI's one call)."""
        started = await self.start_build(project, request, user)
        yield {"type": "started", "promotion": started}
        async for event in self.follow(started["id"]):
            yield event

    async def start_push(self, promotion_id: str,
                         request: PushRequest | Mapping[str, Any] | None = None,
                         user: str | None = None) -> dict[str, Any]:
        """Push a built image that waits for its push: ``override`` is the user's *Push
        anyway* for an image whose parity check did not pass, recorded in the promotion's
        ``overrides``. Follow it with ``follow(id)``."""
        override = PushRequest.coerce(request).override
        record = await self._builds.start_push(promotion_id, override, self.builders, user)
        return record.summary()

    async def push(self, promotion_id: str,
                   request: PushRequest | Mapping[str, Any] | None = None,
                   user: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Push a blocked or built image and follow it to the end (the CLI's and magic's)."""
        started = await self.start_push(promotion_id, request, user)
        yield {"type": "started", "promotion": started}
        async for event in self.follow(promotion_id):
            yield event

    # --- the context-only path -------------------------------------------------------
    async def export_context(self, project: str, request: PromoteRequestLike, dest: Path,
                             user: str | None = None) -> dict[str, Any]:
        """Write the build context as ``dest`` (.tar.gz) for an external CI, and record it."""
        options = PromoteOptions.coerce(request)
        inputs, source = await self._inputs(project, options)
        history = self.history_server()

        def export() -> tuple[Plan, int]:
            # tar archives the project while the walk, pins and hash are still computed
            with TarGzWriter(dest) as tar:
                plan = compute_plan(self.config, self.root, project, options, inputs,
                                    source, stream=tar, history=history)
                return plan, tar.finish(plan.spec)

        plan, size = await self._off_loop(export)
        record = self._record(plan, "context", "exported", user)
        record.finished = record.created
        await self.store.put(record)
        name = f"{k8s_name(Path(plan.project).name)}-{plan.inputs_hash[:12]}-context.tar.gz"
        return {**record.summary(), "bytes": size, "filename": name}

    async def context_download(self, project: str, request: PromoteRequestLike,
                               user: str | None = None) -> ContextDownload:
        """``export_context`` into a scratch folder, read back in chunks for a download;
        the folder goes once the chunks are read or dropped. Every file step is off the loop."""
        scratch, held = await self._off_loop(claimed_tempdir, "ray-dev-export-")
        archive = scratch / "context.tar.gz"
        try:
            info = await self.export_context(project, request, archive, user=user)
        except BaseException:
            await self._off_loop(remove_tempdir, scratch, held)
            raise

        async def chunks() -> AsyncIterator[bytes]:
            try:
                f = await self._off_loop(archive.open, "rb")
                try:
                    while chunk := await self._off_loop(f.read, _DOWNLOAD_CHUNK):
                        yield chunk
                finally:
                    f.close()
            finally:
                await self._off_loop(remove_tempdir, scratch, held)

        return ContextDownload(info["id"], info["filename"], chunks())

    # --- the runtime_env path (less reproducible) -----------------------------------------
    async def package(self, project: str, request: PackageRequest | Mapping[str, Any] | None,
                      user: str | None = None) -> dict[str, Any]:
        """Upload the code zip to a storage root; a RayJob with ``runtimeEnvYAML`` using it.

        The request is a promote request plus ``storage_root``: the name of an s3:// or gs://
        root of ``c.RayDev.storage_roots`` (every node must read it)."""
        options = PackageRequest.coerce(request)
        storage, root = package_root(self._storage, options.storage_root)
        if options.variant != "rayjob":
            raise BadRequest("The runtime_env path emits a RayJob only: leave `variant` out "
                             "(the RayService variant needs the image).", field="variant")
        plan = await self._plan(project, options, builders=False)
        plan.check_logs()
        packaged = await package_plan(storage, root, plan, self._off_loop)
        record = self._record(plan, "runtime_env", "uploaded", user)
        record.image, record.manifests = plan.base_image, packaged["manifests"]
        record.finished = record.created
        await self.store.put(record)
        return {**record.summary(), **packaged}

    # --- history ---------------------------------------------------------------------
    async def history(self, project: str | None = None) -> list[dict[str, Any]]:
        return [{**r.summary(), "schedule": schedule_of(r.manifests)}
                for r in await self.store.list(project)]

    async def get(self, promotion_id: str) -> dict[str, Any]:
        """The record, ``manifests_pinned``: its manifests on the pushed digest (what
        "Download manifests" and re-apply use), and ``parity_report``: the whole parity
        check of its image."""
        live = self._builds.live.get(promotion_id)
        record = live.record if live else await self.store.get(promotion_id)
        if record is None:
            raise NotFound(f"No promotion {promotion_id!r} in the history.",
                           promotion_id=promotion_id)
        doc = {**record.to_dict(), "schedule": schedule_of(record.manifests)}
        # the history row's verdict and diff, and the whole check (versions, every import)
        doc["parity"], doc["parity_report"] = parity_summary(record.parity), record.parity
        if live:
            doc["log"] = "\n".join(live.lines)
        doc["manifests_pinned"] = await self._off_loop(pin_image, record.manifests,
                                                       record.image, record.digest)
        return doc

    async def diff(self, promotion_id: str, other_id: str) -> dict[str, Any]:
        """What changed from ``other_id`` to ``promotion_id``: a unified diff per artifact
        (Dockerfile, requirements.txt, the lock, each manifest by kind/name), empty when
        equal."""
        new, old = await self.get(promotion_id), await self.get(other_id)
        return await self._off_loop(history_diff, old, new)

    async def reapply(self, promotion_id: str,
                      request: ReapplyRequest | Mapping[str, Any] | None) -> dict[str, Any]:
        """Apply one of a recorded promotion's manifests again (its image on the pushed
        digest), through the Kubernetes capability: ``dry_run`` (the default) shows the
        diff against the cluster and changes nothing."""
        options = ReapplyRequest.coerce(request)
        kind, dry_run, force = options.kind, options.dry_run, options.force
        if self._kubernetes is None:
            raise BadRequest("Kubernetes is not configured on this server.", field="kind")
        record = await self.get(promotion_id)
        if record["status"] in ("building", "failed", "interrupted", "blocked", "pushing"):
            # blocked: built here but held back by its parity check, so in no registry
            raise Conflict(f"Promotion {promotion_id} is {record['status']}: there is no "
                           "pushed image to apply. Re-apply a pushed promotion.",
                           promotion_id=promotion_id)
        manifest = choose_manifest(record["manifests_pinned"], kind)
        result = await self._kubernetes().apply(manifest, dry_run=dry_run, force=force)
        return {**result, "promotion_id": promotion_id}

    async def close(self) -> None:
        await self._builds.close()
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
