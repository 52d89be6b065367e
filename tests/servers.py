"""Loopback servers the tests (and the Galata server's configuration) start: each on its
own port, stopped by its PID. No pytest here, so the UI tests' Jupyter server can use it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, log: Path) -> None:
        self.name, self.port = name, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.process = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait(self, path: str = "/", timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                urllib.request.urlopen(self.url + path, timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in {timeout} s")

    def stop(self) -> None:
        stop_by_pid(self.process)


def stop_by_pid(process: subprocess.Popen, grace: float = 10) -> None:
    """Stop only the process we started, by its PID: SIGTERM, then SIGKILL after ``grace``."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)


@contextlib.contextmanager
def serving(name: str, cmd: list[str], port: int, log: Path, ready_path: str):
    """A Server that is up (``ready_path`` answers) inside the block and stopped after it."""
    server = Server(name, cmd, port, log)
    try:
        server.wait(ready_path)
        yield server
    finally:
        server.stop()
