"""The modules a project's own code imports, read from its source (never run).

A run imports far more than its code names: Ray alone pulls in dozens of
distributions, and their optional helpers whatever happens to be installed. What the
project's code imports itself is what it depends on; the run's record says which
distribution and version provided each of those names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache


def handles_import_error(handlers: list[ast.ExceptHandler]) -> bool:
    """A ``try`` whose handler takes ImportError: its imports may fail by design."""
    names = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    for handler in handlers:
        kinds = handler.type
        if kinds is None:
            return True
        elts = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
        if any(isinstance(e, ast.Name) and e.id in names for e in elts):
            return True
    return False


def imports_of(source: str) -> frozenset[str]:
    """Dotted names of the absolute imports in ``source`` (``import a.b`` -> ``a.b``;
    ``from a.b import c`` -> ``a.b``); empty when it does not parse. An import in a ``try``
    that handles ImportError is optional, so it is not one the code depends on: a
    converted notebook's own ``from IPython.display import display`` falls back to print."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Try) and handles_import_error(node.handlers):
            pending.extend([*node.handlers, *node.orelse, *node.finalbody])
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(found)


@lru_cache(maxsize=4096)
def _file_imports(path: str, digest: str) -> frozenset[str]:
    """By path and content digest: a file read and parsed once while it does not change."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return imports_of(f.read())


def project_imports(files: Iterable[tuple[str, str]], sources: Iterable[str] = ()
                    ) -> frozenset[str]:
    """The imports of the project's ``.py`` files (``(path, digest)`` pairs) and of extra
    ``sources`` (a converted notebook)."""
    found: set[str] = set()
    for path, digest in files:
        if path.endswith(".py"):
            try:
                found |= _file_imports(path, digest)
            except OSError:
                continue
    for source in sources:
        found |= imports_of(source)
    return frozenset(found)


def names_module(names: frozenset[str], module: str) -> bool:
    """Whether any imported name is ``module`` or inside it."""
    prefix = module + "."
    return module in names or any(n.startswith(prefix) for n in names)
