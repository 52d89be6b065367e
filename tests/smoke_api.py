"""The smoke set's API checks against a running server reached over HTTP with its token,
as a browser through ``kubectl port-forward`` reaches the head pod: the Ray panel's
cluster, storage on the shared folder, a job with live logs, shared-storage installs and
the promote review. The uid-1000 tier and the head-image tier run the same checks."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import requests
import websocket

from jobs_helpers import TERMINAL


class PodAPI:
    """JSON calls with the Jupyter token (token requests need no XSRF cookie)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def call(self, method: str, path: str, expect: int | None = 200, **kwargs: Any
             ) -> requests.Response:
        reply = self.session.request(method, f"{self.url}{path}", timeout=120, **kwargs)
        if expect is not None:
            assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply

    def json(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.call(method, path, expect, **kwargs).json()

    def write(self, path: str, text: str) -> None:
        """A file under the Jupyter root, through Jupyter's contents API (as the browser)."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            self.call("PUT", f"/api/contents/{folder}", None, json={"type": "directory"})
        self.call("PUT", f"/api/contents/{path}", None,
                  json={"type": "file", "format": "text", "content": textwrap.dedent(text)})

    def job(self, job_id: str) -> dict[str, Any]:
        return self.json("GET", f"/ray-dev/api/jobs/{job_id}")


class ContainerEnded(Exception):
    pass


def wait_for_cluster(api: PodAPI, timeout: float = 180,
                     running: Callable[[], bool] = lambda: True) -> dict[str, Any]:
    """The cluster summary once the head reports an alive node (a head that has just
    started answers 503 for a moment: the panel retries as well)."""
    deadline = time.monotonic() + timeout
    while True:
        if not running():
            raise ContainerEnded()
        try:
            reply = api.call("GET", "/ray-dev/api/cluster", expect=None)
        except requests.ConnectionError as err:  # the container is ending: the next turn says so
            assert time.monotonic() < deadline, f"Jupyter unreachable: {err}"
            time.sleep(1)
            continue
        if reply.status_code == 200 and reply.json()["alive_nodes"]:
            return reply.json()
        assert time.monotonic() < deadline, f"no alive Ray node: {reply.status_code} {reply.text}"
        time.sleep(1)


def check_cluster(api: PodAPI, pod: Any, ray_version: str) -> dict[str, Any]:
    """The Ray panel's data: the head of this pod, token auth on, the RayCluster's name."""
    anonymous = requests.get(f"{api.url}/ray-dev/api/cluster", timeout=30)
    assert anonymous.status_code == 403, anonymous.text
    cluster = wait_for_cluster(api)
    assert cluster["ray_version"] == ray_version
    assert cluster["auth_mode"] == "token"
    [head] = [n for n in cluster["nodes"] if n["is_head"]]
    assert head["node_ip"] == pod.ip and head["state"] == "ALIVE"
    assert cluster["kuberay"]["cluster_name"] == "ray-dev"
    assert cluster["kuberay"]["pod_name"] == pod.pod_name
    return cluster


def check_storage(api: PodAPI, pod: Any) -> None:
    """The artifacts root of the YAML (RAY_DEV_ARTIFACTS) on the shared volume: create a
    folder, upload, list, preview; what lands on the volume is uid 1000's, group 100."""
    roots = {r["name"]: r for r in api.json("GET", "/ray-dev/api/storage/roots")["roots"]}
    assert roots["artifacts"]["url"] == "/mnt/shared/artifacts"
    base = "/ray-dev/api/storage/artifacts"
    api.json("POST", f"{base}/mkdir", 201, json={"path": "smoke"})
    body = b"epoch,loss\n1,0.5\n2,0.25\n"
    upload = api.json("POST", f"{base}/uploads", 201,
                      json={"path": "smoke/metrics.csv", "size": len(body)})
    api.call("PUT", f"{base}/uploads/{upload['upload_id']}", data=body,
             headers={"Content-Type": "application/octet-stream",
                      "Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}"})
    api.json("POST", f"{base}/uploads/{upload['upload_id']}/commit", 201)
    listing = api.json("GET", f"{base}/list", params={"path": "smoke"})
    assert [e["name"] for e in listing["entries"]] == ["metrics.csv"]
    preview = api.json("GET", f"{base}/preview", params={"path": "smoke/metrics.csv"})
    assert "loss" in json.dumps(preview)
    for path in (pod.shared / "artifacts" / "smoke", pod.shared / "artifacts" / "smoke" /
                 "metrics.csv"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (1000, 100), (path, st.st_uid, st.st_gid)
    assert (pod.shared / "artifacts" / "smoke" / "metrics.csv").read_bytes() == body


# Prints a line, waits until the test has seen it over the WebSocket, then prints more:
# the log can only complete if lines are delivered while the job runs.
LIVE_JOB = """\
    import os
    import time
    from pathlib import Path

    print(f"smoke who uid={{os.getuid()}} gid={{os.getgid()}} home={{os.environ['HOME']}}",
          flush=True)
    go = Path("/mnt/shared/{project}/go")
    while not go.exists():
        time.sleep(0.2)
    Path("/mnt/shared/{project}/out.txt").write_text("written by the driver")
    print("smoke after go", flush=True)
"""


def check_job_live_logs(api: PodAPI, pod: Any, project: str = "smoke_job") -> dict[str, Any]:
    """Run a script as a Ray job, follow its log over the WebSocket while it runs."""
    api.write(f"{project}/job.py", LIVE_JOB.format(project=project))
    submitted = api.json("POST", "/ray-dev/api/jobs", 201, json={"file": f"{project}/job.py"})
    job_id = submitted["submission_id"]
    ws = websocket.create_connection(
        f"{api.url.replace('http', 'ws', 1)}/ray-dev/api/jobs/{job_id}/logs/stream",
        header=[f"Authorization: token {api.token}"], timeout=180)
    lines: list[str] = []
    end: dict[str, Any] = {}
    try:
        while not end:
            message = json.loads(ws.recv())
            if message["type"] == "lines":
                lines += message["lines"]
                if any(ln.startswith("smoke who") for ln in lines):
                    (pod.shared / project / "go").touch()
            elif message["type"] == "end":
                end = message
            assert message["type"] != "error", message
    finally:
        ws.close()
    ours = [ln for ln in lines if ln.startswith("smoke")]
    assert ours == ["smoke who uid=1000 gid=100 home=/home/ray", "smoke after go"], lines
    assert end["status"] == "SUCCEEDED", (end, lines)
    job = api.job(job_id)
    assert job["status"] in TERMINAL and job["status"] == "SUCCEEDED"
    out = (pod.shared / project / "out.txt").stat()
    assert (out.st_uid, out.st_gid) == (1000, 100)
    return job


def check_shared_install(api: PodAPI, pod: Any, wheel: Path, project: str = "smoke_env"
                         ) -> None:
    """pip install --target onto the shared volume as uid 1000, then a job imports it."""
    wheels = pod.shared / "wheels"
    wheels.mkdir(exist_ok=True)
    inside = wheels / wheel.name
    inside.write_bytes(wheel.read_bytes())
    api.write(f"{project}/runtime_env.yaml", f"pip:\n  - /mnt/shared/wheels/{wheel.name}\n")
    api.write(f"{project}/probe.py", """\
        import smokepkg
        print("smoke pkg", smokepkg.VERSION, smokepkg.__file__, flush=True)
    """)
    reply = api.call("POST", f"/ray-dev/api/projects/{project}/install", json={})
    events = [json.loads(block.split("data: ", 1)[1])
              for block in reply.text.split("\n\n") if "data: " in block]
    assert events[-1]["type"] == "done", events
    folder = Path(events[-1]["folder"])
    assert folder.parent.parent == Path("/mnt/shared/envs")
    seen = pod.shared / folder.relative_to("/mnt/shared")
    assert (seen / "smokepkg" / "__init__.py").is_file()
    st = seen.stat()
    assert (st.st_uid, st.st_gid) == (1000, 100), (st.st_uid, st.st_gid)
    job_id = api.json("POST", "/ray-dev/api/jobs", 201,
                      json={"file": f"{project}/probe.py"})["submission_id"]
    deadline = time.monotonic() + 180
    while (job := api.job(job_id))["status"] not in TERMINAL:
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    log = api.call("GET", f"/ray-dev/api/jobs/{job_id}/logs").text
    assert job["status"] == "SUCCEEDED", log
    assert f"smoke pkg 0.3 {folder}/smokepkg/__init__.py" in log


PROMOTE_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None,
               "outputs": [], "source": "import yaml\nprint(yaml.__version__)"}],
}


