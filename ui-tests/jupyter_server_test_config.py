"""Server configuration for the Galata UI tests (started by `jlpm start` via devlab).

Galata's helper turns off the token and XSRF so the browser can drive Lab
freely: authentication is covered by pytest (tests/test_security.py).
"""

import os
import sys
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is the config object Jupyter passes in

# Galata pins 8888; RAY_DEV_UI_PORT lets two UI runs share a machine.
c.ServerApp.port = int(os.environ.get("RAY_DEV_UI_PORT", "8888"))  # noqa: F821

# Promote to prod builds, checks and pushes for real: buildah, the local stand-in for
# rayproject/ray and a docker-registry on loopback, as the pytest build tests use them.
# The wheel's smoke set builds nothing (RAY_DEV_UI_BUILDER=0 there).
if os.environ.get("RAY_DEV_UI_BUILDER", "1") != "0":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from ui_builder import configure as configure_builder

    configure_builder(c, c.ServerApp.port)  # noqa: F821
