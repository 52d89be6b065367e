"""Package attributes loaded on first use (PEP 562).

A capability's package names its public parts, but its service (with its imports) is
most of the package's import time; the server, the magics and the CLI often need only a
light part (an error type, a request model). ``exports`` gives the ``__getattr__`` that
imports a name's module when the name is first read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def by_module(**names: str) -> dict[str, str]:
    """``{name: module}`` from each module's names, space-separated:
    ``by_module(service="JobsService job_document")``."""
    return {name: module for module, listed in names.items() for name in listed.split()}


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """``__getattr__`` for ``package``: ``where`` maps each name to its module."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{where[name]}", package), name)

    return __getattr__
