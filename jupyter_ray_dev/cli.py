"""``jupyter ray-dev ...``: the command-line face of the core, for terminals and CI.

Every subcommand parses its flags, calls the same core coroutine as the REST
API and prints text, or with ``--json`` the API's own JSON document (errors too:
``{"error": {...}}`` on stdout, so a pipeline can parse either). Nothing
prompts. A new subcommand is a parser in ``build_parser`` plus one ``cmd_*``
function.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import blocking, console, present
from .errors import RayDevError
from .request_model import add_options

if TYPE_CHECKING:
    from .service import RayDevService

# exit codes a CI script can branch on
OK = 0
FAILED = 1  # the command ran, the answer is "no": the job failed, the runtime_env is invalid
USAGE = 2  # wrong arguments or a request the core refused (4xx other than 404)
NOT_FOUND = 3  # no such job, file or storage path (404)
UNAVAILABLE = 4  # Ray or storage unreachable or misconfigured (5xx)
NO_BUILDER = 5  # promote --build: no image builder can run here (export the context instead)
BLOCKED = 6  # promote --build: built, not pushed: the parity check failed or could not run
INTERRUPTED = 130

EPILOG = """exit codes: 0 ok; 1 the job failed / the runtime_env is invalid; 2 bad arguments or
request; 3 not found; 4 Ray or storage unreachable or misconfigured; 5 no image builder
can run here (promote --build); 6 built but not pushed: the image's parity check failed or
could not run (promote --push-anyway ID pushes it); 130 interrupted.
Configuration: c.RayDev.* in jupyter_server_config.py/.json (as for the server), $RAY_ADDRESS;
paths are relative to the current directory, inside the root ($RAY_DEV_ROOT_DIR,
c.ServerApp.root_dir, else the current directory)."""


def exit_code(err: RayDevError) -> int:
    if err.reason == "no_builder":
        return NO_BUILDER
    if err.status == 404:
        return NOT_FOUND
    if err.status >= 500:
        return UNAVAILABLE
    return USAGE


class Output:
    def __init__(self, as_json: bool) -> None:
        self.json = as_json

    def result(self, data: Any, text: str | Callable[[Any], str]) -> None:
        if self.json:
            print(json.dumps(data, indent=2, default=str))
        else:
            print(text(data) if callable(text) else text)

    def error(self, err: RayDevError) -> None:
        if self.json:
            print(json.dumps({"error": {"status": err.status, **err.to_dict()}}, default=str))
        print(present.error_text(err), file=sys.stderr)


def _project(service: RayDevService, project: str | None) -> Path:
    return service.project.folder(project)


def _rel(service: RayDevService, path: Path) -> str:
    return service.project.api_path(path)


# --- commands ------------------------------------------------------------------------------------

def cmd_status(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    out.result(blocking.call(service.cluster), present.cluster_text)
    return OK


def cmd_env_show(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    project = _rel(service, _project(service, args.project))
    out.result(blocking.call(service.runtime_env.read, project), present.env_file_text)
    return OK


def cmd_env_validate(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    project = _rel(service, _project(service, args.project))
    current = blocking.call(service.runtime_env.read, project)
    verdict = blocking.call(service.runtime_env.validate, project, current["runtime_env"])
    out.result({"project": current["project"], "path": current["path"], **verdict},
               present.verdict_text(verdict, current["path"]))
    return OK if verdict["valid"] else FAILED


def cmd_env_add(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    from .runtime_env.requests import PackagesRequest

    project = _rel(service, _project(service, args.project))
    request = console.request_from_options(PackagesRequest, args, service.project)
    saved = blocking.call(service.runtime_env.add_packages, project, request.requirements,
                          request.etag)
    out.result(saved, present.saved_text(saved, f"added {', '.join(request.requirements)}"))
    return OK


def cmd_jobs_list(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    out.result(blocking.call(service.jobs.list, status=args.status, project=args.project),
               present.jobs_text)
    return OK


def cmd_jobs_submit(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    from .jobs.settings import JobSettings

    request = console.request_from_options(JobSettings, args, service.project)
    job = blocking.call(service.jobs.submit, request)
    for warning in present.warnings_text(job):
        print(warning, file=sys.stderr)
    if not args.wait:
        out.result(job, f"Submitted Ray job {job['submission_id']}")
        return OK
    if not out.json:
        print(f"Submitted Ray job {job['submission_id']}", flush=True)
    final = console.JobLogFollower(service.jobs, job["submission_id"]).run(
        None if out.json else _echo)
    job = blocking.call(service.jobs.get, job["submission_id"])
    out.result(job, present.job_line)
    return OK if final == "SUCCEEDED" else FAILED


def _echo(text: str) -> None:
    print(text, flush=True)


def cmd_jobs_logs(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    if args.dest is not None:  # --save [URI]
        from .jobs.settings import SaveLogRequest

        request = console.request_from_options(SaveLogRequest, args, service.project)
        saved = blocking.call(service.save_job_log, args.job, request)
        out.result(saved, f"Saved the log of {args.job} to {saved['dest']} "
                          f"({saved['bytes']} bytes)")
        return OK
    if args.follow:
        final = console.JobLogFollower(service.jobs, args.job).run(_echo)
        return OK if final == "SUCCEEDED" else FAILED
    text = blocking.call(service.jobs.logs, args.job)
    out.result({"submission_id": args.job, "logs": text}, text.rstrip("\n"))
    return OK


def cmd_jobs_stop(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    out.result(blocking.call(service.jobs.stop, args.job), present.stop_line)
    return OK


def cmd_storage_ls(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    storage = service.storage
    if not args.uri:
        out.result(storage.roots(), present.roots_text)
        return OK
    root, path = storage.locate(args.uri)
    out.result(blocking.call(storage.list, root, path, args.limit), present.listing_text)
    return OK


def cmd_storage_cp(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    from .storage.copy import copy

    result = blocking.call(copy, service.storage, args.source, args.dest, overwrite=args.force)
    out.result(result, f"Copied {result['source']} to {result['dest']} "
                       f"({result['bytes']} bytes)")
    return OK


def cmd_promote(service: RayDevService, args: argparse.Namespace, out: Output) -> int:
    """Review by default; --context writes the build context; --build builds, checks and
    pushes; --push-anyway pushes what the check held back.

    Exit codes a pipeline branches on: 0 reviewed/exported/pushed, 1 the build failed,
    2 bad request (a field named), 3 no such project or entrypoint, 4 Ray unreachable,
    5 no builder can run here (the context export still works), 6 built but held back by
    the parity check."""
    from .promote.options import PromoteOptions

    promote = service.promote
    folder = _project(service, args.project)
    project = _rel(service, folder)
    request = console.request_from_options(PromoteOptions, args, service.project,
                                           folder)
    if args.context:
        dest = Path(args.context).resolve()
        out.result(blocking.call(promote.export_context, project, request, dest),
                   lambda r: f"Wrote the build context of {r['project'] or '/'} to {dest} "
                             f"({r['bytes']} bytes, inputs {r['inputs_hash'][:16]})")
        return OK
    echo = None if out.json else _echo
    if args.push_anyway:
        end = console.run_build(promote.push(args.push_anyway, {"override": True}), echo,
                                started="Pushing")
    elif args.build:
        end = console.run_build(promote.build(project, request), echo)
    else:
        out.result(blocking.call(promote.plan, project, request), present.promote_plan_text)
        return OK
    out.result(end, present.promotion_text)
    if end["status"] == "blocked":
        return BLOCKED
    return OK if end["status"] in ("pushed", "built") else FAILED


# --- parser --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from .jobs.settings import JobSettings, SaveLogRequest
    from .promote.options import PromoteOptions
    from .runtime_env.requests import PackagesRequest

    json_help = "machine-readable output (the REST API's JSON documents)"
    # accepted before or after the subcommand; SUPPRESS keeps a subcommand's default from
    # overwriting a --json given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=json_help)
    parser = argparse.ArgumentParser(
        prog="jupyter ray-dev", epilog=EPILOG,
        description="Ray development on a (KubeRay) cluster: the jupyter-ray-dev panels' "
                    "actions from a terminal or a CI pipeline.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help=json_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group: Any, name: str, fn: Callable[..., int], help_text: str) -> Any:
        p = group.add_parser(name, parents=[common], help=help_text, description=help_text,
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    command(sub, "status", cmd_status, "the Ray cluster: versions, nodes, resources")

    env = sub.add_parser("env", help="the project's runtime_env").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    for name, fn, text in (("show", cmd_env_show, "print the project's runtime_env"),
                           ("validate", cmd_env_validate,
                            "check it as Ray would (exit 1 if invalid)")):
        p = command(env, name, fn, text)
        p.add_argument("--project", "-p", help="project folder (default: the nearest folder "
                       "up from here with a runtime_env.yaml, else this one)")
    p = command(env, "add", cmd_env_add, "add packages to the project's pip (or uv) list, "
                "comments kept (e.g. what promote lists as imported but not declared)")
    add_options(p, PackagesRequest)
    p.add_argument("--project", "-p", help="project folder (default as for show)")

    jobs = sub.add_parser("jobs", help="Ray jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = command(jobs, "list", cmd_jobs_list, "list jobs, newest first")
    p.add_argument("--status", help="only these statuses, comma-separated")
    p.add_argument("--project", help="only jobs of this project (relative to the root)")
    p = command(jobs, "submit", cmd_jobs_submit, "run a .py or .ipynb as a Ray job with its "
                "project's runtime_env")
    add_options(p, JobSettings)
    p.add_argument("--wait", action="store_true", help="stream the logs and exit with the "
                   "job's outcome (0 succeeded, 1 failed or stopped)")
    p = command(jobs, "logs", cmd_jobs_logs, "print a job's log")
    p.add_argument("job")
    follow = p.add_mutually_exclusive_group()
    follow.add_argument("--follow", "-f", action="store_true", help="stream until the job ends")
    add_options(follow, SaveLogRequest, only=("dest",))  # --save [URI]
    add_options(p, SaveLogRequest, only=("overwrite",))
    p = command(jobs, "stop", cmd_jobs_stop, "stop a running job")
    p.add_argument("job")

    storage = sub.add_parser("storage", help="the configured storage roots").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = command(storage, "ls", cmd_storage_ls, "list a folder (no URI: the roots)")
    p.add_argument("uri", nargs="?", default="", help="s3://..., gs://..., /path or root:path")
    p.add_argument("--limit", type=int, default=None)
    p = command(storage, "cp", cmd_storage_cp, "copy one file from SOURCE to DESTINATION: "
                "upload (local file to storage), download (storage to local) or between two "
                "storage locations; at least one side must be in a storage root")
    where = ("s3://bucket/key, gs://bucket/key, root:path, a path inside a root's folder, "
             "or a local file path")
    p.add_argument("source", metavar="SOURCE", help=f"the file to copy: {where}")
    p.add_argument("dest", metavar="DESTINATION",
                   help=f"where the copy goes: {where}; a folder (or a path ending in /) "
                        "keeps SOURCE's file name")
    p.add_argument("--force", "--overwrite", dest="force", action="store_true",
                   help="replace DESTINATION if it exists (default: refuse, nothing written)")

    p = command(sub, "promote", cmd_promote, "promote a project to production: review what "
                "would be built (default), export the build context (--context) or build and "
                "push the image (--build); the manifests come with every answer (--json)")
    p.add_argument("--project", "-p", help="project folder (default as for env)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--build", action="store_true", help="build the image, check it "
                      "against the run it reproduces (parity) and push it, streaming the "
                      "builder's log; exit 1 if the build fails, 6 if the check holds the "
                      "push back")
    mode.add_argument("--context", metavar="FILE.tar.gz", help="write the build context "
                      "(Dockerfile, requirements, code, manifests) for an external CI")
    mode.add_argument("--push-anyway", metavar="PROMOTION_ID", help="push a built image that "
                      "its parity check held back (exit 6 of --build), recorded as an "
                      "override in the promotion history")
    add_options(p, PromoteOptions)
    return parser


def main(argv: list[str] | None = None,
         service_factory: Callable[[], RayDevService] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Output(args.json)
    from .local import local_service

    service = (service_factory or local_service)()
    try:
        return args.fn(service, args, out)
    except RayDevError as err:
        out.error(err)
        return exit_code(err)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        try:
            blocking.call(service.close)
        except Exception:  # noqa: BLE001 - closing must not hide the command's outcome
            pass


def main_exit() -> None:
    """The console script: the exit code is main()'s."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
