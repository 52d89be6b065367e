"""Thin Tornado handlers, one module per capability: parse the request, call the core, write JSON.

``ROUTES`` is every route the extension serves; the OpenAPI document must
describe exactly these (a test checks both ways).
"""

from __future__ import annotations

import tornado.web

from . import cluster, dashboard, jobs, kubernetes, promote, runtime_env, storage
from .base import API_PREFIX, OpenAPIHandler, RayDevHandler, openapi_document

ROUTES: list[tuple[str, type[tornado.web.RequestHandler]]] = [
    *cluster.ROUTES,
    *dashboard.ROUTES,
    *jobs.ROUTES,
    *storage.ROUTES,
    *runtime_env.ROUTES,
    *kubernetes.ROUTES,
    *promote.ROUTES,
    (f"{API_PREFIX}/openapi.json", OpenAPIHandler),
]

__all__ = ["API_PREFIX", "ROUTES", "RayDevHandler", "openapi_document"]
