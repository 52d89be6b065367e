"""Which tested environment a promotion pins from, and what the run says beyond the pins.

By default the latest SUCCEEDED run of the project (a job launched from here, whose
driver recorded what it used: ``project.run_record``); the user may pick another
run, or this server's Python (``server``). A record that cannot be used (an older
job, a run killed before it could say what was installed, one whose driver ran on
another node) falls back to the server's Python with a warning the review shows.
From the run also come the project files changed since it, and the packages it
imported that the project never declared (offered with *Add to runtime_env.yaml*).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import BadRequest, NotFound
from ..project.run_record import RunRecord
from .pin import PinSource, RunPinSource, format_time

LATEST = "latest"
SERVER = "server"
_RUN_ID = re.compile(r"^[\w\-]{1,200}$")
RUNS_LISTED = 20  # runs the review offers to pick from
# never offered as undeclared: the base image's Ray (and what it brings), and this
# extension's own launcher, which is no dependency of the user's code
_NOT_USER_DEPENDENCIES = {"ray", "jupyter-ray-dev"}


class Runs(Protocol):
    """The jobs capability's view of recorded runs (injected: promote does not import jobs)."""

    async def runs(self, project: str) -> list[RunRecord]: ...

    async def run_record(self, submission_id: str, files: bool = True) -> RunRecord: ...


def check_source_run(value: Any) -> str:
    """``latest`` (the default), ``server``, or a run's submission id."""
    if value is None or value == "":
        return LATEST
    if not isinstance(value, str) or not _RUN_ID.match(value):
        raise BadRequest("`source_run` must be `latest` (the latest succeeded run of the "
                         "project), `server` (this server's Python) or a run's submission id "
                         "(raysubmit_...).", field="source_run")
    return value


@dataclass
class Source:
    requested: str
    pins: PinSource
    run: RunRecord | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "requested": self.requested,
            "kind": self.pins.kind,
            "run": run.summary() if run is not None else None,
            "description": (f"the run {run.submission_id} of {run.file} "
                            f"({format_time(run.time)}, {run.status or run.state})"
                            if run is not None else self.pins.where),
            "warnings": self.warnings,
            "runs": [r.summary() for r in self.runs[:RUNS_LISTED]],
        }


def _fallback(source: Source, kind: str, message: str) -> Source:
    source.warnings.append({"kind": kind, "message": message})
    source.pins = PinSource()
    source.run = None
    return source


async def choose_source(runs: Runs | None, project: str, requested: str) -> Source:
    """The source of the pins for ``project`` (an API path); BadRequest for a run id that
    is not a run of this project."""
    source = Source(requested=requested, pins=PinSource())
    if requested == SERVER:
        if runs is not None:
            source.runs = await runs.runs(project)
        return source
    if runs is None:
        return _fallback(source, "no_runs", "Runs are not recorded on this server: the pins "
                         "come from this server's Python.")
    source.runs = await runs.runs(project)
    if requested == LATEST:
        succeeded = [r for r in source.runs if r.status == "SUCCEEDED"]
        if not succeeded:
            return _fallback(
                source, "no_succeeded_run",
                f"No succeeded run of {project or 'the Jupyter root'} is recorded, so nothing "
                "was tested: the pins come from this server's Python, which may differ from "
                "what a job runs in. Run the project as a Ray job, then review again.")
        chosen = succeeded[0]
    else:
        try:
            chosen = await runs.run_record(requested, files=False)
        except NotFound as err:
            raise BadRequest(f"`source_run` {requested!r} is no recorded run: pick one of the "
                             "project's runs, `latest` or `server`.",
                             field="source_run") from err
        if chosen.project != project:
            raise BadRequest(f"`source_run` {requested!r} is a run of "
                             f"{chosen.project or 'the Jupyter root'!r}, not of "
                             f"{project or 'the Jupyter root'!r}.", field="source_run")
    if not chosen.usable:
        why = chosen.note or f"its record is {chosen.state}"
        return _fallback(
            source, "record_unusable",
            f"The run {chosen.submission_id} ({format_time(chosen.time)}) cannot be pinned "
            f"from: {why.rstrip('.')}. The pins come from this server's Python instead, "
            "which may differ from what the run had.")
    if chosen.status != "SUCCEEDED":
        source.warnings.append({
            "kind": "run_not_succeeded",
            "message": f"The run {chosen.submission_id} ended {chosen.status or chosen.state}: "
                       "its versions are pinned as asked, but no successful run tested them."})
    if chosen.state == "partial":
        source.warnings.append({
            "kind": "imports_unknown",
            "message": f"The run {chosen.submission_id} was stopped before it could say what "
                       "it imported: packages it used but the project does not declare "
                       "cannot be listed."})
    source.run = await runs.run_record(chosen.submission_id, files=True)
    source.pins = RunPinSource(source.run)
    return source


@functools.lru_cache(maxsize=4)
def base_image_provides(root: str = "ray", extras: tuple[str, ...] = ("default",)
                        ) -> frozenset[str]:
    """The distributions ``ray[default]`` brings, as this server's Ray declares them: the
    rayproject/ray base image has them, so a run importing them needs nothing added."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, tuple(req.extras)))
    return frozenset(seen)


def undeclared(run: RunRecord, declared: set[str], code_imports: frozenset[str]
               ) -> list[dict[str, Any]]:
    """Distributions the run imported for the project's own code (``code_imports``: what
    its source imports) that the project declares nowhere (installed by hand in a
    notebook, say), each with the requirement *Add* writes: pinned to the run's version.
    What only Ray or a library imported is no dependency of the project's."""
    from ..project.imports import names_module

    provided = base_image_provides()
    out = []
    for name, modules in sorted(run.imported.items()):
        if name in declared or name in provided or name in _NOT_USER_DEPENDENCIES:
            continue
        if not any(names_module(code_imports, m) for m in modules):
            continue
        version = run.distributions.get(name)
        out.append({"name": name, "version": version, "modules": list(modules),
                    "requirement": f"{name}=={version}" if version else name})
    return out


def changed_since(run: RunRecord, current: Mapping[str, str],
                  still_there: set[str]) -> dict[str, Any] | None:
    """The project's files that changed since the run (None: the run recorded no files)."""
    from ..project.run_record import changed_files

    if run.files is None:
        return None
    return {"since": run.submission_id,
            **changed_files(run.files, current, present=still_there)}
