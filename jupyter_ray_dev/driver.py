"""Make this process (a notebook kernel) a Ray driver with its project's runtime_env.

``ray.init`` runs once per process: a second call with another environment is
ignored by Ray (or raises), and the user would silently run in the wrong one.
So we remember what we applied; the same request again is a no-op, and any
other request while Ray is initialised is refused with the way out.
Blocking (ray.init, the upload-size walk): call from a thread, never from an
event loop.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadRequest, Conflict, RayUnreachable
from .jobs.ray_client import import_ray
from .project.discovery import project_dir
from .project.root import to_api_path

_HTTP = ("http://", "https://")


@dataclass
class Applied:
    address: str
    project: str  # relative to the root
    runtime_env: dict[str, Any]


_applied: Applied | None = None


def init_address(explicit: str | None, configured: str, ray_temp_dir: str = "",
                 env: dict[str, str] | None = None) -> str:
    """The address ``ray.init`` needs: the GCS (host:6379) or Ray Client (ray://) address.

    The dashboard URL the panels use (http://...) cannot start a driver, so: the explicit
    one, else $RAY_ADDRESS or c.RayDev.ray_address when in a driver form, else the address
    the local head wrote in its temp dir (c.RayDev.ray_temp_dir)."""
    env = os.environ if env is None else env
    for candidate in (explicit, env.get("RAY_ADDRESS"), configured):
        if candidate and not candidate.startswith(_HTTP) and candidate != "auto":
            return candidate
    if ray_temp_dir:
        current = Path(ray_temp_dir) / "ray_current_cluster"
        try:
            return current.read_text(encoding="utf-8").strip()
        except OSError:
            pass
    raise BadRequest(
        f"Cannot tell the Ray cluster's GCS address: the configured address "
        f"{configured or env.get('RAY_ADDRESS') or '(none)'} is the dashboard's, and ray.init "
        "needs host:6379 or ray://host:10001. Pass --address, or set RAY_ADDRESS to the GCS "
        "address (KubeRay sets RAY_ADDRESS=127.0.0.1:6379 on the head pod).",
        field="address",
    )


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast: ray.init retries an address nobody listens on for minutes."""
    import socket

    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except ValueError:
        raise BadRequest(f"{address!r} is not host:port (e.g. 127.0.0.1:6379) or "
                         "ray://host:10001.", field="address") from None
    except OSError as err:
        raise RayUnreachable(
            f"ray.init could not connect to {address}: nothing answers there ({err}). Check "
            "that the cluster is up and that this is its GCS address (host:6379) or Ray "
            "Client address (ray://host:10001); pass another with --address.",
            field="address", address=address,
        ) from None


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def init(service: Any, project: str | None = None, address: str | None = None,
         cwd: Path | None = None) -> dict[str, Any]:
    """``ray.init`` with the project's runtime_env; what was applied, as a plain dict."""
    global _applied
    root = service.project.root
    folder = project_dir(root, project, cwd)
    runtime_env = service.jobs.project_environment(folder)
    cfg = service.config
    target = init_address(address, cfg.ray_address, cfg.ray_temp_dir)
    wanted = Applied(target, to_api_path(root, folder), runtime_env)
    ray = import_ray("ray")
    if not ray.is_initialized():
        check_reachable(target)
    if ray.is_initialized():
        if _applied == wanted:
            return {**_document(wanted), "already": True}
        if _applied is None:
            why = "ray.init() already ran in this kernel, not through %ray_init"
        elif _applied.address != wanted.address:
            why = f"Ray is initialised against {_applied.address}, not {wanted.address}"
        else:
            changed = ", ".join(_differences(_applied.runtime_env, wanted.runtime_env))
            why = (f"Ray is initialised with project {_applied.project or '/'}'s runtime_env, "
                   f"which differs in: {changed or 'the project'}")
        raise Conflict(
            f"{why}. A driver's runtime_env cannot change once Ray is initialised: run "
            "ray.shutdown() (or restart the kernel), then %ray_init again.",
            field="ray_init",
        )
    try:
        # a copy: ray.init rewrites working_dir in place to the URI of its upload
        ray.init(address=target, runtime_env=copy.deepcopy(runtime_env), log_to_driver=True)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
        raise RayUnreachable(
            f"ray.init could not connect to {target}: {err}. Check that the cluster is up "
            "and that this is its GCS address (host:6379) or Ray Client address "
            "(ray://host:10001); pass another with --address.",
            field="address", address=target,
        ) from err
    _applied = wanted
    return {**_document(wanted), "already": False}


def forget() -> None:
    """After ray.shutdown(): the next init starts afresh."""
    global _applied
    _applied = None


def _document(applied: Applied) -> dict[str, Any]:
    return {"address": applied.address, "project": applied.project,
            "runtime_env": applied.runtime_env}
