"""The Jupyter root as the faces and capabilities see it: one small object, no threads.

Building it costs a ``resolve()`` of the root: the CLI's ``env show`` or a magic that
only needs a path asks this, not the jobs service (with its thread pool, job store and
Ray client). Its methods touch the file system: call them off the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .discovery import project_dir
from .root import resolve_in_root, to_api_path
from .runtime_env import load_project_runtime_env


class ProjectService:
    def __init__(self, root_dir: Path) -> None:
        self.root = Path(root_dir).resolve()

    def resolve(self, api_path: str, field: str) -> Path:
        """The real path of ``api_path`` (relative to the root, or absolute), inside it."""
        return resolve_in_root(self.root, api_path, field)

    def api_path(self, real: Path) -> str:
        return to_api_path(self.root, real)

    def folder(self, project: str | None = None, cwd: Path | None = None) -> Path:
        """The project folder ``project`` names from ``cwd``, else the one ``cwd`` is in."""
        return project_dir(self.root, project, cwd)

    def runtime_env(self, folder: Path) -> dict[str, Any]:
        """The project's runtime_env.yaml as plain values ({} without one)."""
        return load_project_runtime_env(folder)
