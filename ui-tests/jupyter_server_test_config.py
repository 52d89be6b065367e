"""Server configuration for the Galata UI tests (started by `jlpm start` via devlab).

Galata's helper turns off the token and XSRF and pins port 8888 so the browser
can drive Lab freely: authentication is covered by pytest (tests/test_security.py).
"""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 - `c` is the config object Jupyter passes in
