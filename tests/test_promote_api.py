"""The promote REST API against the real local Ray head: review, context export, the
history, a real build and push followed over the WebSocket, and the errors."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import tarfile

import pytest
import yaml
from apischema import validate_response
from conftest import HEAD_CUSTOM
from jobs_helpers import JobsAPI
from promote_helpers import sample_project

pytestmark = pytest.mark.ray


class PromoteAPI(JobsAPI):
    async def promote(self, action: str, project: str = "proj", **body):
        return await self.call_at(["projects", *project.split("/"), "promote", action], body)

    async def call_at(self, parts, body):
        saved = self.fetch

        async def fetch(*args, **kwargs):  # JobsAPI prefixes "jobs": swap in our parts
            return await saved("ray-dev", "api", *parts, **kwargs)

        self.fetch = fetch
        try:
            return await self.call("POST", body=body)
        finally:
            self.fetch = saved

    async def get(self, *parts: str, **params: str):
        saved = self.fetch

        async def fetch(*args, **kwargs):
            return await saved("ray-dev", "api", *parts, **kwargs)

        self.fetch = fetch
        try:
            return await self.call("GET", **params)
        finally:
            self.fetch = saved


@pytest.fixture
def api(jp_fetch):
    return PromoteAPI(jp_fetch)


@pytest.fixture
def ray_dev_config(tmp_path):
    return {"promote_store_path": str(tmp_path / "promotions.sqlite"),
            "promote_registry": "registry.example.com/team"}


async def test_plan_shows_the_review_shaped_like_the_dev_cluster(api, jp_root_dir, ray_head,
                                                                  monkeypatch):
    monkeypatch.delenv("RAY_CLUSTER_NAME", raising=False)  # not a KubeRay pod
    sample_project(jp_root_dir, env_vars={"MODE": "prod", "WANDB_API_KEY": "k"})
    reply = await api.promote("plan", entrypoint="proj/train.ipynb")
    assert reply.code == 200, reply.body
    plan = reply.json
    validate_response(plan, "PromotionPlan")
    import ray

    # the head runs this Python; it declares a GPU, so the -gpu image
    python = f"{sys.version_info.major}{sys.version_info.minor}"
    assert plan["base_image"] == f"rayproject/ray:{ray.__version__}-py{python}-gpu"
    assert f"FROM {plan['base_image']}\n" in plan["dockerfile"]
    assert plan["entrypoint"]["script"] == "train.py" and plan["entrypoint"]["warnings"]
    assert plan["requirements"]["requirements"][0].startswith("pyyaml==")
    assert [r["name"] for r in plan["env_vars"]["refused"]] == ["WANDB_API_KEY"]
    assert "k" not in plan["env_vars"]["image"].values()  # a secret's value never comes back
    assert plan["manifest_errors"] == {}
    job = next(yaml.safe_load_all(plan["manifests"]))
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert json.loads(head["rayStartParams"]["resources"]) == {k: float(v) for k, v in
                                                                 HEAD_CUSTOM.items()}
    assert {b["name"] for b in plan["builders"]} == {"buildah", "docker", "kaniko"}
    assert all(b["reason"] for b in plan["builders"])
    shape = plan["shape_source"]
    assert {k: shape[k] for k in ("source", "raycluster", "dropped", "reason")} == {
        "source": "ray", "raycluster": None, "dropped": [],
        "reason": "Not running in a KubeRay pod (RAY_CLUSTER_NAME is not set)."}
    # the head runs on this machine (its dashboard on loopback): every number says whence
    assert {(n["group"], n["resource"]) for n in shape["numbers"]} == {("head", "cpu"),
                                                                      ("head", "memory")}
    assert all(n["basis"] in ("machine", "container", "ray_start") for n in shape["numbers"])


@pytest.mark.parametrize(("project", "body", "field"), [
    ("proj", {"entrypoint": "proj/train.ipynb", "colour": "red"}, "colour"),
    ("proj", {"entrypoint": "proj/train.ipynb", "base_image": "x\nRUN y"}, "base_image"),
    ("proj", {}, "entrypoint"),  # two candidates at the top: the user must choose
    ("..", {}, "project"),
    ("nope", {}, "project"),
    ("proj", {"entrypoint": "other/x.py"}, "entrypoint"),
])
async def test_bad_requests_name_the_field(api, jp_root_dir, project, body, field):
    sample_project(jp_root_dir)
    (jp_root_dir / "proj" / "extra.py").write_text("print(1)\n")
    (jp_root_dir / "other").mkdir()
    (jp_root_dir / "other" / "x.py").write_text("print(1)\n")
    reply = await api.promote("plan", project, **body)
    assert reply.code == 400, reply.body
    assert reply.json["field"] == field and len(reply.json["message"]) > 20


async def test_context_export_downloads_the_tar_gz_and_records_it(api, jp_root_dir):
    sample_project(jp_root_dir)
    reply = await api.promote("context", entrypoint="proj/train.ipynb")
    assert reply.code == 200, reply.body
    assert reply.headers["Content-Type"] == "application/gzip"
    assert reply.headers["Content-Disposition"].endswith('-context.tar.gz"')
    with tarfile.open(fileobj=io.BytesIO(reply.body)) as tar:
        names = set(tar.getnames())
    assert {"Dockerfile", "app/train.py", "deps/requirements.txt",
            "manifests/rayjob.yaml"} <= names
    history = (await api.get("promotions", project="proj")).json["promotions"]
    assert [(h["kind"], h["status"]) for h in history] == [("context", "exported")]
    validate_response(history[0], "Promotion")
    one = await api.get("promotions", history[0]["id"])
    assert one.code == 200 and one.json["dockerfile"].startswith("# Generated")
    validate_response(one.json, "PromotionDetail")
    assert one.json["manifests_pinned"] == one.json["manifests"]  # nothing pushed
    assert (await api.get("promotions", "promo_000000")).code == 404

    # a second export after a dependency change: the diff shows exactly that
    (jp_root_dir / "proj" / "runtime_env.yaml").write_text("pip: [packaging]\n")
    second = await api.promote("context", entrypoint="proj/train.ipynb")
    assert second.code == 200
    newer = second.headers["X-Ray-Dev-Promotion"]
    diff = await api.get("promotions", newer, "diff", other=history[0]["id"])
    assert diff.code == 200, diff.body
    assert not diff.json["same_inputs"]
    assert "\n-pyyaml==" in diff.json["requirements"]  # dropped; packaging is unchanged
    assert "\n packaging==" in diff.json["requirements"]
    assert 'ENV MODE="prod"' in diff.json["dockerfile"]  # the env var went away
    validate_response(diff.json, "PromotionDiff")
    by_name = {a["name"]: a["diff"] for a in diff.json["artifacts"]}
    assert list(by_name) == ["Dockerfile", "requirements.txt", "lock", "RayJob/proj",
                             "RayCluster/proj"]
    assert by_name["requirements.txt"] == diff.json["requirements"]
    # the lock says where each pin came from: no run of proj, so this server's Python
    assert "\n-pyyaml==" in by_name["lock"] and "from the server's Python" in by_name["lock"]
    assert [c["name"] for c in diff.json["lock_changes"]] == ["pyyaml"]
    assert diff.json["source_runs"] == {"from": None, "to": None}
    # the image's hash changed, so its tag in every manifest did
    assert by_name["RayJob/proj"] and by_name["RayCluster/proj"]
    assert (await api.get("promotions", newer, "diff")).json["field"] == "other"


async def test_build_with_no_usable_builder_says_which_were_tried_and_why(api, jp_root_dir):
    sample_project(jp_root_dir)
    # kaniko without c.RayDev.promote_kaniko: a real refusal, whatever the machine has
    reply = await api.promote("build", entrypoint="proj/train.ipynb", builder="kaniko")
    assert reply.code == 409, reply.body
    assert reply.json["reason"] == "no_builder"
    assert {b["name"] for b in reply.json["builders"]} == {"buildah", "docker", "kaniko"}
    kaniko = next(b for b in reply.json["builders"] if b["name"] == "kaniko")
    assert "c.RayDev.promote_kaniko" in kaniko["reason"]
    assert "Export the build context" in reply.json["message"]
    assert (await api.get("promotions")).json["promotions"] == []  # nothing recorded


async def test_a_push_needs_a_registry_in_the_image_name(api, jp_root_dir):
    sample_project(jp_root_dir)
    reply = await api.promote("build", entrypoint="proj/train.ipynb", image="myproj:v1")
    assert reply.code == 400 and reply.json["field"] == "image"


async def read_stream(jp_ws_fetch, promotion_id, **params):
    ws = await jp_ws_fetch("ray-dev", "api", "promotions", promotion_id, "stream",
                           params={k: str(v) for k, v in params.items()})
    messages = []
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=600)  # only a hang guard
            if raw is None:
                return messages
            messages.append(json.loads(raw))
    finally:
        ws.close()


class TestRealBuild:
    @pytest.fixture
    def ray_dev_config(self, tmp_path, buildah_store, registry):
        return {"promote_store_path": str(tmp_path / "promotions.sqlite"),
                "promote_registry": f"{registry}/team", "promote_tls_verify": False,
                "promote_buildah_root": buildah_store["root"],
                "promote_buildah_runroot": buildah_store["runroot"],
                "promote_buildah_storage_driver": "vfs"}  # where base_image was built

    async def test_build_streams_its_log_and_ends_with_the_pushed_digest(
            self, api, jp_root_dir, jp_ws_fetch, base_image, registry):
        sample_project(jp_root_dir, pip=[])  # no dependency layer: the API, not pip, is tested
        reply = await api.promote("build", entrypoint="proj/train.ipynb", base_image=base_image)
        assert reply.code == 202, reply.body
        started = reply.json
        validate_response(started, "Promotion")
        assert started["status"] == "building"
        assert reply.headers["Location"].endswith(f"/ray-dev/api/promotions/{started['id']}")
        messages = await read_stream(jp_ws_fetch, started["id"])
        lines = [m for m in messages if m["type"] == "line"]
        assert [m["n"] for m in lines] == list(range(len(lines)))
        assert any(m["text"].startswith("STEP 1/") for m in lines)
        end = messages[-1]
        assert end["type"] == "end", messages[-5:]
        assert end["promotion"]["status"] == "pushed", [m["text"] for m in lines[-20:]]
        validate_response(end["promotion"], "Promotion")
        assert end["promotion"]["parity"]["status"] == "passed"
        assert any(m["text"].startswith("Parity check against the pinned lock") for m in lines)
        digest = end["promotion"]["digest"]
        assert digest.startswith("sha256:")
        assert end["promotion"]["image"].startswith(f"{registry}/team/proj:")
        # a finished build replays from the history, resuming where asked
        again = await read_stream(jp_ws_fetch, started["id"], **{"from": 2})
        assert [m["n"] for m in again if m["type"] == "line"][0] == 2
        assert again[-1]["promotion"]["digest"] == digest


    async def test_a_failed_import_holds_the_push_back_until_push_anyway(
            self, api, jp_root_dir, jp_ws_fetch, base_image, registry):
        """The notebook imports a package the project never declared: it ran in dev
        (installed by hand), the image lacks it, and the check stops the push."""
        from promote_helpers import notebook

        project = sample_project(jp_root_dir, pip=[])
        notebook(project / "train.ipynb", "import helpers, tabulate\nprint(helpers.answer())")
        reply = await api.promote("build", entrypoint="proj/train.ipynb", base_image=base_image)
        assert reply.code == 202, reply.body
        promotion_id = reply.json["id"]
        end = (await read_stream(jp_ws_fetch, promotion_id))[-1]["promotion"]
        validate_response(end, "Promotion")
        assert end["status"] == "blocked" and end["digest"] is None, end
        (mismatch,) = end["parity"]["mismatches"]
        assert mismatch["kind"] == "import" and mismatch["name"] == "tabulate"
        detail = await api.get("promotions", promotion_id)
        validate_response(detail.json, "PromotionDetail")
        assert detail.json["parity_report"]["expected"]["modules"] == ["tabulate"]

        async def push(**body):
            return await api.call_at(["promotions", promotion_id, "push"], body)

        refused = await push()
        assert refused.code == 409 and refused.json["parity"]["status"] == "failed"
        assert "Push anyway" in refused.json["message"]
        assert (await push(override="yes")).json["field"] == "override"
        reply = await push(override=True)
        assert reply.code == 202 and reply.json["status"] == "pushing", reply.body
        assert (await push(override=True)).code == 409  # pushing or pushed: not again
        messages = await read_stream(jp_ws_fetch, promotion_id)
        pushed = messages[-1]["promotion"]
        assert pushed["status"] == "pushed" and pushed["digest"].startswith("sha256:")
        assert pushed["overrides"][0]["mismatches"] == [mismatch["message"]]
        # the stream goes on numbering after the build's lines
        numbers = [m["n"] for m in messages if m["type"] == "line"]
        assert numbers == list(range(len(numbers)))
        assert any(m["text"].startswith("Push anyway") for m in messages if "text" in m)


class TestRayDown:
    @pytest.fixture
    def ray_dev_config(self, tmp_path):
        from jupyter_ray_dev.cluster.local_head import free_port

        # nothing listens there: the manifests' shape cannot be read, and we say so
        return {"promote_store_path": str(tmp_path / "promotions.sqlite"),
                "ray_address": f"http://127.0.0.1:{free_port()}", "request_timeout": 2.0}

    async def test_plan_answers_503_naming_ray_when_it_is_unreachable(self, api, jp_root_dir):
        sample_project(jp_root_dir)
        reply = await api.promote("plan", entrypoint="proj/train.ipynb")
        assert reply.code == 503, reply.body
        assert reply.json["reason"] == "ray_unreachable"
        assert "Ray" in reply.json["message"]
