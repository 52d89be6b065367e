"""Outside Kubernetes (no service account, no kubeconfig): the API says so and keeps working."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.cluster.local_head import free_port


@pytest.fixture
def ray_address(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return f"http://127.0.0.1:{free_port()}"


async def test_discovery_outside_kubernetes_says_so_plainly(jp_fetch):
    response = await jp_fetch("ray-dev", "api", "kubernetes")
    body = json.loads(response.body)
    assert (body["in_kubernetes"], body["raycluster"]) == (False, None)
    assert body["message"].startswith("Not running in Kubernetes")


async def test_apply_outside_kubernetes_is_a_503_saying_so(jp_fetch):
    manifest = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "a"},
                "spec": {"entrypoint": "python a.py"}}
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ray-dev", "api", "kubernetes", "apply", method="POST",
                       body=json.dumps({"manifest": manifest}))
    body = json.loads(err.value.response.body)
    assert (err.value.code, body["reason"]) == (503, "not_in_kubernetes")
    assert "Not running in Kubernetes" in body["message"]


async def test_a_pod_without_its_service_account_token_is_told_why(jp_fetch, monkeypatch):
    # KUBERNETES_SERVICE_HOST is set in every pod; the token is absent when not automounted
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    body = json.loads((await jp_fetch("ray-dev", "api", "kubernetes")).body)
    assert body["in_kubernetes"] is False
    assert "without a service account token" in body["message"]
