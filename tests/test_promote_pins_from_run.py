"""Promote pins from a tested run, against the real local Ray head.

A wheel the test builds is served from a package index on loopback (a PEP 503 folder
behind Python's http.server): Ray installs it into the job's own virtualenv (runtime_env
``pip``, and ``uv``) from there, with no network, and the server's Python never has
it. The review then pins the exact version the job ran, says which run it came from,
names the files changed since, lists what the code imported but the project never
declared (and *Add* writes it), and falls back to the server's Python with a warning
when the run's record cannot be used.
"""

from __future__ import annotations

import functools
import http.server
import importlib.metadata
import json
import threading

import pytest
from apischema import validate_response
from jobs_helpers import JobsAPI, write
from promote_helpers import build_wheel
from test_promote_api import PromoteAPI

from jupyter_ray_dev.cluster.local_head import free_port

pytestmark = pytest.mark.ray

PACKAGE = "rdpinned"  # exists nowhere but on the test's own index


@pytest.fixture(scope="module")
def package_index(tmp_path_factory):
    """http://127.0.0.1:<port>/simple/ serving rdpinned 1.2.3 and 1.3.0."""
    root = tmp_path_factory.mktemp("index")
    folder = root / "simple" / PACKAGE
    for version in ("1.2.3", "1.3.0"):
        build_wheel(root / "src" / version, folder, name=PACKAGE, version=version)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def api(jp_fetch):
    return PromoteAPI(jp_fetch)


@pytest.fixture
def ray_dev_config(tmp_path):
    return {"job_store_path": str(tmp_path / "history" / "jobs.sqlite"),
            "promote_store_path": str(tmp_path / "promotions.sqlite"),
            "promote_registry": "registry.example.com/team"}


MAIN = f"""
    import {PACKAGE}
    import tornado  # in the head's Python, declared nowhere: "installed by hand"
    print("RAN", {PACKAGE}.VERSION, flush=True)
"""


async def run_job(api: PromoteAPI, file: str) -> dict:
    reply = await api.submit(file=file)
    assert reply.code == 201, reply.body
    done = await api.wait(reply.json["submission_id"], timeout=600)  # Ray builds a virtualenv
    assert done["status"] == "SUCCEEDED", (done["message"], await api.logs(done["submission_id"]))
    return done


def kinds(plan: dict) -> list[str]:
    """The review's warnings but the shape's (Ray's view of this machine is flagged in
    every plan here: test_promote_shape_units covers it)."""
    return [w["kind"] for w in plan["warnings"] if w["kind"] != "shape_not_requests"]


async def plan_of(api: PromoteAPI, project: str, **body) -> dict:
    reply = await api.promote("plan", project, entrypoint=f"{project}/main.py", **body)
    assert reply.code == 200, reply.body
    validate_response(reply.json, "PromotionPlan")
    return reply.json


