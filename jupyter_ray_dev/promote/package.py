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
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BadRequest
from .context import ContextSpec
from .manifests import ClusterShape, k8s_name, rayjob, secret_env, to_yaml, validate_manifest
from .plan import Plan
from .upload import exists, upload_bytes

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


def package_root(storage: Callable[[], Any] | None, root_name: Any) -> tuple[Any, Any]:
    """(the storage capability, the root) a package goes to: an s3:// or gs:// root."""
    if not isinstance(root_name, str) or not root_name:
        raise BadRequest("Give `storage_root`: the name of an s3:// or gs:// storage "
                         "root the cluster's nodes can read.", field="storage_root")
    if storage is None:
        raise BadRequest("No storage is configured on this server.", field="storage_root")
    service = storage()
    root = service.root(root_name)  # NotFound for an unknown root
    if root.protocol not in ("s3", "gs"):
        raise BadRequest(f"Storage root {root_name!r} is {root.url}: Ray nodes download a "
                         "working_dir from s3:// or gs:// only (a shared folder needs no "
                         "upload: use a job from the Jobs panel).", field="storage_root")
    return service, root


async def package_plan(storage: Any, root: Any, plan: Plan,
                       off_loop: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
    """Upload the plan's code zip to ``root`` (once: the name is its content's hash) and
    the RayJob that runs it on the stock image."""
    name = k8s_name(Path(plan.project).name)
    data, filename = await off_loop(code_zip, plan.spec, name)
    path = f"{PACKAGES_DIR}/{filename}"
    uploaded = not await exists(storage, root.name, path)
    if uploaded:
        await upload_bytes(storage, root.name, path, data)
    uri = f"{root.url.rstrip('/')}/{path}"
    pip = [line for line in plan.pinned.lines if not line.startswith("./")]
    skipped = [line for line in plan.pinned.lines if line.startswith("./")]
    runtime_env = runtime_env_for(uri, pip, plan.env.baked)
    assert plan.shape is not None  # every computed plan has one
    job = runtime_env_rayjob(
        name=name, project=plan.project, image=plan.base_image,
        ray_version=plan.ray_version, script=plan.collected.entrypoint.script,
        runtime_env=runtime_env, shape=plan.shape,
        env=secret_env([s["name"] for s in plan.env.secret], f"{name}-secrets"),
        history=plan.history.options() if plan.history else None)
    return {"uri": uri, "uploaded": uploaded, "bytes": len(data),
            "runtime_env": runtime_env, "entrypoint_command": job["spec"]["entrypoint"],
            "manifests": to_yaml([job]), "manifest_errors": validate_manifest(job),
            "not_carried": [{"spec": s, "reason": "a local file: only the image path "
                             "ships local wheels"} for s in skipped],
            "reproducibility": "less reproducible than the image: pip resolves the "
                               "pinned list on every node at start."}
