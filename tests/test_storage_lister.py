"""The lister process (storage/backends/lister.py): it lists the same pages the server
lists, a walk gets every entry whether it is there, killed, hung or cannot start, it
sees writes made through the API, and it is stopped (by its PID) with the service.

Real parts: a real child process on real folders; the faults are real signals sent to
the child by its PID, and a Python executable that does not exist.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import threading

import orjson
import pytest
from apischema import validate_response

from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.storage import StorageService
from jupyter_ray_dev.storage.backends import lister as lister_module
from jupyter_ray_dev.storage.backends import local, read_ahead
from jupyter_ray_dev.storage.backends.lister import Lister
from jupyter_ray_dev.storage.backends.local_listing import NameCache, list_fd
from jupyter_ray_dev.storage.ray_names import mark_checkpoints

NAMES = sorted([f"f{i:02d}.txt" for i in range(40)] + [
    "checkpoint_000001", "sub", "in_link", "out_link", "broken_link", "ünï code.txt"])


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def entries(page):
    """Entries as a client reads them: the child's come as JSON (bytes, or a Fragment)."""
    value = page["entries"] if isinstance(page, dict) else page
    return orjson.loads(value if isinstance(value, bytes) else orjson.dumps(value))


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "root"
    data = base / "data"
    data.mkdir(parents=True)
    for i in range(40):
        (data / f"f{i:02d}.txt").write_bytes(b"x" * i)
    (data / "checkpoint_000001").mkdir()
    (data / "sub").mkdir()
    (data / "in_link").symlink_to("f01.txt")
    (tmp_path / "secret.txt").write_bytes(b"outside the root")
    (data / "out_link").symlink_to(tmp_path / "secret.txt")
    (data / "broken_link").symlink_to("nowhere")
    (data / "ünï code.txt").write_bytes(b"u")
    (data / ".f.txt.0123456789abcdef.ray-dev-upload").write_bytes(b"an upload in progress")
    return base


@pytest.fixture
def service(root):
    svc = StorageService([{"name": "t", "url": str(root)}])
    yield svc
    svc.backend("t")._lister.close()
    svc._executor.shutdown(wait=True)


async def walk(svc, limit=7, owner="alice"):
    names, cursor = [], None
    while True:
        page = await svc.list("t", "data", limit, cursor, owner=owner)
        await asyncio.sleep(0)  # a client reads the reply before asking for the next page
        names += [e["name"] for e in entries(page)]
        cursor = page["next_cursor"]
        if cursor is None:
            return names


