"""IPython magics: the notebook face of the core (``%load_ext jupyter_ray_dev``).

Each magic parses its arguments, calls the same core coroutine a REST handler
calls (on a private loop: blocking.py) and shows the answer with present.py.
Core errors become one readable line (IPython's UsageError: no traceback, the
cell still counts as failed). A new magic is one method here: parse, call,
present.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import (
    ArgDecorator,
    argument,
    magic_arguments,
    parse_argstring,
)

from . import blocking, console, present
from .errors import RayDevError
from .jobs.settings import JobSettings, SaveLogRequest
from .promote.options import PromoteOptions
from .request_model import RequestModel, add_options, options_body

if TYPE_CHECKING:
    from .service import RayDevService

ENV_ACTIONS = ("show", "set", "pip", "validate")


class Rich:
    """A result that renders as HTML in a notebook and as text elsewhere; ``.data`` is the JSON."""

    def __init__(self, data: Any, text: str, html: str) -> None:
        self.data, self._text, self._html = data, text, html

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._text


class model_arguments(ArgDecorator):  # noqa: N801 - named like IPython's own decorators
    """A request model's fields as the magic's options (the CLI adds the same ones)."""

    def __init__(self, model: type[RequestModel], **which: Any) -> None:
        self.model, self.which = model, which

    def add_to_parser(self, parser: Any, group: Any) -> None:
        add_options(group if group is not None else parser, self.model, **self.which)


def _usage(err: RayDevError) -> UsageError:
    return UsageError(present.error_text(err))


@magics_class
class RayDevMagics(Magics):
    def __init__(self, shell: Any,
                 service_factory: Callable[[], RayDevService] | None = None) -> None:
        super().__init__(shell)
        self._factory = service_factory
        self._service: RayDevService | None = None

    @property
    def service(self) -> RayDevService:
        if self._service is None:
            from .local import local_service

            self._service = (self._factory or local_service)()
        return self._service

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A core coroutine's result; its errors as a readable UsageError."""
        try:
            return blocking.call(fn, *args, **kwargs)
        except RayDevError as err:
            raise _usage(err) from None

    def _sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RayDevError as err:
            raise _usage(err) from None

    @staticmethod
    def _args(magic: Callable[..., Any], line: str) -> Any:
        try:
            return parse_argstring(magic, line)
        except ValueError as err:  # unbalanced quotes
            raise UsageError(f"{err}: check the quotes in the arguments.") from None

    def _project(self, project: str | None) -> Path:
        return self._sync(self.service.project.folder, project)

    # --- cluster -----------------------------------------------------------------------------

    @line_magic
    def ray_status(self, line: str = "") -> Rich:
        """Show the Ray cluster: versions, nodes and resources (HTML table, text fallback).

        Usage: %ray_status
        """
        if line.strip():
            raise UsageError("%ray_status takes no arguments.")
        summary = self._call(self.service.cluster)
        return Rich(summary, present.cluster_text(summary), present.cluster_html(summary))

    @magic_arguments()
    @argument("--project", "-p", help="Project folder (default: the nearest folder from the "
              "kernel's working directory up with a runtime_env.yaml, else that directory).")
    @argument("--address", help="GCS (host:6379) or Ray Client (ray://host:10001) address. "
              "Default: $RAY_ADDRESS / c.RayDev.ray_address.")
    @line_magic
    def ray_init(self, line: str = "") -> None:
        """ray.init() with the project's saved runtime_env, printing what was applied.

        Refuses when ray.init already ran in this kernel with something else.
        """
        args = self._args(self.ray_init, line)
        from .driver import init

        applied = self._sync(init, self.service, args.project, args.address)
        print(present.init_text(applied))

    # --- runtime_env -------------------------------------------------------------------------

    @magic_arguments()
    @argument("action", nargs="?", default="show", choices=ENV_ACTIONS,
              help="show (default), set KEY=VALUE, pip add PKG, validate.")
    @argument("rest", nargs="*", help="KEY=VALUE for set; `add PKG` for pip.")
    @argument("--project", "-p", help="Project folder (default as for %%ray_init).")
    @line_magic
    def ray_env(self, line: str = "") -> None:
        """Read and edit the project's runtime_env (runtime_env.yaml), validated as the editor does.

        %ray_env show | %ray_env set KEY=VALUE | %ray_env pip add PKG | %ray_env validate
        """
        args = self._args(self.ray_env, line)
        env = self.service.runtime_env
        project = self.service.project.api_path(self._project(args.project))
        action, rest = args.action, list(args.rest)
        if action == "show":
            self._no_more(action, rest)
            print(present.env_file_text(self._call(env.read, project)))
        elif action == "validate":
            self._no_more(action, rest)
            current = self._call(env.read, project)
            verdict = self._call(env.validate, project, current["runtime_env"])
            print(present.verdict_text(verdict, current["path"]))
            if not verdict["valid"]:
                raise UsageError(f"{current['path']} is not valid: fix the errors above.")
        elif action == "set":
            if len(rest) != 1 or "=" not in rest[0] or rest[0].startswith("="):
                raise UsageError("Usage: %ray_env set KEY=VALUE (one variable, e.g. "
                                 "%ray_env set DATA_DIR=/mnt/shared/data).")
            name, value = rest[0].split("=", 1)
            print(present.saved_text(self._call(env.set_env_var, project, name, value),
                                     f"env_vars.{name} = {value!r}"))
        else:  # pip
            if len(rest) != 2 or rest[0] != "add":
                raise UsageError("Usage: %ray_env pip add PACKAGE (a pip requirement, e.g. "
                                 "%ray_env pip add 'pandas>=2').")
            print(present.saved_text(self._call(env.add_pip_package, project, rest[1]),
                                     f"pip += {rest[1]}"))

    @staticmethod
    def _no_more(action: str, rest: list[str]) -> None:
        if rest:
            raise UsageError(f"%ray_env {action} takes no more arguments (got {' '.join(rest)}).")

    # --- jobs --------------------------------------------------------------------------------

    @magic_arguments()
    @model_arguments(JobSettings, only=("project", "resources"))
    @argument("--name", help="A name for the job (part of its file name).")
    @argument("--no-wait", action="store_true", help="Return the job id at once; do not "
              "stream the logs.")
    @cell_magic
    def ray_job(self, line: str, cell: str) -> str:
        """Run the cell as a Ray job with the project's environment, streaming its logs live.

        Returns the submission id. Interrupting the kernel asks whether to stop the job.
        """
        args = self._args(self.ray_job, line)
        from .jobs.cell import submit_cell

        project = self._project(args.project)
        # the cell's file and project are the magic's to find; the options are the model's
        resources = options_body(JobSettings, args).get("resources")
        doc = self._call(submit_cell, self.service.jobs, cell, project, name=args.name,
                         resources=resources)
        job_id = doc["submission_id"]
        for warning in present.warnings_text(doc):
            print(warning, file=sys.stderr)
        print(f"Submitted Ray job {job_id}", flush=True)
        if not args.no_wait:
            self._follow(job_id, interruptible=True)
        return job_id

    def _follow(self, job_id: str, interruptible: bool = False, start: int = 0) -> None:
        follower = console.JobLogFollower(self.service.jobs, job_id, start)
        try:
            follower.run(_echo)
            if follower.end is not None:
                print(present.job_line({"submission_id": job_id, **follower.end}), flush=True)
        except RayDevError as err:
            raise _usage(err) from None
        except KeyboardInterrupt:
            if not interruptible:
                raise
            answer = input(f"Stop Ray job {job_id}? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                print(f"Ray job {job_id} keeps running: %ray_logs {job_id} --follow to watch it, "
                      f"%ray_stop {job_id} to stop it.")
                return
            print(present.stop_line(self._call(self.service.jobs.stop, job_id)), flush=True)
            self._follow(job_id, start=follower.shown)  # the last lines and the final status

    @magic_arguments()
    @argument("--status", help="Only these statuses (comma-separated, e.g. RUNNING,FAILED).")
    @argument("--project", help="Only jobs of this project (relative to the Jupyter root).")
    @line_magic
    def ray_jobs(self, line: str = "") -> Rich:
        """List Ray jobs, newest first (those launched here and elsewhere)."""
        args = self._args(self.ray_jobs, line)
        jobs = self._call(self.service.jobs.list, status=args.status, project=args.project)
        return Rich(jobs, present.jobs_text(jobs), present.jobs_html(jobs))

    @magic_arguments()
    @argument("job", help="Submission id (raysubmit_...).")
    @argument("--follow", "-f", action="store_true", help="Stream until the job ends.")
    @model_arguments(SaveLogRequest)  # --save [URI], --overwrite
    @line_magic
    def ray_logs(self, line: str = "") -> None:
        """Print a job's log; with --follow, stream it live until the job ends; with --save,
        copy it into storage so it outlives the cluster."""
        args = self._args(self.ray_logs, line)
        if args.dest is not None:  # --save [URI]
            request = self._sync(SaveLogRequest.from_json, options_body(SaveLogRequest, args))
            saved = self._call(self.service.save_job_log, args.job, request)
            print(f"Saved the log of {args.job} to {saved['dest']} ({saved['bytes']} bytes).")
        elif args.follow:
            self._follow(args.job)
        else:
            print(self._call(self.service.jobs.logs, args.job), end="")

    @magic_arguments()
    @argument("job", help="Submission id (raysubmit_...).")
    @line_magic
    def ray_stop(self, line: str = "") -> None:
        """Stop a running job."""
        args = self._args(self.ray_stop, line)
        print(present.stop_line(self._call(self.service.jobs.stop, args.job)))

    # --- storage -----------------------------------------------------------------------------

    @magic_arguments()
    @argument("uri", nargs="?", default="", help="s3://bucket/path, gs://..., /mnt/shared/path "
              "or <root>:<path>, inside a configured storage root. None: list the roots.")
    @argument("--limit", type=int, default=None, help="Entries per page (default 500).")
    @line_magic
    def ray_ls(self, line: str = "") -> Any:
        """List a folder of the configured storage roots (same access rules as the panel)."""
        args = self._args(self.ray_ls, line)
        storage = self.service.storage
        if not args.uri:
            roots = self._sync(storage.roots)
            text = present.roots_text(roots)
            return Rich(roots, text, f"<pre>{escape(text)}</pre>")
        root, path = self._sync(storage.locate, args.uri)
        page = self._call(storage.list, root, path, args.limit)
        return Rich(page, present.listing_text(page), present.listing_html(page))

    @magic_arguments()
    @argument("uri", help="A file inside a configured storage root (as for %%ray_ls).")
    @line_magic
    def ray_preview(self, line: str = "") -> Rich:
        """Preview a file of the storage roots: text head, CSV/Parquet rows, JSON."""
        args = self._args(self.ray_preview, line)
        storage = self.service.storage
        root, path = self._sync(storage.locate, args.uri)
        preview = self._call(storage.preview, root, path)
        text = present.preview_text(preview)
        return Rich(preview, text, f"<pre>{escape(text)}</pre>")


    # --- promote -----------------------------------------------------------------------------

    @magic_arguments()
    @model_arguments(PromoteOptions)
    @argument("--build", action="store_true", help="Build the image, check it against the run "
              "it reproduces (parity) and push it, streaming the builder's log; without it, "
              "only the review is shown.")
    @argument("--context", metavar="FILE", help="Write the build context (.tar.gz) for an "
              "external CI instead of building.")
    @argument("--push-anyway", metavar="PROMOTION_ID", help="Push a built image its parity "
              "check held back; the history records the override.")
    @argument("--project", "-p", help="Project folder (default as for %%ray_init).")
    @line_magic
    def ray_promote(self, line: str = "") -> Rich | None:
        """Promote the notebook's project to production, as the "Promote to prod" button does.

        Shows the review (entrypoint, pinned requirements, Dockerfile, what differs from dev);
        --context writes the build context, --build builds, checks the image against the run
        it reproduces and pushes it, streaming the log; --push-anyway pushes what the check
        held back.
        """
        args = self._args(self.ray_promote, line)
        if sum(map(bool, (args.build, args.context, args.push_anyway))) > 1:
            raise UsageError("Give one of --build, --context and --push-anyway.")
        service = self.service
        folder = self._project(args.project)
        project = service.project.api_path(folder)
        if args.schedule:  # IPython splits a magic's arguments keeping their quotes
            args.schedule = " ".join(shlex.split(args.schedule))
        request = self._sync(console.request_from_options, PromoteOptions, args,
                             service.project, folder)
        promote = service.promote
        if args.context:
            dest = Path(args.context).resolve()
            result = self._call(promote.export_context, project, request, dest)
            print(f"Wrote the build context to {dest} ({result['bytes']} bytes).")
            return None
        if not args.build and not args.push_anyway:
            plan = self._call(promote.plan, project, request)
            text = present.promote_plan_text(plan)
            return Rich(plan, text, f"<pre>{escape(text)}</pre>")
        try:
            if args.push_anyway:
                end = console.run_build(promote.push(args.push_anyway, {"override": True}),
                                        _echo, started="Pushing")
            else:
                end = console.run_build(promote.build(project, request), _echo)
        except RayDevError as err:
            raise _usage(err) from None
        summary = present.promotion_text(end)
        if end.get("status") == "blocked":
            raise UsageError(f"{summary}\nTo push it anyway: %ray_promote --push-anyway "
                             f"{end['id']}")
        if end.get("status") not in ("pushed", "built"):
            raise UsageError(summary)
        # the JSON (``_.data``) is the document `jupyter ray-dev promote --json` prints
        return Rich(end, summary, f"<pre>{escape(summary)}</pre>")


def _echo(text: str) -> None:
    print(text, flush=True)


def _env_completer(_shell: Any, event: Any) -> list[str]:
    words = shlex.split(event.line, posix=False)[1:] if event.line else []
    if event.symbol and words and words[-1] == event.symbol:
        words = words[:-1]
    if not words:
        return list(ENV_ACTIONS)
    if words == ["pip"]:
        return ["add"]
    return []


def load(shell: Any, service_factory: Callable[[], RayDevService] | None = None
         ) -> RayDevMagics:
    magics = RayDevMagics(shell, service_factory)
    shell.register_magics(magics)
    shell.set_hook("complete_command", _env_completer, str_key="%ray_env")
    return magics
