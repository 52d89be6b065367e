"""Storage errors: each one a RayDevError with its HTTP status and a message a person can act on.

They live here rather than in ``jupyter_ray_dev.errors`` so the storage package is
self-contained; the handlers' base class turns any RayDevError into JSON.
"""

from __future__ import annotations

from ..errors import BadRequest, NotFound, RayDevError


class StorageRootNotFound(NotFound):
    reason = "storage_root_not_found"


class StorageNotFound(NotFound):
    reason = "storage_not_found"


class PathRejected(BadRequest):
    """The path is malformed or tries to leave its root (``..``, absolute, encoded, NUL...)."""

    reason = "path_rejected"


class NotADirectory(BadRequest):
    reason = "not_a_directory"


class IsADirectory(BadRequest):
    reason = "is_a_directory"


class PathOutsideRoot(RayDevError):
    """The path is well-formed but resolves outside its root (a symlink pointing out)."""

    status = 403
    reason = "path_outside_root"


class StoragePermissionDenied(RayDevError):
    status = 403
    reason = "storage_permission_denied"


class ReadOnlyRoot(RayDevError):
    status = 403
    reason = "storage_read_only"


class StorageConflict(RayDevError):
    """The target exists, a folder is not empty, or an upload chunk is out of order."""

    status = 409
    reason = "storage_conflict"


class PayloadTooLarge(RayDevError):
    status = 413
    reason = "payload_too_large"


class RangeNotSatisfiable(RayDevError):
    status = 416
    reason = "range_not_satisfiable"


class StorageUnreachable(RayDevError):
    """The backend did not answer (endpoint down, DNS, timeout, a hung NFS mount)."""

    status = 503
    reason = "storage_unreachable"


class StorageBackendMissing(RayDevError):
    """The root needs a package that is not installed (s3fs, gcsfs)."""

    status = 503
    reason = "storage_backend_missing"


class StorageConfigInvalid(RayDevError):
    """``c.RayDev.storage_roots`` cannot be used: the server's setup, not the request."""

    status = 503
    reason = "storage_config_invalid"


class UploadNotFound(NotFound):
    reason = "upload_not_found"
