"""The Kubernetes API server stops under the server: during an apply and while a kaniko
build is followed. A 503 that names the API server, and no duplicate objects once it is back
(apply is idempotent: the retried apply finds what the first one may have stored).

This module's own API server + etcd (the session's one stays up for the other tests); the
API server process is frozen (SIGSTOP: a request hangs, as behind a partition) or killed
and started again on the same port and data (a restart), always by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.errors import KubernetesUnreachable
from jupyter_ray_dev.k8s import KanikoBuild, KubernetesService
from jupyter_ray_dev.k8s.client import KubeClient

pytestmark = [pytest.mark.k8s, pytest.mark.faults]

DEPLOY = Path(__file__).parent.parent / "deploy"
TIMEOUT = 2.0  # c.RayDev.kubernetes_timeout here


@pytest.fixture(scope="module")
def kube_apiserver(tmp_path_factory):
    from apiserver import KubeAPIServer, find_binary, seeded_etcd

    binary = find_binary()
    if binary is None:
        pytest.fail("No kube-apiserver binary: run `make k8s-apiserver`.")
    server = KubeAPIServer(tmp_path_factory.mktemp("kube-faults"), binary)
    server.start(seed=seeded_etcd(binary))
    yield server
    server.stop()


def apiserver_process(server):
    return next(p for p in server.processes if "kube-apiserver" in p.args[0])


def freeze(server) -> None:
    os.kill(apiserver_process(server).pid, signal.SIGSTOP)


def thaw(server) -> None:
    os.kill(apiserver_process(server).pid, signal.SIGCONT)


def kill(server):
    """The API server (not etcd) killed; its process, to start again with ``start_again``."""
    old = apiserver_process(server)
    os.kill(old.pid, signal.SIGKILL)
    old.wait(10)
    server.processes.remove(old)
    return old


def start_again(server, old) -> None:
    """The same flags, port, certificates and etcd: a restarted API server."""
    server._spawn("kube-apiserver", old.args)
    server._wait_ready(60)


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # no Ray needed


@pytest.fixture
def kubeconfig(kube, tmp_path):
    return kube.server.write_kubeconfig(tmp_path / "kubeconfig", kube.admin_token, kube.namespace)


@pytest.fixture
def ray_dev_config(kubeconfig):
    return {"kubeconfig": str(kubeconfig), "kubernetes_timeout": TIMEOUT}


def rayjob(name: str) -> dict:
    job = yaml.safe_load((DEPLOY / "prod" / "rayjob.yaml").read_text())
    job["metadata"]["name"] = name
    return job


async def apply(jp_fetch, manifest: dict) -> tuple[int, dict]:
    try:
        response = await jp_fetch("ray-dev", "api", "kubernetes", "apply", method="POST",
                                  body=json.dumps({"manifest": manifest, "dry_run": False}))
    except HTTPClientError as err:
        return err.code, json.loads(err.response.body)
    return response.code, json.loads(response.body)


def names(kube) -> list[str]:
    return [j["metadata"]["name"] for j in kube.custom.list_namespaced_custom_object(
        "ray.io", "v1", kube.namespace, "rayjobs")["items"]]


def unreachable(code: int, body: dict, kube) -> None:
    assert (code, body["reason"]) == (503, "kubernetes_unreachable"), body
    assert kube.server.url in body["message"] and body["server"] == kube.server.url


async def test_apply_while_the_api_server_hangs_then_again(jp_fetch, kube):
    manifest = rayjob("train")
    assert (await apply(jp_fetch, rayjob("warm")))[0] == 200  # the client is loaded
    freeze(kube.server)
    try:
        unreachable(*await apply(jp_fetch, manifest), kube)
    finally:
        thaw(kube.server)
    # the hung request may still have been stored once the server woke: the user's retry
    # finds it and changes nothing, or creates it; either way one object of that name
    code, body = await apply(jp_fetch, manifest)
    assert code == 200 and body["changed"] in (True, False), body
    code, again = await apply(jp_fetch, manifest)
    assert (code, again["exists"], again["changed"]) == (200, True, False), again
    assert sorted(names(kube)) == ["train", "warm"]


async def test_apply_while_the_api_server_restarts(jp_fetch, kube):
    manifest = rayjob("train")
    assert (await apply(jp_fetch, manifest))[0] == 200
    old = kill(kube.server)
    unreachable(*await apply(jp_fetch, manifest), kube)
    start_again(kube.server, old)
    code, body = await apply(jp_fetch, manifest)  # same server process: no restart of ours
    assert (code, body["exists"], body["changed"]) == (200, True, False), body
    assert names(kube) == ["train"]


async def test_following_a_build_across_an_api_server_outage(kubeconfig, kube):
    build = KanikoBuild(name="promote-1", destination="registry.example.com/team/app:1.0",
                        context="s3://artifacts/ctx/promote-1.tar.gz", registry_secret="regcred",
                        context_secret="s3-creds", ttl_seconds_after_finished=600)
    service = KubernetesService(KubeClient(str(kubeconfig), timeout=TIMEOUT),
                                identity=lambda: None)
    try:
        await service.start_build(build)
        follow = service.follow_build("promote-1", interval=0.05)
        first = await follow.__anext__()
        assert first["type"] == "status" and first["phase"] == "pending"
        freeze(kube.server)
        try:
            with pytest.raises(KubernetesUnreachable) as err:
                async for _ in follow:
                    pass
        finally:
            thaw(kube.server)
        assert kube.server.url in err.value.message
        # following again once it is back (the panel reconnects): the same build, one Job
        start_again(kube.server, kill(kube.server))
        _job_done(kube, "promote-1")
        events = [e async for e in service.follow_build("promote-1", interval=0.05)]
        assert events[-1]["type"] == "status" and events[-1]["phase"] == "succeeded"
        assert [j.metadata.name for j in kube.batch.list_namespaced_job(kube.namespace).items
                ] == ["promote-1"]
        # starting the same build again does not make a second Job
        with pytest.raises(Exception):  # noqa: B017 - the 409 Conflict's class is the core's
            await service.start_build(build)
        assert len(kube.batch.list_namespaced_job(kube.namespace).items) == 1
    finally:
        await service.close()


def _job_done(kube, name: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    kube.batch.patch_namespaced_job_status(name, kube.namespace, {"status": {
        "succeeded": 1, "startTime": now, "completionTime": now,
        "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now,
                        "lastTransitionTime": now}]}})
