"""The UI tests' second server: Lab whose Ray and storage are unreachable, for real.

Started by Playwright next to the main one (playwright.config.js). Its Ray address and
its `artifacts` root (an S3 endpoint) are loopback ports where nothing listens, so the
panels show the 503s this server really sends; a test can bring Ray up at that address
(a relay to the main server's head, whose token this server shares).
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is the config object Jupyter passes in

# main server on RAY_DEV_UI_PORT (8888), this one on +1, dead Ray +2, dead S3 endpoint +3
port = int(os.environ.get("RAY_DEV_UI_PORT", "8888"))
c.ServerApp.port = port + 1  # noqa: F821
c.RayDev.ray_address = f"http://127.0.0.1:{port + 2}"  # noqa: F821
c.RayDev.storage_roots = [{  # noqa: F821
    "name": "artifacts",
    "url": "s3://ui-tests/artifacts",
    "options": {"endpoint_url": f"http://127.0.0.1:{port + 3}", "key": "ui-tests",
                "secret": "ui-tests"},
}]
