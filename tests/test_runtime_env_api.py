"""The runtime_env API on a real server: read, save (ETags, field errors), validate, the
working_dir size, and jobs that get the saved environment on the real local Ray head,
including packages installed once onto (a folder standing for) shared storage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from apischema import validate_response
from jobs_helpers import JobsAPI, Reply, driver_lines, write
from wheel_files import write_wheel

pytestmark = pytest.mark.ray


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "history" / "jobs.sqlite"


@pytest.fixture
def shared_root(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    return root


@pytest.fixture
def ray_dev_config(store_path, shared_root):
    return {"job_store_path": str(store_path), "shared_roots": [str(shared_root)]}


class EnvAPI:
    def __init__(self, jp_fetch):
        self.fetch = jp_fetch

    async def call(self, method: str, project: str, *parts: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:
        kwargs: dict[str, Any] = {"method": method, "headers": headers or {}}
        if method in ("POST", "PUT"):
            kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
        try:
            # jp_fetch encodes each part; the server reads raw slashes and %2F alike
            response = await self.fetch("ray-dev", "api", "projects", *project.split("/"),
                                        *parts, **kwargs)
        except HTTPClientError as err:
            assert err.response is not None, err
            return Reply(err.code, err.response.body, err.response.headers)
        return Reply(response.code, response.body, response.headers)

    async def read(self, project: str) -> dict[str, Any]:
        reply = await self.call("GET", project, "runtime-env")
        assert reply.code == 200, reply.body
        validate_response(reply.json, "RuntimeEnvFile")
        assert reply.headers["ETag"] == reply.json["etag"]
        return reply.json

    async def save(self, project: str, if_match: str | None = None, **body: Any) -> Reply:
        headers = {"If-Match": if_match} if if_match else {}
        return await self.call("PUT", project, "runtime-env", body=body, headers=headers)

    async def validate(self, project: str, **body: Any) -> dict[str, Any]:
        reply = await self.call("POST", project, "runtime-env", "validate", body=body)
        assert reply.code == 200, reply.body
        validate_response(reply.json, "RuntimeEnvVerdict")
        return reply.json

    async def install(self, project: str, **body: Any) -> tuple[int, list[dict[str, Any]]]:
        reply = await self.call("POST", project, "install", body=body)
        if reply.code != 200:
            return reply.code, [reply.json]
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        events = []
        for block in reply.body.decode().split("\n\n"):
            if not block.strip():
                continue
            kind, data = block.split("\n", 1)
            event = json.loads(data.removeprefix("data: "))
            assert kind == f"event: {event['type']}"
            validate_response(event, "InstallEvent")
            events.append(event)
        return reply.code, events


@pytest.fixture
def envs(jp_fetch):
    return EnvAPI(jp_fetch)


@pytest.fixture
def api(jp_fetch):
    return JobsAPI(jp_fetch)


COMMENTED = """\
# the demo project's environment
env_vars:
  GREETING: "hi"   # shown by the driver
