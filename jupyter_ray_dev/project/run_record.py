"""The record of what each run used: the environment its driver really ran in, the
runtime_env it was submitted with, and the project's files at submission.

A job's driver runs through the launcher (``ray_dev_record``, shipped with the job
as a ``py_modules`` entry), which writes a JSON file into the server's records
folder when the driver starts and when it ends. The jobs capability keeps the
submission's side (runtime_env, file digests) in its store and ingests the
launcher's file when the job has ended; promote pins from the result. This module
is the pure part: the launcher's command and shipping, masking, the file
digests, and reading the launcher's file back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .digest import stat_digest
from .ray_dev_record import FORMAT, MASK, RECORDS_KEY, canonical, secret_reason

LAUNCHER = "ray_dev_record"  # the module the job's interpreter runs (`python -m ...`)
RECORDS_DIR = "runs"  # beside the job store: <jupyter data dir>/ray_dev/runs/<id>.json
# runtime_env fields Ray allows only with env_vars and config: no py_modules for the launcher
_IMAGE_FIELDS = ("image_uri", "container")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
# what a run's state means, for the review and the API
STATES = {
    "pending": "the run has not ended yet",
    "recorded": "recorded by the launcher when the driver ended",
    "partial": "the driver started but never finished its record (stopped or killed): "
               "what it imported is unknown",
    "missing": "the run ended without a record",
    "not_recorded": "the run was not recorded",
}


def launcher_dir() -> Path:
    """The launcher's package folder, shipped with each job as a ``py_modules`` entry."""
    return Path(__file__).with_name(LAUNCHER)


def not_recordable(runtime_env: Mapping[str, Any]) -> str | None:
    """Why a job with this runtime_env cannot run through the launcher (None: it can)."""
    for key in _IMAGE_FIELDS:
        if runtime_env.get(key):
            return (f"the runtime_env sets `{key}`: the driver runs in that image, with which "
                    "Ray allows no py_modules to ship the recorder")
    return None


def with_launcher(runtime_env: dict[str, Any]) -> dict[str, Any]:
    """The runtime_env plus the launcher's folder in ``py_modules`` (content-addressed by
    Ray: uploaded once per cluster, unpacked once per node)."""
    modules = list(runtime_env.get("py_modules") or [])
    return {**runtime_env, "py_modules": [*modules, str(launcher_dir())]}


def launch_command(python: list[str], target: list[str]) -> list[str]:
    """``python -m ray_dev_record <script.py | -m module> args...``"""
    return [*python, "-m", LAUNCHER, *target]


def records_dir(store_path: Path) -> Path:
    return store_path.parent / RECORDS_DIR


def record_file(folder: Path, submission_id: str) -> Path:
    return folder / f"{submission_id}.json"


def job_metadata(folder: Path) -> dict[str, str]:
    """What the job's metadata carries for the launcher (Ray hands it to the driver)."""
    return {RECORDS_KEY: str(folder)}


# --- masking --------------------------------------------------------------------------------

def _mask_strings(value: Any) -> Any:
    """Credentials in URLs (an index URL with user:password@) become ``********@``."""
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(f"{MASK}@", value)
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _mask_strings(v) for k, v in value.items()}
    return value


def mask_runtime_env(runtime_env: Mapping[str, Any]) -> dict[str, Any]:
    """The runtime_env as it may be shown: secret-looking env var values (by name or
    value, the rules that keep them out of images) masked, ``${VAR}`` references kept,
    credentials in URLs masked."""
    out: dict[str, Any] = {}
    for key, value in runtime_env.items():
        if key == "env_vars" and isinstance(value, Mapping):
            out[key] = {name: (MASK if isinstance(v, str) and not v.startswith("${")
                               and secret_reason(name, v) else v)
                        for name, v in value.items()}
        else:
            out[key] = _mask_strings(value)
    return out


# --- the project's files --------------------------------------------------------------------

def file_digests(files: Iterable[tuple[str, os.stat_result]], base: Path | str) -> dict[str, str]:
    """{path relative to ``base`` ('/'-separated): sha256} of the walked files."""
    prefix = os.path.join(str(base), "")
    out = {}
    for path, st in files:
        rel = path[len(prefix):] if path.startswith(prefix) else os.path.relpath(path, base)
        out[rel.replace(os.sep, "/")] = stat_digest(path, st)
    return out


def files_hash(digests: Mapping[str, str]) -> str:
    lines = "".join(f"{name}\0{digests[name]}\n" for name in sorted(digests))
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def changed_files(recorded: Mapping[str, str], current: Mapping[str, str],
                  present: Iterable[str] = (), limit: int = 200) -> dict[str, Any]:
    """What changed in the project since the run: ``modified``, ``added``, ``removed``
    (each at most ``limit`` names, with the full ``counts``). ``present``: files the run
    had that still exist but are not compared (kept out of the image by .dockerignore)."""
    present = set(present)
    modified = sorted(n for n in current if n in recorded and recorded[n] != current[n])
    added = sorted(n for n in current if n not in recorded)
    removed = sorted(n for n in recorded if n not in current and n not in present
                     and not n.startswith("../"))
    return {"modified": modified[:limit], "added": added[:limit], "removed": removed[:limit],
            "counts": {"modified": len(modified), "added": len(added),
                       "removed": len(removed)},
            "changed": bool(modified or added or removed)}


