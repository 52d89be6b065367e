"""The soak benchmark's short variant: a minute of simulated users against a real server,
the session's Ray head and moto (bench/soak.py in a child process, which starts the server).

Asserts what must hold at any speed: no server error, every log line of every followed job
exactly once, and the server's file descriptors back where they were. The timings it prints
are the benchmark's business (README), never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

SOAK = Path(__file__).parent.parent / "bench" / "soak.py"
FD_SLACK = 3  # a keep-alive socket or a pool thread's pipe may come and go between readings


def test_a_minute_of_users_loses_nothing_and_leaks_no_fds(ray_head, moto_server):
    run = subprocess.run(
        [sys.executable, str(SOAK), "--users", "8", "--minutes", "1", "--streams", "4",
         "--lines", "200", "--pause", "0.05", "--json",
         "--ray-address", ray_head.dashboard_url, "--ray-temp-dir", str(ray_head.temp_dir),
         "--s3-endpoint", moto_server.url],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))  # the figures, for whoever reads the log
    assert result["requests"] > 100 and result["jobs_followed"] >= 4
    assert result["server_errors"] == 0 and result["unexpected"] == [], result["unexpected"]
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert result["corrupt_uploads"] == 0
    start, end = result["fds"]
    assert end <= start + FD_SLACK, f"file descriptors {start} -> {end}"
