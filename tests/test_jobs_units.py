"""The jobs core's pure parts: validation, path confinement, the upload-size walk
(checked against Ray's own packaging), notebook conversion, the history store,
and the log follower's resume logic. None of these needs a Ray head.
"""

from __future__ import annotations

import asyncio
import json
import os
import zipfile

import nbformat
import pytest

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.jobs import JobRecord, JobSettings, JobStore, LogFollower, error_summary
from jupyter_ray_dev.jobs.environment import build_job_environment
from jupyter_ray_dev.project.discovery import find_project, resolve_file_and_project
from jupyter_ray_dev.project.files import DEFAULT_EXCLUDES, measure_upload
from jupyter_ray_dev.project.notebook import convert_notebook

# --- request validation ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "file"),
        ({"file": "a.txt"}, "file"),
        ({"file": "a.py", "resources": {"num_cpus": -1}}, "resources.num_cpus"),
        ({"file": "a.py", "resources": {"num_cpus": "2"}}, "resources.num_cpus"),
        ({"file": "a.py", "resources": {"num_cpus": True}}, "resources.num_cpus"),
        ({"file": "a.py", "resources": {"num_cpus": 0.00001}}, "resources.num_cpus"),
        ({"file": "a.py", "resources": {"num_gpus": 1.5}}, "resources.num_gpus"),
        ({"file": "a.py", "resources": {"memory": 1.5}}, "resources.memory"),
        ({"file": "a.py", "resources": {"cpus": 1}}, "resources.cpus"),
        ({"file": "a.py", "resources": {"custom": {"GPU": 1}}}, "resources.custom.GPU"),
        ({"file": "a.py", "resources": {"custom": {"x": -2}}}, "resources.custom.x"),
        ({"file": "a.py", "resources": {"custom": [1]}}, "resources.custom"),
        ({"file": "a.py", "resources": 4}, "resources"),
        ({"file": "a.py", "args": [1, 2]}, "args[0]"),
        ({"file": "a.py", "args": "unclosed 'quote"}, "args"),
        ({"file": "a.py", "args": {"a": 1}}, "args"),
        ({"file": "a.py", "magics": "ignore"}, "magics"),
        ({"file": "a.py", "entrypoint": "rm -rf /"}, "entrypoint"),
        ([], "body"),
    ],
)
def test_bad_requests_name_the_field(body, field):
    with pytest.raises(BadRequest) as err:
        JobSettings.from_request(body)
    assert err.value.details["field"] == field
    assert err.value.status == 400
    assert len(err.value.message) > 20  # says what to do, not just "invalid"


def test_valid_request_normalises_for_storage_and_rerun():
    settings = JobSettings.from_request({
        "file": "p/train.py", "args": "--lr 0.1 --name 'my run'",
        "resources": {"num_cpus": 1, "num_gpus": 0.5, "memory": 2.0 * 1024**3,
                      "custom": {"my_custom": 1}},
    })
    assert settings.args == ("--lr", "0.1", "--name", "my run")
    assert settings.resources.memory == 2 * 1024**3 and isinstance(settings.resources.memory, int)
    assert settings.resources.submit_kwargs() == {
        "entrypoint_num_cpus": 1, "entrypoint_num_gpus": 0.5,
        "entrypoint_memory": 2 * 1024**3, "entrypoint_resources": {"my_custom": 1},
    }
    stored = json.loads(json.dumps(settings.to_dict()))
    assert JobSettings.from_request(stored) == settings


# --- paths -----------------------------------------------------------------------


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "proj" / "sub").mkdir(parents=True)
    (root / "proj" / "sub" / "run.py").write_text("print(1)\n")
    (root / "proj" / "top.py").write_text("print(1)\n")
    return root.resolve()


