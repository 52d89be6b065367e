"""Whether the dashboard's Metrics page can show anything: Ray embeds Grafana there.

The dashboard itself checks the Grafana it was started with (``RAY_GRAFANA_HOST`` on the
head, default ``http://localhost:3000``); its verdict is what the panel shows.
"""

from __future__ import annotations

from typing import Any

from .dashboard import DashboardClient

GRAFANA_DISABLED = "DISABLED"  # RAY_GRAFANA_HOST=DISABLED hides the Metrics page
SET_UP_GRAFANA = (
    "Set RAY_GRAFANA_HOST (and RAY_PROMETHEUS_HOST) in the Ray head's environment to a Grafana "
    "with Ray's dashboards imported (Ray's guide: \"Embed Grafana visualizations into Ray "
    "Dashboard\"; KubeRay: the head container's env)."
)


def metrics_verdict(body: Any) -> dict[str, Any]:
    """Pure: the panel's answer from the dashboard's ``/api/grafana_health`` envelope."""
    body = body if isinstance(body, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    host = data.get("grafanaHost")
    if host == GRAFANA_DISABLED:
        return {"available": False, "grafana_host": None,
                "message": "Grafana is turned off for this cluster (RAY_GRAFANA_HOST=DISABLED "
                           "on the Ray head): the dashboard has no Metrics page."}
    if body.get("result") and host:
        return {"available": True, "grafana_host": host,
                "message": f"The Metrics page embeds Grafana from {host}: your browser must "
                           "reach that address (RAY_GRAFANA_IFRAME_HOST on the head sets it)."}
    why = body.get("msg") or "no answer"
    return {"available": False, "grafana_host": None,
            "message": f"The Ray dashboard has no Grafana to show metrics from ({why}). "
                       f"{SET_UP_GRAFANA}"}


async def fetch_metrics_status(client: DashboardClient) -> dict[str, Any]:
    return metrics_verdict(await client.get_json("/api/grafana_health", error_bodies=True))
