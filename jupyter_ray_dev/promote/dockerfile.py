"""The Dockerfile and .dockerignore, from Jinja2 templates in which no input is trusted.

Every ``{{ }}`` in the templates must go through one of the filters below, each
of which either quotes its value for the Dockerfile instruction it lands in or
refuses it; the environment's ``finalize`` raises on any value that skipped them,
so a template edit cannot quietly let a project name, env var or path add an
instruction. File names never appear in the Dockerfile (the code is one
``COPY app/``) and package specs live in requirements.txt, not in RUN lines.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from ..errors import BadRequest

# docker/distribution's reference grammar (reference/regexp.go), anchored
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
# a first part is a registry only with a '.', a port, or "localhost" (else it is a path)
_DOMAIN = (r"(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+(?=:[0-9]))(?::[0-9]+)?"
           r"|\[[0-9a-fA-F:]+\](?::[0-9]+)?")
IMAGE_REF = re.compile(
    rf"^(?:(?:{_DOMAIN})/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@sha256:[0-9a-f]{64})?$"
)
_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")


class _Safe(str):
    """A value a filter has made safe for its place in the Dockerfile."""


def dq(value: Any) -> _Safe:
    """A double-quoted Dockerfile word (ENV, LABEL): \\ " and $ escaped, line breaks refused."""
    text = "" if value is None else str(value)
    if any(c in text for c in "\n\r\x00"):
        # a line break ends the instruction: the rest would be read as a new one
        raise BadRequest(f"The value {text[:60]!r} holds a line break, which a Dockerfile "
                         "cannot quote.", field="dockerfile")
    return _Safe('"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"')


def ref(value: Any) -> _Safe:
    text = str(value)
    if not IMAGE_REF.match(text):
        raise BadRequest(f"{text!r} is not an image reference (registry/name:tag).",
                         field="base_image")
    return _Safe(text)


def path(value: Any) -> _Safe:
    text = str(value)
    if not _PATH.match(text) or ".." in text.split("/"):
        raise BadRequest(f"{text!r} must be an absolute path of letters, digits, '.', '_', "
                         "'-' and '/'.", field="workdir")
    return _Safe(text.rstrip("/") or "/")


def labelname(value: Any) -> _Safe:
    text = str(value)
    if not re.match(r"^[a-z0-9][a-z0-9.-]*$", text):
        raise BadRequest(f"{text!r} is not a label name.", field="dockerfile")
    return _Safe(text)


def envname(value: Any) -> _Safe:
    text = str(value)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", text):
        raise BadRequest(f"{text!r} is not a valid env var name.", field="runtime_env.env_vars")
    return _Safe(text)


def _finalize(value: Any) -> Any:
    if isinstance(value, _Safe):
        return value
    raise TypeError(f"template value {value!r} was not quoted by a filter")


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jupyter_ray_dev.promote", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # not HTML: our filters do the Dockerfile's quoting
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(dq=dq, ref=ref, path=path, envname=envname, labelname=labelname)
    return env


# the code's owner in the image (rayproject/ray's user ray and group users): the template's
# COPY --chown, and the code-layer path's tar entries
CODE_UID, CODE_GID = 1000, 100
CREATED_LABEL = "org.opencontainers.image.created"


def image_labels(*, project: str, entrypoint: str, git_commit: str, ray_version: str,
                 inputs_hash: str, source_run: str = "", lock_sha256: str = ""
                 ) -> list[tuple[str, str]]:
    """The labels the image gets besides its build time (``CREATED_LABEL``): the
    Dockerfile's last LABEL, and what the code-layer path writes into the image config."""
    return [("io.ray-dev.project", project), ("io.ray-dev.entrypoint", entrypoint),
            ("io.ray-dev.git-commit", git_commit), ("io.ray-dev.ray-version", ray_version),
            ("org.opencontainers.image.revision", git_commit),
            ("io.ray-dev.inputs-hash", inputs_hash), ("io.ray-dev.source-run", source_run),
            ("io.ray-dev.lock-sha256", lock_sha256)]


def render_dockerfile(
    *,
    project: str,
    base_image: str,
    workdir: str,
    deps_dir: str,
    has_requirements: bool,
    env: dict[str, str],
    labels: list[tuple[str, str]],
) -> str:
    return _environment().get_template("Dockerfile.j2").render(
        project=project, base_image=base_image, workdir=workdir, deps_dir=deps_dir,
        has_requirements=has_requirements, env=sorted(env.items()), labels=labels,
        pythonpath=workdir,
    )


def build_time_args(created: str) -> dict[str, str]:
    """The ``--build-arg`` of the Dockerfile's last LABEL: the build time is known only when
    the build starts, and a reviewed Dockerfile must be the one that is built."""
    return {"RAY_DEV_CREATED": created}


def render_dockerignore() -> str:
    return _environment().get_template("dockerignore.j2").render()


def default_base_image(ray_version: str | None, python_version: str | None, gpu: bool) -> str:
    """``rayproject/ray:<ray>-py<XY>[-gpu]`` for the dev cluster's exact versions."""
    if not ray_version or not python_version:
        raise BadRequest(
            "The dev cluster's Ray or Python version is unknown, so the base image cannot be "
            "chosen: give `base_image` (e.g. rayproject/ray:2.60.0-py311).", field="base_image")
    major, minor = python_version.split(".")[:2]
    return f"rayproject/ray:{ray_version}-py{major}{minor}{'-gpu' if gpu else ''}"
