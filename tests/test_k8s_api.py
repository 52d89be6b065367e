"""The Kubernetes tier through the REST API: a real kube-apiserver + etcd, KubeRay's CRDs.

Nothing mocks the Kubernetes client: the server under test reaches the test API
server through a kubeconfig, exactly as outside a pod. No Ray head is needed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.cluster.local_head import free_port

pytestmark = pytest.mark.k8s

DEPLOY = Path(__file__).parent.parent / "deploy"


@pytest.fixture
def ray_address():
    # these tests never talk to Ray: a closed port instead of a session head
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def on_pod(kube, monkeypatch):
    """The environment KubeRay gives the head pod: this cluster's name and namespace."""
    monkeypatch.setenv("RAY_CLUSTER_NAME", "ray-dev")
    monkeypatch.setenv("RAY_CLUSTER_NAMESPACE", kube.namespace)
    return kube


@pytest.fixture
def kubeconfig(kube, tmp_path):
    """The server's kubeconfig: admin by default; a test may rewrite it before its first call
    (the client loads it on first use)."""
    return kube.server.write_kubeconfig(tmp_path / "kubeconfig", kube.admin_token, kube.namespace)


@pytest.fixture
def ray_dev_config(kubeconfig):
    return {"kubeconfig": str(kubeconfig), "kubernetes_timeout": 5.0}


def use_token(kube, kubeconfig: Path, token: str) -> None:
    kube.server.write_kubeconfig(kubeconfig, token, kube.namespace)


def dev_raycluster() -> dict:
    return yaml.safe_load((DEPLOY / "dev" / "raycluster.yaml").read_text())


def rayjob(name: str = "train", entrypoint: str = "python train.py") -> dict:
    job = yaml.safe_load((DEPLOY / "prod" / "rayjob.yaml").read_text())
    job["metadata"]["name"] = name
    job["spec"]["entrypoint"] = entrypoint
    return job


async def fetch(jp_fetch, *path, body=None, **params):
    kwargs = {"method": "POST", "body": json.dumps(body)} if body is not None else {}
    response = await jp_fetch("ray-dev", "api", "kubernetes", *path, params=params, **kwargs)
    return json.loads(response.body)


async def error_of(jp_fetch, *path, body=None, **params):
    with pytest.raises(HTTPClientError) as err:
        await fetch(jp_fetch, *path, body=body, **params)
    return err.value.code, json.loads(err.value.response.body)


# -- discovery -----------------------------------------------------------------------

async def test_discovery_reads_this_pods_raycluster(jp_fetch, on_pod):
    on_pod.create("rayclusters", dev_raycluster())
    on_pod.core.create_namespaced_persistent_volume_claim(
        on_pod.namespace, yaml.safe_load((DEPLOY / "dev" / "pvc.yaml").read_text()))

    body = await fetch(jp_fetch)

    assert body["in_kubernetes"] is True and body["message"] is None
    rc = body["raycluster"]
    assert (rc["name"], rc["namespace"]) == ("ray-dev", on_pod.namespace)
    assert rc["ray_version"] == "2.60.0"
    assert rc["head"]["image"] == "ghcr.io/example/ray-dev-head:2.60.0-py311"
    assert rc["worker_groups"][0]["max_replicas"] == 4
    assert rc["autoscaling"]["enabled"] is True
    assert rc["service_account"] == "ray-dev"
    (shared,) = rc["volumes"]
    assert shared["claim_name"] == "ray-dev-shared"
    # the claim itself, read from the API: class and size (no controller binds it here)
    assert shared["pvc"]["storage_class"] == "efs-sc"
    assert shared["pvc"]["access_modes"] == ["ReadWriteMany"]
    assert shared["pvc"]["capacity"] == "100Gi"


async def test_discovery_when_the_cluster_is_missing_is_404(jp_fetch, on_pod):
    code, err = await error_of(jp_fetch)
    assert code == 404 and "ray-dev" in err["message"] and on_pod.namespace in err["message"]


async def test_unreachable_api_server_is_503(jp_fetch, on_pod, kubeconfig):
    on_pod.server.write_kubeconfig(kubeconfig, on_pod.admin_token, on_pod.namespace,
                                   server=f"https://127.0.0.1:{free_port()}")
    code, err = await error_of(jp_fetch)
    assert (code, err["reason"]) == (503, "kubernetes_unreachable")
    assert "did not answer" in err["message"]


# -- apply ---------------------------------------------------------------------------

async def test_dry_run_shows_the_diff_and_creates_nothing_then_apply_creates(jp_fetch, on_pod):
    manifest = rayjob()
    dry = await fetch(jp_fetch, "apply", body={"manifest": manifest})

    assert (dry["dry_run"], dry["exists"], dry["changed"]) == (True, False, True)
    assert dry["namespace"] == on_pod.namespace  # the pod's namespace when the manifest has none
    assert dry["diff"].startswith("--- /dev/null\n+++ RayJob")
    assert "+  entrypoint: python train.py" in dry["diff"]
    assert on_pod.custom.list_namespaced_custom_object(
        "ray.io", "v1", on_pod.namespace, "rayjobs")["items"] == []

    real = await fetch(jp_fetch, "apply", body={"manifest": manifest, "dry_run": False})
    assert (real["dry_run"], real["exists"]) == (False, False)
    stored = on_pod.get("rayjobs", "train")
    assert stored["spec"]["entrypoint"] == "python train.py"
    assert stored["metadata"]["managedFields"][0]["manager"] == "jupyter-ray-dev"
    assert real["status"]["kind"] == "RayJob"


