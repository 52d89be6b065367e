"""Jobs: run a project's .py or .ipynb as a Ray job, watch it, stop it, re-run it.

Importing this package is cheap: ray, nbconvert and yaml are imported on first
use, in a worker thread.
"""

from .logs import TERMINAL, LogFollower
from .service import JobsConfig, JobsService, WorkingDirTooLarge, error_summary, job_document
from .settings import JobSettings, Resources
from .store import JobRecord, JobStore, default_store_path

__all__ = [
    "TERMINAL",
    "JobRecord",
    "JobSettings",
    "JobStore",
    "JobsConfig",
    "JobsService",
    "LogFollower",
    "Resources",
    "WorkingDirTooLarge",
    "default_store_path",
    "error_summary",
    "job_document",
]
