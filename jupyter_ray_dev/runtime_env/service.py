"""Runtime environments: read, validate and save a project's ``runtime_env.yaml``; measure
its working_dir; install its packages onto shared storage.

The capability the REST handlers and the magics share (coroutines; file work, Ray's
validator and pip run off the event loop). A project is a folder given as an API
path relative to the Jupyter root ("" is the root itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Conflict
from ..project import runtime_env as envfile
from ..project.discovery import find_project
from ..project.files import DASHBOARD_UPLOAD_LIMIT, default_excludes, describe_size, measure_upload
from ..project.root import resolve_in_root, to_api_path
from ..settings import mib, paths, setting
from . import document as docs
from . import notebook_installs as installs
from .requests import ValidateRequest
from .schema import runtime_env_schema
from .validate import Place, Verdict, local_working_dir, validate


def _env_requirements(env: dict[str, Any], project: Path) -> list[str]:
    """The pip (or uv) packages of a saved env; a requirements.txt is read from the project."""
    value = env.get("pip", env.get("uv"))
    if isinstance(value, dict):
        value = value.get("packages")
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else project / value
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise BadRequest(f"Cannot read the requirements file {value!r}: {err}.",
                             field="pip") from err
        return [ln for ln in (x.split(" #")[0].strip() for x in lines)
                if ln and not ln.startswith("#")]
    if isinstance(value, list) and value:
        return value
    raise BadRequest(
        "The environment lists no pip packages to install: add some (or pass "
        "`requirements`).", field="pip")


def _point_at(doc: Any, folder: str, shared_roots: tuple[Path, ...], comment: str,
              drop_pip: bool) -> Any:
    """env_vars.PYTHONPATH starts with ``folder`` (replacing an earlier install's folder);
    with ``drop_pip`` the pip/uv packages go (they are on the shared storage now)."""
    from .install import ENVS_DIR

    env = doc.get("env_vars") or {}
    old = env.get("PYTHONPATH") if hasattr(env, "get") else None
    ours = tuple(str(r / ENVS_DIR) + os.sep for r in shared_roots)
    parts = [p for p in str(old or "").split(os.pathsep)
             if p and not (p + os.sep).startswith(ours)]
    docs.set_env_var(doc, "PYTHONPATH", os.pathsep.join([folder, *parts]))
    with contextlib.suppress(Exception):  # a comment is a nicety: never fail the save on it
        doc["env_vars"].yaml_add_eol_comment(comment, "PYTHONPATH")
    if drop_pip:
        for key in ("pip", "uv"):
            if key in doc:
                del doc[key]
    return doc


class InvalidRuntimeEnv(BadRequest):
    reason = "invalid_runtime_env"


class StaleEtag(Conflict):
    reason = "etag_mismatch"


@dataclass(frozen=True)
class RuntimeEnvConfig:
    root_dir: Path
    shared_roots: tuple[Path, ...] = setting("shared_roots", (), convert=paths)
    upload_limit: int = setting("job_upload_limit_mib", DASHBOARD_UPLOAD_LIMIT, convert=mib)
    # kernels the server starts record what their notebooks install (%pip install)
    capture_installs: bool = setting("capture_notebook_installs", True)
    # where kernels record what their notebooks installed (None: the Jupyter data dir's)
    installs_dir: Path | None = None


class RuntimeEnvService:
    def __init__(self, config: RuntimeEnvConfig,
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.config = config
        self.root = Path(config.root_dir).resolve()
        self.shared_roots = tuple(Path(p).resolve() for p in config.shared_roots)
        self._own_executor = executor is None
        self.executor = executor or ThreadPoolExecutor(max_workers=2,
                                                       thread_name_prefix="ray-dev-env")
        # one writer at a time per file (the ETag check and the rename happen together)
        self._locks: weakref.WeakValueDictionary[Path, asyncio.Lock] = \
            weakref.WeakValueDictionary()
        self._installer: Any = None
        self.installs_dir = Path(config.installs_dir or installs.default_folder())

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def _lock(self, path: Path) -> asyncio.Lock:
        lock = self._locks.get(path)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[path] = lock
        return lock

    # --- projects ------------------------------------------------------------------------
    def project_dir(self, project: str) -> Path:
        if not isinstance(project, str):
            raise BadRequest("`project` must be a folder path.", field="project")
        folder = resolve_in_root(self.root, project.strip("/"), "project")
        if not folder.is_dir():
            raise BadRequest(
                f"The project folder {project!r} does not exist (a project is a folder, "
                "relative to the Jupyter root).", field="project")
        return folder

    def place(self, folder: Path) -> Place:
        return Place(folder, self.root, self.shared_roots, self.config.upload_limit)

    def _document(self, folder: Path, current: envfile.EnvFile) -> dict[str, Any]:
        return {
            "project": to_api_path(self.root, folder),
            "path": to_api_path(self.root, current.path),
            "runtime_env": current.data(),
            "yaml": current.text,
            "etag": current.etag,
            "exists": current.exists,
        }

    @staticmethod
    def schema() -> dict[str, Any]:
        return runtime_env_schema()

    # --- read ----------------------------------------------------------------------------
    def _read(self, project: str) -> dict[str, Any]:
        folder = self.project_dir(project)
        return self._document(folder, envfile.read_file(folder))

    async def read(self, project: str) -> dict[str, Any]:
        """{project, path, runtime_env, yaml, etag, exists}; 400 if the file is not YAML."""
        return await self._off_loop(self._read, project)

    # --- validate ------------------------------------------------------------------------
    def _validate(self, project: str, runtime_env: Any) -> Verdict:
        folder = self.project_dir(project)
        return validate(runtime_env, self.place(folder))

    async def validate(self, project: str, runtime_env: Any) -> dict[str, Any]:
        """{valid, errors: [{path, message, fix}], warnings: [{path, message, fix}],
        ray_checked}: the verdict is Ray's own (RuntimeEnv(**env)) when Ray is installed."""
        verdict: Verdict = await self._off_loop(self._validate, project, runtime_env)
        return verdict.to_dict()

    def _validate_text(self, project: str, yaml_text: str) -> Verdict | dict[str, Any]:
        try:
            env = envfile.plain(envfile.parse(yaml_text))
        except envfile.InvalidYaml as err:  # the editor shows it at its line, as Ray's errors
            return {"valid": False, "ray_checked": False, "warnings": [],
                    "errors": [{"path": "", "message": err.message, "fix": None,
                                "line": err.details.get("line"),
                                "column": err.details.get("column")}]}
        return self._validate(project, env)

    async def validate_request(self, project: str,
                               request: ValidateRequest | Mapping[str, Any] | None
                               ) -> dict[str, Any]:
        """The verdict on the editor's content: the YAML text (a syntax error is a verdict
        with its line, not a failed request) or the mapping."""
        request = ValidateRequest.coerce(request)
        if request.yaml is None:
            return await self.validate(project, request.runtime_env)
        verdict = await self._off_loop(self._validate_text, project, request.yaml)
        return verdict if isinstance(verdict, dict) else verdict.to_dict()

    # --- write ---------------------------------------------------------------------------
    def _write(self, project: str, runtime_env: Any, yaml_text: str | None,
               if_match: str | None, edit: Callable[[Any], Any] | None) -> dict[str, Any]:
        folder = self.project_dir(project)
        current = envfile.read_file(folder)
        if if_match is not None and if_match != "*" and if_match != current.etag:
            raise StaleEtag(
                f"{current.path.name} changed since it was read (someone saved it in another "
                "tab, a magic, or an editor): reload it, then make the change again.",
                field="etag", etag=current.etag)
        if yaml_text is not None:
            if not isinstance(yaml_text, str):
                raise BadRequest("`yaml` must be the file's text.", field="yaml")
            data = envfile.plain(envfile.parse(yaml_text, current.path.name))
            text = yaml_text
        else:
            try:
                doc = current.document()
            except envfile.InvalidYaml:
                if edit is not None:
                    raise
                doc = envfile.parse("")  # replacing an unreadable file with the form's content
            if edit is not None:
                doc = edit(doc)
            else:
                if not isinstance(runtime_env, dict):
                    raise BadRequest("`runtime_env` must be a mapping of runtime_env fields.",
                                     field="runtime_env")
                doc = docs.merge(doc, runtime_env)
            text = envfile.dump(doc)
            data = envfile.plain(doc)
        verdict = validate(data, self.place(folder))
        if not verdict.valid:
            first = verdict.errors[0]
            raise InvalidRuntimeEnv(
                f"Not saved: {first.message}" + (f" Fix: {first.fix}" if first.fix else ""),
                field=first.path, **verdict.to_dict())
        raw = docs.write_atomic(current.path, text)
        return {**self._document(folder, envfile.EnvFile(current.path, raw)),
                "warnings": verdict.to_dict()["warnings"]}

    async def _locked_write(self, project: str, runtime_env: Any, yaml_text: str | None,
                            if_match: str | None,
                            edit: Callable[[Any], Any] | None) -> dict[str, Any]:
        folder = await self._off_loop(self.project_dir, project)
        async with self._lock(folder / envfile.RUNTIME_ENV_FILE):
            return await self._off_loop(self._write, project, runtime_env, yaml_text,
                                        if_match, edit)

    async def write(self, project: str, *, runtime_env: dict[str, Any] | None = None,
                    yaml_text: str | None = None, if_match: str | None = None
                    ) -> dict[str, Any]:
        """Save the environment (a dict laid onto the file, keeping its comments, or the
        whole YAML text). Validated first: 400 naming the field. ``if_match`` is the ETag
        read: 409 if the file changed since. Returns what ``read`` does, plus warnings."""
        if (runtime_env is None) == (yaml_text is None):
            raise BadRequest("Give either `runtime_env` (a mapping) or `yaml` (the file's text).",
                             field="runtime_env")
        return await self._locked_write(project, runtime_env, yaml_text, if_match, None)

    async def edit(self, project: str, change: Callable[[Any], Any],
                   if_match: str | None = None) -> dict[str, Any]:
        """Apply ``change`` (document -> document, e.g. ``document.set_env_var``) to the
        round-trip document and save it, validated, comments kept."""
        return await self._locked_write(project, None, None, if_match, change)

    async def set_env_var(self, project: str, name: str, value: str) -> dict[str, Any]:
        return await self.edit(project, lambda d: docs.set_env_var(d, name, value))

    async def unset_env_var(self, project: str, name: str) -> dict[str, Any]:
        return await self.edit(project, lambda d: docs.unset_env_var(d, name))

    async def add_pip_package(self, project: str, requirement: str) -> dict[str, Any]:
        return await self.edit(project, lambda d: docs.add_pip_package(d, requirement))

    async def add_packages(self, project: str, requirements: list[str],
                           if_match: str | None = None) -> dict[str, Any]:
        """Add requirements (e.g. a run's imported-but-undeclared packages, pinned to the
        versions it used) to the project's pip or uv list, comments kept, validated."""
        return await self.edit(project, lambda d: docs.add_packages(d, requirements),
                               if_match=if_match)

    async def remove_pip_package(self, project: str, name: str) -> dict[str, Any]:
        return await self.edit(project, lambda d: docs.remove_pip_package(d, name))

    # --- what notebooks installed ------------------------------------------------------
    def _notebook_installs(self, project: str | None,
                           sessions: Mapping[str, str]) -> dict[str, Any]:
        only = self.project_dir(project) if project is not None else None
        dismissed = installs.read_dismissed(self.installs_dir)
        declared: dict[Path, list[str]] = {}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for record in installs.read_records(self.installs_dir):
            notebook = installs.notebook_path(record, self.root, sessions)
            if notebook is None or self.root not in notebook.parents:
                continue  # a kernel of another server, or a notebook outside the root
            folder = find_project(self.root, notebook)
            if only is not None and folder != only:
                continue
            if folder not in declared:
                try:
                    env = envfile.read_file(folder).data()
                except BadRequest:
                    env = {}  # a broken file declares nothing; the editor says why
                declared[folder] = installs.declared_requirements(env, folder)
            nb_path = to_api_path(self.root, notebook)
            kernel_id = str(record.get("kernel_id"))
            for item in record["installs"].values():
                name, version = item.get("name"), item.get("version")
                if not isinstance(name, str) or not isinstance(version, str) \
                        or not installs.still_installed(item):
                    continue
                item_id = installs.install_id(nb_path, name, version)
                covered, requirement = installs.declaration(declared[folder], name, version)
                if covered or item_id in dismissed:
                    continue
                key = (nb_path, installs.canonical(name))
                if key in found and found[key]["installed"] >= item.get("installed", 0):
                    continue  # the notebook's latest kernel's install of it wins
                found[key] = {
                    "id": item_id, "name": name, "version": version,
                    "requirement": f"{name}=={version}", "declared": requirement,
                    "notebook": nb_path, "project": to_api_path(self.root, folder),
                    "kernel_id": kernel_id, "running": kernel_id in sessions,
                    "command": item.get("command") or "", "url": item.get("url"),
                    "installed": item.get("installed", 0)}
        items = sorted(found.values(), key=lambda x: (-x["installed"], x["name"]))
        return {"project": to_api_path(self.root, only) if only is not None else None,
                "installs": items}

    async def notebook_installs(self, project: str | None = None,
                                sessions: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Packages notebooks installed (``%pip install``...) into their kernel that their
        project's runtime_env does not declare at that version, newest first; ``project``
        limits it to one project's notebooks. ``sessions``: kernel id -> notebook path of
        the running sessions (a renamed notebook is followed)."""
        return await self._off_loop(self._notebook_installs, project, dict(sessions or {}))

    def recorder_code(self, kernel_id: str, started: float) -> str | None:
        """The code that loads the install recorder into a Python kernel the server started
        at ``started`` (None: capture is off)."""
        if not self.config.capture_installs:
            return None
        return installs.activation_code(self.installs_dir, kernel_id, started)

    async def dismiss_notebook_installs(self, ids: list[str]) -> dict[str, Any]:
        """Hide installs (by id) from the list: the notebook keeps its package, the project
        is not told about it again unless it installs another version."""
        await self._off_loop(installs.dismiss, self.installs_dir, ids)
        return {"dismissed": sorted(set(ids))}

    # --- working_dir size ----------------------------------------------------------------
    def _working_dir_size(self, project: str, runtime_env: Any) -> dict[str, Any]:
        folder = self.project_dir(project)
        env = runtime_env if isinstance(runtime_env, dict) else envfile.read_file(folder).data()
        local, uploaded = local_working_dir(env, self.place(folder))
        limit = self.config.upload_limit
        out: dict[str, Any] = {
            "project": to_api_path(self.root, folder),
            "working_dir": env.get("working_dir"),
            "uploaded": uploaded, "bytes": None, "files": None, "limit_bytes": limit,
            "over_limit": False, "largest": [], "excludes": default_excludes(),
            "message": None,
        }
        if local is None:
            out["message"] = "The working_dir is a URI: Ray downloads it, nothing is uploaded."
            return out
        if not uploaded:
            out["message"] = ("The working_dir is on storage every node mounts: jobs use it in "
                              "place (local://), nothing is uploaded.")
            return out
        if not local.is_dir() or (local != self.root and self.root not in local.parents):
            raise BadRequest(f"`working_dir` {env.get('working_dir')!r} is not a folder of the "
                             "project.", field="working_dir")
        excludes = env.get("excludes")
        excludes = excludes if isinstance(excludes, list) and all(
            isinstance(x, str) for x in excludes) else []
        size = measure_upload(local, excludes)
        out.update(bytes=size.total_bytes, files=size.files,
                   over_limit=size.total_bytes > limit,
                   largest=[{"path": p, "bytes": n} for p, n in size.top(5)],
                   excludes=[*default_excludes(), *excludes],
                   message=f"{describe_size(size.total_bytes)} in {size.files} files, of the "
                           f"{describe_size(limit)} Ray's dashboard accepts.")
        return out

    async def working_dir_size(self, project: str,
                               runtime_env: dict[str, Any] | None = None) -> dict[str, Any]:
        """What Ray would upload for the working_dir (the saved file's, or ``runtime_env``'s):
        bytes, files, the largest files, the dashboard's limit."""
        return await self._off_loop(self._working_dir_size, project, runtime_env)

    # --- install onto shared storage ------------------------------------------------------
    @property
    def installer(self) -> Any:
        if self._installer is None:
            from .install import SharedInstaller

            self._installer = SharedInstaller()
        return self._installer

    def shared_root(self, root: str | None) -> Path:
        if not self.shared_roots:
            raise BadRequest(
                "No shared storage is configured: set c.RayDev.shared_roots to folders every "
                "Ray node mounts (NFS/EFS) to install packages there once for all jobs; or "
                "keep the packages in `pip`, which Ray installs per job.", field="root")
        if root in (None, ""):
            return self.shared_roots[0]
        wanted = Path(str(root)).resolve()
        for shared in self.shared_roots:
            if wanted == shared or shared in wanted.parents:
                return wanted
        raise BadRequest(
            f"{root!r} is not under a shared root ({', '.join(map(str, self.shared_roots))}): "
            "packages must be on storage every node mounts.", field="root")

    def _install_plan(self, project: str, requirements: Any, root: str | None
                      ) -> tuple[Path, Any, bool]:
        folder = self.project_dir(project)
        base = self.shared_root(root)
        from_env = requirements is None
        if from_env:
            requirements = _env_requirements(envfile.read_file(folder).data(), folder)
        elif not isinstance(requirements, list):
            raise BadRequest("`requirements` must be a list of requirements "
                             "(e.g. [\"requests==2.32.3\"]).", field="requirements")
        target = self.installer.target(base, to_api_path(self.root, folder), requirements)
        return folder, target, from_env

    async def install(self, project: str, *, requirements: list[str] | None = None,
                      root: str | None = None, apply: bool = True
                      ) -> AsyncIterator[dict[str, Any]]:
        """Install ``requirements`` (default: the env's pip packages) once onto shared
        storage, streaming pip's output; then (``apply``) point the project's env at the
        folder (PYTHONPATH in env_vars) and drop the pip packages Ray would install per
        job. The last event is ``done`` (with the saved env) or ``error``."""
        folder, target, from_env = await self._off_loop(self._install_plan, project,
                                                        requirements, root)
        async for event in self.installer.install(target):
            if event["type"] != "done":
                yield event
                continue
            if apply:
                path = str(target.folder)
                comment = "installed by jupyter-ray-dev: " + ", ".join(target.requirements)

                def point(doc: Any) -> Any:
                    return _point_at(doc, path, self.shared_roots, comment, drop_pip=from_env)

                try:
                    event = {**event, "runtime_env": await self.edit(project, point)}
                except BadRequest as err:
                    yield {"type": "error", "message": f"Installed into {path}, but the "
                           f"project's environment could not be updated: {err.message}",
                           "folder": path}
                    return
            yield event

    async def close(self) -> None:
        if self._installer is not None:
            await self._installer.close()
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
