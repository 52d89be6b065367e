"""Storage endpoints that fail under the server: real moto and GCS emulator processes stopped
mid-listing, mid-download and mid-upload, and a local root that fills up or becomes
unreadable. Each: a clear status naming what failed, nothing partial at the target, and the
same requests working again once the part is back, without restarting the server.

"Stopped" is done two ways, both to processes these tests start (stopped by PID):
SIGSTOP/SIGCONT (the endpoint hangs, as a frozen or partitioned server does; its data is kept,
so what was or was not written can be checked afterwards) and SIGKILL then a new process on
the same port (connections refused at once; the data is gone with it).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_ray_dev.cluster.local_head import free_port
from storage_fixtures import BIN, BUCKET, Api, gcs_options, s3_options, serving

pytestmark = pytest.mark.faults

TIMEOUT = 2.0  # c.RayDev.storage_timeout here: how long a hung endpoint is waited for
MiB = 1 << 20


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # no Ray: storage needs none


def moto_cmd(port: int) -> list[str]:
    return [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]


def gcs_cmd(port: int) -> list[str]:
    return [str(BIN / "gcp-storage-emulator"), "start", "--host=127.0.0.1", f"--port={port}",
            "--in-memory"]


READY = {"s3": "/moto-api/", "gs": "/storage/v1/b?project=test"}


class Endpoint:
    """A private storage server (this module's only), its direct client and our root on it."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp, self.port = kind, tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = (moto_cmd if kind == "s3" else gcs_cmd)(self.port)
        self._serving = None
        self.start()

    def start(self) -> None:
        self._serving = serving(self.kind, self.cmd, self.port,
                                self.tmp / f"{self.kind}-{time.monotonic_ns()}.log",
                                READY[self.kind])
        self.server = self._serving.__enter__()
        self.fs = self._client()
        self.fs.mkdir(BUCKET)

    def _client(self):
        if self.kind == "s3":
            import s3fs

            return s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                                     **s3_options(self.url))
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(skip_instance_cache=True, use_listings_cache=False,
                             **gcs_options(self.url))

    @property
    def options(self) -> dict:
        return (s3_options if self.kind == "s3" else gcs_options)(self.url)

    def freeze(self) -> None:
        os.kill(self.server.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.server.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(10)
        self._serving.__exit__(None, None, None)

    def stop(self) -> None:
        self.thaw()
        self._serving.__exit__(None, None, None)

    def exists(self, key: str) -> bool:
        self.fs.invalidate_cache()
        return self.fs.exists(f"{BUCKET}/{key}")

    def pending_uploads(self) -> list:
        if self.kind != "s3":
            return []  # a GCS resumable session is not listable; it expires by itself
        return self.fs.call_s3("list_multipart_uploads", Bucket=BUCKET).get("Uploads", [])


@pytest.fixture(params=["s3", "gs"])
def endpoint(request, tmp_path):
    if request.param == "gs":
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    ep = Endpoint(request.param, tmp_path)
    yield ep
    ep.stop()


@pytest.fixture
def ray_dev_config(endpoint):
    return {"storage_timeout": TIMEOUT, "storage_roots": [
        {"name": "t", "url": f"{endpoint.kind}://{BUCKET}/root", "options": endpoint.options}]}


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_base_url, jp_auth_header) -> Api:
    return Api(http_server_client, jp_base_url, jp_auth_header)


def unreachable(reply, endpoint: Endpoint) -> None:
    assert reply.code == 503, reply
    body = reply.json
    assert body["reason"] == "storage_unreachable"
    assert body["endpoint"] == endpoint.url and f"127.0.0.1:{endpoint.port}" in body["message"]


async def listing(api: Api) -> list[str]:
    names, token = [], None
    while True:
        reply = await api.get("t", "list", params={"path": "many", "limit": 10,
                                                   **({"cursor": token} if token else {})})
        assert reply.code == 200, reply
        names += [e["name"] for e in reply.json["entries"]]
        if not (token := reply.json["next_cursor"]):
            return names


