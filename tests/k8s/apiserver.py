"""A real Kubernetes API on loopback: etcd + kube-apiserver (built by build-apiserver.sh).

No scheduler, no kubelet, no controller-manager: objects are stored and
validated (KubeRay's real CRDs are applied), Jobs get no pods and nothing sets
status unless a test does. Both processes get private data dirs and free ports
and are stopped by their PIDs.

    python tests/k8s/apiserver.py   # start one by hand; prints a kubeconfig path
"""

from __future__ import annotations

import glob
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CRDS = HERE / "crds"
CACHE = Path(os.environ.get("KUBE_APISERVER_CACHE", Path.home() / ".cache" / "jupyter-ray-dev"))
ADMIN_TOKEN = "admin-token-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary() -> str | None:
    if os.environ.get("KUBE_APISERVER"):
        return os.environ["KUBE_APISERVER"]
    found = sorted(glob.glob(str(CACHE / "kube-apiserver-*")))
    found = [f for f in found if os.access(f, os.X_OK) and not f.endswith(".tmp")]
    return found[-1] if found else None


class KubeAPIServer:
    def __init__(self, workdir: Path, binary: str, etcd: str = "etcd") -> None:
        self.dir = workdir
        self.binary, self.etcd_bin = binary, etcd
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 60) -> None:
        d = self.dir
        (d / "etcd").mkdir(parents=True, exist_ok=True)
        client, peer = free_port(), free_port()
        self._spawn("etcd", [
            self.etcd_bin, "--data-dir", str(d / "etcd"), "--name", "test",
            "--listen-client-urls", f"http://127.0.0.1:{client}",
            "--advertise-client-urls", f"http://127.0.0.1:{client}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"test=http://127.0.0.1:{peer}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
        ])
        # the service-account signing key: TokenRequest tokens for RBAC tests
        subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True,
                       capture_output=True)
        (d / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin,"system:masters"\n')
        self._spawn("kube-apiserver", [
            self.binary,
            f"--etcd-servers=http://127.0.0.1:{client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}", f"--cert-dir={d / 'certs'}",
            f"--token-auth-file={d / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={d / 'sa.key'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--api-audiences=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.0.0.0/24",
            # no controller-manager creates the default service account a pod would need
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false",
        ])
        self._wait_ready(timeout)
        self.write_kubeconfig(d / "kubeconfig", ADMIN_TOKEN)
        self.apply_crds(timeout)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = (self.dir / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def _wait_ready(self, timeout: float) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while True:
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited: {self.logs()}")
            try:
                req = urllib.request.Request(self.url + "/readyz",
                                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
                if urllib.request.urlopen(req, context=ctx, timeout=2).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"kube-apiserver not ready in {timeout} s: {self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}"
                         for f in sorted(self.dir.glob("*.log")))

    def write_kubeconfig(self, path: Path, token: str, namespace: str = "default",
                         server: str | None = None) -> Path:
        """A kubeconfig trusting the server's self-signed certificate (no TLS skipping)."""
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {
                "server": server or self.url,
                "certificate-authority": str(self.dir / "certs" / "apiserver.crt")}}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "u",
                                                       "namespace": namespace}}],
        }))
        return path

    def api_client(self, token: str = ADMIN_TOKEN):
        from kubernetes import client, config

        cfg = client.Configuration()
        path = self.write_kubeconfig(self.dir / f"kubeconfig-{abs(hash(token))}", token)
        config.load_kube_config(config_file=str(path), client_configuration=cfg)
        return client.ApiClient(cfg)

    def apply_crds(self, timeout: float) -> None:
        from kubernetes import client, utils

        api = self.api_client()
        names = []
        for path in sorted(CRDS.glob("*.yaml")):
            utils.create_from_yaml(api, str(path))
            names.append(yaml.safe_load(path.read_text())["metadata"]["name"])
        ext = client.ApiextensionsV1Api(api)
        deadline = time.monotonic() + timeout
        for name in names:
            while not any(c.type == "Established" and c.status == "True"
                          for c in ext.read_custom_resource_definition(name).status.conditions or []):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"CRD {name} never became Established")
                time.sleep(0.1)
        # discovery of the new group lags Established by a moment: wait until it is served
        while True:
            try:
                client.CustomObjectsApi(api).list_namespaced_custom_object(
                    "ray.io", "v1", "default", "rayjobs")
                break
            except client.ApiException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        api.close()

    def stop(self) -> None:
        # ours only, by PID; the apiserver first so it does not log etcd going away
        for p in reversed(self.processes):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(10)


if __name__ == "__main__":
    import tempfile

    binary = find_binary() or sys.exit("no kube-apiserver: run tests/k8s/build-apiserver.sh")
    server = KubeAPIServer(Path(tempfile.mkdtemp(prefix="kube-")), binary)
    t0 = time.monotonic()
    server.start()
    print(f"ready in {time.monotonic() - t0:.1f} s; KUBECONFIG={server.dir / 'kubeconfig'}",
          flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
