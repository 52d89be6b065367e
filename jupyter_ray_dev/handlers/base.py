"""The base every handler shares: the core service, JSON errors, no stale caches."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from ..errors import RayDevError
from ..service import RayDevService


class RayDevHandler(ExtensionHandlerMixin, APIHandler):
    """Base: turns core errors into JSON bodies with their status, without a traceback."""

    @property
    def service(self) -> RayDevService:
        return self.extensionapp.service  # type: ignore[attr-defined]

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # cluster state changes by the second; no cache may serve it stale
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RayDevError):
            self.set_status(exc.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.to_dict()))
            return
        super().write_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # expected conditions (Ray down, bad input) are not server bugs: one line, no traceback
        if isinstance(value, RayDevError):
            self.log.warning("%s %s: %s", self.request.method, self.request.path, value.message)
            return
        super().log_exception(typ, value, tb)


@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(files("jupyter_ray_dev").joinpath("openapi.json").read_text(encoding="utf-8"))


class OpenAPIHandler(RayDevHandler):
    @tornado.web.authenticated
    def get(self) -> None:
        self.finish(openapi_document())


API_PREFIX = "/ray-dev/api"
