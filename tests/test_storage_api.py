"""The storage REST API end to end, the same cases on every backend.

Real parts: a local folder, S3 on ``moto_server`` and GCS on ``gcp-storage-emulator``
(both on loopback, see storage_fixtures.py). No Ray is needed: the cluster
address points at a closed port.
"""

from __future__ import annotations

import io
import json
import os

import pytest

from apischema import validate_response
from jupyter_ray_dev.cluster.local_head import free_port
from storage_fixtures import BUCKET, S3_KEY, S3_SECRET, gcs_options, s3_options


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def ray_dev_config(store):
    return {"storage_roots": [store.root("t"), store.root("ro", read_only=True)],
            "storage_timeout": 20.0}


def no_secret(reply) -> None:
    blob = reply.raw + repr(sorted(reply.headers.get_all())).encode()
    assert S3_SECRET.encode() not in blob and S3_KEY.encode() not in blob


async def test_roots_are_listed_without_option_values(api, store):
    reply = await api.get(None, "roots")
    assert reply.code == 200
    validate_response(reply.json, "StorageRoots")
    roots = {r["name"]: r for r in reply.json["roots"]}
    assert set(roots) == {"t", "ro"}
    assert roots["t"]["url"] == store.url and roots["t"]["protocol"] == store.kind.replace(
        "local", "file")
    assert roots["ro"]["read_only"] is True and roots["t"]["read_only"] is False
    assert roots["t"]["option_names"] == sorted(store.options)
    no_secret(reply)


async def test_pages_cover_the_folder_exactly_once(api, store):
    for i in range(23):
        store.put(f"f{i:02d}.txt", b"x" * i)
    for d in range(3):
        store.put(f"d{d}/inside.txt", b"in")
    expected = {f"f{i:02d}.txt" for i in range(23)} | {"d0", "d1", "d2"}

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"path": "", "limit": 5, **({"cursor": cursor} if cursor else {})}
        reply = await api.get("t", "list", params=params)
        assert reply.code == 200, reply
        body = reply.json
        validate_response(body, "StorageListing")
        assert len(body["entries"]) <= 5
        assert ("ray" in body) == (cursor is None)  # the folder's Ray kind: first page only
        for entry in body["entries"]:
            seen.append(entry["name"])
            if entry["name"].startswith("f"):
                assert entry["kind"] == "file"
                assert entry["size"] == int(entry["name"][1:3])
            else:
                assert entry["kind"] == "directory" and entry["size"] is None
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected) and len(seen) == len(expected)
    assert pages >= 6


async def test_listing_errors_are_clear(api, store):
    store.put("a/file.txt", b"1")
    store.put("b/file.txt", b"2")
    reply = await api.get("nope", "list")
    assert (reply.code, reply.json["reason"]) == (404, "storage_root_not_found")
    assert "t" in reply.json["message"]  # names the roots that exist
    reply = await api.get("t", "list", params={"path": "missing"})
    assert (reply.code, reply.json["reason"]) == (404, "storage_not_found")
    reply = await api.get("t", "list", params={"path": "a/file.txt"})
    assert (reply.code, reply.json["reason"]) == (400, "not_a_directory")
    reply = await api.get("t", "list", params={"limit": 0})
    assert (reply.code, reply.json["field"]) == (400, "limit")
    first = await api.get("t", "list", params={"path": "", "limit": 1})
    foreign = await api.get("t", "list", params={"path": "b", "cursor": first.json["next_cursor"]})
    assert (foreign.code, foreign.json["field"]) == (400, "cursor")
    reply = await api.get("t", "list", params={"cursor": "not-a-cursor!"})
    assert reply.code == 400


async def test_stat(api, store):
    store.put("dir/data.txt", b"12345")
    reply = await api.get("t", "stat", params={"path": "dir/data.txt"})
    assert reply.code == 200
    validate_response(reply.json, "StorageItem")
    assert (reply.json["kind"], reply.json["size"], reply.json["name"]) == ("file", 5, "data.txt")
    assert reply.json["uri"].endswith("dir/data.txt")
    if store.kind != "local":
        assert reply.json["uri"] == f"{store.url}/dir/data.txt"
    folder = await api.get("t", "stat", params={"path": "dir"})
    assert folder.json["kind"] == "directory" and folder.json["ray"] is None
    root = await api.get("t", "stat")
    assert root.code == 200 and root.json["kind"] == "directory"
    missing = await api.get("t", "stat", params={"path": "dir/nope"})
    assert (missing.code, missing.json["reason"]) == (404, "storage_not_found")


