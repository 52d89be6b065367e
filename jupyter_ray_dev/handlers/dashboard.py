"""``/ray-dev/dashboard/``: the configured Ray dashboard through this server, HTTP and
WebSocket, with the Ray token added here so the browser never holds it.

jupyter-server-proxy's ``ProxyHandler`` does the proxying (buffered and streamed replies,
redirects kept under the prefix, the browser's side of the WebSocket relay). This subclass
pins it to one upstream: the URL is built from the server's Ray address alone, never from
the request, so no request can name another host or port. Ray's dashboard page loads under a path
prefix because it asks for its assets and API by relative URLs and routes by ``#/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from ..errors import RayDevError
from ..service import RayDevService

DASHBOARD_PREFIX = "/ray-dev/dashboard"

# what the browser sends for Jupyter, not for Ray: Jupyter's login cookie, XSRF token and
# token header never reach the dashboard; the Ray token is added instead
_NOT_FORWARDED = ("Cookie", "Authorization", "X-Ray-Authorization", "X-XSRFToken")
# the path as the dashboard should receive it: "?" and "#" a client sent encoded stay encoded
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class DashboardProxyHandler(ExtensionHandlerMixin, ProxyHandler):
    """The Ray dashboard under ``<base_url>/ray-dev/dashboard/``."""

    def initialize(self, name: str, *args: Any, **kwargs: Any) -> None:
        super().initialize(name, *args, **kwargs)
        # X-Forwarded-Prefix and redirects' Location are made from this
        self.proxy_base = DASHBOARD_PREFIX.strip("/")
        # ProxyHandler passes what a rewrite asks for by its parameters' names
        self.rewrite_response = (lambda response: self._harden(response),)
        # ProxyHandler's default allows only localhost; the one upstream is what is allowed
        self.host_allowlist = lambda handler, host: host == handler.upstream.hostname

    @property
    def service(self) -> RayDevService:
        return self.extensionapp.service  # type: ignore[attr-defined]

    @property
    def upstream(self) -> SplitResult:
        try:
            return urlsplit(self.service.dashboard_address)
        except RayDevError as err:
            raise web.HTTPError(err.status, "%s", err.message) from err

    def get_login_url(self) -> str:
        # a page or API call without Jupyter's credentials is refused, as every route is
        if not self.current_user:
            raise web.HTTPError(403)
        return super().get_login_url()

    def check_xsrf_cookie(self) -> None:
        # ProxyHandler leaves XSRF to the proxied app; here the token this proxy adds would
        # make a cross-site form post act as the user, so Jupyter's own check applies
        return JupyterHandler.check_xsrf_cookie(self)

    # -- the methods (each authenticated, as Jupyter requires of every handler) ------------

    @web.authenticated
    async def get(self, path: str) -> None:  # type: ignore[override]
        # an HTTP GET goes to http_get, a WebSocket upgrade to open
        await super().get(path=path)

    async def http_get(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    async def open(self, path: str) -> None:  # type: ignore[override]
        # ProxyHandler.proxy_open always asks the upstream for permessage-deflate, and on a
        # compressed socket Ray's dashboard sends nothing (its job log tail stays empty):
        # the same relay, uncompressed (the upstream is the head, near; the browser's own
        # socket to Jupyter negotiates compression separately)
        upstream = self.upstream
        request = HTTPRequest(
            self.get_client_uri("ws", upstream.hostname, _port(upstream), path),
            headers=self.proxy_request_headers(),
            connect_timeout=self.service.config.request_timeout)

        def relay(message: str | bytes | None) -> None:
            self._record_activity()
            if message is None:
                self.close()
            else:
                self.write_message(message, binary=isinstance(message, bytes))

        self._record_activity()
        # on_message, on_ping and on_close of ProxyHandler use self.ws for the other way
        self.ws = await websocket_connect(request, on_message_callback=relay,
                                          subprotocols=self._requested_subprotocols)

    @web.authenticated
    async def post(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    @web.authenticated
    async def put(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    @web.authenticated
    async def delete(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    @web.authenticated
    async def patch(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    @web.authenticated
    async def head(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    @web.authenticated
    async def options(self, path: str) -> None:  # type: ignore[override]
        await self._proxy(path)

    async def _proxy(self, path: str) -> None:
        upstream = self.upstream
        try:
            await self.proxy(upstream.hostname, _port(upstream), "/" + path)
        except (OSError, HTTPClientError, web.HTTPError) as err:
            # no answer at all (refused, timed out, reset); a dashboard's own error replies
            # are passed on as they are, never raised
            if isinstance(err, web.HTTPError) and err.status_code not in (500, 599):
                raise
            from ..cluster.dashboard import FIX_ADDRESS

            why = err.log_message if isinstance(err, web.HTTPError) else str(err)
            raise web.HTTPError(503, "Cannot reach the Ray dashboard at %s: %s. %s",
                                upstream.geturl(), why or "no answer", FIX_ADDRESS) from err

    # -- what goes upstream and what comes back ----------------------------------------------

    def get_client_uri(self, protocol: str, host: str, port: int, proxied_path: str) -> str:
        upstream = self.upstream
        scheme = upstream.scheme
        if protocol == "ws":
            scheme = "wss" if scheme == "https" else "ws"
        path = upstream.path.rstrip("/") + quote("/" + proxied_path.lstrip("/"), safe=_PATH_SAFE)
        uri = f"{scheme}://{upstream.netloc}{path}"
        return f"{uri}?{self.request.query}" if self.request.query else uri

    def proxy_request_headers(self) -> Any:
        headers = self.request.headers.copy()
        for name in _NOT_FORWARDED:
            if name in headers:
                del headers[name]
        # a virtual-hosted dashboard (an Ingress) routes by Host: it is the upstream's
        headers["Host"] = self.upstream.netloc
        headers.update(self.get_request_headers_override())
        return headers

    def get_request_headers_override(self) -> dict[str, str]:
        from ..cluster import resolve_auth

        try:
            # resolved per request, as the REST routes do: a token written later is used
            return resolve_auth().headers()
        except RayDevError as err:
            raise web.HTTPError(err.status, "%s", err.message) from err

    def proxy_request_options(self) -> dict[str, Any]:
        timeout = self.service.config.request_timeout
        # connecting is quick or not at all; an answer (a log download) may take long
        return {"follow_redirects": False, "connect_timeout": timeout, "request_timeout": 300.0}

    def _harden(self, response: Any) -> None:
        # no cookie of the dashboard's lands on Jupyter's origin (its token login sets one)
        if "Set-Cookie" in response.headers:
            del response.headers["Set-Cookie"]
        # framed only by this origin (the Lab tab), as Jupyter's own pages are
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = self.content_security_policy


def _port(upstream: SplitResult) -> int:
    return upstream.port or (443 if upstream.scheme == "https" else 80)


ROUTES = [(f"{DASHBOARD_PREFIX}/(?P<path>.*)", DashboardProxyHandler)]
