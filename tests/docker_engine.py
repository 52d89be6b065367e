"""A private Docker engine for the docker builder's tests: Debian's dockerd with its own
data root, exec root (and so its own containerd), socket and pidfile, stopped by its PID.

vfs storage because overlayfs on overlayfs is not available in every container;
``--iptables=false --bridge=none`` because the build needs no network and must not
touch the machine's firewall or bridges (the build's RUN steps still run, with only
loopback). Short paths under /tmp: the socket path must fit in 108 bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from servers import stop_by_pid


class DockerEngine:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="rdp-dk-"))
        self.host = f"unix://{self.dir / 'docker.sock'}"
        self.log = self.dir / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        # a private DOCKER_CONFIG too: the test never reads the machine's credentials
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0",
                "DOCKER_CONFIG": str(self.dir / "client")}

    def start(self, timeout: float = 60) -> None:
        d = self.dir
        self.process = subprocess.Popen(
            ["dockerd", "--storage-driver", "vfs", "--iptables=false", "--ip6tables=false",
             "--bridge=none", "--data-root", str(d / "data"), "--exec-root", str(d / "exec"),
             "--pidfile", str(d / "docker.pid"), "--host", self.host],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited: {self.log.read_text()[-2000:]}")
            if self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"dockerd did not answer in {timeout} s: "
                           f"{self.log.read_text()[-2000:]}")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["docker", *args], capture_output=True, text=True, env=self.env())
        if check:
            assert out.returncode == 0, out.stderr + out.stdout
        return out

    def stop(self) -> None:
        # only the dockerd we started, by its PID: it stops its own containerd
        if self.process is not None:
            stop_by_pid(self.process, grace=30)
        shutil.rmtree(self.dir, ignore_errors=True)
