"""The private Ray head of the tests and benchmarks: stopping it leaves no job driver
behind, and a start that times out is tried again on fresh ports.

Each test starts a head of its own (the session's head must outlive them).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from jupyter_ray_dev.cluster.local_head import LocalRayHead, _api, _wait_group_gone

pytestmark = pytest.mark.ray

# a driver printing for minutes, as the jobs tests and the soak benchmark run, saying who it is
PRINTER = """
import os, sys, time
print(f"driver pid {os.getpid()} sid {os.getsid(0)}", flush=True)
for i in range(int(sys.argv[1])):
    print(f"line {i}", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def running_driver(head: LocalRayHead, tmp_path: Path) -> int:
    """Submit the printer through Ray's job API; its PID once it printed."""
    script = tmp_path / "printer.py"
    script.write_text(PRINTER)
    import json
    import urllib.request

    req = urllib.request.Request(
        f"{head.dashboard_url}/api/jobs/", method="POST",
        data=json.dumps({"entrypoint": f"{sys.executable} {script} 100000 0.05"}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        job_id = json.load(resp)["submission_id"]
    deadline = time.monotonic() + 120  # a hang guard
    while time.monotonic() < deadline:
        logs = _api(head.dashboard_url, f"/api/jobs/{job_id}/logs").get("logs", "")
        if found := re.search(r"driver pid (\d+) sid (\d+)", logs):
            pid, sid = int(found[1]), int(found[2])
            # Ray starts the driver in a session of its own: the head's group does not hold it
            assert sid != os.getsid(head.process.pid) and os.getpgid(pid) != head.process.pid
            return pid
        time.sleep(0.5)
    raise AssertionError(f"the driver never printed: {logs!r}")


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def test_stopping_the_head_stops_a_running_driver(tmp_path):
    head = LocalRayHead(num_cpus=1).start()
    try:
        driver = running_driver(head, tmp_path)
        os.kill(driver, 0)  # alive now
    finally:
        head.stop()
    assert gone(driver), psutil.Process(driver).cmdline()


def test_a_driver_whose_head_was_killed_goes_with_the_heads_stop(tmp_path):
    """The head's processes die without a word to the job API (a test's crash, a killed
    run): the driver, in its own session, is still ended by the head's stop."""
    head = LocalRayHead(num_cpus=1).start()
    try:
        driver = running_driver(head, tmp_path)
        os.killpg(head.process.pid, signal.SIGKILL)
        head.process.wait(10)
        _wait_group_gone(head.process.pid, 20)
    finally:
        head.stop()
    assert gone(driver), psutil.Process(driver).cmdline()


def freeze_monitor(temp_dir: str, frozen: list, done: threading.Event) -> None:
    """SIGSTOP the head's autoscaler monitor as soon as it runs: the head lives on, but no
    node's resource usage is ever reported, so it never becomes ready (what a process
    that gets no CPU on a loaded machine looks like)."""
    while not done.is_set():
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if "autoscaler/_private/monitor.py" in line and temp_dir in line:
                proc.suspend()
                frozen.append(proc)
                return
        time.sleep(0.1)


def test_a_start_that_times_out_is_tried_again_on_fresh_ports():
    """The first attempt never becomes ready (its monitor frozen: a real process state,
    not a seam), so it times out; its processes are stopped and the second attempt comes
    up on fresh ports."""
    head = LocalRayHead(num_cpus=1)
    first_temp, first_ports = str(head.temp_dir), (head.gcs_port, head.dashboard_port)
    frozen: list[psutil.Process] = []
    done = threading.Event()
    freezer = threading.Thread(target=freeze_monitor, args=(first_temp, frozen, done))
    freezer.start()
    try:
        head.start(timeout=45, attempts=2)
        assert frozen, "the first attempt's monitor never ran"
        assert [type(err) for err in head.failures] == [TimeoutError], head.failures
        assert (head.gcs_port, head.dashboard_port) != first_ports
        status = _api(head.dashboard_url, "/api/cluster_status")
        assert status["data"]["clusterStatus"]["loadMetricsReport"]["usageByNode"]
        # nothing of the failed attempt runs on, the frozen process included
        assert gone(frozen[0].pid, 1)
        left = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                if first_temp in " ".join(p.info["cmdline"] or [])]
        assert left == []
    finally:
        done.set()
        freezer.join()
        head.stop()
