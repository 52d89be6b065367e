"""A private local Ray head for ``make lab``, the tests and the benchmarks.

Every head gets its own temp dir and free ports, so it never collides with
another cluster on the machine, and it is stopped through the PID we started,
never with Ray's own stop command (which kills every Ray process of every user).
"""

from __future__ import annotations

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

        On a loaded machine Ray's own start-up can time out ("node timed out
        during startup"); one more attempt on fresh ports is what a person would do.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except RuntimeError:
                if attempt == attempts:
                    raise
                self.temp_dir = Path(tempfile.mkdtemp(prefix="rdh-", dir=self.temp_dir.parent))
                self.log_path = self.temp_dir / "head.log"
                self.gcs_port = free_port()
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
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready = the dashboard lists an alive node and reports its resource usage."""
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Ray head exited with {self.process.returncode}; see {self.log_path}:\n"
                    + self.log_tail()
                )
            try:
                req = urllib.request.Request(
                    f"{self.dashboard_url}/api/cluster_status", headers=headers
                )
                with urllib.request.urlopen(req, timeout=2) as resp:
                    data = json.load(resp).get("data") or {}
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

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the ``ray start --block`` we started; it stops its own children.

        Then anything of the head's own process group still running is ended too,
        and we wait until it is gone, so a caller can rely on the ports being free.
        """
        proc, self.process = self.process, None
        if proc is not None:
            if proc.poll() is None:
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
                except (ProcessLookupError, PermissionError):
                    break
                _wait_group_gone(proc.pid, 10.0)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayHead:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
