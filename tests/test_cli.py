"""``jupyter ray-dev``: the installed command, run as a user or a CI job runs it.

Configured like the server (a jupyter_server_config.json with c.RayDev.* in the
Jupyter config dir), against the real local Ray head.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jobs_helpers import write

pytestmark = pytest.mark.ray

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "proj").mkdir(parents=True)
    return root


@pytest.fixture
def artifacts(tmp_path):
    folder = tmp_path / "artifacts"
    folder.mkdir()
    (folder / "notes.txt").write_text("kept on shared storage\n")
    return folder


@pytest.fixture
def cli(ray_head, root, artifacts, tmp_path):
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"root_dir": str(root)},
        "RayDev": {
            "ray_temp_dir": str(ray_head.temp_dir),
            "job_store_path": str(tmp_path / "jobs.sqlite"),
            "storage_roots": [{"name": "art", "url": str(artifacts)}],
        },
    }))
    env = {**os.environ, **ray_head.client_env(), "JUPYTER_CONFIG_DIR": str(config_dir)}
    env.pop("RAY_AUTH_TOKEN", None)
    env.pop("RAY_DEV_ROOT_DIR", None)

    def run(*args: str, cwd: Path | None = None, extra_env: dict | None = None):
        return subprocess.run([JUPYTER, "ray-dev", *args], check=False, cwd=cwd or root / "proj",
                              env={**env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=300)

    return run


def test_jupyter_finds_the_subcommand():
    assert shutil.which("jupyter-ray-dev", path=str(Path(JUPYTER).parent))
    out = subprocess.run([JUPYTER, "ray-dev", "--help"], check=False, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0
    for command in ("status", "env", "jobs", "storage", "exit codes"):
        assert command in out.stdout


def test_status_text_and_json(cli):
    text = cli("status")
    assert text.returncode == 0, text.stderr
    assert "CPU" in text.stdout and "alive" in text.stdout
    js = cli("status", "--json")
    assert js.returncode == 0, js.stderr
    assert json.loads(js.stdout)["alive_nodes"] == 1
    assert json.loads(cli("--json", "status").stdout)["alive_nodes"] == 1  # either place


def test_submit_wait_streams_logs_and_the_exit_code_is_the_jobs(cli, root):
    write(root / "proj" / "train.py", """
        import sys
        print("training with", sys.argv[1:])
        sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """)
    ok = cli("jobs", "submit", "--wait", "--cpus", "0.5", "train.py", "0")
    assert ok.returncode == 0, ok.stderr
    assert "training with ['0']" in ok.stdout and "SUCCEEDED" in ok.stdout
    failed = cli("jobs", "submit", "--wait", "train.py", "3")
    assert failed.returncode == 1, failed.stderr
    assert "FAILED" in failed.stdout
    # machine-readable: the API's job document, and the history lists it
    submitted = cli("--json", "jobs", "submit", "--wait", "train.py", "0")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["status"] == "SUCCEEDED" and job["file"] == "proj/train.py"
    listed = json.loads(cli("jobs", "list", "--json").stdout)
    assert job["submission_id"] in [j["submission_id"] for j in listed]
    logs = cli("jobs", "logs", job["submission_id"])
    assert logs.returncode == 0 and "training with ['0']" in logs.stdout


def test_errors_have_exit_codes_and_json(cli, root):
    missing = cli("--json", "jobs", "stop", "raysubmit_nosuchjob")
    assert missing.returncode == 3
    assert json.loads(missing.stdout)["error"]["status"] == 404
    bad = cli("--json", "jobs", "submit", "notes.md")
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["error"]["field"] == "file"
    outside = cli("jobs", "submit", "../../elsewhere.py")
    assert outside.returncode == 2 and "outside the Jupyter root" in outside.stderr
    usage = cli("jobs", "frobnicate")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    down = cli("--json", "status", extra_env={"RAY_ADDRESS": "http://127.0.0.1:1"})
    assert down.returncode == 4
    assert json.loads(down.stdout)["error"]["reason"] == "ray_unreachable"


def test_env_show_and_validate(cli, root):
    (root / "proj" / "runtime_env.yaml").write_text("env_vars:\n  STAGE: dev\n")
    shown = cli("env", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["runtime_env"] == {"env_vars": {"STAGE": "dev"}}
    assert "STAGE: dev" in cli("env", "show").stdout
    assert cli("env", "validate").returncode == 0
    (root / "proj" / "runtime_env.yaml").write_text(
        "pip: [requests]\nconda:\n  dependencies: [numpy]\n")
    invalid = cli("env", "validate", "--json")
    assert invalid.returncode == 1
    verdict = json.loads(invalid.stdout)
    assert verdict["valid"] is False and verdict["errors"]


def test_storage_ls_and_cp_both_ways(cli, root, artifacts, tmp_path):
    roots = cli("storage", "ls", "--json")
    assert [r["name"] for r in json.loads(roots.stdout)] == ["art"]
    listing = cli("storage", "ls", "art:", "--json")
    assert [e["name"] for e in json.loads(listing.stdout)["entries"]] == ["notes.txt"]
    local = tmp_path / "model.bin"
    local.write_bytes(b"\x00weights" * 1000)
    missing = cli("storage", "cp", str(local), f"{artifacts}/models/")
    assert missing.returncode == 3 and "'models'" in missing.stderr  # as the panel's upload
    (artifacts / "models").mkdir()
    up = cli("storage", "cp", str(local), f"{artifacts}/models/")
    assert up.returncode == 0, up.stderr
    assert (artifacts / "models" / "model.bin").read_bytes() == local.read_bytes()
    assert f"Copied {local} to " in up.stdout and "models/model.bin (8000 bytes)" in up.stdout
    again = cli("storage", "cp", str(local), "art:models/model.bin")
    assert again.returncode == 2  # no silent overwrite, and the message says how
    assert "The destination" in again.stderr and "already exists: pass --force" in again.stderr
    assert cli("storage", "cp", str(local), "art:models/model.bin", "--overwrite").returncode == 0
    down = cli("storage", "cp", "art:notes.txt", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "notes.txt").read_text() == "kept on shared storage\n"
    kept = cli("storage", "cp", "art:notes.txt", str(tmp_path))
    assert kept.returncode == 2 and f"{tmp_path / 'notes.txt'} already exists" in kept.stderr
    # a folder that is not there: refused, not written as a file of that name
    nowhere = cli("storage", "cp", "art:notes.txt", f"{tmp_path}/new/")
    assert nowhere.returncode == 3 and "does not exist" in nowhere.stderr
    assert not (tmp_path / "new").exists()
    between = cli("storage", "cp", "art:notes.txt", "art:models/")
    assert between.returncode == 0 and (artifacts / "models" / "notes.txt").exists()
    neither = cli("storage", "cp", str(local), str(tmp_path / "copy.bin"))
    assert neither.returncode == 2
    assert "Neither the source" in neither.stderr and "nor the destination" in neither.stderr
    usage = cli("storage", "cp", "--help")
    assert usage.returncode == 0 and "SOURCE" in usage.stdout and "DESTINATION" in usage.stdout
    assert "--force, --overwrite" in usage.stdout
    outside = cli("storage", "ls", "/etc")
    assert outside.returncode == 3 and "none of the storage roots" in outside.stderr
