"""Backends behind one interface (``Backend``): local/NFS folders, S3, GCS.

``make_backend`` imports the module a root needs on first use, so s3fs and gcsfs
(and their botocore/google dependencies) are never imported at server start.
"""

from __future__ import annotations

import concurrent.futures

from ..roots import StorageRoot
from .base import Backend, Entry, Writer


def make_backend(root: StorageRoot, executor: concurrent.futures.Executor,
                 timeout: float, list_process: bool = True) -> Backend:
    if root.protocol == "file":
        from .local import LocalBackend

        return LocalBackend(root, executor, timeout, list_process=list_process)
    if root.protocol == "s3":
        from .s3 import S3Backend

        return S3Backend(root, executor, timeout)
    if root.protocol == "gs":
        from .gcs import GCSBackend

        return GCSBackend(root, executor, timeout)
    raise ValueError(f"unknown protocol {root.protocol!r}")  # parse_roots allows no other


__all__ = ["Backend", "Entry", "Writer", "make_backend"]
