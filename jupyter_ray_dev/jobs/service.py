"""Jobs: launch a file as a Ray job, list, inspect, stop, delete, re-run, read and follow logs.

The capability the REST handlers, the magics and the CLI share. Ray is the
truth for job state; the store adds what launched each job and the record of what
each run used (``project.run_record``: the driver runs through a recording
launcher). File work (paths, notebook conversion, the upload-size walk, file
digests) and Ray's blocking client run on a small thread pool, never on the event
loop.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cluster.auth import RayAuth
from ..errors import BadRequest, Conflict, NotFound, RayDevError
from ..project import run_record
from ..project.discovery import resolve_file_and_project
from ..project.files import DASHBOARD_UPLOAD_LIMIT, describe_size, iter_kept_files, measure_upload
from ..project.notebook import convert_notebook, write_module
from ..project.root import resolve_in_root, to_api_path
from ..project.run_record import RunRecord, UnreadableRecord
from ..project.runtime_env import load_project_runtime_env
from ..settings import mib, optional_path, paths, setting
from ..shared_result import SharedResult
from .driver_log import LocalDriverLogs, default_ray_temp_dir
from .environment import build_job_environment
from .logs import TERMINAL, LogFollower
from .ray_client import RayJobsClient, import_ray
from .settings import JobSettings
from .store import JobRecord, JobStore, KeptLogs, LastSeen, default_store_path

log = logging.getLogger(__name__)

LAUNCHED_BY = "jupyter-ray-dev"
STATUSES = ("PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED")
LIST_REUSE_SECONDS = 1.0
KEPT_FROM_STREAM = 8 << 20  # characters of a streamed log kept in memory for the history


class WorkingDirTooLarge(BadRequest):
    reason = "working_dir_too_large"


@dataclass(frozen=True)
class JobsConfig:
    root_dir: Path
    # folders every Ray node mounts at the same path
    shared_roots: tuple[Path, ...] = setting("shared_roots", (), convert=paths)
    # default: <jupyter data dir>/ray_dev/jobs.sqlite
    store_path: Path | None = setting("job_store_path", None, convert=optional_path)
    upload_limit: int = setting("job_upload_limit_mib", DASHBOARD_UPLOAD_LIMIT, convert=mib)
    python: str = "python"  # the driver's interpreter on the cluster
    # where the local Ray head keeps its sessions (driver logs read in place); None: Ray's default
    ray_temp_dir: Path | None = setting("ray_temp_dir", None, convert=optional_path)
    # run each driver through the recording launcher (what promote pins from)
    record_runs: bool = setting("record_runs", True)


@dataclass
class Prepared:
    """A launch ready for Ray: what submit_job gets, and what the store keeps."""

    entrypoint: str
    runtime_env: dict[str, Any]
    project: str
    file: str
    scratch: Path | None = None  # temp folder of a converted notebook, removed after submit
    warnings: list[dict[str, Any]] = field(default_factory=list)
    submitted_env: dict[str, Any] = field(default_factory=dict)  # the project's, for the record
    project_dir: Path | None = None  # the project folder, real
    files_dir: Path | None = None  # the local working_dir whose files the record hashes
    excludes: tuple[str, ...] = ()
    not_recorded: str | None = None  # why the driver does not run through the launcher


def _seconds(ms: Any) -> float | None:
    return ms / 1000.0 if isinstance(ms, (int, float)) and ms else None


def error_summary(message: str | None) -> str | None:
    """The exception line of the last Python traceback in Ray's failure message
    ("ValueError: boom"), the part a person wants to see first."""
    if not message or "Traceback (most recent call last):" not in message:
        return None
    tail = message.rsplit("Traceback (most recent call last):", 1)[1]
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    for line in reversed(lines):
        if not line.startswith((" ", "\t")):
            return line.strip()
    return None


def job_document(details: dict[str, Any] | None, record: JobRecord | None,
                 now: float | None = None) -> dict[str, Any]:
    """One job as the API shows it: Ray's state joined with our history."""
    # Ray forgot the job (a restarted head): what this server last saw of it
    last = record.last if record is not None and not details else None
    details = details or {}
    metadata = details.get("metadata") or {}
    ours = record is not None or metadata.get("launched_by") == LAUNCHED_BY
    start, end = _seconds(details.get("start_time")), _seconds(details.get("end_time"))
    if last is not None:
        start, end = last.start_time, last.end_time
    duration = None
    if start and (details or end):
        duration = max((end or (now or time.time())) - start, 0.0)
    message = details.get("message")
    return {
        "submission_id": details.get("submission_id") or (record.submission_id if record else None),
        "job_id": details.get("job_id"),
        "known_to_ray": bool(details),
        "status": details.get("status") if last is None else last.status,
        "message": message if details else _forgotten_message(last),
        "error_type": details.get("error_type"),
        "error_summary": error_summary(message),
        "entrypoint": details.get("entrypoint"),
        "start_time": start,
        "end_time": end,
        "duration": duration,
        "driver_exit_code": details.get("driver_exit_code"),
        "metadata": {str(k): str(v) for k, v in metadata.items()},
        "launched_here": ours,
        "project": record.project if record else metadata.get("project") if ours else None,
        "file": record.file if record else metadata.get("file") if ours else None,
        "user": record.user if record else metadata.get("user") if ours else None,
        "created": record.created if record else None,
        "settings": record.settings if record else None,
        "can_rerun": record is not None,
    }


