"""Launch a notebook cell's code as a Ray job (``%%ray_job``).

The cell becomes a temporary file in the project, launched like any file with
the same environment, the driver starting in the project folder so the
project's modules import as they do in the kernel. Plain Python goes as a
``.py`` script: the fastest launch (one upload, no conversion; measured ~2 s
less per job). A cell with IPython syntax (``%magic``, ``!cmd``), or a project
whose working_dir is used in place (``local://``: the script would have to
outlive the submit), goes as a one-cell notebook instead: the notebook route
skips IPython-only lines with a warning and ships the converted code with the
job (py_modules). Either way the temporary file is removed as soon as Ray has
the job, whether or not the launch succeeded: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..project.root import to_api_path

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def cell_file_name(name: str | None, suffix: str) -> str:
    if name is not None and not _NAME.match(name):
        raise BadRequest(
            f"Job name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names the job's file).",
            field="name",
        )
    return f"ray_cell_{name or 'job'}_{secrets.token_hex(3)}{suffix}"


# `display(...)` is a notebook builtin; one line, so tracebacks stay one line off at most
DISPLAY_PRELUDE = ("display = getattr(__import__('IPython.display', fromlist=['display']), "
                   "'display', print) if __import__('importlib.util').util.find_spec("
                   "'IPython') else print\n")


def is_plain_python(code: str) -> bool:
    """No IPython-only syntax: IPython's own input transformer leaves the code unchanged."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # no IPython here: let the notebook route decide, line by line
        return False
    return TransformerManager().transform_cell(code) == code if code.endswith("\n") else \
        TransformerManager().transform_cell(code + "\n") == code + "\n"


def _uploaded(jobs: Any, project: Path) -> bool:
    """Does a job from ``project`` upload its working_dir (so the script is copied at submit)?"""
    from ..project.runtime_env import load_project_runtime_env
    from .environment import build_job_environment

    env = build_job_environment(project, jobs.root, jobs.shared_roots,
                                load_project_runtime_env(project))
    return env.upload_dir is not None


def _write_script(folder: Path, filename: str, code: str) -> Path:
    path = folder / filename
    text = (DISPLAY_PRELUDE if "display" in code else "") + code
    with open(path, "x", encoding="utf-8") as fh:  # never over a user's file
        fh.write(text)
    return path


def _write(jobs: Any, folder: Path, name: str | None, code: str) -> Path:
    if is_plain_python(code) and _uploaded(jobs, folder):
        return _write_script(folder, cell_file_name(name, ".py"), code)
    return _write_cell(folder, cell_file_name(name, ".ipynb"), code)


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
    loop = asyncio.get_running_loop()
    path = await loop.run_in_executor(jobs.executor, _write, jobs, project, name, code)
    try:
        body: dict[str, Any] = {"file": to_api_path(jobs.root, path),
                                "project": to_api_path(jobs.root, project)}
        if resources:
            body["resources"] = resources
        return await jobs.submit(body, user=user, cell={"code": code, "name": name})
    finally:
        await loop.run_in_executor(jobs.executor, lambda: path.unlink(missing_ok=True))
