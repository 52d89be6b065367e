"""The server replies the frontend tests stand in for are the real server's.

jest has no server, so its fixtures hold reply bodies (src/__tests__/server-replies.json,
read by fixtures.ts). Here the real server is asked the same things (Ray and an S3
endpoint on loopback ports where nothing listens) and must answer those bodies word for
word, the loopback address aside. When a message changes on purpose, rewrite the file:

    RAY_DEV_WRITE_FIXTURES=1 python -m pytest tests/test_ui_fixtures.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from storage_fixtures import BUCKET, s3_options

from jupyter_ray_dev.cluster.local_head import free_port

FIXTURES = Path(__file__).parents[1] / "src" / "__tests__" / "server-replies.json"
# the addresses the fixtures show: a user's usual ones, not this run's free ports
RAY_ADDRESS = "http://127.0.0.1:8265"
S3_ENDPOINT = "http://127.0.0.1:9000"

CLOSED_RAY, CLOSED_S3 = free_port(), free_port()


@pytest.fixture
def ray_address(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    return f"http://127.0.0.1:{CLOSED_RAY}"


@pytest.fixture
def ray_dev_config():
    return {"storage_roots": [{"name": "artifacts", "url": f"s3://{BUCKET}/artifacts",
                               "options": s3_options(f"http://127.0.0.1:{CLOSED_S3}")}]}


async def _reply(jp_fetch, *path: str, **params: str) -> tuple[int, dict]:
    response = await jp_fetch(*path, params=params, raise_error=False)
    return response.code, json.loads(response.body)


async def test_the_frontend_fixtures_are_what_the_server_says(jp_fetch):
    replies = {}
    status, body = await _reply(jp_fetch, "ray-dev", "api", "cluster")
    assert status == 503, body
    replies["ray_unreachable"] = json.loads(
        json.dumps(body).replace(f"http://127.0.0.1:{CLOSED_RAY}", RAY_ADDRESS))
    status, body = await _reply(jp_fetch, "ray-dev", "api", "storage", "artifacts", "list",
                                path="")
    assert status == 503, body
    replies["storage_unreachable"] = json.loads(
        json.dumps(body).replace(f"http://127.0.0.1:{CLOSED_S3}", S3_ENDPOINT))
    assert replies["ray_unreachable"]["reason"] == "ray_unreachable"
    assert replies["storage_unreachable"]["reason"] == "storage_unreachable"
    if os.environ.get("RAY_DEV_WRITE_FIXTURES"):
        FIXTURES.write_text(json.dumps(replies, indent=2, ensure_ascii=False) + "\n")
    assert json.loads(FIXTURES.read_text()) == replies, (
        f"{FIXTURES.name} no longer matches the server: rewrite it with "
        "RAY_DEV_WRITE_FIXTURES=1 (see this module's docstring)")
