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
from test_k8s_api import DEPLOY
from test_k8s_api import kubeconfig, on_pod, ray_address  # noqa: F401 - the fixtures
from test_promote_rayservice import SERVE_SCRIPT
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.promote import PromoteConfig, PromoteService
from jupyter_ray_dev.promote.manifests import cluster_shape, pin_image, validate_manifest
from jupyter_ray_dev.promote.package import runtime_env_for, runtime_env_rayjob
from jupyter_ray_dev.promote.store import PromotionRecord, PromotionStore

pytestmark = pytest.mark.k8s

DIGEST = "sha256:" + "5e" * 32
PLURALS = {"RayJob": "rayjobs", "RayCluster": "rayclusters", "RayService": "rayservices",
           "RayCronJob": "raycronjobs"}
CRON = {"variant": "raycronjob", "schedule": "0 2 * * 1-5", "time_zone": "Europe/Berlin"}


async def _summary():
    return SUMMARY


def _generated(tmp_path) -> list[dict]:
    """What the pipeline emits for a sample project: every variant and the runtime_env job."""
    root = tmp_path / "root"
    project = sample_project(root, env_vars={"MODE": "prod", "API_TOKEN": "t"})
    write(project / "web.py", SERVE_SCRIPT)
    service = PromoteService(PromoteConfig(root_dir=root, registry="registry.example.com/team",
                                           store_path=tmp_path / "p.sqlite"), _summary)
    try:
        docs = []
        for body in ({"variant": "rayjob"}, {"variant": "rayservice"}, CRON):
            plan = asyncio.run(service.plan("proj", {"entrypoint": "proj/web.py", **body}))
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
    assert [d["kind"] for d in docs] == ["RayJob", "RayCluster", "RayService", "RayCronJob",
                                         "RayJob"]
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


def _cronjob(tmp_path) -> dict:
    return next(d for d in _generated(tmp_path) if d["kind"] == "RayCronJob")


async def _get(jp_fetch, *path, **params):
    try:
        response = await jp_fetch("ray-dev", "api", *path, params=params)
    except HTTPClientError as err:
        return err.code, json.loads(err.response.body)
    return response.code, json.loads(response.body)


async def test_a_scheduled_promotion_is_applied_dry_run_first_and_reports_its_runs(
        jp_fetch, on_pod, ray_dev_config, tmp_path):  # noqa: F811
    cron = await asyncio.to_thread(_cronjob, tmp_path)
    image = cron["spec"]["jobTemplate"]["rayClusterSpec"]["headGroupSpec"]["template"][
        "spec"]["containers"][0]["image"]
    store = PromotionStore(ray_dev_config["promote_store_path"])
    await store.put(PromotionRecord(
        id="promo_cron1", project="proj", entrypoint="proj/web.py", kind="build",
        status="pushed", inputs_hash="h", dockerfile="FROM x\n", manifests=yaml.safe_dump(cron),
        requirements="", image=image, digest=DIGEST))
    await store.close()

    code, history = await _get(jp_fetch, "promotions")
    assert code == 200 and history["promotions"][0]["schedule"] == {
        "schedule": "0 2 * * 1-5", "time_zone": "Europe/Berlin", "suspend": False}
    code, dry = await _post(jp_fetch, "promotions", "promo_cron1", "apply", body={})
    assert code == 200, dry
    assert (dry["dry_run"], dry["kind"], dry["exists"]) == (True, "RayCronJob", False)
    assert "+  schedule: 0 2 * * 1-5" in dry["diff"] and f"@{DIGEST}" in dry["diff"]
    validate_response(dry, "ReapplyResult")
    assert on_pod.custom.list_namespaced_custom_object(
        "ray.io", "v1", on_pod.namespace, "raycronjobs")["items"] == []
    code, done = await _post(jp_fetch, "promotions", "promo_cron1", "apply",
                             body={"dry_run": False})
    assert code == 200 and done["status"]["schedule"] == "0 2 * * 1-5", done
    stored = on_pod.get("raycronjobs", "proj")
    pinned = yaml.safe_load(pin_image(yaml.safe_dump(cron), image, DIGEST))
    assert _missing(pinned, stored) == []  # all of it, on the digest, nothing pruned
    assert stored["spec"]["jobTemplate"]["rayClusterSpec"]["headGroupSpec"]["template"][
        "spec"]["containers"][0]["image"].endswith(f"@{DIGEST}")

    # what KubeRay's operator would write: a schedule time, and a RayJob it stamped
    on_pod.set_status("raycronjobs", "proj", {"lastScheduleTime": "2026-12-01T01:00:00Z"})
    stamped = {"apiVersion": "ray.io/v1", "kind": "RayJob",
               "metadata": {"name": "proj-x7k2p", "labels": {"ray.io/cronjob-name": "proj"},
                            "annotations": {"ray.io/cronjob-scheduled-timestamp":
                                            "2026-12-01T01:00:00Z"}},
               "spec": stored["spec"]["jobTemplate"]}
    on_pod.create("rayjobs", stamped)
    on_pod.set_status("rayjobs", "proj-x7k2p", {"jobDeploymentStatus": "Complete",
                                               "jobStatus": "SUCCEEDED"})
    code, status = await _get(jp_fetch, "kubernetes", "status", "RayCronJob", "proj")
    assert code == 200, status
    validate_response(status, "KubeRayStatus")
    assert status["last_schedule_time"] == "2026-12-01T01:00:00Z"
    assert (status["schedule"], status["time_zone"], status["suspend"]) == (
        "0 2 * * 1-5", "Europe/Berlin", False)
    (job,) = status["jobs"]
    assert (job["name"], job["job_status"], job["scheduled_for"]) == (
        "proj-x7k2p", "SUCCEEDED", "2026-12-01T01:00:00Z")


