"""kaniko builds against the real test API server.

The server has no scheduler, kubelet or Job controller: the Job is stored and
validated but never runs. So the test checks that the stored Job is exactly the
one we mean, then sets the Job and pod states a real cluster would (through the
status subresources) and checks how the core reads each of them.
"""

from __future__ import annotations

from datetime import datetime, timezone

import json

import pytest

from apischema import validate_response
from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.k8s import KanikoBuild, KubernetesService, kaniko_job
from jupyter_ray_dev.k8s.client import KubeClient
from jupyter_ray_dev.k8s.kaniko import BUILD_LABEL

pytestmark = pytest.mark.k8s

BUILD = KanikoBuild(name="promote-1", destination="registry.example.com/team/app:1.0",
                    context="s3://artifacts/ctx/promote-1.tar.gz", registry_secret="regcred",
                    context_secret="s3-creds", ttl_seconds_after_finished=600)


@pytest.fixture
def kubeconfig(kube, tmp_path):
    return kube.server.write_kubeconfig(tmp_path / "kubeconfig", kube.admin_token, kube.namespace)


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # no Ray needed


@pytest.fixture
def ray_dev_config(kubeconfig):
    return {"kubeconfig": str(kubeconfig)}


@pytest.fixture
def service(kubeconfig):
    path = kubeconfig
    svc = KubernetesService(KubeClient(str(path), timeout=5), identity=lambda: None)
    yield svc
    svc.client.close()


def _without_defaults(expected, stored):
    """``expected`` with only the keys it has, read from ``stored`` (the server adds defaults)."""
    if isinstance(expected, dict):
        return {k: _without_defaults(v, stored.get(k)) for k, v in expected.items()}
    if isinstance(expected, list):
        return [_without_defaults(e, s) for e, s in zip(expected, stored or [])]
    return stored


async def test_the_stored_job_is_exactly_the_kaniko_job(service, kube):
    created = await service.start_build(BUILD)

    stored = kube.api.sanitize_for_serialization(kube.batch.read_namespaced_job("promote-1",
                                                                                  kube.namespace))
    expected = kaniko_job(BUILD, kube.namespace)
    assert _without_defaults(expected["spec"], stored["spec"]) == expected["spec"]
    assert stored["spec"]["ttlSecondsAfterFinished"] == 600  # Kubernetes cleans it up
    assert stored["metadata"]["labels"][BUILD_LABEL] == "promote-1"
    assert created["namespace"] == kube.namespace
    # nothing secret in the Job: credentials are references to Secrets
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert all("valueFrom" in e for e in container["env"])


async def test_status_and_log_through_the_states_a_build_goes_through(service, kube):
    await service.start_build(BUILD)

    status = await service.build_status("promote-1")
    assert (status["phase"], status["pod"]) == ("pending", None)
    assert (await service.build_log("promote-1")) == {"pod": None, "log": None}

    # the Job controller's pod (created by hand here), not yet on a node
    job = kaniko_job(BUILD, kube.namespace)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "promote-1-x7k2p",
                        "labels": job["spec"]["template"]["metadata"]["labels"]},
           "spec": job["spec"]["template"]["spec"]}
    kube.core.create_namespaced_pod(kube.namespace, pod)
    status = await service.build_status("promote-1")
    assert (status["phase"], status["pod"]) == ("pending", "promote-1-x7k2p")
    assert status["message"] == "Waiting for a node to run the build pod."
    # the real API server's answer for a pod without a node: no log yet, not an error
    assert await service.build_log("promote-1") == {"pod": "promote-1-x7k2p", "log": None}

    # the registry secret is missing: kubelet reports it and the build cannot start
    _pod_status(kube, "promote-1-x7k2p", "Pending", {"waiting": {
        "reason": "CreateContainerConfigError", "message": 'secret "regcred" not found'}})
    status = await service.build_status("promote-1")
    assert (status["phase"], status["message"]) == (
        "failed", 'CreateContainerConfigError: secret "regcred" not found')

    # it ran and pushed: kaniko's digest file is the container's termination message
    _pod_status(kube, "promote-1-x7k2p", "Succeeded", {"terminated": {
        "exitCode": 0, "reason": "Completed", "message": "sha256:" + "a" * 64}})
    _job_status(kube, "promote-1", succeeded=1, condition="Complete")
    status = await service.build_status("promote-1")
    assert (status["phase"], status["digest"]) == ("succeeded", "sha256:" + "a" * 64)

    events = [e async for e in service.follow_build("promote-1", interval=0.05)]
    assert events[-1]["type"] == "status" and events[-1]["phase"] == "succeeded"

    await service.delete_build("promote-1")
    assert kube.batch.list_namespaced_job(kube.namespace).items == []


async def test_a_failed_build_reports_kanikos_exit(service, kube):
    await service.start_build(BUILD)
    _job_status(kube, "promote-1", failed=1, condition="Failed", reason="BackoffLimitExceeded")
    status = await service.build_status("promote-1")
    assert (status["phase"], status["message"]) == ("failed", "BackoffLimitExceeded")


def _pod_status(kube, name, phase, state):
    kube.core.patch_namespaced_pod_status(name, kube.namespace, {"status": {
        "phase": phase,
        "containerStatuses": [{"name": "kaniko", "image": BUILD.image, "imageID": "",
                               "ready": False, "restartCount": 0, "state": state}]}})


def _job_status(kube, name, condition, reason=None, **counts):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.batch.patch_namespaced_job_status(name, kube.namespace, {"status": {
        **counts, "startTime": now,
        **({"completionTime": now} if condition == "Complete" else {}),
        "conditions": [{"type": condition, "status": "True", "reason": reason,
                        "lastProbeTime": now, "lastTransitionTime": now}]}})


async def test_the_build_route_reports_status_and_log(jp_fetch, service, kube):
    await service.start_build(BUILD)
    response = await jp_fetch("ray-dev", "api", "kubernetes", "builds", "promote-1",
                              params={"namespace": kube.namespace})
    body = json.loads(response.body)
    validate_response(body, "KanikoBuild")
    assert (body["phase"], body["log"], body["namespace"]) == ("pending", None, kube.namespace)
