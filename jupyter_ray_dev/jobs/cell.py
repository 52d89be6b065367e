"""Launch a notebook cell's code as a Ray job (``%%ray_job``).

The cell is written as a one-cell notebook in the project and launched like any
notebook: the same conversion (magics skipped with a warning, ``display``
kept), the same environment, the driver starting in the project folder so the
project's modules import as they do in the kernel. The converted code travels
with the job (py_modules), so the temporary notebook is removed as soon as Ray
has the job, whether or not the launch succeeded: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .paths import to_api_path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def cell_notebook_name(name: str | None) -> str:
    if name is not None and not _NAME.match(name):
        raise BadRequest(
            f"Job name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names the job's file).",
            field="name",
        )
    return f"ray_cell_{name or 'job'}_{secrets.token_hex(3)}.ipynb"


def _write_cell(folder: Path, filename: str, code: str) -> Path:
    import nbformat  # nbconvert's dependency; imported where it is needed

    path = folder / filename
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    with open(path, "x", encoding="utf-8") as fh:  # never over a user's file
        nbformat.write(nb, fh)
    return path


async def submit_cell(jobs: Any, code: str, project: Path, *, name: str | None = None,
                      resources: dict[str, Any] | None = None,
                      user: str | None = None) -> dict[str, Any]:
    """Submit ``code`` from ``project`` (a resolved folder inside the jobs root)."""
    if not code.strip():
        raise BadRequest("The cell is empty: write the code the job should run below "
                         "%%ray_job.", field="code")
    filename = cell_notebook_name(name)
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(jobs.executor, _write_cell, project, filename, code)
    try:
        body: dict[str, Any] = {"file": to_api_path(jobs.root, path),
                                "project": to_api_path(jobs.root, project)}
        if resources:
            body["resources"] = resources
        return await jobs.submit(body, user=user)
    finally:
        await loop.run_in_executor(jobs.executor, lambda: path.unlink(missing_ok=True))
