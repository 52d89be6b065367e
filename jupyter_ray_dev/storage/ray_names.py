"""The names Ray Train and Tune give their files and folders.

Apart from ``ray_layout`` (which reads those folders through a backend) so that the
local lister's child process, below the backends, can hint checkpoints in the pages
it lists without importing the backends.
"""

from __future__ import annotations

from typing import Any

TUNER_PKL = "tuner.pkl"
EXPERIMENT_STATE_PREFIX = "experiment_state-"
TRIAL_FILES = ("params.json", "result.json", "progress.csv")
SNAPSHOT = "checkpoint_manager_snapshot.json"
CHECKPOINT_PREFIX = "checkpoint_"
PROBED_FILES = (TUNER_PKL, *TRIAL_FILES, SNAPSHOT)


def mark_checkpoints(entries: list[dict[str, Any]]) -> None:
    """Hint the ``checkpoint_*`` folders of a listing page (one loop, not a call per entry:
    a walk sees 100k entries)."""
    for entry in entries:
        if entry["kind"] == "directory" and entry["name"].startswith(CHECKPOINT_PREFIX):
            entry["ray_hint"] = "checkpoint"
