"""Artifact storage: configured roots (local/NFS folders, s3://, gs://) browsed safely.

Pure Python, no Tornado: the handlers, magics and CLI all call ``StorageService``.
Importing this package is cheap; fsspec backends (s3fs, gcsfs) load on first use.

    roots.py       c.RayDev.storage_roots: parsing, validation, defaults (artifacts, NFS mounts)
    paths.py       the one path syntax: relative, no '..', no encodings, no NUL
    backends/      Backend interface; local (fd-confined), s3 (s3fs), gcs (gcsfs)
    cursor.py      opaque page cursors over the backend's own position
    preview.py     bounded previews: text head/tail, JSON, CSV, Parquet, images, notebooks
    ray_layout.py  Tune experiment / trial, Train V2 run, checkpoints
    uploads.py     chunked, resumable, atomic uploads
    service.py     StorageService: what the three faces call
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import by_module, exports

if TYPE_CHECKING:
    from .roots import StorageRoot, default_roots, parse_roots
    from .service import Download, StorageService

# Loaded on first use (PEP 562): the server imports this package at start-up for the
# error types and the default roots, and the service with its backends, previews and
# uploads is most of the extension's import time.
_LAZY = by_module(
    roots="StorageRoot default_roots parse_roots",
    service="Download StorageService",
)

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
