"""Promote to prod: a notebook project -> reproducible image -> KubeRay manifests.

Importing this package is cheap: nbconvert, jinja2, jsonschema and yaml are
imported on first use, in a worker thread; the service itself loads on first use
(PEP 562), so the faces can read the request models (``options``) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import by_module, exports

if TYPE_CHECKING:
    from .build import NoBuilder
    from .builder_registry import register_builder
    from .config import PromoteConfig
    from .options import PromoteOptions
    from .service import PromoteService

_LAZY = by_module(
    options="PromoteOptions",
    build="NoBuilder",
    config="PromoteConfig",
    service="PromoteService",
    builder_registry="register_builder",
)

__all__ = sorted(_LAZY)
__getattr__ = exports(__name__, _LAZY)