def _parquet_bytes() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"step": list(range(50)), "loss": [1 / (i + 1) for i in range(50)],
                      "tag": [f"run-{i}" for i in range(50)]})
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=10)
    return buf.getvalue()


# 1x1 transparent PNG
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")

NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Training run\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "print(6 * 7)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}]},
    ],
}


async def test_previews_by_type(api, store):
    lines = "".join(f"line {i}\n" for i in range(40000))
    files = {
        "small.txt": b"hello\n",
        "big.log": lines.encode(),
        "data.json": json.dumps({"b": [1, 2], "a": {"x": 1}}).encode(),
        "table.csv": b"a,b\n1,x\n2,y\n",
        "t.parquet": _parquet_bytes(),
        "img.png": PNG,
        "nb.ipynb": json.dumps(NOTEBOOK).encode(),
        "blob.bin": bytes(range(256)) * 10,
    }
    for name, data in files.items():
        store.put(f"p/{name}", data)

    async def preview(name, **params):
        reply = await api.get("t", "preview", params={"path": f"p/{name}", **params})
        assert reply.code == 200, reply
        validate_response(reply.json, "StoragePreview")
        return reply.json

    small = await preview("small.txt")
    assert (small["type"], small["text"], small["truncated"]) == ("text", "hello\n", False)

    big = await preview("big.log", max_bytes=4096)
    assert big["type"] == "text" and big["truncated"] is True
    assert big["text"].startswith("line 0\n") and len(big["text"].encode()) <= 4096
    assert big["tail"].endswith("line 39999\n") and len(big["tail"].encode()) <= 1024

    data = await preview("data.json")
    assert data["type"] == "json" and json.loads(data["text"]) == {"b": [1, 2], "a": {"x": 1}}
    assert "\n  " in data["text"]  # pretty

    table = await preview("table.csv")
    assert table["columns"] == [{"name": "a", "type": "int64"}, {"name": "b", "type": "string"}]
    assert table["rows"] == [[1, "x"], [2, "y"]]

    pq = await preview("t.parquet")
    assert [c["name"] for c in pq["columns"]] == ["step", "loss", "tag"]
    assert pq["num_rows"] == 50 and pq["rows"][0] == [0, 1.0, "run-0"] and len(pq["rows"]) == 20

    img = await preview("img.png")
    assert img["data_url"].startswith("data:image/png;base64,")

    nb = await preview("nb.ipynb")
    assert nb["type"] == "notebook" and nb["cells"] == 2
    assert "# Training run" in nb["text"] and "print(6 * 7)" in nb["text"] and "42" in nb["text"]

    blob = await preview("blob.bin")
    assert blob["type"] == "binary" and "text" not in blob

    folder = await api.get("t", "preview", params={"path": "p"})
    assert (folder.code, folder.json["reason"]) == (400, "is_a_directory")


async def test_download_streams_and_honours_ranges(api, store):
    data = os.urandom((2 << 20) + 12345)  # several chunks on the local backend
    store.put("d/blob.bin", data)
    store.put("d/page.html", b"<script>alert(1)</script>")

    full = await api.get("t", "download", params={"path": "d/blob.bin"})
    assert full.code == 200 and full.raw == data
    assert full.headers["Content-Length"] == str(len(data))
    assert full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["Content-Disposition"].startswith("attachment;")

    part = await api.get("t", "download", params={"path": "d/blob.bin"},
                         headers={"Range": "bytes=100-199"})
    assert part.code == 206 and part.raw == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"

    suffix = await api.get("t", "download", params={"path": "d/blob.bin"},
                           headers={"Range": "bytes=-10"})
    assert suffix.code == 206 and suffix.raw == data[-10:]

    outside = await api.get("t", "download", params={"path": "d/blob.bin"},
                            headers={"Range": f"bytes={len(data)}-"})
    assert outside.code == 416 and outside.headers["Content-Range"] == f"bytes */{len(data)}"

    html = await api.get("t", "download", params={"path": "d/page.html"})
    assert html.headers["Content-Type"] == "application/octet-stream"  # never rendered
    assert html.headers["X-Content-Type-Options"] == "nosniff"

    folder = await api.get("t", "download", params={"path": "d"})
    assert folder.code == 400


