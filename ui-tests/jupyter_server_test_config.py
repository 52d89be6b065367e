"""Server configuration for the Galata UI tests (started by `jlpm start` via devlab).

Galata's helper turns off the token and XSRF so the browser can drive Lab
freely: authentication is covered by pytest (tests/test_security.py).
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is the config object Jupyter passes in

# Galata pins 8888; RAY_DEV_UI_PORT lets two UI runs share a machine.
c.ServerApp.port = int(os.environ.get("RAY_DEV_UI_PORT", "8888"))  # noqa: F821
