"""A sample project for the promote tests: notebook + module + data file + runtime_env
(pip and env_vars) + ignored folders, and a cluster summary of the shape the
dashboard returns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat

GIB = 1024**3

SUMMARY = {
    "ray_version": "2.60.0",
    "python_version": "3.11.7",
    "nodes": [
        {"node_id": "h", "is_head": True, "state": "ALIVE",
         "resources_total": {"CPU": 2.0, "memory": 4 * GIB, "object_store_memory": GIB,
                             "my_custom": 4.0}},
        {"node_id": "w1", "is_head": False, "state": "ALIVE",
         "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8 * GIB}},
        {"node_id": "w2", "is_head": False, "state": "ALIVE",
         "resources_total": {"CPU": 4.0, "GPU": 1.0, "memory": 8 * GIB}},
        {"node_id": "w3", "is_head": False, "state": "DEAD",
         "resources_total": {"CPU": 64.0}},
    ],
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def sample_project(root: Path, name: str = "proj", pip: list[str] | None = None,
                   env_vars: dict[str, str] | None = None) -> Path:
    import yaml

    project = root / name
    notebook(project / "train.ipynb",
             "%pip install tqdm",
             "import helpers\nprint('RESULT', helpers.answer(), open('data/params.txt').read())")
    write(project / "helpers.py", "def answer():\n    return 42\n")
    write(project / "data" / "params.txt", "lr=0.1")
    write(project / ".gitignore", "checkpoints/\n*.log\n")
    write(project / "checkpoints" / "big.ckpt", "x" * 1000)
    write(project / "run.log", "noise")
    write(project / ".dockerignore", "scratch/\n")
    write(project / "scratch" / "notes.txt", "not for images")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "helpers.cpython-311.pyc").write_bytes(b"\0")
    env = {"pip": pip if pip is not None else ["pyyaml>=5", "packaging"],
           "env_vars": env_vars if env_vars is not None else {"MODE": "prod"},
           "excludes": ["*.tmp"]}
    (project / "runtime_env.yaml").write_text(yaml.safe_dump(env))
    write(project / "cache.tmp", "temp")
    return project


def build_wheel(src: Path, out: Path, name: str = "raydevdep", version: str = "1.2.3") -> Path:
    """A real wheel of a tiny package with no dependencies, so pip installs it offline
    (hatchling: already in the venv, it builds without network)."""
    pkg = src / name
    write(pkg / "pyproject.toml", f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        [project]
        name = "{name}"
        version = "{version}"
        """)
    write(pkg / name / "__init__.py", f"VERSION = {version!r}\n")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(pkg)], check=True)
    return next(out.glob(f"{name}-{version}-*.whl"))
