"""The project's ``runtime_env.yaml``: read as a round-trip document, its paths the project's.

ruamel.yaml's round-trip mode keeps the user's comments, key order and quoting
through an edit, so the form in the editor, the magics and a person editing the
file by hand can all change it without losing anything; this module is the file's
one reader (jobs, promote, the driver and the editor see the same parse and the same
errors). The ETag is a hash of the file's bytes: a write names the version it edited
and is refused (409) if the file changed since.

Pure Python and blocking: callers run these in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest

RUNTIME_ENV_FILE = "runtime_env.yaml"  # at the project's top: it marks the project folder


class InvalidYaml(BadRequest):
    reason = "invalid_yaml"


def yaml_rt() -> Any:
    from ruamel.yaml import YAML  # imported on first use: the server starts without it

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long value (a URL, a command) onto two lines
    return yaml


def etag_of(data: bytes | None) -> str:
    """A strong ETag of the file's bytes; an absent file has its own."""
    if data is None:
        return '"absent"'
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def plain(value: Any) -> Any:
    """Round-trip nodes (CommentedMap, CommentedSeq, ScalarString...) as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    # dates and other YAML scalars JSON cannot carry: their text, which Ray would reject
    return str(value)


def parse(text: str, name: str = RUNTIME_ENV_FILE) -> Any:
    """The round-trip document of ``text`` (a CommentedMap; an empty map for an empty file)."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    try:
        doc = yaml_rt().load(text)
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InvalidYaml(
            f"{name} is not valid YAML{where}: {problem}. Fix the YAML (or remove the file to "
            "use the default environment).",
            field="yaml",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from err
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, Mapping):
        raise InvalidYaml(
            f"{name} must hold a mapping of runtime_env fields (working_dir, pip, env_vars, "
            f"...), not a {type(doc).__name__}.",
            field="yaml",
        )
    return doc


def dump(doc: Any) -> str:
    text = _dump_raw(doc)
    if not doc:
        # an emptied document keeps its comments (if any) but not the "{}" of an empty map
        lines = [ln for ln in text.splitlines() if ln.strip() != "{}"]
        text = "\n".join(lines) + "\n" if any(ln.strip() for ln in lines) else ""
    return text


def _dump_raw(doc: Any) -> str:
    out = io.StringIO()
    yaml_rt().dump(doc, out)
    return out.getvalue()


# --- merging a plain dict into the round-trip document ---------------------------------


@dataclass
class EnvFile:
    path: Path
    raw: bytes | None  # None: no file

    @property
    def exists(self) -> bool:
        return self.raw is not None

    @property
    def text(self) -> str:
        if self.raw is None:
            return ""
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidYaml(f"{self.path.name} is not UTF-8 text: {err}.", field="yaml") from err

    @property
    def etag(self) -> str:
        return etag_of(self.raw)

    def document(self) -> Any:
        return parse(self.text, self.path.name)

    def data(self) -> dict[str, Any]:
        return plain(self.document())


def read_file(project: Path) -> EnvFile:
    path = project / RUNTIME_ENV_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = None
    except IsADirectoryError as err:
        raise BadRequest(f"{path} is a folder, not a file.", field="runtime_env") from err
    return EnvFile(path, raw)


def load_runtime_env(project: Path) -> dict[str, Any]:
    """The project's environment as plain values ({} without a file): the one reader of
    runtime_env.yaml, shared by jobs, the editor and the magics."""
    return read_file(project).data()


def load_project_runtime_env(project: Path) -> dict[str, Any]:
    """``load_runtime_env`` for a launch (a job, a driver, a promotion): a broken file is
    refused with the editor's message, its field the environment as a whole."""
    try:
        return load_runtime_env(project)
    except InvalidYaml as err:
        raise BadRequest(err.message, field="runtime_env") from err


def is_uri(value: str) -> bool:
    return "://" in value


def _absolute(value: Any, project: Path) -> Any:
    if isinstance(value, str) and value and not is_uri(value) and not Path(value).is_absolute():
        return str(project / value)
    return value


def with_project_paths(env: Mapping[str, Any], project: Path) -> dict[str, Any]:
    """``env`` with its requirement files (pip: requirements.txt, conda: environment.yml)
    relative to the project, as a person writing runtime_env.yaml means them; Ray would
    read them relative to the server's current folder."""
    out = dict(env)
    for key in ("pip", "uv"):
        value = out.get(key)
        if isinstance(value, str):
            out[key] = _absolute(value, project)
        elif isinstance(value, Mapping) and isinstance(value.get("packages"), str):
            out[key] = {**value, "packages": _absolute(value["packages"], project)}
    conda = out.get("conda")
    if isinstance(conda, str) and conda.endswith((".yml", ".yaml")):
        out["conda"] = _absolute(conda, project)
    # local folders, like the working_dir the job gets, are the project's too
    if isinstance(out.get("working_dir"), str):
        out["working_dir"] = _absolute(out["working_dir"], project)
    if isinstance(out.get("py_modules"), list):
        out["py_modules"] = [_absolute(m, project) for m in out["py_modules"]]
    return out
