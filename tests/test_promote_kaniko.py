"""The kaniko builder with real parts: the build context goes to a real S3 server
(moto) through the storage capability, the Job goes to the real test kube-apiserver
through the kubernetes client, and RBAC is the API server's own.

A real limitation, not a shortcut: the test API server has no scheduler, kubelet or
Job controller, so the Job is stored and validated but no pod ever runs, and kaniko
itself cannot run on this machine (its image cannot be pulled here). What a running
pod reports (log, digest, failure) is read by ``k8s.kaniko.build_status``, covered in
test_k8s_kaniko.py; nothing here fakes a pod run. What this file proves: the context
that lands in S3, the Job that lands in the API server, the "no pod started" timeout
(exactly what a cluster that cannot schedule the pod shows), RBAC refusals, and the
clean-up of both the Job and the uploaded context.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time

import pytest
from promote_helpers import SUMMARY, sample_project
from storage_fixtures import S3_KEY, S3_SECRET, make_store

from jupyter_ray_dev.k8s import KubernetesService
from jupyter_ray_dev.k8s.client import KubeClient
from jupyter_ray_dev.k8s.kaniko import BUILD_LABEL, DIGEST_FILE
from jupyter_ray_dev.promote import NoBuilder, PromoteConfig, PromoteService
from jupyter_ray_dev.promote.builders import BuildFailed
from jupyter_ray_dev.storage import StorageService

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(300)]
IMAGE = "registry.example.com/team/proj:v1"
KANIKO = {"context": "artifacts/kaniko", "registry_secret": "regcred",
          "context_secret": "s3-creds", "s3_endpoint": "http://minio.storage:9000",
          "poll_interval": 0.2}


async def _summary():
    return SUMMARY


@pytest.fixture
def s3(request, tmp_path):
    return make_store("s3", request, tmp_path)


def _service(tmp_path, s3, kubeconfig, **kaniko):
    storage = StorageService([s3.root("artifacts")])
    kube = KubernetesService(KubeClient(str(kubeconfig), timeout=5), identity=lambda: None)
    service = PromoteService(
        PromoteConfig(root_dir=tmp_path / "root", store_path=tmp_path / "p.sqlite",
                      kaniko={**KANIKO, **kaniko}),
        _summary, storage=lambda: storage, kubernetes=lambda: kube)
    return service, storage, kube


async def _close(service, storage, kube):
    await service.close()
    await storage.close()
    await kube.close()


async def _wait_for(fn, what, timeout=30.0):
    """Poll ``fn`` until it returns something (a wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await fn()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not appear in {timeout} s")


async def test_context_in_s3_job_in_the_apiserver_then_the_no_pod_timeout(
        tmp_path, s3, kube):
    sample_project(tmp_path / "root")
    kubeconfig = kube.server.write_kubeconfig(tmp_path / "kc", kube.admin_token, kube.namespace)
    service, storage, k8s = _service(tmp_path, s3, kubeconfig, schedule_timeout=10)
    try:
        plan = await service.plan("proj", {"entrypoint": "proj/train.ipynb"})
        kaniko = next(b for b in plan["builders"] if b["name"] == "kaniko")
        assert kaniko["available"], kaniko
        assert kube.namespace in kaniko["reason"] and s3.url in kaniko["reason"]

        started = await service.start_build("proj", {"entrypoint": "proj/train.ipynb",
                                                     "image": IMAGE, "builder": "kaniko"})
        jobs = await _wait_for(lambda: asyncio.to_thread(
            lambda: kube.batch.list_namespaced_job(kube.namespace).items), "the kaniko Job")
        (job,) = [kube.api.sanitize_for_serialization(j) for j in jobs]
        name = job["metadata"]["name"]
        key = f"kaniko/{name}.tar.gz"

        # the context the Job reads: in S3, with the kept files and none of the excluded
        with tarfile.open(fileobj=io.BytesIO(s3.read(key))) as tar:
            names = set(tar.getnames())
        assert {"Dockerfile", ".dockerignore", "deps/requirements.txt", "app/train.py",
                "app/helpers.py", "app/data/params.txt"} <= names
        for gone in ("app/checkpoints/big.ckpt", "app/run.log", "app/scratch/notes.txt",
                     "app/__pycache__/helpers.cpython-311.pyc", "app/cache.tmp"):
            assert gone not in names

        # the Job: kaniko reads that object, pushes the target, writes its digest where
        # Kubernetes returns it; the registry and S3 credentials are Secret references
        assert job["metadata"]["labels"][BUILD_LABEL] == name
        spec = job["spec"]
        assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] > 0
        (container,) = spec["template"]["spec"]["containers"]
        assert container["image"].startswith("gcr.io/kaniko-project/executor:")
        args = container["args"]
        assert args[:4] == [f"--context=s3://{s3.base}/{key}", "--dockerfile=Dockerfile",
                            f"--destination={IMAGE}", f"--digest-file={DIGEST_FILE}"]
        assert any(a.startswith("--build-arg=RAY_DEV_CREATED=20") for a in args)
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["registry-credentials"]["mountPath"] == "/kaniko/.docker"
        volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
        assert volumes["registry-credentials"]["secret"]["secretName"] == "regcred"
        env = {e["name"]: e for e in container["env"]}
        assert env["S3_ENDPOINT"]["value"] == "http://minio.storage:9000"
        assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-creds"
        # the server's own S3 credentials (the storage root's options) stay on the server
        text = json.dumps(job)
        assert S3_KEY not in text and S3_SECRET not in text

        # no scheduler here: no pod ever starts, and the build says so after the timeout
        end = None
        async for event in service.follow(started["id"]):
            end = event.get("promotion", end)
        assert end["status"] == "failed" and end["builder"] == "kaniko"
        assert f"No build pod of Job {kube.namespace}/{name} started running within 10 s" \
            in end["error"]
        assert "Waiting for Kubernetes to create the build pod" in end["error"]
        # cleaned up: the Job (the TTL is only the backstop) and the uploaded context
        assert kube.batch.list_namespaced_job(kube.namespace).items == []
        assert not s3.exists(key)
    finally:
        await _close(service, storage, k8s)


