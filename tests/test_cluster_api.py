"""GET /ray-dev/api/cluster against a real local Ray head."""

from __future__ import annotations

import asyncio
import json
import platform
import time

import pytest
import ray
from ray.job_submission import JobStatus, JobSubmissionClient

from apischema import validate_response
from conftest import HEAD_CPUS, HEAD_CUSTOM, HEAD_GPUS

pytestmark = pytest.mark.ray


async def get_cluster(jp_fetch):
    response = await jp_fetch("ray-dev", "api", "cluster")
    return json.loads(response.body)


async def test_cluster_reports_the_real_head(jp_fetch, ray_head, jp_base_url):
    body = await get_cluster(jp_fetch)

    validate_response(body, "Cluster")
    assert body["ray_version"] == ray.__version__
    assert body["python_version"] == platform.python_version()
    assert body["address"] == ray_head.dashboard_url
    # the browser's link: the dashboard through Jupyter, which adds the Ray token
    assert body["dashboard_url"] == f"{jp_base_url}ray-dev/dashboard/"
    assert body["auth_mode"] == "none"
    assert body["kuberay"] is None
    assert (body["alive_nodes"], body["dead_nodes"]) == (1, 0)

    (node,) = body["nodes"]
    assert node["is_head"] and node["state"] == "ALIVE"
    assert node["node_ip"] and node["hostname"]
    # Ray's bookkeeping resources (node:<ip>, node:__internal_head__) are not capacity
    assert not any(k.startswith("node:") for k in node["resources_total"])
    assert node["resources_total"]["CPU"] == HEAD_CPUS
    assert node["resources_total"]["GPU"] == HEAD_GPUS
    assert node["resources_total"]["my_custom"] == HEAD_CUSTOM["my_custom"]
    assert node["resources_total"]["memory"] > 0
    assert node["resources_total"]["object_store_memory"] > 0
    for key, total in node["resources_total"].items():
        assert 0 <= node["resources_available"][key] <= total

    assert body["totals"]["CPU"]["total"] == HEAD_CPUS
    assert body["totals"]["my_custom"] == {"total": 4.0, "available": 4.0}


async def test_available_resources_follow_a_running_job(jp_fetch, ray_head):
    """A job holding 1 CPU and 2 `my_custom` shows up as used, then frees them when stopped."""
    client = JobSubmissionClient(ray_head.dashboard_url)
    job_id = client.submit_job(
        entrypoint="python -c 'import time; time.sleep(120)'",
        entrypoint_num_cpus=1,
        entrypoint_resources={"my_custom": 2},
    )
    try:
        body = await _wait_for(jp_fetch, lambda b: b["totals"]["CPU"]["available"] == HEAD_CPUS - 1)
        assert body["totals"]["my_custom"]["available"] == 2
        assert body["nodes"][0]["resources_available"]["CPU"] == HEAD_CPUS - 1
    finally:
        client.stop_job(job_id)
    await _wait_for(jp_fetch, lambda b: b["totals"]["CPU"]["available"] == HEAD_CPUS)
    assert client.get_job_status(job_id) in (JobStatus.STOPPED, JobStatus.FAILED)


async def _wait_for(jp_fetch, predicate, timeout=60.0):
    # Ray refreshes resource usage every few seconds: poll, as the panel does
    deadline = time.monotonic() + timeout
    while True:
        body = await get_cluster(jp_fetch)
        if predicate(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"cluster never reached the expected state: {body['totals']}")
        await asyncio.sleep(0.5)


async def test_kuberay_identity_from_the_pod_environment(jp_fetch, monkeypatch):
    monkeypatch.setenv("RAY_CLUSTER_NAME", "raycluster-dev")
    monkeypatch.setenv("RAY_CLUSTER_NAMESPACE", "ml-team")
    monkeypatch.setenv("HOSTNAME", "raycluster-dev-head-x7k2p")
    body = await get_cluster(jp_fetch)
    assert body["kuberay"] == {
        "cluster_name": "raycluster-dev",
        "namespace": "ml-team",
        "pod_name": "raycluster-dev-head-x7k2p",
    }


@pytest.mark.parametrize("ray_dev_config", [{"dashboard_url": "https://ray.example.org/dash"}])
async def test_dashboard_url_for_the_browser_is_configurable(jp_fetch, ray_head, ray_dev_config):
    body = await get_cluster(jp_fetch)
    assert body["dashboard_url"] == "https://ray.example.org/dash"
    assert body["address"] == ray_head.dashboard_url
