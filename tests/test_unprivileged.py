"""As deployed, unprivileged: the head container of deploy/dev/raycluster.yaml run from a
clean install of the wheel as uid 1000 gid 100 with no capabilities and HOME=/home/ray
(tests/pod.py), its Ray head started by the same command as KubeRay's, reached through
one port-forward. The panels, storage on the group-100 setgid shared volume, a job with
live logs, a shared-storage install and the promote review all work as that user."""

from __future__ import annotations

import os
import signal
import sqlite3
import tempfile
from pathlib import Path

import pytest

from pod import GID, UID, Pod, remove
from promote_helpers import build_wheel
from smoke_api import (PodAPI, SmokeSet, check_promote_review, check_shared_install,
                       wait_for_cluster)

pytestmark = pytest.mark.unprivileged


@pytest.fixture(scope="module")
def pod(pod_venv):
    folder = Path(tempfile.mkdtemp(prefix="rdw-pod-", dir="/var/tmp"))
    pod = Pod(folder, {"HOME": "/home/ray",
                       "PATH": f"{pod_venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"})
    try:
        yield pod.start()
    finally:
        pod.stop()
        remove(folder)


def test_everything_in_the_pod_runs_as_uid_1000_without_capabilities(pod, pod_api):
    found = {}
    for pid, cmdline in pod.processes().items():
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue  # ended meanwhile
        status = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        found[cmdline] = status
        assert status["Uid"].split() == [str(UID)] * 4, (cmdline, status["Uid"])
        assert status["Gid"].split() == [str(GID)] * 4, (cmdline, status["Gid"])
        assert status["Groups"].strip() == "", (cmdline, status["Groups"])
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(status[caps], 16) == 0, (cmdline, caps, status[caps])
        assert status["NoNewPrivs"].strip() == "1", cmdline
    names = " ".join(found)
    for expected in ("jupyter-lab", "gcs_server", "raylet", "dashboard"):
        assert expected in names, f"no {expected} among the pod's processes: {list(found)}"


class TestSmokeSet(SmokeSet):
    pass


def test_install_onto_shared_storage_then_a_job_imports_it(pod, pod_api, tmp_path):
    wheel = build_wheel(tmp_path / "src", tmp_path / "wheels", "smokepkg", "0.3")
    check_shared_install(pod_api, pod, wheel)
    # the job history lives under the user's HOME, where a pod can write
    store = pod.home / ".local" / "share" / "jupyter" / "ray_dev" / "jobs.sqlite"
    assert store.stat().st_uid == UID
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from jobs").fetchone()[0] >= 1


def test_promote_review_says_which_builders_can_run(pod, pod_api, ray_version):
    plan = check_promote_review(pod_api, ray_version, "py311")
    builders = {b["name"]: b for b in plan["builders"]}
    # this machine has buildah and user namespaces, but the pod maps no subordinate ids
    # for `ray` and has no_new_privs: rootless buildah could not unpack rayproject/ray's
    # files of other owners, although `buildah info` answers
    buildah = builders["buildah"]
    assert not buildah["available"], buildah
    for needed in ("/etc/subuid has no range for ray (uid 1000)", "/etc/subgid", "no_new_privs",
                   'c.RayDev.promote_builder = "kaniko"', "c.RayDev.promote_docker_host"):
        assert needed in buildah["reason"], buildah["reason"]
    # and nothing that is there: uid 1000 may create user namespaces on this machine
    assert "user namespace" not in buildah["reason"], buildah["reason"]
    assert not builders["docker"]["available"]
    assert "Docker" in builders["docker"]["reason"] or "docker" in builders["docker"]["reason"]
    assert not builders["kaniko"]["available"]
    # the build context (written to the pod's /tmp) exports as uid 1000
    reply = pod_api.call("POST", "/ray-dev/api/projects/smoke_promo/promote/context", json={})
    assert reply.content[:2] == b"\x1f\x8b"


def test_ray_ending_ends_the_container_and_the_restart_brings_it_back(pod, pod_api):
    """The head container runs Jupyter and Ray side by side: when Ray ends, the container
    ends with it, so the kubelet restarts it instead of leaving Jupyter without Ray."""
    [ray_start] = [pid for pid, cmd in pod.processes().items() if " start --head" in cmd]
    os.kill(ray_start, signal.SIGTERM)
    pod.process.wait(90)  # raises TimeoutExpired if the container stayed up
    pod.restart()
    wait_for_cluster(PodAPI(pod.url, pod.jupyter_token))


def test_the_pod_stops_when_deleted(pod, pod_api):
    """The kubelet's SIGTERM to PID 1 (bash, which ignores it unless told otherwise) ends
    JupyterLab and the Ray head within the grace period."""
    assert pod.terminate(grace=30) is not None, "the pod ignored SIGTERM:\n" + pod.log_tail()