async def test_endpoint_frozen_mid_listing_download_and_upload(api, endpoint, jp_base_url,
                                                               jp_auth_header):
    for i in range(25):
        endpoint.fs.pipe_file(f"{BUCKET}/root/many/f{i:02d}.txt", b"x")
    big = secrets.token_bytes(20 * MiB)
    endpoint.fs.pipe_file(f"{BUCKET}/root/big.bin", big)
    names = sorted(f"f{i:02d}.txt" for i in range(25))

    # mid-listing: the first page came, the endpoint hangs for the next
    first = await api.get("t", "list", params={"path": "many", "limit": 10})
    assert first.code == 200 and first.json["next_cursor"]
    endpoint.freeze()
    unreachable(await api.get("t", "list", params={"path": "many", "limit": 10,
                                                   "cursor": first.json["next_cursor"]}), endpoint)
    endpoint.thaw()
    assert sorted(await listing(api)) == names

    # mid-download: the client gets a broken transfer, never a short file passed as whole
    received = bytearray()

    def on_chunk(data: bytes) -> None:
        if not received:
            endpoint.freeze()  # the first bytes are here: the endpoint hangs for the rest
        received.extend(data)

    url = f"{api.base_url.rstrip('/')}/ray-dev/api/storage/t/download?path=big.bin"
    with pytest.raises(HTTPClientError) as err:
        await api.client.fetch(url, headers=jp_auth_header, streaming_callback=on_chunk,
                               request_timeout=60)
    assert err.value.code == 599 and 0 < len(received) < len(big)
    endpoint.thaw()
    again = await api.get("t", "download", params={"path": "big.bin"})
    assert again.code == 200 and again.raw == big

    # mid-upload: a part went up, the endpoint hangs for the next: 503, nothing at the target
    data = secrets.token_bytes(12 * MiB)
    started = await api.post("t", "uploads", {"path": "up.bin", "size": len(data)})
    upload = started.json["upload_id"]
    half = 6 * MiB  # each chunk its own S3 part (at least 5 MiB)

    async def chunk(start: int, end: int):
        return await api.request("PUT", "t", f"uploads/{upload}", data=data[start:end],
                                 headers={"Content-Range": f"bytes {start}-{end - 1}/{len(data)}"})

    assert (await chunk(0, half)).code == 200
    endpoint.freeze()
    unreachable(await chunk(half, len(data)), endpoint)
    endpoint.thaw()
    assert not endpoint.exists("root/up.bin")
    # the failed upload is over: the client starts it again, which also cleans up what the
    # failed one left on the store (an S3 multipart upload, invisible but billed)
    assert (await api.post("t", f"uploads/{upload}/commit")).code == 404
    assert (await api.upload("t", "up.bin", data, chunk=half)).code in (200, 201)
    assert endpoint.fs.cat_file(f"{BUCKET}/root/up.bin") == data
    await settled(lambda: endpoint.pending_uploads() == [])


async def settled(check, guard: float = 30) -> None:
    """Wait for ``check()``: the hung call's thread cleans up once it returns. The guard only
    stops a hung test."""
    deadline = time.monotonic() + guard
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "never settled"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("endpoint", ["s3"], indirect=True)
async def test_endpoint_killed_then_back_on_its_port(api, endpoint):
    endpoint.fs.pipe_file(f"{BUCKET}/root/many/a.txt", b"a")
    endpoint.kill()
    unreachable(await api.get("t", "list", params={"path": "many"}), endpoint)
    unreachable(await api.post("t", "uploads", {"path": "x.bin", "size": 3}), endpoint)
    endpoint.start()  # a new moto on the same port (empty: moto keeps nothing)
    endpoint.fs.pipe_file(f"{BUCKET}/root/many/b.txt", b"b")
    assert await listing(api) == ["b.txt"]
    assert (await api.upload("t", "x.bin", b"abc")).code in (200, 201)


# --- a local (NFS) root that fills up or becomes unreadable --------------------------------


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs, mounted here for this test (root can mount on this machine)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


