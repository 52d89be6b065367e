"""Ray's public Job Submission API, used from the event loop without blocking it.

``ray.job_submission.JobSubmissionClient`` is blocking (requests) and importing
it costs seconds, so the import, the client and its calls (submit, stop, delete,
logs) live on a small thread pool of our own (not the loop's default executor,
which Jupyter itself uses). Its log tail is natively async (aiohttp) and runs on
the loop. Status reads, repeated by panels and live log streams, go to the same
API's REST form natively async (see ``_get_json``).

Every failure becomes a RayDevError: unreachable -> 503 with the address,
rejected token -> 503, unknown job -> 404, anything else Ray says -> 502.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote

from ..cluster.auth import RayAuth
from ..cluster.dashboard import FIX_ADDRESS, DashboardClient, _auth_message
from ..errors import NotFound, RayAuthFailed, RayBadResponse, RayDevError, RayUnreachable

T = TypeVar("T")

_HTTP_ERROR = re.compile(r"Request failed with status code (\d+): (.*)", re.S)


class RayClientMissing(RayDevError):
    """The server's Python environment has no Ray client: a setup problem, not the request's."""

    status = 503
    reason = "ray_client_missing"


def import_ray(module: str) -> Any:
    """Import a Ray module on first use (seconds of CPU: call it off the event loop)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RayClientMissing(
            f"Ray's Python client is not installed where the Jupyter server runs ({err}). "
            "Install it there, at the cluster's Ray version: "
            "pip install 'ray[default]==<version>' (or jupyter_ray_dev[ray]).",
        ) from err


class RayJobsClient:
    def __init__(
        self,
        address: Callable[[], str],
        auth: Callable[[], RayAuth],
        executor: ThreadPoolExecutor,
        timeout: float = 30.0,
    ) -> None:
        self._address = address
        self._auth = auth
        self.executor = executor
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cached: tuple[tuple[Any, ...], Any] | None = None

    def _client(self, address: str, auth: RayAuth) -> Any:
        """The client for this address and token, reused while they stay the same
        (creating one costs a version round trip to the dashboard)."""
        headers = auth.headers()
        key = (address, tuple(sorted(headers.items())))
        with self._lock:
            if self._cached is not None and self._cached[0] == key:
                return self._cached[1]
        JobSubmissionClient = import_ray("ray.job_submission").JobSubmissionClient  # noqa: N806

        # explicit headers win over Ray's own token lookup: the same resolution as the
        # cluster panel, so both always agree on which token is used
        client = JobSubmissionClient(address, headers=headers or None)
        with self._lock:
            self._cached = (key, client)
        return client

    def _translate(self, err: Exception, address: str, auth: RayAuth,
                   job_id: str | None) -> RayDevError | None:
        import requests  # a dependency of ray[default]; loaded with the client

        try:
            from ray.exceptions import AuthenticationError
        except ImportError:  # Ray before token auth
            AuthenticationError = ()  # type: ignore[assignment]  # noqa: N806
        if isinstance(err, AuthenticationError):
            return RayAuthFailed(_auth_message(address, auth), address=address,
                                 auth_mode=auth.mode)
        if isinstance(err, (ConnectionError, requests.exceptions.ConnectionError,
                            requests.exceptions.Timeout)):
            return RayUnreachable(
                f"Cannot reach the Ray dashboard at {address} (connection failed). {FIX_ADDRESS}",
                address=address,
            )
        if isinstance(err, RuntimeError):
            match = _HTTP_ERROR.match(str(err))
            code = int(match.group(1)) if match else None
            text = (match.group(2) if match else str(err)).strip().rstrip(".")
            if code == 404 and job_id is not None:
                return NotFound(
                    f"The Ray cluster at {address} has no job {job_id!r}: it may have been "
                    "deleted, or the cluster restarted since.",
                    job_id=job_id,
                )
            if code in (401, 403):
                return RayAuthFailed(_auth_message(address, auth), address=address,
                                     auth_mode=auth.mode)
            last = text.strip().splitlines()[-1] if text.strip() else "no details"
            return RayBadResponse(
                f"The Ray dashboard at {address} failed"
                f"{f' with {code}' if code else ''}: {last}",
                address=address,
            )
        return None

    async def run(self, fn: Callable[[Any], T], *, job_id: str | None = None) -> T:
        """Run ``fn(client)`` on the pool; Ray's exceptions come back as RayDevErrors."""

        def work() -> T:
            address = self._address()
            auth = self._auth()
            try:
                return fn(self._client(address, auth))
            except RayDevError:
                raise
            except Exception as err:
                translated = self._translate(err, address, auth, job_id)
                if translated is None:
                    raise
                raise translated from err

        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    # Reads that panels and every live log stream repeat (a status every few seconds)
    # use Ray's documented Jobs REST API natively async: no thread, no GIL contention
    # with the event loop, no pydantic parsing; the JSON is what JobDetails is built from.
    async def _get_json(self, path: str, job_id: str | None = None) -> Any:
        address = self._address()
        not_found = None
        if job_id is not None:
            not_found = NotFound(
                f"The Ray cluster at {address} has no job {job_id!r}: it may have been "
                "deleted, or the cluster restarted since.",
                job_id=job_id,
            )
        # a long job list is decoded on our pool, not on the loop
        client = DashboardClient(address, self._auth(), self.timeout, self.executor)
        return await client.get_json(path, not_found=not_found)

    async def info(self, job_id: str) -> dict[str, Any]:
        return await self._get_json(f"/api/jobs/{quote(job_id, safe='')}", job_id=job_id)

    async def list(self) -> list[dict[str, Any]]:
        return await self._get_json("/api/jobs/")

    async def session_name(self) -> str | None:
        version = await self._get_json("/api/version")
        return version.get("session_name") if isinstance(version, dict) else None

    async def logs(self, job_id: str) -> str:
        return await self.run(lambda c: c.get_job_logs(job_id), job_id=job_id)

    async def stop(self, job_id: str) -> bool:
        return await self.run(lambda c: c.stop_job(job_id), job_id=job_id)

    async def delete(self, job_id: str) -> bool:
        return await self.run(lambda c: c.delete_job(job_id), job_id=job_id)

    async def tail(self, job_id: str) -> AsyncIterator[str]:
        """Ray's own log tail (chunks of text, not lines). It may end before the job does
        (ray#57002): callers re-check the status and reconnect."""
        client = await self.run(lambda c: c)
        async for chunk in client.tail_job_logs(job_id):
            yield chunk