def test_the_child_lists_exactly_the_pages_the_server_lists(root):
    lister = Lister(30, "t")
    fd = os.open(root / "data", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert lister.wait_ready(60)
        theirs = lister.list(fd, "data", 7, None, str(root), pages=100)
        ours, after, names = [], None, NameCache()
        while True:
            page = list_fd(fd, names, "data", 7, after, "", str(root), str(root / "data"))
            mark_checkpoints(page.entries)
            ours.append(page)
            after = page.next_token
            if after is None:
                break
    finally:
        os.close(fd)
        lister.close()
    assert [(entries(p.entries), p.next_token, p.folder) for p in theirs] == \
        [(p.entries, p.next_token, p.folder) for p in ours]
    listed = {e["name"]: e for p in theirs for e in entries(p.entries)}
    assert sorted(listed) == NAMES  # the upload in progress is hidden
    assert listed["checkpoint_000001"]["ray_hint"] == "checkpoint"
    assert listed["in_link"]["link"] == "inside_root" and listed["in_link"]["size"] == 1
    # nothing about the target outside the root: no size, no kind, no time of its own
    assert listed["out_link"] == {"name": "out_link", "path": "data/out_link",
                                  "kind": "symlink", "size": None, "link": "outside_root",
                                  "modified": listed["out_link"]["modified"]}
    assert listed["broken_link"]["link"] == "broken"
    assert lister.pid is None


@pytest.mark.parametrize("upload_first", [False, True])
def test_a_first_page_picked_before_the_full_sort_pages_as_the_sorted_listing(
        tmp_path, upload_first):
    """A folder listed afresh answers its first page before its names are sorted: the
    page, the pages after it, and name-prefix probes asked in between are those of the
    sorted listing, uploads in progress hidden, also when one would sort into page 1."""
    import random

    data = tmp_path / "data"
    data.mkdir()
    names = [f"n{i:03d}" for i in range(200)] + [".dot", "checkpoint_000002"]
    random.Random(7).shuffle(names)  # created in no order: readdir's order is not sorted
    for name in names:
        (data / name).write_bytes(b"")
    if upload_first:
        (data / ".a.0123456789abcdef.ray-dev-upload").write_bytes(b"")
    (data / ".n.0123456789abcdef.ray-dev-upload").write_bytes(b"")
    fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    try:
        cache = NameCache()

        def page(after, prefix=""):
            return list_fd(fd, cache, "data", 10, after, prefix, str(tmp_path), str(data))

        first = page(None)
        # probes right after the first page, before anything sorted the names
        assert [e["name"] for e in page(None, "checkpoint_").entries] == ["checkpoint_000002"]
        assert [e["name"] for e in page(None, "n19").entries] == \
            [f"n{i}" for i in range(190, 200)]
        assert page(None, "experiment_state").entries == []
        seen, current = [], first
        while True:
            seen += [e["name"] for e in current.entries]
            if current.next_token is None:
                break
            current = page(current.next_token)
    finally:
        os.close(fd)
    assert [e["name"] for e in first.entries] == sorted(names)[:10]
    assert seen == sorted(names)


@pytest.mark.parametrize("trusted", [True, False])
def test_a_big_folder_opened_again_later_is_listed_again_only_if_it_changed(
        tmp_path, monkeypatch, trusted):
    """On a local file system whose folder mtime moves at every change, a first page
    minutes after the last listing reuses its names while the mtime is unchanged, and
    lists afresh once anything changed; elsewhere (FUSE, NFS) it lists afresh after
    NameCache.FRESH_FOR seconds whatever the mtime says."""
    from jupyter_ray_dev.storage.backends import local_listing

    data = tmp_path / "data"
    data.mkdir()
    for i in range(50):
        (data / f"f{i:02d}").write_bytes(b"")
    old = os.stat(data).st_mtime - 3600
    os.utime(data, (old, old))
    assert local_listing.mtime_trusted(os.stat(data).st_dev), "tmp_path is on ext4 here"
    if not trusted:
        monkeypatch.setattr(local_listing, "mtime_trusted", lambda dev: False)
    listings = []
    listdir = os.listdir
    monkeypatch.setattr(local_listing.os, "listdir", lambda fd: listings.append(fd) or
                        listdir(fd))
    clock = [local_listing.time.time()]
    monkeypatch.setattr(local_listing.time, "time", lambda: clock[0])
    fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    try:
        cache = NameCache()

        def first_names():
            page = list_fd(fd, cache, "data", 100, None, "", str(tmp_path), str(data))
            return [e["name"] for e in page.entries]

        assert first_names() == [f"f{i:02d}" for i in range(50)] and len(listings) == 1
        clock[0] += 600  # ten minutes later, nothing changed
        assert first_names() == [f"f{i:02d}" for i in range(50)]
        assert len(listings) == (1 if trusted else 2)
        (data / "f99").write_bytes(b"")
        assert first_names()[-1] == "f99"
        assert len(listings) == (2 if trusted else 3)
    finally:
        os.close(fd)


async def test_a_killed_child_costs_a_walk_nothing_and_is_replaced(service):
    lister = service.backend("t")._lister
    assert await asyncio.to_thread(lister.wait_ready, 60)
    killed = lister.pid
    os.kill(killed, signal.SIGKILL)
    assert await walk(service) == NAMES  # its first batch finds it dead: listed on the pool
    assert await asyncio.to_thread(lister.wait_ready, 60)
    assert lister.pid != killed and not running(killed)
    assert await walk(service) == NAMES


async def test_a_hung_child_is_killed_at_its_deadline_and_the_walk_goes_on(root):
    svc = StorageService([{"name": "t", "url": str(root)}], timeout=4.0)
    lister = svc.backend("t")._lister
    try:
        assert await asyncio.to_thread(lister.wait_ready, 60)
        hung = lister.pid
        first = await svc.list("t", "data", 7, None, owner="alice")
        await svc.backend("t")._ahead.settled()  # the rest of the folder is listed ahead
        os.kill(hung, signal.SIGSTOP)
        try:
            # a new walk from the first page: its next batch goes to the stopped child
            (root / "data" / "f00.txt").write_bytes(b"a new size, same folder mtime")
            seen = await walk(svc, limit=9)
            assert seen == NAMES
            assert not running(hung)  # killed (SIGKILL stops a stopped process) and reaped
        finally:
            if running(hung):
                os.kill(hung, signal.SIGKILL)
        assert first["next_cursor"]
    finally:
        await svc.close()


async def test_a_write_through_the_api_reaches_the_names_the_child_keeps(service, root):
    lister = service.backend("t")._lister
    assert await asyncio.to_thread(lister.wait_ready, 60)
    assert await walk(service) == NAMES  # the child now keeps the folder's names
    folder = root / "data"
    before = folder.stat()
    await service.mkdir("t", "data/f20b")  # sorts into the third page
    # a file system whose mtime is too coarse to move: only the write itself can tell
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert await walk(service) == sorted([*NAMES, "f20b"])


async def test_closing_the_service_stops_the_child(root):
    svc = StorageService([{"name": "t", "url": str(root)}])
    lister = svc.backend("t")._lister
    assert await asyncio.to_thread(lister.wait_ready, 60)
    pid = lister.pid
    await svc.close()
    assert not running(pid) and lister.pid is None
    assert lister.list(0, "data", 7, None, str(root)) is None  # and starts no other


async def test_a_python_that_cannot_start_is_given_up_on(service, monkeypatch):
    monkeypatch.setattr(lister_module.sys, "executable", "/nonexistent/python3")
    lister = service.backend("t")._lister
    assert not await asyncio.to_thread(lister.wait_ready, 10)
    assert lister.pid is None and lister._failed_starts == lister_module._MAX_FAILED_STARTS
    assert await walk(service) == NAMES  # listed on the pool, as without it


# -- through the REST API ----------------------------------------------------------------------


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def ray_dev_config(root):
    return {"storage_roots": [{"name": "t", "url": str(root)}]}


async def test_a_rest_walk_is_listed_by_the_child_and_embedded_as_json(api, jp_serverapp,
                                                                      root, monkeypatch):
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_ray_dev"]))
    backend = app.service.storage.backend("t")
    assert await asyncio.to_thread(backend._lister.wait_ready, 60)
    listed_by_server = []
    server_lists = local.list_fd
    monkeypatch.setattr(local, "list_fd", lambda *args: (
        listed_by_server.append(args[4:6]), server_lists(*args))[1])
    seen, cursor = [], None
    while True:
        params = {"path": "data", "limit": 7, **({"cursor": cursor} if cursor else {})}
        reply = await api.get("t", "list", params=params)
        assert reply.code == 200, reply.raw
        validate_response(reply.json, "StorageListing")
        seen += reply.json["entries"]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            break
    assert [e["name"] for e in seen] == NAMES
    # the first page, Ray's checkpoint_* probe and the pages ahead: all by the child
    assert listed_by_server == []
    link = next(e for e in seen if e["name"] == "out_link")
    assert link["link"] == "outside_root" and b"outside the root" not in reply.raw


# -- what the review found -----------------------------------------------------------------------


async def test_a_listing_ahead_dropped_by_a_write_does_not_fail_the_request_waiting(
        root, monkeypatch):
    svc = StorageService([{"name": "t", "url": str(root)}], list_process=False)
    backend = svc.backend("t")
    release, started = threading.Event(), threading.Event()
    lists_pages = backend._list_pages_quietly

    def held(*args):  # a listing ahead that takes its time (a slow NFS folder)
        started.set()
        release.wait(30)
        return lists_pages(*args)

    monkeypatch.setattr(backend._ahead, "_list_pages", held)
    awaits_listing = asyncio.Event()

    class Asyncio:  # read_ahead's asyncio, telling when a request awaits a listing ahead
        def __getattr__(self, name):
            return getattr(asyncio, name)

        @staticmethod
        def wait(futures, **kwargs):
            awaits_listing.set()
            return asyncio.wait(futures, **kwargs)

    monkeypatch.setattr(read_ahead, "asyncio", Asyncio())
    try:
        first = await svc.list("t", "data", 7, None, owner="alice")
        await asyncio.to_thread(started.wait, 30)
        waiting = asyncio.ensure_future(
            svc.list("t", "data", 7, first["next_cursor"], owner="alice"))
        await asyncio.wait_for(awaits_listing.wait(), 30)  # it now waits for the listing ahead
        assert not waiting.done()
        await svc.mkdir("t", "data/f07b")  # which the write drops (cancels)
        page = await asyncio.wait_for(waiting, 30)
        # listed on demand, after the write: the new folder is there
        assert [e["name"] for e in entries(page)] == sorted([*NAMES, "f07b"])[7:14]
    finally:
        release.set()
        await svc.close()


def test_the_child_starts_when_the_server_has_descriptors_above_1023(root):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"RLIMIT_NOFILE hard limit {hard}: cannot open 1100 descriptors here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    null = os.open(os.devnull, os.O_RDONLY)
    held = [os.dup(null) for _ in range(1100)]  # the lister's socket gets a number > 1023
    lister = Lister(30, "t")
    fd = os.open(root / "data", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert lister.wait_ready(60)
        assert lister._sock.fileno() > 1023
        (page,) = lister.list(fd, "data", 7, None, str(root))
        assert len(entries(page.entries)) == 7
    finally:
        lister.close()
        for held_fd in (fd, null, *held):
            os.close(held_fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_child_imports_nothing_from_the_servers_working_directory(root, tmp_path,
                                                                      monkeypatch):
    planted = tmp_path / "notebooks"
    planted.mkdir()
    marker = tmp_path / "imported"
    (planted / "orjson.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(planted)
    lister = Lister(30, "t")
    try:
        assert lister.wait_ready(60)
    finally:
        lister.close()
    assert not marker.exists()