async def test_dry_run_of_an_update_diffs_against_the_cluster(jp_fetch, on_pod):
    await fetch(jp_fetch, "apply", body={"manifest": rayjob(), "dry_run": False})
    changed = rayjob(entrypoint="python train.py --epochs 3")

    dry = await fetch(jp_fetch, "apply", body={"manifest": changed})

    assert (dry["exists"], dry["changed"]) == (True, True)
    assert ("-  entrypoint: python train.py\n+  entrypoint: python train.py --epochs 3"
            in dry["diff"])
    assert "resourceVersion" not in dry["diff"]
    assert on_pod.get("rayjobs", "train")["spec"]["entrypoint"] == "python train.py"
    same = await fetch(jp_fetch, "apply", body={"manifest": rayjob()})
    assert (same["changed"], same["diff"]) == (False, "")


async def test_the_crd_schema_rejects_a_bad_manifest_naming_the_field(jp_fetch, on_pod):
    bad = rayjob()
    bad["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] = "two"
    code, err = await error_of(jp_fetch, "apply", body={"manifest": bad})
    assert (code, err["reason"]) == (400, "bad_request")
    # the field as the API server names it (1.20 leaves out the list index)
    assert err["field"].startswith("spec.rayClusterSpec.workerGroupSpecs")
    assert err["field"].endswith(".replicas")
    assert "replicas" in err["causes"][0]["message"] or "integer" in err["message"]
    assert "Kubernetes rejected the rayjobs" in err["message"]


async def test_status_after_apply_shows_what_kuberay_reports(jp_fetch, on_pod):
    await fetch(jp_fetch, "apply", body={"manifest": rayjob(), "dry_run": False})
    # what KubeRay's operator writes once the job runs (no operator runs here)
    on_pod.set_status("rayjobs", "train", {
        "jobDeploymentStatus": "Running", "jobStatus": "RUNNING", "jobId": "train-x1",
        "rayClusterName": "train-raycluster-abc",
        "dashboardURL": f"train-raycluster-abc-head-svc.{on_pod.namespace}.svc.cluster.local:8265"})

    status = await fetch(jp_fetch, "status", "RayJob", "train")

    assert status["job_deployment_status"] == "Running"
    assert status["job_status"] == "RUNNING"
    assert status["dashboard_url"].startswith("train-raycluster-abc-head-svc.")
    code, err = await error_of(jp_fetch, "status", "RayJob", "nope")
    assert code == 404
    code, err = await error_of(jp_fetch, "status", "Pod", "train")
    assert (code, err["field"]) == (400, "kind")


# -- RBAC ----------------------------------------------------------------------------

async def test_a_service_account_without_the_role_gets_the_rule_to_add(jp_fetch, on_pod,
                                                                         kubeconfig):
    on_pod.create("rayclusters", dev_raycluster())
    use_token(on_pod, kubeconfig, on_pod.service_account_token("ray-dev"))

    code, err = await error_of(jp_fetch)

    assert (code, err["reason"]) == (403, "kubernetes_forbidden")
    assert (err["verb"], err["resource"], err["group"], err["namespace"]) == (
        "get", "rayclusters", "ray.io", on_pod.namespace)
    assert err["user"] == f"system:serviceaccount:{on_pod.namespace}:ray-dev"
    assert (f'service account "ray-dev" (namespace "{on_pod.namespace}") may not get '
            f'rayclusters.ray.io in namespace "{on_pod.namespace}"') in err["message"]
    assert err["rule"] == {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get"]}

    # apply reads what is on the cluster first: that read is what is refused, and named
    code, err = await error_of(jp_fetch, "apply", body={"manifest": rayjob()})
    assert code == 403
    assert (err["verb"], err["resource"], err["group"]) == ("get", "rayjobs", "ray.io")


async def test_apply_with_read_but_no_write_names_the_write_verb(jp_fetch, on_pod, kubeconfig):
    on_pod.rbac.create_namespaced_role(on_pod.namespace, {
        "metadata": {"name": "read-rayjobs"},
        "rules": [{"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["get"]}]})
    on_pod.rbac.create_namespaced_role_binding(on_pod.namespace, {
        "metadata": {"name": "read-rayjobs"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "read-rayjobs"},
        "subjects": [{"kind": "ServiceAccount", "name": "ray-dev",
                      "namespace": on_pod.namespace}]})
    use_token(on_pod, kubeconfig, on_pod.service_account_token("ray-dev"))

    code, err = await error_of(jp_fetch, "apply", body={"manifest": rayjob()})

    assert code == 403
    assert (err["verb"], err["resource"], err["namespace"]) == ("patch", "rayjobs",
                                                                on_pod.namespace)
    assert "verbs: [patch]" in err["message"]


async def test_the_shipped_roles_are_enough_and_no_more(jp_fetch, on_pod, kubeconfig):
    """deploy/dev/rbac.yaml lets the panel read its RayCluster; rbac-promote.yaml allows apply."""
    on_pod.create("rayclusters", dev_raycluster())
    _apply_all(on_pod, DEPLOY / "dev" / "rbac.yaml")
    use_token(on_pod, kubeconfig, on_pod.service_account_token("ray-dev"))

    assert (await fetch(jp_fetch))["raycluster"]["name"] == "ray-dev"
    code, err = await error_of(jp_fetch, "apply", body={"manifest": rayjob()})
    assert code == 403

    _apply_all(on_pod, DEPLOY / "dev" / "rbac-promote.yaml")
    await fetch(jp_fetch, "apply", body={"manifest": rayjob(), "dry_run": False})
    assert (await fetch(jp_fetch, "status", "RayJob", "train"))["name"] == "train"


def _apply_all(kube, path: Path) -> None:
    from kubernetes import utils

    for doc in yaml.safe_load_all(path.read_text()):
        utils.create_from_dict(kube.api, copy.deepcopy(doc), namespace=kube.namespace)
