"""What a user asks for when launching a job, validated into plain values.

Everything here is pure: a bad field becomes a ``BadRequest`` naming the field
(``resources.num_cpus``) and the fix, before anything reaches Ray. The
validated ``JobSettings`` are also what the history stores for a re-run.
"""

from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BadRequest
from ..request_model import REQUIRED, Flag, RequestModel, option

RUNNABLE_SUFFIXES = (".py", ".ipynb")
MAGICS_MODES = ("comment", "error")
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory", "custom")
# Ray keeps resource amounts in units of 1/10000 (ray._raylet.RESOURCE_UNIT_SCALING):
# a smaller non-zero amount would silently become 0.
_MIN_FRACTION = 0.0001
_MAX_ARG_CHARS = 100_000


@dataclass(frozen=True)
class Resources:
    """Entrypoint resources: what the driver process itself reserves on the cluster."""

    num_cpus: float | None = None
    num_gpus: float | None = None
    memory: int | None = None  # bytes
    custom: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}

    def submit_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``JobSubmissionClient.submit_job``."""
        return {
            "entrypoint_num_cpus": self.num_cpus,
            "entrypoint_num_gpus": self.num_gpus,
            "entrypoint_memory": self.memory,
            "entrypoint_resources": dict(self.custom) or None,
        }


def _file(value: Any, name: str = "file") -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(
            "Give the file to run as `file`: a .py or .ipynb path relative to the Jupyter root, "
            "e.g. 'my-project/train.py'.",
            field="file",
        )
    if not value.endswith(RUNNABLE_SUFFIXES):
        raise BadRequest(
            f"{value!r} cannot run as a Ray job: only Python scripts (.py) and notebooks "
            "(.ipynb) can.",
            field="file",
        )
    return value


def _project(value: Any, name: str = "project") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(
            "`project` must be a folder path relative to the Jupyter root (or be left out to "
            "use the folder of the file, or the nearest one above it with a runtime_env.yaml).",
            field="project",
        )
    return value


def _magics(value: Any, name: str = "magics") -> str:
    if value is None:
        return "comment"
    if value not in MAGICS_MODES:
        raise BadRequest(
            f"`magics` must be one of {', '.join(MAGICS_MODES)}: 'comment' turns IPython magics "
            "and shell escapes into no-ops and reports them, 'error' refuses the notebook.",
            field="magics",
        )
    return value


@dataclass(frozen=True)
class JobSettings(RequestModel):
    """A launch request after validation: enough to launch the same job again (the history
    stores it for a re-run)."""

    what = "job request"

    file: str = option(
        REQUIRED, raw=True, check=_file, path="cwd",
        help="the .py or .ipynb to run; relative to the Jupyter root (REST) or the current "
             "directory (command line)",
        cli=(Flag(("file",), help="the .py or .ipynb (options go before it)"),))
    project: str | None = option(
        raw=True, check=_project, path="cwd", short="-p",
        help="project folder, the job's working_dir (default: the nearest folder up from the "
             "file with a runtime_env.yaml, else the file's folder)")
    args: tuple[str, ...] = option(
        (), raw=True, check=lambda v, n: parse_args(v),
        help="arguments for the script: a list of strings, or one string split like a shell",
        cli=(Flag(("args",), nargs=argparse.REMAINDER,
                  help="arguments for the script: everything after the file"),))
    resources: Resources = option(
        raw=True, check=lambda v, n: parse_resources(v), default_factory=Resources,
        help="what the driver reserves: num_cpus, num_gpus, memory (bytes), custom",
        cli=(Flag(("--cpus",), key="num_cpus", type=float, help="CPUs the driver reserves"),
             Flag(("--gpus",), key="num_gpus", type=float, help="GPUs the driver reserves")))
    magics: str = option(
        "comment", raw=True, check=_magics, choices=MAGICS_MODES,
        help="notebooks: comment skips IPython-only lines with a warning, error refuses them")

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "project": self.project,
            "args": list(self.args),
            "resources": self.resources.to_dict(),
            "magics": self.magics,
        }


def _storage_uri(value: str, name: str) -> str | None:
    return value.strip() or None  # blank: the default destination


@dataclass(frozen=True)
class SaveLogRequest(RequestModel):
    """Where a finished job's log is copied in storage (``POST /jobs/<id>/logs/save``)."""

    what = "log save request"

    dest: str | None = option(
        check=_storage_uri, metavar="URI",
        help="a storage URI (s3://..., gs://..., root:path; a root or a folder ending in / "
             "gets <submission id>.log); default: the artifacts root, ray-dev-logs/<project>/",
        cli=(Flag(("--save",), nargs="?", const="", metavar="URI",
                  help="copy the finished job's log into storage (s3://..., gs://..., "
                       "root:path; a folder gets <job>.log); no URI: the artifacts root, "
                       "ray-dev-logs/<project>/"),))
    overwrite: bool = option(False, help="replace a log saved there before")