async def test_without_rights_kaniko_is_not_offered_and_a_refused_create_is_clear(
        tmp_path, s3, kube):
    sample_project(tmp_path / "root")
    token = kube.service_account_token("no-rights")  # a real token, bound to nothing
    kubeconfig = kube.server.write_kubeconfig(tmp_path / "kc", token, kube.namespace)
    service, storage, k8s = _service(tmp_path, s3, kubeconfig)
    try:
        kaniko = await service.builders["kaniko"].availability()
        assert not kaniko.available
        assert f'may not create jobs.batch in namespace "{kube.namespace}"' in kaniko.reason
        assert "resources: [pods/log]" in kaniko.reason  # each missing right, with its rule
        with pytest.raises(NoBuilder) as refused:
            await service.start_build("proj", {"entrypoint": "proj/train.ipynb",
                                               "image": IMAGE, "builder": "kaniko"})
        assert "kaniko: " in refused.value.message and "Export the build context" in \
            refused.value.message

        # rights lost between the review and the build: the API server's 403, named
        context = tmp_path / "ctx.tar.gz"
        with tarfile.open(context, "w:gz") as tar:
            tar.addfile(tarfile.TarInfo("Dockerfile"), io.BytesIO(b""))
        lines: list[str] = []

        async def emit(line):
            lines.append(line)

        with pytest.raises(BuildFailed) as failed:
            await service.builders["kaniko"].build(context, IMAGE, {}, True, emit)
        message = failed.value.message
        assert message.startswith("The kaniko Job could not be created: Kubernetes refused: "
                                  'service account "no-rights"')
        assert f'may not create jobs.batch in namespace "{kube.namespace}"' in message
        assert "resources: [jobs]" in message and "verbs: [create]" in message
        assert failed.value.details["failed_step"] == "create job"
        assert [p for p in s3.everything() if p.endswith(".tar.gz")] == []  # context removed
    finally:
        await _close(service, storage, k8s)


@pytest.mark.parametrize(("kaniko", "roots", "says"), [
    ({}, [], "no context location is configured: set c.RayDev.promote_kaniko"),
    ({"context": "nope/ctx"}, [], "No storage root named 'nope'"),
    ({"context": "shared/ctx"}, [{"name": "shared", "url": "/tmp"}],
     "give c.RayDev.promote_kaniko['pvc']"),
    ({"context": "a", "colour": "red"}, [], "unknown key 'colour'"),
    ({"context": "a", "schedule_timeout": "soon"}, [], "['schedule_timeout'] must be a number"),
])
async def test_what_kaniko_needs_is_said_before_any_kubernetes_call(tmp_path, kaniko, roots,
                                                                    says):
    storage = StorageService(roots)
    service = PromoteService(PromoteConfig(root_dir=tmp_path, store_path=tmp_path / "p.sqlite",
                                           kaniko=kaniko), _summary, storage=lambda: storage)
    try:
        found = await service.builders["kaniko"].availability()
        assert not found.available and says in found.reason
    finally:
        await service.close()
        await storage.close()


async def test_a_pushed_image_is_checked_by_a_job_which_cannot_run_here(tmp_path, s3, kube):
    """kaniko keeps no image: the parity check runs the pushed digest in a short Job. The
    Job lands in the real API server; no pod runs here (no kubelet), and the check says it
    cannot be checked here instead of passing."""
    from jupyter_ray_dev.promote.builders.base import CheckUnavailable
    from jupyter_ray_dev.promote.parity import probe_argv

    kubeconfig = kube.server.write_kubeconfig(tmp_path / "kc", kube.admin_token, kube.namespace)
    service, storage, k8s = _service(tmp_path, s3, kubeconfig, schedule_timeout=5)
    pushed = "registry.example.com/team/proj@sha256:" + "b" * 64
    lines: list[str] = []

    async def emit(line):
        lines.append(line)

    try:
        check = asyncio.create_task(service.builders["kaniko"].run_in_image(
            pushed, probe_argv(("numpy",)), "/home/ray/app", emit, 120))
        jobs = await _wait_for(lambda: asyncio.to_thread(
            lambda: kube.batch.list_namespaced_job(kube.namespace).items), "the check Job")
        (job,) = [kube.api.sanitize_for_serialization(j) for j in jobs]
        spec = job["spec"]
        assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 120
        assert job["metadata"]["labels"][BUILD_LABEL] == job["metadata"]["name"]
        pod = spec["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["imagePullSecrets"] == [{"name": "regcred"}]  # the push's credentials
        (container,) = pod["containers"]
        assert container["image"] == pushed  # by digest: exactly what was pushed
        assert container["command"][:2] == ["python", "-c"]
        assert "RAY_DEV_PARITY" in container["command"][2]  # the probe itself
        assert json.loads(container["command"][3]) == ["numpy"]
        assert container["workingDir"] == "/home/ray/app"

        with pytest.raises(CheckUnavailable) as unavailable:
            await check
        said = str(unavailable.value)
        assert f"no pod of the check Job {kube.namespace}/{job['metadata']['name']} ran " \
               "within 5 s" in said and "cannot be checked here" in said
        assert kube.batch.list_namespaced_job(kube.namespace).items == []  # deleted
        assert any("checking it after the push" in ln for ln in lines)
    finally:
        await _close(service, storage, k8s)
