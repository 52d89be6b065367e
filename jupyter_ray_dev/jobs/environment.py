"""The runtime_env a job launched from a project gets.

The project's own environment is its ``runtime_env.yaml`` (read by
``project.runtime_env``); this adds only what a job needs on top: the working_dir,
and ``local://`` when the project sits on storage every node mounts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..project.root import to_api_path
from ..project.runtime_env import RUNTIME_ENV_FILE, is_uri, with_project_paths

LOCAL_SCHEME = "local://"


@dataclass(frozen=True)
class JobEnvironment:
    runtime_env: dict[str, Any]
    # the local folder Ray will upload (None: local://, a remote URI, or nothing to upload)
    upload_dir: Path | None
    # the folder the driver starts in, when we know it locally (for the entrypoint's paths)
    local_working_dir: Path | None
    excludes: tuple[str, ...]


def _shared_root_of(path: Path, shared_roots: tuple[Path, ...]) -> Path | None:
    for shared in shared_roots:
        if path == shared or shared in path.parents:
            return shared
    return None


def build_job_environment(
    project: Path, root: Path, shared_roots: tuple[Path, ...], project_env: dict[str, Any]
) -> JobEnvironment:
    """The project's runtime_env with working_dir set: the project folder unless the file
    sets one; ``local:///abs/path`` when that folder is under a shared root."""
    # requirements.txt / environment.yml are the project's, not the server's current folder's
    env = with_project_paths(copy.deepcopy(project_env), project)
    excludes = env.get("excludes") or []
    if not isinstance(excludes, list) or not all(isinstance(x, str) for x in excludes):
        raise BadRequest(
            f"`excludes` in {RUNTIME_ENV_FILE} must be a list of gitignore-style patterns.",
            field="runtime_env.excludes",
        )
    py_modules = env.get("py_modules")
    if isinstance(py_modules, list):
        # relative local modules belong to the project, like working_dir, and must not
        # depend on the Jupyter server's current directory
        env["py_modules"] = [
            str((project / m).resolve())
            if isinstance(m, str) and not is_uri(m) and not Path(m).is_absolute() else m
            for m in py_modules
        ]
    working_dir = env.get("working_dir")
    if working_dir is None:
        local: Path | None = project
    elif not isinstance(working_dir, str):
        raise BadRequest(
            f"`working_dir` in {RUNTIME_ENV_FILE} must be a path or a URI.",
            field="runtime_env.working_dir",
        )
    elif working_dir.startswith(LOCAL_SCHEME):
        local = Path(working_dir[len(LOCAL_SCHEME):])
        env["working_dir"] = working_dir
        return JobEnvironment(env, None, local, tuple(excludes))
    elif is_uri(working_dir):
        # s3://, gs://, https://...zip: Ray downloads it on each node; nothing to upload
        return JobEnvironment(env, None, None, tuple(excludes))
    else:
        # relative to the project, never the server's current directory
        local = (project / working_dir).resolve()
        if local != root and root not in local.parents:
            raise BadRequest(
                f"`working_dir` {working_dir!r} in {RUNTIME_ENV_FILE} leaves the Jupyter root: "
                "use a folder of the project, local:///path on shared storage, or a URI.",
                field="runtime_env.working_dir",
            )
        if not local.is_dir():
            raise BadRequest(
                f"`working_dir` {working_dir!r} in {RUNTIME_ENV_FILE} is not a folder "
                f"({to_api_path(root, local) or '/'}).",
                field="runtime_env.working_dir",
            )
    assert local is not None
    if _shared_root_of(local, shared_roots):
        # every node sees this path: nothing to upload, no size limit, no copy per job
        env["working_dir"] = f"{LOCAL_SCHEME}{local}"
        return JobEnvironment(env, None, local, tuple(excludes))
    env["working_dir"] = str(local)
    return JobEnvironment(env, local, local, tuple(excludes))
