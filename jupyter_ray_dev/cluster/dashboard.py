"""A small async client for Ray's dashboard REST API (natively async: never blocks the loop)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from typing import Any
from urllib.parse import urljoin

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..errors import RayAuthFailed, RayBadResponse, RayDevError, RayUnreachable
from .auth import RayAuth

FIX_ADDRESS = (
    "Start Ray (`ray start --head`, or `make lab` which starts one), or point "
    "c.RayDev.ray_address / RAY_ADDRESS at the dashboard, e.g. http://<head>:8265."
)

# A body this large (Ray's job list grows with every job the cluster ran: hundreds of
# kilobytes, tens of milliseconds of CPU) is decoded on the caller's executor, where the
# GIL's switch interval lets the event loop run in between; smaller ones on the loop.
DECODE_ON_THREAD = 64 * 1024


class DashboardClient:
    """GET JSON from the dashboard, turning every failure into a RayDevError."""

    def __init__(self, address: str, auth: RayAuth, timeout: float = 5.0,
                 executor: Executor | None = None) -> None:
        self.address = address.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.executor = executor  # decodes large bodies (DECODE_ON_THREAD)

    async def get_json(self, path: str, *, not_found: RayDevError | None = None,
                       error_bodies: bool = False) -> Any:
        """GET ``path``; a 404 raises ``not_found`` when given (a missing job, say).
        ``error_bodies``: a 4xx/5xx with a JSON body is returned (Ray's health checks
        answer 500 with the reason in their envelope)."""
        url = urljoin(self.address + "/", path.lstrip("/"))
        request = HTTPRequest(
            url,
            headers={"Accept": "application/json", **self.auth.headers()},
            connect_timeout=self.timeout,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError, TimeoutError) as err:
            # connection refused, DNS failure, timeout, closed stream
            raise RayUnreachable(
                f"Cannot reach the Ray dashboard at {self.address}: {_describe(err)}. {FIX_ADDRESS}",
                address=self.address,
            ) from err
        if response.code == 599:
            raise RayUnreachable(
                f"Cannot reach the Ray dashboard at {self.address}: "
                f"{_describe(response.error)}. {FIX_ADDRESS}",
                address=self.address,
            )
        if response.code in (401, 403):
            raise RayAuthFailed(_auth_message(self.address, self.auth), address=self.address,
                                auth_mode=self.auth.mode)
        if response.code == 404 and not_found is not None:
            raise not_found
        if response.code >= 400 and not error_bodies:
            raise RayBadResponse(
                f"The Ray dashboard at {self.address} answered {response.code} for {path}. "
                "Check that the address is a Ray dashboard of a supported Ray version (>= 2.40).",
                address=self.address,
            )
        try:
            if self.executor is not None and len(response.body) > DECODE_ON_THREAD:
                body = await asyncio.get_running_loop().run_in_executor(
                    self.executor, json.loads, response.body)
            else:
                body = json.loads(response.body)
        except ValueError as err:
            raise RayBadResponse(
                f"{self.address}{path} did not return JSON: is this a Ray dashboard? {FIX_ADDRESS}",
                address=self.address,
            ) from err
        return body

    async def get_data(self, path: str) -> dict[str, Any]:
        """GET one of the dashboard's ``{"result": ..., "msg": ..., "data": ...}`` envelopes."""
        body = await self.get_json(path)
        if not isinstance(body, dict) or body.get("result") is False:
            msg = body.get("msg") if isinstance(body, dict) else None
            raise RayBadResponse(
                f"The Ray dashboard at {self.address} failed on {path}: {msg or 'no data'}",
                address=self.address,
            )
        return body.get("data") or {}


def _describe(err: BaseException | None) -> str:
    if err is None:
        return "no answer"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if isinstance(err, HTTPClientError) and err.code == 599:
        return str(err.message or "timeout").lower()
    text = str(err) or type(err).__name__
    return text[0].lower() + text[1:]


def _auth_message(address: str, auth: RayAuth) -> str:
    if auth.mode == "token":
        return (
            f"The Ray dashboard at {address} rejected the token from {auth.source}. "
            "Check that it is this cluster's token (`ray get-auth-token` on the head prints it)."
        )
    return (
        f"The Ray dashboard at {address} requires token authentication. Set RAY_AUTH_MODE=token "
        "and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) in the environment of the Jupyter server."
    )
