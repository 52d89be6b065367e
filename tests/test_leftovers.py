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


# -- an S3 multipart upload a killed server started (moto, a real S3 API) -----------------------

def _s3_root(moto_server, name: str = "s3"):
    from storage_fixtures import BUCKET, s3_options

    from jupyter_ray_dev.storage.roots import parse_root

    # the credentials live in the configuration only: the claim names the root
    return parse_root({"name": name, "url": f"s3://{BUCKET}/left",
                       "options": s3_options(moto_server.url)})


def _started_upload(s3_client, key: str) -> str:
    from storage_fixtures import BUCKET

    upload = s3_client.call_s3("create_multipart_upload", Bucket=BUCKET, Key=key)
    s3_client.call_s3("upload_part", Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                      PartNumber=1, Body=b"x" * (5 << 20))
    return upload["UploadId"]


def _pending(s3_client, key: str) -> list[str]:
    from storage_fixtures import BUCKET

    out = s3_client.call_s3("list_multipart_uploads", Bucket=BUCKET, Prefix=key)
    return [u["UploadId"] for u in out.get("Uploads", []) if u["Key"] == key]


def test_an_s3_upload_a_gone_server_started_is_aborted(journal, moto_server, s3_client):
    import time

    from storage_fixtures import BUCKET

    from jupyter_ray_dev.storage.backends.remote import abort_interrupted_upload

    root = _s3_root(moto_server)
    keys = {n: f"left/{n}-{time.monotonic_ns()}.bin" for n in ("dead", "noid", "live")}
    ids = {n: _started_upload(s3_client, k) for n, k in keys.items()}

    def upload(n: str, with_id: bool = True) -> dict:
        return {"root": "s3", "protocol": "s3", "bucket": BUCKET, "key": keys[n],
                "id": ids[n] if with_id else None}

    journal.mkdir(parents=True)
    for name, owner, spec in (("dead", _gone_owner(), upload("dead")),
                              # killed before the upload's id was written down
                              ("noid", _gone_owner(), upload("noid", with_id=False)),
                              ("live", leftovers.owner(), upload("live"))):
        (journal / f"{name}.json").write_text(json.dumps({"owner": owner, "paths": [],
                                                          "upload": spec}))

    # no way to abort (a sweep without the configuration): the claims wait
    leftovers.sweep()
    assert sorted(p.stem for p in journal.iterdir()) == ["dead", "live", "noid"]
    assert _pending(s3_client, keys["dead"]) == [ids["dead"]]

    removed = leftovers.sweep(abort_upload=lambda u: abort_interrupted_upload([root], u))
    assert len(removed) == 2, removed
    assert _pending(s3_client, keys["dead"]) == [] and _pending(s3_client, keys["noid"]) == []
    assert _pending(s3_client, keys["live"]) == [ids["live"]]  # its server still runs
    assert sorted(p.stem for p in journal.iterdir()) == ["live"]
    s3_client.call_s3("abort_multipart_upload", Bucket=BUCKET, Key=keys["live"],
                      UploadId=ids["live"])


def test_an_s3_upload_is_kept_for_the_next_start_when_its_endpoint_is_down(
        journal, moto_server, s3_client):
    import time

    from storage_fixtures import BUCKET, free_port, s3_options

    from jupyter_ray_dev.storage.backends.remote import abort_interrupted_upload
    from jupyter_ray_dev.storage.roots import parse_root

    key = f"left/down-{time.monotonic_ns()}.bin"
    upload_id = _started_upload(s3_client, key)
    journal.mkdir(parents=True)
    claim = journal / "dead.json"
    claim.write_text(json.dumps({"owner": _gone_owner(), "paths": [], "upload": {
        "root": "s3", "protocol": "s3", "bucket": BUCKET, "key": key, "id": upload_id}}))
    down = parse_root({"name": "s3", "url": f"s3://{BUCKET}/left",
                       "options": s3_options(f"http://127.0.0.1:{free_port()}")})
    assert leftovers.sweep(abort_upload=lambda u: abort_interrupted_upload([down], u)) == []
    assert claim.exists() and _pending(s3_client, key) == [upload_id]
    # the root no longer configured: kept too
    assert leftovers.sweep(abort_upload=lambda u: abort_interrupted_upload([], u)) == []
    assert claim.exists()
    # the endpoint back at the next start: aborted
    root = _s3_root(moto_server)
    assert leftovers.sweep(abort_upload=lambda u: abort_interrupted_upload([root], u))
    assert not claim.exists() and _pending(s3_client, key) == []


