"""The core outside a Jupyter server: build ``RayDevService`` for a kernel or the CLI.

A kernel or ``jupyter ray-dev`` has no ServerApp, but the user configured the
server (``c.RayDev.*`` in jupyter_server_config.py/.json): the same files are
read here through traitlets, so the magics and the CLI see the cluster, roots
and shared folders the panels see. ``RayDev``'s own trait defaults (e.g.
``$RAY_ADDRESS``) apply unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from .project.root import ROOT_ENV
from .service import RayDevConfig, RayDevService

CONFIG_FILE = "jupyter_server_config"


def load_jupyter_config(paths: list[str] | None = None) -> Any:
    """The merged jupyter_server_config(.py/.json) of the user's Jupyter config path."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Application, Config

    config = Config()
    search = paths if paths is not None else [*jupyter_config_path(), os.getcwd()]
    # pylint: disable=protected-access - the one traitlets API that loads by name and path
    for loaded, _ in Application._load_config_files(CONFIG_FILE, path=search):
        config.merge(loaded)
    return config


def config_from_jupyter(config: Any = None, root_dir: str | None = None) -> RayDevConfig:
    """``RayDevConfig`` from ``c.RayDev.*`` (and ``c.ServerApp.root_dir``), as the server
    would build it, through the same ``RayDev.ray_dev_settings``."""
    from .app import RayDev

    config = load_jupyter_config() if config is None else config
    server = config.get("ServerApp", {})
    root = root_dir or os.environ.get(ROOT_ENV) or server.get("root_dir") or os.getcwd()
    return RayDev(config=config).ray_dev_settings(os.path.abspath(os.path.expanduser(str(root))))


def local_service(config: Any = None, root_dir: str | None = None) -> RayDevService:
    return RayDevService(config_from_jupyter(config, root_dir))
