"""Which project a file belongs to: the nearest folder holding a ``runtime_env.yaml``.

A project's environment lives at its top, so the folder holding that file is the
project (its working_dir when it runs). Blocking (it looks at the file system):
run it in a worker thread.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import BadRequest
from .root import resolve_in_root
from .runtime_env import RUNTIME_ENV_FILE


def find_project(root: Path, file: Path) -> Path:
    """The project a file belongs to: the nearest folder up to the root holding a
    runtime_env.yaml, else the file's folder."""
    folder = file.parent
    for candidate in (folder, *folder.parents):
        if (candidate / RUNTIME_ENV_FILE).is_file():
            return candidate
        if candidate == root:
            break
    return folder


def resolve_project_folder(root: Path, project: str) -> Path:
    """The project folder ``project`` names (relative to the root), real and inside it."""
    folder = resolve_in_root(root, project, "project")
    if folder.is_dir():
        return folder
    raise BadRequest(f"The project folder {project!r} does not exist: give a folder relative to "
                     "the Jupyter root, as the file browser shows it.", field="project")


def resolve_file_and_project(root: Path, file: str, project: str | None) -> tuple[Path, Path]:
    """(script or notebook, project folder), both real and inside the root."""
    path = resolve_in_root(root, file, "file")
    if not path.is_file():
        raise BadRequest(
            f"There is no file {file!r} in the Jupyter root {root}: check the path "
            "(relative to the root, as the file browser shows it).",
            field="file",
        )
    if project is None:
        return path, find_project(root, path)
    folder = resolve_project_folder(root, project)
    if folder not in path.parents:
        raise BadRequest(
            f"{file!r} is not inside the project folder {project!r}: the project folder is "
            "the job's working_dir, so the file must be in it. Leave `project` out to use "
            "the file's own folder.",
            field="project",
        )
    return path, folder


def project_dir(root: Path, project: str | None, cwd: Path | None = None) -> Path:
    """The project folder: ``project`` (relative to ``cwd``, or absolute), confined to the root;
    by default the nearest folder from ``cwd`` up holding a runtime_env.yaml, else ``cwd``."""
    cwd = (cwd or Path.cwd()).resolve()
    if project is None:
        here = resolve_in_root(root, str(cwd), "project")
        return find_project(root, here / "__cell__")
    # relative to where the user is, so `..` is fine while it stays inside the root
    path = resolve_in_root(root, os.path.normpath(cwd / project), "project")
    if not path.is_dir():
        raise BadRequest(f"The project folder {project!r} does not exist (looked in {cwd}).",
                         field="project")
    return path
