"""Edits to the project's ``runtime_env.yaml`` document, and its atomic write.

The file is read and parsed by ``project.runtime_env`` (round-trip nodes, comments
kept); the edits here change only what they name, so a person's comments, key order
and quoting survive the form, the magics and the editor.

Pure Python and blocking: the service runs these in a worker thread.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from ..project.runtime_env import plain


def merge(doc: Any, new: Any) -> Any:
    """``new`` (plain values) laid onto ``doc`` (round-trip nodes), keeping the comments,
    order and style of everything that did not change. Returns the merged node."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(new, Mapping):
        if not isinstance(doc, CommentedMap):
            doc = CommentedMap()
        for key in [k for k in doc if k not in new]:
            del doc[key]
        for key, value in new.items():
            if key in doc:
                merged = merge(doc[key], value)
                if merged is not doc[key]:
                    doc[key] = merged
            else:
                doc[key] = merge(None, value)
        return doc
    if isinstance(new, (list, tuple)):
        if not isinstance(doc, CommentedSeq):
            doc = CommentedSeq()
        if plain(doc) == list(new):
            return doc
        old = list(doc)
        old_plain = [plain(v) for v in old]
        items = []
        for value in new:
            # an item that stayed (anywhere) keeps its node, and so its comment
            if value in old_plain:
                i = old_plain.index(value)
                items.append(old[i])
                old_plain[i] = object()  # each old item is reused once
            else:
                items.append(merge(None, value))
        comments = copy.copy(doc.ca.items)
        del doc[:]
        doc.extend(items)
        doc.ca.items.clear()
        for i, item in enumerate(items):
            j = next((k for k, o in enumerate(old) if o is item), None)
            if j is not None and j in comments:
                doc.ca.items[i] = comments[j]
        return doc
    if doc is not None and not isinstance(doc, (Mapping, list)) and plain(doc) == new \
            and type(plain(doc)) is type(new):
        return doc  # unchanged scalar: keep its quoting
    return new


# --- small edits the magics and the editor share ----------------------------------------
def set_env_var(doc: Any, name: str, value: str) -> Any:
    """Set ``env_vars.<name>`` (created if missing); comments elsewhere are kept."""
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(name, str) or not name or "=" in name or "\x00" in name:
        raise BadRequest(f"{name!r} is not an environment variable name.", field="env_vars")
    if not isinstance(value, str):
        raise BadRequest(
            f"The value of env var {name} must be a string (Ray refuses other types): quote it.",
            field=f"env_vars.{name}",
        )
    env = doc.get("env_vars")
    if not isinstance(env, Mapping):
        env = CommentedMap()
        doc["env_vars"] = env
    env[name] = value
    return doc


def unset_env_var(doc: Any, name: str) -> Any:
    env = doc.get("env_vars")
    if isinstance(env, Mapping) and name in env:
        del env[name]
        if not env:
            del doc["env_vars"]
    return doc


def _package_list(doc: Any, create: bool, key: str = "pip") -> Any:
    """The list of requirements under ``key`` (``pip`` or ``uv``: list form, or the
    mapping's ``packages``)."""
    from ruamel.yaml.comments import CommentedSeq

    pip = doc.get(key)
    if pip is None:
        if not create:
            return None
        others = [k for k in ("pip", "uv", "conda") if k != key and doc.get(k) is not None]
        if others:
            raise BadRequest(
                f"The environment installs packages with {others[0]}: Ray allows one of pip, "
                f"uv and conda, so add the package to {others[0]} instead.",
                field=key,
            )
        doc[key] = CommentedSeq()
        return doc[key]
    if isinstance(pip, list):
        return pip
    if isinstance(pip, Mapping) and isinstance(pip.get("packages"), list):
        return pip["packages"]
    if isinstance(pip, Mapping) and pip.get("packages") is None and create:
        pip["packages"] = CommentedSeq()
        return pip["packages"]
    raise BadRequest(
        f"`{key}` names a requirements file, so packages cannot be added here: add the "
        f"package to that file, or replace `{key}` with a list of packages.",
        field=key,
    )


def requirement_name(requirement: str) -> str | None:
    """The canonical project name of a requirement string (None for a path or URL)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement.strip()).name)
    except InvalidRequirement:
        return None


def add_pip_package(doc: Any, requirement: str, key: str = "pip") -> Any:
    """Add ``requirement`` to the pip (or uv) packages, replacing a requirement of the same
    project (``requests`` -> ``requests==2.32``) in place; the list is created if missing."""
    requirement = (requirement or "").strip()
    if not requirement:
        raise BadRequest("Give the requirement to add (e.g. `requests==2.32.3`).",
                         field="requirement")
    packages = _package_list(doc, create=True, key=key)
    name = requirement_name(requirement)
    for i, existing in enumerate(packages):
        if existing == requirement:
            return doc
        if name is not None and isinstance(existing, str) and requirement_name(existing) == name:
            packages[i] = requirement
            return doc
    packages.append(requirement)
    return doc


def add_packages(doc: Any, requirements: list[str]) -> Any:
    """Add each requirement to the installer the environment uses (``uv`` when it has a uv
    list, else ``pip``), each replacing a requirement of the same project in place."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(requirements, list) or not requirements or \
            not all(isinstance(r, str) for r in requirements):
        raise BadRequest("`requirements` must be a non-empty list of requirement strings "
                         "(e.g. [\"tabulate==0.9.0\"]).", field="requirements")
    for i, requirement in enumerate(requirements):
        text = requirement.strip()
        try:
            if not text or text.startswith("-") or any(c in text for c in "\r\n\x00"):
                raise InvalidRequirement(text)
            Requirement(text)
        except InvalidRequirement:
            raise BadRequest(f"{requirement!r} is not a requirement pip understands: give a "
                             "package with its version, e.g. `tabulate==0.9.0`.",
                             field=f"requirements[{i}]") from None
    key = "uv" if doc.get("uv") is not None else "pip"
    for requirement in requirements:
        add_pip_package(doc, requirement, key)
    return doc


def remove_pip_package(doc: Any, name_or_requirement: str) -> Any:
    packages = _package_list(doc, create=False)
    if packages is None:
        return doc
    target = name_or_requirement.strip()
    name = requirement_name(target)
    for i in reversed(range(len(packages))):
        item = packages[i]
        if item == target or (name is not None and isinstance(item, str)
                              and requirement_name(item) == name):
            del packages[i]
    return doc


def write_atomic(path: Path, text: str) -> bytes:
    """Replace ``path`` with ``text`` at once (temp file in the same folder, fsync,
    rename): a reader sees the old file or the new one, never half of one."""
    data = text.encode("utf-8")
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return data
