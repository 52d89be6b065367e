"""A real Kubernetes API on loopback: etcd + kube-apiserver (built by build-apiserver.sh).

No scheduler, no kubelet, no controller-manager: objects are stored and
validated (KubeRay's real CRDs are applied), Jobs get no pods and nothing sets
status unless a test does. Both processes get private data dirs and free ports
and are stopped by their PIDs.

    python tests/k8s/apiserver.py   # start one by hand; prints a kubeconfig path
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import yaml

from jupyter_ray_dev.promote.manifests import CRD_FILES

# the package's own copy (promote validates manifests against their schemas): the CRDs of the
# kinds it writes, nothing else of the folder
CRDS = Path(str(files("jupyter_ray_dev.promote").joinpath("crds")))
CRD_PATHS = [CRDS / name for name in sorted(CRD_FILES.values())]
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


def wait_until_ready(ready: Callable[[], bool], alive: Callable[[], None], timeout: float,
                     interval: float, timed_out: Callable[[], Exception]) -> None:
    """Polls ``ready`` every ``interval`` s until it is true; ``alive`` raises once the
    server's process has exited; a refused connection (OSError) counts as not yet ready;
    after ``timeout`` s raises ``timed_out()``."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise timed_out()
        time.sleep(interval)


class KubeAPIServer:
    def __init__(self, workdir: Path, binary: str, etcd: str = "etcd") -> None:
        self.dir = workdir
        self.binary, self.etcd_bin = binary, etcd
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []

    def start(self, timeout: float = 60, seed: Path | None = None) -> None:
        """Start etcd (from a copy of ``seed``'s data when given) and the API server, then make
        sure KubeRay's CRDs are served (posting them when the data does not have them).
        On failure both processes are stopped before the error propagates."""
        try:
            self._start(timeout, seed)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float, seed: Path | None) -> None:
        d = self.dir
        if seed is not None:
            shutil.copytree(seed, d / "etcd")
        (d / "etcd").mkdir(parents=True, exist_ok=True)
        # parse the CRDs while the servers start
        pool = concurrent.futures.ThreadPoolExecutor(1)
        crds = pool.submit(load_crds)
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
            # GA since 1.23, alpha in this 1.20: without it the API server drops the field
            "--feature-gates=TTLAfterFinished=true",
        ])
        t0 = time.monotonic()
        self._wait_ready(timeout)
        self.timings = {"ready": time.monotonic() - t0}
        self.write_kubeconfig(d / "kubeconfig", ADMIN_TOKEN)
        self.apply_crds(timeout, crds.result(), post=seed is None)
        pool.shutdown()
        self.timings["crds"] = time.monotonic() - t0 - self.timings["ready"]

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = (self.dir / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))

    def _wait_ready(self, timeout: float) -> None:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE

        def alive() -> None:
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited: {self.logs()}")

        def ready() -> bool:
            req = urllib.request.Request(self.url + "/readyz",
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            return urllib.request.urlopen(req, context=ctx, timeout=2).status == 200

        wait_until_ready(ready, alive, timeout, 0.2, lambda: RuntimeError(
            f"kube-apiserver not ready in {timeout} s: {self.logs()}"))

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

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        import json

        ctx = ssl.create_default_context(cafile=str(self.dir / "certs" / "apiserver.crt"))
        req = urllib.request.Request(
            self.url + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                raise
            raise RuntimeError(f"{method} {path}: {err.code} {err.read()[:3000]!r}") from err

    def apply_crds(self, timeout: float, crds: list[dict] | None = None, post: bool = True) -> None:
        crds = load_crds() if crds is None else crds
        with concurrent.futures.ThreadPoolExecutor(len(crds)) as pool:
            list(pool.map(lambda crd: self._apply_crd(crd, timeout, post), crds))

    def _apply_crd(self, crd: dict, timeout: float, post: bool) -> None:
        if post:
            self._request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        # a kind lists once its CRD is Established and the group is served
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._request("GET", f"/apis/ray.io/v1/namespaces/default/"
                                     f"{crd['spec']['names']['plural']}?limit=1")
                return
            except urllib.error.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

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


def seeded_etcd(binary: str) -> Path:
    """An etcd data dir holding only what a fresh API server writes plus KubeRay's CRDs, made
    once per machine (per binary and CRD version) and copied for each session: registering the
    2 MB of CRD schemas costs the 1.20 API server 4-12 s, starting on them ~1 s."""
    digest = hashlib.sha256(Path(binary).name.encode())
    for path in CRD_PATHS:
        digest.update(path.read_bytes())
    seed = CACHE / f"etcd-seed-{digest.hexdigest()[:16]}"
    if seed.is_dir():
        return seed
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix="etcd-seed-tmp-") as tmp:
        server = KubeAPIServer(Path(tmp), binary)
        try:
            server.start()
        finally:
            server.stop()  # etcd stopped cleanly: its data dir is consistent
        try:
            os.rename(Path(tmp) / "etcd", seed)
        except OSError:
            if not seed.is_dir():  # else another session made it first: same content
                raise
    return seed


def load_crds() -> list[dict]:
    # libyaml: the three CRDs are 2 MB of YAML, ~15 s with the pure-Python loader
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [_without_empty_string_defaults(yaml.load(p.read_text(), Loader=loader))
            for p in CRD_PATHS]


def _without_empty_string_defaults(node):
    """The CRDs default object-reference names to "" (newer controller-gen); the 1.20 API server
    reads such a default as null and refuses the CRD. Only these defaults are dropped (a list-map
    key then becomes required, as 1.20 demands); every type, enum, pattern and required field
    of the schema is kept."""
    if isinstance(node, list):
        return [_without_empty_string_defaults(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _without_empty_string_defaults(v) for k, v in node.items()
           if not (k == "default" and v == "")}
    items = out.get("items")
    for key in out.get("x-kubernetes-list-map-keys") or []:
        if isinstance(items, dict) and "default" not in items.get("properties", {}).get(key, {}):
            required = items.setdefault("required", [])
            if key not in required:
                required.append(key)
    return out


if __name__ == "__main__":
    binary = find_binary() or sys.exit("no kube-apiserver: run tests/k8s/build-apiserver.sh")
    server = KubeAPIServer(Path(tempfile.mkdtemp(prefix="kube-")), binary)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # still stop both by PID
    t0 = time.monotonic()
    server.start(seed=seeded_etcd(binary))
    print(f"ready in {time.monotonic() - t0:.1f} s {server.timings}; "
          f"KUBECONFIG={server.dir / 'kubeconfig'}", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
