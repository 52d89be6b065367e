"""Paths a request names, confined to the Jupyter root (no ``..``, no symlink escapes).

API paths are relative to the Jupyter server's ``root_dir`` and '/'-separated,
as in Jupyter's contents API. These functions run in a worker thread: they touch
the file system.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import BadRequest

RUNTIME_ENV_FILE = "runtime_env.yaml"  # the project's environment (issue 4 owns its editor)


def resolve_in_root(root: Path, api_path: str, field: str) -> Path:
    """The real path of ``api_path``, guaranteed inside ``root`` (which must be resolved)."""
    if "\x00" in api_path:
        raise BadRequest(f"`{field}` contains a NUL character.", field=field)
    pure = PurePosixPath(api_path.replace("\\", "/"))
    if ".." in pure.parts:
        raise BadRequest(
            f"`{field}` {api_path!r} must not contain '..': give a path relative to the "
            "Jupyter root, as the file browser shows it.",
            field=field,
        )
    candidate = Path(pure) if pure.is_absolute() else root / pure
    # resolve() follows symlinks: a link inside the root that points outside is caught here
    real = candidate.resolve()
    if real != root and root not in real.parents:
        raise BadRequest(
            f"`{field}` {api_path!r} is outside the Jupyter root {root} (or is a symlink "
            "pointing out of it). Only files under the root can be run.",
            field=field,
        )
    return real


def to_api_path(root: Path, real: Path) -> str:
    """The '/'-separated path relative to the root ('' for the root itself)."""
    rel = real.relative_to(root)
    return "" if rel == Path(".") else rel.as_posix()


def find_project(root: Path, file: Path) -> Path:
    """The project a file belongs to: the nearest folder up to the root holding a
    runtime_env.yaml (a project's environment lives at its top), else the file's folder."""
    folder = file.parent
    for candidate in (folder, *folder.parents):
        if (candidate / RUNTIME_ENV_FILE).is_file():
            return candidate
        if candidate == root:
            break
    return folder


def resolve_job_paths(root: Path, file: str, project: str | None) -> tuple[Path, Path]:
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
    folder = resolve_in_root(root, project, "project")
    if not folder.is_dir():
        raise BadRequest(f"The project folder {project!r} does not exist.", field="project")
    if folder not in path.parents:
        raise BadRequest(
            f"{file!r} is not inside the project folder {project!r}: the project folder is "
            "the job's working_dir, so the file must be in it. Leave `project` out to use "
            "the file's own folder.",
            field="project",
        )
    return path, folder