def check_promote_review(api: PodAPI, ray_version: str, python_tag: str,
                         project: str = "smoke_promo") -> dict[str, Any]:
    """The review before a build: the Dockerfile from rayproject/ray of this cluster's
    versions, pinned requirements, the manifests, and one line per builder."""
    api.write(f"{project}/train.ipynb", json.dumps(PROMOTE_NOTEBOOK))
    api.write(f"{project}/runtime_env.yaml", "pip:\n  - pyyaml>=5\n")
    plan = api.json("POST", f"/ray-dev/api/projects/{project}/promote/plan", json={})
    assert f"FROM rayproject/ray:{ray_version}-{python_tag}" in plan["dockerfile"]
    assert any(r.startswith("pyyaml==") for r in plan["requirements"]["requirements"])
    assert "kind: RayJob" in json.dumps(plan["manifests"])
    assert {b["name"] for b in plan["builders"]} == {"buildah", "docker", "kaniko"}
    return plan


class SmokeSet:
    """The smoke set as tests, for a module that defines the fixture ``pod`` (a started
    tests/pod.py Pod) and subclasses this; the promote review's builder lines differ by
    where the pod runs, so each module checks them itself."""

    def test_ray_panel(self, pod, pod_api, ray_version):
        check_cluster(pod_api, pod, ray_version)

    def test_storage_on_the_shared_volume(self, pod, pod_api):
        check_storage(pod_api, pod)

    def test_a_job_with_live_logs_runs_as_uid_1000(self, pod, pod_api):
        check_job_live_logs(pod_api, pod)