async def test_chunked_upload_appears_only_on_commit(api, store):
    assert (await api.post("t", "mkdir", {"path": "up"})).code == 201
    data = b"0123456789abcdefghij"
    start = await api.post("t", "uploads", {"path": "up/data.bin", "size": len(data)})
    assert start.code == 201, start
    validate_response(start.json, "StorageUpload")
    uid = start.json["upload_id"]

    def put(begin, chunk):
        return api.request("PUT", "t", f"uploads/{uid}", data=chunk, headers={
            "Content-Range": f"bytes {begin}-{begin + len(chunk) - 1}/{len(data)}"})

    first = await put(0, data[:8])
    assert first.code == 200 and first.json["received"] == 8
    # nothing visible yet, through the API or directly
    assert not store.exists("up/data.bin")
    listing = await api.get("t", "list", params={"path": "up"})
    assert listing.json["entries"] == []
    # out of order: 409 saying where to resume
    gap = await put(12, data[12:])
    assert gap.code == 409 and gap.json["received"] == 8
    # a retried chunk (its answer was lost) is accepted as already there
    again = await put(0, data[:8])
    assert again.code == 200 and again.json["received"] == 8
    early = await api.post("t", f"uploads/{uid}/commit")
    assert early.code == 409
    assert (await put(8, data[8:])).json["received"] == len(data)
    done = await api.post("t", f"uploads/{uid}/commit")
    assert done.code == 201, done
    validate_response(done.json, "StorageItem")
    assert done.json["size"] == len(data) and done.json["path"] == "up/data.bin"
    assert store.read("up/data.bin") == data
    assert [p for p in store.everything() if "ray-dev-upload" in p] == []
    assert store.pending_uploads() == []
    # the session is over
    assert (await put(0, data[:1])).code == 404


async def test_large_upload_in_chunks_round_trips(api, store):
    """Bigger than one S3 part / GCS chunk: multipart and resumable uploads really commit."""
    data = os.urandom((17 << 20) + 4321)
    reply = await api.upload("t", "large.bin", data, chunk=4 << 20)
    assert reply.code == 201, reply
    assert reply.json["size"] == len(data)
    assert store.read("large.bin") == data
    assert store.pending_uploads() == []
    back = await api.get("t", "download", params={"path": "large.bin"})
    assert back.raw == data


async def test_interrupted_uploads_leave_nothing(api, store, jp_serverapp):
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_ray_dev"]))
    registry = app.service.storage.uploads
    big = os.urandom(9 << 20)  # > one S3 part: a multipart upload is really under way

    async def begin(name):
        start = await api.post("t", "uploads", {"path": name, "size": len(big) + 10})
        uid = start.json["upload_id"]
        reply = await api.request("PUT", "t", f"uploads/{uid}", data=big,
                                  headers={"Content-Range": f"bytes 0-{len(big) - 1}/*"})
        assert reply.code == 200, reply
        return uid

    # 1. the client cancels
    uid = await begin("cancelled.bin")
    assert (await api.request("DELETE", "t", f"uploads/{uid}")).code == 204
    # 2. the client goes away and the session expires
    await begin("abandoned.bin")
    registry.ttl = 0
    await registry.sweep()
    registry.ttl = 3600
    # 3. the server shuts down mid-upload
    await begin("shutdown.bin")
    await registry.close()

    assert store.everything() == []
    assert store.pending_uploads() == []
    assert (await api.request("PUT", "t", f"uploads/{uid}", data=b"x")).code == 404


async def test_upload_conflicts_and_missing_folders(api, store):
    store.put("f.txt", b"old")
    exists = await api.upload("t", "f.txt", b"new")
    assert (exists.code, exists.json["reason"]) == (409, "storage_conflict")
    replaced = await api.upload("t", "f.txt", b"new content", overwrite=True)
    assert replaced.code == 201 and store.read("f.txt") == b"new content"
    nowhere = await api.upload("t", "missing/f.txt", b"x")
    assert nowhere.code == 404
    noname = await api.post("t", "uploads", {"path": ""})
    assert noname.code == 400
    empty = await api.upload("t", "empty.txt", b"")
    assert empty.code == 201 and store.read("empty.txt") == b""


