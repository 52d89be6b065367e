"""The in-cluster path for real: a Jupyter server that finds Kubernetes as a KubeRay head pod does.

A real service-account token (TokenRequest on the test kube-apiserver, RBAC on), the API
server's CA and the namespace sit at ``/var/run/secrets/kubernetes.io/serviceaccount``
inside a private mount namespace (``unshare -m``: an overlay on ``/run`` so nothing
appears on the host, then a bind mount), and the server gets the environment KubeRay and
Kubernetes give the head container. No kubeconfig anywhere: the official client's
in-cluster loader reads those files and verifies the API server's certificate with that
``ca.crt``. The only departure from a pod: the Ray dashboard is the session head's (its
own free port), named with ``--RayDev.ray_address``, since 127.0.0.1:8265 may belong to
someone else on this shared machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from k8s_fixtures import Kube
from apiserver import wait_until_ready  # after k8s_fixtures, which puts tests/k8s on sys.path
from promote_helpers import dev_raycluster, sample_project
from test_k8s_api import DEPLOY, _apply_all, rayjob

from jupyter_ray_dev.cluster.local_head import free_port

pytestmark = [pytest.mark.k8s, pytest.mark.ray]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
POD_NAME = "ray-dev-head-x7k2p"
# Runs as root in a new mount namespace: /run gets a private overlay (so the folder for
# the service account can be made without touching the host), then the secrets folder is
# bound there, then the server replaces the shell (same PID, stopped by it).
MOUNT_AND_EXEC = """
set -e
scratch=$1; secrets=$2; run=$3; shift 3
mount -t tmpfs tmpfs "$scratch"
mkdir "$scratch/upper" "$scratch/work"
mount -t overlay overlay -o "lowerdir=$run,upperdir=$scratch/upper,workdir=$scratch/work" "$run"
mkdir -p /var/run/secrets/kubernetes.io/serviceaccount
mount --bind "$secrets" /var/run/secrets/kubernetes.io/serviceaccount
exec "$@"
"""


def in_pod(scratch: Path, secrets: Path, argv: list[str]) -> list[str]:
    """``argv`` run in a private mount namespace holding ``secrets`` as the service account."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.fail("The in-cluster test needs root and util-linux's `unshare` (a private "
                    "mount namespace for /var/run/secrets/kubernetes.io/serviceaccount).")
    scratch.mkdir()
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", MOUNT_AND_EXEC,
            "sh", str(scratch), str(secrets), os.path.realpath("/var/run"), *argv]


class PodServer:
    """A Jupyter server in a private mount namespace, holding the service account's files."""

    def __init__(self, workdir: Path, secrets: Path, env: dict[str, str], args: list[str]):
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        cmd = in_pod(workdir / "scratch", secrets, [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            "--ServerApp.jpserver_extensions={'jupyter_ray_dev': True}", *args])
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_ready(self, timeout: float = 240) -> None:

        def alive() -> None:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-4000:]}")

        wait_until_ready(lambda: self.call("GET", "api/status")[0] == 200, alive, timeout, 0.5,
                         lambda: TimeoutError(
                             f"no server after {timeout} s: {self.log.read_text()[-4000:]}"))

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.url}/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # ours, by PID: the mounts go with it
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture(scope="module")
def pod(kube_apiserver, ray_head, tmp_path_factory):
    """A namespace with the dev RayCluster, the `ray-dev` service account bound to
    deploy/dev/rbac.yaml's Role, and a server running as that service account."""
    kube = Kube(kube_apiserver, f"pod-{uuid.uuid4().hex[:6]}")
    work = tmp_path_factory.mktemp("pod")
    server = None
    try:
        kube.create("rayclusters", dev_raycluster())
        kube.core.create_namespaced_persistent_volume_claim(
            kube.namespace, yaml.safe_load((DEPLOY / "dev" / "pvc.yaml").read_text()))
        token = kube.service_account_token("ray-dev")
        _apply_all(kube, DEPLOY / "dev" / "rbac.yaml")

        # what the kubelet mounts into the pod
        secrets = work / "serviceaccount"
        secrets.mkdir()
        (secrets / "token").write_text(token)
        shutil.copy(kube_apiserver.dir / "certs" / "apiserver.crt", secrets / "ca.crt")
        (secrets / "namespace").write_text(kube.namespace)

        root = work / "root"
        sample_project(root, env_vars={"MODE": "prod"})
        home = work / "home"  # no ~/.kube/config to fall back on
        home.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KUBE", "RAY_", "JUPYTER_"))}
        env.update({
            "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run"),
            # what Kubernetes sets in every container, and what KubeRay adds on the head
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(kube_apiserver.port),
            "RAY_CLUSTER_NAME": "ray-dev", "RAY_CLUSTER_NAMESPACE": kube.namespace,
            "RAY_ADDRESS": "127.0.0.1:6379", "POD_NAME": POD_NAME,
            "RAY_AUTH_MODE": "disabled",  # the session head runs without token auth
        })
        server = PodServer(work, secrets, env, [
            f"--ServerApp.root_dir={root}", f"--RayDev.ray_address={ray_head.dashboard_url}",
            f"--RayDev.promote_store_path={work / 'promotions.sqlite'}",
            "--RayDev.promote_registry=registry.example.com/team",
            "--RayDev.kubernetes_timeout=20"])
        server.wait_ready()
        server.kube, server.env, server.work = kube, env, work
        yield server
    finally:
        if server is not None:
            server.stop()
        kube.close()


