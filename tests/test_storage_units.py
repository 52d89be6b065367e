"""Storage core units: path syntax, root configuration, ranges, cursors, previews, Ray layout,
upload expiry, and the event loop staying free while a backend hangs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest

from jupyter_ray_dev.storage import StorageService, default_roots, parse_roots
from jupyter_ray_dev.storage.cursor import decode_cursor, encode_cursor
from jupyter_ray_dev.storage.errors import (
    PathRejected,
    RangeNotSatisfiable,
    StorageConfigInvalid,
    StorageUnreachable,
)
from jupyter_ray_dev.storage.paths import clean_relpath
from jupyter_ray_dev.storage.preview import csv_preview, decode_head, decode_tail, jsonable
from jupyter_ray_dev.storage.ranges import parse_content_range, parse_range
from jupyter_ray_dev.storage.ray_layout import classify
from jupyter_ray_dev.storage.roots import network_mounts


@pytest.mark.parametrize("raw, clean", [
    ("", ""), (None, ""), ("a", "a"), ("a/b.txt", "a/b.txt"), ("a/b/", "a/b"),
    ("with space", "with space"), ("über/日本.csv", "über/日本.csv"), ("..a", "..a"),
    ("a..", "a.."), ("...", "..."), ("%41", "%41"), ("%2541", "%2541"),
])
def test_clean_paths_are_accepted(raw, clean):
    assert clean_relpath(raw) == clean


@pytest.mark.parametrize("raw", [
    "/a", "//a", "..", "a/..", "../a", ".", "a/./b", "a//b", "a\\b", "\\", "a\x00b", "a\nb",
    "%2e%2e", "%2E%2E/a", "%252e%252e", "%25252e%25252e", "a/%2e", "a%2fb", "a%5cb", "a%00",
    "x" * 5000, "n" * 256, 42, ["a"],
])
def test_hostile_paths_are_rejected(raw):
    with pytest.raises(PathRejected) as err:
        clean_relpath(raw)
    assert err.value.status == 400 and err.value.details["field"] == "path"


def test_roots_parse_every_url_form():
    roots = parse_roots([
        "/mnt/shared",
        {"name": "f", "url": "file:///data/x/"},
        {"name": "s", "url": "s3a://my-bucket/a/b", "options": {"anon": True}, "read_only": True},
        {"name": "g", "url": "gcs://my-bucket"},
    ])
    assert [(r.name, r.protocol, r.location, r.url) for r in roots] == [
        ("shared", "file", "/mnt/shared", "/mnt/shared"),
        ("f", "file", "/data/x", "/data/x"),
        ("s", "s3", "my-bucket/a/b", "s3://my-bucket/a/b"),
        ("g", "gs", "my-bucket", "gs://my-bucket"),
    ]
    assert roots[2].uri("c/d.parquet") == "s3://my-bucket/a/b/c/d.parquet"
    assert roots[1].uri("c") == "/data/x/c"


@pytest.mark.parametrize("config, where, words", [
    ([{"url": "relative/x"}], "[0].url", "absolute"),
    ([{"name": "a", "url": "/x"}, {"name": "a", "url": "/y"}], "[1].name", "twice"),
    ([{"name": "bad name!", "url": "/x"}], "[0].name", "letters"),
    ([{"url": "/x", "colour": "red"}], "[0].colour", "unknown"),
    ([{"url": "/x", "options": {"anon": True}}], "[0].options", "s3:// and gs://"),
    ([{"url": "s3://key:secret@bucket/x"}], "[0].url", "credentials"),
    ([{"url": "s3://bkt/../x"}], "[0].url", "'..'"),
    ([{"url": "s3://"}], "[0].url", "bucket"),
    ([{"url": "ftp://host/x"}], "[0].url", "s3://"),
    ([{"url": "/x", "read_only": "yes"}], "[0].read_only", "true or false"),
    ([42], "[0]", "dict"),
])
def test_bad_roots_say_where_and_why(config, where, words):
    with pytest.raises(StorageConfigInvalid) as err:
        parse_roots(config)
    assert f"c.RayDev.storage_roots{where}" in err.value.message
    assert words in err.value.message
    assert err.value.status == 503
    assert "secret" not in err.value.message or "credentials" in words


def test_public_view_shows_option_names_only():
    (root,) = parse_roots([{"name": "s", "url": "s3://bkt", "options": {
        "key": "AKIA-HIDDEN", "secret": "VERY-HIDDEN", "endpoint_url": "http://x"}}])
    public = json.dumps(root.public())
    assert "HIDDEN" not in public and "http://x" not in public
    assert root.public()["option_names"] == ["endpoint_url", "key", "secret"]
    assert "HIDDEN" not in repr(root)


def test_default_roots_are_the_artifacts_folder_and_network_mounts(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "sysfs /sys sysfs rw 0 0\n"
        "/dev/sda1 / ext4 rw 0 0\n"
        "fs-123.efs.us-east-1.amazonaws.com:/ /mnt/efs nfs4 rw,vers=4.1 0 0\n"
        "10.0.0.2:/export /mnt/shared\\040data nfs rw 0 0\n"
        "my-bucket /mnt/s3 fuse.mountpoint-s3 rw 0 0\n"
        "portal /run/user/1000/doc fuse.portal rw 0 0\n"
        "10.0.0.3:/other /data/efs nfs4 rw 0 0\n"
    )
    roots = default_roots({"RAY_DEV_ARTIFACTS": "/work/.lab/artifacts"}, str(mounts))
    assert roots == [
        {"name": "artifacts", "url": "/work/.lab/artifacts"},
        {"name": "efs", "url": "/mnt/efs"},
        {"name": "shared-data", "url": "/mnt/shared data"},
        {"name": "s3", "url": "/mnt/s3"},
        {"name": "efs-2", "url": "/data/efs"},
    ]
    assert parse_roots(roots)  # the defaults are valid configuration
    assert default_roots({}, str(tmp_path / "missing")) == []
    assert network_mounts("x /a ext4 rw 0 0") == []


@pytest.mark.parametrize("header, span", [
    (None, None), ("bytes=0-9", (0, 10)), ("bytes=10-", (10, 100)), ("bytes=-5", (95, 100)),
    ("bytes=90-200", (90, 100)), ("bytes=-500", (0, 100)), ("bytes=0-0", (0, 1)),
    ("items=0-5", None), ("bytes=0-5,10-20", None), ("bytes=9-3", None), ("garbage", None),
])
def test_ranges(header, span):
    assert parse_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=500-600"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(RangeNotSatisfiable) as err:
        parse_range(header, 100)
    assert err.value.status == 416 and err.value.details["size"] == 100


def test_content_range():
    assert parse_content_range("bytes 0-9/100", 10) == (0, 100)
    assert parse_content_range("bytes 10-19/*", 10) == (10, None)
    assert parse_content_range(None, 10) == (0, None)
    for bad, length in [("bytes 0-9/100", 5), ("bytes 0-9/5", 10), ("0-9/100", 10)]:
        with pytest.raises(Exception) as err:
            parse_content_range(bad, length)
        assert err.value.status == 400


def test_cursors_are_tied_to_their_folder():
    cursor = encode_cursor("r", "a/b", '{"t": "token"}')
    assert decode_cursor(cursor, "r", "a/b") == '{"t": "token"}'
    for root, path, value in [("r", "a", cursor), ("x", "a/b", cursor), ("r", "a/b", "!!"),
                              ("r", "a/b", "e30"), ("r", "a/b", "x" * 9000)]:
        with pytest.raises(Exception) as err:
            decode_cursor(value, root, path)
        assert err.value.status == 400 and err.value.details["field"] == "cursor"


def test_text_cuts_never_garble_characters():
    data = "héllo wörld".encode()
    assert decode_head(data[:2]) == "h"  # the cut é is dropped, not replaced
    assert decode_tail(data[2:]) == "llo wörld"
    assert jsonable({"a": float("nan"), "b": [float("inf"), b"\x00\x01"], 1: 2}) == {
        "a": "nan", "b": ["inf", "AAE="], "1": 2}


def test_ragged_csv_falls_back_to_the_csv_module():
    out = csv_preview(b"a,b\n1,2,3\n4\n", complete=True, delimiter=",")
    assert out["columns"] == [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]
    assert out["rows"] == [["1", "2", "3"], ["4"]]


@pytest.mark.parametrize("files, dirs, state, ckpts, kind", [
    ({"tuner.pkl"}, set(), False, False, "tune_experiment"),
    (set(), set(), True, False, "tune_experiment"),
    ({"params.json", "result.json"}, {"checkpoint_000001"}, False, True, "tune_trial"),
    ({"progress.csv"}, set(), False, False, "tune_trial"),
    ({"checkpoint_manager_snapshot.json"}, set(), False, True, "train_run"),
    (set(), {"checkpoint_2025-01-01_00-00-00.000000"}, False, True, "train_run"),
    ({"model.pt"}, set(), False, False, None),
])
def test_ray_folder_kinds(files, dirs, state, ckpts, kind):
    assert classify(files, dirs, state, ckpts) == kind


async def test_idle_uploads_expire_and_leave_nothing(tmp_path):
    service = StorageService([{"name": "t", "url": str(tmp_path)}], upload_ttl=0.2)
    session = await service.start_upload("t", "f.bin")
    await service.upload_chunk("t", session["upload_id"], b"12345")
    assert [p.name for p in tmp_path.iterdir()] != []  # the hidden temp file
    await asyncio.sleep(0.3)
    await service.uploads.sweep()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(Exception) as err:
        await service.commit_upload("t", session["upload_id"])
    assert err.value.status == 404
    await service.close()


async def test_a_hung_backend_is_a_503_and_the_loop_stays_free(tmp_path, monkeypatch):
    """A hung NFS mount: the call runs on the storage pool and times out while the loop runs
    on. The listing hangs until the test releases it, after the 503: a service waiting for it
    would never answer. (How long the loop pauses meanwhile: bench/storage_hang.py.)"""
    from jupyter_ray_dev.storage.backends.local import LocalBackend

    started, release = threading.Event(), threading.Event()

    def hang(self, *args):
        started.set()
        release.wait(120)
        return [], None

    monkeypatch.setattr(LocalBackend, "_list_page", hang)
    service = StorageService([{"name": "t", "url": str(tmp_path)}], timeout=0.5)
    try:
        listing = asyncio.ensure_future(service.list("t", ""))
        await asyncio.wait_for(asyncio.to_thread(started.wait, 60), 60)
        # the listing hangs on the pool, and this coroutine runs on the loop meanwhile
        assert started.is_set() and not listing.done()
        with pytest.raises(StorageUnreachable) as err:
            await asyncio.wait_for(listing, 60)  # the service's timeout answers, not the hang
        assert not release.is_set()
    finally:
        release.set()
    assert err.value.status == 503 and str(tmp_path) in err.value.message
    await service.close()


def test_storage_imports_stay_light():
    code = ("import sys, jupyter_ray_dev.storage, jupyter_ray_dev.handlers.storage;"
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    loaded = set(eval(out))  # noqa: S307 - our own subprocess's output
    assert not loaded & {"s3fs", "gcsfs", "fsspec", "botocore", "aiobotocore", "pyarrow", "ray"}


class CountingBackend:
    """Just enough of a Backend for ray_layout: records every probe."""

    def __init__(self, present: set[str]) -> None:
        self.present, self.calls = present, []

    async def stat(self, path):
        self.calls.append(("stat", path))
        if path.rsplit("/", 1)[-1] not in self.present:
            from jupyter_ray_dev.storage.errors import StorageNotFound

            raise StorageNotFound(path)
        return {"kind": "file", "size": 0}

    async def has_file(self, path):
        self.calls.append(("file", path))
        return path.rsplit("/", 1)[-1] in self.present

    async def list_page(self, path, limit, token, name_prefix=""):
        self.calls.append(("list", name_prefix))
        names = sorted(n for n in self.present if n.startswith(name_prefix))
        return [{"name": n, "kind": "directory" if n.startswith("checkpoint_") else "file"}
                for n in names][:limit], None


def _page(*names):
    return [{"name": n, "kind": "directory" if n.startswith(("checkpoint_", "trial")) else "file"}
            for n in sorted(names)]


async def test_ray_detection_probes_only_what_the_first_page_cannot_say():
    from jupyter_ray_dev.storage.ray_layout import detect

    # a complete page: no request at all
    backend = CountingBackend(set())
    page = _page("params.json", "result.json", "checkpoint_000001")
    assert await detect(backend, "t", page, complete=True) == "tune_trial"
    assert backend.calls == []

    # a big plain folder whose first page ends at "obj_000499": markers sorting before it
    # are known absent; only params/progress/result/tuner (after "obj_") are asked for
    backend = CountingBackend(set())
    page = _page(*(f"obj_{i:06d}" for i in range(500)))
    assert await detect(backend, "big", page, complete=False) is None
    assert sorted(backend.calls) == [("file", f"big/{f}") for f in
                                     ("params.json", "progress.csv", "result.json", "tuner.pkl")]

    # an experiment with many trials: experiment_state-* is in the first page
    backend = CountingBackend({"tuner.pkl"})
    page = _page("basic-variant-state-x.json", "experiment_state-2025.json",
                 *(f"trial_{i:03d}" for i in range(100)))
    assert await detect(backend, "exp", page, complete=False) == "tune_experiment"

    # nothing known (stat of a folder): everything is probed
    backend = CountingBackend({"checkpoint_000003"})
    assert await detect(backend, "run") == "train_run"
    assert ("list", "checkpoint_") in backend.calls and len(backend.calls) == 7


async def test_marker_files_probed_beside_the_listing_are_not_asked_again():
    """Remote roots ask for the marker files while the first page is listed (one round
    trip); the prefixes the page cannot cover are still listed after it."""
    from jupyter_ray_dev.storage.ray_layout import detect, probe_files

    backend = CountingBackend({"params.json"})
    probed = await probe_files(backend, "trial")
    assert probed == {"params.json"}
    assert all(kind == "file" for kind, _ in backend.calls)  # HEADs, never a listing
    page = _page(*(f"a_{i:06d}" for i in range(500)))  # no marker in the page
    backend.calls.clear()
    assert await detect(backend, "trial", page, complete=False, probed=probed) == "tune_trial"
    assert sorted(backend.calls) == [("list", "checkpoint_"), ("list", "experiment_state-")]

    # what the page shows counts too (written after the probe)
    page = _page("experiment_state-2025.json")
    assert await detect(backend, "exp", page, complete=False, probed=frozenset()) \
        == "tune_experiment"


async def test_an_experiment_seen_in_the_first_page_needs_no_probe():
    from jupyter_ray_dev.storage.ray_layout import detect

    backend = CountingBackend(set())
    page = _page("basic-variant-state-x.json", "experiment_state-2025.json",
                 *(f"trial_{i:03d}" for i in range(100)))
    assert await detect(backend, "exp", page, complete=False) == "tune_experiment"
    assert backend.calls == []