def parse_args(value: Any) -> tuple[str, ...]:
    """Arguments as a list of strings, or one string split the way a shell would."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as err:
            raise BadRequest(
                f"`args` could not be split like a shell command line ({err}): close the quote, "
                "or pass the arguments as a JSON list of strings.",
                field="args",
            ) from err
    if not isinstance(value, list):
        raise BadRequest(
            "`args` must be a list of strings (or one string, split like a shell command line).",
            field="args",
        )
    for i, arg in enumerate(value):
        if not isinstance(arg, str):
            raise BadRequest(
                f"Argument {i} is {type(arg).__name__} {arg!r}: every argument must be a "
                "string, e.g. \"--epochs\", \"3\".",
                field=f"args[{i}]",
            )
        if "\x00" in arg or len(arg) > _MAX_ARG_CHARS:
            raise BadRequest(
                f"Argument {i} contains a NUL character or is over {_MAX_ARG_CHARS} characters: "
                "pass large inputs through a file in the project instead.",
                field=f"args[{i}]",
            )
    return tuple(value)


def _amount(value: Any, name: str, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"`{name}` must be a number, got {value!r}. {hint}", field=name)
    if value < 0:
        raise BadRequest(f"`{name}` cannot be negative ({value}). {hint}", field=name)
    if 0 < value < _MIN_FRACTION:
        raise BadRequest(
            f"`{name}` = {value} is below Ray's smallest fraction ({_MIN_FRACTION}), which "
            f"Ray would round to 0. {hint}",
            field=name,
        )
    return value


def parse_resources(value: Any) -> Resources:
    if value is None:
        return Resources()
    if not isinstance(value, dict):
        raise BadRequest(
            '`resources` must be an object like {"num_cpus": 1, "num_gpus": 0, '
            '"memory": 2147483648, "custom": {"my_resource": 1}}.',
            field="resources",
        )
    for key in value:
        if key not in RESOURCE_KEYS:
            raise BadRequest(
                f"Unknown resource field {key!r}. Use num_cpus, num_gpus, memory (bytes) or "
                "custom (an object of custom resource names to amounts).",
                field=f"resources.{key}",
            )
    num_cpus = num_gpus = memory = None
    if value.get("num_cpus") is not None:
        num_cpus = _amount(value["num_cpus"], "resources.num_cpus",
                           "Give the CPUs the driver reserves, e.g. 1 or 0.5.")
    if value.get("num_gpus") is not None:
        num_gpus = _amount(value["num_gpus"], "resources.num_gpus",
                           "Give the GPUs the driver reserves, e.g. 1 or 0.5.")
        if num_gpus > 1 and num_gpus != int(num_gpus):
            raise BadRequest(
                f"`resources.num_gpus` = {num_gpus}: Ray accepts fractions of one GPU, but "
                "amounts above 1 must be whole numbers (e.g. 1 or 2).",
                field="resources.num_gpus",
            )
    if value.get("memory") is not None:
        raw = value["memory"]
        amount = _amount(raw, "resources.memory", "Give bytes, e.g. 2147483648 for 2 GiB.")
        if amount != int(amount):
            raise BadRequest(
                f"`resources.memory` must be a whole number of bytes, got {raw!r} "
                "(e.g. 2147483648 for 2 GiB).",
                field="resources.memory",
            )
        memory = int(amount)
    custom: dict[str, float] = {}
    raw_custom = value.get("custom") or {}
    if not isinstance(raw_custom, dict):
        raise BadRequest(
            '`resources.custom` must be an object of resource names to amounts, e.g. '
            '{"my_resource": 1}.',
            field="resources.custom",
        )
    for name, amount in raw_custom.items():
        where = f"resources.custom.{name}"
        if not name or name.strip() != name:
            raise BadRequest(f"Custom resource name {name!r} is empty or has spaces.", field=where)
        if name in ("CPU", "GPU", "memory", "object_store_memory"):
            raise BadRequest(
                f"{name!r} is not a custom resource: use resources.num_cpus, resources.num_gpus "
                "or resources.memory.",
                field=where,
            )
        custom[name] = _amount(amount, where, "Give the amount of this custom resource, e.g. 1.")
    return Resources(num_cpus=num_cpus, num_gpus=num_gpus, memory=memory, custom=custom)
