"""Promote to prod: project -> build context -> image -> KubeRay manifests, and the history.

The capability the REST handlers, the magics and the CLI share::

    plan = await service.promote.plan("proj", {"entrypoint": "proj/train.ipynb"})
    async for event in service.promote.build("proj", {...}):   # {"type": "line"|"end"}
        ...
    await service.promote.export_context("proj", {...}, Path("ctx.tar.gz"))

File work (walking, pinning, nbconvert, writing contexts) runs on a small thread
pool; builders are async subprocesses: nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import importlib.util
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict, NotFound, RayDevError
from ..project.root import to_api_path
from ..project.runtime_env import load_project_runtime_env
from .builders import (
    Availability,
    BuildahBuilder,
    BuildahConfig,
    Builder,
    BuildFailed,
    DockerBuilder,
    DockerConfig,
    KanikoBuilder,
)
from .builders.base import repository
from .collect import Collected, collect, resolve_project
from .context import ContextSpec, TarGzWriter, inputs_hash, write_folder, write_tar_gz
from .dockerfile import (
    build_time_args,
    default_base_image,
    render_dockerfile,
    render_dockerignore,
)
from .envvars import EnvVars, split_env_vars
from .history import choose_manifest, history_diff
from .kuberay_shape import RayClusterShape, shape_from_raycluster
from .manifests import (
    Shape,
    cluster_shape,
    k8s_name,
    pin_image,
    raycluster,
    rayjob,
    rayservice,
    secret_env,
    to_yaml,
    validate_manifest,
)
from .options import (
    PackageRequest,
    PromoteOptions,
    PromoteRequestLike,
    PushRequest,
    ReapplyRequest,
    registry_host,
)
from .package import PACKAGES_DIR, code_zip, runtime_env_for, runtime_env_rayjob
from .parity import (
    PASSED,
    ExpectedEnv,
    RunEnvironment,
    check_image,
    entrypoint_modules,
    expected_from_lock,
    expected_from_run,
    own_modules,
    probe_workdir,
)
from .parity import summary as parity_summary
from .pin import REQUIREMENTS_FILE, WHEELS_DIR, Pinned, pin_requirements
from .serve import ServeApp, find_serve_app
from .store import PromotionRecord, PromotionStore, default_store_path

log = logging.getLogger(__name__)
_DOWNLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class ContextDownload:
    """A build context on its way to a browser: read ``chunks`` to the end (or close it)."""

    promotion_id: str
    filename: str
    chunks: AsyncIterator[bytes]

DEPS_DIR = "/home/ray/.ray-dev-deps"
# runtime_env fields the image replaces, and what becomes of each
_CARRIED = {
    "working_dir": "baked into the image (the code layer)",
    "py_modules": "baked into the image (they must be inside the project folder)",
    "excludes": "applied when collecting the files",
    "pip": "pinned into requirements.txt", "uv": "pinned into requirements.txt",
    "conda": "its pip part pinned into requirements.txt",
    "env_vars": "ENV lines (secrets: a Kubernetes Secret)",
}


class NoBuilder(RayDevError):
    status = 409
    reason = "no_builder"


# the adapter point for the record of what a dev run really ran in: the project's latest
# successful run's environment, or None when no run of it is recorded
RunLookup = Callable[[str], Awaitable[RunEnvironment | None]]


@dataclass(frozen=True)
class PromoteConfig:
    root_dir: Path
    registry: str = ""  # e.g. registry.example.com/team: images are <registry>/<project>:<hash>
    tls_verify: bool = True
    buildah_root: str = ""
    buildah_runroot: str = ""
    buildah_storage_driver: str = "auto"  # auto | overlay | vfs
    store_path: Path | None = None
    workdir: str = "/home/ray/app"
    builder: str = "buildah"  # when a request names none
    docker_host: str = ""  # DOCKER_HOST for the docker builder ("" = the environment's)
    kaniko: dict[str, Any] = field(default_factory=dict)  # KanikoConfig's keys
    parity_timeout: float = 600.0  # seconds for the check in a built image (imports included)


@dataclass
class Plan:
    project: str
    entrypoint: str
    collected: Collected
    pinned: Pinned
    env: EnvVars
    runtime_env: dict[str, Any]
    base_image: str
    image: str | None
    inputs_hash: str
    dockerfile: str
    manifests: list[dict[str, Any]]
    manifest_errors: dict[str, list[str]]
    spec: ContextSpec
    ray_version: str
    git_commit: str
    workdir: str
    variant: str = "rayjob"
    serve: ServeApp | None = None
    serve_error: str | None = None
    builders: list[Availability] = field(default_factory=list)
    shape: Shape | None = None
    shape_source: dict[str, Any] = field(default_factory=dict)
    manifests_yaml: str = ""  # the manifests as one YAML stream, dumped once per plan
    expected: ExpectedEnv | None = None  # what the parity check holds the built image to
    source_run: str = ""
    lock_sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        c = self.collected
        dropped = {k: _CARRIED.get(k, "not carried into the image: set it in the base image "
                                      "or the manifests") for k in self.runtime_env}
        return {
            "project": self.project,
            "entrypoint": {"source": self.entrypoint, "script": c.entrypoint.script,
                           "converted": c.entrypoint.generated is not None,
                           "command": c.entrypoint.command(self.workdir),
                           "warnings": c.entrypoint.warnings},
            "requirements": self.pinned.to_dict(),
            "env_vars": self.env.to_dict(f"{k8s_name(Path(self.project).name)}-secrets"),
            "files": {"count": len(c.files), "bytes": c.total_bytes, "excluded": c.excluded},
            "runtime_env": dropped,
            "base_image": self.base_image,
            "image": self.image,
            "push_possible": self.image is not None and registry_host(self.image) is not None,
            "source_run": self.source_run or None,
            "lock_sha256": self.lock_sha256 or None,
            "parity": {
                "expected": self.expected.to_dict() if self.expected else None,
                # the builders that can check the image before it is pushed
                "before_push": [b.name for b in self.builders if b.available
                                and b.name in _LOCAL_IMAGE],
            },
            "inputs_hash": self.inputs_hash,
            "dockerfile": self.dockerfile,
            "manifests": self.manifests_yaml,
            "manifest_errors": self.manifest_errors,
            "variant": self.variant,
            "serve_app": self.serve.to_dict() if self.serve else None,
            "serve_app_error": self.serve_error,
            "builders": [b.to_dict() for b in self.builders],
            "ray_version": self.ray_version,
            "git_commit": self.git_commit or None,
            "shape_source": self.shape_source,
        }


def _git_commit(folder: Path) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        out = subprocess.run([git, "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


_LOCAL_IMAGE = ("buildah", "docker")  # builders that keep the image here until its push


def _blocked_message(parity: dict[str, Any]) -> str:
    if parity.get("status") == "failed":
        diff = "; ".join(m["message"] for m in parity.get("mismatches") or [])
        why = f"the image differs from {(parity.get('expected') or {}).get('source')}: {diff}"
    else:
        why = f"the parity check could not run: {parity.get('reason')}"
    return (f"Not pushed: {why}. *Push anyway* (override) pushes it and records the override; "
            "or fix the project and build again.")


def _preferred(found: list[Availability], default: str) -> str:
    """The server's default builder, or when it cannot run here the first that can: the
    review dialog offers "Build and push" whenever any builder is available."""
    usable = [b.name for b in found if b.available]
    return default if default in usable or not usable else usable[0]


class _LiveBuild:
    """A build in progress: its log so far, and a wake-up for followers."""

    def __init__(self, record: PromotionRecord) -> None:
        self.record = record
        self.lines: list[str] = []
        self.done = False
        self._changed = asyncio.Event()

    async def emit(self, line: str) -> None:
        self.lines.append(line)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def follow(self, start: int) -> AsyncIterator[dict[str, Any]]:
        n = start
        while True:
            changed = self._changed
            while n < len(self.lines):
                yield {"type": "line", "n": n, "text": self.lines[n]}
                n += 1
            if self.done:
                return
            await changed.wait()


class PromoteService:
    def __init__(self, config: PromoteConfig,
                 cluster: Callable[[], Awaitable[dict[str, Any]]],
                 storage: Callable[[], Any] | None = None,
                 kubernetes: Callable[[], Any] | None = None,
                 runs: RunLookup | None = None) -> None:
        self.config = config
        self._runs = runs
        self._storage = storage  # the storage capability: runtime_env path, kaniko contexts
        self._kubernetes = kubernetes  # the Kubernetes capability: re-apply
        self.root = Path(config.root_dir).resolve()
        self._cluster = cluster
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ray-dev-promote")
        self.store = PromotionStore(config.store_path or default_store_path())
        self.builders: dict[str, Builder] = {
            "buildah": BuildahBuilder(BuildahConfig(root=config.buildah_root,
                                                    runroot=config.buildah_runroot,
                                                    storage_driver=config.buildah_storage_driver,
                                                    tls_verify=config.tls_verify)),
            "docker": DockerBuilder(DockerConfig(host=config.docker_host)),
            "kaniko": KanikoBuilder(config.kaniko, storage, kubernetes),
        }
        self._live: dict[str, _LiveBuild] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- planning ----------------------------------------------------------------
    def _compute(self, project: str, options: PromoteOptions, summary: dict[str, Any],
                 shape: Shape, shape_source: dict[str, Any], run: RunEnvironment | None = None,
                 stream: TarGzWriter | None = None) -> Plan:
        """The plan; with ``stream``, the project's files are archived as they are found."""
        folder, entry = resolve_project(self.root, project, options.entrypoint)
        runtime_env = load_project_runtime_env(folder)
        excludes = runtime_env.get("excludes") or []
        if not isinstance(excludes, list) or not all(isinstance(x, str) for x in excludes):
            raise BadRequest("`excludes` in runtime_env.yaml must be a list of gitignore-style "
                             "patterns.", field="runtime_env.excludes")
        if stream is not None:
            stream.open(folder)
        collected = collect(folder, entry, tuple(excludes),
                            on_file=stream.add if stream is not None else None)
        pinned = pin_requirements(folder, runtime_env)
        name = k8s_name(folder.name)
        secret_name = f"{name}-secrets"
        env = split_env_vars(runtime_env.get("env_vars"), secret_name)
        ray_version = summary.get("ray_version") or ""
        gpu = shape.has_gpus if options.gpu is None else options.gpu
        base_image = options.base_image or default_base_image(
            ray_version, summary.get("python_version"), gpu)

        spec = ContextSpec()
        base = os.path.join(str(folder), "")  # strings: 5,000 Path objects cost 0.1 s
        stats = collected.stats
        for rel in collected.files:
            spec.add_file(f"app/{rel}", base + rel, stats[rel])
        if collected.entrypoint.generated is not None:
            spec.add_text(f"app/{collected.entrypoint.script}", collected.entrypoint.generated)
        if pinned.lines:
            spec.add_text(f"deps/{REQUIREMENTS_FILE}", pinned.text())
            for source, fname in pinned.local_files:
                spec.add_file(f"deps/{WHEELS_DIR}/{fname}", source)
        spec.add_text(".dockerignore", render_dockerignore())
        lock_sha256 = hashlib.sha256(pinned.text().encode()).hexdigest() if pinned.lines else ""
        source_run = run.run_id if run is not None else ""
        digest = inputs_hash(spec)
        # the image also depends on what the Dockerfile says beyond the files (its labels
        # name the run it reproduces)
        digest = hashlib.sha256("\n".join(
            [digest, base_image, self.config.workdir, repr(sorted(env.baked.items())),
             source_run]).encode()).hexdigest()
        image = options.image
        if image is None and self.config.registry:
            image = f"{self.config.registry.rstrip('/')}/{name}:{digest[:12]}"
        elif image is None and not options.push:
            image = f"localhost/{name}:{digest[:12]}"  # a local image needs no registry
        project_api = to_api_path(self.root, folder)
        entry_api = to_api_path(self.root, entry)
        commit = _git_commit(folder)
        dockerfile = render_dockerfile(
            project=project_api, base_image=base_image, workdir=self.config.workdir,
            deps_dir=DEPS_DIR, has_requirements=bool(pinned.lines), env=env.baked,
            entrypoint=collected.entrypoint.script, git_commit=commit,
            ray_version=ray_version, inputs_hash=digest, source_run=source_run,
            lock_sha256=lock_sha256)
        spec.add_text("Dockerfile", dockerfile)
        manifest_image = image or f"{name}:{digest[:12]}"
        secrets_env = secret_env([s["name"] for s in env.secret], secret_name)
        serve, serve_error = self._serve_app(folder, name, collected, options)
        common = {"name": name, "project": project_api, "image": manifest_image,
                  "ray_version": ray_version, "shape": shape, "env": secrets_env}
        if options.variant == "rayservice":
            assert serve is not None  # _serve_app raised otherwise
            manifests = [rayservice(serve_config=serve.config, **common)]
        else:
            manifests = [
                rayjob(entrypoint=collected.entrypoint.command(self.config.workdir), **common),
                raycluster(**common),
            ]
        errors = {m["kind"]: e for m in manifests if (e := validate_manifest(m))}
        docs = [to_yaml([m]) for m in manifests]  # each dumped once: review, context, record
        plan = Plan(project=project_api, entrypoint=entry_api, collected=collected,
                    pinned=pinned, env=env, runtime_env=runtime_env, base_image=base_image,
                    image=image, inputs_hash=digest, dockerfile=dockerfile, manifests=manifests,
                    manifest_errors=errors, spec=spec, ray_version=ray_version, git_commit=commit,
                    workdir=self.config.workdir, variant=options.variant, serve=serve,
                    serve_error=serve_error, shape=shape, shape_source=shape_source,
                    manifests_yaml="---\n".join(docs), source_run=source_run,
                    lock_sha256=lock_sha256,
                    expected=self._expected(folder, collected, pinned, summary, run))
        for manifest, doc in zip(manifests, docs):
            spec.add_text(f"manifests/{manifest['kind'].lower()}.yaml", doc)
        return plan

    @staticmethod
    def _expected(folder: Path, collected: Collected, pinned: Pinned, summary: dict[str, Any],
                  run: RunEnvironment | None) -> ExpectedEnv:
        """What the built image must hold: the run's environment, else the lock's."""
        if run is not None:
            return expected_from_run(run, pinned.lines,
                                     own_modules(collected.entrypoint.script, collected.files))
        entry = collected.entrypoint
        text = entry.generated
        if text is None:
            text = (folder / entry.script).read_text(encoding="utf-8", errors="replace")
        modules, how = entrypoint_modules(folder, entry.script, text, collected.files)
        return expected_from_lock(pinned.lines, summary.get("ray_version"),
                                  summary.get("python_version"), modules, how)

    @staticmethod
    def _serve_app(folder: Path, name: str, collected: Collected,
                   options: PromoteOptions) -> tuple[ServeApp | None, str | None]:
        """The Serve app, or why there is none. Only the RayService variant needs one: for the
        default variant a broken serve config is reported in the review, not raised."""
        entry = collected.entrypoint
        text = entry.generated
        if text is None:
            text = (folder / entry.script).read_text(encoding="utf-8", errors="replace")
        try:
            serve = find_serve_app(folder, name, entry.script, text, options.serve_app)
        except BadRequest as err:
            if options.variant == "rayservice":
                raise
            return None, err.message
        if serve is None and options.variant == "rayservice":
            raise BadRequest(
                "The RayService variant needs the project's Serve app: give `serve_app` as "
                "module:app, add serve_config.yaml (`serve build` writes one) to the project, "
                f"or end {entry.script} with `app = YourDeployment.bind()`.", field="serve_app")
        return serve, None

    async def _cluster_inputs(self, project: str) -> tuple[
            dict[str, Any], Shape, dict[str, Any], RunEnvironment | None]:
        summary = await self._cluster()  # RayUnreachable -> 503: versions come from Ray
        shape, source = await self._shape(summary)
        run = await self._runs(project) if self._runs is not None else None
        return summary, shape, source, run

    async def _plan(self, project: str, options: PromoteOptions,
                    builders: bool = True) -> Plan:
        plan: Plan = await self._off_loop(self._compute, project, options,
                                          *await self._cluster_inputs(project))
        if builders:  # a context export needs none: it skips the builders' probes
            plan.builders = list(await asyncio.gather(*(b.availability()
                                                        for b in self.builders.values())))
        return plan

    async def _shape(self, summary: dict[str, Any]) -> tuple[Shape, dict[str, Any]]:
        """The dev RayCluster's shape when this server may read it, else Ray's view of its
        nodes; ``source`` says which, and why not the other (the review shows it)."""
        found, reason = await self._raycluster_shape()
        if found is not None:
            return found, {"source": "raycluster", "raycluster": found.source,
                           "reason": reason, "dropped": found.dropped}
        return cluster_shape(summary), {"source": "ray", "raycluster": None,
                                        "reason": reason, "dropped": []}

    async def _raycluster_shape(self) -> tuple[RayClusterShape | None, str]:
        from ..errors import RayDevError

        if self._kubernetes is None:
            return None, "Kubernetes is not configured on this server."
        k8s = self._kubernetes()
        ident = k8s.identity()
        if ident is None:
            return None, "Not running in a KubeRay pod (RAY_CLUSTER_NAME is not set)."
        if importlib.util.find_spec("kubernetes") is None:
            return None, ("The `kubernetes` Python client is not installed, so the RayCluster "
                          f"{ident.cluster_name} cannot be read (pip install kubernetes).")
        if not k8s.client.configured():
            from ..k8s.client import not_configured_message

            return None, not_configured_message()
        try:
            obj = await k8s.raycluster(ident)
        except RayDevError as err:  # 403, 404, unreachable: the plan still has Ray's view
            return None, f"Reading the RayCluster {ident.cluster_name} failed: {err.message}"
        try:
            shape = shape_from_raycluster(obj)
        except ValueError as err:
            return None, f"{err}: it gives no shape to promote."
        return shape, (f"Read from the RayCluster {shape.source} this server runs in, through "
                       "the Kubernetes API.")

    async def plan(self, project: str, request: PromoteRequestLike = None) -> dict[str, Any]:
        """What a promotion would build, for review; builds nothing."""
        return (await self._plan(project, PromoteOptions.coerce(request))).to_dict()

    # --- building ----------------------------------------------------------------
    def _record(self, plan: Plan, kind: str, status: str, user: str | None) -> PromotionRecord:
        return PromotionRecord(
            id=f"promo_{secrets.token_hex(6)}", project=plan.project, entrypoint=plan.entrypoint,
            kind=kind, status=status, inputs_hash=plan.inputs_hash, image=plan.image,
            dockerfile=plan.dockerfile, manifests=plan.manifests_yaml,
            requirements=plan.pinned.text(), user=user)

    async def start_build(self, project: str, request: PromoteRequestLike = None,
                          user: str | None = None) -> dict[str, Any]:
        """Start building (and pushing) the image; follow it with ``follow(id)``."""
        options = PromoteOptions.coerce(request)
        plan = await self._plan(project, options)
        if plan.image is None:
            raise BadRequest("No target image: give `image` (registry/name:tag) or set "
                             "c.RayDev.promote_registry on the server.", field="image")
        if options.push and registry_host(plan.image) is None:
            raise BadRequest(f"`image` {plan.image!r} names no registry to push to (without "
                             "one a push would go to Docker Hub; localhost/ names a local "
                             "image): give registry.example.com/name:tag.", field="image")
        if plan.manifest_errors:
            raise BadRequest("The generated manifests do not validate against KubeRay's CRDs: "
                             f"{plan.manifest_errors}", field="manifests")
        builder = options.builder or _preferred(plan.builders, self.config.builder)
        chosen = next(b for b in plan.builders if b.name == builder)
        if not chosen.available:
            tried = "; ".join(f"{b.name}: {b.reason}" for b in plan.builders)
            raise NoBuilder(f"No image builder can run here ({tried}). Export the build "
                            "context instead and build it in CI.",
                            builders=[b.to_dict() for b in plan.builders])
        record = self._record(plan, "build", "building", user)
        record.builder = builder
        await self.store.put(record)
        self._start(_LiveBuild(record), lambda live: self._run_build(
            live, plan, self.builders[builder], options.push))
        return record.summary()

    def _start(self, live: _LiveBuild,
               work: Callable[[_LiveBuild], Awaitable[None]]) -> None:
        self._live[live.record.id] = live
        task = asyncio.create_task(work(live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _done(self, live: _LiveBuild) -> None:
        record = live.record
        record.log = "\n".join(live.lines)
        record.finished = datetime.datetime.now().timestamp()
        try:
            await self.store.put(record)
        finally:
            live.finish()
            self._live.pop(record.id, None)

    async def _run_build(self, live: _LiveBuild, plan: Plan, builder: Builder,
                         push: bool) -> None:
        """Build; check the image against what it must reproduce; push only when the
        check passed (a builder that keeps the image here). A check that failed or could
        not run leaves the image built and ``blocked``: only the user's *Push anyway*
        (``push(id, {"override": true})``) pushes it then."""
        record = live.record
        scratch = Path(tempfile.mkdtemp(prefix="ray-dev-context-"))
        try:
            await live.emit(f"Writing the build context ({len(plan.collected.files)} files) ...")
            if builder.context_form == "tar.gz":
                context = scratch / "context.tar.gz"
                await self._off_loop(write_tar_gz, plan.spec, context)
            else:
                context = scratch
                await self._off_loop(write_folder, plan.spec, context)
            built = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            # a builder that keeps the image here pushes only after the check
            result = await builder.build(context, plan.image or "", build_time_args(built),
                                         push and not builder.local_image, live.emit)
            record.digest = result.digest
            assert plan.expected is not None  # _compute sets it
            # a builder that cannot check: which ones here could have, before the push
            could = None if builder.local_image else [
                b.name for b in plan.builders if b.available and b.name in _LOCAL_IMAGE]
            # an image kept here is checked by name; one only in the registry by its digest
            checked = result.image if builder.local_image or not result.digest \
                else f"{repository(result.image)}@{result.digest}"
            record.parity = await check_image(
                builder, checked, plan.expected,
                probe_workdir(plan.workdir, plan.collected.entrypoint.script), live.emit,
                self.config.parity_timeout, could)
            if not builder.local_image and record.parity["status"] == "failed":
                await live.emit(f"{builder.name} pushed before the check: {result.image} is "
                                "in the registry although it differs. Do not deploy it: fix "
                                "the project and build again (buildah or docker check first).")
            if push and builder.local_image and record.parity["status"] != PASSED:
                record.status = "blocked"
                record.error = _blocked_message(record.parity)
                await live.emit(record.error)
                return
            if push and builder.local_image:
                record.digest = await builder.push(result.image, live.emit)
            record.status = "pushed" if push else "built"
            await live.emit(f"Done: {result.image}"
                            + (f"@{record.digest}" if record.digest else " (not pushed)"))
        except BuildFailed as err:
            record.status, record.error = "failed", err.message
            await live.emit(err.message)
        except asyncio.CancelledError:
            record.status, record.error = "failed", "The build was cancelled (server stopping)."
            raise
        except Exception as err:
            log.exception("promotion %s failed", record.id)
            record.status, record.error = "failed", f"The build failed: {err}"
            await live.emit(record.error)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            await self._done(live)

    async def start_push(self, promotion_id: str,
                         request: PushRequest | Mapping[str, Any] | None = None,
                         user: str | None = None) -> dict[str, Any]:
        """Push a built image that waits for its push: ``override`` is the user's *Push
        anyway* for an image whose parity check did not pass, recorded in the promotion's
        ``overrides``. Follow it with ``follow(id)``."""
        override = PushRequest.coerce(request).override
        record = await self.store.get(promotion_id)
        if record is None:
            raise NotFound(f"No promotion {promotion_id!r} in the history.",
                           promotion_id=promotion_id)
        if promotion_id in self._live or record.kind != "build" or \
                record.status not in ("blocked", "built"):
            state = "in progress" if promotion_id in self._live else record.status
            raise Conflict(f"Promotion {promotion_id} is {state}: only a built image waiting "
                           "for its push can be pushed.", promotion_id=promotion_id)
        if not record.image or registry_host(record.image) is None:
            raise Conflict(f"{record.image} names no registry (a local build): build again "
                           "with a registry image to push.", promotion_id=promotion_id)
        builder = self.builders.get(record.builder or "")
        if builder is None or not builder.local_image:
            raise Conflict(f"The {record.builder} builder keeps no image to push later.",
                           promotion_id=promotion_id)
        parity = record.parity or {}
        checked = parity.get("status") == PASSED
        if not checked and not override:
            raise Conflict(_blocked_message(parity) if parity else
                           "This image was not checked: send override true to push it.",
                           promotion_id=promotion_id, parity=parity_summary(parity))
        before = record.status
        record.status, record.error = "pushing", None
        live = _LiveBuild(record)
        live.lines = record.log.splitlines()
        self._live[promotion_id] = live  # before any await: a second click finds it
        try:
            await self.store.put(record)
        except BaseException:
            self._live.pop(promotion_id, None)
            raise
        self._start(live, lambda live: self._run_push(live, builder, before,
                                                      None if checked else user or "",
                                                      parity))
        return record.summary()

    async def _run_push(self, live: _LiveBuild, builder: Builder, before: str,
                        overridden_by: str | None, parity: dict[str, Any]) -> None:
        record = live.record
        image = record.image or ""
        try:
            if overridden_by is not None:
                await live.emit(f"Push anyway: {image} is pushed although its parity check "
                                f"{'failed' if parity.get('status') == 'failed' else 'did not run'}"
                                " (recorded as an override).")
            record.digest = await builder.push(image, live.emit)
            if overridden_by is not None:
                record.overrides = [*(record.overrides or []), {
                    "what": "parity", "parity_status": parity.get("status"),
                    "mismatches": [m["message"] for m in parity.get("mismatches") or []],
                    "reason": parity.get("reason"), "user": overridden_by or None,
                    "at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds")}]
            record.status = "pushed"
            await live.emit(f"Done: {image}@{record.digest}")
        except BuildFailed as err:
            record.status, record.error = before, err.message  # still built: push again
            await live.emit(err.message)
        except asyncio.CancelledError:
            record.status, record.error = before, "The push was cancelled (server stopping)."
            raise
        except Exception as err:
            log.exception("push of promotion %s failed", record.id)
            record.status, record.error = before, f"The push failed: {err}"
            await live.emit(record.error)
        finally:
            await self._done(live)

    async def follow(self, promotion_id: str, start: int = 0) -> AsyncIterator[dict[str, Any]]:
        """The build log as ``line`` events (numbered from 0), then one ``end`` event."""
        live = self._live.get(promotion_id)
        if live is not None:
            async for event in live.follow(start):
                yield event
            record = live.record
        else:
            found = await self.store.get(promotion_id)
            if found is None:
                raise NotFound(f"No promotion {promotion_id!r} in the history.",
                               promotion_id=promotion_id)
            record = found
            for n, text in enumerate(record.log.splitlines()[start:], start):
                yield {"type": "line", "n": n, "text": text}
        yield {"type": "end", "promotion": record.summary()}

    async def build(self, project: str, request: PromoteRequestLike = None,
                    user: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Start a build and follow it to the end (the magic's and the CLI's one call)."""
        started = await self.start_build(project, request, user)
        yield {"type": "started", "promotion": started}
        async for event in self.follow(started["id"]):
            yield event

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
        inputs = await self._cluster_inputs(project)

        def export() -> tuple[Plan, int]:
            # tar archives the project while the walk, pins and hash are still computed
            with TarGzWriter(dest) as tar:
                plan = self._compute(project, options, *inputs, stream=tar)
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
        scratch = Path(await self._off_loop(tempfile.mkdtemp, "", "ray-dev-export-"))
        archive = scratch / "context.tar.gz"
        try:
            info = await self.export_context(project, request, archive, user=user)
        except BaseException:
            await self._off_loop(shutil.rmtree, scratch, True)
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
                await self._off_loop(shutil.rmtree, scratch, True)

        return ContextDownload(info["id"], info["filename"], chunks())

    # --- the runtime_env path (less reproducible) -----------------------------------------
    async def package(self, project: str, request: PackageRequest | Mapping[str, Any] | None,
                      user: str | None = None) -> dict[str, Any]:
        """Upload the code zip to a storage root; a RayJob with ``runtimeEnvYAML`` using it.

        The request is a promote request plus ``storage_root``: the name of an s3:// or gs://
        root of ``c.RayDev.storage_roots`` (every node must read it)."""
        options = PackageRequest.coerce(request)
        root_name = options.storage_root
        if not root_name:
            raise BadRequest("Give `storage_root`: the name of an s3:// or gs:// storage "
                             "root the cluster's nodes can read.", field="storage_root")
        if self._storage is None:
            raise BadRequest("No storage is configured on this server.", field="storage_root")
        storage = self._storage()
        root = storage.root(root_name)  # NotFound for an unknown root
        if root.protocol not in ("s3", "gs"):
            raise BadRequest(f"Storage root {root_name!r} is {root.url}: Ray nodes download a "
                             "working_dir from s3:// or gs:// only (a shared folder needs no "
                             "upload: use a job from the Jobs panel).", field="storage_root")
        if options.variant != "rayjob":
            raise BadRequest("The runtime_env path emits a RayJob only: leave `variant` out "
                             "(the RayService variant needs the image).", field="variant")
        plan = await self._plan(project, options, builders=False)
        name = k8s_name(Path(plan.project).name)
        data, filename = await self._off_loop(code_zip, plan.spec, name)
        path = f"{PACKAGES_DIR}/{filename}"
        try:
            await storage.stat(root_name, path)  # content-addressed: already there
            uploaded = False
        except NotFound:
            try:
                await storage.stat(root_name, PACKAGES_DIR)
            except NotFound:  # the first package of this root
                await storage.mkdir(root_name, PACKAGES_DIR)
            session = await storage.start_upload(root_name, path, len(data), overwrite=False)
            try:
                await storage.upload_chunk(root_name, session["upload_id"], data)
                await storage.commit_upload(root_name, session["upload_id"])
            except BaseException:
                await storage.abort_upload(root_name, session["upload_id"])
                raise
            uploaded = True
        uri = f"{root.url.rstrip('/')}/{path}"
        pip = [line for line in plan.pinned.lines if not line.startswith("./")]
        skipped = [line for line in plan.pinned.lines if line.startswith("./")]
        runtime_env = runtime_env_for(uri, pip, plan.env.baked)
        job = runtime_env_rayjob(
            name=name, project=plan.project, image=plan.base_image,
            ray_version=plan.ray_version, script=plan.collected.entrypoint.script,
            runtime_env=runtime_env, shape=plan.shape or cluster_shape(await self._cluster()),
            env=secret_env([s["name"] for s in plan.env.secret], f"{name}-secrets"))
        entrypoint = job["spec"]["entrypoint"]
        errors = validate_manifest(job)
        record = self._record(plan, "runtime_env", "uploaded", user)
        record.image, record.manifests, record.finished = plan.base_image, to_yaml([job]), \
            record.created
        await self.store.put(record)
        return {**record.summary(), "uri": uri, "uploaded": uploaded, "bytes": len(data),
                "runtime_env": runtime_env, "entrypoint_command": entrypoint,
                "manifests": to_yaml([job]), "manifest_errors": errors,
                "not_carried": [{"spec": s, "reason": "a local file: only the image path "
                                 "ships local wheels"} for s in skipped],
                "reproducibility": "less reproducible than the image: pip resolves the "
                                   "pinned list on every node at start."}

    # --- history ---------------------------------------------------------------------
    async def history(self, project: str | None = None) -> list[dict[str, Any]]:
        return [r.summary() for r in await self.store.list(project)]

    async def get(self, promotion_id: str) -> dict[str, Any]:
        """The record, ``manifests_pinned``: its manifests on the pushed digest (what
        "Download manifests" and re-apply use), and ``parity_report``: the whole parity
        check of its image."""
        live = self._live.get(promotion_id)
        record = live.record if live else await self.store.get(promotion_id)
        if record is None:
            raise NotFound(f"No promotion {promotion_id!r} in the history.",
                           promotion_id=promotion_id)
        doc = record.to_dict()
        # the history row's verdict and diff, and the whole check (versions, every import)
        doc["parity"], doc["parity_report"] = parity_summary(record.parity), record.parity
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
        if record["status"] in ("building", "failed", "blocked", "pushing"):
            # blocked: built here but held back by its parity check, so in no registry
            raise Conflict(f"Promotion {promotion_id} is {record['status']}: there is no "
                           "pushed image to apply. Re-apply a pushed promotion.",
                           promotion_id=promotion_id)
        manifest = choose_manifest(record["manifests_pinned"], kind)
        result = await self._kubernetes().apply(manifest, dry_run=dry_run, force=force)
        return {**result, "promotion_id": promotion_id}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
