"""The jobs REST API against a real local Ray head: launch, watch, stop, delete, re-run, errors."""

from __future__ import annotations

import asyncio
import json
import os
import time

import nbformat
import pytest
from ray.job_submission import JobSubmissionClient

from apischema import validate_response
from conftest import HEAD_CPUS, HEAD_CUSTOM
from jobs_helpers import JobsAPI, driver_lines, write
from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.service import RayDevConfig, RayDevService

pytestmark = pytest.mark.ray


@pytest.fixture
def api(jp_fetch):
    return JobsAPI(jp_fetch)


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "history" / "jobs.sqlite"


@pytest.fixture
def ray_dev_config(store_path):
    return {"job_store_path": str(store_path)}


HELLO = """
    import sys
    for i in range(5):
        print(f"hello {i}", flush=True)
    print("args", sys.argv[1:])
"""


async def test_script_runs_to_succeeded_with_its_logs_in_order(api, jp_root_dir, ray_head):
    write(jp_root_dir / "proj" / "hello.py", HELLO)
    reply = await api.submit(file="proj/hello.py", args=["--name", "Ray Dev"],
                             resources={"num_cpus": 0.5, "custom": {"my_custom": 1}})
    assert reply.code == 201, reply.body
    job = reply.json
    validate_response(job, "SubmittedJob")
    job_id = job["submission_id"]
    assert reply.headers["Location"].endswith(f"/ray-dev/api/jobs/{job_id}")
    assert job["status"] == "PENDING" and job["warnings"] == []
    assert (job["file"], job["project"]) == ("proj/hello.py", "proj")
    assert job["entrypoint"] == "python -m ray_dev_record hello.py --name 'Ray Dev'"

    done = await api.wait(job_id)
    validate_response(done, "Job")
    assert done["status"] == "SUCCEEDED", done["message"]
    assert done["launched_here"] and done["can_rerun"] and done["known_to_ray"]
    assert done["metadata"]["launched_by"] == "jupyter-ray-dev"
    assert done["metadata"]["file"] == "proj/hello.py"
    # the times are Ray's own (ms -> s), and the duration is the span between them
    info = JobSubmissionClient(ray_head.dashboard_url).get_job_info(job_id)
    assert (done["start_time"], done["end_time"]) == (info.start_time / 1000,
                                                      info.end_time / 1000)
    assert done["duration"] == done["end_time"] - done["start_time"] > 0
    assert done["settings"]["args"] == ["--name", "Ray Dev"]

    log = await api.logs(job_id)
    assert driver_lines(log, "hello") == [f"hello {i}" for i in range(5)]
    assert "args ['--name', 'Ray Dev']" in log

    listed = (await api.call("GET")).json
    validate_response(listed, "JobList")
    (mine,) = [j for j in listed["jobs"] if j["submission_id"] == job_id]
    assert mine["file"] == "proj/hello.py" and mine["status"] == "SUCCEEDED"
    assert [j["submission_id"] for j in (await api.call("GET", status="FAILED")).json["jobs"]
            ].count(job_id) == 0
    assert job_id in [j["submission_id"] for j in
                      (await api.call("GET", project="proj", status="succeeded")).json["jobs"]]

    download = await api.call("GET", job_id, "logs", download="1")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{job_id}.log"'
    assert download.headers["Content-Type"].startswith("text/plain")


async def test_entrypoint_resources_are_reserved_on_the_cluster(api, jp_fetch, jp_root_dir):
    write(jp_root_dir / "proj" / "hold.py", "import time\nprint('holding', flush=True)\n"
                                            "time.sleep(600)\n")
    job_id = (await api.submit(file="proj/hold.py",
                               resources={"num_cpus": 1, "custom": {"my_custom": 3}})
              ).json["submission_id"]
    try:
        await api.wait(job_id, statuses={"RUNNING"})
        # Ray's usage report lags a few seconds: poll the cluster panel as the UI does
        deadline = time.monotonic() + 60
        while True:
            totals = json.loads((await jp_fetch("ray-dev", "api", "cluster")).body)["totals"]
            if totals["my_custom"]["available"] == HEAD_CUSTOM["my_custom"] - 3:
                break
            assert time.monotonic() < deadline, totals
            await asyncio.sleep(0.5)
        assert totals["CPU"]["available"] <= HEAD_CPUS - 1
    finally:
        await api.call("POST", job_id, "stop")
    assert (await api.wait(job_id))["status"] == "STOPPED"


