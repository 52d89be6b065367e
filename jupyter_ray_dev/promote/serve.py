"""The project's Ray Serve application, for the RayService variant.

Where a project declares it, first match wins:

1. the request's ``serve_app`` (``module:app``, what ``serve run`` takes);
2. a Serve config file at the project's top (``serve_config.yaml``, the format
   ``serve build`` writes: ``applications`` with an ``import_path`` each);
3. the entrypoint itself: a top-level ``app = Something.bind(...)`` in the script
   (how Serve's own examples end), imported as ``<script module>:app``.

The code is in the image (on its PYTHONPATH), so what a config's per-app
``runtime_env`` would fetch or install at start is dropped and reported.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BadRequest

CONFIG_FILES = ("serve_config.yaml", "serve_config.yml")
IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
# per-app runtime_env fields the image replaces
_BAKED = ("working_dir", "py_modules", "pip", "uv", "conda", "excludes")


@dataclass
class ServeApp:
    source: str  # where it was found, for the review: "serve_app", the file, the script
    config: dict[str, Any]  # Serve's config document (serveConfigV2)
    dropped: list[str] = field(default_factory=list)  # per-app runtime_env fields dropped

    @property
    def import_paths(self) -> list[str]:
        return [a["import_path"] for a in self.config["applications"]]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "import_paths": self.import_paths,
                "dropped": self.dropped}


def check_import_path(value: Any, field_name: str = "serve_app") -> str:
    if not isinstance(value, str) or not IMPORT_PATH.match(value):
        raise BadRequest(f"`{field_name}` must be module:attribute, e.g. app.main:app (as "
                         f"`serve run` takes it), not {value!r}.", field=field_name)
    return value


def _single(name: str, import_path: str) -> dict[str, Any]:
    return {"applications": [{"name": name, "import_path": import_path, "route_prefix": "/"}]}


def _from_file(path: Path, rel: str) -> ServeApp:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise BadRequest(f"{rel} cannot be read as YAML: {err}.", field=rel) from err
    apps = doc.get("applications") if isinstance(doc, dict) else None
    if not isinstance(apps, list) or not apps or not all(isinstance(a, dict) for a in apps):
        raise BadRequest(f"{rel} needs `applications`: a list with one entry per Serve app "
                         "(name, import_path, route_prefix), as `serve build` writes it.",
                         field=rel)
    dropped: list[str] = []
    out = []
    for i, app in enumerate(apps):
        check_import_path(app.get("import_path"), f"{rel}: applications[{i}].import_path")
        app = dict(app)
        env = dict(app.get("runtime_env") or {})
        for key in _BAKED:
            if key in env:
                env.pop(key)
                dropped.append(f"{app.get('name', i)}: runtime_env.{key}")
        if env:
            app["runtime_env"] = env
        else:
            app.pop("runtime_env", None)
        out.append(app)
    return ServeApp(source=rel, config={**doc, "applications": out}, dropped=dropped)


def _bound_name(source: str) -> str | None:
    """The last top-level ``name = <...>.bind(...)`` of a script, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "bind"):
            found = node.targets[0].id
    return found


def find_serve_app(folder: Path, name: str, script: str, script_text: str,
                   serve_app: str | None) -> ServeApp | None:
    """Runs in a worker thread (it reads files). ``script`` is project-relative."""
    if serve_app is not None:
        return ServeApp(source="serve_app", config=_single(name, check_import_path(serve_app)))
    for fname in CONFIG_FILES:
        if (folder / fname).is_file():
            return _from_file(folder / fname, fname)
    bound = _bound_name(script_text)
    if bound is None:
        return None
    module = ".".join(PurePosixPath(script).with_suffix("").parts)
    if not IMPORT_PATH.match(f"{module}:{bound}"):
        return None  # a script name Python cannot import (e.g. my-app.py)
    return ServeApp(source=script, config=_single(name, f"{module}:{bound}"))
