"""Shared fixtures: a real local Ray head per session, and the Jupyter server with the extension.

No mocks: the extension talks to a real Ray dashboard over loopback.
"""

from __future__ import annotations

import pytest

from jupyter_ray_dev.cluster.local_head import LocalRayHead

# storage_fixtures: moto_server / gcp-storage-emulator; k8s_fixtures: a real kube-apiserver +
# etcd; promote_fixtures: buildah, a local base image and docker-registry; each started only
# by the tests that use them
pytest_plugins = ["pytest_jupyter.jupyter_server", "storage_fixtures", "k8s_fixtures",
                  "promote_fixtures"]

HEAD_CPUS = 2
HEAD_GPUS = 1  # declared, not detected: lets the tests cover GPU accounting without a GPU
HEAD_CUSTOM = {"my_custom": 4}


@pytest.fixture(scope="session")
def ray_head():
    head = LocalRayHead(num_cpus=HEAD_CPUS, num_gpus=HEAD_GPUS, resources=HEAD_CUSTOM)
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
