"""Ray down (503 naming the address), recovery when it comes up, and token-auth clusters."""

from __future__ import annotations

import asyncio
import json
import os

import psutil
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.cluster.local_head import LocalRayHead, free_port
from token_head import token_head  # noqa: F401 - the fixture

pytestmark = pytest.mark.ray


async def fetch_error(jp_fetch) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("ray-dev", "api", "cluster")
    return err.value.code, json.loads(err.value.response.body)


class TestRayDown:
    port = free_port()

    @pytest.fixture
    def ray_address(self, monkeypatch):
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        return f"http://127.0.0.1:{self.port}"

    async def test_unreachable_is_a_503_that_names_the_address_and_the_fix(self, jp_fetch):
        status, body = await fetch_error(jp_fetch)
        assert status == 503
        assert body["reason"] == "ray_unreachable"
        assert body["address"] == f"http://127.0.0.1:{self.port}"
        assert f"127.0.0.1:{self.port}" in body["message"]
        assert "RAY_ADDRESS" in body["message"] and "c.RayDev.ray_address" in body["message"]
        assert "traceback" not in body

    async def test_recovers_by_itself_when_ray_comes_up(self, jp_fetch):
        status, _ = await fetch_error(jp_fetch)
        assert status == 503
        head = LocalRayHead(num_cpus=1, dashboard_port=self.port).start()
        try:
            response = await jp_fetch("ray-dev", "api", "cluster")
            assert json.loads(response.body)["alive_nodes"] == 1
            pid = head.process.pid
        finally:
            head.stop()
        # stopped by its PID, with nothing of its process group left running
        # (zombies are dead; this sandbox's init does not reap them)
        assert [p.info for p in psutil.process_iter(["pid", "name", "status"])
                if _pgid(p.pid) == pid and p.info["status"] != psutil.STATUS_ZOMBIE] == []
        # the summary is shared for up to 3 s (SharedResult), so the panel's next polls see
        # Ray gone: the first may still get the summary from just before
        for _ in range(20):
            try:
                await jp_fetch("ray-dev", "api", "cluster")
            except HTTPClientError as err:
                assert err.code == 503
                break
            await asyncio.sleep(0.5)
        else:
            pytest.fail("GET /cluster still answered 10 s after Ray stopped")


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


class TestTokenAuth:
    @pytest.fixture
    def ray_address(self, token_head, monkeypatch):
        for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("HOME", "/nonexistent-home")  # no ~/.ray/auth_token to fall back on
        return token_head.dashboard_url

    async def test_token_from_env(self, jp_fetch, token_head, monkeypatch):
        monkeypatch.setenv("RAY_AUTH_MODE", "token")
        monkeypatch.setenv("RAY_AUTH_TOKEN", token_head.token)
        body = json.loads((await jp_fetch("ray-dev", "api", "cluster")).body)
        assert body["auth_mode"] == "token"
        assert body["alive_nodes"] == 1
        assert token_head.token not in json.dumps(body)  # the secret never leaves the server

    async def test_token_from_file(self, jp_fetch, token_head, monkeypatch, tmp_path):
        path = tmp_path / "token"
        path.write_text(token_head.token + "\n")
        monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(path))
        body = json.loads((await jp_fetch("ray-dev", "api", "cluster")).body)
        assert body["auth_mode"] == "token"

    async def test_missing_token_says_what_to_set(self, jp_fetch):
        status, body = await fetch_error(jp_fetch)
        assert status == 503
        assert body["reason"] == "ray_auth_failed"
        assert "RAY_AUTH_MODE=token" in body["message"] and "RAY_AUTH_TOKEN" in body["message"]

    async def test_wrong_token_is_rejected_without_echoing_it(self, jp_fetch, monkeypatch):
        monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-token")
        status, body = await fetch_error(jp_fetch)
        assert status == 503
        assert body["reason"] == "ray_auth_failed"
        assert "RAY_AUTH_TOKEN" in body["message"]
        assert "not-the-token" not in json.dumps(body)
