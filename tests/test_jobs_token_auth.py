"""Jobs on a token-auth Ray head: the token reaches Ray's job client and its log tail."""

from __future__ import annotations

import json

import pytest

from jobs_helpers import JobsAPI, driver_lines, read_stream, write
from token_head import token_head  # noqa: F401 - the fixture

pytestmark = pytest.mark.ray


@pytest.fixture
def ray_address(token_head, monkeypatch):
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent-home")  # no ~/.ray/auth_token to fall back on
    return token_head.dashboard_url


@pytest.fixture
def api(jp_fetch):
    return JobsAPI(jp_fetch)


async def test_jobs_work_with_the_token(api, jp_ws_fetch, jp_root_dir, token_head, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token_head.token)
    write(jp_root_dir / "proj" / "hi.py", "for i in range(3):\n    print(f'secure {i}')\n")
    reply = await api.submit(file="proj/hi.py")
    assert reply.code == 201, reply.body
    job_id = reply.json["submission_id"]

    messages = await read_stream(jp_ws_fetch, job_id)
    assert driver_lines("\n".join(m["line"] for m in messages if m["type"] == "line"),
                        "secure") == ["secure 0", "secure 1", "secure 2"]
    assert messages[-1]["type"] == "end" and messages[-1]["status"] == "SUCCEEDED"
    assert "secure 2" in await api.logs(job_id)
    listed = json.dumps((await api.call("GET")).json)
    assert job_id in listed and token_head.token not in listed


async def test_without_the_token_jobs_are_503_saying_what_to_set(api):
    reply = await api.call("GET")
    assert reply.code == 503
    assert reply.json["reason"] == "ray_auth_failed"
    assert "RAY_AUTH_TOKEN" in reply.json["message"]


async def test_wrong_token_is_refused_without_echoing_it(api, jp_root_dir, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-token")
    write(jp_root_dir / "proj" / "hi.py", "print('never')\n")
    for reply in (await api.call("GET"), await api.submit(file="proj/hi.py")):
        assert reply.code == 503
        assert reply.json["reason"] == "ray_auth_failed"
        assert "not-the-token" not in reply.body.decode()
