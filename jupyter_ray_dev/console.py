"""What the two synchronous faces (the CLI and the magics) share on top of the core:
turning a request's local paths into the core's form, consuming a build's event
stream and following a job's log. Each face only chooses where the text goes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import blocking
from .errors import NotFound
from .request_model import RequestModel, options_body

if TYPE_CHECKING:
    from .jobs import JobsService
    from .project import ProjectService

Echo = Callable[[str], None]


def api_path(project: ProjectService, value: str, how: str, field: str,
             folder: Path | None = None, cwd: Path | None = None) -> str:
    """A path given on a command line, as the core takes it: relative to the Jupyter root.

    ``how`` is the field's path kind: ``cwd`` resolves against the current directory;
    ``project`` looks in the project ``folder`` first, then in the current directory (so
    ``-p proj -e train.ipynb`` and ``-p proj -e proj/train.ipynb`` both work from the
    Jupyter root), and a path found in neither is "not found", naming the places looked in.
    """
    cwd = (cwd or Path.cwd()).resolve()
    given = Path(os.path.expanduser(value))
    if given.is_absolute():
        candidates = [given]
    elif how == "project" and folder is not None:
        candidates = [folder / given, cwd / given]
    else:
        candidates = [cwd / given]
    chosen = candidates[0]
    if how == "project":
        found = [c for c in candidates if c.exists()]
        if not found:
            looked = " or ".join(f"'{p}'" for p in _in_root(project, candidates))
            raise NotFound(f"The {field} {value!r} was not found: there is no {looked} in "
                           "the Jupyter root. Give a path relative to the project folder or "
                           "to the current directory.", field=field)
        chosen = found[0]
    return project.api_path(project.resolve(os.path.normpath(chosen), field))


def _in_root(project: ProjectService, paths: list[Path]) -> list[str]:
    """The paths as the file browser shows them (relative to the root), once each."""
    shown = []
    for path in paths:
        try:
            shown.append(project.api_path(Path(os.path.normpath(path))))
        except ValueError:  # outside the root: never a candidate the core could take
            continue
    return list(dict.fromkeys(shown)) or [str(p) for p in paths[:1]]


def request_from_options(model: type[RequestModel], args: argparse.Namespace,
                         project: ProjectService, folder: Path | None = None,
                         **extra: Any) -> Any:
    """The request a face's parsed options stand for, validated as a REST body is;
    ``folder`` is the project folder the command works on (for ``project`` paths)."""

    def paths(value: Any, how: str, field: str) -> Any:
        return api_path(project, value, how, field, folder) if isinstance(value, str) \
            else value

    return model.from_json({**options_body(model, args, paths), **extra})


def run_build(events: AsyncIterator[dict[str, Any]], echo: Echo | None,
              started: str = "Building") -> dict[str, Any]:
    """Consume a build's (or a push's) events (``started``, ``line``, ``end``), echoing the
    builder's log; the promotion as it ended."""
    end: dict[str, Any] | None = None
    for event in blocking.iterate(events):
        if event["type"] == "started" and echo is not None:
            echo(f"{started} {event['promotion']['image']} ({event['promotion']['id']})")
        elif event["type"] == "line" and echo is not None:
            echo(event["text"])
        elif event["type"] == "end":
            end = event["promotion"]
    if end is None:  # the core's follow() always ends with "end"
        raise RuntimeError("the build's event stream ended without its end event")
    return end


class JobLogFollower:
    """A job's log, line by line, until the job ends. ``shown`` counts the lines seen, so
    a follower interrupted (Ctrl-C closes Ray's stream) can resume where it stopped."""

    def __init__(self, jobs: JobsService, job_id: str, start: int = 0) -> None:
        self.jobs, self.job_id, self.shown = jobs, job_id, start
        self.end: dict[str, Any] | None = None  # the ``end`` event: status, message

    @property
    def status(self) -> str | None:
        return None if self.end is None else self.end.get("status")

    def run(self, echo: Echo | None) -> str | None:
        """Follow from ``shown`` on; the job's final status (None if the stream ended first)."""
        events = blocking.iterate(self.jobs.follow(self.job_id, self.shown))
        try:
            for event in events:
                if event["type"] == "line":
                    self.shown = event["n"] + 1
                    if echo is not None:
                        echo(event["line"])
                elif event["type"] == "end":
                    self.end = event
        finally:
            events.close()
        return self.status
