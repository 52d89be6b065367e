"""The journal of what a server is writing: the next start removes only what a process
that is gone left (never a live process's, never another host's), and a promotion such a
process left building or pushing stops showing as running."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import pytest

from jupyter_ray_dev import leftovers
from jupyter_ray_dev.promote.store import PromotionRecord, PromotionStore

pytestmark = [pytest.mark.faults]


@pytest.fixture
def journal(tmp_path, monkeypatch):
    folder = tmp_path / "journal"
    monkeypatch.setenv(leftovers.DIR_ENV, str(folder))
    return folder


def _gone_owner() -> str:
    """The owner name of a process that has exited (a real one, so its PID was real)."""
    proc = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"],
                            stdout=subprocess.PIPE, text=True)
    pid = int(proc.communicate()[0])
    return f"{socket.gethostname()}:{pid}:1"


def _entry(journal, name: str, owner: str, paths: list[str]) -> None:
    journal.mkdir(parents=True, exist_ok=True)
    (journal / f"{name}.json").write_text(json.dumps({"owner": owner, "paths": paths}))


def test_only_what_a_gone_process_left_is_removed(journal, tmp_path):
    dead_dir, dead_file, live_dir, other_host = (tmp_path / n for n in ("a", "b", "c", "d"))
    dead_dir.mkdir()
    (dead_dir / "x").write_text("x")
    dead_file.write_text("half an upload")
    live_dir.mkdir()
    other_host.mkdir()
    _entry(journal, "dead", _gone_owner(), [str(dead_dir), str(dead_file)])
    _entry(journal, "live", leftovers.owner(), [str(live_dir)])
    _entry(journal, "other", "another-pod:1:1", [str(other_host)])

    removed = leftovers.sweep()
    assert sorted(removed) == sorted([str(dead_dir), str(dead_file)])
    assert not dead_dir.exists() and not dead_file.exists()
    assert live_dir.exists() and other_host.exists()
    assert sorted(p.stem for p in journal.iterdir()) == ["live", "other"]


def test_a_pid_given_to_a_new_process_is_not_the_owner():
    me = leftovers.owner()
    host, pid, start = me.rsplit(":", 2)
    assert not leftovers.owner_gone(me)
    assert leftovers.owner_gone(f"{host}:{pid}:{int(start) + 1}")  # same PID, later start
    assert leftovers.owner_gone(None)  # written before owners were recorded


def test_a_claim_goes_when_its_work_ends(journal, tmp_path):
    folder, held = leftovers.claimed_tempdir("x-", tmp_path)
    assert len(list(journal.iterdir())) == 1
    leftovers.remove_tempdir(folder, held)
    assert not folder.exists() and list(journal.iterdir()) == []


def test_a_build_a_gone_server_left_running_says_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "p.sqlite"

    def record(id_: str, status: str, parity=None) -> PromotionRecord:
        return PromotionRecord(id=id_, project="proj", entrypoint="proj/a.py", kind="build",
                               status=status, inputs_hash="h", dockerfile="", manifests="",
                               requirements="", log="STEP 1/3", parity=parity)

    async def put(*records: PromotionRecord) -> None:
        store = PromotionStore(path)
        for r in records:
            await store.put(r)
        await store.close()

    import jupyter_ray_dev.promote.store as store_module

    gone = _gone_owner()
    with monkeypatch.context() as m:  # written by a server that is gone now
        m.setattr(store_module, "owner", lambda: gone)
        asyncio.run(put(record("building", "building"),
                        record("pushing", "pushing", {"status": "passed"}),
                        record("blocked", "pushing", {"status": "failed"}),
                        record("done", "pushed")))
    asyncio.run(put(record("mine", "building")))  # this process's own, running

    async def listed() -> dict[str, PromotionRecord]:
        store = PromotionStore(path)
        found = {r.id: r for r in await store.list()}
        await store.close()
        return found

    found = asyncio.run(listed())
    assert found["building"].status == "interrupted"
    assert "Build again" in found["building"].error
    assert found["building"].log.splitlines() == ["STEP 1/3", found["building"].error]
    assert found["pushing"].status == "built" and "push it again" in found["pushing"].error
    assert found["blocked"].status == "blocked"
    assert found["mine"].status == "building"
    assert found["done"].status == "pushed" and found["done"].error is None