def test_paths_stay_inside_the_root(root, tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_text("print('secret')\n")
    (root / "link.py").symlink_to(outside)
    (root / "linkdir").symlink_to(tmp_path)
    for path in ("../secret.py", "proj/../../secret.py", str(outside), "link.py",
                 "linkdir/secret.py"):
        with pytest.raises(BadRequest) as err:
            resolve_file_and_project(root, path, None)
        assert err.value.details["field"] == "file", path
    with pytest.raises(BadRequest) as err:
        resolve_file_and_project(root, "proj/missing.py", None)
    assert "no file" in err.value.message
    # absolute paths inside the root are fine, as are symlinks that stay inside
    (root / "inner.py").symlink_to(root / "proj" / "top.py")
    top = root / "proj" / "top.py"
    assert resolve_file_and_project(root, str(top), None)[0] == top
    assert resolve_file_and_project(root, "inner.py", None)[0] == root / "proj" / "top.py"


def test_project_is_the_nearest_folder_with_runtime_env_else_the_files_folder(root):
    run = root / "proj" / "sub" / "run.py"
    assert find_project(root, run) == root / "proj" / "sub"
    (root / "proj" / "runtime_env.yaml").write_text("env_vars: {A: '1'}\n")
    assert find_project(root, run) == root / "proj"
    with pytest.raises(BadRequest) as err:
        resolve_file_and_project(root, "proj/top.py", "proj/sub")
    assert err.value.details["field"] == "project"


def test_working_dir_local_when_on_a_shared_root(root):
    env = build_job_environment(root / "proj", root, (), {"env_vars": {"A": "1"}})
    assert env.runtime_env == {"env_vars": {"A": "1"}, "working_dir": str(root / "proj")}
    assert env.upload_dir == root / "proj"
    shared = build_job_environment(root / "proj", root, (root,), {})
    assert shared.runtime_env["working_dir"] == f"local://{root / 'proj'}"
    assert shared.upload_dir is None
    remote = build_job_environment(root / "proj", root, (), {"working_dir": "s3://b/p.zip"})
    assert remote.runtime_env["working_dir"] == "s3://b/p.zip" and remote.upload_dir is None
    with pytest.raises(BadRequest) as err:
        build_job_environment(root / "proj", root, (), {"working_dir": "../.."})
    assert err.value.details["field"] == "runtime_env.working_dir"


# --- upload size -------------------------------------------------------------------


def _tree(base, files):
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def test_upload_size_matches_what_ray_packs(tmp_path, monkeypatch):
    """Same folder, same excludes: our walk counts exactly the files Ray's own zip holds."""
    from ray._private.runtime_env.packaging import _zip_files

    monkeypatch.delenv("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", raising=False)
    monkeypatch.delenv("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", raising=False)
    proj = tmp_path / "proj"
    _tree(proj, {
        "train.py": "x" * 100,
        "data/big.csv": "d" * 5000,
        "data/keep.txt": "k" * 7,
        "logs/run.log": "l" * 300,
        "pkg/mod.py": "m" * 40,
        "pkg/__pycache__/mod.cpython-311.pyc": "c" * 900,
        "pkg/.gitignore": "*.tmp\n/local-only/\n",
        "pkg/scratch.tmp": "t" * 600,
        "pkg/local-only/a.py": "a" * 70,
        "scratch.tmp": "kept: pkg's .gitignore applies in pkg only" * 3,
        ".git/objects/x": "g" * 800,
        ".venv/lib/site.py": "v" * 800,
        ".gitignore": "logs/\n",
        ".rayignore": "data/*.csv\n",
        "checkpoints/model.bin": b"\0" * 2000,
    })
    excludes = ["checkpoints"]
    size = measure_upload(proj, excludes)

    zip_path = tmp_path / "pkg.zip"
    _zip_files(str(proj), DEFAULT_EXCLUDES.split(",") + excludes, str(zip_path),
               include_gitignore=True)
    with zipfile.ZipFile(zip_path) as zf:
        packed = {i.filename: i.file_size for i in zf.infolist() if not i.is_dir()}
    assert size.files == len(packed)
    assert size.total_bytes == sum(packed.values())
    assert "data/keep.txt" in packed and "data/big.csv" not in packed  # sanity of the fixture
    assert size.top(1) == [("scratch.tmp", len("kept: pkg's .gitignore applies in pkg only") * 3)]


def test_a_walk_after_an_ignore_file_changes_follows_the_new_rules(tmp_path, monkeypatch):
    """Matches are remembered per spec between walks: an edited .gitignore is a new spec,
    and a folder holding the same rules as another answers the same. (A memo of two
    paths: one that fills up while matching still answers right.)"""
    from jupyter_ray_dev.project import files

    monkeypatch.setattr(files._Spec, "_MEMO_LIMIT", 2)
    _tree(tmp_path / "p", {"a.py": "1", "b.log": "22", "sub/c.log": "333",
                           "sub/.gitignore": "*.log\n", "other/d.log": "4444"})
    assert measure_upload(tmp_path / "p").files == 4  # sub/c.log is ignored
    (tmp_path / "p" / ".gitignore").write_text("*.log\n")
    after = measure_upload(tmp_path / "p")
    assert sorted(p for p, _ in after.top(10)) == [".gitignore", "a.py", "sub/.gitignore"]
    (tmp_path / "p" / ".gitignore").write_text("a.py\n")
    assert sorted(p for p, _ in measure_upload(tmp_path / "p").top(10)) == [
        ".gitignore", "b.log", "other/d.log", "sub/.gitignore"]


def test_upload_size_survives_symlink_loops(tmp_path):
    _tree(tmp_path / "p", {"a.py": "abc"})
    (tmp_path / "p" / "loop").symlink_to(tmp_path / "p")
    (tmp_path / "p" / "dangling").symlink_to(tmp_path / "nothing")
    size = measure_upload(tmp_path / "p")
    # the loop leads back to a folder already walked, the dangling link to nothing: a.py alone
    assert (size.total_bytes, size.files, size.top(10)) == (3, 1, [("a.py", 3)])


# --- notebooks -------------------------------------------------------------------------


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.cells = [nbformat.v4.new_markdown_cell("# title"),
                *[nbformat.v4.new_code_cell(c) for c in cells]]
    nbformat.write(nb, str(path))


def test_notebook_magics_become_no_ops_with_a_warning_per_line(tmp_path):
    nb = tmp_path / "n.ipynb"
    _notebook(nb, "%pip install requests\nimport sys\nprint('one', sys.argv[1:])",
              "files = !ls\nif True:\n    %time y = 2\nprint('files', files)",
              "%%bash\necho never", "display({'k': 1})")
    converted = convert_notebook(nb, "n.ipynb")
    assert [(w["cell"], w["line"], w["source"]) for w in converted.warnings] == [
        (2, 1, "%pip install requests"), (3, 1, "files = !ls"), (3, 3, "%time y = 2"),
        (4, 1, "%%bash"),
    ]
    assert "runtime_env.yaml" in converted.warnings[0]["message"]
    script = tmp_path / "script.py"
    script.write_text(converted.script)
    out = os.popen(f"cd {tmp_path} && python {script} A").read()
    assert out.splitlines() == ["one ['A']", "files None", "{'k': 1}"]
    # same script, same module name: Ray reuses the uploaded package
    assert convert_notebook(nb, "n.ipynb").module == converted.module


def test_notebook_magics_refused_on_request_name_the_cell(tmp_path):
    nb = tmp_path / "n.ipynb"
    _notebook(nb, "print(1)", "!pip install x")
    with pytest.raises(BadRequest) as err:
        convert_notebook(nb, "proj/n.ipynb", magics="error")
    assert "cell 3 line 1" in err.value.message and "proj/n.ipynb" in err.value.message
    assert err.value.details["cells"] == [{"cell": 3, "line": 1, "source": "!pip install x"}]


def test_not_a_python_notebook_or_not_a_notebook(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(BadRequest):
        convert_notebook(bad, "bad.ipynb")
    r_nb = tmp_path / "r.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    nbformat.write(nb, str(r_nb))
    with pytest.raises(BadRequest) as err:
        convert_notebook(r_nb, "r.ipynb")
    assert "R notebook" in err.value.message


def test_error_summary_is_the_exception_line():
    message = ("Job entrypoint command failed with exit code 1, last available logs:\n"
               "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
               "    raise ValueError('bad')\nValueError: bad input 42\n")
    assert error_summary(message) == "ValueError: bad input 42"
    assert error_summary("Job finished successfully.") is None


# --- the store ---------------------------------------------------------------------------


def _record(i, address="http://ray:8265"):
    return JobRecord(submission_id=f"raysubmit_{i}", address=address, project="p",
                     file=f"p/f{i}.py", user="u", settings={"file": f"p/f{i}.py", "n": i},
                     created=1000.0 + i)


async def test_store_survives_a_restart_and_concurrent_writers(tmp_path):
    path = tmp_path / "deep" / "jobs.sqlite"
    first, second = JobStore(path), JobStore(path)  # two servers on one data dir
    try:
        await asyncio.gather(*(first.add(_record(i)) for i in range(0, 40, 2)),
                             *(second.add(_record(i)) for i in range(1, 40, 2)),
                             first.add(_record(99, address="http://other:8265")))
        assert len(await first.list("http://ray:8265")) == 40
        assert len(await second.list(None)) == 41
    finally:
        await first.close()
        await second.close()
    restarted = JobStore(path)
    try:
        records = await restarted.list("http://ray:8265")
        assert [r.submission_id for r in records][:2] == ["raysubmit_39", "raysubmit_38"]
        assert (await restarted.get("raysubmit_7")).settings == {"file": "p/f7.py", "n": 7}
        assert await restarted.delete("raysubmit_7") is True
        assert await restarted.get("raysubmit_7") is None
        assert await restarted.delete("raysubmit_7") is False
    finally:
        await restarted.close()


async def test_store_never_runs_on_the_event_loop_thread(tmp_path):
    import threading

    store = JobStore(tmp_path / "j.sqlite")
    seen = []
    original = store._add
    store._add = lambda record: (seen.append(threading.current_thread()), original(record))[1]
    await store.add(_record(1))
    await store.close()
    assert seen and seen[0] is not threading.current_thread()


async def test_a_long_job_list_is_decoded_off_the_event_loop_thread(monkeypatch):
    """Ray's job list grows with every job the cluster ran; decoding it on the loop held
    the server for 164 ms in the soak. A real dashboard-shaped server on loopback answers
    a list past the threshold: the same jobs come back, decoded on another thread."""
    import threading

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application, RequestHandler

    from concurrent.futures import ThreadPoolExecutor

    from jupyter_ray_dev.cluster import dashboard
    from jupyter_ray_dev.cluster.auth import RayAuth
    from jupyter_ray_dev.jobs.ray_client import RayJobsClient

    jobs = [{"submission_id": f"raysubmit_{i}", "status": "SUCCEEDED",
             "entrypoint": "python train.py " + "x" * 200} for i in range(1000)]
    payload = json.dumps(jobs).encode()
    assert len(payload) > dashboard.DECODE_ON_THREAD

    class Jobs(RequestHandler):
        def get(self):
            self.set_header("Content-Type", "application/json")
            self.write(payload)

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([(r"/api/jobs/", Jobs)]))
    server.add_sockets(sockets)
    threads, original = [], json.loads

    def loads(text):
        threads.append(threading.current_thread())
        return original(text)

    monkeypatch.setattr(dashboard.json, "loads", loads)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        # as the jobs service asks for it: through RayJobsClient, with the service's pool
        client = RayJobsClient(lambda: f"http://127.0.0.1:{sockets[0].getsockname()[1]}",
                               lambda: RayAuth("none"), pool)
        assert await client.list() == jobs
    finally:
        server.stop()
        pool.shutdown()
    assert threads and threading.current_thread() not in threads


# --- the log follower: resume logic -----------------------------------------------------
# Ray's real stream is cut in test_jobs_stream.py; here a scripted upstream (a stand-in,
# because no real connection can be made to drop at *every* chunk boundary on cue) checks
# the bookkeeping: chunks ending mid-line, drops after any chunk, a drop before the first.


class ScriptedRay:
    def __init__(self, log: str, chunk: int, drops_after: list[int]):
        self.log, self.chunk, self.drops_after = log, chunk, list(drops_after)
        self.streams = 0
        self.finished = False

    async def info(self, job_id):
        return {"status": "SUCCEEDED" if self.finished else "RUNNING", "message": None,
                "error_type": None}

    async def full_log(self, job_id):
        return self.log

    async def tail(self, job_id):
        self.streams += 1
        limit = self.drops_after.pop(0) if self.drops_after else None
        pieces = [self.log[i:i + self.chunk] for i in range(0, len(self.log), self.chunk)]
        for i, piece in enumerate(pieces):
            if limit is not None and i >= limit:
                raise ConnectionResetError("upstream dropped")  # as aiohttp does
            await asyncio.sleep(0)
            yield piece
        self.finished = True


@pytest.mark.parametrize("chunk", [1, 7, 64])
@pytest.mark.parametrize("drops", [[], [0], [3, 1, 5], [2, 2, 2, 2, 2, 2, 2, 2]])
async def test_follower_delivers_every_line_once_in_order_across_drops(chunk, drops):
    lines = [f"line {i} " + "x" * (i % 13) for i in range(60)]
    log = "\n".join(lines) + "\nlast line without newline"
    ray = ScriptedRay(log, chunk, drops)
    follower = LogFollower(ray.info, ray.full_log, ray.tail, status_interval=5,
                           retry_delay=0, max_retry_delay=0)
    events = [e async for e in follower.follow("j")]
    got = [e for e in events if e["type"] == "line"]
    assert [e["line"] for e in got] == [*lines, "last line without newline"]
    assert [e["n"] for e in got] == list(range(61))
    assert events[0]["type"] == "status" and events[-1] == {
        "type": "end", "status": "SUCCEEDED", "message": None, "error_type": None}
    assert ray.finished


async def test_follower_resumes_from_a_line_number():
    ray = ScriptedRay("a\nb\nc\nd\n", 3, [])
    follower = LogFollower(ray.info, ray.full_log, ray.tail, retry_delay=0)
    got = [e["line"] async for e in follower.follow("j", start_line=2) if e["type"] == "line"]
    assert got == ["c", "d"]


@pytest.mark.parametrize("start", [0, 2, 5, 7])
async def test_batched_follow_sends_the_same_lines_a_chunk_per_message(start):
    """What the WebSocket sends: one ``lines`` message per chunk, numbered by its first."""
    log = "a\nb\nc\nd\ne\nf"

    def follower() -> LogFollower:
        ray = ScriptedRay(log, 4, [1])  # drops after its first chunk
        return LogFollower(ray.info, ray.full_log, ray.tail, retry_delay=0)

    per_line = [e async for e in follower().follow("j", start_line=start)
                if e["type"] == "line"]
    batches = [e async for e in follower().follow("j", start_line=start, batch=True)
               if e["type"] not in ("status", "end")]
    assert all(b["type"] == "lines" and b["lines"] for b in batches)
    flat = [{"type": "line", "n": b["n"] + i, "line": text}
            for b in batches for i, text in enumerate(b["lines"])]
    assert flat == per_line == [{"type": "line", "n": n, "line": "abcdef"[n]}
                                for n in range(start, 6)]


def test_missing_ray_client_is_a_503_that_says_what_to_install():
    from jupyter_ray_dev.jobs.ray_client import RayClientMissing, import_ray

    with pytest.raises(RayClientMissing) as err:
        import_ray("ray.no_such_module_here")
    assert err.value.status == 503 and "pip install 'ray[default]" in err.value.message


# --- the local driver log ----------------------------------------------------------------


async def test_local_driver_log_reads_like_ray_while_the_file_grows(tmp_path):
    """Split multi-byte characters and \\r\\n pairs across writes: the text (and so every
    character offset) equals what Ray's text-mode read of the finished file gives."""
    from concurrent.futures import ThreadPoolExecutor

    from jupyter_ray_dev.jobs.driver_log import LocalDriverLogs

    path = tmp_path / "job-driver-x.log"
    path.write_bytes(b"")
    pieces = ["héllo ".encode()[:2], "héllo ".encode()[2:], b"line one\r", b"\nline two\r\n",
              "ünïcode ✓\n".encode()[:5], "ünïcode ✓\n".encode()[5:], b"progress\rdone\n"]
    executor = ThreadPoolExecutor(1)
    logs = LocalDriverLogs(tmp_path, None, executor, poll_interval=0.01)
    received = []

    async def writer():
        for piece in pieces:
            with open(path, "ab") as f:
                f.write(piece)
            await asyncio.sleep(0.03)

    async def reader():
        async for text in logs.tail(path):
            received.append(text)
            if "".join(received).endswith("done\n"):
                return

    await asyncio.wait_for(asyncio.gather(writer(), reader()), timeout=30)
    executor.shutdown()
    with open(path) as f:  # how Ray reads it (job_log_storage_client.get_logs)
        assert "".join(received) == f.read()


async def test_a_local_log_whose_poller_stops_hands_over_instead_of_hanging(tmp_path):
    """The poller's pool gone (a service closing, a pool that failed): a follower hears an
    OSError, which makes the log follower switch to Ray's stream, instead of waiting."""
    from concurrent.futures import ThreadPoolExecutor

    from jupyter_ray_dev.jobs.driver_log import LocalDriverLogs

    path = tmp_path / "job-driver-x.log"
    path.write_text("Runtime env is setting up.\n")
    executor = ThreadPoolExecutor(1)
    logs = LocalDriverLogs(tmp_path, None, executor, poll_interval=0.01)
    tail = logs.tail(path)
    assert await asyncio.wait_for(tail.__anext__(), 30) == "Runtime env is setting up.\n"
    executor.shutdown()
    with open(path, "a") as f:
        f.write("tripwire-armed\n")
    with pytest.raises(OSError, match="poller stopped"):
        await asyncio.wait_for(tail.__anext__(), 30)
    await tail.aclose()


def test_local_addresses():
    from jupyter_ray_dev.jobs.driver_log import is_local_address

    assert is_local_address("127.0.0.1") and is_local_address("localhost")
    assert not is_local_address("192.0.2.254")  # TEST-NET-1: documentation only
    assert not is_local_address("") and not is_local_address(None)
