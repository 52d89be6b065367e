"""The head pod of ``deploy/dev/raycluster.yaml``, as far as one machine can make it.

The head container's own command and args (read from the YAML, not copied) run as the
image's user: uid 1000, gid 100, no supplementary groups, no capabilities (bounding set
empty, no_new_privs), ``HOME=/home/ray``, in private network, mount, PID and UTS namespaces.
The network has a pod IP on its own (Ray picks it as the node address) and is reached
only through one port-forward of 8888, as ``deploy/dev/service.yaml`` says users reach
it: so the YAML's fixed ports (8888, 6379, 8265) are used as written and never clash
with anything on this machine. The env is the YAML's (the Jupyter token from "the
Secret", the pod name) plus what KubeRay's operator adds to a head container
(``KUBERAY_GEN_RAY_START_CMD`` from ``rayStartParams``, ``RAY_ADDRESS``, the Ray token
of ``authOptions``).

Two file systems: this machine's (``rootfs=None``; /home, /mnt and /tmp are the pod's own
folders mounted over the machine's, /etc/passwd names uid 1000 ``ray``, /etc/subuid and
/etc/subgid are empty and /etc/profile is Ubuntu's) or an image's root file system
(``buildah mount``), entered with chroot, with /mnt the pod's own. Either way /etc/hosts
and /etc/resolv.conf are the kubelet's and the hostname is the pod's name. The only differences from a
real pod: no kubelet (the test sends SIGTERM as it would), no cgroup limits, no
Kubernetes service account (the in-cluster path is tested elsewhere), and the head's
``--num-cpus``/``--memory`` come from rayStartParams only (KubeRay also derives them from
the container's resources).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RAYCLUSTER = REPO / "deploy" / "dev" / "raycluster.yaml"
FORWARDER = Path(__file__).with_name("port_forward.py")
UID, GID = 1000, 100  # rayproject/ray's user `ray` and group `users`
POD_IP = "10.244.0.7"
# rayproject/ray is Ubuntu, whose /etc/profile keeps the image's PATH in a login shell
# (KubeRay's `bash -lc`); Debian's, which this machine and the stand-in image have,
# resets it. The pod gets Ubuntu's behaviour.
UBUNTU_PROFILE = """\
if [ -d /etc/profile.d ]; then
  for i in /etc/profile.d/*.sh; do
    if [ -r $i ]; then
      . $i
    fi
  done
  unset i
fi
"""

# Runs as root inside the new namespaces, then becomes the container's user. Arguments:
# ROOT WORKDIR HOSTNAME [SRC DST]... -- COMMAND...
_SETUP = """\
set -eu
root=$1 workdir=$2
# a pod's hostname is its name (its own UTS namespace)
printf %s "$3" > /proc/sys/kernel/hostname
shift 3
pod_path=$PATH
PATH=/usr/sbin:/usr/bin:/sbin:/bin
ip link set lo up
ip addr add {pod_ip}/32 dev lo
ip route add default dev lo src {pod_ip}
mount -t proc proc "$root/proc"
while [ "$1" != -- ]; do
  mount --rbind "$1" "$root$2"
  shift 2
done
shift
PATH=$pod_path exec /usr/sbin/chroot "$root" /bin/sh -c '
  cd "$0" || exit 1
  exec setpriv --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all \\
    --ambient-caps=-all --bounding-set=-all --no-new-privs -- "$@"' "$workdir" "$@"
""".format(pod_ip=POD_IP, uid=UID, gid=GID)


# What the kubelet mounts over every container's /etc/hosts: the pod's own name resolves
# to its IP. Without it (an image has no entry for the pod's name) each lookup of the
# hostname, which Ray's processes make on start, waits for DNS until it times out.
KUBELET_HOSTS = """\
# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
{ip}\t{name}
"""
# The kubelet's resolv.conf names the cluster DNS; there is none here, so the nameserver is
# the pod's own loopback, where nothing listens: a lookup of another name fails at once,
# as NXDOMAIN from a cluster DNS would, instead of waiting for this machine's nameserver,
# which the pod's network cannot reach.
KUBELET_RESOLV = "nameserver 127.0.0.1\noptions ndots:5\n"


@dataclass
class HeadContainer:
    """The head's Ray container of the RayCluster, with its env filled in."""

    command: list[str]
    args: list[str]
    env: dict[str, str]
    cluster_name: str
    jupyter_port: int


def head_container(jupyter_token: str, ray_token: str, pod_name: str) -> HeadContainer:
    doc = yaml.safe_load(RAYCLUSTER.read_text())
    name = doc["metadata"]["name"]
    head = doc["spec"]["headGroupSpec"]
    [container] = [c for c in head["template"]["spec"]["containers"] if c["name"] == "ray-head"]
    env: dict[str, str] = {}
    for item in container.get("env", []):
        source = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif source.get("secretKeyRef", {}).get("name") == "ray-dev-jupyter":
            env[item["name"]] = jupyter_token
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[item["name"]] = pod_name
        else:
            raise AssertionError(f"the test pod cannot fill env {item}: teach tests/pod.py")
    # what KubeRay's operator adds to a head container
    params = " ".join(f"--{key}={value}" for key, value in head["rayStartParams"].items())
    env.update({
        "KUBERAY_GEN_RAY_START_CMD": f"ray start --head --block {params} "
                                     "--dashboard-agent-listen-port=52365 "
                                     "--metrics-export-port=8080",
        "RAY_ADDRESS": "127.0.0.1:6379",
        "RAY_PORT": "6379",
        "RAY_CLUSTER_NAME": name,
        "RAY_CLUSTER_NAMESPACE": "default",
        "RAY_CLOUD_INSTANCE_ID": pod_name,
        "RAY_NODE_TYPE_NAME": "headgroup",
        "RAY_USAGE_STATS_KUBERAY_IN_USE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",  # no network to report to
    })
    if doc["spec"].get("authOptions", {}).get("mode") == "token":
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=ray_token)
    [port] = [p["containerPort"] for p in container["ports"] if p["name"] == "jupyter"]
    return HeadContainer(container["command"], container["args"], env, name, port)


@dataclass
class Pod:
    """Start with :meth:`start`, reach Jupyter at :attr:`url`, stop with :meth:`stop`.

    ``folder`` holds the pod's own folders (home, shared, tmp, the log); ``image_env``
    is the image's ENV (PATH, HOME); ``rootfs`` an image's root or None for this machine.
    """

    folder: Path
    image_env: dict[str, str]
    rootfs: Path | None = None
    workdir: str = "/home/ray"
    jupyter_token: str = field(default_factory=lambda: secrets.token_hex(16))
    ray_token: str = field(default_factory=lambda: secrets.token_hex(16))
    pod_name: str = "ray-dev-head-x7k2p"
    process: subprocess.Popen | None = None
    forwarders: list[subprocess.Popen] = field(default_factory=list)
    url: str = ""
    restarts: int = 0
    _binds: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ip(self) -> str:
        return POD_IP

    @property
    def home(self) -> Path:
        """/home/ray as the test sees it."""
        return self._inside("/home/ray")

    @property
    def shared(self) -> Path:
        """/mnt/shared (the PVC) as the test sees it: group 100, setgid, as fsGroup makes it."""
        return self.folder / "mnt" / "shared"

    @property
    def log(self) -> Path:
        return self.folder / "pod.log"

    def _inside(self, path: str) -> Path:
        if self.rootfs is None:
            return self.folder / path.lstrip("/")
        return self.rootfs / path.lstrip("/")

    def _prepare(self) -> list[tuple[str, str]]:
        """The pod's folders and files, and what to mount where (inside the root)."""
        self.folder.chmod(0o755)  # uid 1000 walks through it to the pod's folders
        self.shared.mkdir(parents=True)
        # fsGroup: 100 gives the volume group 100 and the setgid bit
        os.chown(self.shared, 0, GID)
        self.shared.chmod(0o2775)
        binds = [(str(self.folder / "mnt"), "/mnt")]
        etc = self.folder / "etc"
        etc.mkdir()
        (etc / "hosts").write_text(KUBELET_HOSTS.format(ip=POD_IP, name=self.pod_name))
        (etc / "resolv.conf").write_text(KUBELET_RESOLV)
        files = [(str(etc / "hosts"), "/etc/hosts"), (str(etc / "resolv.conf"), "/etc/resolv.conf")]
        if self.rootfs is None:
            (etc / "profile").write_text(UBUNTU_PROFILE)
            home = self.folder / "home"
            (home / "ray").mkdir(parents=True)
            os.chown(home / "ray", UID, GID)
            tmp = self.folder / "tmp"
            tmp.mkdir()
            tmp.chmod(0o1777)
            # this machine's users with uid 1000 named as the image names it
            passwd = [line for line in Path("/etc/passwd").read_text().splitlines()
                      if line.split(":")[2] != str(UID)]
            (etc / "passwd").write_text("\n".join(
                [*passwd, f"ray:x:{UID}:{GID}::/home/ray:/bin/bash", ""]))
            binds += [(str(home), "/home"), (str(tmp), "/tmp"),
                      (str(etc / "passwd"), "/etc/passwd"), (str(etc / "profile"), "/etc/profile")]
            # no subordinate ids for anyone, whatever this machine grants
            for name in ("subuid", "subgid"):
                if Path("/etc", name).exists():
                    (etc / name).write_text("")
                    binds.append((str(etc / name), f"/etc/{name}"))
        else:
            binds += [("/dev", "/dev"), ("/sys", "/sys")]
            for _, inside in binds:
                (self.rootfs / inside.lstrip("/")).mkdir(parents=True, exist_ok=True)
            # a container runtime creates the files it mounts over in the container's layer
            for _, inside in files:
                (self.rootfs / inside.lstrip("/")).touch()
        return binds + files

    def start(self, timeout: float = 180) -> Pod:
        self._binds = self._prepare()
        return self._run(timeout)

    def restart(self, timeout: float = 180) -> Pod:
        """The kubelet's ``restartPolicy: Always`` once the container has ended: the same
        volumes, a new network namespace (and port-forward)."""
        self.stop()
        self.restarts += 1
        return self._run(timeout)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _run(self, timeout: float) -> Pod:
        container = head_container(self.jupyter_token, self.ray_token, self.pod_name)
        env = {**self.image_env, **container.env}
        argv = ["unshare", "--net", "--mount", "--pid", "--uts", "--fork", "--propagation",
                "private", "/bin/sh", "-c", _SETUP, "pod-setup", str(self.rootfs or "/"),
                self.workdir, self.pod_name]
        for source, inside in self._binds:
            argv += [source, inside]
        argv += ["--", *container.command, *container.args]
        with self.log.open("ab") as log:
            log.write(f"--- container start {self.restarts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.forwarders = []
        try:
            self.url = f"http://127.0.0.1:{self.forward(container.jupyter_port)}"
            self._wait_jupyter(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def forward(self, port: int) -> int:
        """``kubectl port-forward``: a free port here to ``port`` in the pod."""
        assert self.process is not None
        ours = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{self.process.pid}/ns/net") == ours:  # not unshared yet
            assert time.monotonic() < deadline and self.process.poll() is None, self.log_tail()
            time.sleep(0.02)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            self.forwarders.append(subprocess.Popen(
                ["nsenter", f"--net=/proc/{self.process.pid}/ns/net", sys.executable,
                 str(FORWARDER), str(listener.fileno()), str(port)],
                pass_fds=[listener.fileno()], start_new_session=True))
            return listener.getsockname()[1]

    def _wait_jupyter(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.url}/api/status",
                                         headers={"Authorization": f"token {self.jupyter_token}"})
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the pod exited ({self.process.returncode}):\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(request, timeout=5):
                    return
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Jupyter did not answer in {timeout:.0f} s:\n"
                                       + self.log_tail()) from None
                time.sleep(0.5)

    def pid_one(self) -> int | None:
        """The container's PID 1 (KubeRay's `bash -lc`), as this machine numbers it."""
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return int(children.read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def processes(self) -> dict[int, str]:
        """Every process of the pod's PID namespace: this machine's PID -> command line."""
        init = self.pid_one()
        if init is None:
            return {}
        namespace = os.readlink(f"/proc/{init}/ns/pid")
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns" / "pid") == namespace:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                        b"\0", b" ").decode(errors="replace")
            except OSError:  # ended meanwhile, or not ours to read
                continue
        return found

    def terminate(self, grace: float = 30) -> int | None:
        """What the kubelet does to delete the pod: SIGTERM to PID 1, then after the
        grace period (Kubernetes' default 30 s) SIGKILL. The exit status, or None when
        the grace period ran out."""
        pid = self.pid_one()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        assert self.process is not None
        try:
            return self.process.wait(grace)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            pid = self.pid_one()
            if self.terminate() is None and pid is not None:
                # the namespace's init: when it dies the kernel ends every process in the
                # namespace (unshare's --kill-child would not: the parent-death signal it
                # sets is cleared when setpriv changes the user)
                os.kill(pid, signal.SIGKILL)
                self.process.wait(30)
        for forwarder in self.forwarders:
            if forwarder.poll() is None:
                forwarder.kill()
                forwarder.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def diagnose(self, lines: int = 15) -> str:
        """The pod's output and the ends of the Ray head's own logs, for a failure message."""
        parts = [f"--- pod output\n{self.log_tail()}"]
        latest = self._inside("/tmp/ray/session_latest")
        try:
            # the link's target is absolute inside the pod
            logs = self._inside(os.readlink(latest)) / "logs"
            files = sorted(logs.glob("*.err")) + sorted(logs.glob("gcs_server.out")) + \
                sorted(logs.glob("raylet.out")) + sorted(logs.glob("dashboard.log"))
        except OSError:
            files = []
        for path in files:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            if tail:
                parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)


def remove(folder: Path) -> None:
    """The pod's folders hold files of uid 1000 and sockets: root removes them all."""
    shutil.rmtree(folder, ignore_errors=True)
