"""Collect a project for an image: the files a container build keeps, and the entrypoint.

The walk is the project's (``project.files.iter_kept_files``: ``.gitignore``
and ``.rayignore`` in every folder, the runtime_env ``excludes``, Ray's default
excludes), plus ``.dockerignore`` read the same way and ``PROMOTE_EXCLUDES``, so what reaches the image is
what a Ray job from the same folder would have uploaded, minus what the user keeps
out of images. A notebook entrypoint is converted to a script with the project's
converter, as a job's is; the IPython-only lines it skips are reported, never silently dropped.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BadRequest, NotFound
from ..project.discovery import resolve_project_folder
from ..project.files import iter_kept_files
from ..project.notebook import convert_notebook
from ..project.root import resolve_in_root, to_api_path

DOCKERIGNORE = ".dockerignore"
# Never wanted in an image, whatever the environment says: Ray's own default excludes
# cover the last three only while RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES leaves them,
# and Jupyter's autosave copies are stale notebooks a build would bake in beside the
# real ones (and whose conversion could shadow the entrypoint's).
PROMOTE_EXCLUDES = (".ipynb_checkpoints", "__pycache__", ".git", ".venv")


@dataclass
class Entrypoint:
    source: str  # project-relative path of the file the user chose
    script: str  # project-relative path of the script the image runs
    generated: str | None = None  # the converted notebook's text, written into the context
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def command(self, workdir: str) -> str:
        """Shell command a RayJob runs: from the script's folder, as a kernel would."""
        script = PurePosixPath(self.script)
        folder = PurePosixPath(workdir) / script.parent
        return f"cd {shlex.quote(str(folder))} && python {shlex.quote(script.name)}"


@dataclass
class Collected:
    project: Path  # real path
    files: list[str]  # project-relative, '/'-separated, sorted
    stats: dict[str, os.stat_result]  # each file's, from the walk
    total_bytes: int
    excluded: list[str]  # what an ignore rule cut (a folder counts once, not its contents)
    entrypoint: Entrypoint


def collect(project: Path, entry: Path, excludes: tuple[str, ...] = (),
            on_file: Callable[[str], None] | None = None) -> Collected:
    """Runs in a worker thread: it walks the project and may run nbconvert. ``on_file``
    is given each kept file as the walk finds it (a context export archives it then)."""
    files: list[str] = []
    stats: dict[str, os.stat_result] = {}
    excluded: list[str] = []
    total = 0
    skip = len(str(project.absolute())) + 1  # string slicing: pathlib's relative_to is slow
    for path, st in iter_kept_files(project, (*PROMOTE_EXCLUDES, *excludes),
                                    extra_ignore_files=(DOCKERIGNORE,),
                                    on_skip=lambda p: excluded.append(p[skip:])):
        rel = path[skip:]
        files.append(rel)
        stats[rel] = st
        total += st.st_size
        if on_file is not None:
            on_file(rel)
    rel = entry.relative_to(project).as_posix()
    if rel not in files:
        raise BadRequest(
            f"The entrypoint {rel!r} is excluded from the image by an ignore rule "
            "(.gitignore, .rayignore, .dockerignore or runtime_env excludes): un-ignore it "
            "or choose another file.",
            field="entrypoint",
        )
    return Collected(project, files, stats, total, excluded,
                     _entrypoint(project, entry, set(files)))


def _entrypoint(project: Path, entry: Path, files: set[str]) -> Entrypoint:
    rel = PurePosixPath(entry.relative_to(project).as_posix())
    if entry.suffix == ".py":
        return Entrypoint(source=str(rel), script=str(rel))
    converted = convert_notebook(entry, str(rel), magics="comment")
    script = rel.with_suffix(".py")
    if str(script) in files:  # never shadow the user's own module of the same name
        script = rel.with_name(f"{rel.stem}_notebook.py")
    return Entrypoint(source=str(rel), script=str(script), generated=converted.script,
                      warnings=converted.warnings)


def resolve_project(root: Path, project: str, entrypoint: str | None) -> tuple[Path, Path]:
    """(project folder, entrypoint file), real and inside the Jupyter root."""
    folder = resolve_project_folder(root, project)
    if entrypoint is None:
        candidates = sorted(p for p in folder.iterdir()
                            if p.is_file() and p.suffix in (".py", ".ipynb"))
        if len(candidates) != 1:
            names = ", ".join(p.name for p in candidates[:10]) or "none"
            raise BadRequest(
                f"Choose the entrypoint: the project {project!r} has {len(candidates)} "
                f"scripts or notebooks at its top ({names}). Pass `entrypoint` (a path "
                "relative to the Jupyter root).",
                field="entrypoint",
            )
        return folder, candidates[0]
    entry = resolve_in_root(root, entrypoint, "entrypoint")
    if not entry.exists():
        raise NotFound(
            f"The entrypoint {entrypoint!r} was not found: give a .py or .ipynb path relative "
            "to the Jupyter root, as the file browser shows it.", field="entrypoint")
    if not entry.is_file() or entry.suffix not in (".py", ".ipynb"):
        raise BadRequest(
            f"The entrypoint {entrypoint!r} must be a .py or .ipynb file.", field="entrypoint"
        )
    if folder not in entry.parents:
        raise BadRequest(
            f"The entrypoint {entrypoint!r} is not inside the project "
            f"{to_api_path(root, folder)!r}: the image holds the project folder only.",
            field="entrypoint",
        )
    return folder, entry
