"""No request returns a byte from outside its root: hostile paths, symlinks, encodings, S3 prefixes.

A local root sits next to an ``outside`` folder and a ``root2`` sibling (same name
prefix) holding a sentinel; symlinks inside the root point out in every way. An
S3 root (moto_server) has sibling prefixes holding the same sentinel. A fixed
list of hostile paths, raw hand-encoded queries and a Hypothesis property test
all check that the sentinel never comes back and nothing outside changes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_ray_dev.cluster.local_head import free_port
from storage_fixtures import make_store

SENTINEL = b"OUTSIDE-SENTINEL-9f27c1"
SECRET = SENTINEL * 331  # 7613 bytes: a size no inside file has
READS = ("list", "stat", "preview", "download")


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def layout(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    sibling = tmp_path / "root2"  # "root2" starts with "root": a naive prefix check leaks it
    sibling.mkdir()
    (sibling / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "inside.txt").write_bytes(b"inside")
    links = {
        "link_file_out": "../outside/secret.txt",
        "link_dir_out": "../outside",
        "link_abs": str(outside / "secret.txt"),
        "link_chain": "link_file_out",
        "link_sibling": "../root2",
        "link_in": "inside.txt",
        "sub/link_up": "..",
        "sub/link_upup": "../..",
        "sub/link_root_abs": str(root),
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    return tmp_path


@pytest.fixture
def s3_store(request, tmp_path):
    store = make_store("s3", request, tmp_path)
    store.put("inside/ok.txt", b"ok")
    store.put("inside2/secret.txt", SECRET)
    store.put("outside/secret.txt", SECRET)
    return store


@pytest.fixture
def ray_dev_config(layout, s3_store):
    s3_root = {"name": "s3", "url": f"{s3_store.url}/inside", "options": s3_store.options}
    return {"storage_roots": [{"name": "t", "url": str(layout / "root")}, s3_root]}


def snapshot(base: Path) -> dict[str, str]:
    """Every path under ``base``, the root included: a file with a hash of its content, a
    link with its target (a link replaced by a file, or repointed, shows), a folder as such."""
    out = {}
    for path in sorted(base.rglob("*")):
        if path.is_symlink():
            out[str(path)] = f"link -> {os.readlink(path)}"
        elif path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(path)] = "dir"
    return out


def assert_no_leak(reply) -> None:
    assert SENTINEL not in reply.raw, reply
    if reply.code == 200 and reply.headers.get("Content-Type", "").startswith("application/json"):
        body = reply.json
        items = body.get("entries", []) + [body]
        for item in items:
            assert item.get("size") != len(SECRET), reply
            path = item.get("path", "")
            assert ".." not in path.split("/") and not path.startswith("/"), reply


HOSTILE = [
    "..", "../outside/secret.txt", "../../etc/passwd", "/etc/passwd", "//etc/passwd",
    "%2e%2e/outside/secret.txt", "%2E%2E/outside", "%252e%252e/outside/secret.txt",
    "..%2foutside%2fsecret.txt", "%2e%2e%2foutside%2fsecret.txt", "sub/../../outside/secret.txt",
    "sub/./../..", "./inside.txt", "..\\outside\\secret.txt", "sub\\..\\..\\outside",
    "inside.txt\x00.png", "\x00", "%00", "link_file_out", "link_dir_out", "link_dir_out/secret.txt",
    "link_abs", "link_chain", "link_sibling/secret.txt", "link_sibling",
    "sub/link_upup/outside/secret.txt", "sub/link_upup", "....//outside", "sub//..", "../root2",
    "../root2/secret.txt", "..;/outside/secret.txt", ".%2e/outside/secret.txt",
    "%c0%ae%c0%ae/outside/secret.txt", "link_dir_out/../outside/secret.txt",
]


@pytest.mark.parametrize("path", HOSTILE)
async def test_hostile_paths_are_refused_and_leak_nothing(api, layout, path):
    before = snapshot(layout)
    for op in READS:
        reply = await api.get("t", op, params={"path": path})
        assert reply.code in (400, 403, 404), (op, reply)
        assert_no_leak(reply)
    upload = await api.post("t", "uploads", {"path": path, "overwrite": True})
    if upload.code == 201:  # never committed (that is another test's): cancelled, it leaves nothing
        cancel = await api.request("DELETE", "t", f"uploads/{upload.json['upload_id']}")
        assert cancel.code == 204, cancel
    writes = [
        upload,
        await api.post("t", "mkdir", {"path": path + "/x"}),
        await api.post("t", "rename", {"path": "inside.txt", "new_path": path}),
        await api.post("t", "rename", {"path": path, "new_path": "stolen.txt"}),
        await api.post("t", "delete", {"path": path, "recursive": True}),
    ]
    deleted = writes[-1]
    for reply in writes:
        assert_no_leak(reply)
    assert [r.code for r in writes[:-1] if r.code < 400] == [201] * (upload.code == 201)
    # the root too: no link replaced or moved, no upload's temporary file left behind; a
    # delete acts on a link itself (the entry in the root), never on what it points to
    expected = dict(before)
    if deleted.code == 200:
        assert expected.pop(str(layout / "root" / path)).startswith("link -> "), deleted
    assert snapshot(layout) == expected
    assert (layout / "root" / "inside.txt").read_bytes() == b"inside"


async def test_links_inside_the_root_still_work(api, layout):
    reply = await api.get("t", "preview", params={"path": "link_in"})
    assert reply.code == 200 and reply.json["text"] == "inside"
    up = await api.get("t", "list", params={"path": "sub/link_up"})
    assert up.code == 200 and "inside.txt" in {e["name"] for e in up.json["entries"]}
    listing = await api.get("t", "list")
    kinds = {e["name"]: (e["kind"], e.get("link")) for e in listing.json["entries"]}
    assert kinds["link_file_out"] == ("symlink", "outside_root")
    assert kinds["link_in"] == ("file", "inside_root")
    assert kinds["link_sibling"] == ("symlink", "outside_root")
    assert_no_leak(listing)
    # deleting a link that points out removes the link, never the target
    gone = await api.post("t", "delete", {"path": "link_dir_out", "recursive": True})
    assert gone.code == 200
    assert (layout / "outside" / "secret.txt").read_bytes() == SECRET


LINKS_OUT = ["link_file_out", "link_abs", "link_chain", "link_sibling", "link_dir_out"]


def assert_links_unchanged(layout) -> None:
    root = layout / "root"
    for name in LINKS_OUT:
        assert (root / name).is_symlink(), name
    assert os.readlink(root / "link_file_out") == "../outside/secret.txt"
    assert (layout / "outside" / "secret.txt").read_bytes() == SECRET
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize("name", LINKS_OUT)
async def test_an_overwrite_upload_onto_a_link_leading_out_is_refused_as_stat_is(api, layout,
                                                                                 name):
    before = snapshot(layout)
    assert (await api.get("t", "stat", params={"path": name})).code == 403

    reply = await api.upload("t", name, b"replacement", overwrite=True)

    assert reply.code == 403 and reply.json["reason"] == "path_outside_root", reply
    assert_links_unchanged(layout)
    assert snapshot(layout) == before


async def test_a_link_leading_out_that_appears_during_an_upload_is_refused_at_commit(api,
                                                                                    layout):
    started = await api.post("t", "uploads", {"path": "late.txt", "overwrite": True})
    assert started.code == 201
    upload_id = started.json["upload_id"]
    assert (await api.request("PUT", "t", f"uploads/{upload_id}", data=b"data")).code == 200
    os.symlink("../outside/secret.txt", layout / "root" / "late.txt")

    reply = await api.post("t", f"uploads/{upload_id}/commit")

    assert reply.code == 403 and reply.json["reason"] == "path_outside_root", reply
    assert os.readlink(layout / "root" / "late.txt") == "../outside/secret.txt"
    assert_links_unchanged(layout)


async def test_renaming_a_link_leading_out_is_refused_before_anything_moves(api, layout):
    reply = await api.post("t", "rename", {"path": "link_file_out", "new_path": "moved.txt"})

    assert reply.code == 403 and reply.json["reason"] == "path_outside_root", reply
    assert not (layout / "root" / "moved.txt").exists()
    assert_links_unchanged(layout)


async def test_an_overwrite_upload_onto_a_link_inside_the_root_still_works(api, layout):
    reply = await api.upload("t", "link_in", b"new text", overwrite=True)
    assert reply.code == 201, reply
    assert (layout / "root" / "link_in").read_bytes() == b"new text"


@pytest.mark.parametrize("query", [
    "path=..%2foutside%2fsecret.txt", "path=%2e%2e%2foutside%2fsecret.txt",
    "path=%252e%252e%252foutside%252fsecret.txt", "path=..%5coutside%5csecret.txt",
    "path=%00", "path=inside.txt%00", "path=..%c0%afoutside", "path=%ff%fe",
    "path=/etc/passwd", "path=%2fetc%2fpasswd", "path=link_abs", "path=sub%2f..%2f..%2froot2",
    "path=inside.txt&path=../outside/secret.txt",
])
async def test_raw_queries_are_refused(api, query):
    for op in READS:
        reply = await api.get("t", op, query=query)
        assert reply.code in (400, 403, 404), (op, query, reply)
        assert_no_leak(reply)


@pytest.mark.parametrize("path", ["../inside2/secret.txt", "../outside/secret.txt",
                                  "%2e%2e/inside2/secret.txt", "..\\inside2", "/inside2"])
async def test_s3_root_never_reaches_sibling_prefixes(api, path):
    for op in READS:
        reply = await api.get("s3", op, params={"path": path})
        assert reply.code in (400, 404), (op, reply)
        assert_no_leak(reply)
    ok = await api.get("s3", "download", params={"path": "ok.txt"})
    assert ok.raw == b"ok"
    root = await api.get("s3", "list")
    assert [e["name"] for e in root.json["entries"]] == ["ok.txt"]


SEGMENTS = st.sampled_from([
    "..", ".", "", "%2e%2e", "%2E%2e", "%252e%252e", ".%2e", "%2f", "%5c", "\\", "..\\..", "\x00",
    "%00", "~", "outside", "secret.txt", "link_file_out", "link_dir_out", "link_abs", "link_chain",
    "link_sibling", "root2", "inside2", "sub", "link_upup", "link_up", "inside.txt", "ok.txt", "/",
    "..;", "\u2025", "\uff0e\uff0e", "%c0%ae%c0%ae", "..%00", "link_root_abs",
])
PATHS = st.one_of(
    st.tuples(st.sampled_from(["", "/", "./", "../"]),
              st.lists(st.one_of(SEGMENTS, st.text(max_size=6)), max_size=6).map("/".join))
    .map("".join),
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=PATHS, op=st.sampled_from(READS), root=st.sampled_from(["t", "s3"]))
def test_no_request_returns_data_from_outside_its_root(api, jp_asyncio_loop, layout, path, op,
                                                       root):
    # a sync test driving the server's loop: Hypothesis runs each example to completion
    reply = jp_asyncio_loop.run_until_complete(api.get(root, op, params={"path": path}))
    assert reply.code in (200, 206, 400, 403, 404), reply
    assert_no_leak(reply)
