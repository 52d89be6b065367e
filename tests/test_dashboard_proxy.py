"""The Ray dashboard through the Jupyter server: a real token-auth Ray head behind it.

The proxy adds the Ray token (the browser never holds it), reaches the configured
dashboard and nothing else, refuses requests without Jupyter's credentials, relays
WebSockets, and keeps Jupyter's XSRF check for writes. Two small loopback HTTP servers
play parts no real component can play here: a recorder standing in for the dashboard (to
see exactly which headers go upstream) and a sentinel on another port (which no request
may reach). Grafana itself cannot be installed here (no Debian or PyPI package), so a
stand-in answers Grafana's health check for the dashboard's own Metrics check.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jobs_helpers import JobsAPI, driver_lines, write
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from jupyter_ray_dev.cluster.local_head import LocalRayHead, free_port

pytestmark = pytest.mark.ray


class LoopbackServer:
    """A tiny HTTP server on a free loopback port, recording what it is sent."""

    def __init__(self, answer) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                outer.requests.append((self.command, self.path, dict(self.headers.items())))
                status, headers, body = answer(self)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _any

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Grafana:
    """Answers GET /api/health as Grafana does; ``healthy`` flips its database state."""

    def __init__(self) -> None:
        self.healthy = True
        self.server = LoopbackServer(self._answer)

    def _answer(self, request):
        if self.healthy:
            return 200, [("Content-Type", "application/json")], b'{"database": "ok"}'
        return 503, [("Content-Type", "application/json")], b'{"database": "failing"}'


@pytest.fixture(scope="module")
def grafana():
    g = Grafana()
    yield g
    g.server.stop()


@pytest.fixture(scope="module")
def token_head(grafana):
    head = LocalRayHead(num_cpus=1, token_auth=True, env={"RAY_GRAFANA_HOST": grafana.server.url})
    head.start(timeout=300, attempts=4)  # a shared, loaded machine can take minutes
    yield head
    head.stop()


@pytest.fixture
def ray_address(request, token_head, monkeypatch):
    """The token head; a test parametrized with ``ray_address`` names a stand-in fixture."""
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent-home")  # no ~/.ray/auth_token to fall back on
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token_head.token)
    stand_in = getattr(request, "param", None)
    return request.getfixturevalue(stand_in).url if stand_in else token_head.dashboard_url


async def raw(http_server_client, jp_base_url, path: str, *, method="GET", headers=None,
              body=None):
    """A request with the path exactly as given (no client-side escaping)."""
    url = jp_base_url.rstrip("/") + "/ray-dev/dashboard/" + path
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    return await http_server_client.fetch(url, method=method, headers=headers or {},
                                          body=body, raise_error=False, follow_redirects=False,
                                          allow_nonstandard_methods=True, request_timeout=60)


@pytest.fixture
def dashboard(http_server_client, jp_base_url, jp_auth_header):
    async def fetch(path: str, **kwargs):
        headers = {**jp_auth_header, **kwargs.pop("headers", {})}
        return await raw(http_server_client, jp_base_url, path, headers=headers, **kwargs)

    return fetch


# -- the dashboard loads, with the token added here ----------------------------------------

async def test_the_dashboard_page_its_assets_and_its_api_load_through_jupyter(dashboard,
                                                                               token_head):
    page = await dashboard("")
    assert page.code == 200, page.body[:300]
    html = page.body.decode()
    assert "<title>Ray Dashboard</title>" in html
    # relative asset URLs: they resolve under /ray-dev/dashboard/, so the UI loads there
    script = re.search(r'src="\./(static/js/main\.[0-9a-f]+\.js)"', html).group(1)
    asset = await dashboard(script)
    assert asset.code == 200 and len(asset.body) > 100_000

    jobs = await dashboard("api/jobs/")
    assert jobs.code == 200 and isinstance(json.loads(jobs.body), list)
    # the same call straight to the dashboard without the token is refused by Ray: the proxy
    # is what adds it
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{token_head.dashboard_url}/api/jobs/", timeout=10)
    assert refused.value.code == 401
    # the token is never sent back to the browser
    for reply in (page, jobs):
        assert token_head.token.encode() not in reply.body
        assert token_head.token not in str(reply.headers)


async def test_requests_without_jupyters_credentials_are_403(http_server_client, jp_base_url,
                                                            jp_http_port):
    for method, path in [("GET", ""), ("GET", "api/jobs/"), ("HEAD", "api/version"),
                         ("POST", "api/jobs/"), ("DELETE", "api/jobs/x"), ("PUT", "x"),
                         ("PATCH", "x"), ("OPTIONS", "api/jobs/")]:
        reply = await raw(http_server_client, jp_base_url, path, method=method)
        assert reply.code == 403, (method, path, reply.code)
    with pytest.raises(HTTPClientError) as err:
        await websocket_connect(f"ws://127.0.0.1:{jp_http_port}{jp_base_url}ray-dev/dashboard/"
                                "api/jobs/x/logs/tail")
    assert err.value.code == 403


async def test_a_websocket_is_relayed_with_the_token(jp_fetch, jp_root_dir, jp_http_port,
                                                     jp_base_url, jp_auth_header):
    api = JobsAPI(jp_fetch)
    write(jp_root_dir / "proj" / "tail.py", "for i in range(3):\n    print(f'relayed {i}')\n")
    submitted = await api.submit(file="proj/tail.py")
    assert submitted.code == 201, submitted.body
    job_id = submitted.json["submission_id"]
    assert (await api.wait(job_id))["status"] == "SUCCEEDED"

    # Ray's own log tail endpoint (what `ray job logs --follow` uses), through the proxy
    from tornado.httpclient import HTTPRequest

    ws = await websocket_connect(HTTPRequest(
        f"ws://127.0.0.1:{jp_http_port}{jp_base_url}ray-dev/dashboard/api/jobs/{job_id}/"
        "logs/tail", headers=jp_auth_header))
    text = ""
    while True:
        message = await ws.read_message()
        if message is None:
            break
        text += message
    assert driver_lines(text, "relayed") == ["relayed 0", "relayed 1", "relayed 2"], text


async def test_writes_need_jupyters_xsrf_token_when_authenticated_by_cookie(
        http_server_client, jp_base_url, jp_auth_header):
    # a token-authenticated request leaves a login cookie, as a browser session has
    login = await http_server_client.fetch(f"{jp_base_url}api/status", headers=jp_auth_header)
    cookies = "; ".join(c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies, login.headers

    read = await raw(http_server_client, jp_base_url, "api/jobs/", headers={"Cookie": cookies})
    assert read.code == 200  # a page's GET works with the session cookie alone
    # a cross-site form post carries the cookie but not the XSRF token: refused here, so
    # the Ray token this proxy adds never turns it into a job submission
    forged = await raw(http_server_client, jp_base_url, "api/jobs/", method="POST",
                       headers={"Cookie": cookies, "Content-Type": "text/plain"},
                       body=b'{"entrypoint": "echo forged-by-another-site"}')
    assert forged.code == 403
    jobs = await raw(http_server_client, jp_base_url, "api/jobs/", headers={"Cookie": cookies})
    assert "forged-by-another-site" not in jobs.body.decode()


# -- the one upstream --------------------------------------------------------------------

@pytest.fixture
def sentinel():
    server = LoopbackServer(lambda request: (200, [], b"SENTINEL-REACHED"))
    yield server
    server.stop()


async def test_no_request_reaches_another_host_or_port(dashboard, sentinel, http_server_client,
                                                       jp_base_url, jp_auth_header):
    port = sentinel.port
    hostile = [
        f"//127.0.0.1:{port}/", f"http://127.0.0.1:{port}/", f"http:/127.0.0.1:{port}/",
        f"@127.0.0.1:{port}/", f"%2F%2F127.0.0.1:{port}%2F", f"%40127.0.0.1:{port}/",
        f"..%2F..%2F127.0.0.1:{port}", f"\\\\127.0.0.1:{port}\\", f"localhost:{port}/",
        f"?url=http://127.0.0.1:{port}/", f"api/jobs/%3F@127.0.0.1:{port}/",
        f"%0d%0aHost:%20127.0.0.1:{port}%0d%0a/",
    ]
    for path in hostile:
        reply = await dashboard(path)
        assert b"SENTINEL-REACHED" not in (reply.body or b""), path
    # nor through the Host header, or a proxy-style absolute request target
    for headers in ({"Host": f"127.0.0.1:{port}"}, {"X-Forwarded-Host": f"127.0.0.1:{port}"}):
        reply = await dashboard("api/version", headers=headers)
        assert b"SENTINEL-REACHED" not in (reply.body or b"")
    # jupyter-server-proxy's own open routes are not what this extension serves
    for path in (f"proxy/{port}/", f"proxy/127.0.0.1:{port}/", f"proxy/absolute/{port}/"):
        reply = await http_server_client.fetch(f"{jp_base_url}{path}", headers=jp_auth_header,
                                               raise_error=False, follow_redirects=False)
        assert reply.code in (301, 302, 404), (path, reply.code)
        assert b"SENTINEL-REACHED" not in (reply.body or b"")
    assert sentinel.requests == []


# -- what goes upstream --------------------------------------------------------------------

@pytest.fixture
def recorder():
    def answer(request):
        return 302 if request.path == "/redirect" else 200, [
            ("Content-Type", "text/plain"), ("Set-Cookie", "ray-authentication-token=x; Path=/"),
            ("Location", "/#/jobs")], b"recorded"
    server = LoopbackServer(answer)
    yield server
    server.stop()


@pytest.mark.parametrize("ray_address", ["recorder"], indirect=True)
async def test_upstream_gets_the_ray_token_and_none_of_jupyters_credentials(
        http_server_client, jp_base_url, recorder, jp_auth_header, monkeypatch):
    # the recorder stands in for the dashboard (see the module docstring)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the-ray-token")
    reply = await raw(http_server_client, jp_base_url, "api/x%20y?a=1", headers={
        **jp_auth_header, "Cookie": "username-127-0-0-1=secret-cookie; _xsrf=xsrf-value",
        "X-XSRFToken": "xsrf-value", "User-Agent": "Mozilla/5.0"})
    assert reply.code == 200 and reply.body == b"recorded"
    ((method, path, headers),) = recorder.requests
    assert (method, path) == ("GET", "/api/x%20y?a=1")
    assert headers["Authorization"] == "Bearer the-ray-token"
    assert "Cookie" not in headers and "X-XSRFToken" not in headers
    jupyter_token = jp_auth_header["Authorization"].split()[-1]
    assert jupyter_token not in json.dumps(headers)
    assert headers["Host"] == f"127.0.0.1:{recorder.port}"
    assert headers["X-Forwarded-Prefix"] == f"{jp_base_url}ray-dev/dashboard"
    assert headers["User-Agent"] == "Mozilla/5.0"  # Ray's browser checks still see a browser
    # nothing of the dashboard's lands on Jupyter's origin; framed by this origin only
    assert "ray-authentication-token" not in str(reply.headers.get_list("Set-Cookie"))
    assert "frame-ancestors 'self'" in reply.headers["Content-Security-Policy"]

    moved = await raw(http_server_client, jp_base_url, "redirect", headers=jp_auth_header)
    assert moved.code == 302
    assert moved.headers["Location"] == f"{jp_base_url}ray-dev/dashboard/#/jobs"


class Closed:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.fixture
def closed():
    return Closed()


@pytest.mark.parametrize("ray_address", ["closed"], indirect=True)
async def test_an_unreachable_dashboard_is_503_saying_so(dashboard, closed):
    reply = await dashboard("api/jobs/")
    assert reply.code == 503
    assert f"Cannot reach the Ray dashboard at {closed.url}" in reply.body.decode()


# -- metrics ------------------------------------------------------------------------------

async def test_metrics_follow_the_dashboards_grafana_check(jp_fetch, grafana):
    grafana.healthy = True
    body = json.loads((await jp_fetch("ray-dev", "api", "cluster", "metrics")).body)
    assert body["available"] is True and body["grafana_host"] == grafana.server.url
    assert grafana.server.url in body["message"]

    grafana.healthy = False
    try:
        body = json.loads((await jp_fetch("ray-dev", "api", "cluster", "metrics")).body)
    finally:
        grafana.healthy = True
    assert body["available"] is False and body["grafana_host"] is None
    assert "RAY_GRAFANA_HOST" in body["message"]
    assert "Grafana healthcheck failed" in body["message"]

