"""A promotion's plan: the project's files, pinned requirements, Dockerfile and KubeRay
manifests shaped like the dev cluster, and the hash of all of it. Builds nothing.

``compute_plan`` is file work (walking, pinning, nbconvert): callers run it off the event
loop; ``cluster_inputs`` asks Ray (and Kubernetes, where this server may read its
RayCluster) what the manifests are shaped like. The pins' versions come from a
``source.Source``: a recorded run of the project, or this server's Python.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import BadRequest, RayDevError
from ..project.digest import stat_digest
from ..project.imports import project_imports
from ..project.root import to_api_path
from ..project.runtime_env import load_project_runtime_env
from .builders import Availability
from .codelayer import BuildPath, deps_hash
from .collect import Collected, collect, resolve_project
from .config import PromoteConfig
from .context import ContextSpec, TarGzWriter, inputs_hash
from .dockerfile import (
    default_base_image,
    image_labels,
    render_dockerfile,
    render_dockerignore,
)
from .envvars import EnvVars, split_env_vars
from .history_server import HistoryServer, not_configured
from .kuberay_shape import RayClusterShape, shape_from_raycluster
from .manifests import (
    Shape,
    cluster_shape,
    k8s_name,
    raycluster,
    raycronjob,
    rayjob,
    rayservice,
    secret_env,
    to_yaml,
    validate_manifest,
)
from .options import PromoteOptions, registry_host
from .parity import (
    ExpectedEnv,
    RunEnvironment,
    entrypoint_modules,
    expected_from_lock,
    expected_from_run,
    own_modules,
)
from .pin import REQUIREMENTS_FILE, WHEELS_DIR, Pinned, format_time, pin_requirements
from .ray_view import host_facts
from .schedule import Schedule
from .serve import ServeApp, find_serve_app
from .source import Source, changed_since, undeclared

DEPS_DIR = "/home/ray/.ray-dev-deps"
LOCAL_IMAGE = ("buildah", "docker")  # builders that keep the image here until its push
# runtime_env fields the image replaces, and what becomes of each
_CARRIED = {
    "working_dir": "baked into the image (the code layer)",
    "py_modules": "baked into the image (they must be inside the project folder)",
    "excludes": "applied when collecting the files",
    "pip": "pinned into requirements.txt", "uv": "pinned into requirements.txt",
    "conda": "its pip part pinned into requirements.txt",
    "env_vars": "ENV lines (secrets: a Kubernetes Secret)",
}


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
    schedule: Schedule | None = None
    history: HistoryServer | None = None  # where KubeRay's History Server keeps the logs
    logs: dict[str, Any] = field(default_factory=not_configured)  # what the review says of it
    source: Source | None = None  # where the pins' versions come from
    changed_files: dict[str, Any] | None = None  # the project's files changed since the run
    undeclared: list[dict[str, Any]] = field(default_factory=list)  # imported, not declared
    expected: ExpectedEnv | None = None  # what the parity check holds the built image to
    labels: list[tuple[str, str]] = field(default_factory=list)  # but the build time
    deps_hash: str = ""  # the dependency files' (requirements.txt, wheels)
    # how a build would make the image (the service decides: it reads the history)
    build_path: BuildPath | None = None

    @property
    def lock_hash(self) -> str:
        return self.pinned.lock_hash()

    @property
    def source_run(self) -> str | None:
        """The run the pins come from (None: this server's Python)."""
        run = self.source.run if self.source else None
        return run.submission_id if run is not None else None

    @property
    def source_run_time(self) -> float | None:
        run = self.source.run if self.source else None
        return run.time if run is not None else None

    def warnings(self) -> list[dict[str, str]]:
        out = list(self.source.warnings) if self.source else []
        left_out = [n for n in self.shape_source.get("numbers") or [] if not n["used"]]
        if left_out:
            what = ", ".join(f"{n['group']} {n['resource']} {n['value']}" for n in left_out)
            out.append({"kind": "shape_not_requests",
                        "message": f"Ray's view gives machine totals, not requests: {what} "
                                   "are left out of the manifests' resources. Set the pods' "
                                   "CPU and memory in the manifests (or promote from a "
                                   "KubeRay pod, whose RayCluster gives them)."})
        changed = self.changed_files
        if changed and changed["changed"]:
            counts = changed["counts"]
            names = (changed["modified"] + changed["added"] + changed["removed"])[:5]
            total = sum(counts.values())
            more = f" and {total - len(names)} more" if total > len(names) else ""
            out.append({"kind": "files_changed",
                        "message": f"The project's files changed since the run "
                                   f"{changed['since']}: {', '.join(names)}{more}. The image "
                                   "holds them as they are now, which that run did not "
                                   "test."})
        loopback = self.history.warning() if self.history else None
        if loopback:
            out.append(loopback)
        return out

    def lock(self) -> dict[str, Any]:
        """The lock the history keeps: the requirements, each pin with its provenance."""
        return {"requirements": self.pinned.lines, "hash": self.lock_hash,
                "source": self.source.to_dict() if self.source else None,
                "pins": [{k: c.get(k) for k in ("name", "spec", "pinned", "how", "from")}
                         for c in self.pinned.changes],
                "unpinned": [{k: u.get(k) for k in ("name", "spec", "from")}
                             for u in self.pinned.unpinned]}

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
            "source_run": self.source_run,
            "parity": {
                "expected": self.expected.to_dict() if self.expected else None,
                # the builders that can check the image before it is pushed
                "before_push": [b.name for b in self.builders if b.available
                                and b.name in LOCAL_IMAGE],
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
            "source": self.source.to_dict() if self.source else None,
            "lock_hash": self.lock_hash,
            "changed_files": self.changed_files,
            "undeclared": self.undeclared,
            "warnings": self.warnings(),
            "schedule": self.schedule.to_dict() if self.schedule else None,
            "logs": self.logs,
            "build_path": self.build_path.to_dict() if self.build_path else None,
        }

    def check_logs(self) -> None:
        """The server means to keep the runs' logs: nothing is made without them."""
        if self.logs.get("error"):
            raise BadRequest(f"{self.logs['error']} Fix the server configuration; the review "
                             "shows the manifests meanwhile.", field="history_server")


def head_commit(folder: Path) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        out = subprocess.run([git, "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


class ClusterInputs(NamedTuple):
    """What the dev cluster tells a plan: Ray's summary (versions), and the shape the
    manifests copy with where it was read from."""

    summary: dict[str, Any]
    shape: Shape
    shape_source: dict[str, Any]


def compute_plan(config: PromoteConfig, root: Path, project: str, options: PromoteOptions,
                 inputs: ClusterInputs, source: Source,
                 stream: TarGzWriter | None = None,
                 history: tuple[HistoryServer | None, dict[str, Any]] | None = None) -> Plan:
    """The plan; with ``stream``, the project's files are archived as they are found.
    ``history``: where the History Server keeps the runs' logs and what the review says
    (``PromoteService.history_server``); None: not configured."""
    server, logs = history or (None, not_configured())
    summary, shape, shape_source = inputs
    folder, entry = resolve_project(root, project, options.entrypoint)
    runtime_env = load_project_runtime_env(folder)
    excludes = runtime_env.get("excludes") or []
    if not isinstance(excludes, list) or not all(isinstance(x, str) for x in excludes):
        raise BadRequest("`excludes` in runtime_env.yaml must be a list of gitignore-style "
                         "patterns.", field="runtime_env.excludes")
    if stream is not None:
        stream.open(folder)
    collected = collect(folder, entry, tuple(excludes),
                        on_file=stream.add if stream is not None else None)
    pinned = pin_requirements(folder, runtime_env, source.pins)
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
    changed, imported_only, code = None, [], frozenset()
    if source.run is not None:
        # digests remembered by stat: the inputs hash below reads no file again
        current = {rel: stat_digest(base + rel, stats[rel]) for rel in collected.files}
        if source.run.files is not None:
            still = {n for n in source.run.files
                     if n not in current and os.path.exists(base + n)}
            changed = changed_since(source.run, current, still)
        code = project_imports(((base + rel, d) for rel, d in current.items()),
                               [collected.entrypoint.generated or ""])
        imported_only = undeclared(source.run, pinned.declared, code)
    for rel in collected.files:
        spec.add_file(f"app/{rel}", base + rel, stats[rel])
    if collected.entrypoint.generated is not None:
        spec.add_text(f"app/{collected.entrypoint.script}", collected.entrypoint.generated)
    if pinned.lines:
        spec.add_text(f"deps/{REQUIREMENTS_FILE}", pinned.text())
        for wheel, fname in pinned.local_files:
            spec.add_file(f"deps/{WHEELS_DIR}/{fname}", wheel)
    spec.add_text(".dockerignore", render_dockerignore())
    source_run = source.run.submission_id if source.run is not None else ""
    digest = inputs_hash(spec)
    # the image also depends on what the Dockerfile says beyond the files (its labels
    # name the run it reproduces)
    digest = hashlib.sha256("\n".join(
        [digest, base_image, config.workdir, repr(sorted(env.baked.items())), source_run]
    ).encode()).hexdigest()
    image = options.image
    if image is None and config.registry:
        image = f"{config.registry.rstrip('/')}/{name}:{digest[:12]}"
    elif image is None and not options.push:
        image = f"localhost/{name}:{digest[:12]}"  # a local image needs no registry
    project_api = to_api_path(root, folder)
    entry_api = to_api_path(root, entry)
    commit = head_commit(folder)
    labels = image_labels(project=project_api, entrypoint=collected.entrypoint.script,
                          git_commit=commit, ray_version=ray_version, inputs_hash=digest,
                          source_run=source_run, lock_sha256=pinned.lock_hash())
    dockerfile = render_dockerfile(
        project=project_api, base_image=base_image, workdir=config.workdir,
        deps_dir=DEPS_DIR, has_requirements=bool(pinned.lines), env=env.baked, labels=labels)
    spec.add_text("Dockerfile", dockerfile)
    manifest_image = image or f"{name}:{digest[:12]}"
    secrets_env = secret_env([s["name"] for s in env.secret], secret_name)
    serve, serve_error = _serve_app(folder, name, collected, options)
    common = {"name": name, "project": project_api, "image": manifest_image,
              "ray_version": ray_version, "shape": shape, "env": secrets_env,
              "history": server.options() if server else None}
    command = collected.entrypoint.command(config.workdir)
    timing = options.timing
    if options.variant == "rayservice":
        assert serve is not None  # _serve_app raised otherwise
        manifests = [rayservice(serve_config=serve.config, **common)]
    elif timing is not None:  # the raycronjob variant: the RayJob, scheduled
        manifests = [raycronjob(schedule=timing.cron, time_zone=timing.time_zone,
                                suspend=timing.suspend, entrypoint=command, **common)]
    else:
        manifests = [rayjob(entrypoint=command, **common), raycluster(**common)]
    errors = {m["kind"]: e for m in manifests if (e := validate_manifest(m))}
    docs = [to_yaml([m]) for m in manifests]  # each dumped once: review, context, record
    plan = Plan(project=project_api, entrypoint=entry_api, collected=collected,
                pinned=pinned, env=env, runtime_env=runtime_env, base_image=base_image,
                image=image, inputs_hash=digest, dockerfile=dockerfile, manifests=manifests,
                manifest_errors=errors, spec=spec, ray_version=ray_version, git_commit=commit,
                workdir=config.workdir, variant=options.variant, serve=serve,
                serve_error=serve_error, shape=shape, shape_source=shape_source,
                manifests_yaml="---\n".join(docs), source=source, changed_files=changed,
                undeclared=imported_only, schedule=timing, history=server, logs=logs,
                expected=_expected(folder, collected, pinned, summary,
                                   run_environment(source.run, code) if source.run else None),
                labels=labels, deps_hash=deps_hash(spec))
    for manifest, doc in zip(manifests, docs):
        spec.add_text(f"manifests/{manifest['kind'].lower()}.yaml", doc)
    return plan


def run_environment(run: Any, code: frozenset[str]) -> RunEnvironment:
    """What the parity check holds the image to from a recorded run (``RunRecord``): every
    distribution at the run's version, and of what the run imported, what the project's
    own code imports (``code``); what only Ray or a library pulled in is the base image's."""
    from ..project.imports import names_module

    imported = {name: [m for m in modules if names_module(code, m)]
                for name, modules in run.imported.items()}
    imported = {name: modules for name, modules in imported.items()
                if modules and name != "jupyter-ray-dev"}
    return RunEnvironment(
        run_id=run.submission_id, python=run.python.get("version"), ray=run.ray_version,
        distributions=run.distributions, imported=tuple(sorted(imported)),
        modules=tuple(sorted({m.split(".")[0] for ms in imported.values() for m in ms})),
        when=format_time(run.time))


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


async def cluster_inputs(cluster: Callable[[], Awaitable[dict[str, Any]]],
                         kubernetes: Callable[[], Any] | None,
                         off_loop: Callable[..., Awaitable[Any]]) -> ClusterInputs:
    summary = await cluster()  # RayUnreachable -> 503: versions come from Ray
    shape, source = await _shape(summary, kubernetes, off_loop)
    return ClusterInputs(summary, shape, source)


async def _shape(summary: dict[str, Any], kubernetes: Callable[[], Any] | None,
                 off_loop: Callable[..., Awaitable[Any]]) -> tuple[Shape, dict[str, Any]]:
    """The dev RayCluster's shape when this server may read it, else Ray's view of its
    nodes, each number with where it came from; ``source`` says which, and why not the
    other (the review shows it)."""
    found, reason = await _raycluster_shape(kubernetes)
    if found is not None:
        return found, {"source": "raycluster", "raycluster": found.source,
                       "reason": reason, "dropped": found.dropped, "numbers": []}
    shape = cluster_shape(summary, await off_loop(host_facts, summary))  # reads cgroup files
    return shape, {"source": "ray", "raycluster": None, "reason": reason, "dropped": [],
                   "numbers": shape.numbers()}


async def _raycluster_shape(kubernetes: Callable[[], Any] | None
                            ) -> tuple[RayClusterShape | None, str]:
    if kubernetes is None:
        return None, "Kubernetes is not configured on this server."
    k8s = kubernetes()
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