async def test_jobs_submitted_elsewhere_are_listed_too(api, ray_head):
    client = JobSubmissionClient(ray_head.dashboard_url)
    other = client.submit_job(entrypoint="echo from-the-cli", metadata={"owner": "cli"})
    jobs = {j["submission_id"]: j for j in (await api.call("GET")).json["jobs"]}
    assert other in jobs
    assert jobs[other]["launched_here"] is False and jobs[other]["file"] is None
    assert jobs[other]["metadata"] == {"owner": "cli"} and jobs[other]["can_rerun"] is False
    assert (await api.call("POST", other, "rerun")).code == 404


async def test_notebook_runs_in_its_folder_with_magics_reported(api, jp_root_dir):
    folder = jp_root_dir / "proj" / "notebooks"
    write(folder / "data.txt", "data next to the notebook\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "P"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Analysis"),
        nbformat.v4.new_code_cell("%pip install not-needed\nimport os, sys\nprint('nb start')"),
        nbformat.v4.new_code_cell("print('nb read', open('data.txt').read().strip())\n"
                                  "print('nb folder', os.path.basename(os.getcwd()))"),
        nbformat.v4.new_code_cell("for i in range(3):\n    print(f'nb {i}')\ndisplay('shown')"),
    ]
    nbformat.write(nb, str(folder / "analysis.ipynb"))

    refused = await api.submit(file="proj/notebooks/analysis.ipynb", magics="error")
    assert refused.code == 400
    assert refused.json["field"] == "file" and "cell 2 line 1" in refused.json["message"]

    reply = await api.submit(file="proj/notebooks/analysis.ipynb", project="proj")
    assert reply.code == 201, reply.body
    job = reply.json
    validate_response(job, "SubmittedJob")
    (warning,) = job["warnings"]
    assert (warning["cell"], warning["line"]) == (2, 1)
    assert warning["source"] == "%pip install not-needed"
    assert job["entrypoint"].startswith("cd notebooks && python -m ray_dev_record -m _ray_dev_nb_")

    done = await api.wait(job["submission_id"])
    log = await api.logs(job["submission_id"])
    assert done["status"] == "SUCCEEDED", log
    assert driver_lines(log, "nb ") == ["nb start", "nb read data next to the notebook",
                                        "nb folder notebooks", "nb 0", "nb 1", "nb 2"]
    assert "shown" in log
    # the conversion never touched the user's folder
    assert sorted(p.name for p in folder.iterdir()) == ["analysis.ipynb", "data.txt"]


async def test_failing_script_reports_failed_with_its_error(api, jp_root_dir):
    write(jp_root_dir / "proj" / "bad.py", """
        print("about to fail", flush=True)
        raise ValueError("bad input 42")
    """)
    job = (await api.submit(file="proj/bad.py")).json
    done = await api.wait(job["submission_id"])
    assert done["status"] == "FAILED"
    assert done["error_type"] == "JOB_ENTRYPOINT_COMMAND_ERROR"
    assert done["error_summary"] == "ValueError: bad input 42"
    assert done["driver_exit_code"] == 1
    assert "about to fail" in await api.logs(job["submission_id"])


async def test_stop_a_long_running_job_then_delete_it(api, jp_root_dir, store_path):
    write(jp_root_dir / "proj" / "forever.py", """
        import time
        print("started", flush=True)
        time.sleep(600)
    """)
    job_id = (await api.submit(file="proj/forever.py")).json["submission_id"]
    await api.wait(job_id, statuses={"RUNNING"})

    busy = await api.call("DELETE", job_id)
    assert busy.code == 409 and "stop it first" in busy.json["message"]

    stopped = await api.call("POST", job_id, "stop")
    assert stopped.code == 200
    validate_response(stopped.json, "Job")
    done = await api.wait(job_id)
    assert done["status"] == "STOPPED"

    assert (await api.call("DELETE", job_id)).code == 204
    assert (await api.call("GET", job_id)).code == 404
    assert job_id not in [j["submission_id"] for j in (await api.call("GET")).json["jobs"]]