"""


async def test_read_save_and_stale_etag(envs, jp_root_dir):
    (jp_root_dir / "proj").mkdir()
    first = await envs.read("proj")
    assert first["exists"] is False and first["runtime_env"] == {} and first["yaml"] == ""

    reply = await envs.save("proj", first["etag"], yaml=COMMENTED)
    assert reply.code == 200, reply.body
    saved = reply.json
    assert saved["exists"] and saved["yaml"] == COMMENTED
    assert (jp_root_dir / "proj" / "runtime_env.yaml").read_text() == COMMENTED

    # a form edit keeps the comments
    env = saved["runtime_env"]
    env["env_vars"]["EXTRA"] = "1"
    reply = await envs.save("proj", saved["etag"], runtime_env=env)
    assert reply.code == 200, reply.body
    text = (jp_root_dir / "proj" / "runtime_env.yaml").read_text()
    assert "# shown by the driver" in text and "# the demo project's environment" in text
    assert reply.json["runtime_env"]["env_vars"] == {"GREETING": "hi", "EXTRA": "1"}

    # the first ETag is stale now: 409 with the current one, nothing written
    stale = await envs.save("proj", saved["etag"], runtime_env={})
    assert stale.code == 409
    assert stale.json["reason"] == "etag_mismatch"
    assert stale.json["etag"] == reply.json["etag"]
    # the ETag in the body works like If-Match
    stale = await envs.save("proj", None, runtime_env={}, etag=first["etag"])
    assert stale.code == 409
    assert (jp_root_dir / "proj" / "runtime_env.yaml").read_text() == text


@pytest.mark.parametrize(("body", "field"), [
    ({"runtime_env": {"env_vars": {"PORT": 8080}}}, "env_vars.PORT"),
    ({"runtime_env": {"pip": ["six", 3]}}, "pip[1]"),
    ({"runtime_env": {"pip": {"packages": ["six"], "pip_check": "yes"}}}, "pip.pip_check"),
    ({"runtime_env": {"pip": ["six"], "conda": "base"}}, "conda"),
    ({"runtime_env": {"config": {"setup_timeout_seconds": 0}}}, "config.setup_timeout_seconds"),
    ({"yaml": "env_vars: [unclosed\n"}, "yaml"),
    ({"yaml": "- a list\n"}, "yaml"),
    ({"runtime_env": "pip: [six]"}, "runtime_env"),
    ({}, "runtime_env"),
])
async def test_invalid_saves_are_400_naming_the_field_and_write_nothing(envs, jp_root_dir,
                                                                        body, field):
    write(jp_root_dir / "proj" / "runtime_env.yaml", COMMENTED)
    reply = await envs.save("proj", **body)
    assert reply.code == 400, reply.body
    assert reply.json["field"] == field, reply.json
    assert reply.json["message"]
    validate_response(reply.json, "Error")
    assert (jp_root_dir / "proj" / "runtime_env.yaml").read_text() == COMMENTED


async def test_validate_gives_errors_and_warnings_with_paths(envs, jp_root_dir):
    (jp_root_dir / "proj").mkdir()
    verdict = await envs.validate("proj", runtime_env={"env_vars": {"A": 1}, "pip": ["six", 2]})
    assert verdict["valid"] is False and verdict["ray_checked"] is True
    assert [e["path"] for e in verdict["errors"]] == ["env_vars.A", "pip[1]"]
    verdict = await envs.validate("proj", runtime_env={"env_vars": {"HF_TOKEN": "hf_x"},
                                                       "working_dir": "s3://b/code.zip"})
    assert verdict["valid"] is True
    assert {w["path"] for w in verdict["warnings"]} == {"env_vars.HF_TOKEN", "working_dir"}
    assert all(w["fix"] for w in verdict["warnings"])
    verdict = await envs.validate("proj", yaml="pip: [six\n")
    assert verdict["valid"] is False and verdict["errors"][0]["line"]
    verdict = await envs.validate("proj", yaml="pip: [six]\n")
    assert verdict == {"valid": True, "errors": [], "warnings": [], "ray_checked": True}


async def test_projects_are_confined_to_the_root(envs, jp_root_dir, jp_http_port, jp_base_url,
                                                  jp_auth_header):
    reply = await envs.call("GET", "../etc", "runtime-env")
    assert reply.code == 400 and reply.json["field"] == "project"
    reply = await envs.call("GET", "missing", "runtime-env")
    assert reply.code == 400
    # the root itself is a project too (%2F, as the browser sends it: jp_fetch would
    # encode the %), and nested projects keep their slashes
    from tornado.httpclient import AsyncHTTPClient

    url = f"http://localhost:{jp_http_port}{jp_base_url}ray-dev/api/projects/%2F/runtime-env"
    reply = await AsyncHTTPClient().fetch(url, headers=jp_auth_header)
    assert json.loads(reply.body)["path"] == "runtime_env.yaml"
    (jp_root_dir / "a" / "b").mkdir(parents=True)
    reply = await envs.fetch("ray-dev", "api", "projects", "a", "b", "runtime-env")
    assert json.loads(reply.body)["path"] == "a/b/runtime_env.yaml"


async def test_working_dir_size(envs, jp_root_dir):
    project = jp_root_dir / "sized"
    write(project / "main.py", "print(1)\n")
    (project / "data.bin").write_bytes(b"x" * 3000)
    write(project / ".rayignore", "ignored/\n")
    (project / "ignored").mkdir()
    (project / "ignored" / "big.bin").write_bytes(b"x" * 10_000)
    reply = await envs.call("GET", "sized", "working-dir-size")
    assert reply.code == 200, reply.body
    validate_response(reply.json, "WorkingDirSize")
    size = reply.json
    assert size["uploaded"] and not size["over_limit"]
    assert size["files"] == 3 and size["bytes"] == 3000 + len("print(1)\n") + len("ignored/\n")
    assert size["largest"][0] == {"path": "data.bin", "bytes": 3000}
    write(project / "runtime_env.yaml", "working_dir: s3://bucket/code.zip\n")
    size = (await envs.call("GET", "sized", "working-dir-size")).json
    assert size["uploaded"] is False and size["bytes"] is None


PROBE = """
    import os
    import tinypkg
    print("env", os.environ.get("GREETING"), flush=True)
    print("pkg", tinypkg.hello(), tinypkg.__file__, flush=True)
