"""A private local Ray head for ``make lab``, the tests and the benchmarks.

Every head gets its own temp dir and free ports, so it never collides with
another cluster on the machine, and it is stopped through the PID we started,
never with Ray's own stop command (which kills every Ray process of every user).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..leftovers import die_with_parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_executable() -> str:
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise RuntimeError(
            "The `ray` command is not installed in this environment: pip install 'ray[default]'."
        )
    return found


class LocalRayHead:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(
        self,
        *,
        num_cpus: int = 2,
        num_gpus: int | None = None,
        resources: dict[str, float] | None = None,
        token_auth: bool = False,
        token: str | None = None,
        dashboard_port: int | None = None,
        temp_root: str = "/tmp",
        env: dict[str, str] | None = None,
    ) -> None:
        self.num_cpus = num_cpus
        # for the head's own processes: e.g. where the runtime_env agent downloads s3:// from
        self.env = dict(env or {})
        self.num_gpus = num_gpus
        self.resources = resources or {}
        # Socket paths must stay under ~107 bytes: keep the temp dir short.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rdh-", dir=temp_root))
        # a given token: other processes that must reach this head already hold it
        self.token = (token or secrets.token_hex(16)) if token_auth else None
        self.gcs_port = free_port()
        self.dashboard_port = dashboard_port or free_port()
        self._own_dashboard_port = dashboard_port is None  # a retry may move it
        self.failures: list[BaseException] = []  # why earlier start attempts were given up
        self.log_path = self.temp_dir / "head.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def client_env(self) -> dict[str, str]:
        """Environment a client of this head needs (auth is explicit either way)."""
        env = {"RAY_ADDRESS": self.dashboard_url}
        if self.token:
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        else:
            env["RAY_AUTH_MODE"] = "disabled"
        return env

    def start(self, timeout: float = 90.0, attempts: int = 2) -> LocalRayHead:
        """Start and wait until ready.

        On a loaded machine Ray's own start-up can time out: ``ray start`` exits
        ("node timed out during startup", a RuntimeError here) or the head never
        becomes ready within ``timeout`` (TimeoutError). One more attempt on fresh
        ports, after the failed one's processes are stopped, is what a person would do.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except (RuntimeError, TimeoutError) as err:
                if attempt == attempts:
                    raise
                self.failures.append(err)
                self.temp_dir = Path(tempfile.mkdtemp(prefix="rdh-", dir=self.temp_dir.parent))
                self.log_path = self.temp_dir / "head.log"
                self.gcs_port = free_port()
                if self._own_dashboard_port:
                    self.dashboard_port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> LocalRayHead:
        cmd = [
            _ray_executable(), "start", "--head", "--block", "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
            "--node-ip-address=127.0.0.1",
            f"--port={self.gcs_port}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            # ports Ray would otherwise take at fixed defaults, clashing with a second head
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--num-cpus={self.num_cpus}",
        ]
        if self.num_gpus is not None:
            cmd.append(f"--num-gpus={self.num_gpus}")
        if self.resources:
            cmd.append(f"--resources={json.dumps(self.resources)}")
        env = {**os.environ, **self.env, **self.client_env()}
        env.pop("RAY_ADDRESS", None)  # a head must not try to join another cluster
        if not self.token:
            env.pop("RAY_AUTH_TOKEN", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        # Own process group: if `ray start` dies uncleanly we can still reap its children.
        # Tied to our lifetime: if we are killed outright (a test runner's SIGKILL), the
        # head gets SIGTERM instead of living on as an orphan.
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        log.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()  # every process of the failed attempt, by PID
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready = the dashboard lists an alive node and reports its resource usage."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Ray head exited with {self.process.returncode}; see {self.log_path}:\n"
                    + self.log_tail()
                )
            try:
                data = _api(self.dashboard_url, "/api/cluster_status", self.token,
                            timeout=2).get("data") or {}
                usage = (
                    (data.get("clusterStatus") or {}).get("loadMetricsReport") or {}
                ).get("usageByNode")
                if usage:
                    return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise TimeoutError(
            f"Ray head not ready after {timeout:.0f}s; see {self.log_path}:\n" + self.log_tail()
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop_jobs(self, timeout: float = 30.0) -> None:
        stop_jobs(self.dashboard_url, self.token, timeout=timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the running jobs, then SIGTERM the ``ray start --block`` we started; it
        stops its own children.

        Then anything of the head's own process group still running is ended too, and so
        is every process the head started that left the group (Ray starts each job's
        driver in a session of its own) or that Ray's stop did not take with it; we wait
        until all are gone, so a caller can rely on the ports being free and no driver
        living on.
        """
        proc, self.process = self.process, None
        stragglers: list = []
        if proc is not None:
            if proc.poll() is None:
                self.stop_jobs(timeout)
                stragglers = _descendants(proc.pid)
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if not _group_alive(proc.pid):
                    break
                try:
                    os.killpg(proc.pid, sig)
                    os.killpg(proc.pid, signal.SIGCONT)  # a stopped process acts on it too
                except (ProcessLookupError, PermissionError):
                    break
                _wait_group_gone(proc.pid, 10.0)
        _end(stragglers + _drivers_of(self.gcs_port))
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def _api(dashboard_url: str, path: str, token: str | None = None, method: str = "GET",
         timeout: float = 5.0) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(f"{dashboard_url}{path}", method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def stop_jobs(dashboard_url: str, token: str | None = None, only: list[str] | None = None,
              timeout: float = 30.0) -> None:
    """Stop the jobs still running on a head (or those of ``only``) through Ray's job API,
    and wait until each reports a terminal status. Best effort: a head that does not
    answer has no jobs to stop."""
    try:
        jobs: list = _api(dashboard_url, "/api/jobs/", token)  # type: ignore[assignment]
        running = [job["submission_id"] for job in jobs
                   if job.get("submission_id") and job.get("status") not in TERMINAL
                   and (only is None or job["submission_id"] in only)]
        for job_id in running:
            _api(dashboard_url, f"/api/jobs/{job_id}/stop", token, method="POST")
        deadline = time.monotonic() + timeout
        while running and time.monotonic() < deadline:
            time.sleep(0.5)
            running = [job_id for job_id in running
                       if _api(dashboard_url, f"/api/jobs/{job_id}", token).get("status")
                       not in TERMINAL]
    except (OSError, ValueError):
        pass


def _descendants(pid: int) -> list:
    import psutil  # a Ray dependency; only needed when a head was started

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _drivers_of(gcs_port: int) -> list:
    """Job drivers (and Ray's watchers of them) of the head whose GCS listens on
    ``gcs_port``, found by what Ray gives each driver: its RAY_ADDRESS (on whichever
    address Ray picked for the node) and a job config. Their parent may be gone."""
    import psutil

    found, groups = [], set()
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
            if (env.get("RAY_ADDRESS", "").endswith(f":{gcs_port}")
                    and "RAY_JOB_CONFIG_JSON_ENV_VAR" in env):
                found.append(proc)
                groups.add(os.getpgid(proc.pid))
        except (psutil.Error, ProcessLookupError):
            continue
    for proc in psutil.process_iter(["cmdline"]):  # "while kill -s 0 <actor>; ...; kill -9 -<pgid>"
        line = " ".join(proc.info["cmdline"] or [])
        if "while kill -s 0" in line and any(line.endswith(f"kill -9 -{g}") for g in groups):
            found.append(proc)
    return [proc for proc in found if proc.pid != os.getpid()]


def _end(procs: list) -> None:
    """SIGTERM, then SIGKILL what is left after a few seconds; by PID (psutil checks that
    a PID still names the same process, so a reused one is left alone)."""
    import psutil

    alive = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                proc.terminate()
                proc.resume()  # a stopped process acts on it too
                alive.append(proc)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(alive, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def _group_alive(pgid: int) -> bool:
    """Is any process of this group still running? Zombies do not count: they are dead."""
    import psutil  # a Ray dependency; only needed when a head was started

    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return False


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
