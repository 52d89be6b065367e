"""Is this runtime_env valid, and what will go wrong with it? Errors and warnings, each
naming the field (``pip.packages[2]``, ``env_vars.API_TOKEN``).

Three layers, cheapest first:

1. the JSON Schema (the same file the editor's form is generated from): precise paths;
2. the checks Ray makes across fields (one of pip/uv/conda; image_uri alone), with the fix;
3. Ray's own validator, ``ray.runtime_env.RuntimeEnv(**env)``: the truth. Our verdict is
   always Ray's: when Ray accepts what layers 1-2 refused (a newer Ray, a plugin field),
   their findings become warnings; when Ray refuses what they let through, Ray's message
   is the error.

Then warnings Ray cannot give: the working_dir upload over the dashboard's limit, s3://
or gs:// URIs that need smart_open on every node, values of secret-looking env vars
written in the file.

Blocking (imports Ray, walks folders): the service runs it in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project.files import DASHBOARD_UPLOAD_LIMIT, describe_size, measure_upload
from ..project.runtime_env import is_uri, with_project_paths
from .schema import schema_validator

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
INSTALLERS = ("pip", "uv", "conda")
IMAGE_FIELDS = ("image_uri", "container")
IMAGE_COMPANIONS = {"config", "env_vars"}  # Ray allows these beside image_uri/container
LOCAL_SCHEME = "local://"
SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
    r"CREDENTIAL|AUTH)", re.I)
ENV_REFERENCE = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$")


def format_path(parts: Iterable[Any]) -> str:
    """('pip', 'packages', 2) -> 'pip.packages[2]'; odd keys are quoted: env_vars["A.B"]."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f'["{part}"]'
    return out


@dataclass
class Finding:
    path: str
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "fix": self.fix}


@dataclass
class Verdict:
    valid: bool
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    ray_checked: bool = False  # False: Ray is not installed here, the schema decided

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
            "ray_checked": self.ray_checked,
        }


