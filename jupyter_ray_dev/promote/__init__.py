"""Promote to prod: a notebook project -> reproducible image -> KubeRay manifests.

Importing this package is cheap: nbconvert, jinja2, jsonschema and yaml are
imported on first use, in a worker thread; the service itself loads on first use
(PEP 562), so the faces can read the request models (``options``) without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .options import PromoteOptions
    from .service import NoBuilder, PromoteConfig, PromoteService

_LAZY = {
    "PromoteOptions": "options",
    "NoBuilder": "service",
    "PromoteConfig": "service",
    "PromoteService": "service",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
