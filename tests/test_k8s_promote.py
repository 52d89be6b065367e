"""Promote's manifests on the real kube-apiserver with KubeRay's CRDs: every variant the
pipeline emits is created and comes back unpruned, and a recorded promotion is
re-applied through REST (dry run first, then for real, on the pushed digest).

The cluster summary is a literal of the dashboard's shape, as in the unit tests: this
tier has no Ray head, and the manifests are pure functions of that summary.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml
from apischema import validate_response
from promote_helpers import SUMMARY, sample_project, write
from test_deploy_yaml import _missing
from test_k8s_api import kubeconfig, on_pod, ray_address  # noqa: F401 - the fixtures
from test_promote_rayservice import SERVE_SCRIPT
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.promote import PromoteConfig, PromoteService
from jupyter_ray_dev.promote.manifests import cluster_shape, validate_manifest
from jupyter_ray_dev.promote.package import runtime_env_for, runtime_env_rayjob
from jupyter_ray_dev.promote.store import PromotionRecord, PromotionStore

pytestmark = pytest.mark.k8s

DIGEST = "sha256:" + "5e" * 32
PLURALS = {"RayJob": "rayjobs", "RayCluster": "rayclusters", "RayService": "rayservices"}


async def _summary():
    return SUMMARY


def _generated(tmp_path) -> list[dict]:
    """What the pipeline emits for a sample project: both variants and the runtime_env job."""
    root = tmp_path / "root"
    project = sample_project(root, env_vars={"MODE": "prod", "API_TOKEN": "t"})
    write(project / "web.py", SERVE_SCRIPT)
    service = PromoteService(PromoteConfig(root_dir=root, registry="registry.example.com/team",
                                           store_path=tmp_path / "p.sqlite"), _summary)
    try:
        docs = []
        for variant in ("rayjob", "rayservice"):
            plan = asyncio.run(service.plan("proj", {"entrypoint": "proj/web.py",
                                                     "variant": variant}))
            assert plan["manifest_errors"] == {}
            docs += list(yaml.safe_load_all(plan["manifests"]))
    finally:
        asyncio.run(service.close())
    job = runtime_env_rayjob(
        name="proj-pkg", project="proj", image="rayproject/ray:2.60.0-py311",
        ray_version="2.60.0", script="web.py", shape=cluster_shape(SUMMARY), env=[],
        runtime_env=runtime_env_for("s3://bucket/ray-dev-packages/proj-0123.zip",
                                    ["pyyaml==6.0.2"], {"MODE": "prod"}))
    assert validate_manifest(job) == []
    return [*docs, job]


def test_every_generated_manifest_is_created_and_nothing_is_pruned(kube, tmp_path):
    docs = _generated(tmp_path)
    assert [d["kind"] for d in docs] == ["RayJob", "RayCluster", "RayService", "RayJob"]
    for doc in docs:
        stored = kube.create(PLURALS[doc["kind"]], doc)
        assert _missing(doc, stored) == [], f"{doc['kind']} {doc['metadata']['name']}"


@pytest.fixture
def ray_dev_config(kubeconfig, tmp_path):  # noqa: F811
    return {"kubeconfig": str(kubeconfig), "kubernetes_timeout": 5.0,
            "promote_store_path": str(tmp_path / "promotions.sqlite")}


async def _post(jp_fetch, *path, body):
    try:
        response = await jp_fetch("ray-dev", "api", *path, method="POST", body=json.dumps(body))
    except HTTPClientError as err:
        return err.code, json.loads(err.response.body)
    return response.code, json.loads(response.body)


async def test_reapply_a_recorded_promotion_dry_run_first_then_on_the_digest(
        jp_fetch, on_pod, ray_dev_config, tmp_path):  # noqa: F811
    generated = await asyncio.to_thread(_generated, tmp_path)  # it runs its own loop
    service = next(d for d in generated if d["kind"] == "RayService")
    manifests = yaml.safe_dump(service)
    image = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"][
        "containers"][0]["image"]
    store = PromotionStore(ray_dev_config["promote_store_path"])
    await store.put(PromotionRecord(
        id="promo_k8s1", project="proj", entrypoint="proj/web.py", kind="build",
        status="pushed", inputs_hash="h", dockerfile="FROM x\n", manifests=manifests,
        requirements="", image=image, digest=DIGEST))
    await store.close()

    code, dry = await _post(jp_fetch, "promotions", "promo_k8s1", "apply", body={})
    assert code == 200, dry
    assert (dry["dry_run"], dry["kind"], dry["exists"]) == (True, "RayService", False)
    assert f"@{DIGEST}" in dry["diff"] and dry["promotion_id"] == "promo_k8s1"
    validate_response(dry, "ReapplyResult")
    assert kube_list(on_pod) == []  # a dry run stores nothing

    code, done = await _post(jp_fetch, "promotions", "promo_k8s1", "apply",
                             body={"kind": "RayService", "dry_run": False})
    assert code == 200, done
    stored = on_pod.get("rayservices", "proj")
    head = stored["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"][
        "containers"][0]
    assert head["image"] == f"{image.rsplit(':', 1)[0]}@{DIGEST}"

    code, err = await _post(jp_fetch, "promotions", "promo_k8s1", "apply",
                            body={"kind": "RayJob"})
    assert code == 400 and err["field"] == "kind" and "RayService" in err["message"]
    code, err = await _post(jp_fetch, "promotions", "promo_nope", "apply", body={})
    assert code == 404


def kube_list(kube) -> list[str]:
    items = kube.custom.list_namespaced_custom_object("ray.io", "v1", kube.namespace,
                                                      "rayservices")["items"]
    return [i["metadata"]["name"] for i in items]
