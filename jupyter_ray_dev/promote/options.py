"""What a promote request may choose, validated before any work (the request's only input)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from .dockerfile import IMAGE_REF
from .serve import check_import_path

BUILDERS = ("buildah", "docker", "kaniko")
# rayjob: a RayJob and a RayCluster of the image; rayservice: the project's Serve app
VARIANTS = ("rayjob", "rayservice")


@dataclass(frozen=True)
class PromoteOptions:
    entrypoint: str | None = None  # path relative to the Jupyter root; None: the only one
    image: str | None = None  # full target reference; None: <registry>/<project>:<hash>
    base_image: str | None = None  # None: rayproject/ray of the dev cluster's versions
    gpu: bool | None = None  # None: the -gpu image when the dev cluster has GPUs
    push: bool = True
    builder: str | None = None  # None: the server's c.RayDev.promote_builder
    variant: str = "rayjob"
    serve_app: str | None = None  # module:app; None: found in the project (promote.serve)

    @classmethod
    def from_request(cls, body: Any) -> PromoteOptions:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.", field="body")
        unknown = set(body) - {"entrypoint", "image", "base_image", "gpu", "push", "builder",
                               "variant", "serve_app"}
        if unknown:
            raise BadRequest(f"Unknown field {sorted(unknown)[0]!r}: a promote request takes "
                             "entrypoint, image, base_image, gpu, push, builder, variant and "
                             "serve_app.", field=sorted(unknown)[0])
        for key in ("entrypoint", "image", "base_image", "serve_app"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise BadRequest(f"`{key}` must be a string.", field=key)
        for key in ("image", "base_image"):
            value = body.get(key)
            if value and not IMAGE_REF.match(value):
                raise BadRequest(
                    f"`{key}` {value!r} is not an image reference: use registry/name:tag in "
                    "lower case, e.g. registry.example.com/team/project:v1.", field=key)
        for key in ("gpu", "push"):
            if body.get(key) is not None and not isinstance(body[key], bool):
                raise BadRequest(f"`{key}` must be true or false.", field=key)
        builder = body.get("builder") or None
        if builder is not None and builder not in BUILDERS:
            raise BadRequest(f"`builder` must be one of {', '.join(BUILDERS)}.", field="builder")
        variant = body.get("variant") or "rayjob"
        if variant not in VARIANTS:
            raise BadRequest("`variant` must be rayjob (a RayJob and a RayCluster) or "
                             "rayservice (a RayService of the project's Serve app).",
                             field="variant")
        serve_app = body.get("serve_app") or None
        if serve_app is not None:
            check_import_path(serve_app)
        return cls(entrypoint=body.get("entrypoint") or None, image=body.get("image") or None,
                   base_image=body.get("base_image") or None, gpu=body.get("gpu"),
                   push=body.get("push", True), builder=builder, variant=variant,
                   serve_app=serve_app)


def registry_host(image: str) -> str | None:
    """The registry part of a reference, or None when it would default to Docker Hub or is
    bare ``localhost``: the name buildah and podman give images that stay on this machine
    (a registry on this host has a port: ``localhost:5000/``)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first):
        return first
    return None
