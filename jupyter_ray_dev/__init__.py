"""jupyter-ray-dev: develop on the head node of a KubeRay Ray cluster, from JupyterLab.

Importing this package must stay cheap: no ray, kubernetes, s3fs or nbconvert
here or in anything imported at server start (a test checks it).
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "dev"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-ray-dev"}]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import RayDev

    return [{"module": "jupyter_ray_dev", "app": RayDev}]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_ray_dev``: the %ray_* magics (IPython is imported only here)."""
    from .magics import load

    load(ipython)
