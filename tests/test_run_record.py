"""What each run used, recorded by the launcher the driver runs through, against the real
local Ray head: the head's Python (no pip field), a shared-storage install (PYTHONPATH),
a py_executable, a failing driver, a stopped one; the record's API and its cleanup."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import sys

import pytest
from apischema import validate_response
from jobs_helpers import JobsAPI, driver_lines, write
from test_jobs_api import api, store_path  # noqa: F401 - the fixtures

pytestmark = pytest.mark.ray


@pytest.fixture
def ray_dev_config(store_path, request):
    return {"job_store_path": str(store_path), **getattr(request, "param", {})}


async def record_of(api: JobsAPI, job_id: str) -> dict:
    reply = await api.call("GET", job_id, "record")
    assert reply.code == 200, reply.body
    validate_response(reply.json, "RunRecord")
    return reply.json


async def test_a_run_on_the_heads_python_records_its_interpreter_and_imports(
        api, jp_root_dir, store_path, ray_head):
    write(jp_root_dir / "proj" / "main.py", """
        import sys
        import yaml
        import helper
        print("ARGS", sys.argv[1:], __name__, helper.X, flush=True)
        print("PY", sys.executable, flush=True)
    """)
    write(jp_root_dir / "proj" / "helper.py", "X = 7\n")
    write(jp_root_dir / "proj" / "runtime_env.yaml", """
        env_vars:
          REGION: ${AWS_DEFAULT_REGION}  # Ray expands it from the head's environment
          API_TOKEN: not-for-your-eyes
          MODE: dev
    """)
    reply = await api.submit(file="proj/main.py", args=["--lr", "0.1"])
    assert reply.code == 201, reply.body
    job = reply.json
    # the driver runs through the recorder, shipped with the job
    assert job["entrypoint"] == "python -m ray_dev_record main.py --lr 0.1"
    done = await api.wait(job["submission_id"])
    assert done["status"] == "SUCCEEDED", done["message"]
    log = await api.logs(job["submission_id"])
    # the script ran as `python main.py` would: its argv, __main__, its folder on sys.path
    assert driver_lines(log, "ARGS") == ["ARGS ['--lr', '0.1'] __main__ 7"]
    (python_line,) = driver_lines(log, "PY")

    record = await record_of(api, job["submission_id"])
    assert record["state"] == "recorded" and record["usable"]
    assert record["status"] == "SUCCEEDED" and record["exit_code"] == 0
    assert record["python"]["executable"] == python_line.split(" ", 1)[1]
    assert record["python_version"] == ".".join(map(str, sys.version_info[:3]))
    import ray

    assert record["ray_version"] == ray.__version__
    # every installed distribution with its version, and which ones the run imported
    assert record["distributions"]["pyyaml"] == importlib.metadata.version("pyyaml")
    assert len(record["distributions"]) > 20
    assert record["imported"]["pyyaml"] == ["yaml"]
    assert "helper" in record["local_modules"]  # the project's own module: no distribution
    assert "ray" not in record["imported"]  # the launcher imports nothing but the stdlib
    # the runtime_env as submitted, the secret masked; the env as the driver got it
    assert record["runtime_env"]["env_vars"] == {"REGION": "${AWS_DEFAULT_REGION}",
                                                 "API_TOKEN": "********", "MODE": "dev"}
    assert record["env_vars"] == {"REGION": ray_head.env["AWS_DEFAULT_REGION"],
                                  "API_TOKEN": "********",
                                  "MODE": "dev"}
    assert "not-for-your-eyes" not in json.dumps(record)
    # the project's files at submission, with their digests
    assert set(record["files"]) == {"main.py", "helper.py", "runtime_env.yaml"}
    assert record["files_hash"]
    # the launcher's file was taken into the store and removed
    assert not (store_path.parent / "runs" / f"{job['submission_id']}.json").exists()

    runs = (await api.fetch("ray-dev", "api", "projects", "proj", "runs"))
    listed = json.loads(runs.body)
    validate_response(listed, "RunList")
    assert [r["submission_id"] for r in listed["runs"]] == [job["submission_id"]]
    assert listed["runs"][0]["state"] == "recorded"


async def test_a_failing_driver_is_recorded_with_its_error_and_its_own_traceback(
        api, jp_root_dir):
    write(jp_root_dir / "fails" / "boom.py", """
        import yaml

        def inner():
            raise ValueError("boom at step 3")

        inner()
    """)
    job = (await api.submit(file="fails/boom.py")).json
    done = await api.wait(job["submission_id"])
    assert done["status"] == "FAILED"
    assert done["error_summary"] == "ValueError: boom at step 3"
    log = await api.logs(job["submission_id"])
    # the traceback starts at the user's code: the recorder's frames are not theirs
    assert "ray_dev_record" not in log.split("Traceback (most recent call last):", 1)[1]
    assert 'boom.py", line 6, in <module>' in log
    record = await record_of(api, job["submission_id"])
    assert (record["state"], record["status"], record["exit_code"]) == ("recorded", "FAILED", 1)
    assert record["error"] == "ValueError: boom at step 3"
    assert record["imported"]["pyyaml"] == ["yaml"]  # imports are known on failure too


async def test_a_shared_storage_install_is_what_the_record_shows(api, jp_root_dir, tmp_path):
    # a `pip install --target` folder on shared storage, as "Install onto shared storage"
    # makes it: the driver finds it through env_vars.PYTHONPATH
    target = tmp_path / "shared" / "envs" / "proj" / "abc"
    pkg = target / "sharedpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 'shared'\n")
    info = target / "sharedpkg-3.1.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sharedpkg\nVersion: 3.1.4\n")
    (info / "RECORD").write_text("sharedpkg/__init__.py,,\n")
    write(jp_root_dir / "sh" / "main.py", "import sharedpkg\nprint('V', sharedpkg.VALUE)\n")
    write(jp_root_dir / "sh" / "runtime_env.yaml", f"env_vars:\n  PYTHONPATH: {target}\n")
    job = (await api.submit(file="sh/main.py")).json
    done = await api.wait(job["submission_id"])
    assert done["status"] == "SUCCEEDED", done["message"]
    record = await record_of(api, job["submission_id"])
    assert record["distributions"]["sharedpkg"] == "3.1.4"
    assert record["imported"]["sharedpkg"] == ["sharedpkg"]


async def test_py_executable_is_the_drivers_interpreter_too(api, jp_root_dir, tmp_path):
    # a wrapper interpreter, as a py_executable of a prepared environment would be
    wrapper = tmp_path / "bin" / "mypython"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexport WRAPPED=1\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    write(jp_root_dir / "pe" / "main.py",
          "import os\nprint('WRAPPED', os.environ.get('WRAPPED'))\n")
    write(jp_root_dir / "pe" / "runtime_env.yaml", f"py_executable: {wrapper}\n")
    job = (await api.submit(file="pe/main.py")).json
    assert job["entrypoint"] == f"{wrapper} -m ray_dev_record main.py"
    done = await api.wait(job["submission_id"])
    assert done["status"] == "SUCCEEDED", done["message"]
    assert driver_lines(await api.logs(job["submission_id"]), "WRAPPED") == ["WRAPPED 1"]
    record = await record_of(api, job["submission_id"])
    assert record["state"] == "recorded" and record["runtime_env"]["py_executable"] == \
        str(wrapper)


async def test_a_notebook_run_is_recorded_from_its_converted_module(api, jp_root_dir):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import yaml\nprint('NB', yaml.__name__)")]
    (jp_root_dir / "nbp" / "sub").mkdir(parents=True)
    nbformat.write(nb, str(jp_root_dir / "nbp" / "sub" / "analysis.ipynb"))
    job = (await api.submit(file="nbp/sub/analysis.ipynb", project="nbp")).json
    assert job["entrypoint"].startswith("cd sub && python -m ray_dev_record -m ")
    done = await api.wait(job["submission_id"])
    assert done["status"] == "SUCCEEDED", done["message"]
    record = await record_of(api, job["submission_id"])
    assert record["imported"]["pyyaml"] == ["yaml"]
    assert "sub/analysis.ipynb" in record["files"]


async def test_a_stopped_run_keeps_what_its_start_recorded(api, jp_root_dir):
    write(jp_root_dir / "st" / "sleep.py", """
        import time
        print("up", flush=True)
        time.sleep(600)
    """)
    job = (await api.submit(file="st/sleep.py")).json
    job_id = job["submission_id"]
    await api.wait(job_id, statuses={"RUNNING"})
    while not driver_lines(await api.logs(job_id), "up"):
        await asyncio.sleep(0.2)
    pending = await record_of(api, job_id)
    assert pending["state"] == "pending"
    await api.call("POST", job_id, "stop")
    await api.wait(job_id)
    record = await record_of(api, job_id)
    # the driver was killed before its end: its interpreter and installed versions (read
    # from its sys.path) are known, what it imported is not
    assert record["state"] == "partial" and record["status"] == "STOPPED"
    assert record["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert record["distributions"]["pyyaml"] == importlib.metadata.version("pyyaml")
    assert record["imported"] == {}
    assert "stopped or killed" in record["state_message"]


async def test_records_are_deleted_with_their_job_and_unknown_ones_are_404(
        api, jp_root_dir, store_path, ray_head):
    write(jp_root_dir / "del" / "main.py", "print('x')\n")
    job = (await api.submit(file="del/main.py")).json
    await api.wait(job["submission_id"])
    assert (await api.call("GET", job["submission_id"], "record")).code == 200
    assert (await api.call("DELETE", job["submission_id"])).code == 204
    reply = await api.call("GET", job["submission_id"], "record")
    assert reply.code == 404 and "no record" in reply.json["message"]
    import sqlite3

    db = sqlite3.connect(store_path)
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM file_sets").fetchone() == (0,)


@pytest.mark.parametrize("ray_dev_config", [{"record_runs": False}], indirect=True)
async def test_recording_can_be_turned_off(api, jp_root_dir, ray_dev_config):
    write(jp_root_dir / "off" / "main.py", "print('x')\n")
    job = (await api.submit(file="off/main.py")).json
    assert job["entrypoint"] == "python main.py"
    await api.wait(job["submission_id"])
    record = await record_of(api, job["submission_id"])
    assert record["state"] == "not_recorded" and not record["usable"]
    assert "c.RayDev.record_runs" in record["state_message"]