async def test_the_review_pins_the_version_the_job_ran_in_its_own_virtualenv(
        api, jp_root_dir, package_index):
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version(PACKAGE)  # the server's Python never had it
    project = jp_root_dir / "pipproj"
    write(project / "main.py", MAIN)
    write(project / "runtime_env.yaml", f"""
        # the job's own virtualenv, from the loopback index
        pip:
          packages:
            - {PACKAGE}<1.3   # tested with what this resolved to
          pip_install_options: [--index-url, {package_index}]
    """)
    job = await run_job(api, "pipproj/main.py")
    assert "RAN 1.2.3" in await api.logs(job["submission_id"])

    plan = await plan_of(api, "pipproj")
    source = plan["source"]
    assert (source["requested"], source["kind"]) == ("latest", "run")
    assert source["run"]["submission_id"] == job["submission_id"]
    assert job["submission_id"] in source["description"]
    assert plan["requirements"]["requirements"] == [f"{PACKAGE}==1.2.3"]
    (change,) = plan["requirements"]["changes"]
    assert change["from"]["run_id"] == job["submission_id"] and change["from"]["time"]
    assert change["from"]["imported"] is True
    assert job["submission_id"] in change["message"]
    assert kinds(plan) == [] and plan["changed_files"]["changed"] is False
    # imported by the code, installed by hand, declared nowhere: offered, pinned to the run's
    tornado = importlib.metadata.version("tornado")
    assert plan["undeclared"] == [{"name": "tornado", "version": tornado,
                                   "modules": ["tornado"],
                                   "requirement": f"tornado=={tornado}"}]
    assert len(plan["lock_hash"]) == 64

    # this server's Python, as asked: it has no rdpinned, so nothing is pinned
    server = await plan_of(api, "pipproj", source_run="server")
    assert server["source"]["kind"] == "server" and server["source"]["run"] is None
    (unpinned,) = server["requirements"]["unpinned"]
    assert "not installed in the dev cluster (this server's Python)" in unpinned["reason"]
    assert server["undeclared"] == []
    # the same run named by its id
    named = await plan_of(api, "pipproj", source_run=job["submission_id"])
    assert named["requirements"]["requirements"] == [f"{PACKAGE}==1.2.3"]

    # Add: the undeclared package goes into runtime_env.yaml at the run's version
    reply = await api.call_at(["projects", "pipproj", "runtime-env", "packages"],
                              {"requirements": [plan["undeclared"][0]["requirement"]]})
    assert reply.code == 200, reply.body
    validate_response(reply.json, "RuntimeEnvFile")
    text = (project / "runtime_env.yaml").read_text()
    assert f"tornado=={tornado}" in text
    assert "# the job's own virtualenv" in text and "# tested with" in text  # comments kept
    again = await plan_of(api, "pipproj")
    assert again["undeclared"] == []  # declared now
    assert "runtime_env.yaml" in again["changed_files"]["modified"]  # ... since the run

    # a build's history keeps the provenance; the CLI and the magic print it
    reply = await api.promote("context", "pipproj", entrypoint="pipproj/main.py")
    assert reply.code == 200
    history = (await api.get("promotions", project="pipproj")).json["promotions"]
    assert history[0]["source_run"] == job["submission_id"]
    assert history[0]["lock_hash"] == again["lock_hash"]
    detail = (await api.get("promotions", history[0]["id"])).json
    validate_response(detail, "PromotionDetail")
    assert detail["lock"]["requirements"] == again["requirements"]["requirements"]
    assert detail["lock"]["pins"][0]["from"]["run_id"] == job["submission_id"]
    assert detail["parity"] is None and detail["overrides"] is None
    # one provenance block: the run (its id and start), the lock, no check, no override;
    # the image's labels say the same run and lock
    provenance = detail["provenance"]
    assert provenance == history[0]["provenance"]
    run = again["source"]["run"]
    assert provenance["source_run"] == {"id": job["submission_id"],
                                        "time": run["started"] or run["created"]}
    assert provenance["lock"] == {"sha256": again["lock_hash"],
                                  "requirements": again["requirements"]["requirements"]}
    assert (provenance["parity"], provenance["overrides"]) == (None, [])
    assert f'io.ray-dev.source-run="{job["submission_id"]}"' in detail["dockerfile"]
    assert f'io.ray-dev.lock-sha256="{again["lock_hash"]}"' in detail["dockerfile"]


async def test_a_uv_job_pins_what_uv_installed(api, jp_root_dir, package_index):
    project = jp_root_dir / "uvproj"
    write(project / "main.py", MAIN)
    write(project / "runtime_env.yaml", f"""
        uv:
          packages: ["{PACKAGE}>=1.3"]
          uv_pip_install_options: [--index-url, {package_index}]
    """)
    job = await run_job(api, "uvproj/main.py")
    assert "RAN 1.3.0" in await api.logs(job["submission_id"])
    plan = await plan_of(api, "uvproj")
    assert plan["source"]["run"]["submission_id"] == job["submission_id"]
    assert plan["requirements"]["source"] == "runtime_env.uv"
    assert plan["requirements"]["requirements"] == [f"{PACKAGE}==1.3.0"]