# --- 1. schema ----------------------------------------------------------------------------
_JSON_TYPES = {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
               float: "number", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _schema_message(err: Any) -> str:
    where = format_path(err.absolute_path) or "runtime_env"
    custom = err.schema.get("errorMessage") if isinstance(err.schema, dict) else None
    if custom:
        return f"`{where}` {custom}; got {err.instance!r}."
    if err.validator == "type":
        wanted = err.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        hint = ""
        if wanted == "string" and not isinstance(err.instance, (dict, list)):
            hint = f" (write {str(err.instance)!r} in quotes in YAML)" if err.instance is not None \
                else " (write '' for an empty value)"
        return f"`{where}` must be {_a(wanted)}, not {_a(_kind(err.instance))}{hint}."
    if err.validator == "additionalProperties":
        return f"`{where}`: {err.message}."
    if err.validator == "required":
        return f"`{where}`: {err.message}."
    if err.validator in ("anyOf", "oneOf"):
        return f"`{where}` has the wrong shape: {err.message}."
    return f"`{where}`: {err.message}."


def schema_findings(env: Any) -> list[Finding]:
    from jsonschema.exceptions import best_match

    findings = []
    for err in sorted(schema_validator().iter_errors(env), key=lambda e: list(e.absolute_path)):
        best = best_match([err]) if err.context else err
        if isinstance(err.schema, dict) and err.schema.get("errorMessage"):
            best = err  # the schema says it better than any branch of it
        # anyOf over shapes: the deepest error of the branch matching the value's own type
        if err.validator == "anyOf" and err.context:
            same_type = [c for c in err.context
                         if c.validator != "type" and len(c.absolute_path) > len(err.absolute_path)]
            if same_type:
                best = best_match(same_type)
        findings.append(Finding(format_path(best.absolute_path), _schema_message(best)))
    return findings


# --- 2. across fields ------------------------------------------------------------------------
def conflict_findings(env: Mapping[str, Any]) -> list[Finding]:
    findings = []
    installers = [k for k in INSTALLERS if env.get(k) is not None]
    if len(installers) > 1:
        a, b = installers[0], installers[1]
        fix = {
            ("pip", "conda"): "Move the pip packages into the conda environment, as a `pip:` "
                              "entry under its dependencies, and remove the top-level `pip`.",
            ("pip", "uv"): "Keep one installer: uv is faster and takes the same package list.",
            ("uv", "conda"): "Move the packages into the conda environment (a `pip:` entry "
                             "under its dependencies) and remove `uv`.",
        }.get((a, b))
        findings.append(Finding(
            b, f"`{a}` and `{b}` cannot both be set: Ray installs packages with one of pip, "
               f"uv and conda per environment.", fix))
    images = [k for k in IMAGE_FIELDS if env.get(k) is not None]
    if images:
        others = sorted(k for k, v in env.items()
                        if v is not None and k not in IMAGE_COMPANIONS and k not in images)
        if others:
            findings.append(Finding(
                images[0],
                f"`{images[0]}` runs workers in a container image, which Ray combines only "
                f"with env_vars and config; this environment also sets {', '.join(others)}.",
                f"Bake {', '.join(others)} into the image (the Dockerfile), or remove "
                f"`{images[0]}` to use them on the cluster's own image."))
    return findings


# --- 3. Ray ----------------------------------------------------------------------------------
class RayMissing(Exception):
    pass


def ray_error(env: Mapping[str, Any]) -> str | None:
    """Ray's own verdict: None when ``RuntimeEnv(**env)`` accepts ``env``, else its message."""
    try:
        from ray.runtime_env import RuntimeEnv
    except ImportError as err:
        raise RayMissing(str(err)) from err
    try:
        RuntimeEnv(**env)
    except Exception as err:  # ValueError, TypeError, and whatever a plugin's check raises
        return f"{type(err).__name__}: {err}" if not isinstance(err, (ValueError, TypeError)) \
            else str(err)
    return None


_RAY_SUBSCRIPTS = re.compile(r"runtime_env((?:\['[^']+'\])+)")


def _ray_path(message: str, env: Mapping[str, Any]) -> str:
    """The field a message of Ray's is about: runtime_env['pip']['pip_check'] names it,
    else the first top-level field the message mentions."""
    m = _RAY_SUBSCRIPTS.search(message)
    if m:
        return format_path(re.findall(r"\['([^']+)'\]", m.group(1)))
    best: tuple[int, str] | None = None
    for key in env:
        m = re.search(rf"(?<![A-Za-z_]){re.escape(str(key))}(?![A-Za-z_])", message)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), str(key))
    if best:
        return best[1]
    for key, value in env.items():  # "/x/req.txt is not a valid file": the field holding it
        if isinstance(value, Mapping):
            value = value.get("packages")
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, str) and item and Path(item).name in message:
                return format_path([key, i]) if isinstance(value, list) else str(key)
    return ""


# --- warnings Ray cannot give ---------------------------------------------------------------
def uri_findings(env: Mapping[str, Any]) -> list[Finding]:
    findings = []
    places: list[tuple[str, Any]] = [("working_dir", env.get("working_dir"))]
    mods = env.get("py_modules")
    if isinstance(mods, list):
        places += [(f"py_modules[{i}]", m) for i, m in enumerate(mods)]
    for path, value in places:
        if not isinstance(value, str):
            continue
        scheme = value.split("://", 1)[0].lower() if is_uri(value) else ""
        extra = {"s3": "s3", "gs": "gcs"}.get(scheme)
        if extra:
            findings.append(Finding(
                path,
                f"Ray downloads {scheme}:// URIs with smart_open: every node (head and "
                f"workers) needs `smart_open[{extra}]` installed, or the job fails while its "
                f"environment is set up.",
                f"Install `smart_open[{extra}]` in the cluster's image (pip install "
                f"'smart_open[{extra}]'), or keep the code on storage every node mounts and "
                f"use local:///path."))
    return findings


def secret_findings(env: Mapping[str, Any]) -> list[Finding]:
    env_vars = env.get("env_vars")
    if not isinstance(env_vars, Mapping):
        return []
    findings = []
    for name, value in env_vars.items():
        if not isinstance(value, str) or not value or ENV_REFERENCE.match(value):
            continue
        if SECRET_NAME.search(str(name)):
            findings.append(Finding(
                format_path(["env_vars", name]),
                f"`{name}` looks like a secret, and its value is written in runtime_env.yaml "
                f"in plain text (and shown in the Ray dashboard with the job).",
                f"Set {name} on the cluster instead (a Kubernetes Secret in the RayCluster's "
                f"env) and write `{name}: ${{{name}}}` here: Ray takes the value from the "
                f"node's environment."))
    return findings


