"""Real storage servers for the storage tests: moto_server (S3) and gcp-storage-emulator (GCS).

Each starts once per session on a free loopback port and is stopped by its PID.
``store`` gives every test a fresh, empty root on one backend (local folder, S3
prefix, GCS prefix) and a direct client (not our API) to seed and inspect it.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from servers import serving

from jupyter_ray_dev.cluster.local_head import free_port

BIN = Path(sys.executable).parent
BUCKET = "raydev-tests"
# moto accepts any credentials: these stand for real ones, and must never come back
S3_KEY = "AKIAEXAMPLESECRET0001"
S3_SECRET = "s3cr3t-value-that-must-never-be-returned"
BACKENDS = ["local", "s3", "gs"]
_counter = itertools.count()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    port = free_port()
    with serving("moto_server", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                 port, tmp_path_factory.mktemp("moto") / "moto.log", "/moto-api/") as server:
        yield server


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory):
    port = free_port()
    with serving("gcp-storage-emulator",
                 [str(BIN / "gcp-storage-emulator"), "start", "--host=127.0.0.1",
                  f"--port={port}", "--in-memory"],
                 port, tmp_path_factory.mktemp("gcs") / "gcs.log",
                 "/storage/v1/b?project=test") as server:
        yield server


def s3_options(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "key": S3_KEY, "secret": S3_SECRET}


def gcs_options(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "token": "anon", "project": "test"}


class Store:
    """A root for one test, and a direct client to seed and inspect it."""

    def __init__(self, kind: str, url: str, options: dict[str, Any], fs: Any, base: str) -> None:
        self.kind, self.url, self.options, self.fs, self.base = kind, url, options, fs, base

    def root(self, name: str = "t", **extra: Any) -> dict[str, Any]:
        root = {"name": name, "url": self.url, **extra}
        if self.options:
            root["options"] = dict(self.options)
        return root

    def full(self, path: str) -> str:
        return f"{self.base}/{path}" if path else self.base

    def put(self, path: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if self.kind == "local":
            target = Path(self.full(path))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            self.fs.pipe_file(self.full(path), data)

    def mkdir(self, path: str) -> None:
        if self.kind == "local":
            Path(self.full(path)).mkdir(parents=True, exist_ok=True)
        else:
            self.fs.pipe_file(self.full(path) + "/", b"")

    def read(self, path: str) -> bytes:
        if self.kind == "local":
            return Path(self.full(path)).read_bytes()
        return self.fs.cat_file(self.full(path))

    def exists(self, path: str) -> bool:
        if self.kind == "local":
            return os.path.lexists(self.full(path))
        self.fs.invalidate_cache()
        return self.fs.exists(self.full(path))

    def everything(self) -> list[str]:
        """Every file and object under the root (hidden temp files included)."""
        if self.kind == "local":
            return sorted(str(p.relative_to(self.base)) for p in Path(self.base).rglob("*"))
        self.fs.invalidate_cache()
        return sorted(k[len(self.base) + 1:] for k in self.fs.find(self.base, withdirs=True))

    def pending_uploads(self) -> list[Any]:
        """S3 multipart uploads not completed nor aborted (invisible, but billed)."""
        if self.kind != "s3":
            return []
        bucket, _, prefix = self.base.partition("/")
        out = self.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
        return out.get("Uploads", [])


@pytest.fixture(scope="session")
def s3_client(moto_server):
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False,
                           **s3_options(moto_server.url))
    fs.mkdir(BUCKET)
    return fs


@pytest.fixture(scope="session")
def gcs_client(gcs_emulator):
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(skip_instance_cache=True, use_listings_cache=False,
                       **gcs_options(gcs_emulator.url))
    fs.mkdir(BUCKET)
    return fs


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if kind == "local":
        base = tmp_path / "root"
        base.mkdir()
        return Store("local", str(base), {}, None, str(base))
    prefix = f"t{next(_counter)}-{os.getpid()}"
    if kind == "s3":
        server = request.getfixturevalue("moto_server")
        fs = request.getfixturevalue("s3_client")
        return Store("s3", f"s3://{BUCKET}/{prefix}", s3_options(server.url), fs,
                     f"{BUCKET}/{prefix}")
    server = request.getfixturevalue("gcs_emulator")
    fs = request.getfixturevalue("gcs_client")
    return Store("gs", f"gs://{BUCKET}/{prefix}", gcs_options(server.url), fs,
                 f"{BUCKET}/{prefix}")


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path) -> Store:
    return make_store(request.param, request, tmp_path)


class Reply:
    def __init__(self, response: Any) -> None:
        self.code = response.code
        self.headers = response.headers
        self.raw = response.body or b""

    @property
    def json(self) -> Any:
        import json

        return json.loads(self.raw)

    def __repr__(self) -> str:
        return f"<Reply {self.code} {self.raw[:300]!r}>"


class Api:
    """The storage REST API as a client sees it (token auth, never raises on 4xx/5xx)."""

    def __init__(self, client: Any, base_url: str, auth: dict[str, str]) -> None:
        self.client, self.base_url, self.auth = client, base_url, auth

    async def request(self, method: str, root: str | None, op: str, *, params: Any = None,
                      query: str | None = None, json_body: Any = None, data: bytes | None = None,
                      headers: dict[str, str] | None = None) -> Reply:
        import json
        import urllib.parse

        path = "ray-dev/api/storage/" + (f"{urllib.parse.quote(root, safe='')}/" if root
                                         else "") + op
        url = f"{self.base_url.rstrip('/')}/{path}"  # the client adds scheme, host, port
        if query is not None:  # sent exactly as given: for hostile, hand-encoded queries
            url += "?" + query
        elif params:
            url += "?" + urllib.parse.urlencode(params)
        body = data if data is not None else (json.dumps(json_body).encode()
                                              if json_body is not None else None)
        if body is None and method in ("POST", "PUT"):
            body = b""
        response = await self.client.fetch(
            url, method=method, body=body, headers={**self.auth, **(headers or {})},
            raise_error=False, request_timeout=60, allow_nonstandard_methods=True)
        return Reply(response)

    async def get(self, root: str | None, op: str, **kwargs: Any) -> Reply:
        return await self.request("GET", root, op, **kwargs)

    async def post(self, root: str, op: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.request("POST", root, op, json_body=body if body is not None else {},
                                  **kwargs)

    async def upload(self, root: str, path: str, data: bytes, chunk: int = 7,
                     overwrite: bool = False) -> Reply:
        started = await self.post(root, "uploads", {"path": path, "size": len(data),
                                                    "overwrite": overwrite})
        if started.code != 201:
            return started
        upload_id = started.json["upload_id"]
        for start in range(0, len(data), chunk):
            part = data[start:start + chunk]
            reply = await self.request(
                "PUT", root, f"uploads/{upload_id}", data=part,
                headers={"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"})
            if reply.code != 200:
                return reply
        return await self.post(root, f"uploads/{upload_id}/commit")


@pytest.fixture
def api(jp_serverapp, http_server_client, jp_base_url, jp_auth_header) -> Api:
    return Api(http_server_client, jp_base_url, jp_auth_header)
