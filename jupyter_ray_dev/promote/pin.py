"""Pin a project's dependencies: runtime_env ``pip``/``uv``/``conda`` or requirements.txt
-> one ``requirements.txt`` of exact versions.

A loose spec (``pandas>=2``) is pinned to the version installed where the user
tested (a ``PinSource``): by default the environment a recorded run of the project
really ran in (Ray's per-job virtualenv, a shared-storage install, the head's
Python), else this server's Python environment, which is the Ray head's when
JupyterLab runs on the head pod. Every pin says where its version came from; every
package that cannot be pinned is reported with the reason; nothing is dropped
silently. ``packaging`` parses the specs exactly as pip does.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..project.root import resolve_in_root

WHEELS_DIR = "wheels"  # in the context's deps folder: local wheels/sdists the project ships
REQUIREMENTS_FILE = "requirements.txt"
_LOCAL_SUFFIXES = (".whl", ".tar.gz", ".zip")
# provided by the rayproject/ray base image at the cluster's exact version
_BASE_IMAGE_PACKAGES = {"ray"}


class PinSource:
    """Where tested versions come from: this server's Python environment."""

    kind = "server"

    def version(self, name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    def imported(self, name: str) -> bool | None:
        """Whether the tested run imported ``name`` (None: not known)."""
        return None

    @property
    def where(self) -> str:
        return "the dev cluster (this server's Python)"

    def ref(self) -> dict[str, Any]:
        """The provenance every pin carries."""
        return {"kind": self.kind, "run_id": None, "time": None}


@dataclass
class RunPinSource(PinSource):
    """The versions a recorded run had installed (``project.run_record.RunRecord``)."""

    run: Any
    kind = "run"

    def version(self, name: str) -> str | None:
        return self.run.version(name)

    def imported(self, name: str) -> bool | None:
        from packaging.utils import canonicalize_name

        return canonicalize_name(name) in self.run.imported if self.run.imported else None

    @property
    def where(self) -> str:
        return f"the run {self.run.submission_id} ({format_time(self.run.time)})"

    def ref(self) -> dict[str, Any]:
        return {"kind": self.kind, "run_id": self.run.submission_id, "time": self.run.time}


def format_time(seconds: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")


@dataclass
class Pinned:
    source: str  # where the list came from: "runtime_env.pip", "requirements.txt", ...
    lines: list[str] = field(default_factory=list)  # the locked requirements.txt
    changes: list[dict[str, Any]] = field(default_factory=list)  # spec -> pin, and why
    unpinned: list[dict[str, Any]] = field(default_factory=list)  # could not pin: why
    local_files: list[tuple[Path, str]] = field(default_factory=list)  # (real path, name)
    declared: set[str] = field(default_factory=set)  # canonical names the project lists

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    def lock_hash(self) -> str:
        """sha256 of the requirements.txt the image installs (its labels and history)."""
        import hashlib

        return hashlib.sha256(self.text().encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "requirements": self.lines, "changes": self.changes,
                "unpinned": self.unpinned,
                "local_files": [name for _, name in self.local_files]}


def _spec_list(value: Any, field_name: str, project: Path) -> tuple[list[str], Path | None]:
    """(requirement lines, the file they came from) for a pip/uv value of runtime_env."""
    if isinstance(value, dict):
        value = value.get("packages", [])
    if isinstance(value, str):
        path = resolve_in_root(project, value, field_name)
        if not path.is_file():
            raise BadRequest(f"`{field_name}` names {value!r}, which is not a file of the "
                             "project.", field=field_name)
        return path.read_text(encoding="utf-8").splitlines(), path
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return value, None
    raise BadRequest(f"`{field_name}` must be a list of requirement strings, a requirements "
                     "file path, or a mapping with `packages`.", field=field_name)


def pin_requirements(project: Path, runtime_env: dict[str, Any],
                     installed: PinSource | None = None) -> Pinned:
    """Runs in a worker thread (reads files and package metadata). ``installed``: where the
    tested versions come from (default: this server's Python)."""
    installed = installed or PinSource()
    for key in ("pip", "uv"):
        if runtime_env.get(key) is not None:
            lines, origin = _spec_list(runtime_env[key], f"runtime_env.{key}", project)
            pinned = Pinned(source=f"runtime_env.{key}")
            _pin_lines(pinned, lines, project, origin, installed)
            return pinned
    if runtime_env.get("conda") is not None:
        return _pin_conda(project, runtime_env["conda"], installed)
    req = project / REQUIREMENTS_FILE
    pinned = Pinned(source=REQUIREMENTS_FILE if req.is_file() else "")
    if req.is_file():
        _pin_lines(pinned, req.read_text(encoding="utf-8").splitlines(), project, req, installed)
    return pinned


def _pin_conda(project: Path, conda: Any, installed: PinSource) -> Pinned:
    pinned = Pinned(source="runtime_env.conda")
    if not isinstance(conda, dict):
        pinned.unpinned.append({
            "spec": str(conda),
            "reason": "a named or file conda environment cannot be read here: list its "
                      "packages in runtime_env `pip` (the image uses pip) or use a base "
                      "image that has them."})
        return pinned
    pip_lines: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            pip_lines.extend(str(x) for x in dep["pip"])
        elif isinstance(dep, str) and dep.split("=")[0].strip() not in ("python", "pip"):
            pinned.unpinned.append({
                "spec": dep,
                "reason": "a conda package: the image installs with pip; add its pip "
                          "equivalent to the pip list or use a base image that has it."})
    _pin_lines(pinned, pip_lines, project, None, installed)
    return pinned


def _pin_lines(pinned: Pinned, lines: list[str], project: Path, origin: Path | None,
               installed: PinSource, depth: int = 0) -> None:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for raw in lines:
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")) and origin is not None and depth < 5:
            # confined like every path a request names: a nested file stays in the project
            nested = resolve_in_root(project, str(origin.parent / line.split(None, 1)[1]),
                                     "requirements")
            _pin_lines(pinned, nested.read_text(encoding="utf-8").splitlines(), project,
                       nested, installed, depth + 1)
            continue
        if line.startswith("-"):
            pinned.unpinned.append({
                "spec": line,
                "reason": "pip options are not carried into the image (an index URL can "
                          "hold credentials): configure the index in the base image or CI."})
            continue
        if line.endswith(_LOCAL_SUFFIXES) and "://" not in line and "@" not in line:
            _pin_local(pinned, line, project, origin)
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as err:
            pinned.unpinned.append({"spec": line, "reason": f"not a valid requirement: {err}"})
            continue
        name = canonicalize_name(req.name)
        pinned.declared.add(name)
        source = {**installed.ref(), "imported": installed.imported(req.name)}
        if name in _BASE_IMAGE_PACKAGES:
            pinned.changes.append({"name": req.name, "spec": line, "pinned": None,
                                   "how": "base_image", "from": source,
                                   "message": "provided by the base image at the cluster's "
                                              "Ray version; not installed again."})
            continue
        if req.url:
            pinned.lines.append(str(req))
            pinned.changes.append({"name": req.name, "spec": line, "pinned": str(req),
                                   "how": "url", "from": source,
                                   "message": "pinned by its URL."})
            continue
        if req.marker is not None and not req.marker.evaluate():
            pinned.lines.append(str(req))
            pinned.unpinned.append({"spec": line, "name": req.name, "from": source,
                                    "reason": "its environment marker does not apply on the "
                                    "dev cluster, so no version was tested."})
            continue
        exact = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if exact:
            pinned.lines.append(str(req))
            pinned.changes.append({"name": req.name, "spec": line, "pinned": str(req),
                                   "how": "exact", "from": source,
                                   "message": "already exact."})
            continue
        version = installed.version(req.name)
        if version is None:
            pinned.lines.append(str(req))
            pinned.unpinned.append({
                "spec": line, "name": req.name, "from": source,
                "reason": f"{req.name} is not installed in {installed.where}, so there is no "
                "tested version to pin: run the project as a Ray job (or install it and "
                "test), or pin it yourself in the runtime_env."})
            continue
        if not req.specifier.contains(version, prereleases=True):
            pinned.lines.append(str(req))
            pinned.unpinned.append({
                "spec": line, "name": req.name, "from": source,
                "reason": f"{installed.where} had {req.name} {version}, which does not "
                f"satisfy {req.specifier}: the image would differ from what you tested. "
                "Fix the spec or the installed version."})
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        locked = f"{req.name}{extras}=={version}{marker}"
        pinned.lines.append(locked)
        pinned.changes.append({"name": req.name, "spec": line, "pinned": locked,
                               "how": "installed", "from": source,
                               "message": f"pinned to {version}, the version in "
                                          f"{installed.where}."})


def _pin_local(pinned: Pinned, line: str, project: Path, origin: Path | None) -> None:
    base = origin.parent if origin is not None else project
    path = resolve_in_root(project, str(base / line), "requirements")
    if not path.is_file():
        pinned.unpinned.append({"spec": line, "reason": "no such file in the project."})
        return
    name = path.name
    if any(n == name for _, n in pinned.local_files):
        return
    pinned.local_files.append((path, name))
    pinned.lines.append(f"./{WHEELS_DIR}/{name}")
    pinned.changes.append({"name": name, "spec": line, "pinned": f"./{WHEELS_DIR}/{name}",
                           "how": "local", "from": {"kind": "file", "run_id": None,
                                                    "time": None, "imported": None},
                           "message": "a local file, copied into the image (its content is "
                                      "the pin)."})
