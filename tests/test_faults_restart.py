"""The Jupyter server stopped by its PID (SIGTERM, and SIGKILL) in the middle of a build, a
context export, a shared-storage install, a chunked upload, a storage-package upload and
20 open log streams, then started again on the same root, data dir and temp dir.

After the restart nothing shows as running that nobody runs (a build says interrupted and
what to do), nothing the work wrote half is left (the next start removes it: each test
first checks it was there, then that it goes), the histories keep what was committed, and
log streams pick up where they stopped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest
from fault_server import FaultServer, wait_for
from image_parts import buildah
from promote_helpers import sample_project

pytestmark = [pytest.mark.faults]

KILLS = [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGKILL, id="sigkill")]


@pytest.fixture
def make_server(tmp_path):
    started: list[FaultServer] = []

    def make(config: dict, env: dict[str, str] | None = None) -> FaultServer:
        server = FaultServer(tmp_path / f"s{len(started)}", config, env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _leftover_temps(server: FaultServer) -> list[str]:
    return sorted(p.name for p in server.tmp.iterdir())


def _in_background(fn) -> threading.Thread:
    """A request whose connection the server's death breaks: its error is expected."""
    def run() -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - the server was killed under it
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# -- a chunked upload -----------------------------------------------------------------------

@pytest.mark.parametrize("sig", KILLS)
def test_a_chunked_upload_stopped_midway_leaves_no_part(make_server, tmp_path, sig):
    store = tmp_path / "store"
    (store / "up").mkdir(parents=True)
    server = make_server({"storage_roots": [{"name": "t", "url": str(store)}],
                          "ray_address": "http://127.0.0.1:9"})
    server.start()
    data = os.urandom(3 << 20)
    code, upload = server.api("POST", "storage/t/uploads", {"path": "up/data.bin",
                                                             "size": len(data)})
    assert code in (200, 201), upload
    first = data[:1 << 20]
    code, body = server.api("PUT", f"storage/t/uploads/{upload['upload_id']}", first,
                            **{"Content-Range": f"bytes 0-{len(first) - 1}/{len(data)}"})
    assert code == 200 and body["received"] == len(first), body
    parts = list((store / "up").iterdir())
    assert len(parts) == 1 and parts[0].name.endswith(".ray-dev-upload"), parts

    server.stop(sig)
    if sig == signal.SIGKILL:
        assert list((store / "up").iterdir()) == parts  # a kill leaves the part, for now
    server.start()
    wait_for(lambda: not any((store / "up").iterdir()), "the upload part removed")
    # the browser's next chunk learns the upload is gone and what to do
    code, body = server.api("PUT", f"storage/t/uploads/{upload['upload_id']}", data[len(first):],
                            **{"Content-Range": f"bytes {len(first)}-{len(data) - 1}/{len(data)}"})
    assert code == 404 and "start it again" in body["message"], body
    assert not (store / "up" / "data.bin").exists()


def test_a_chunked_s3_upload_killed_midway_leaves_no_multipart_upload(make_server,
                                                                      moto_server):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"up-{os.getpid()}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=bucket)
    server = make_server({"storage_roots": [{"name": "s3", "url": f"s3://{bucket}",
                                             "options": {"endpoint_url": moto_server.url}}],
                          "ray_address": "http://127.0.0.1:9"},
                         env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                              "AWS_DEFAULT_REGION": "us-east-1"})
    server.start()
    size = 20 << 20
    code, upload = server.api("POST", "storage/s3/uploads", {"path": "data.bin", "size": size})
    assert code in (200, 201), upload
    first = os.urandom(9 << 20)  # more than a part: the multipart upload starts
    code, body = server.api("PUT", f"storage/s3/uploads/{upload['upload_id']}", first,
                            **{"Content-Range": f"bytes 0-{len(first) - 1}/{size}"})
    assert code == 200 and body["received"] == len(first), body

    def pending() -> list[dict]:
        return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    assert len(pending()) == 1  # what the kill leaves, unless the next start aborts it
    server.stop(signal.SIGKILL)
    assert len(pending()) == 1
    server.start()
    wait_for(lambda: not pending(), "the killed server's multipart upload aborted")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


# -- a shared-storage install ------------------------------------------------------------------