class TestFullRoot:
    @pytest.fixture
    def ray_dev_config(self, small_fs):
        return {"storage_roots": [{"name": "t", "url": str(small_fs)}],
                "shared_roots": [str(small_fs)]}

    async def test_upload_that_does_not_fit_is_a_507_leaving_nothing(self, api, small_fs):
        (small_fs / "keep.txt").write_text("kept")
        data = secrets.token_bytes(6 * MiB)
        reply = await api.upload("t", "big.bin", data, chunk=MiB)
        assert reply.code == 507, reply
        assert reply.json["reason"] == "storage_full" and "big.bin" in reply.json["message"]
        assert sorted(p.name for p in small_fs.iterdir()) == ["keep.txt"]  # no temp left
        # the failed upload's temp is gone, so an upload that fits goes through
        assert (await api.upload("t", "fits.bin", data[:MiB], chunk=MiB)).code in (200, 201)
        assert (small_fs / "fits.bin").read_bytes() == data[:MiB]

    async def test_install_that_does_not_fit_is_a_507_leaving_nothing(self, jp_fetch, small_fs,
                                                                       jp_root_dir, tmp_path):
        from test_runtime_env_api import EnvAPI
        from wheel_files import write_wheel

        # 6 MiB of module once installed, on a 4 MiB shared folder
        wheel = write_wheel(tmp_path, "bulky", "1.0",
                            f"DATA = {secrets.token_hex(3 * MiB)!r}\n")
        (jp_root_dir / "proj").mkdir()
        code, events = await EnvAPI(jp_fetch).install("proj", requirements=[str(wheel)],
                                                      apply=False)
        assert code == 200
        last = events[-1]
        assert (last["type"], last["code"], last["reason"]) == ("error", 507, "storage_full")
        assert str(small_fs) in last["message"] and "Nothing was installed" in last["message"]
        # no half-built env folder, no temp folder, no requirements file
        assert [p for p in (small_fs / "envs" / "proj").iterdir()] == []


class ServerWithoutDacOverride:
    """A Jupyter server with the extension as a child process, run as root but without the
    capabilities that let root ignore file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
    CAP_FOWNER), so a folder's mode bits apply to it as they do to uid 1000 on an NFS root.
    These tests run as root, for whom a chmod denies nothing; dropping the capabilities from
    the bounding set (setpriv, util-linux) is the same check the kernel makes for any user,
    without the uid-1000 Python environment the deploy tier needs."""

    def __init__(self, tmp: Path, roots: list[dict]) -> None:
        self.port, self.token = free_port(), secrets.token_hex(8)
        config = tmp / "server_config.json"
        config.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
            "jupyter_ray_dev": True}}, "RayDev": {"storage_roots": roots}}))
        (tmp / "jupyter-root").mkdir()
        self.proc = subprocess.Popen(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--",
             sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={self.port}", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={tmp / 'jupyter-root'}", f"--config={config}",
             f"--RayDev.ray_address=http://127.0.0.1:{free_port()}"],
            stdout=(tmp / "server.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.call("GET", "/api/status")
                return
            except OSError:
                assert self.proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)

    def call(self, method: str, path: str, body: bytes | dict | None = None,
             headers: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        if data is None and method in ("POST", "PUT"):
            data = b"{}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json" if isinstance(body, dict)
                     else "application/octet-stream", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def test_root_made_unreadable_during_an_upload(tmp_path):
    nfs = tmp_path / "nfs"
    (nfs / "data").mkdir(parents=True)
    (nfs / "data" / "a.txt").write_text("a")
    server = ServerWithoutDacOverride(tmp_path, [{"name": "t", "url": str(nfs)}])
    base = "/ray-dev/api/storage/t"
    try:
        code, body = server.call("GET", f"{base}/list?path=data")
        assert code == 200 and [e["name"] for e in body["entries"]] == ["a.txt"]
        data = secrets.token_bytes(2 * MiB)
        code, started = server.call("POST", f"{base}/uploads",
                                    {"path": "data/up.bin", "size": len(data)})
        assert code == 201, started
        upload = f"{base}/uploads/{started['upload_id']}"
        code, body = server.call("PUT", upload, data[:MiB],
                                 {"Content-Range": f"bytes 0-{MiB - 1}/{len(data)}"})
        assert code == 200, body

        (nfs / "data").chmod(0)  # an administrator changes the share's permissions
        try:
            server.call("PUT", upload, data[MiB:],
                        {"Content-Range": f"bytes {MiB}-{len(data) - 1}/{len(data)}"})
            code, body = server.call("POST", f"{upload}/commit")
            assert (code, body["reason"]) == (403, "storage_permission_denied"), body
            assert "data/up.bin" in body["message"]
            code, body = server.call("GET", f"{base}/list?path=data")
            assert (code, body["reason"]) == (403, "storage_permission_denied"), body
        finally:
            (nfs / "data").chmod(0o755)

        # readable again: the next upload goes through, and the failed one's temp is gone
        code, started = server.call("POST", f"{base}/uploads", {"path": "data/b.bin", "size": 1})
        assert code == 201, started
        assert [p.name for p in (nfs / "data").iterdir() if "up.bin" in p.name] == []
        assert server.call("DELETE", f"{base}/uploads/{started['upload_id']}")[0] in (200, 204)
        assert sorted(p.name for p in (nfs / "data").iterdir()) == ["a.txt"]
    finally:
        server.stop()
