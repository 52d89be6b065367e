"""Quality gates: every route authenticated, no token -> 403, cheap imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import warnings

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.handlers import ROUTES

HEAVY = ("ray", "kubernetes", "s3fs", "gcsfs", "nbconvert")


def test_every_route_requires_authentication():
    """As the extension template's check_auth: unauthenticated handlers warn; we fail on it."""
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.utils import JupyterServerAuthWarning

    app = ServerApp(
        allow_unauthenticated_access=False,
        jpserver_extensions={"jupyter_ray_dev": True},
        reraise_server_extension_failures=True,
    )
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    problems = [str(r.message) for r in records if issubclass(r.category, JupyterServerAuthWarning)]
    assert problems == []
    # and it did load: a silent load failure would also mean "no warnings"
    assert app.extension_manager.extensions["jupyter_ray_dev"].enabled


def _first_method(handler: type) -> str:
    """A method the handler implements (a POST-only route answers GET with 405, not 403)."""
    from tornado.web import RequestHandler

    return next(m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                if getattr(handler, m.lower()) is not getattr(RequestHandler, m.lower()))


@pytest.mark.parametrize(("pattern", "handler"), ROUTES, ids=[pattern for pattern, _ in ROUTES])
async def test_request_without_token_is_refused(jp_fetch, pattern, handler, ray_address):
    # a route with a regex group gets a value the group accepts
    path = re.sub(r"\(\?P<\w+>[^()]*\)", "raysubmit_x-1", pattern)
    method = _first_method(handler)
    with pytest.raises(HTTPClientError) as err:
        # jp_fetch adds the server's token unless the header is given: give it empty
        await jp_fetch(*path.strip("/").split("/"), method=method, headers={"Authorization": ""},
                       body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                       allow_nonstandard_methods=True)
    assert err.value.code == 403


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_importing_the_package_imports_nothing_heavy():
    loaded = _modules_after(
        "import jupyter_ray_dev, jupyter_ray_dev.app, jupyter_ray_dev.handlers, "
        "jupyter_ray_dev.service, jupyter_ray_dev.cluster"
    )
    assert not loaded & set(HEAVY)


def test_loading_the_server_extension_adds_no_heavy_import():
    """Jupyter server may import some of these itself; our extension must add none."""
    start = """
        from jupyter_server.serverapp import ServerApp
        app = ServerApp(jpserver_extensions=EXT, token='t')
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    """
    baseline = _modules_after(start.replace("EXT", "{}"))
    with_ext = _modules_after(start.replace("EXT", "{'jupyter_ray_dev': True}"))
    assert "jupyter_ray_dev" in with_ext
    assert not (with_ext - baseline) & set(HEAVY)
