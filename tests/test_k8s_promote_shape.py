"""Promote in a KubeRay pod: the manifests take their groups from the dev cluster's own
RayCluster, read from a real kube-apiserver (KubeRay's CRDs applied), with the real local
Ray head for the versions. Without the right to read it, Ray's view of its nodes, and the
review says why.
"""

from __future__ import annotations

import json

import pytest
import yaml
from apischema import validate_response
from conftest import HEAD_CUSTOM
from promote_helpers import dev_raycluster, sample_project, write
from test_k8s_api import kubeconfig, on_pod, use_token  # noqa: F401 - the fixtures
from test_promote_api import PromoteAPI
from test_promote_rayservice import SERVE_SCRIPT

from jupyter_ray_dev.cluster.local_head import free_port

pytestmark = [pytest.mark.k8s, pytest.mark.ray]

PLURALS = {"RayJob": "rayjobs", "RayCluster": "rayclusters", "RayService": "rayservices"}


@pytest.fixture
def ray_dev_config(kubeconfig, tmp_path):  # noqa: F811
    return {"kubeconfig": str(kubeconfig), "kubernetes_timeout": 5.0,
            "promote_store_path": str(tmp_path / "promotions.sqlite"),
            "promote_registry": "registry.example.com/team"}


@pytest.fixture
def api(jp_fetch):
    return PromoteAPI(jp_fetch)


async def _plan(api, jp_root_dir, **body):
    sample_project(jp_root_dir, env_vars={"MODE": "prod", "API_TOKEN": "t"})
    reply = await api.promote("plan", entrypoint="proj/train.ipynb", **body)
    assert reply.code == 200, reply.body
    validate_response(reply.json, "PromotionPlan")
    return reply.json


def _spec(doc):
    spec = doc["spec"]
    return spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec


async def test_in_a_kuberay_pod_the_groups_come_from_its_raycluster(
        api, jp_root_dir, on_pod, jp_fetch):  # noqa: F811
    on_pod.create("rayclusters", dev_raycluster())  # the CRD accepts the dev object as is

    plan = await _plan(api, jp_root_dir)
    write(jp_root_dir / "proj" / "web.py", SERVE_SCRIPT)
    serve_reply = await api.promote("plan", entrypoint="proj/web.py", variant="rayservice")
    assert serve_reply.code == 200, serve_reply.body
    assert serve_reply.json["manifest_errors"] == {}
    source = plan["shape_source"]
    assert (source["source"], source["raycluster"]) == ("raycluster",
                                                        f"{on_pod.namespace}/ray-dev")
    assert "head: port jupyter (8888, dev only)" in source["dropped"]
    assert "head: sidecar container git-sync" in source["dropped"]
    assert plan["manifest_errors"] == {}
    assert plan["base_image"].endswith("-gpu")  # the dev cluster's gpu group asks for one
    docs = [*yaml.safe_load_all(plan["manifests"]),
            *yaml.safe_load_all(serve_reply.json["manifests"])]
    assert [d["kind"] for d in docs] == ["RayJob", "RayCluster", "RayService"]
    for doc in docs:
        spec = _spec(doc)
        head = spec["headGroupSpec"]
        assert head["rayStartParams"] == {"dashboard-host": "0.0.0.0", "num-cpus": "0"}
        (container,) = head["template"]["spec"]["containers"]
        assert container["image"] in (plan["image"], serve_reply.json["image"])
        assert container["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}
        assert [w["groupName"] for w in spec["workerGroupSpecs"]] == ["cpu", "gpu"]
        gpu = spec["workerGroupSpecs"][1]
        assert (gpu["replicas"], gpu["minReplicas"], gpu["maxReplicas"]) == (2, 1, 2)
        assert gpu["rayStartParams"] == {"num-gpus": "1"}
        gpod = gpu["template"]["spec"]
        assert gpod["tolerations"][0]["key"] == "nvidia.com/gpu"
        assert gpod["nodeSelector"]["pool"] == "gpu"
        assert gpod["volumes"][0] == {"name": "shared",
                                      "persistentVolumeClaim": {"claimName": "ray-dev-shared"}}
        assert gpod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        # the project's Secret env is there, the dev tooling's is not
        assert [e["name"] for e in gpod["containers"][0]["env"]] == ["NCCL_DEBUG", "API_TOKEN"]
    for text in (plan["manifests"], serve_reply.json["manifests"]):
        assert "8888" not in text and "JUPYTER_TOKEN" not in text and "git-sync" not in text

    # the API server (KubeRay's CRD schemas) takes each one: a dry run, nothing stored
    for doc in docs:
        response = await jp_fetch("ray-dev", "api", "kubernetes", "apply", method="POST",
                                  body=json.dumps({"manifest": doc}))
        result = json.loads(response.body)
        assert (result["dry_run"], result["exists"]) == (True, False), result
        assert result["result"]["spec"]  # what the server computed: not pruned away
        listed = on_pod.custom.list_namespaced_custom_object(
            "ray.io", "v1", on_pod.namespace, PLURALS[doc["kind"]])["items"]
        assert [i["metadata"]["name"] for i in listed] == (
            ["ray-dev"] if doc["kind"] == "RayCluster" else [])


async def test_without_get_on_rayclusters_the_shape_is_rays_view_and_the_review_says_why(
        api, jp_root_dir, on_pod, kubeconfig):  # noqa: F811
    on_pod.create("rayclusters", dev_raycluster())
    use_token(on_pod, kubeconfig, on_pod.service_account_token("ray-dev"))  # no Role bound

    plan = await _plan(api, jp_root_dir)

    source = plan["shape_source"]
    assert (source["source"], source["raycluster"], source["dropped"]) == ("ray", None, [])
    assert source["reason"].startswith("Reading the RayCluster ray-dev failed:")
    assert "may not get rayclusters.ray.io" in source["reason"]
    job = next(yaml.safe_load_all(plan["manifests"]))
    head = _spec(job)["headGroupSpec"]
    # Ray's view: the session head's custom resource, none of the RayCluster's groups
    assert json.loads(head["rayStartParams"]["resources"]) == {k: float(v) for k, v in
                                                                 HEAD_CUSTOM.items()}
    assert "cpu" not in [w["groupName"] for w in _spec(job)["workerGroupSpecs"]]
    assert plan["manifest_errors"] == {}


async def test_an_unreachable_api_server_falls_back_and_says_so(
        api, jp_root_dir, on_pod, kubeconfig):  # noqa: F811
    on_pod.server.write_kubeconfig(kubeconfig, on_pod.admin_token, on_pod.namespace,
                                   server=f"https://127.0.0.1:{free_port()}")
    source = (await _plan(api, jp_root_dir))["shape_source"]
    assert source["source"] == "ray" and "did not answer" in source["reason"]


async def test_a_missing_raycluster_falls_back_naming_it(api, jp_root_dir, on_pod):  # noqa: F811
    source = (await _plan(api, jp_root_dir))["shape_source"]
    assert source["source"] == "ray"
    assert "ray-dev" in source["reason"] and on_pod.namespace in source["reason"]
