"""The run record without Ray: the launcher in a real child Python (as Ray's driver runs
it), the masking, the file digests and what changed, the store, and the choice of the
source a promotion pins from."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from promote_helpers import write

from jupyter_ray_dev.errors import BadRequest, NotFound
from jupyter_ray_dev.jobs.store import JobStore
from jupyter_ray_dev.project import run_record
from jupyter_ray_dev.project.run_record import RunRecord, UnreadableRecord
from jupyter_ray_dev.promote.envvars import split_env_vars
from jupyter_ray_dev.promote.source import choose_source, undeclared
from jupyter_ray_dev.promote.store import PromotionStore

LAUNCHER_PARENT = str(run_record.launcher_dir().parent)


def launch(tmp_path: Path, *args: str, records: Path | None = None, env_vars=None,
           extra_env=None) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run the launcher as a job's driver: a child Python that has only the launcher on
    its path (not jupyter_ray_dev), Ray's job config in its environment."""
    records = records or tmp_path / "records"
    records.mkdir(exist_ok=True)
    config = {"metadata": {"job_submission_id": "raysubmit_unit", "ray_dev_records":
                           str(records)},
              "runtime_env": {"env_vars": env_vars or {}}}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"PYTHONPATH": LAUNCHER_PARENT, "RAY_JOB_CONFIG_JSON_ENV_VAR": json.dumps(config),
                **(extra_env or {})})
    done = subprocess.run([sys.executable, "-m", "ray_dev_record", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    path = records / "raysubmit_unit.json"
    return done, json.loads(path.read_text()) if path.exists() else None


def test_the_launcher_runs_a_script_as_python_would_and_records_it(tmp_path):
    write(tmp_path / "pkg_user.py", "import json, yaml\nimport helper\n"
          "import sys\nprint(__name__, sys.argv, helper.X, sys.path[0])\nsys.exit(3)\n")
    write(tmp_path / "helper.py", "X = 5\n")
    done, record = launch(tmp_path, "pkg_user.py", "--x", "1",
                          env_vars={"A_TOKEN": "x", "PLAIN": "${HOME}"},
                          extra_env={"A_TOKEN": "s3cr3t", "PLAIN": "/home/me"})
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["__main__", "['pkg_user.py',", "'--x',", "'1']", "5",
                                   str(tmp_path)]
    assert record["phase"] == "finished" and record["exit_code"] == 3
    assert record["python"]["executable"] == sys.executable
    assert record["imported"]["pyyaml"] == ["yaml"]
    assert "json" not in record["local_modules"]  # the standard library is nobody's
    assert record["local_modules"] == ["helper"]  # the project's own module
    assert record["env_vars"] == {"A_TOKEN": "********", "PLAIN": "/home/me"}
    assert "s3cr3t" not in json.dumps(record)
    assert oct(os.stat(tmp_path / "records" / "raysubmit_unit.json").st_mode & 0o777) == "0o600"


def test_a_module_target_and_a_namespace_package_are_attributed(tmp_path):
    # google.protobuf lives in the namespace package `google`, shared by distributions
    write(tmp_path / "mod" / "__init__.py", "")
    write(tmp_path / "mod" / "run.py", "import google.protobuf\nprint('mod ran')\n")
    done, record = launch(tmp_path, "-m", "mod.run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mod ran"
    assert "google.protobuf" in record["imported"]["protobuf"]
    assert not any("google-" in name for name in record["imported"])  # not every google-*


def test_a_failure_is_recorded_and_its_traceback_is_the_users(tmp_path):
    write(tmp_path / "bad.py", "def f():\n    raise KeyError('missing')\nf()\n")
    done, record = launch(tmp_path, "bad.py")
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):\n  File \"")
    assert "ray_dev_record" not in done.stderr and "runpy" not in done.stderr
    assert done.stderr.strip().endswith("KeyError: 'missing'")
    assert record["error"] == "KeyError: 'missing'" and record["exit_code"] == 1


def test_no_record_without_the_servers_folder_and_the_job_still_runs(tmp_path):
    # the driver was placed on a node without the server's folder: it runs, leaves nothing
    write(tmp_path / "ok.py", "print('fine')\n")
    records = tmp_path / "not-on-this-node"
    env = {**os.environ, "PYTHONPATH": LAUNCHER_PARENT,
           "RAY_JOB_CONFIG_JSON_ENV_VAR": json.dumps({"metadata": {
               "job_submission_id": "x", "ray_dev_records": str(records)}})}
    done = subprocess.run([sys.executable, "-m", "ray_dev_record", "ok.py"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "fine" and done.stderr == ""
    assert not records.exists()


def test_masking_keeps_references_and_hides_values_and_url_credentials():
    env = {"env_vars": {"API_TOKEN": "abc", "DB": "${DB_URL}", "MODE": "x",
                        "KEY": "AKIAABCDEFGHIJKLMNOP"},
           "pip": {"packages": ["a"], "pip_install_options": [
               "--index-url", "https://user:pw@pypi.example.com/simple"]}}
    masked = run_record.mask_runtime_env(env)
    assert masked["env_vars"] == {"API_TOKEN": "********", "DB": "${DB_URL}", "MODE": "x",
                                  "KEY": "********"}
    assert masked["pip"]["pip_install_options"][1] == "https://********@pypi.example.com/simple"
    # the image's env uses the same rules
    assert [s["name"] for s in split_env_vars({"X_API_KEY": "1", "OK": "2"}, "s").secret] == [
        "X_API_KEY"]


def test_changed_files_since_a_run():
    recorded = {"a.py": "1", "b.py": "2", "gone.py": "3", "ignored.txt": "4"}
    current = {"a.py": "1", "b.py": "22", "new.py": "5"}
    out = run_record.changed_files(recorded, current, present={"ignored.txt"})
    assert (out["modified"], out["added"], out["removed"]) == (["b.py"], ["new.py"],
                                                               ["gone.py"])
    assert out["changed"] and out["counts"] == {"modified": 1, "added": 1, "removed": 1}
    assert not run_record.changed_files(recorded, dict(recorded))["changed"]


def test_settle_reads_the_launchers_file_or_says_why_there_is_none(tmp_path):
    run = RunRecord("raysubmit_a", "/r", "p", "p/x.py", 1.0, {})
    assert not run_record.settle(run, None, "RUNNING", None, terminal=False)
    assert run_record.settle(run, None, "SUCCEEDED", 5.0, terminal=True)
    assert run.state == "missing" and "another node" in run.note
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(UnreadableRecord):
        run_record.read_launcher_file(bad)
    bad.write_text(json.dumps({"format": 99}))
    with pytest.raises(UnreadableRecord):
        run_record.read_launcher_file(bad)
    assert run_record.read_launcher_file(tmp_path / "none.json") is None


def _run(sid: str, created: float, status: str, versions: dict, files: dict | None = None,
         project: str = "p", imported: dict | None = None) -> RunRecord:
    return RunRecord(sid, "/root", project, f"{project}/main.py", created, {},
                     state="recorded", status=status,
                     environment={"distributions": versions, "imported": imported or {},
                                  "started": created, "python": {"version": "3.11.7"}},
                     files=files, files_hash=run_record.files_hash(files) if files else None)


class StoreRuns:
    """The jobs capability's view of runs, over the real store (no Ray to settle against)."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    async def runs(self, project: str) -> list[RunRecord]:
        return await self.store.list_runs("/root", project)

    async def run_record(self, submission_id: str, files: bool = True) -> RunRecord:
        run = await self.store.get_run(submission_id, files)
        if run is None:
            raise NotFound(f"no run {submission_id}")
        return run


def test_the_store_keeps_runs_and_shares_file_sets(tmp_path):
    async def go():
        store = JobStore(tmp_path / "jobs.sqlite")
        files = {"main.py": "d1"}
        await store.put_run(_run("r1", 1.0, "SUCCEEDED", {"a": "1"}, files))
        await store.put_run(_run("r2", 2.0, "FAILED", {"a": "2"}, files))
        await store.put_run(_run("r3", 3.0, "SUCCEEDED", {"a": "3"}, project="q"))
        assert [r.submission_id for r in await store.list_runs("/root", "p")] == ["r2", "r1"]
        assert await store.list_runs("/elsewhere", "p") == []
        got = await store.get_run("r1", files=True)
        assert got.files == files and got.distributions == {"a": "1"}
        db = sqlite3.connect(tmp_path / "jobs.sqlite")
        assert db.execute("SELECT count(*) FROM file_sets").fetchone() == (1,)
        await store.delete_run("r1")
        assert db.execute("SELECT count(*) FROM file_sets").fetchone() == (1,)  # r2's
        await store.delete_run("r2")
        assert db.execute("SELECT count(*) FROM file_sets").fetchone() == (0,)
        await store.close()

    asyncio.run(go())


def test_the_source_is_the_latest_succeeded_run_or_a_fallback_with_a_warning(tmp_path):
    async def go():
        store = JobStore(tmp_path / "jobs.sqlite")
        runs = StoreRuns(store)
        await store.put_run(_run("old", 1.0, "SUCCEEDED", {"numpy": "1.26.4"}, {"m.py": "x"}))
        await store.put_run(_run("failed", 2.0, "FAILED", {"numpy": "2.1.3"}))
        latest = await choose_source(runs, "p", "latest")
        assert latest.run.submission_id == "old" and latest.pins.version("NumPy") == "1.26.4"
        assert latest.run.files == {"m.py": "x"} and latest.warnings == []
        failed = await choose_source(runs, "p", "failed")
        assert failed.pins.version("numpy") == "2.1.3"
        assert [w["kind"] for w in failed.warnings] == ["run_not_succeeded"]
        # a newer success whose record is gone: the server's Python, said so
        gone = _run("gone", 3.0, "SUCCEEDED", {})
        gone.state, gone.note = "missing", "the run ended without a record"
        await store.put_run(gone)
        fallback = await choose_source(runs, "p", "latest")
        assert fallback.run is None and fallback.pins.kind == "server"
        assert "gone" in fallback.warnings[0]["message"]
        assert "this server's Python" in fallback.warnings[0]["message"]
        assert [r.submission_id for r in fallback.runs] == ["gone", "failed", "old"]
        none = await choose_source(runs, "q", "latest")
        assert none.warnings[0]["kind"] == "no_succeeded_run"
        with pytest.raises(BadRequest) as err:
            await choose_source(runs, "q", "old")  # another project's run
        assert err.value.details["field"] == "source_run"
        with pytest.raises(BadRequest):
            await choose_source(runs, "p", "raysubmit_unknown")
        await store.close()

    asyncio.run(go())


def test_undeclared_lists_what_the_code_imports_and_nothing_ray_brings():
    run = _run("r", 1.0, "SUCCEEDED", {"tabulate": "0.9.0", "requests": "2.0", "lark": "1"},
               imported={"tabulate": ["tabulate"], "requests": ["requests"],
                         "lark": ["lark"]})
    code = frozenset({"tabulate", "requests.adapters"})  # lark: only a library imported it
    assert undeclared(run, set(), code) == [{"name": "tabulate", "version": "0.9.0",
                                             "modules": ["tabulate"],
                                             "requirement": "tabulate==0.9.0"}]
    assert undeclared(run, {"tabulate"}, code) == []


def test_a_promotions_file_from_a_newer_version_is_still_listed(tmp_path):
    path = tmp_path / "promotions.sqlite"

    async def go():
        store = PromotionStore(path)
        assert await store.list("p") == []  # the file and its table, as this version makes them
        await store.close()
        db = sqlite3.connect(path)
        db.execute("ALTER TABLE promotions ADD COLUMN from_the_future TEXT")
        db.execute("INSERT INTO promotions (id, project, entrypoint, kind, status, inputs_hash, "
                   "dockerfile, manifests, requirements, created, from_the_future) VALUES "
                   "('promo_new', 'p', 'p/x.py', 'export', 'exported', 'h', '', '', '', 1.0, "
                   "'x')")
        db.commit()
        db.close()
        store = PromotionStore(path)
        (record,) = await store.list("p")
        assert record.id == "promo_new" and (await store.get("promo_new")).status == "exported"
        await store.close()

    asyncio.run(go())


def test_an_older_promotions_file_gets_the_provenance_columns(tmp_path):
    path = tmp_path / "promotions.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE promotions (id TEXT PRIMARY KEY, project TEXT NOT NULL, "
               "entrypoint TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, "
               "inputs_hash TEXT NOT NULL, image TEXT, digest TEXT, builder TEXT, "
               "dockerfile TEXT NOT NULL, manifests TEXT NOT NULL, requirements TEXT NOT NULL,"
               " log TEXT NOT NULL DEFAULT '', error TEXT, user TEXT, created REAL NOT NULL, "
               "finished REAL)")
    db.execute("INSERT INTO promotions (id, project, entrypoint, kind, status, inputs_hash, "
               "dockerfile, manifests, requirements, created) VALUES ('promo_old', 'p', "
               "'p/x.py', 'build', 'pushed', 'h', '', '', 'a==1\n', 1.0)")
    db.commit()
    db.close()

    async def go():
        store = PromotionStore(path)
        (old,) = await store.list("p")
        assert (old.source_run, old.lock, old.lock_hash, old.parity, old.overrides) == \
            (None, None, None, None, None)
        old.lock, old.parity = {"requirements": ["a==1"]}, {"status": "passed"}
        await store.put(old)
        again = await store.get("promo_old")
        assert again.lock == {"requirements": ["a==1"]} and again.parity == {"status": "passed"}
        await store.close()

    asyncio.run(go())
