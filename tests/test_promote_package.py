"""The runtime_env production path against real S3 (moto_server) and the real Ray head:
the code zip lands in the storage root, content-addressed, and the RayJob's
runtimeEnvYAML points working_dir at it with the pinned pip list."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml
from promote_helpers import sample_project
from storage_fixtures import make_store
from test_promote_api import PromoteAPI

pytestmark = pytest.mark.ray


@pytest.fixture
def s3(request, tmp_path):
    return make_store("s3", request, tmp_path)


@pytest.fixture
def ray_dev_config(tmp_path, s3):
    local = tmp_path / "shared"
    local.mkdir()
    return {"promote_store_path": str(tmp_path / "promotions.sqlite"),
            "storage_roots": [s3.root("art"), {"name": "nfs", "url": str(local)}]}


@pytest.fixture
def api(jp_fetch):
    return PromoteAPI(jp_fetch)


async def test_code_zip_lands_in_s3_and_the_rayjob_points_at_it(api, jp_root_dir, s3):
    sample_project(jp_root_dir, env_vars={"MODE": "prod", "HF_TOKEN": "t"})
    reply = await api.promote("package", entrypoint="proj/train.ipynb", storage_root="art")
    assert reply.code == 200, reply.body
    out = reply.json
    assert out["uri"].startswith(f"{s3.url}/ray-dev-packages/proj-") and out["uploaded"]
    key = out["uri"][len(s3.url) + 1:]
    with zipfile.ZipFile(io.BytesIO(s3.read(key))) as zf:
        names = set(zf.namelist())
    assert {"proj/train.py", "proj/helpers.py", "proj/data/params.txt"} <= names
    assert not any("checkpoints" in n or "scratch" in n for n in names)
    assert out["manifest_errors"] == []
    job = yaml.safe_load(out["manifests"])
    env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    assert env["working_dir"] == out["uri"]
    assert env["pip"][0].startswith("pyyaml==") and env["env_vars"] == {"MODE": "prod"}
    assert job["spec"]["entrypoint"] == "python train.py"
    image = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert image["image"].startswith("rayproject/ray:")  # the stock image
    assert "less reproducible" in out["reproducibility"]
    # content-addressed: the same code is not uploaded twice
    again = await api.promote("package", entrypoint="proj/train.ipynb", storage_root="art")
    assert again.json["uri"] == out["uri"] and again.json["uploaded"] is False
    # a code change is a new package beside the first one
    (jp_root_dir / "proj" / "helpers.py").write_text("def answer():\n    return 43\n")
    changed = await api.promote("package", entrypoint="proj/train.ipynb", storage_root="art")
    assert changed.code == 200, changed.body
    assert changed.json["uri"] != out["uri"] and changed.json["uploaded"] is True


@pytest.mark.parametrize(("root", "field"), [(None, "storage_root"), ("nfs", "storage_root")])
async def test_the_runtime_env_path_needs_an_object_store_root(api, jp_root_dir, root, field):
    sample_project(jp_root_dir)
    body = {"entrypoint": "proj/train.ipynb"}
    if root:
        body["storage_root"] = root
    reply = await api.promote("package", **body)
    assert reply.code == 400 and reply.json["field"] == field


MAIN = """
import os

import helpers
import yaml

print("RESULT", helpers.answer(), open("data/params.txt").read(), os.environ["MODE"],
      yaml.__version__)
"""


def _submit_and_wait(address: str, entrypoint: str, runtime_env: dict) -> tuple[str, str]:
    """Submit as KubeRay does for a RayJob (entrypoint + runtimeEnvYAML) and wait; blocking,
    so the test runs it on a thread."""
    import time

    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(address)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env)
    deadline = time.monotonic() + 240  # only stops a hung test: pip may run on the head
    while (status := client.get_job_status(job_id)) not in (
            JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        time.sleep(0.5)
    return str(status), client.get_job_logs(job_id)


async def test_a_job_with_the_emitted_runtime_env_runs_the_entrypoint_from_s3(
        api, jp_root_dir, s3, ray_head):
    """The real thing KubeRay would do with the emitted RayJob, on the session's real Ray
    head: its runtime_env agent downloads the zip from moto (the head was started with
    AWS_ENDPOINT_URL pointing there), installs the pinned pip list and runs the driver."""
    import asyncio

    import smart_open  # noqa: F401 - Ray reads s3:// working dirs with it: fail plainly here

    project = sample_project(jp_root_dir, env_vars={"MODE": "prod"})
    (project / "main.py").write_text(MAIN)
    reply = await api.promote("package", entrypoint="proj/main.py", storage_root="art")
    assert reply.code == 200, reply.body
    job = yaml.safe_load(reply.json["manifests"])
    runtime_env = yaml.safe_load(job["spec"]["runtimeEnvYAML"])
    assert runtime_env["working_dir"].startswith("s3://")

    status, logs = await asyncio.to_thread(_submit_and_wait, ray_head.dashboard_url,
                                           job["spec"]["entrypoint"], runtime_env)
    import yaml as local_yaml

    assert status == "SUCCEEDED", logs
    assert f"RESULT 42 lr=0.1 prod {local_yaml.__version__}" in logs