def _pip_processes(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and b"pip" in cmdline:
            found.append(int(pid))
    return found


@pytest.mark.parametrize("sig", KILLS)
def test_an_install_stopped_midway_leaves_no_half_built_env(make_server, tmp_path, sig):
    shared = tmp_path / "shared"
    shared.mkdir()
    # a package index that accepts the connection and never answers: pip waits in its
    # download, with its half-built folder in place, until the server is stopped
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    server = make_server({"shared_roots": [str(shared)], "ray_address": "http://127.0.0.1:9"})
    (server.root / "envp").mkdir()
    server.start()
    requirement = f"slowpkg @ http://127.0.0.1:{port}/slowpkg-1.0-py3-none-any.whl"
    _in_background(lambda: server.request(
        "POST", "ray-dev/api/projects/envp/install",
        {"requirements": [requirement], "apply": False}, timeout=120).read())
    envs = shared / "envs" / "envp"
    scratch = wait_for(lambda: [p for p in envs.glob(".tmp-*") if p.is_dir()],
                       "pip's folder", 30)
    wait_for(lambda: _pip_processes(scratch[0].name), "pip running", 30)
    try:
        server.stop(sig)
        # pip does not live on after the server (it would write into a folder that goes)
        wait_for(lambda: not _pip_processes(scratch[0].name), "pip stopped with the server", 15)
        if sig == signal.SIGKILL:
            assert scratch[0].exists()
        server.start()
        wait_for(lambda: not any(envs.iterdir()), "the half-built env removed")
    finally:
        silent.close()


# -- a build, and a second build of the same project at once ------------------------------------

def _containers(store: dict[str, str]) -> set[str]:
    return set(buildah(store, "containers", "--all", "--quiet", "--notruncate").split())


def _ray_config(ray_head) -> dict[str, str]:
    return {"ray_address": ray_head.dashboard_url}


@pytest.mark.ray
@pytest.mark.parametrize("sig", KILLS)
def test_a_build_stopped_midway_says_interrupted_and_leaves_nothing(
        make_server, ray_head, buildah_store, base_image, sig):
    server = make_server({
        **_ray_config(ray_head), "promote_builder": "buildah",
        "promote_buildah_root": buildah_store["root"],
        "promote_buildah_runroot": buildah_store["runroot"],
        "promote_buildah_storage_driver": "vfs"}, env=ray_head.client_env())
    sample_project(server.root, pip=["tqdm"])
    server.start()
    body = {"entrypoint": "proj/train.ipynb", "base_image": base_image, "push": False}
    # committed before the fault: a context export's record
    with server.request("POST", "ray-dev/api/projects/proj/promote/context", body,
                        timeout=120) as reply:
        exported = reply.headers["X-Ray-Dev-Promotion"]
        reply.read()
    before = _containers(buildah_store)

    # two builds of one project at once: one starts, the other is refused naming it
    results: list[tuple[int, dict]] = []
    threads = [threading.Thread(target=lambda: results.append(
        server.api("POST", "projects/proj/promote/build", body))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = sorted(code for code, _ in results)
    assert codes[1] == 409 and codes[0] < 300, results
    started = next(b for c, b in results if c < 300)
    refused = next(b for c, b in results if c == 409)
    assert refused["promotion_id"] == started["id"] and "is building" in refused["message"]

    def log() -> str:
        return server.api("GET", f"promotions/{started['id']}")[1].get("log") or ""

    wait_for(lambda: "STEP 2/" in log(), "the build past its first step", 120)
    temps = _leftover_temps(server)
    assert any(p.startswith("ray-dev-context-") for p in temps)
    # buildah's own scratch is inside the folder the server gave it as TMPDIR
    assert any(p.startswith("ray-dev-tool-") for p in temps)
    assert all(p.startswith("ray-dev-") for p in temps), temps
    server.stop(sig)
    if sig == signal.SIGKILL:
        assert _containers(buildah_store) - before, "a killed build leaves its container"
    server.start()

    code, history = server.api("GET", "promotions?project=proj")
    assert code == 200
    by_id = {p["id"]: p for p in history["promotions"]}
    assert by_id[exported]["status"] == "exported"  # nothing committed is lost
    build = by_id[started["id"]]
    assert build["status"] == "interrupted", build
    assert "Build again" in build["error"]
    code, again = server.api("GET", f"promotions/{started['id']}")
    assert "Build again" in again["log"].splitlines()[-1]
    # the next start removed the build's context folder and working container
    wait_for(lambda: not _leftover_temps(server), "the build's temp folders removed")
    wait_for(lambda: _containers(buildah_store) <= before, "the build's container removed")


# -- a context export -------------------------------------------------------------------------

@pytest.mark.ray
def test_a_context_export_killed_midway_leaves_no_scratch(make_server, ray_head):
    server = make_server(_ray_config(ray_head), env=ray_head.client_env())
    project = sample_project(server.root)
    # more than the socket's buffers hold: the export waits for the browser to read it
    (project / "data" / "big.bin").write_bytes(os.urandom(12 << 20))
    server.start()

    def export() -> None:
        with server.request("POST", "ray-dev/api/projects/proj/promote/context",
                            {"entrypoint": "proj/train.ipynb"}, timeout=120) as reply:
            time.sleep(60)  # a slow browser: the download is not read
            reply.read()

    _in_background(export)
    wait_for(lambda: any(p.startswith("ray-dev-export-") for p in _leftover_temps(server)),
             "the export's scratch folder", 60)
    server.stop(signal.SIGKILL)
    assert _leftover_temps(server)
    server.start()
    wait_for(lambda: not _leftover_temps(server), "the export's scratch folder removed")
    code, history = server.api("GET", "promotions?project=proj")
    assert code == 200
    assert all(p["status"] == "exported" for p in history["promotions"]), history


# -- a storage-package upload -----------------------------------------------------------------

@pytest.mark.ray
def test_a_package_upload_killed_midway_leaves_no_torn_object(make_server, ray_head,
                                                             moto_server):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"pkg-{os.getpid()}-{time.monotonic_ns()}"
    s3.create_bucket(Bucket=bucket)
    env = {**ray_head.client_env(), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    server = make_server({**_ray_config(ray_head), "storage_roots": [{
        "name": "s3", "url": f"s3://{bucket}", "options": {"endpoint_url": moto_server.url}}]},
        env=env)
    project = sample_project(server.root)
    (project / "data" / "big.bin").write_bytes(os.urandom(16 << 20))  # a multipart upload
    server.start()
    _in_background(lambda: server.request(
        "POST", "ray-dev/api/projects/proj/promote/package",
        {"entrypoint": "proj/train.ipynb", "storage_root": "s3"}, timeout=120).read())

    def listed() -> list[dict]:
        return s3.list_objects_v2(Bucket=bucket).get("Contents", [])

    def pending() -> list[dict]:
        return s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])

    wait_for(lambda: pending() or listed(), "the package upload under way", 60)
    server.stop(signal.SIGKILL)
    if not listed():  # killed mid-upload (not after it): the part it sent stays, for now
        assert pending()
    server.start()
    # the next start aborts the multipart upload the killed server started
    wait_for(lambda: not pending(), "the killed server's multipart upload aborted")
    # what is in the bucket is a whole zip or nothing: a reader never sees half of one
    for obj in (o for o in listed() if o["Key"].endswith(".zip")):
        local = server.workdir / "got.zip"
        s3.download_file(bucket, obj["Key"], str(local))
        with zipfile.ZipFile(local) as zf:
            assert zf.testzip() is None
    code, history = server.api("GET", "promotions?project=proj")
    assert code == 200
    assert all(p["status"] == "uploaded" for p in history["promotions"]), history


# -- 20 open log streams ----------------------------------------------------------------------

async def _follow(server: FaultServer, job_id: str, start: int, lines: list[str],
                  stop_after: int | None = None) -> bool:
    """Follow a job's log from line ``start``: True when it reached ``end``."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(HTTPRequest(
        f"ws://127.0.0.1:{server.port}/ray-dev/api/jobs/{job_id}/logs/stream?from={start}",
        headers={"Authorization": f"token {server.token}"}))
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), 120)  # only a hang guard
            if raw is None:
                return False
            message = json.loads(raw)
            if message["type"] == "end":
                return True
            if message["type"] == "lines":
                assert message["n"] == len(lines), "every line once, in order"
                lines.extend(message["lines"])
                if stop_after is not None and len(lines) >= stop_after:
                    return False
    finally:
        ws.close()


@pytest.mark.ray
def test_twenty_log_streams_resume_after_a_restart_with_every_line_once(make_server, ray_head):
    server = make_server(_ray_config(ray_head), env=ray_head.client_env())
    (server.root / "printer.py").write_text(
        "import time\n"
        "for i in range(60):\n"
        "    print(f'LINE {i}', flush=True)\n"
        "    time.sleep(0.05)\n")
    server.start()
    code, job = server.api("POST", "jobs", {"file": "printer.py"})
    assert code == 201, job
    job_id = job["submission_id"]
    seen: list[list[str]] = [[] for _ in range(20)]

    async def scenario() -> list[bool]:
        open_ = [asyncio.create_task(_follow(server, job_id, 0, seen[i])) for i in range(20)]
        while not all(len([ln for ln in s if ln.startswith("LINE ")]) >= 3 for s in seen):
            await asyncio.sleep(0.1)
        await asyncio.to_thread(server.stop, signal.SIGKILL)  # with all 20 streams open
        ended = await asyncio.gather(*open_, return_exceptions=True)
        assert not any(e is True for e in ended), "no stream had ended before the kill"
        await asyncio.to_thread(server.start)
        code, found = await asyncio.to_thread(server.api, "GET", f"jobs/{job_id}")
        assert code == 200, found  # the job history kept it
        # each browser tab reconnects from the first line it has not shown
        return await asyncio.gather(*(_follow(server, job_id, len(seen[i]), seen[i])
                                      for i in range(20)))

    assert all(asyncio.run(scenario()))
    expected = [f"LINE {i}" for i in range(60)]
    for lines in seen:
        assert [ln for ln in lines if ln.startswith("LINE ")] == expected