def test_a_writer_claims_its_multipart_upload_until_it_is_committed(journal, moto_server,
                                                                      s3_client):
    import concurrent.futures
    import time

    from storage_fixtures import BUCKET, S3_KEY, S3_SECRET

    from jupyter_ray_dev.storage.backends import make_backend

    backend = make_backend(_s3_root(moto_server), concurrent.futures.ThreadPoolExecutor(2), 60)
    name = f"w-{time.monotonic_ns()}.bin"

    def claims() -> list[dict]:
        return [json.loads(p.read_text()) for p in journal.glob("*.json")]

    async def run(finish: str) -> None:
        writer = await backend.open_writer(f"{finish}-{name}", overwrite=False)
        [claim] = claims()
        assert claim["upload"]["id"] is None  # claimed before S3 heard of it
        await writer.write(b"x" * (backend.part_size + 1))  # the first part goes up
        [claim] = claims()
        text = json.dumps(claim)
        assert S3_KEY not in text and S3_SECRET not in text  # the root's name, no secret
        assert claim["upload"]["root"] == "s3"
        assert _pending(s3_client, claim["upload"]["key"]) == [claim["upload"]["id"]]
        await (writer.commit() if finish == "commit" else writer.abort())
        assert claims() == []
        assert _pending(s3_client, claim["upload"]["key"]) == []

    asyncio.run(run("commit"))
    asyncio.run(run("abort"))
    assert s3_client.exists(f"{BUCKET}/left/commit-{name}")


def test_a_gcs_writer_claims_its_resumable_session_and_a_sweep_cancels_it(
        journal, gcs_emulator, gcs_client):
    """The emulator lists no sessions and refuses cancels (501): this shows the session is
    claimed, released when committed, and handed to a cancel that the sweep then settles
    (a refusal is final: asking again at every start would not change it)."""
    import concurrent.futures
    import time

    from storage_fixtures import BUCKET, gcs_options

    from jupyter_ray_dev.storage.backends import make_backend
    from jupyter_ray_dev.storage.backends.remote import abort_interrupted_upload
    from jupyter_ray_dev.storage.roots import parse_root

    root = parse_root({"name": "gs", "url": f"gs://{BUCKET}/left",
                       "options": gcs_options(gcs_emulator.url)})
    backend = make_backend(root, concurrent.futures.ThreadPoolExecutor(2), 60)
    name = f"left-{time.monotonic_ns()}.bin"

    async def run() -> dict:
        writer = await backend.open_writer(name, overwrite=False)
        await writer.write(b"x" * (backend.part_size + 1))  # the session starts
        [claim] = [json.loads(p.read_text()) for p in journal.glob("*.json")]
        writer.handle.closed = True  # dropped as a killed server drops it
        return claim

    claim = asyncio.run(run())
    assert (claim["upload"]["id"] or "").startswith("http"), claim  # the session's URL
    [file] = journal.glob("*.json")
    claim["owner"] = _gone_owner()
    file.write_text(json.dumps(claim))
    [what] = leftovers.sweep(abort_upload=lambda u: abort_interrupted_upload([root], u))
    assert f"gs://{BUCKET}/left/{name}" in what, what
    assert list(journal.iterdir()) == []
    assert not gcs_client.exists(f"{BUCKET}/left/{name}")
