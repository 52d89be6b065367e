"""Turn whatever the user gave as a Ray address into the dashboard's HTTP URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import RayAddressInvalid

DASHBOARD_PORT = 8265
DEFAULT_DASHBOARD = f"http://127.0.0.1:{DASHBOARD_PORT}"


def resolve_dashboard_address(address: str | None) -> str:
    """Return the dashboard base URL (no trailing slash) for a Ray address.

    Accepted forms, as users meet them:

    - ``http(s)://host:8265``: the dashboard itself (what ``ray job submit`` uses);
    - ``ray://host:10001``: the Ray Client address; the dashboard runs on the same host;
    - ``host:6379``: the GCS address KubeRay puts in ``RAY_ADDRESS`` on the head pod;
      the dashboard listens on the same host;
    - empty, ``auto`` or ``local``: the local head's dashboard.
    """
    value = (address or "").strip()
    if value in ("", "auto", "local"):
        return DEFAULT_DASHBOARD
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        if not parts.hostname:
            raise RayAddressInvalid(
                f"Ray address {value!r} has no host. Use a URL like {DEFAULT_DASHBOARD}.",
                setting="c.RayDev.ray_address",
            )
        return value.rstrip("/")
    if value.startswith("ray://"):
        host = urlsplit(value).hostname
    elif "://" in value:
        raise RayAddressInvalid(
            f"Ray address {value!r} has an unknown scheme. Use http(s)://host:{DASHBOARD_PORT} "
            "(dashboard), ray://host:10001 (Ray Client) or host:6379 (GCS).",
            setting="c.RayDev.ray_address",
        )
    else:
        host = urlsplit(f"//{value}").hostname
    if not host:
        raise RayAddressInvalid(
            f"Ray address {value!r} has no host. Use a URL like {DEFAULT_DASHBOARD}.",
            setting="c.RayDev.ray_address",
        )
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{DASHBOARD_PORT}"
