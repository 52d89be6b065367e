"""A finished job's log saved to storage so it outlives the dev cluster: the real local Ray
head runs the job, moto's S3 on loopback receives the log (REST and the CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apischema import validate_response
from jobs_helpers import JobsAPI, write
from storage_fixtures import make_store

pytestmark = pytest.mark.ray

JUPYTER = str(Path(sys.executable).with_name("jupyter"))
# non-ASCII, tabs, a long line and no final newline: the bytes must come back unchanged
NOISY = r"""
    import sys
    for i in range(200):
        print(f"step {i}\tloss={1 / (i + 1):.6f} µ→✓ " + "x" * (i % 7), flush=True)
    print("é" * 3000, flush=True)
    sys.stdout.write("last line without newline")
"""


@pytest.fixture
def s3(request, tmp_path):
    return make_store("s3", request, tmp_path)


@pytest.fixture
def ray_dev_config(s3, tmp_path):
    return {"job_store_path": str(tmp_path / "jobs.sqlite"),
            "storage_roots": [s3.root("artifacts"), {"name": "ro", "url": str(tmp_path),
                                                     "read_only": True}]}


async def test_a_finished_jobs_log_lands_byte_for_byte_in_s3(jp_fetch, jp_root_dir, s3):
    api = JobsAPI(jp_fetch)
    write(jp_root_dir / "proj" / "noisy.py", NOISY)
    job = (await api.submit(file="proj/noisy.py")).json
    job_id = job["submission_id"]
    assert (await api.wait(job_id))["status"] == "SUCCEEDED"
    served = (await api.call("GET", job_id, "logs")).body

    reply = await api.call("POST", job_id, "logs", "save", body={})
    assert reply.code == 200, reply.body
    saved = reply.json
    validate_response(saved, "SavedLog")
    assert saved["path"] == f"ray-dev-logs/proj/{job_id}.log" and saved["root"] == "artifacts"
    assert saved["dest"] == f"{s3.url}/ray-dev-logs/proj/{job_id}.log"
    assert saved["bytes"] == len(served) > 10_000
    assert s3.read(saved["path"]) == served
    assert "µ→✓" in served.decode() and b"last line without newline" in served

    # a named folder gets <id>.log; an existing file is kept unless overwrite
    reply = await api.call("POST", job_id, "logs", "save", body={"dest": "artifacts:kept/"})
    assert reply.code == 200 and s3.read(f"kept/{job_id}.log") == served
    again = await api.call("POST", job_id, "logs", "save", body={"dest": "artifacts:kept/"})
    assert again.code == 409, again.body
    # the refusal names its fix: the field to send, and the CLI's flag
    assert again.json["field"] == "overwrite" and again.json["path"] == f"kept/{job_id}.log"
    assert '"overwrite": true' in again.json["message"]
    assert "--save artifacts:kept/ --overwrite" in again.json["message"]
    forced = await api.call("POST", job_id, "logs", "save",
                            body={"dest": f"{s3.url}/kept/{job_id}.log", "overwrite": True})
    assert forced.code == 200 and s3.read(f"kept/{job_id}.log") == served
    bad = await api.call("POST", job_id, "logs", "save", body={"dest": "ro:x.log"})
    assert bad.code == 403, bad.body  # a read-only root: nothing written
    outside = await api.call("POST", job_id, "logs", "save", body={"dest": "/tmp/x.log"})
    assert outside.code == 400 and outside.json["field"] == "dest"
    assert s3.pending_uploads() == []


async def test_a_running_job_is_saved_once_it_has_finished(jp_fetch, jp_root_dir, s3):
    api = JobsAPI(jp_fetch)
    write(jp_root_dir / "proj" / "slow.py", "import time\nprint('up', flush=True)\n"
                                            "time.sleep(120)\n")
    job_id = (await api.submit(file="proj/slow.py")).json["submission_id"]
    try:
        await api.wait(job_id, statuses={"RUNNING"})
        reply = await api.call("POST", job_id, "logs", "save", body={})
        assert reply.code == 409 and "once it has finished" in reply.json["message"]
        assert not s3.exists(f"ray-dev-logs/proj/{job_id}.log")
    finally:
        await api.call("POST", job_id, "stop")
    missing = await api.call("POST", "raysubmit_nope", "logs", "save", body={})
    assert missing.code == 404


def test_cli_saves_the_log_to_a_storage_uri(ray_head, tmp_path, s3):
    root = tmp_path / "root"
    write(root / "proj" / "noisy.py", NOISY)
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"root_dir": str(root)},
        "RayDev": {"ray_temp_dir": str(ray_head.temp_dir),
                   "job_store_path": str(tmp_path / "jobs.sqlite"),
                   "storage_roots": [s3.root("artifacts")]}}))
    env = {**os.environ, **ray_head.client_env(), "JUPYTER_CONFIG_DIR": str(config)}
    env.pop("RAY_AUTH_TOKEN", None)
    env.pop("RAY_DEV_ROOT_DIR", None)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([JUPYTER, "ray-dev", *args], cwd=root / "proj", env=env,
                              capture_output=True, timeout=300, check=False)

    ran = cli("jobs", "submit", "--wait", "--json", "noisy.py")
    assert ran.returncode == 0, ran.stderr
    job_id = json.loads(ran.stdout)["submission_id"]
    served = cli("jobs", "logs", job_id).stdout  # the CLI prints the text and a newline
    saved = cli("jobs", "logs", job_id, "--save", f"{s3.url}/runs/", "--json")
    assert saved.returncode == 0, saved.stderr
    info = json.loads(saved.stdout)
    assert info["dest"] == f"{s3.url}/runs/{job_id}.log"
    data = s3.read(f"runs/{job_id}.log")
    assert data.rstrip(b"\n") == served.rstrip(b"\n") and info["bytes"] == len(data)
    exists = cli("jobs", "logs", job_id, "--save", f"{s3.url}/runs/")
    assert exists.returncode == 2, exists.stderr  # kept: a 409 unless --overwrite
    assert b"--overwrite" in exists.stderr and f"{s3.url}/runs/{job_id}.log".encode() in exists.stderr
    replaced = cli("jobs", "logs", job_id, "--save", f"{s3.url}/runs/", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
