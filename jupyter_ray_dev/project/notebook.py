"""A notebook as a Ray job driver: nbconvert's PythonExporter, with IPython-only lines handled.

A Ray job runs its entrypoint with plain ``python``: there is no IPython, so
magics (``%pip``, ``%%time``) and shell escapes (``!ls``), which nbconvert turns
into ``get_ipython()`` calls, would fail with a NameError half-way through the
job. Two choices, picked per request:

- ``comment`` (default): each such line becomes a no-op (``pass``, or ``x = None``
  for ``x = !cmd``) with a comment saying what was skipped, and the caller gets a
  warning per line naming the cell, so the user can move ``%pip install`` into the
  project's runtime_env and rely on the rest;
- ``error``: refuse the notebook with a 400 naming the cells.

nbconvert is imported on first use (it costs about 2 s): call this off the event loop.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest

# `display(...)` is a builtin in notebooks only; keep it working when IPython is absent
PRELUDE = '''\
# Converted from {source} by jupyter-ray-dev to run as a Ray job driver.
try:
    from IPython.display import display
except ImportError:  # no IPython on the cluster: show what a notebook would
    display = print
'''

_IPYTHON_CALL = re.compile(r"^(?P<indent>\s*)(?:(?P<target>[^=#'\"]+?)\s*=\s*)?get_ipython\(\)")
_MAX_REPORTED = 20


@dataclass
class ConvertedNotebook:
    script: str
    module: str  # package name the script is shipped as (py_modules), run with `python -m`
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _read(path: Path) -> Any:
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # nbformat raises plain ValueError, JSON and schema errors
        raise BadRequest(
            f"{path.name} is not a readable notebook ({err}). Open it in JupyterLab and save "
            "it again.",
            field="file",
        ) from err
    language = (
        (nb.metadata.get("kernelspec") or {}).get("language")
        or (nb.metadata.get("language_info") or {}).get("name")
        or "python"
    )
    if language.lower() != "python":
        raise BadRequest(
            f"{path.name} is a {language} notebook: only Python notebooks can run as a Ray job.",
            field="file",
        )
    return nb


def _neutralise(cell_index: int, source: str, python: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn each line of converted code that calls get_ipython() into a no-op."""
    src_lines = source.splitlines()
    py_lines = python.splitlines()
    same_shape = len(src_lines) == len(py_lines)
    found = []
    out = []
    for i, line in enumerate(py_lines):
        match = _IPYTHON_CALL.match(line)
        if not match:
            out.append(line)
            continue
        # line magics keep the cell's line numbers; a %%cell magic folds the cell into one call
        original = (src_lines[i] if same_shape else src_lines[0] if src_lines else line).strip()
        indent, target = match.group("indent"), match.group("target")
        noop = f"{target.strip()} = None" if target else "pass"
        out.append(f"{indent}{noop}  # [jupyter-ray-dev] skipped IPython-only line: {original}")
        found.append({"cell": cell_index, "line": i + 1, "source": original})
    return "\n".join(out), found


def _hint(source: str) -> str:
    if re.search(r"\b(pip|conda|uv)\b.*\binstall\b", source):
        return " Put the packages in the project's runtime_env.yaml (pip) instead."
    if source.lstrip().startswith("!") or "= !" in source or source.startswith("%%"):
        return " Use subprocess for shell commands, or plain Python for the cell's work."
    return ""


_EXPORTER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import PythonExporter

    return PythonExporter()  # one for all: each new one compiles its templates (~0.1 s)


def convert_notebook(path: Path, display_name: str, magics: str = "comment") -> ConvertedNotebook:
    from nbconvert.filters import ipython2python

    nb = _read(path)
    skipped: list[dict[str, Any]] = []
    # cells are numbered from 1 over all cells, as the user counts them down the notebook
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        # the exporter's own IPython->Python step, applied per cell to know which cell it was
        python = ipython2python(cell.source)
        if "get_ipython()" in python:
            cell.source, found = _neutralise(number, cell.source, python)
            skipped.extend(found)
    if skipped and magics == "error":
        listed = "; ".join(f"cell {s['cell']} line {s['line']}: {s['source']}"
                           for s in skipped[:_MAX_REPORTED])
        raise BadRequest(
            f"{display_name} uses IPython-only syntax that a Ray job (plain python) cannot run: "
            f"{listed}. Move `%pip install` packages to the project's runtime_env.yaml (pip), "
            "replace `!commands` with subprocess, or launch with magics='comment' to skip "
            "these lines.",
            field="file",
            cells=skipped[:_MAX_REPORTED],
        )
    with _EXPORTER_LOCK:  # conversions run on worker threads; the exporter keeps state
        body, _ = _exporter().from_notebook_node(nb)
    # after the exporter's shebang and coding lines, which must stay first to mean anything
    lines = body.splitlines(keepends=True)
    head = 0
    while head < min(2, len(lines)) and lines[head].startswith("#"):
        head += 1
    script = "".join(lines[:head]) + PRELUDE.format(source=display_name) + "".join(lines[head:])
    digest = hashlib.sha1(script.encode("utf-8")).hexdigest()[:16]
    warnings = [
        {
            "kind": "ipython_line_skipped",
            "cell": s["cell"],
            "line": s["line"],
            "source": s["source"],
            "message": f"Cell {s['cell']}, line {s['line']}: `{s['source']}` is IPython-only "
                       "and was skipped (a Ray job runs plain python)." + _hint(s["source"]),
        }
        for s in skipped
    ]
    return ConvertedNotebook(script=script, module=f"_ray_dev_nb_{digest}", warnings=warnings)


def write_module(converted: ConvertedNotebook, folder: Path) -> Path:
    """Write the script as package ``folder/<module>/__main__.py`` (run with python -m)."""
    package = folder / converted.module
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__main__.py").write_text(converted.script, encoding="utf-8")
    return package
