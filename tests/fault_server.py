"""A real Jupyter server with the extension, as a subprocess that a test stops by its PID
(SIGTERM, or SIGKILL as the kernel's OOM killer or a node's eviction would) in the middle
of some work and starts again on the same Jupyter root, data dir and temp dir."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_ray_dev.cluster.local_head import free_port


class FaultServer:
    """``start()``, ``stop(sig)``, ``start()`` again: same dirs, same port, same token."""

    def __init__(self, workdir: Path, config: dict[str, Any], env: dict[str, str] | None = None
                 ) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        self.data = workdir / "data"
        self.tmp = workdir / "tmp"  # the server's TMPDIR: what it leaves there is seen
        for folder in (self.root, self.data, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_file = workdir / "jupyter_server_config.json"
        # the extension alone: the others cost a second of every start and are not tested
        others = ("jupyterlab", "jupyter_lsp", "jupyter_server_proxy",
                  "jupyter_server_terminals", "notebook_shim")
        self.config_file.write_text(json.dumps({
            "RayDev": config, "ServerApp": {"jpserver_extensions": {
                "jupyter_ray_dev": True, **{name: False for name in others}}}}))
        self.env = {**os.environ, "JUPYTER_DATA_DIR": str(self.data),
                    "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "TMPDIR": str(self.tmp),
                    **(env or {})}
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", f"--config={self.config_file}"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log()[-3000:]}")
            try:
                if self.call("GET", "api/status")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no server after {timeout} s: {self.log()[-3000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.workdir / f"server-{self.starts}.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Stop the server by its PID with ``sig`` and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, timeout: float = 60):
        raw = isinstance(body, bytes) or body is None
        data = body if raw else json.dumps(body).encode()
        kind = "application/octet-stream" if raw else "application/json"
        return urllib.request.urlopen(urllib.request.Request(
            f"{self.url}/{path}", method=method, data=data,
            headers={"Authorization": f"token {self.token}", "Content-Type": kind,
                     **(headers or {})}), timeout=timeout)

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        try:
            with self.request(method, path, body, headers) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw

    def api(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        return self.call(method, f"ray-dev/api/{path}", body, headers)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something true (the timeout only stops a hang)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(0.1)
