"""The parity check of a real build: buildah (vfs, chroot) builds the project from the local
stand-in for rayproject/ray, the check runs in a working container of the built image, and
the loopback registry is asked what was pushed (skopeo).

The run the promotion reproduces is a record in the jobs capability's real run store (as
the launcher would have left it; the Ray job itself is covered by test_promote_pins_from_run):
one run used another version of the project's dependency and a package the image lacks (a
deliberately different pin), another used exactly what the image has.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time

import pytest
from promote_base import RAY_VERSION
from image_parts import buildah
from promote_helpers import SUMMARY, build_wheel, notebook, sample_project
from promote_image_checks import run_build, skopeo

from jupyter_ray_dev.errors import Conflict
from jupyter_ray_dev.promote import PromoteConfig, PromoteService
from jupyter_ray_dev.jobs import JobsConfig, JobsService
from jupyter_ray_dev.project.run_record import RunRecord

pytestmark = pytest.mark.timeout(900)
BODY = {"entrypoint": "proj/train.ipynb"}


async def _summary():
    return SUMMARY


def _project(tmp_path):
    """A notebook importing its helper module and a real local wheel (raydevdep 1.2.3)."""
    root = tmp_path / "root"
    wheel = build_wheel(tmp_path / "src", root / "proj" / "wheels")
    project = sample_project(root, pip=[f"./wheels/{wheel.name}"], env_vars={"MODE": "prod"})
    notebook(project / "train.ipynb", "import helpers, raydevdep\n"
             "print('RESULT', helpers.answer(), raydevdep.VERSION)")
    return root


def _run(root, run_id, **versions):
    """A succeeded run of proj/train.ipynb as the launcher records it: ray and jupyterlab
    are in its environment too, and it imported its dependencies (and Ray, as every job's
    driver does)."""
    dists = {"raydevdep": "1.2.3", "ray": RAY_VERSION, "jupyterlab": "4.6.6", **versions}
    imported = {n: [n.replace("-", "_")] for n in dists if n != "jupyterlab"}
    now = time.time()
    return RunRecord(
        run_id, str(root.resolve()), "proj", "proj/train.ipynb", now, {}, state="recorded",
        status="SUCCEEDED", ended=now,
        environment={"distributions": dists, "imported": imported, "started": now,
                     "python": {"version": "3.11.7"}, "exit_code": 0})


def _service(tmp_path, root, registry, store, run):
    jobs = JobsService(JobsConfig(root_dir=root, store_path=tmp_path / "jobs.sqlite"),
                       address=lambda: "http://127.0.0.1:9", auth=lambda: None)
    asyncio.run(jobs.store.put_run(run))
    return PromoteService(PromoteConfig(
        root_dir=root, registry=f"{registry}/team", tls_verify=False,
        buildah_root=store["root"], buildah_runroot=store["runroot"],
        buildah_storage_driver="vfs", store_path=tmp_path / "p.sqlite"), _summary,
        runs=lambda: jobs)


def _tags(registry):
    out = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                          f"docker://{registry}/team/proj"], capture_output=True, text=True)
    return out.stdout  # empty (and an error) while the repository has no image at all


def _labels(image):
    return skopeo("inspect", "--tls-verify=false", f"docker://{image}")


def test_a_different_pin_blocks_the_push_and_push_anyway_records_the_override(
        tmp_path, buildah_store, base_image, registry):
    root = _project(tmp_path)
    # the project's code imports tabulate, which the run had and the image lacks
    (root / "proj" / "report.py").write_text("import tabulate\n")
    run = _run(root, "raysubmit_otherpin", raydevdep="1.2.4", tabulate="0.9.0")
    service = _service(tmp_path, root, registry, buildah_store, run)
    body = {**BODY, "base_image": base_image}
    try:
        plan = asyncio.run(service.plan("proj", body))
        assert plan["source_run"] == "raysubmit_otherpin"
        assert plan["parity"]["before_push"] == ["buildah"]

        lines, end = asyncio.run(run_build(service, body))
        assert end["status"] == "blocked", "\n".join(lines[-30:])
        assert end["digest"] is None
        parity = end["parity"]
        assert parity["status"] == "failed" and parity["builder"] == "buildah", parity
        assert parity["source"].startswith("the run raysubmit_otherpin (")
        messages = [m["message"] for m in parity["mismatches"]]
        assert "raydevdep 1.2.3 in the image, 1.2.4 in the run" in messages
        assert "tabulate is not installed in the image (0.9.0 in the run)" in messages
        assert any(m.startswith("import tabulate failed in the image: ModuleNotFoundError")
                   for m in messages)
        assert len(messages) == 3  # ray, Python 3.11, helpers, raydevdep's import: all fine
        # the diff in the build's event stream, and the reason in the record
        assert "  MISMATCH raydevdep 1.2.3 in the image, 1.2.4 in the run" in lines
        assert end["error"].startswith("Not pushed: the image differs from the run "
                                       "raysubmit_otherpin (")
        # nothing reached the registry; the check's container is gone
        assert end["image"].split(":")[-1] not in _tags(registry)
        assert buildah(buildah_store, "containers", "--quiet").strip() == ""

        # the whole result in the history: what the image had, what was imported
        stored = asyncio.run(service.get(end["id"]))
        imports = {i["module"]: i["ok"] for i in stored["parity_report"]["imports"]}
        assert imports == {"raydevdep": True, "tabulate": False}
        assert stored["parity_report"]["image"]["ray"] == RAY_VERSION

        # no push without the user's explicit override
        with pytest.raises(Conflict) as refused:
            asyncio.run(service.start_push(end["id"], {}))
        assert refused.value.details["parity"]["status"] == "failed"
        assert end["image"].split(":")[-1] not in _tags(registry)

        async def push_anyway():
            events = [e async for e in service.push(end["id"], {"override": True},
                                                    user="alice")]
            return [e["text"] for e in events if e["type"] == "line"], events[-1]["promotion"]

        lines, pushed = asyncio.run(push_anyway())
        assert pushed["status"] == "pushed", "\n".join(lines[-20:])
        assert pushed["digest"].startswith("sha256:")
        (override,) = pushed["overrides"]
        assert override["what"] == "parity" and override["user"] == "alice"
        assert override["parity_status"] == "failed"
        assert "raydevdep 1.2.3 in the image, 1.2.4 in the run" in override["mismatches"]
        info = _labels(end["image"])
        assert info["Digest"] == pushed["digest"]
        history = asyncio.run(service.history("proj"))
        assert history[0]["overrides"] == pushed["overrides"]
        # the history's provenance is what the image's labels say, and the override
        provenance = history[0]["provenance"]
        assert provenance["source_run"] == {"id": "raysubmit_otherpin", "time": run.time}
        assert info["Labels"]["io.ray-dev.source-run"] == provenance["source_run"]["id"]
        assert info["Labels"]["io.ray-dev.lock-sha256"] == provenance["lock"]["sha256"]
        (line,) = provenance["lock"]["requirements"]
        assert line.startswith("./wheels/raydevdep-1.2.3-") and line.endswith(".whl")
        assert provenance["parity"]["status"] == "failed"
        assert provenance["overrides"] == pushed["overrides"]
        # the log keeps the build, the check and the push, in order
        log = asyncio.run(service.get(end["id"]))["log"]
        assert log.index("MISMATCH") < log.index("Push anyway") < log.index("Done:")
    finally:
        asyncio.run(service.close())


def test_a_matching_image_passes_and_is_pushed_with_its_provenance_labels(
        tmp_path, buildah_store, base_image, registry):
    root = _project(tmp_path)
    service = _service(tmp_path, root, registry, buildah_store,
                       _run(root, "raysubmit_same"))
    body = {**BODY, "base_image": base_image}
    try:
        lines, end = asyncio.run(run_build(service, body))
        assert end["status"] == "pushed", "\n".join(lines[-30:])
        assert end["parity"]["status"] == "passed" and end["parity"]["mismatches"] == []
        assert end["overrides"] is None
        # Python: Debian's 3.11.2 in the stand-in, 3.11.7 in the run: the same minor
        assert any("Python 3.11.2 in the image, 3.11.7 in the run" in n
                   for n in end["parity"]["notes"])
        stored = asyncio.run(service.get(end["id"]))
        lock = hashlib.sha256(stored["requirements"].encode()).hexdigest()
        info = _labels(end["image"])
        assert info["Digest"] == end["digest"]
        assert info["Labels"]["io.ray-dev.source-run"] == "raysubmit_same"
        assert info["Labels"]["io.ray-dev.lock-sha256"] == lock
        provenance = stored["provenance"]
        assert provenance["source_run"]["id"] == "raysubmit_same"
        assert provenance["lock"]["sha256"] == lock == stored["lock_hash"]
        assert (provenance["parity"]["status"], provenance["overrides"]) == ("passed", [])
        # the label is the lock the image holds: sha256 of its requirements.txt
        ctr = buildah(buildah_store, "from", "--pull=never", end["image"]).strip()
        try:
            inside = buildah(buildah_store, "run", "--isolation", "chroot", ctr, "--",
                             "sha256sum", "/home/ray/.ray-dev-deps/requirements.txt")
        finally:
            buildah(buildah_store, "rm", ctr)
        assert inside.split()[0] == lock
    finally:
        asyncio.run(service.close())


def test_a_local_build_needs_no_registry_and_is_still_checked(tmp_path, buildah_store,
                                                              base_image):
    """``--build --no-push`` without an image or a registry: localhost/<project>:<hash>."""
    root = _project(tmp_path)
    service = PromoteService(PromoteConfig(
        root_dir=root, buildah_root=buildah_store["root"],
        buildah_runroot=buildah_store["runroot"], buildah_storage_driver="vfs",
        store_path=tmp_path / "p.sqlite"), _summary)  # no registry, no run record
    try:
        lines, end = asyncio.run(run_build(service, {**BODY, "base_image": base_image,
                                                     "push": False}))
        assert end["status"] == "built", "\n".join(lines[-30:])
        assert end["image"] == f"localhost/proj:{end['inputs_hash'][:12]}"
        parity = end["parity"]
        assert parity["status"] == "passed", parity
        assert parity["source"].startswith("the pinned lock (requirements.txt) and the dev "
                                           f"cluster's Ray {RAY_VERSION}, Python 3.11")
        stored = asyncio.run(service.get(end["id"]))
        assert stored["parity_report"]["expected"]["modules"] == ["raydevdep"]
        assert stored["parity_report"]["expected"]["modules_source"].startswith("static analysis")
        assert buildah(buildah_store, "images", "--quiet", end["image"]).strip()
        # a local image has nowhere to go
        with pytest.raises(Conflict, match="names no registry"):
            asyncio.run(service.start_push(end["id"], {"override": True}))
    finally:
        asyncio.run(service.close())