def _forgotten_message(last: LastSeen | None) -> str:
    said = "Ray no longer knows this job (the cluster restarted, or the job was deleted " \
        "elsewhere)"
    if last is None:
        return f"{said}; its launch settings are kept, so it can be re-run."
    if last.status in TERMINAL:
        return (f"{said}. It had {last.status}{': ' + last.message if last.message else ''}; "
                "its log as last read is kept, and it can be re-run.")
    return (f"{said}. It was last seen {last.status} and did not finish as far as this "
            "server knows; its log as last read is kept, and it can be re-run.")


def _last_seen(details: dict[str, Any]) -> LastSeen:
    return LastSeen(details["status"], details.get("message"),
                    _seconds(details.get("start_time")), _seconds(details.get("end_time")))


class JobsService:
    def __init__(
        self,
        config: JobsConfig,
        address: Callable[[], str],
        auth: Callable[[], RayAuth],
    ) -> None:
        self.config = config
        self.root = Path(config.root_dir).resolve()
        self.shared_roots = tuple(Path(p).resolve() for p in config.shared_roots)
        self._address = address
        # Ray calls and file work share one small pool: enough for a few concurrent
        # launches and status reads, without starving Jupyter's default executor
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ray-dev-jobs")
        self.ray = RayJobsClient(address, auth, self.executor)
        self.store = JobStore(config.store_path or default_store_path())
        self.records = run_record.records_dir(self.store.path)
        self.kept_logs = KeptLogs(self.store.path.parent / "job-logs")
        self._keeping: set[asyncio.Task[None]] = set()
        local_logs = LocalDriverLogs(config.ray_temp_dir or default_ray_temp_dir(),
                                     self.ray.session_name, self.executor)
        # one job list for every panel and every live log's status ticks: 20 streams
        # ask Ray once a second, not ten times
        self._ray_list = SharedResult(self.ray.list, reuse=LIST_REUSE_SECONDS)
        self.follower = LogFollower(self._status, self.ray.logs, self.ray.tail,
                                    local=local_logs.open)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- launching -------------------------------------------------------------
    def _prepare(self, settings: JobSettings) -> Prepared:
        """Paths, environment, size guard, notebook conversion: everything that can fail
        before Ray is asked anything (runs on the pool)."""
        file, project = resolve_file_and_project(self.root, settings.file, settings.project)
        project_api, file_api = to_api_path(self.root, project), to_api_path(self.root, file)
        env = build_job_environment(project, self.root, self.shared_roots,
                                    load_project_runtime_env(project))
        if env.upload_dir is not None:
            self._check_upload_size(env.upload_dir, env.excludes)
        self._validate_runtime_env(env.runtime_env)
        runtime_env = env.runtime_env
        warnings: list[dict[str, Any]] = []
        scratch = None
        base = env.local_working_dir
        if base is not None and base not in file.parents:
            raise BadRequest(
                f"{file_api!r} is not inside the job's working_dir {base} (set in the project's "
                "runtime_env.yaml), so the driver could not find it: move the file into it "
                "or change working_dir.",
                field="file",
            )
        base = base or project  # remote working_dir: the project's layout is assumed
        python = self._driver_python(runtime_env)
        not_recorded = (run_record.not_recordable(runtime_env) if self.config.record_runs
                        else "recording is turned off on this server (c.RayDev.record_runs)")
        if not_recorded is None:
            self.records.mkdir(parents=True, exist_ok=True)

        def command_for(target: list[str]) -> str:
            if not_recorded is None:
                return shlex.join(run_record.launch_command(python, target))
            return shlex.join([*python, *target])

        if file.suffix == ".py":
            entrypoint = command_for([file.relative_to(base).as_posix(), *settings.args])
        else:
            converted = convert_notebook(file, file_api, settings.magics)
            warnings.extend(converted.warnings)
            scratch = Path(tempfile.mkdtemp(prefix="ray-dev-nb-"))
            try:
                package = write_module(converted, scratch)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            # shipped beside the project (py_modules), never written into the user's folder
            runtime_env = {**runtime_env,
                           "py_modules": [*(runtime_env.get("py_modules") or []), str(package)]}
            command = command_for(["-m", converted.module, *settings.args])
            folder = file.parent.relative_to(base).as_posix()
            # like a notebook kernel, the driver starts in the notebook's own folder
            entrypoint = command if folder == "." else f"cd {shlex.quote(folder)} && {command}"
        if not_recorded is None:
            runtime_env = run_record.with_launcher(runtime_env)
        return Prepared(entrypoint=entrypoint, runtime_env=runtime_env, project=project_api,
                        file=file_api, scratch=scratch, warnings=warnings,
                        submitted_env=env.runtime_env, project_dir=project,
                        files_dir=env.local_working_dir,
                        excludes=env.excludes, not_recorded=not_recorded)

    def _driver_python(self, runtime_env: dict[str, Any]) -> list[str]:
        """The driver's interpreter: the runtime_env's ``py_executable`` when it sets one
        (the driver runs in the same Python as its workers), else the cluster's."""
        value = runtime_env.get("py_executable")
        if isinstance(value, str) and value.strip():
            return shlex.split(value)
        return [self.config.python]

    @staticmethod
    def _file_digests(prepared: Prepared) -> dict[str, str] | None:
        """The digests of the files the job ships (its local working_dir, as Ray walks it),
        relative to the project; None when the working_dir is a remote URI."""
        if prepared.files_dir is None or prepared.project_dir is None:
            return None
        return run_record.file_digests(iter_kept_files(prepared.files_dir, prepared.excludes),
                                       prepared.project_dir)

    def project_environment(self, project: Path) -> dict[str, Any]:
        """The runtime_env a driver of ``project`` (a resolved folder inside the root) gets:
        what a job launched from it gets, with the same size guard and Ray's validation;
        for ``ray.init`` in a kernel (blocking: call it off any event loop)."""
        env = build_job_environment(project, self.root, self.shared_roots,
                                    load_project_runtime_env(project))
        if env.upload_dir is not None:
            self._check_upload_size(env.upload_dir, env.excludes)
        self._validate_runtime_env(env.runtime_env)
        return env.runtime_env

    def _check_upload_size(self, folder: Path, excludes: tuple[str, ...]) -> None:
        size = measure_upload(folder, excludes)
        limit = self.config.upload_limit
        if size.total_bytes <= limit:
            return
        largest = ", ".join(f"{path} ({describe_size(n)})" for path, n in size.top(5))
        name = to_api_path(self.root, folder) or "the Jupyter root"
        raise WorkingDirTooLarge(
            f"The job's working_dir {name} holds {describe_size(size.total_bytes)} to upload "
            f"({size.files} files, after .gitignore/.rayignore and excludes), over the "
            f"{describe_size(limit)} Ray's dashboard accepts. Largest: {largest}. Fix: list "
            "data, checkpoints and environments in the project's .rayignore (or `excludes` "
            "in runtime_env.yaml) and read data from shared or object storage; or, if this "
            "folder is on storage every Ray node mounts, add that root to "
            "c.RayDev.shared_roots so the job uses it in place (local://) with no upload.",
            field="working_dir",
            size_bytes=size.total_bytes,
            limit_bytes=limit,
            largest=[{"path": p, "bytes": n} for p, n in size.top(5)],
        )

    @staticmethod
    def _validate_runtime_env(runtime_env: dict[str, Any]) -> None:
        """Ray's own validator, before anything is packed or uploaded."""
        RuntimeEnv = import_ray("ray.runtime_env").RuntimeEnv  # noqa: N806

        try:
            RuntimeEnv(**runtime_env)
        except (ValueError, TypeError) as err:
            raise BadRequest(
                f"The project's runtime_env is not valid for Ray: {err}. Fix runtime_env.yaml "
                "in the project folder.",
                field="runtime_env",
            ) from err

    async def submit(self, request: JobSettings | Mapping[str, Any] | None,
                     user: str | None = None,
                     cell: dict[str, Any] | None = None) -> dict[str, Any]:
        """Launch ``request`` (the model, a JSON request or stored settings) as a Ray job.
        ``cell``: the ``%%ray_job`` cell behind a temporary file, kept so that a re-run can
        write it again."""
        settings = JobSettings.coerce(request)
        prepared: Prepared = await self._off_loop(self._prepare, settings)
        metadata = {"launched_by": LAUNCHED_BY, "project": prepared.project,
                    "file": prepared.file, "user": user or ""}
        if prepared.not_recorded is None:
            metadata.update(run_record.job_metadata(self.records))

        def submit_job(client: Any) -> str:
            try:
                return client.submit_job(
                    entrypoint=prepared.entrypoint,
                    runtime_env=prepared.runtime_env,
                    metadata=metadata,
                    **settings.resources.submit_kwargs(),
                )
            except (ValueError, TypeError) as err:
                # packing the working_dir or Ray's runtime_env checks refused it
                raise BadRequest(
                    f"Ray refused the job's runtime_env: {err}", field="runtime_env"
                ) from err

        # the project's files are hashed while Ray packs and uploads them (a rerun reads
        # only what changed: the digests are remembered by stat)
        digests: asyncio.Future[dict[str, str] | None] = asyncio.ensure_future(
            self._off_loop(self._file_digests, prepared))
        try:
            submission_id = await self.ray.run(submit_job)
            self._forget_list()
        except BaseException:
            digests.cancel()
            raise
        finally:
            if prepared.scratch is not None:
                await self._off_loop(shutil.rmtree, prepared.scratch, True)
        # recorded only once Ray has accepted the job: a failed launch leaves nothing behind
        record = JobRecord(submission_id=submission_id, address=self._address(),
                           project=prepared.project, file=prepared.file, user=user,
                           settings={**settings.to_dict(), **({"cell": cell} if cell else {})})
        warnings = list(prepared.warnings)
        try:
            await self.store.add(record)
            await self.store.put_run(await self._new_run(prepared, submission_id, record,
                                                         digests))
        except Exception as err:  # the job runs anyway: say so rather than fail the request
            log.error("jupyter_ray_dev: could not record job %s: %s", submission_id, err)
            warnings.append({"kind": "history_not_saved",
                             "message": f"The job runs, but it could not be added to the "
                                        f"history ({err}): re-run will not know its settings."})
        doc = job_document(
            {"submission_id": submission_id, "status": "PENDING", "entrypoint":
             prepared.entrypoint, "metadata": metadata, "message": "Job submitted to Ray."},
            record,
        )
        return {**doc, "warnings": warnings}

    async def _new_run(self, prepared: Prepared, submission_id: str, record: JobRecord,
                       digests: asyncio.Future[dict[str, str] | None]) -> RunRecord:
        try:
            files = await digests
        except OSError as err:  # a file vanished mid-walk: the run goes on, unhashed
            log.warning("jupyter_ray_dev: could not hash the files of job %s: %s",
                        submission_id, err)
            files = None
        recorded = prepared.not_recorded is None
        return RunRecord(
            submission_id=submission_id, root=str(self.root), project=prepared.project,
            file=prepared.file,
            created=record.created,
            runtime_env=run_record.mask_runtime_env(prepared.submitted_env),
            state="pending" if recorded else "not_recorded",
            note=None if recorded else f"Not recorded: {prepared.not_recorded}.",
            files=files, files_hash=run_record.files_hash(files) if files is not None else None)

    # --- run records -------------------------------------------------------------------
    async def _settled(self, run: RunRecord, details: dict[str, Any] | None) -> RunRecord:
        """``run`` with the launcher's file and Ray's final status folded in once the job
        has ended (or while the file says it has); stored, and the file removed."""
        if run.state != "pending":
            return run
        path = run_record.record_file(self.records, run.submission_id)
        try:
            launcher = await self._off_loop(run_record.read_launcher_file, path)
        except UnreadableRecord as err:
            launcher, run.note = None, f"The run's record cannot be read: {err}."
        status = details.get("status") if details else None
        terminal = details is None or status in TERMINAL
        ended = _seconds(details.get("end_time")) if details else None
        if not await self._off_loop(run_record.settle, run, launcher, status, ended, terminal):
            return run
        await self.store.put_run(run)
        await self._off_loop(lambda: path.unlink(missing_ok=True))
        return run

    async def run_record(self, submission_id: str, files: bool = True) -> RunRecord:
        """The record of what a job launched from here used (its files' digests with
        ``files``); 404 when the job has none (launched elsewhere, or before recording)."""
        run = await self.store.get_run(submission_id, files)
        if run is not None and run.root != str(self.root):
            run = None  # recorded by a server of another Jupyter root: not this project's
        if run is None:
            raise NotFound(
                f"There is no record of what job {submission_id!r} used: only jobs launched "
                "from jupyter-ray-dev on this server are recorded (jobs from before "
                "recording was added have none).", job_id=submission_id)
        if run.state == "pending":
            try:
                details: dict[str, Any] | None = await self.ray.info(submission_id)
            except NotFound:
                details = None  # Ray forgot it: it has ended
            run = await self._settled(run, details)
        return run

    async def runs(self, project: str) -> list[RunRecord]:
        """The recorded runs of a project (API path), newest first; pending ones are
        settled against Ray's job list first. Ray unreachable: the stored ones as they are."""
        found = await self.store.list_runs(str(self.root), project.strip("/"))
        if not any(r.state == "pending" for r in found):
            return found
        try:
            jobs = await self._ray_jobs()
        except RayDevError:  # unreachable: pending runs stay pending, the rest still serve
            return found
        details = {d["submission_id"]: d for d in jobs if d.get("submission_id")}
        settled = []
        for run in found:
            if run.state == "pending":
                known = details.get(run.submission_id)
                if known is None:  # not in the shared list yet, or forgotten: ask Ray
                    try:
                        known = await self.ray.info(run.submission_id)
                    except NotFound:
                        known = None
                    except RayDevError:
                        settled.append(run)
                        continue
                run = await self._settled(run, known)
            settled.append(run)
        return settled

    async def record(self, submission_id: str) -> dict[str, Any]:
        """``run_record`` as the API shows it."""
        return (await self.run_record(submission_id)).to_dict()

    async def run_summaries(self, project: str) -> list[dict[str, Any]]:
        """``runs`` as the API lists them."""
        project_dir = await self._off_loop(resolve_in_root, self.root, project.strip("/"),
                                           "project")
        return [r.summary() for r in await self.runs(to_api_path(self.root, project_dir))]

    async def rerun(self, submission_id: str, user: str | None = None) -> dict[str, Any]:
        record = await self.store.get(submission_id)
        if record is None:
            raise NotFound(
                f"No launch settings are stored for job {submission_id!r}: only jobs launched "
                "from jupyter-ray-dev on this server can be re-run. Launch the file again.",
                job_id=submission_id,
            )
        settings = dict(record.settings)
        cell = settings.pop("cell", None)
        if cell is not None:  # its temporary file is gone: the cell is written again
            from .cell import submit_cell

            project = resolve_in_root(self.root, settings.get("project") or "", "project")
            return await submit_cell(self, cell["code"], project, name=cell.get("name"),
                                     resources=settings.get("resources") or None, user=user)
        return await self.submit(settings, user=user)

    # --- watching ----------------------------------------------------------------
    async def list(self, status: str | None = None, project: str | None = None
                   ) -> list[dict[str, Any]]:
        wanted = None
        if status:
            wanted = {s.strip().upper() for s in status.split(",") if s.strip()}
            unknown = wanted - set(STATUSES)
            if unknown:
                raise BadRequest(
                    f"Unknown status {sorted(unknown)[0]!r}: filter by any of "
                    f"{', '.join(STATUSES)} (comma-separated).",
                    field="status",
                )
        jobs, records = await asyncio.gather(self._ray_jobs(), self.store.list(self._address()))
        by_id = {r.submission_id: r for r in records}
        await self._remember(jobs, by_id)
        now = time.time()
        docs = [job_document(d, by_id.pop(d.get("submission_id"), None), now)
                for d in jobs if d.get("submission_id")]  # driver-only jobs have no logs/stop
        docs += [job_document(None, r, now) for r in by_id.values()]
        if wanted is not None:
            docs = [d for d in docs if d["status"] in wanted]
        if project is not None:
            docs = [d for d in docs if d["project"] == project.strip("/")]
        docs.sort(key=lambda d: d["start_time"] or d["created"] or 0, reverse=True)
        return docs

    async def _remember(self, jobs: list[dict[str, Any]], records: dict[str, JobRecord]
                        ) -> None:
        """Keep what Ray says of our jobs whenever it changed, for when Ray forgets them."""
        changed = {}
        for details in jobs:
            record = records.get(details.get("submission_id"))
            if record is None or not details.get("status"):
                continue
            seen = _last_seen(details)
            if seen != record.last:
                changed[record.submission_id] = seen
        await self.store.put_last(changed)

    async def _ray_jobs(self) -> list[dict[str, Any]]:
        return await self._ray_list.get(self._address())

    async def _status(self, submission_id: str) -> dict[str, Any]:
        """A job's details as the shared list has them (a job submitted since is asked
        for on its own)."""
        for details in await self._ray_jobs():
            if details.get("submission_id") == submission_id:
                return details
        return await self.ray.info(submission_id)

    def _forget_list(self) -> None:
        self._ray_list.forget()  # our own change: the next list must show it

    async def get(self, submission_id: str) -> dict[str, Any]:
        details, record = await asyncio.gather(
            self.ray.info(submission_id), self.store.get(submission_id), return_exceptions=True
        )
        if isinstance(record, BaseException):
            raise record
        if isinstance(details, NotFound) and record is not None:
            return job_document(None, record)  # Ray forgot it; the history did not
        if isinstance(details, BaseException):
            raise details
        if record is not None:
            await self._remember([details], {submission_id: record})
        return job_document(details, record)

    async def stop(self, submission_id: str) -> dict[str, Any]:
        await self.ray.stop(submission_id)
        self._forget_list()
        return await self.get(submission_id)

    async def _forget_run(self, submission_id: str) -> None:
        await self.store.delete_run(submission_id)
        await self._off_loop(self.kept_logs.forget, submission_id)
        path = run_record.record_file(self.records, submission_id)
        await self._off_loop(lambda: path.unlink(missing_ok=True))

    async def delete(self, submission_id: str) -> None:
        """Delete a finished job from Ray and from the history (with its run record)."""
        try:
            details = await self.ray.info(submission_id)
        except NotFound:
            if await self.store.delete(submission_id):
                await self._forget_run(submission_id)
                return  # Ray forgot it already: only our record was left
            raise
        if details.get("status") not in TERMINAL:
            raise Conflict(
                f"Job {submission_id} is {details.get('status')}: stop it first "
                f"(POST .../jobs/{submission_id}/stop), then delete it.",
                job_id=submission_id,
                status_now=details.get("status"),
            )
        await self.ray.delete(submission_id)
        self._forget_list()
        await self.store.delete(submission_id)
        await self._forget_run(submission_id)

    async def logs(self, submission_id: str) -> str:
        """Ray's log of the job; the one last read when Ray no longer knows it."""
        try:
            text = await self.ray.logs(submission_id)
        except NotFound:
            kept = await self._off_loop(self.kept_logs.read, submission_id)
            if kept is None:
                raise
            return kept
        await self._keep_log(submission_id, text)
        return text

    async def _keep_log(self, submission_id: str, text: str) -> None:
        if text and await self.store.get(submission_id) is not None:
            await self._off_loop(self.kept_logs.keep, submission_id, text)

    async def follow(self, submission_id: str, start_line: int = 0, batch: bool = False
                     ) -> AsyncIterator[dict[str, Any]]:
        """The follower's events; the lines a stream from the first line delivered are kept
        as the job's log when it stops (Ray may be gone by then: a head that died)."""
        lines: list[str] | None = [] if start_line == 0 else None
        size = 0
        try:
            async for event in self.follower.follow(submission_id, start_line, batch):
                if lines is not None and event["type"] in ("line", "lines"):
                    got = event["lines"] if event["type"] == "lines" else [event["line"]]
                    lines.extend(got)
                    size += sum(len(line) + 1 for line in got)
                    if size > KEPT_FROM_STREAM:
                        lines = None  # a long log is kept from Ray's full log instead
                yield event
        except Exception:
            if lines:  # kept before the client hears why the stream ended, and may ask
                await self._keep_log(submission_id, "\n".join(lines) + "\n")
                lines = None
            raise
        finally:
            if lines:
                task = asyncio.get_running_loop().create_task(
                    self._keep_log(submission_id, "\n".join(lines) + "\n"))
                self._keeping.add(task)
                task.add_done_callback(self._keeping.discard)

    async def close(self) -> None:
        await self._ray_list.close()
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
