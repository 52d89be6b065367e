"""Pure Kubernetes logic: RayCluster summary, RBAC messages, kaniko Job and build states.

No API server: these are the functions the service feeds with what the API
server returns; the Kubernetes tier (test_k8s_*.py) covers the real answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.k8s.apply import (
    check_manifest,
    parse_apply_request,
    summarize_status,
    unified_diff,
)
from jupyter_ray_dev.k8s.discovery import summarize_raycluster
from jupyter_ray_dev.k8s.kaniko import KanikoBuild, build_status, kaniko_job
from jupyter_ray_dev.k8s.rbac import forbidden_error

DEPLOY = Path(__file__).parent.parent / "deploy"


def dev_raycluster() -> dict:
    return yaml.safe_load((DEPLOY / "dev" / "raycluster.yaml").read_text())


def test_summary_of_the_dev_cluster_names_groups_volumes_and_identity():
    summary = summarize_raycluster(dev_raycluster())

    assert summary["ray_version"] == "2.60.0"
    assert summary["service_account"] == "ray-dev"
    assert summary["head"]["image"] == "ghcr.io/example/ray-dev-head:2.60.0-py311"
    assert summary["head"]["resources"]["requests"] == {"cpu": "2", "memory": "8Gi"}
    (cpu,) = summary["worker_groups"]
    assert (cpu["name"], cpu["replicas"]) == ("cpu", 1)
    assert (cpu["min_replicas"], cpu["max_replicas"]) == (0, 4)
    assert summary["autoscaling"] == {"enabled": True, "upscaling_mode": "Default",
                                      "idle_timeout_seconds": 300}
    # one volume, the shared PVC, mounted at the same path on head and workers
    (shared,) = summary["volumes"]
    assert (shared["type"], shared["claim_name"]) == ("pvc", "ray-dev-shared")
    assert [(m["group"], m["mount_path"]) for m in shared["mounts"]] == [
        ("head", "/mnt/shared"), ("cpu", "/mnt/shared")]


def test_summary_never_carries_env_values():
    obj = dev_raycluster()
    obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "do-not-leak"})
    assert "do-not-leak" not in repr(summarize_raycluster(obj))


def test_summary_of_an_nfs_volume_and_a_secret_mount():
    obj = dev_raycluster()
    pod = obj["spec"]["headGroupSpec"]["template"]["spec"]
    pod["volumes"] = [{"name": "nfs", "nfs": {"server": "10.0.0.2", "path": "/exports"}},
                      {"name": "creds", "secret": {"secretName": "s"}}]
    pod["containers"][0]["volumeMounts"] = [
        {"name": "nfs", "mountPath": "/data", "readOnly": True},
        {"name": "creds", "mountPath": "/creds"}]
    volumes = summarize_raycluster(obj)["volumes"]
    nfs = next(v for v in volumes if v["type"] == "nfs")
    assert (nfs["server"], nfs["path"]) == ("10.0.0.2", "/exports")
    assert nfs["mounts"][0]["read_only"] is True
    assert all(v["type"] != "secret" for v in volumes)  # credentials are not storage


SERVER_403 = ('rayjobs.ray.io "x" is forbidden: User "system:serviceaccount:team-a:ray-dev" '
              'cannot create resource "rayjobs" in API group "ray.io" in the namespace "team-a"')


def test_forbidden_message_names_verb_resource_namespace_and_rule():
    err = forbidden_error(SERVER_403, verb="patch", resource="rayjobs", group="ray.io",
                          namespace="team-a")
    assert err.status == 403
    assert 'service account "ray-dev"' in err.message
    assert 'may not create rayjobs.ray.io in namespace "team-a"' in err.message
    assert "apiGroups: [ray.io]" in err.message and "verbs: [create]" in err.message
    # the server's verb wins over the one we tried: apply of a new object needs create
    assert err.details["rule"] == {"apiGroups": ["ray.io"], "resources": ["rayjobs"],
                                   "verbs": ["create"]}


def test_forbidden_message_without_a_parsable_server_sentence_uses_what_we_tried():
    err = forbidden_error("forbidden", verb="get", resource="rayclusters", group="ray.io",
                          namespace="ns1")
    assert 'may not get rayclusters.ray.io in namespace "ns1"' in err.message
    assert err.details["rule"]["verbs"] == ["get"]


@pytest.mark.parametrize(("manifest", "field"), [
    ([], "manifest"),
    ({"apiVersion": "ray.io/v1", "metadata": {"name": "a"}}, "manifest.kind"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}, "kind"),
    ({"apiVersion": "ray.io/v1alpha1", "kind": "RayJob", "metadata": {"name": "a"}}, "apiVersion"),
    ({"apiVersion": "ray.io/v1", "kind": "RayJob"}, "manifest.metadata"),
    ({"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "Bad_Name"}},
     "manifest.metadata.name"),
])
def test_a_bad_manifest_names_the_field(manifest, field):
    with pytest.raises(BadRequest) as err:
        check_manifest(manifest)
    assert err.value.details["field"] == field


def test_apply_request_defaults_to_dry_run_and_checks_flags():
    assert parse_apply_request({"manifest": {}}) == ({}, True, False)
    with pytest.raises(BadRequest) as err:
        parse_apply_request({"manifest": {}, "dry_run": "no"})
    assert err.value.details["field"] == "dry_run"


def test_diff_ignores_server_bookkeeping_and_shows_spec_changes():
    before = {"kind": "RayJob", "metadata": {"name": "a", "resourceVersion": "1", "uid": "u",
                                             "managedFields": [{}]},
              "spec": {"entrypoint": "python a.py"}, "status": {"jobStatus": "RUNNING"}}
    after = {"kind": "RayJob", "metadata": {"name": "a", "resourceVersion": "2", "uid": "u"},
             "spec": {"entrypoint": "python b.py"}}
    diff = unified_diff(before, after, "RayJob ns/a")
    assert "-  entrypoint: python a.py\n+  entrypoint: python b.py" in diff
    assert "resourceVersion" not in diff and "jobStatus" not in diff
    assert unified_diff(before, {**before, "metadata": {"name": "a"}}, "x") == ""


def test_rayjob_status_fields():
    status = summarize_status("RayJob", {
        "metadata": {"name": "a", "namespace": "ns"},
        "status": {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING",
                   "dashboardURL": "a-raycluster-x-head-svc.ns.svc.cluster.local:8265"}})
    assert (status["job_deployment_status"], status["job_status"]) == ("Running", "RUNNING")
    assert status["dashboard_url"] == "a-raycluster-x-head-svc.ns.svc.cluster.local:8265"


BUILD = KanikoBuild(name="promote-abc", destination="registry.example.com/team/app:1.0",
                    context="s3://bucket/ctx/promote-abc.tar.gz", registry_secret="regcred",
                    context_secret="s3-creds", aws_region="eu-west-1")


def test_kaniko_job_reads_an_s3_context_and_pushes_with_the_registry_secret():
    job = kaniko_job(BUILD, "team-a")
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 3600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (c,) = pod["containers"]
    assert c["args"][:3] == ["--context=s3://bucket/ctx/promote-abc.tar.gz",
                             "--dockerfile=Dockerfile",
                             "--destination=registry.example.com/team/app:1.0"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/kaniko/.docker"}
    (reg,) = pod["volumes"]
    assert reg["secret"] == {"secretName": "regcred",
                             "items": [{"key": ".dockerconfigjson", "path": "config.json"}]}
    env = {e["name"]: e for e in c["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "s3-creds"
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    assert not any("value" in e and "SECRET" in e["name"] for e in c["env"])


def test_kaniko_job_labels_the_image_and_may_build_without_pushing():
    job = kaniko_job(KanikoBuild(name="b", destination="r.example.com/app:1",
                                 context="pvc://shared/ctx/b.tar.gz", labels={"a": "x y"},
                                 push=False), "ns")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "--context=tar:///workspace/ctx/b.tar.gz"  # a tarball read in place
    assert "--label=a=x y" in args and args[-1] == "--no-push"


def test_kaniko_job_reads_a_pvc_context_read_only():
    job = kaniko_job(KanikoBuild(name="b", destination="r/app:1", context="pvc://shared/ctx/b/"),
                     "ns")
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"][0] == "--context=dir:///workspace/ctx/b"
    assert pod["volumes"] == [{"name": "context", "persistentVolumeClaim": {
        "claimName": "shared", "readOnly": True}}]


def test_kaniko_refuses_a_context_it_cannot_read():
    with pytest.raises(BadRequest) as err:
        kaniko_job(KanikoBuild(name="b", destination="r/app:1", context="/home/ray/ctx"), "ns")
    assert err.value.details["field"] == "context"


def _pod(state: dict, phase: str = "Pending", node: str | None = None) -> dict:
    return {"metadata": {"name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase,
                       "containerStatuses": [{"name": "kaniko", "state": state}] if state else []}}


def test_build_states():
    assert build_status({}, [])["message"].startswith("Waiting for Kubernetes")
    assert build_status({}, [_pod({})])["message"] == "Waiting for a node to run the build pod."
    stuck = build_status({}, [_pod({"waiting": {"reason": "ImagePullBackOff", "message": "no"}})])
    assert (stuck["phase"], stuck["message"]) == ("failed", "ImagePullBackOff: no")
    running = build_status({"status": {"active": 1}}, [_pod({"running": {}}, "Running")])
    assert running["phase"] == "running"
    # the Job counts its pod active from creation: unscheduled, it is still pending
    unscheduled = _pod({})
    unscheduled["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                            "message": "0/3 nodes: Insufficient cpu."}]
    waiting = build_status({"status": {"active": 1}}, [unscheduled])
    assert (waiting["phase"], waiting["message"]) == (
        "pending", "Not scheduled yet: 0/3 nodes: Insufficient cpu.")
    done = build_status(
        {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
        [_pod({"terminated": {"exitCode": 0, "message": "sha256:abc"}}, "Succeeded")])
    assert (done["phase"], done["digest"]) == ("succeeded", "sha256:abc")
    failed = build_status(
        {"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                                                  "reason": "BackoffLimitExceeded"}]}},
        [_pod({"terminated": {"exitCode": 1, "message": "error building image"}}, "Failed")])
    assert (failed["phase"], failed["message"]) == (
        "failed", "kaniko exited with code 1: error building image")
