"""Promote to prod: a notebook project -> reproducible image -> KubeRay manifests.

Importing this package is cheap: nbconvert, jinja2, jsonschema and yaml are
imported on first use, in a worker thread.
"""

from .build import NoBuilder
from .builders import register_builder
from .config import PromoteConfig
from .options import PromoteOptions
from .service import PromoteService

__all__ = ["NoBuilder", "PromoteConfig", "PromoteOptions", "PromoteService", "register_builder"]
