"""Helpers for the jobs API tests: JSON calls through jp_fetch and waiting on Ray."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado.httpclient import HTTPClientError

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@dataclass
class Reply:
    code: int
    body: bytes
    headers: Any

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class JobsAPI:
    def __init__(self, jp_fetch):
        self.fetch = jp_fetch

    async def call(self, method: str, *parts: str, body: Any = None, **params: str) -> Reply:
        kwargs: dict[str, Any] = {"method": method, "params": params}
        if method in ("POST", "PUT"):
            kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
        try:
            response = await self.fetch("ray-dev", "api", "jobs", *parts, **kwargs)
        except HTTPClientError as err:
            assert err.response is not None, err
            return Reply(err.code, err.response.body, err.response.headers)
        return Reply(response.code, response.body, response.headers)

    async def submit(self, **body: Any) -> Reply:
        return await self.call("POST", body=body)

    async def job(self, job_id: str) -> dict[str, Any]:
        reply = await self.call("GET", job_id)
        assert reply.code == 200, reply.body
        return reply.json

    async def wait(self, job_id: str, statuses=TERMINAL, timeout: float = 180.0) -> dict[str, Any]:
        """Poll until the job reaches one of ``statuses`` (the timeout only stops a hung test)."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.job(job_id)
            if job["status"] in statuses:
                return job
            assert time.monotonic() < deadline, f"job never reached {statuses}: {job}"
            await asyncio.sleep(0.3)

    async def logs(self, job_id: str) -> str:
        reply = await self.call("GET", job_id, "logs")
        assert reply.code == 200, reply.body
        return reply.body.decode()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def driver_lines(log: str, prefix: str) -> list[str]:
    """The driver's own lines (Ray adds its own around them)."""
    return [line for line in log.splitlines() if line.startswith(prefix)]


async def read_stream(jp_ws_fetch, job_id, on_line=None, wire=None, **params):
    """Every message until the server closes the socket, each ``lines`` batch as one
    ``line`` message per line (``wire`` gets the messages as sent)."""
    ws = await jp_ws_fetch("ray-dev", "api", "jobs", job_id, "logs", "stream",
                           params={k: str(v) for k, v in params.items()})
    messages = []
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout=180)  # only a hang guard
            if raw is None:
                return messages
            message = json.loads(raw)
            if wire is not None:
                wire.append(message)
            if message["type"] != "lines":
                messages.append(message)
                continue
            for i, text in enumerate(message["lines"]):
                line = {"type": "line", "n": message["n"] + i, "line": text}
                messages.append(line)
                if on_line:
                    on_line(line)
    finally:
        ws.close()
