"""The promoted cluster's shape from the dev RayCluster resource: pure functions, no I/O.

The k8s tier (test_k8s_promote_shape.py) reads the same object from a real API server;
here the edge cases of what is carried and what is left out as dev-only.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from promote_helpers import GIB, SUMMARY, dev_raycluster

from jupyter_ray_dev.promote.kuberay_shape import shape_from_raycluster
from jupyter_ray_dev.promote.manifests import (
    cluster_shape,
    raycluster,
    rayjob,
    rayservice,
    secret_env,
    validate_manifest,
)
from jupyter_ray_dev.promote.ray_view import HostFacts, host_facts

IMAGE = "registry.example.com/team/proj:abc123"


def _manifests(shape, env=()):
    common = {"name": "proj", "project": "proj", "image": IMAGE, "ray_version": "2.60.0",
              "shape": shape, "env": list(env)}
    return [rayjob(entrypoint="python train.py", **common), raycluster(**common),
            rayservice(serve_config={"applications": []}, **common)]


def _cluster(manifest):
    spec = manifest["spec"]
    return spec.get("rayClusterSpec") or spec.get("rayClusterConfig") or spec


def test_groups_resources_params_and_placement_carry_dev_parts_do_not():
    shape = shape_from_raycluster(dev_raycluster())
    assert shape.has_gpus
    for manifest in _manifests(shape, secret_env(["API_TOKEN"], "proj-secrets")):
        assert validate_manifest(manifest) == [], manifest["kind"]
        spec = _cluster(manifest)
        assert spec["enableInTreeAutoscaling"] is True
        # the policy carries; the dev autoscaler's image does not
        assert spec["autoscalerOptions"] == {"upscalingMode": "Default",
                                             "idleTimeoutSeconds": 300}
        head = spec["headGroupSpec"]
        assert head["rayStartParams"] == {"dashboard-host": "0.0.0.0", "num-cpus": "0"}
        pod = head["template"]["spec"]
        assert (pod["serviceAccountName"], pod["securityContext"], pod["nodeSelector"]) == (
            "ray-dev", {"fsGroup": 100}, {"pool": "system"})
        (container,) = pod["containers"]  # git-sync is gone
        assert container["image"] == IMAGE
        assert "command" not in container and "args" not in container
        ports = {p["containerPort"] for p in container["ports"]}
        assert 8888 not in ports and {6379, 8265, 10001, 8080} <= ports
        assert [e["name"] for e in container["env"]] == ["AWS_REGION", "API_TOKEN"]
        assert container["envFrom"] == [{"secretRef": {"name": "ray-dev-s3", "optional": True}}]
        assert container["resources"] == {"requests": {"cpu": "2", "memory": "8Gi"},
                                          "limits": {"memory": "8Gi"}}
        assert [v["name"] for v in pod["volumes"]] == ["shared", "dshm"]
        assert [m["name"] for m in container["volumeMounts"]] == ["shared", "dshm"]

        cpu, gpu = spec["workerGroupSpecs"]
        assert (cpu["groupName"], cpu["replicas"], cpu["minReplicas"], cpu["maxReplicas"]) == (
            "cpu", 1, 0, 4)
        assert (gpu["groupName"], gpu["replicas"], gpu["minReplicas"], gpu["maxReplicas"]) == (
            "gpu", 2, 1, 2)
        assert gpu["rayStartParams"] == {"num-gpus": "1"}
        gpod = gpu["template"]["spec"]
        assert gpod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                        "effect": "NoSchedule"}]
        assert gpod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-A10G"
        gc = gpod["containers"][0]
        assert gc["resources"]["limits"] == {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}
        assert [e["name"] for e in gc["env"]] == ["NCCL_DEBUG", "API_TOKEN"]
        assert "ports" not in gc
    serve_head = _cluster(_manifests(shape)[2])["headGroupSpec"]["template"]["spec"][
        "containers"][0]
    assert {"containerPort": 8000, "name": "serve"} in serve_head["ports"]
    text = "".join(yaml.safe_dump(m) for m in _manifests(shape, secret_env(["K"], "s")))
    assert "&id" not in text  # no YAML anchors from objects shared between groups
    for dev_only in ("8888", "JUPYTER_TOKEN", "RAY_DEV_ARTIFACTS", "git-sync", "hostPath",
                     "jupyter-config", "ghcr.io/example/ray-dev", "overwrite-container-cmd"):
        assert dev_only not in text, dev_only


def test_every_part_left_out_is_named():
    dropped = shape_from_raycluster(dev_raycluster()).dropped
    assert "head: sidecar container git-sync" in dropped
    assert "head: port jupyter (8888, dev only)" in dropped
    assert "head: env JUPYTER_TOKEN (dev tooling)" in dropped
    assert "head: volume jupyter-config (configMap, dev only)" in dropped
    assert "head: volume pip-cache (hostPath, dev only)" in dropped
    assert "head: volume repo (only a dev sidecar mounted it)" in dropped
    assert "cpu: env RAY_DEV_ARTIFACTS (dev tooling)" in dropped
    assert any("command" in d for d in dropped)


def test_the_project_secret_env_wins_over_a_dev_variable_of_the_same_name():
    shape = shape_from_raycluster(dev_raycluster())
    job = _manifests(shape, secret_env(["AWS_REGION"], "proj-secrets"))[0]
    env = _cluster(job)["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "AWS_REGION", "valueFrom": {"secretKeyRef": {
        "name": "proj-secrets", "key": "AWS_REGION"}}}]


def test_a_minimal_raycluster_head_only_no_resources():
    obj = {"metadata": {"name": "tiny", "namespace": "ns"}, "spec": {"headGroupSpec": {
        "template": {"spec": {"containers": [{"name": "x", "image": "i"}]}}}}}
    shape = shape_from_raycluster(obj)
    assert (shape.source, shape.workers, shape.autoscaling, shape.has_gpus) == (
        "ns/tiny", [], {}, False)
    for manifest in _manifests(shape):
        assert validate_manifest(manifest) == []
        head = _cluster(manifest)["headGroupSpec"]["template"]["spec"]["containers"][0]
        assert head["name"] == "ray-head" and "resources" not in head


def test_the_ray_container_is_found_by_name_not_position():
    obj = dev_raycluster()
    containers = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    containers.reverse()  # the sidecar first
    shape = shape_from_raycluster(obj)
    assert shape.head.container["resources"]["requests"]["cpu"] == "2"
    assert "head: sidecar container git-sync" in shape.dropped


def test_gpus_asked_for_by_rayStartParams_alone_count_and_non_int_replicas_are_left_out():
    obj = dev_raycluster()
    gpu = obj["spec"]["workerGroupSpecs"][1]
    for part in ("requests", "limits"):
        del gpu["template"]["spec"]["containers"][0]["resources"][part]["nvidia.com/gpu"]
    assert shape_from_raycluster(obj).has_gpus  # num-gpus: "1"
    gpu["rayStartParams"] = {"num-gpus": "0"}
    assert not shape_from_raycluster(obj).has_gpus
    gpu["replicas"] = True  # not an int: KubeRay's default applies rather than a bad value
    assert shape_from_raycluster(obj).workers[1].replicas is None


def test_autoscaler_options_only_when_autoscaling_is_on_and_suspend_is_not_carried():
    obj = dev_raycluster()
    obj["spec"]["enableInTreeAutoscaling"] = False
    obj["spec"]["workerGroupSpecs"][0]["suspend"] = True
    shape = shape_from_raycluster(obj)
    assert shape.autoscaling == {"enableInTreeAutoscaling": False}
    assert any(d.startswith("cpu: suspend") for d in shape.dropped)
    cpu = _cluster(_manifests(shape)[1])["workerGroupSpecs"][0]
    assert "suspend" not in cpu


@pytest.mark.parametrize("spec", [{}, {"headGroupSpec": {}},
                                  {"headGroupSpec": {"template": {"spec": {"containers": []}}}},
                                  {"headGroupSpec": "nope"}])
def test_no_head_container_is_a_value_error_naming_the_cluster(spec):
    with pytest.raises(ValueError, match="ns/broken has no head group"):
        shape_from_raycluster({"metadata": {"name": "broken", "namespace": "ns"},
                               "spec": spec})


def test_the_dev_object_is_not_changed():
    obj = dev_raycluster()
    before = copy.deepcopy(obj)
    shape = shape_from_raycluster(obj)
    _manifests(shape, secret_env(["X"], "s"))
    assert obj == before


def test_rays_view_still_shapes_the_manifests_as_before():
    shape = cluster_shape(SUMMARY)
    for manifest in _manifests(shape):
        assert validate_manifest(manifest) == []
        assert [w["groupName"] for w in _cluster(manifest)["workerGroupSpecs"]] == [
            "gpu-workers"]


# --- Ray's view: where each number comes from -------------------------------------------------

LAPTOP = {"address": "http://127.0.0.1:8265", "kuberay": None, "nodes": [
    {"node_id": "h", "is_head": True, "state": "ALIVE",
     "resources_total": {"CPU": 2.0, "memory": 16 * GIB, "object_store_memory": 7 * GIB}}]}


def _head_resources(shape) -> dict:
    (cluster,) = [_cluster(m) for m in _manifests(shape)][:1]
    return cluster["headGroupSpec"]["template"]["spec"]["containers"][0].get("resources", {})


def test_a_machines_totals_are_flagged_and_never_become_requests():
    # the head ran on this 2-core machine with no container limit: Ray saw the whole host
    facts = HostFacts(in_kuberay=False, head_local=True, cpu_count=2)
    shape = cluster_shape(LAPTOP, facts)
    assert _head_resources(shape) == {}
    numbers = {n["resource"]: n for n in shape.numbers()}
    assert numbers["memory"] == {
        "group": "head", "resource": "memory", "value": "23Gi", "basis": "machine",
        "used": False, "from": "Ray's resources_total of the head node (memory + "
        "object_store_memory): this machine's total as Ray detected it, no request: left "
        "out of the manifests' resources"}
    assert numbers["cpu"]["basis"] == "machine" and not numbers["cpu"]["used"]


def test_numbers_from_limits_or_ray_start_flags_are_used():
    # --num-cpus below the machine's count is a deliberate setting; a container's memory
    # limit bounds what Ray saw
    facts = HostFacts(in_kuberay=False, head_local=True, cpu_count=8,
                      cgroup_memory_limit=24 * GIB)
    shape = cluster_shape(LAPTOP, facts)
    assert _head_resources(shape) == {"requests": {"cpu": "2", "memory": "23Gi"},
                                      "limits": {"cpu": "2", "memory": "23Gi"}}
    assert {n["basis"] for n in shape.numbers()} == {"ray_start", "container"}
    # in a KubeRay pod every node's totals are its pod's limits
    shape = cluster_shape(SUMMARY, HostFacts(in_kuberay=True, head_local=True))
    assert all(n["used"] and n["basis"] == "pod" for n in shape.numbers())
    gpu_workers = _cluster(_manifests(shape)[0])["workerGroupSpecs"][0]
    assert gpu_workers["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}


def test_remote_nodes_outside_kubernetes_keep_only_their_gpus():
    shape = cluster_shape(SUMMARY, HostFacts(in_kuberay=False, head_local=False))
    workers = _cluster(_manifests(shape)[0])["workerGroupSpecs"][0]
    assert workers["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"nvidia.com/gpu": "1"}}  # a GPU is how the pod lands on a GPU node
    assert {n["basis"] for n in shape.numbers()} == {"unknown"}
    assert all(validate_manifest(m) == [] for m in _manifests(shape))


def test_host_facts_read_the_dashboard_address_and_the_kuberay_identity():
    local = host_facts({"address": "http://localhost:8265", "kuberay": None})
    assert local.head_local and not local.in_kuberay and local.cpu_count >= 1
    remote = host_facts({"address": "http://10.1.2.3:8265", "kuberay": {"cluster_name": "c"}})
    assert not remote.head_local and remote.in_kuberay
