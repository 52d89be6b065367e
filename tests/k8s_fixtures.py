"""The Kubernetes tier: one real kube-apiserver + etcd per session, KubeRay's CRDs applied.

Nothing here mocks the Kubernetes client. ``kube`` gives each test its own
namespace and an admin client to seed and inspect it; the server under test
reaches the API through a kubeconfig, as it would outside a pod.
"""

from __future__ import annotations

import itertools
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "k8s"))
from apiserver import ADMIN_TOKEN, KubeAPIServer, find_binary, seeded_etcd  # noqa: E402

_counter = itertools.count()
_started: list[KubeAPIServer] = []


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory):
    binary = find_binary()
    if binary is None:
        pytest.fail("No kube-apiserver binary: run `make k8s-apiserver` "
                    "(tests/k8s/build-apiserver.sh builds it once per machine).")
    seed = seeded_etcd(binary)  # once per machine: etcd data with the CRDs registered
    server = KubeAPIServer(tmp_path_factory.mktemp("kube"), binary)
    t0 = time.monotonic()
    try:
        server.start(seed=seed)
        server.start_seconds = time.monotonic() - t0
        _started.append(server)
        yield server
    finally:
        server.stop()


class Kube:
    """One test's namespace on the test API server, and admin clients for it."""

    admin_token = ADMIN_TOKEN

    def __init__(self, server: KubeAPIServer, namespace: str) -> None:
        from kubernetes import client

        self.server, self.namespace = server, namespace
        self.api = server.api_client()
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.core.create_namespace({"metadata": {"name": namespace}})

    def create(self, plural: str, obj: dict) -> dict:
        return self.custom.create_namespaced_custom_object("ray.io", "v1", self.namespace,
                                                           plural, obj)

    def get(self, plural: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object("ray.io", "v1", self.namespace,
                                                        plural, name)

    def set_status(self, plural: str, name: str, status: dict) -> dict:
        # what KubeRay's operator would write; the status subresource takes only status
        return self.custom.patch_namespaced_custom_object_status(
            "ray.io", "v1", self.namespace, plural, name, {"status": status})

    def service_account_token(self, name: str) -> str:
        """A real service-account token (TokenRequest), as a pod would mount it."""
        self.core.create_namespaced_service_account(self.namespace, {"metadata": {"name": name}})
        request = self.core.create_namespaced_service_account_token(
            name, self.namespace, {"spec": {"audiences": ["https://kubernetes.default.svc"],
                                            "expirationSeconds": 3600}})
        return request.status.token

    def close(self) -> None:
        self.core.delete_namespace(self.namespace)
        self.api.close()


@pytest.fixture
def kube(kube_apiserver):
    k = Kube(kube_apiserver, f"t{next(_counter)}-{uuid.uuid4().hex[:6]}")
    try:
        yield k
    finally:
        k.close()


def pytest_terminal_summary(terminalreporter):
    # the tier's start-up cost, measured each run (a report, not an assertion)
    for server in _started:
        terminalreporter.write_line(
            f"kube-apiserver + etcd: ready in {server.timings['ready']:.1f} s, KubeRay CRDs "
            f"served {server.timings['crds']:.1f} s later ({server.start_seconds:.1f} s in all)")