async def test_changed_files_are_named_and_a_missing_record_falls_back_with_a_warning(
        api, jp_root_dir, tmp_path):
    project = jp_root_dir / "plain"
    write(project / "main.py", "import yaml\nprint('ok')\n")
    write(project / "util.py", "X = 1\n")
    write(project / "runtime_env.yaml", "pip: [pyyaml]\n")
    first = await run_job(api, "plain/main.py")
    # the run used the head's Python: its pyyaml is the server's
    plan = await plan_of(api, "plain")
    assert plan["source"]["run"]["submission_id"] == first["submission_id"]
    assert plan["requirements"]["requirements"] == [
        f"pyyaml=={importlib.metadata.version('pyyaml')}"]
    (project / "util.py").write_text("X = 2\n")
    (project / "new.py").write_text("Y = 1\n")
    (project / "main.py").unlink()
    write(project / "main.py", "import yaml\nprint('ok again')\n")
    plan = await plan_of(api, "plain")
    changed = plan["changed_files"]
    assert (changed["modified"], changed["added"], changed["removed"]) == (
        ["main.py", "util.py"], ["new.py"], [])
    (warning,) = [w for w in plan["warnings"] if w["kind"] == "files_changed"]
    assert "util.py" in warning["message"] and first["submission_id"] in warning["message"]

    # a newer run whose record is gone (deleted before the server read it)
    second = await run_job(api, "plain/main.py")
    record_file = tmp_path / "history" / "runs" / f"{second['submission_id']}.json"
    assert record_file.exists()
    record_file.unlink()
    plan = await plan_of(api, "plain")
    assert plan["source"]["kind"] == "server" and plan["source"]["run"] is None
    (warning,) = [w for w in plan["warnings"] if w["kind"] == "record_unusable"]
    assert second["submission_id"] in warning["message"]
    assert "ended without a record" in warning["message"]
    assert "this server's Python" in warning["message"]
    assert plan["requirements"]["requirements"] == [
        f"pyyaml=={importlib.metadata.version('pyyaml')}"]
    # the older, recorded run can still be chosen
    older = await plan_of(api, "plain", source_run=first["submission_id"])
    assert older["source"]["kind"] == "run" and kinds(older) == ["files_changed"]
    runs = older["source"]["runs"]
    assert [(r["submission_id"], r["state"]) for r in runs] == [
        (second["submission_id"], "missing"), (first["submission_id"], "recorded")]


async def test_no_run_yet_and_bad_choices(api, jp_root_dir):
    project = jp_root_dir / "fresh"
    write(project / "main.py", "print('never run')\n")
    plan = await plan_of(api, "fresh")
    assert plan["source"]["kind"] == "server" and kinds(plan) == ["no_succeeded_run"]
    assert "Run the project as a Ray job" in plan["warnings"][0]["message"]
    for value in ("raysubmit_nosuchrun", "../x", 3):
        reply = await api.promote("plan", "fresh", entrypoint="fresh/main.py", source_run=value)
        assert reply.code == 400, reply.body
        assert reply.json["field"] == "source_run"
    # a run of another project is not this project's tested environment
    write(jp_root_dir / "other" / "main.py", "print(1)\n")
    other = await run_job(api, "other/main.py")
    reply = await api.promote("plan", "fresh", entrypoint="fresh/main.py",
                              source_run=other["submission_id"])
    assert reply.code == 400 and "not of 'fresh'" in reply.json["message"]


async def test_add_refuses_what_is_not_a_requirement(api, jp_root_dir):
    write(jp_root_dir / "addp" / "runtime_env.yaml", "conda: {dependencies: [numpy]}\n")
    for body, field in (({"requirements": ["--index-url=http://x"]}, "requirements[0]"),
                        ({"requirements": "tabulate"}, "requirements"),
                        ({"requirements": ["tabulate==1"]}, "pip")):  # conda owns packages
        reply = await api.call_at(["projects", "addp", "runtime-env", "packages"], body)
        assert reply.code == 400, reply.body
        assert reply.json["field"] == field
    assert json.dumps(reply.json).count("conda") >= 1