async def test_runtime_env_yaml_env_vars_reach_the_driver(api, jp_root_dir):
    project = jp_root_dir / "envproj"
    write(project / "runtime_env.yaml", """
        # the project's environment (the runtime_env editor writes this file)
        env_vars:
          GREETING: hello from runtime_env
        excludes: ["big/"]
    """)
    write(project / "big" / "ignored.bin", "x")
    write(project / "helpers.py", "WHO = 'helper module'\n")
    write(project / "src" / "main.py", """
        import os, sys
        sys.path.insert(0, os.getcwd())  # the working_dir: the project folder
        import helpers
        print("env", os.environ["GREETING"], flush=True)
        print("import", helpers.WHO, flush=True)
        print("excluded", os.path.exists("big/ignored.bin"), flush=True)
    """)
    job = (await api.submit(file="envproj/src/main.py")).json
    assert job["project"] == "envproj"  # found from the runtime_env.yaml above the file
    assert job["entrypoint"] == "python -m ray_dev_record src/main.py"
    done = await api.wait(job["submission_id"])
    log = await api.logs(job["submission_id"])
    assert done["status"] == "SUCCEEDED", log
    assert driver_lines(log, "env") == ["env hello from runtime_env"]
    assert "import helper module" in log and "excluded False" in log


async def test_rerun_uses_the_stored_settings_and_history_survives_a_restart(
    api, jp_root_dir, ray_head, store_path
):
    write(jp_root_dir / "proj" / "hello.py", HELLO)
    first = (await api.submit(file="proj/hello.py", args="a 'b c'")).json
    await api.wait(first["submission_id"])

    again = await api.call("POST", first["submission_id"], "rerun")
    assert again.code == 201, again.body
    validate_response(again.json, "SubmittedJob")
    second = again.json
    assert second["submission_id"] != first["submission_id"]
    assert second["settings"] == first["settings"]
    done = await api.wait(second["submission_id"])
    assert done["status"] == "SUCCEEDED"
    assert "args ['a', 'b c']" in await api.logs(second["submission_id"])

    # a fresh server on the same data: its own store instance, same sqlite file
    fresh = RayDevService(RayDevConfig(ray_address=ray_head.dashboard_url,
                                       root_dir=str(jp_root_dir), job_store_path=str(store_path)))
    try:
        jobs = {j["submission_id"]: j for j in await fresh.jobs.list(project="proj")}
        assert {first["submission_id"], second["submission_id"]} <= set(jobs)
        assert jobs[first["submission_id"]]["settings"]["args"] == ["a", "b c"]
        third = await fresh.jobs.rerun(first["submission_id"], user="after-restart")
        assert third["user"] == "after-restart" and third["settings"] == first["settings"]
    finally:
        await fresh.close()


async def test_unknown_jobs_are_404(api):
    for method, parts in [("GET", ()), ("DELETE", ()), ("POST", ("stop",)), ("GET", ("logs",)),
                          ("POST", ("rerun",))]:
        reply = await api.call(method, "raysubmit_doesnotexist", *parts)
        assert reply.code == 404, (method, parts, reply.body)
        assert reply.json["reason"] == "not_found"
        assert "raysubmit_doesnotexist" in reply.json["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"file": "proj/ok.py", "resources": {"num_cpus": -1}}, "resources.num_cpus"),
        ({"file": "proj/ok.py", "resources": {"num_gpus": 2.5}}, "resources.num_gpus"),
        ({"file": "proj/ok.py", "resources": {"custom": {"CPU": 1}}}, "resources.custom.CPU"),
        ({"file": "proj/ok.py", "args": [1]}, "args[0]"),
        ({"file": "../outside.py"}, "file"),
        ({"file": "/etc/passwd.py"}, "file"),
        ({"file": "proj/escape.py"}, "file"),  # a symlink out of the root
        ({"file": "proj/missing.py"}, "file"),
        ({"file": "proj/notes.txt"}, "file"),
        ({"file": "badenv/run.py"}, "runtime_env"),
        ({"file": "badyaml/run.py"}, "runtime_env"),
        ({"file": "proj/ok.py", "project": "other"}, "project"),
    ],
)
async def test_bad_launches_are_400_naming_the_field_and_leave_nothing(
    api, jp_root_dir, tmp_path, store_path, body, field
):
    write(jp_root_dir / "proj" / "ok.py", "print('ok')\n")
    write(jp_root_dir / "proj" / "notes.txt", "not code\n")
    write(jp_root_dir / "other" / "x.py", "print('x')\n")
    write(tmp_path / "outside.py", "print('outside')\n")
    (jp_root_dir / "proj" / "escape.py").symlink_to(tmp_path / "outside.py")
    write(jp_root_dir / "badenv" / "runtime_env.yaml", "pip: [requests]\nconda: [numpy]\n")
    write(jp_root_dir / "badenv" / "run.py", "print(1)\n")
    write(jp_root_dir / "badyaml" / "runtime_env.yaml", "env_vars: [unclosed\n")
    write(jp_root_dir / "badyaml" / "run.py", "print(1)\n")
    before = len((await api.call("GET")).json["jobs"])

    reply = await api.submit(**body)
    assert reply.code == 400, reply.body
    assert reply.json["field"] == field
    assert reply.json["reason"] == "bad_request"
    # nothing reached Ray, nothing was recorded
    assert len((await api.call("GET")).json["jobs"]) == before
    assert not store_path.exists() or (await _records(store_path)) == []