# --- the launcher's file --------------------------------------------------------------------

class UnreadableRecord(ValueError):
    """The launcher's file exists but cannot be used (not JSON, another format)."""


def read_launcher_file(path: Path) -> dict[str, Any] | None:
    """The launcher's record, None when there is no file; UnreadableRecord when it is
    not a record this server understands."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UnreadableRecord(f"cannot read {path.name}: {err}") from err
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise UnreadableRecord(f"{path.name} is not JSON: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UnreadableRecord(f"{path.name} is not a run record of format {FORMAT}")
    return data


def environment_from_paths(paths: list[str]) -> dict[str, Any]:
    """The distributions on a run's ``sys.path``, read by the server after a driver that
    never finished its record (its interpreter's folders are on this machine)."""
    import importlib.metadata as metadata

    from .ray_dev_record import _header

    versions: dict[str, str] = {}
    existing = [p for p in paths if os.path.isdir(p)]
    for dist in metadata.distributions(path=existing):
        try:
            name, version = _header(dist.read_text("METADATA") or dist.read_text("PKG-INFO")
                                    or "")
        except Exception:  # noqa: BLE001 - a broken install must not lose the rest
            continue
        if name and version:
            versions.setdefault(canonical(name), version)
    return {"distributions": dict(sorted(versions.items()))} if existing else {}


# --- the record ------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """One run of a project: what was submitted, and what its driver really ran in."""

    submission_id: str
    root: str  # the Jupyter root (real path) the project's path is relative to
    project: str  # API path of the project folder
    file: str  # API path of the .py/.ipynb
    created: float  # submission time
    runtime_env: dict[str, Any]  # as submitted, masked
    state: str = "pending"  # see STATES
    status: str | None = None  # Ray's final status (or the driver's exit code's meaning)
    ended: float | None = None
    files_hash: str | None = None
    files: dict[str, str] | None = None  # relative path -> sha256 (loaded on demand)
    environment: dict[str, Any] = field(default_factory=dict)  # the launcher's record
    note: str | None = None  # why there is no (complete) record

    @property
    def usable(self) -> bool:
        """Whether its installed versions are known (pins can come from it)."""
        return bool(self.environment.get("distributions"))

    @property
    def distributions(self) -> dict[str, str]:
        return dict(self.environment.get("distributions") or {})

    @property
    def imported(self) -> dict[str, list[str]]:
        return dict(self.environment.get("imported") or {})

    @property
    def python(self) -> dict[str, Any]:
        return dict(self.environment.get("python") or {})

    @property
    def ray_version(self) -> str | None:
        return self.distributions.get("ray")

    @property
    def time(self) -> float:
        """When the run started (its driver, else its submission)."""
        started = self.environment.get("started")
        return started if isinstance(started, (int, float)) else self.created

    def version(self, name: str) -> str | None:
        return self.distributions.get(canonical(name))

    def summary(self) -> dict[str, Any]:
        """What a list of runs shows (the promote review's source picker)."""
        env = self.environment
        return {
            "submission_id": self.submission_id, "project": self.project, "file": self.file,
            "created": self.created, "started": env.get("started"), "ended": self.ended,
            "status": self.status, "state": self.state,
            "state_message": self.note or STATES.get(self.state),
            "usable": self.usable,
            "python_version": self.python.get("version"), "ray_version": self.ray_version,
            "distribution_count": len(self.distributions),
            "imported_count": len(self.imported),
            "files_hash": self.files_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole record, as ``GET /jobs/<id>/record`` returns it."""
        env = self.environment
        return {
            **self.summary(),
            "runtime_env": self.runtime_env,
            "python": self.python or None,
            "exit_code": env.get("exit_code"), "error": env.get("error"),
            "distributions": self.distributions,
            "imported": self.imported,
            "local_modules": list(env.get("local_modules") or []),
            "env_vars": dict(env.get("env_vars") or {}),
            "files": self.files,
            "record_seconds": env.get("record_seconds"),
        }


def settle(record: RunRecord, launcher: dict[str, Any] | None, ray_status: str | None,
           ray_ended: float | None, terminal: bool) -> bool:
    """Fold what is known now into a pending record: the launcher's file (None when
    absent) and Ray's status (``terminal``: Ray says it ended, or forgot the job). True
    when the record is final (the launcher's file can go)."""
    if launcher is not None and launcher.get("phase") == "finished":
        record.environment = {k: v for k, v in launcher.items() if k not in ("format", "phase")}
        record.state = "recorded"
        code = launcher.get("exit_code")
        record.status = ray_status if terminal and ray_status else (
            "SUCCEEDED" if code == 0 else "FAILED")
        record.ended = ray_ended or launcher.get("finished")
        return True
    if not terminal:
        return False
    record.status = ray_status
    record.ended = ray_ended
    if launcher is not None:
        env = {k: v for k, v in launcher.items() if k not in ("format", "phase")}
        env.update(environment_from_paths(list(launcher.get("sys_path") or [])))
        record.environment = env
        record.state = "partial"
        record.note = STATES["partial"] + (
            "" if env.get("distributions") else "; its environment is gone, so its "
            "installed versions are unknown too")
    else:
        record.state = "missing"
        record.note = ("the run ended without a record: its driver may have run on another "
                       "node than this server's (entrypoint resources), failed before Python "
                       "started, or the record file was deleted")
    return True