async def test_mkdir_rename_delete(api, store):
    made = await api.post("t", "mkdir", {"path": "a"})
    assert made.code == 201 and made.json["kind"] == "directory"
    assert (await api.post("t", "mkdir", {"path": "a"})).code == 409
    assert (await api.post("t", "mkdir", {"path": "missing/b"})).code == 404
    assert (await api.upload("t", "a/f.txt", b"payload")).code == 201
    assert (await api.upload("t", "a/other.txt", b"2")).code == 201

    moved = await api.post("t", "rename", {"path": "a/f.txt", "new_path": "a/g.txt"})
    assert moved.code == 200 and moved.json["path"] == "a/g.txt"
    assert not store.exists("a/f.txt") and store.read("a/g.txt") == b"payload"
    clash = await api.post("t", "rename", {"path": "a/g.txt", "new_path": "a/other.txt"})
    assert clash.code == 409 and store.read("a/other.txt") == b"2"
    into_itself = await api.post("t", "rename", {"path": "a", "new_path": "a/sub"})
    assert into_itself.code == 400

    folder = await api.post("t", "rename", {"path": "a", "new_path": "b"})
    assert folder.code == 200 and folder.json["kind"] == "directory"
    assert store.read("b/g.txt") == b"payload" and not store.exists("a/g.txt")

    not_empty = await api.post("t", "delete", {"path": "b"})
    assert (not_empty.code, not_empty.json["reason"]) == (409, "storage_conflict")
    one = await api.post("t", "delete", {"path": "b/other.txt"})
    assert one.code == 200 and not store.exists("b/other.txt")
    gone = await api.post("t", "delete", {"path": "b", "recursive": True})
    assert gone.code == 200, gone
    assert (await api.get("t", "stat", params={"path": "b"})).code == 404
    assert store.everything() == []
    assert (await api.post("t", "delete", {"path": ""})).code == 400
    assert (await api.post("t", "delete", {"path": "nothing-here"})).code == 404


async def test_read_only_root_refuses_every_write(api, store):
    store.put("keep/f.txt", b"keep")
    before = store.everything()
    writes = [
        await api.post("ro", "uploads", {"path": "keep/new.txt"}),
        await api.post("ro", "mkdir", {"path": "newdir"}),
        await api.post("ro", "rename", {"path": "keep/f.txt", "new_path": "keep/g.txt"}),
        await api.post("ro", "delete", {"path": "keep", "recursive": True}),
        await api.request("PUT", "ro", "uploads/whatever", data=b"x"),
        await api.post("ro", "uploads/whatever/commit"),
    ]
    for reply in writes:
        assert (reply.code, reply.json["reason"]) == (403, "storage_read_only"), reply
    assert store.everything() == before
    assert (await api.get("ro", "list", params={"path": "keep"})).code == 200
    assert (await api.get("ro", "download", params={"path": "keep/f.txt"})).raw == b"keep"


def _seed_ray_layout(store) -> None:
    exp = "exp"
    store.put(f"{exp}/experiment_state-2025-01-01_00-00-00.json", b"{}")
    store.put(f"{exp}/tuner.pkl", b"\x80\x04pickle")
    trial = f"{exp}/train_fn_3f2a1_00000_0_lr=0.0100"
    store.put(f"{trial}/params.json", json.dumps({"lr": 0.01, "layers": 2}))
    store.put(f"{trial}/result.json", "".join(
        json.dumps({"training_iteration": i, "loss": 1 / i}) + "\n" for i in range(1, 4)))
    store.put(f"{trial}/progress.csv", "training_iteration,loss\n1,1.0\n2,0.5\n3,0.33\n")
    for n in (0, 1, 10):
        store.put(f"{trial}/checkpoint_{n:06d}/model.pt", b"w")
    run = "run"
    snapshot = {
        "ray_version": "2.60.0",
        "checkpoint_results": [
            {"checkpoint_dir_name": "checkpoint_2025-01-01_00-00-00.000000",
             "metrics": {"loss": 0.5}},
            {"checkpoint_dir_name": "checkpoint_2025-01-02_00-00-00.000000",
             "metrics": {"loss": 0.2}},
        ],
        "latest_checkpoint_result": {"checkpoint_dir_name": "checkpoint_2025-01-02_00-00-00.000000",
                                     "metrics": {"loss": 0.2}},
    }
    store.put(f"{run}/checkpoint_manager_snapshot.json", json.dumps(snapshot))
    store.put(f"{run}/checkpoint_2025-01-01_00-00-00.000000/model.pt", b"w")
    store.put(f"{run}/checkpoint_2025-01-02_00-00-00.000000/model.pt", b"w")
    store.put("plain/x.txt", b"x")


