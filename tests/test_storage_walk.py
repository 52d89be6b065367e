"""Paged walks of a local folder with the next pages listed ahead (LocalBackend.list_page_for).

What a walk returns must not depend on the pages ahead: every entry exactly once, the
same answer as a walk without them when files come and go between pages, writes through
the API seen at once, pages never served to another user, memory bounded. Every case
runs twice: pages ahead listed by the lister process (the default), and on the pool.
"""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from jupyter_ray_dev.storage import StorageService
from jupyter_ray_dev.storage.backends import read_ahead
from jupyter_ray_dev.storage.errors import StorageNotFound


@pytest.fixture
def folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(30):
        (data / f"f{i:02d}.txt").write_bytes(b"x" * i)
    return data


@pytest.fixture(params=["lister process", "pool"])
def service(request, tmp_path):
    svc = StorageService([{"name": "t", "url": str(tmp_path)}],
                         list_process=request.param == "lister process")
    lister = svc.backend("t")._lister
    if lister is not None:  # started now, so the walks below use it from their 2nd page
        assert lister.wait_ready(60)
    yield svc
    if lister is not None:
        lister.close()  # what the service's close does (test_storage_lister.py), by PID
    svc._executor.shutdown(wait=True)  # nothing else to close: no uploads, local only


def entries(page):
    """A page's entries as a client reads them (the lister's come as JSON already)."""
    value = page["entries"]
    return orjson.loads(value if isinstance(value, bytes) else orjson.dumps(value))


async def ahead_settled(svc: StorageService) -> None:
    """Wait until every page listed ahead is listed, so a change made next happens after
    it (the case the serve-time check exists for)."""
    await asyncio.sleep(0)  # the listing ahead starts once the reply is written
    await svc.backend("t")._ahead.settled()


async def walk(svc, owner, limit=7, between=None):
    names, cursor, page_no = [], None, 0
    while True:
        page = await svc.list("t", "data", limit, cursor, owner=owner)
        await asyncio.sleep(0)  # a client reads the reply before asking for the next page
        names += [e["name"] for e in entries(page)]
        cursor, page_no = page["next_cursor"], page_no + 1
        if cursor is None:
            return names
        if between is not None:
            await ahead_settled(svc)
            between(page_no)


async def test_a_walk_with_pages_ahead_returns_every_file_exactly_once(service, folder):
    for limit in (1, 7, 30, 500):
        seen = await walk(service, "alice", limit)
        assert seen == sorted(f"f{i:02d}.txt" for i in range(30))
        assert seen == await walk(service, None, limit)  # no page ahead: the same answer
    entry = entries(await service.list("t", "data", 7, None, owner="alice"))[3]
    assert entry == {"name": "f03.txt", "path": "data/f03.txt", "kind": "file", "size": 3,
                     "modified": entry["modified"]}


@pytest.mark.parametrize("change", ["create", "delete", "both"])
async def test_files_created_or_deleted_between_pages_count_as_without_a_page_ahead(
        service, folder, change):
    def mutate(page_no, suffix):
        if page_no != 1:
            return
        if change in ("create", "both"):
            (folder / f"f09{suffix}.txt").write_bytes(b"new")  # sorts into page 2
        if change in ("delete", "both"):
            (folder / "f10.txt").unlink()  # was in page 2, listed ahead

    with_ahead = await walk(service, "alice", between=lambda n: mutate(n, "a"))
    # undo, then the same changes without a page ahead
    (folder / "f10.txt").write_bytes(b"x" * 10)
    for extra in folder.glob("f09a.txt"):
        extra.unlink()
    without = await walk(service, None, between=lambda n: mutate(n, "a"))
    assert with_ahead == without
    assert ("f09a.txt" in with_ahead) == (change != "delete")
    assert ("f10.txt" in with_ahead) == (change == "create")


async def test_a_write_through_the_api_drops_the_page_ahead(service, folder):
    first = await service.list("t", "data", 7, None, owner="alice")
    await ahead_settled(service)
    backend = service.backend("t")
    assert len(backend._ahead) >= 1
    before = folder.stat()
    await service.mkdir("t", "data/f08b")
    assert len(backend._ahead) == 0
    # a file system whose mtime is too coarse to move: only the write itself can tell
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    second = await service.list("t", "data", 7, first["next_cursor"], owner="alice")
    assert "f08b" in [e["name"] for e in entries(second)]


async def test_a_page_ahead_is_served_to_its_user_only(service, folder):
    first = await service.list("t", "data", 7, None, owner="alice")
    await ahead_settled(service)
    walks = service.backend("t")._ahead._walks
    ahead = len(walks["alice", "data", 7].pages)
    assert ahead >= 1
    # bob presents alice's cursor: he gets the page, listed for him, not hers
    bob = await service.list("t", "data", 7, first["next_cursor"], owner="bob")
    assert [e["name"] for e in entries(bob)] == [f"f{i:02d}.txt" for i in range(7, 14)]
    assert len(walks["alice", "data", 7].pages) == ahead
    alice = await service.list("t", "data", 7, first["next_cursor"], owner="alice")
    assert entries(alice) == entries(bob)
    assert len(walks["alice", "data", 7].pages) == ahead - 1  # served once


async def test_pages_ahead_are_bounded(service, folder, tmp_path):
    for n in range(3):
        (tmp_path / f"other{n}").mkdir()
    backend = service.backend("t")
    for user in range(10):
        await service.list("t", "data", 5, None, owner=f"user{user}")
        await ahead_settled(service)
    walks = backend._ahead.max_walks
    assert len(backend._ahead._walks) == walks
    # each walk keeps at most two batches ahead
    assert len(backend._ahead) <= walks * 2 * backend._pages_per_batch(5)


async def test_a_folder_gone_between_pages_fails_as_before(service, folder):
    first = await service.list("t", "data", 7, None, owner="alice")
    await ahead_settled(service)
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    with pytest.raises(StorageNotFound):
        await service.list("t", "data", 7, first["next_cursor"], owner="alice")


async def test_an_expired_page_ahead_is_listed_afresh(service, folder, monkeypatch):
    first = await service.list("t", "data", 7, None, owner="alice")
    await ahead_settled(service)
    backend = service.backend("t")
    clock = read_ahead.time.monotonic
    monkeypatch.setattr(read_ahead.time, "monotonic", lambda: clock() + backend._ahead.ttl + 1)
    (folder / "f07.txt").write_bytes(b"changed size, same folder mtime")
    page = await service.list("t", "data", 7, first["next_cursor"], owner="alice")
    assert entries(page)[0]["size"] == len(b"changed size, same folder mtime")


async def test_a_first_page_again_at_once_shows_what_changed_in_an_old_folder(service, folder):
    """A first page listed right after another may reuse its names only while the folder
    is unchanged: a folder last changed long ago (so its names can be reused) still shows
    a file added, or removed, between two first pages a moment apart."""
    old = os.stat(folder).st_mtime - 3600
    os.utime(folder, (old, old))
    first = await service.list("t", "data", 100, None, owner="u")
    assert len(entries(first)) == 30
    again = await service.list("t", "data", 100, None, owner="u")  # the reuse path
    assert [e["name"] for e in entries(again)] == [e["name"] for e in entries(first)]
    (folder / "f00.new").write_bytes(b"new")
    (folder / "f01.txt").unlink()
    after = [e["name"] for e in entries(await service.list("t", "data", 100, None, owner="u"))]
    assert "f00.new" in after and "f01.txt" not in after and len(after) == 30