"""


async def test_a_job_gets_the_saved_environment(envs, api, jp_root_dir, tmp_path):
    wheel = write_wheel(tmp_path, "tinypkg", "0.1", "def hello():\n    return 'tiny 0.1'\n")
    write(jp_root_dir / "envjob" / "probe.py", PROBE)
    first = await envs.read("envjob")
    reply = await envs.save("envjob", first["etag"], runtime_env={
        "env_vars": {"GREETING": "saved in the editor"}, "pip": [str(wheel)]})
    assert reply.code == 200, reply.body

    submitted = await api.submit(file="envjob/probe.py")
    assert submitted.code == 201, submitted.body
    job = await api.wait(submitted.json["submission_id"], timeout=240)
    log = await api.logs(job["submission_id"])
    assert job["status"] == "SUCCEEDED", log
    assert driver_lines(log, "env") == ["env saved in the editor"]
    [pkg] = driver_lines(log, "pkg")
    assert pkg.startswith("pkg tiny 0.1 ")


async def test_install_onto_shared_storage_then_a_job_imports_it(envs, api, jp_root_dir,
                                                                  tmp_path, shared_root):
    wheel = write_wheel(tmp_path, "tinypkg", "0.2", "def hello():\n    return 'tiny 0.2'\n")
    write(jp_root_dir / "shared_env" / "probe.py", PROBE)
    write(jp_root_dir / "shared_env" / "runtime_env.yaml", COMMENTED + f"pip:\n  - {wheel}\n")

    code, events = await envs.install("shared_env")
    assert code == 200
    assert events[0]["type"] == "start" and events[-1]["type"] == "done", events
    assert any(e["type"] == "line" for e in events)
    assert any(e["type"] == "progress" for e in events)
    done = events[-1]
    folder = Path(done["folder"])
    assert done["cached"] is False
    assert folder.parent.parent == shared_root / "envs"
    assert (folder / "tinypkg" / "__init__.py").is_file()
    # nothing else was left beside it: no temp folder, no requirements file
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    # the project's env now points at it, comments kept, pip dropped
    saved = done["runtime_env"]
    assert saved["runtime_env"]["env_vars"]["PYTHONPATH"] == str(folder)
    assert "pip" not in saved["runtime_env"]
    assert "# shown by the driver" in saved["yaml"]
    assert saved == {k: v for k, v in (await envs.read("shared_env")).items()} | {
        "warnings": saved["warnings"]}

    submitted = await api.submit(file="shared_env/probe.py")
    assert submitted.code == 201, submitted.body
    job = await api.wait(submitted.json["submission_id"])
    log = await api.logs(job["submission_id"])
    assert job["status"] == "SUCCEEDED", log
    [pkg] = driver_lines(log, "pkg")
    assert pkg.startswith("pkg tiny 0.2 ") and str(folder) in pkg

    # the same set again (written differently) is a no-op
    code, again = await envs.install("shared_env", requirements=[f" {wheel} "], apply=False)
    assert code == 200 and again[-1]["type"] == "done" and again[-1]["cached"] is True
    assert again[-1]["folder"] == str(folder)
    assert not any(e["type"] == "line" for e in again)  # pip never ran


async def test_a_failed_install_leaves_no_folder(envs, jp_root_dir, shared_root):
    (jp_root_dir / "failing").mkdir()
    code, events = await envs.install("failing",
                                      requirements=[str(jp_root_dir / "no-such-1.0-py3-none-any.whl")])
    assert code == 200
    assert events[-1]["type"] == "error" and events[-1]["exit_code"] != 0, events
    envs_dir = shared_root / "envs" / "failing"
    assert list(envs_dir.iterdir()) == []  # no half-made folder, no temp folder
    assert not (jp_root_dir / "failing" / "runtime_env.yaml").exists()  # env untouched


async def test_install_bad_requests_are_400(envs, jp_root_dir):
    (jp_root_dir / "p").mkdir()
    code, [body] = await envs.install("p")  # no pip packages in the env
    assert code == 400 and body["field"] == "pip"
    code, [body] = await envs.install("p", requirements=["--index-url=x"])
    assert code == 400 and body["field"] == "requirements"
    code, [body] = await envs.install("p", requirements=["six"], root="/tmp")
    assert code == 400 and body["field"] == "root"


async def test_schema_is_served(jp_fetch):
    from jupyter_ray_dev.runtime_env import runtime_env_schema

    reply = await jp_fetch("ray-dev", "api", "runtime-env", "schema")
    assert json.loads(reply.body) == runtime_env_schema()