async def _records(path):
    from jupyter_ray_dev.jobs import JobStore

    store = JobStore(path)
    try:
        return await store.list(None)
    finally:
        await store.close()


async def test_invalid_json_body_is_400(api):
    reply = await api.call("POST", body=b"{nope")
    assert reply.code == 400 and reply.json["field"] == "body"


async def test_too_large_working_dir_fails_before_submitting_with_the_fix(api, jp_root_dir,
                                                                          store_path):
    project = jp_root_dir / "heavy"
    write(project / "train.py", "print('trained')\n")
    with open(project / "dataset.bin", "wb") as f:
        f.truncate(101 * 1024 * 1024)  # sparse: 101 MiB to Ray's packer, no disk used
    reply = await api.submit(file="heavy/train.py")
    assert reply.code == 400
    error = reply.json
    assert error["reason"] == "working_dir_too_large" and error["field"] == "working_dir"
    assert error["largest"][0] == {"path": "dataset.bin", "bytes": 101 * 1024 * 1024}
    assert "101.0 MiB" in error["message"] and ".rayignore" in error["message"]
    assert "c.RayDev.shared_roots" in error["message"]
    assert not store_path.exists() or (await _records(store_path)) == []

    # the fix the message gives: ignore the data, and the same launch goes through
    write(project / ".rayignore", "*.bin\n")
    job = (await api.submit(file="heavy/train.py")).json
    done = await api.wait(job["submission_id"])
    assert done["status"] == "SUCCEEDED"
    assert "trained" in await api.logs(job["submission_id"])


class TestSharedRoot:
    @pytest.fixture
    def ray_dev_config(self, jp_root_dir, store_path):
        # the Jupyter root stands for an NFS mount every node sees (one node here)
        return {"shared_roots": [str(jp_root_dir)], "job_store_path": str(store_path)}

    async def test_project_on_a_shared_root_runs_in_place_without_upload(self, api, jp_root_dir):
        project = jp_root_dir / "big"
        write(project / "run.py", "import os\nprint('cwd', os.getcwd())\n")
        with open(project / "weights.bin", "wb") as f:
            f.truncate(150 * 1024 * 1024)  # over the upload limit: no matter, nothing uploads
        job = (await api.submit(file="big/run.py")).json
        done = await api.wait(job["submission_id"])
        log = await api.logs(job["submission_id"])
        assert done["status"] == "SUCCEEDED", log
        assert f"cwd {os.path.realpath(project)}" in log


class TestRayDown:
    @pytest.fixture
    def ray_address(self, monkeypatch):
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        return f"http://127.0.0.1:{free_port()}"

    async def test_ray_unreachable_is_503_with_the_address_and_no_record(
        self, api, jp_root_dir, ray_address, store_path
    ):
        write(jp_root_dir / "proj" / "ok.py", "print('ok')\n")
        for reply in [await api.submit(file="proj/ok.py"), await api.call("GET"),
                      await api.call("GET", "raysubmit_x"), await api.call("POST", "raysubmit_x",
                                                                           "stop")]:
            assert reply.code == 503, reply.body
            assert reply.json["reason"] == "ray_unreachable"
            assert reply.json["address"] == ray_address
            assert ray_address in reply.json["message"]
        assert not store_path.exists() or (await _records(store_path)) == []


def test_job_document_never_carries_runtime_env_values(tmp_path):
    """Secrets in env_vars stay on the server: the API shows no runtime_env at all."""
    from jupyter_ray_dev.jobs import job_document

    doc = job_document({"submission_id": "s", "status": "RUNNING",
                        "runtime_env": {"env_vars": {"TOKEN": "s3cr3t"}}}, None)
    assert "s3cr3t" not in json.dumps(doc)
