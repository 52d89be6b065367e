"""The Jupyter root: paths a request names, confined to it (no ``..``, no symlink escapes).

API paths are relative to the Jupyter server's ``root_dir`` and '/'-separated,
as in Jupyter's contents API. These functions run in a worker thread: they touch
the file system.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import BadRequest

ROOT_ENV = "RAY_DEV_ROOT_DIR"  # the Jupyter root outside the server (kernels, CLI, CI)


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
