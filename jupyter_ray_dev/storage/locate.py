"""Which configured root a URI a user typed falls in (``%ray_ls s3://bucket/x``).

The API names a root and a path inside it; people type what Ray and pyarrow
write: ``s3://bucket/prefix/file``, ``/mnt/shared/run``, or ``root:path`` with
the root's name. The deepest root containing the URI wins; a URI under no root
is refused (the roots are the only places the notebook may browse), and the
path inside the root then goes through the same checks as the API's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .errors import StorageRootNotFound
from .roots import StorageRoot


def _inside(uri: str, base: str) -> str | None:
    """The part of ``uri`` below ``base`` ('' for base itself), or None when outside it."""
    base = base.rstrip("/")
    if uri.rstrip("/") == base:
        return ""
    if base == "" or uri.startswith(base + "/"):
        return uri[len(base) + 1:] if base else uri.lstrip("/")
    return None


def locate(roots: Iterable[StorageRoot], uri: str) -> tuple[str, str]:
    """(root name, path inside it) for ``uri``."""
    roots = list(roots)
    by_name = {r.name: r for r in roots}
    name, sep, rest = uri.partition(":")
    if sep and name in by_name and not rest.startswith("//"):
        return name, rest.lstrip("/")
    if uri in by_name:
        return uri, ""
    normal = uri
    if uri.startswith("file://"):
        normal = uri[len("file://"):]
    if normal.startswith("/"):
        normal = os.path.normpath(normal)  # '..' cannot climb out: checked against roots after
    elif normal.startswith(("gcs://", "s3a://")):
        normal = ("gs://" if normal.startswith("gcs") else "s3://") + normal.split("://", 1)[1]
    best: tuple[int, str, str] | None = None
    for root in roots:
        inside = _inside(normal, root.uri())
        if inside is not None and (best is None or len(root.uri()) > best[0]):
            best = (len(root.uri()), root.name, inside)
    if best is None:
        known = ", ".join(f"{r.name} ({r.url})" for r in roots) or "none configured"
        raise StorageRootNotFound(
            f"{uri!r} is in none of the storage roots ({known}): only configured roots can be "
            "browsed. Give a URI under one of them, or `<root name>:<path>`; add a root with "
            "c.RayDev.storage_roots.",
            field="uri",
        )
    return best[1], best[2]