async def test_suspend_and_resume_dry_run_first(jp_fetch, on_pod, ray_dev_config,
                                                tmp_path):  # noqa: F811
    cron = await asyncio.to_thread(_cronjob, tmp_path)
    on_pod.create("raycronjobs", cron)
    code, listed = await _get(jp_fetch, "kubernetes", "scheduled", project="proj")
    assert code == 200, listed
    validate_response(listed, "ScheduledPromotions")
    assert (listed["can_suspend"], listed["missing_rule"]) == (True, None)
    assert [(c["name"], c["project"], c["suspend"]) for c in listed["cronjobs"]] == [
        ("proj", "proj", False)]
    assert (await _get(jp_fetch, "kubernetes", "scheduled", project="other"))[1][
        "cronjobs"] == []

    code, dry = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                            body={"suspend": True})
    assert code == 200, dry
    validate_response(dry, "SuspendResult")
    assert dry["dry_run"] is True and "+  suspend: true" in dry["diff"]
    assert on_pod.get("raycronjobs", "proj")["spec"].get("suspend") in (None, False)
    code, done = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                             body={"suspend": True, "dry_run": False})
    assert code == 200 and done["status"]["suspend"] is True
    assert on_pod.get("raycronjobs", "proj")["spec"]["suspend"] is True
    code, resumed = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                                body={"suspend": False, "dry_run": False})
    assert code == 200 and on_pod.get("raycronjobs", "proj")["spec"]["suspend"] is False
    code, err = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                            body={"suspend": "yes"})
    assert code == 400 and err["field"] == "suspend"


async def test_without_the_rule_suspend_is_refused_naming_it_and_the_shipped_role_allows_it(
        jp_fetch, on_pod, ray_dev_config, kubeconfig, tmp_path):  # noqa: F811
    from test_k8s_api import _apply_all, use_token

    on_pod.create("raycronjobs", await asyncio.to_thread(_cronjob, tmp_path))
    # the pod's service account may list and read RayCronJobs, not patch them
    _apply_all(on_pod, DEPLOY / "dev" / "rbac.yaml")
    on_pod.rbac.create_namespaced_role(on_pod.namespace, {
        "metadata": {"name": "list-cron"},
        "rules": [{"apiGroups": ["ray.io"], "resources": ["raycronjobs"],
                   "verbs": ["list", "get"]}]})
    on_pod.rbac.create_namespaced_role_binding(on_pod.namespace, {
        "metadata": {"name": "list-cron"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "list-cron"},
        "subjects": [{"kind": "ServiceAccount", "name": "ray-dev",
                      "namespace": on_pod.namespace}]})
    use_token(on_pod, kubeconfig, on_pod.service_account_token("ray-dev"))  # before any call
    code, listed = await _get(jp_fetch, "kubernetes", "scheduled")
    assert code == 200, listed
    assert [c["name"] for c in listed["cronjobs"]] == ["proj"]
    assert listed["can_suspend"] is False
    assert "verbs: [patch]" in listed["missing_rule"]
    assert "raycronjobs.ray.io" in listed["missing_rule"]
    code, err = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                            body={"suspend": True})
    assert code == 403, err
    assert (err["verb"], err["resource"], err["group"]) == ("patch", "raycronjobs", "ray.io")
    assert err["rule"] == {"apiGroups": ["ray.io"], "resources": ["raycronjobs"],
                           "verbs": ["patch"]}
    assert on_pod.get("raycronjobs", "proj")["spec"].get("suspend") in (None, False)

    # the shipped promote Role is enough
    _apply_all(on_pod, DEPLOY / "dev" / "rbac-promote.yaml")
    code, done = await _post(jp_fetch, "kubernetes", "raycronjobs", "proj", "suspend",
                             body={"suspend": True, "dry_run": False})
    assert code == 200 and on_pod.get("raycronjobs", "proj")["spec"]["suspend"] is True
    code, status = await _get(jp_fetch, "kubernetes", "status", "RayCronJob", "proj")
    assert code == 200 and status["jobs"] == []
