"""Jobs: run a project's .py or .ipynb as a Ray job, watch it, stop it, re-run it.

Importing this package is cheap: ray, nbconvert and yaml are imported on first
use, in a worker thread; the service loads on first use (PEP 562), so the faces can
read the request model (``settings``) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import exports

if TYPE_CHECKING:
    from .logs import TERMINAL, LogFollower
    from .service import (
        JobsConfig,
        JobsService,
        WorkingDirTooLarge,
        error_summary,
        job_document,
    )
    from .settings import JobSettings, Resources
    from .store import JobRecord, JobStore, default_store_path

_LAZY = {
    "TERMINAL": "logs",
    "LogFollower": "logs",
    "JobsConfig": "service",
    "JobsService": "service",
    "WorkingDirTooLarge": "service",
    "error_summary": "service",
    "job_document": "service",
    "JobSettings": "settings",
    "Resources": "settings",
    "JobRecord": "store",
    "JobStore": "store",
    "default_store_path": "store",
}

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
