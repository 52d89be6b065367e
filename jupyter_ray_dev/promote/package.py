"""The guide's second production path: the project's code as a content-addressed zip on
the project's S3/GCS storage root, and a RayJob whose ``runtimeEnvYAML`` points
``working_dir`` at it with the pinned ``pip`` list, for clusters that run the stock
``rayproject/ray`` image. Less reproducible than an image (pip resolves on every
node at start), as the guide says; the UI marks it so.
"""

from __future__ import annotations

import hashlib
import io
import shlex
import zipfile
from pathlib import PurePosixPath
from typing import Any

from .context import ContextSpec
from .manifests import ClusterShape, rayjob

PACKAGES_DIR = "ray-dev-packages"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def code_zip(spec: ContextSpec, top: str) -> tuple[bytes, str]:
    """(zip bytes, content-addressed file name) of the context's ``app/`` files, under one
    top-level folder (Ray unpacks a remote working_dir zip into that folder's content).
    Same files, same bytes: fixed dates and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in spec.sorted():
            if not f.name.startswith("app/"):
                continue
            info = zipfile.ZipInfo(f"{top}/{f.name[4:]}", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            if f.text is not None:
                zf.writestr(info, f.text.encode("utf-8"))
            else:
                with open(f.source, "rb") as src:  # type: ignore[arg-type]
                    zf.writestr(info, src.read())
    data = buffer.getvalue()
    return data, f"{top}-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def runtime_env_for(uri: str, pip: list[str], env_vars: dict[str, str]) -> dict[str, Any]:
    env: dict[str, Any] = {"working_dir": uri}
    if pip:
        env["pip"] = pip
    if env_vars:
        env["env_vars"] = env_vars
    return env


def runtime_env_rayjob(*, name: str, project: str, image: str, ray_version: str, script: str,
                       runtime_env: dict[str, Any], shape: ClusterShape,
                       env: list[dict[str, Any]],
                       history: dict[str, Any] | None = None) -> dict[str, Any]:
    """The RayJob of the stock image: Ray unpacks the working_dir and runs the driver in
    it, so the command is relative to the zip's top (the script's folder, then python)."""
    import yaml

    path = PurePosixPath(script)
    command = shlex.join(["python", path.name])
    folder = str(path.parent)
    entrypoint = command if folder == "." else f"cd {shlex.quote(folder)} && {command}"
    job = rayjob(name=name, project=project, image=image, ray_version=ray_version,
                 entrypoint=entrypoint, shape=shape, env=env, history=history)
    job["spec"]["runtimeEnvYAML"] = yaml.safe_dump(runtime_env, sort_keys=False)
    return job