@dataclass(frozen=True)
class Place:
    """Where the environment is used: the project folder, for the working_dir checks."""

    project: Path
    root: Path
    shared_roots: tuple[Path, ...] = ()
    upload_limit: int = DASHBOARD_UPLOAD_LIMIT


def local_working_dir(env: Mapping[str, Any], place: Place) -> tuple[Path | None, bool]:
    """(the local folder Ray would upload or use, whether it is uploaded)."""
    wd = env.get("working_dir")
    if wd is None:
        folder = place.project
    elif not isinstance(wd, str):
        return None, False
    elif wd.startswith(LOCAL_SCHEME):
        return Path(wd[len(LOCAL_SCHEME):]), False
    elif is_uri(wd):
        return None, False
    else:
        folder = (place.project / wd).resolve()
    shared = any(folder == s or s in folder.parents for s in place.shared_roots)
    return folder, not shared


def working_dir_findings(env: Mapping[str, Any], place: Place) -> list[Finding]:
    folder, uploaded = local_working_dir(env, place)
    if folder is None or not uploaded:
        return []
    if folder != place.root and place.root not in folder.parents:
        return [Finding("working_dir",
                        f"`working_dir` {env.get('working_dir')!r} leaves the Jupyter root.",
                        "Use a folder of the project, local:///path on shared storage, or a "
                        "URI.")]
    if not folder.is_dir():
        return [Finding("working_dir", f"`working_dir` {env.get('working_dir')!r} is not a "
                        "folder of the project.", "Create it, or fix the path (relative to "
                        "the project).")]
    excludes = env.get("excludes")
    excludes = excludes if isinstance(excludes, list) and all(
        isinstance(x, str) for x in excludes) else []
    size = measure_upload(folder, excludes)
    if size.total_bytes <= place.upload_limit:
        return []
    largest = ", ".join(f"{p} ({describe_size(n)})" for p, n in size.top(3))
    return [Finding(
        "working_dir",
        f"Ray would upload {describe_size(size.total_bytes)} ({size.files} files) for the "
        f"working_dir, over the {describe_size(place.upload_limit)} Ray's dashboard accepts: "
        f"jobs from this project would be refused. Largest: {largest}.",
        "List data, checkpoints and environments in the project's .rayignore (or `excludes`) "
        "and read data from shared or object storage; or put the project on storage every "
        "node mounts (c.RayDev.shared_roots) so jobs use it in place.")]


# --- all together ----------------------------------------------------------------------------
def validate(env: Any, place: Place | None = None, *, use_ray: bool = True) -> Verdict:
    if not isinstance(env, Mapping):
        return Verdict(False, [Finding("", f"A runtime_env is a mapping of fields, not a "
                                           f"{_kind(env)}.")], ray_checked=False)
    ours = schema_findings(env)
    for conflict in conflict_findings(env):
        if not any(f.path == conflict.path for f in ours):
            ours.append(conflict)
    warnings: list[Finding] = []
    ray_checked = False
    if use_ray:
        try:
            message = ray_error(with_project_paths(env, place.project) if place else dict(env))
            ray_checked = True
        except RayMissing:
            message = None
        if ray_checked and message is None:
            # Ray is the truth: what it accepts is valid, though we would not write it so
            warnings += [Finding(f.path, f"{f.message} (Ray accepts it.)", f.fix) for f in ours]
            ours = []
        elif ray_checked and not ours:
            ours = [Finding(_ray_path(message or "", env),
                            f"Ray refuses this runtime_env: {message}")]
    errors = ours
    if not errors and isinstance(env, Mapping):
        warnings += uri_findings(env) + secret_findings(env)
        if env.get("container") is not None:
            warnings.append(Finding("container", "`container` is deprecated by Ray.",
                                    "Use image_uri: <image> instead."))
        if place is not None:
            warnings += working_dir_findings(env, place)
    return Verdict(not errors, errors, warnings, ray_checked)
