"""Where each number of a shape taken from Ray's view of its nodes comes from.

Ray reports what each node has (``resources_total``): on a KubeRay pod those are the
pod's limits (KubeRay passes them to ``ray start``), elsewhere they are what Ray
detected on the machine, or was told with ``--num-cpus``. A machine's totals are
no request: a head that ran on a 24 GiB laptop does not need a 23 GiB pod. So
each CPU and memory number is classified, and one that is a machine's total (or
whose origin this server cannot see) is left out of the manifests' resources and
flagged in the review, with the value Ray saw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# basis -> (used as the pod's resources, what the review says)
BASES = {
    "pod": (True, "a KubeRay pod's limits, which KubeRay passes to `ray start`"),
    "container": (True, "the limit of the container this server and the head run in"),
    "ray_start": (True, "set for `ray start` below this machine's total (--num-cpus)"),
    "machine": (False, "this machine's total as Ray detected it, no request: left out of the "
                       "manifests' resources"),
    "unknown": (False, "Ray's total for a node outside Kubernetes that this server cannot "
                       "see (likely its machine's): left out of the manifests' resources"),
}


@dataclass(frozen=True)
class HostFacts:
    """What the review needs to know about where the dev cluster runs."""

    in_kuberay: bool  # the server (on the head) runs in a KubeRay pod
    head_local: bool  # the head node is this machine (its dashboard is on loopback)
    cpu_count: int | None = None
    cgroup_cpu_limit: float | None = None  # CPUs a container quota allows (None: no quota)
    cgroup_memory_limit: int | None = None  # bytes (None: no limit)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cgroup_limits() -> tuple[float | None, int | None]:
    """(CPU quota, memory limit) of this process's container (cgroup v2, else v1)."""
    cpu = mem = None
    cpu_max = _read("/sys/fs/cgroup/cpu.max")
    if cpu_max:
        quota, _, period = cpu_max.partition(" ")
        if quota != "max" and period:
            cpu = int(quota) / int(period)
    else:
        quota, period = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), \
            _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if quota and period and int(quota) > 0:
            cpu = int(quota) / int(period)
    mem_max = _read("/sys/fs/cgroup/memory.max") or _read(
        "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if mem_max and mem_max != "max" and int(mem_max) < (1 << 60):  # v1: a huge "no limit"
        mem = int(mem_max)
    return cpu, mem


def host_facts(summary: dict) -> HostFacts:
    """Facts of this machine and of the cluster summary (``address``: the dashboard the
    server reached; ``kuberay``: this pod's RayCluster identity)."""
    host = urlparse(summary.get("address") or "").hostname or ""
    cpu, mem = cgroup_limits()
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return HostFacts(in_kuberay=bool(summary.get("kuberay")), head_local=host in _LOOPBACK,
                     cpu_count=count, cgroup_cpu_limit=cpu, cgroup_memory_limit=mem)


def _seen_from_here(is_head: bool, facts: HostFacts | None) -> str | None:
    """``pod`` or ``unknown`` when that settles it; None for the head on this machine."""
    if facts is None:
        return "unknown"
    if facts.in_kuberay:
        return "pod"
    return None if is_head and facts.head_local else "unknown"


def cpu_basis(cpu: float, is_head: bool, facts: HostFacts | None) -> str:
    settled = _seen_from_here(is_head, facts)
    if settled is not None or facts is None:
        return settled or "unknown"
    if facts.cgroup_cpu_limit is not None:
        return "container"
    if facts.cpu_count is not None and cpu < facts.cpu_count:
        return "ray_start"
    return "machine"


def memory_basis(is_head: bool, facts: HostFacts | None) -> str:
    """Ray sizes memory and its object store from the memory free when it starts: without a
    container limit that is the machine's, whatever ``--memory`` said for half of it."""
    settled = _seen_from_here(is_head, facts)
    if settled is not None or facts is None:
        return settled or "unknown"
    return "container" if facts.cgroup_memory_limit is not None else "machine"
