"""The core outside a Jupyter server: build ``RayDevService`` for a kernel or the CLI.

A kernel or ``jupyter ray-dev`` has no ServerApp, but the user configured the
server (``c.RayDev.*`` in jupyter_server_config.py/.json): the same files are
read here through traitlets, so the magics and the CLI see the cluster, roots
and shared folders the panels see. ``RayDev``'s own trait defaults (e.g.
``$RAY_ADDRESS``) apply unchanged.
"""

from __future__ import annotations

import dataclasses
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
    would build it. Every RayDevConfig field a RayDev trait of the same name sets is taken,
    so a setting added to both is picked up here without a change."""
    from .app import RayDev

    config = load_jupyter_config() if config is None else config
    app = RayDev(config=config)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(RayDevConfig):
        if app.has_trait(field.name):
            value = getattr(app, field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    server = config.get("ServerApp", {})
    root = root_dir or os.environ.get(ROOT_ENV) or server.get("root_dir") or os.getcwd()
    values["root_dir"] = os.path.abspath(os.path.expanduser(str(root)))
    return RayDevConfig(**values)


def local_service(config: Any = None, root_dir: str | None = None) -> RayDevService:
    return RayDevService(config_from_jupyter(config, root_dir))
