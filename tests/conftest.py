"""Shared fixtures: a real local Ray head per session, and the Jupyter server with the extension.

No mocks: the extension talks to a real Ray dashboard over loopback.
"""

from __future__ import annotations

import pytest

from jupyter_ray_dev.cluster.local_head import LocalRayHead

# storage_fixtures: moto_server / gcp-storage-emulator; k8s_fixtures: a real kube-apiserver +
# etcd; promote_fixtures: buildah, a local base image and docker-registry; deploy_fixtures:
# the wheel, its wheelhouse and clean virtualenvs; each started only by the tests that use them
pytest_plugins = ["pytest_jupyter.jupyter_server", "storage_fixtures", "k8s_fixtures",
                  "promote_fixtures", "deploy_fixtures"]

HEAD_CPUS = 2
HEAD_GPUS = 1  # declared, not detected: lets the tests cover GPU accounting without a GPU
HEAD_CUSTOM = {"my_custom": 4}


def s3_env(endpoint: str) -> dict[str, str]:
    """What Ray's processes need to read s3:// from moto (boto3 and smart_open take these)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def ray_head(moto_server):
    # The runtime_env agent downloads an s3:// working_dir in the head's own processes, so
    # their environment is fixed at start: the one session head reads S3 from moto rather
    # than a second head for the runtime_env tests (one head at a time on this machine).
    head = LocalRayHead(num_cpus=HEAD_CPUS, num_gpus=HEAD_GPUS, resources=HEAD_CUSTOM,
                        env=s3_env(moto_server.url))
    head.start()
    yield head
    head.stop()


@pytest.fixture
def ray_address(ray_head, monkeypatch):
    """Where the server under test looks for Ray; override in a test module to point elsewhere."""
    for key, value in ray_head.client_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    return ray_head.dashboard_url


@pytest.fixture
def ray_dev_config():
    """Extra ``c.RayDev`` settings for one test."""
    return {}


@pytest.fixture
def jp_server_config(ray_address, ray_dev_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}},
        "RayDev": {"ray_address": ray_address, **ray_dev_config},
    }
