"""Jobs: run a project's .py or .ipynb as a Ray job, watch it, stop it, re-run it.

Importing this package is cheap: ray, nbconvert and yaml are imported on first
use, in a worker thread; the service loads on first use (PEP 562), so the faces can
read the request model (``settings``) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import by_module, exports

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

_LAZY = by_module(
    logs="TERMINAL LogFollower",
    service="JobsConfig JobsService WorkingDirTooLarge error_summary job_document",
    settings="JobSettings Resources",
    store="JobRecord JobStore default_store_path",
)

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