async def test_ray_train_and_tune_folders_are_recognised(api, store):
    _seed_ray_layout(store)
    trial = "exp/train_fn_3f2a1_00000_0_lr=0.0100"

    exp = await api.get("t", "list", params={"path": "exp"})
    assert exp.code == 200
    validate_response(exp.json, "StorageListing")
    assert exp.json["ray"]["kind"] == "tune_experiment"

    for params in ({"path": trial}, {"path": trial, "limit": 2}):  # complete / probed
        listing = await api.get("t", "list", params=params)
        ray = listing.json["ray"]
        assert ray["kind"] == "tune_trial", params
        assert ray["params"] == {"lr": 0.01, "layers": 2}
        assert ray["last_metrics"]["training_iteration"] == 3
        assert [c["name"] for c in ray["checkpoints"]] == [
            "checkpoint_000010", "checkpoint_000001", "checkpoint_000000"]
    full = await api.get("t", "list", params={"path": trial})
    hints = {e["name"]: e.get("ray_hint") for e in full.json["entries"]}
    assert hints["checkpoint_000010"] == "checkpoint" and hints["params.json"] is None

    run = await api.get("t", "stat", params={"path": "run"})
    validate_response(run.json, "StorageItem")
    ray = run.json["ray"]
    assert ray["kind"] == "train_run"
    assert [(c["name"], c["metrics"], c["latest"]) for c in ray["checkpoints"]] == [
        ("checkpoint_2025-01-02_00-00-00.000000", {"loss": 0.2}, True),
        ("checkpoint_2025-01-01_00-00-00.000000", {"loss": 0.5}, False),
    ]
    assert ray["checkpoints"][0]["uri"].endswith("run/checkpoint_2025-01-02_00-00-00.000000")

    ckpt = await api.get("t", "stat",
                         params={"path": "run/checkpoint_2025-01-02_00-00-00.000000"})
    assert ckpt.json["ray"]["kind"] == "checkpoint"
    assert ckpt.json["ray"]["checkpoint"] == ckpt.json["uri"]

    plain = await api.get("t", "list", params={"path": "plain"})
    assert plain.json["ray"] is None


class TestSecretsAndUnreachable:
    """Credentials never come back; a dead endpoint is a 503 that names it."""

    closed = free_port()

    @pytest.fixture
    def store(self, request, tmp_path):
        from storage_fixtures import make_store

        return make_store("s3", request, tmp_path)

    @pytest.fixture
    def ray_dev_config(self, store):
        dead = f"http://127.0.0.1:{self.closed}"
        return {"storage_timeout": 4.0, "storage_roots": [
            store.root("t"),
            {"name": "dead-s3", "url": f"s3://{BUCKET}/x", "options": {
                **s3_options(f"http://user:pw-in-url-SECRET@127.0.0.1:{self.closed}")}},
            {"name": "dead-gs", "url": f"gs://{BUCKET}/x", "options": gcs_options(dead)},
        ]}

    async def test_secrets_are_absent_from_every_response(self, api, store):
        store.put("dir/f.txt", b"data")
        replies = [
            await api.get(None, "roots"),
            await api.get("t", "list"),
            await api.get("t", "list", params={"path": "dir"}),
            await api.get("t", "stat", params={"path": "dir/f.txt"}),
            await api.get("t", "preview", params={"path": "dir/f.txt"}),
            await api.get("t", "download", params={"path": "dir/f.txt"}),
            await api.get("t", "stat", params={"path": "missing"}),
            await api.get("t", "list", params={"path": "../etc"}),
            await api.upload("t", "dir/g.txt", b"up"),
            await api.get("dead-s3", "list"),
        ]
        assert [r.code for r in replies] == [200, 200, 200, 200, 200, 200, 404, 400, 201, 503]
        for reply in replies:
            no_secret(reply)
            assert b"pw-in-url-SECRET" not in reply.raw

    @pytest.mark.parametrize("root", ["dead-s3", "dead-gs"])
    async def test_unreachable_endpoint_is_a_503_naming_it(self, api, root):
        reply = await api.get(root, "list")
        assert reply.code == 503, reply
        body = reply.json
        assert body["reason"] == "storage_unreachable"
        assert f"127.0.0.1:{self.closed}" in body["message"]
        assert body["endpoint"] == f"http://127.0.0.1:{self.closed}"
        assert "Traceback" not in body["message"]


class TestBadConfiguration:
    @pytest.fixture
    def ray_dev_config(self):
        return {"storage_roots": [{"name": "x", "url": "relative/path"}]}

    async def test_every_storage_call_says_what_to_fix(self, api):
        for reply in (await api.get(None, "roots"), await api.get("x", "list")):
            assert (reply.code, reply.json["reason"]) == (503, "storage_config_invalid")
            assert "c.RayDev.storage_roots[0].url" in reply.json["message"]