# the server's Kubernetes client, configured as in the server (in-cluster: no kubeconfig)
PROBE = """
import asyncio
from kubernetes import client
from jupyter_ray_dev.k8s.client import KubeClient, Target

async def main():
    kube = KubeClient(timeout=20)
    try:
        ns = kube.default_namespace()
        rc = await kube.call(Target("get", "rayclusters", "ray.io", ns), lambda api: client
                             .CustomObjectsApi(api)
                             .get_namespaced_custom_object("ray.io", "v1", ns, "rayclusters",
                                                           "ray-dev"))
        print("OK", ns, rc["metadata"]["name"])
    except Exception as err:
        print("FAILED", type(err).__name__, err)
    finally:
        kube.close()

asyncio.run(main())
"""


def test_the_api_servers_certificate_is_verified_with_the_pods_ca_crt(pod, tmp_path):
    assert not Path(SA_DIR).exists()  # the service account exists inside the namespace only
    secrets = tmp_path / "serviceaccount"
    shutil.copytree(pod.work / "serviceaccount", secrets)

    good = subprocess.run(in_pod(tmp_path / "a", secrets, [sys.executable, "-c", PROBE]),
                          env=pod.env, capture_output=True, text=True, timeout=300)
    assert good.stdout.split() == ["OK", pod.kube.namespace, "ray-dev"], good.stderr[-3000:]

    # another CA: the client refuses the API server's certificate instead of skipping checks
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=another-ca", "-keyout", str(tmp_path / "other.key"),
                    "-out", str(secrets / "ca.crt")], check=True, capture_output=True)
    bad = subprocess.run(in_pod(tmp_path / "b", secrets, [sys.executable, "-c", PROBE]),
                         env=pod.env, capture_output=True, text=True, timeout=300)
    assert bad.stdout.startswith("FAILED KubernetesUnreachable"), bad.stdout + bad.stderr[-3000:]
    assert "certificate is not trusted" in bad.stdout and "ca.crt" in bad.stdout


def test_the_panel_shows_this_pods_raycluster(pod):
    code, body = pod.call("GET", "ray-dev/api/kubernetes")
    assert code == 200, body
    assert body["in_kubernetes"] is True and body["message"] is None
    rc = body["raycluster"]
    assert (rc["name"], rc["namespace"]) == ("ray-dev", pod.kube.namespace)
    assert rc["service_account"] == "ray-dev"
    assert [g["name"] for g in rc["worker_groups"]] == ["cpu", "gpu"]
    # the claim was read with the service account too (rbac.yaml grants get on it)
    (shared,) = [v for v in rc["volumes"] if v.get("claim_name") == "ray-dev-shared"]
    assert shared["pvc"]["storage_class"] == "efs-sc"

    code, cluster = pod.call("GET", "ray-dev/api/cluster")
    assert code == 200, cluster
    assert cluster["kuberay"] == {"cluster_name": "ray-dev", "namespace": pod.kube.namespace,
                                  "pod_name": POD_NAME}


def test_promote_takes_the_shape_from_the_raycluster(pod):
    code, plan = pod.call("POST", "ray-dev/api/projects/proj/promote/plan",
                          {"entrypoint": "proj/train.ipynb"})
    assert code == 200, plan
    source = plan["shape_source"]
    assert (source["source"], source["raycluster"]) == ("raycluster",
                                                        f"{pod.kube.namespace}/ray-dev")
    job = next(yaml.safe_load_all(plan["manifests"]))
    groups = job["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert [g["groupName"] for g in groups] == ["cpu", "gpu"]
    assert plan["manifest_errors"] == {}


def test_an_rbac_refusal_names_the_service_account_and_the_rule_to_add(pod):
    code, err = pod.call("POST", "ray-dev/api/kubernetes/apply", {"manifest": rayjob()})
    assert (code, err["reason"]) == (403, "kubernetes_forbidden"), err
    ns = pod.kube.namespace
    assert err["user"] == f"system:serviceaccount:{ns}:ray-dev"
    assert (f'service account "ray-dev" (namespace "{ns}") may not get rayjobs.ray.io in '
            f'namespace "{ns}"') in err["message"]
    assert err["rule"] == {"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["get"]}
