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
