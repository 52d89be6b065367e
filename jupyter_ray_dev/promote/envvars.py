"""runtime_env ``env_vars`` -> the image's ``ENV``, with secrets kept out of the image.

An image is copied to registries, caches and laptops: a credential baked into a
layer cannot be taken back. A variable whose name or value looks like a secret
is refused from the image and referenced from a Kubernetes Secret in the
manifests instead (``valueFrom.secretKeyRef``), with the hint to create it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..project.ray_dev_record import secret_reason

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class EnvVars:
    baked: dict[str, str] = field(default_factory=dict)  # become ENV lines
    secret: list[dict[str, str]] = field(default_factory=list)  # refused: name, reason, hint

    def to_dict(self, secret_name: str) -> dict[str, Any]:
        return {"image": self.baked, "refused": self.secret, "secret_name": secret_name}


def split_env_vars(env_vars: Any, secret_name: str) -> EnvVars:
    if env_vars is None:
        return EnvVars()
    if not isinstance(env_vars, dict):
        raise BadRequest("`env_vars` in runtime_env.yaml must be a mapping of names to "
                         "string values.", field="runtime_env.env_vars")
    out = EnvVars()
    for name, value in env_vars.items():
        where = f"runtime_env.env_vars.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise BadRequest(f"The env var name {name!r} is not a valid variable name "
                             "(letters, digits and _, not starting with a digit).", field=where)
        if not isinstance(value, str):
            raise BadRequest(f"The env var {name} must have a string value (Ray requires "
                             "it): quote it in runtime_env.yaml.", field=where)
        if any(c in value for c in "\n\r\x00"):
            raise BadRequest(f"The env var {name} holds a line break or NUL, which an image's "
                             "ENV cannot carry: put it in a file of the project.", field=where)
        why = secret_reason(name, value)
        if why:
            out.secret.append({
                "name": name, "reason": why,
                "hint": f"Not baked into the image. The manifests read it from the Kubernetes "
                        f"Secret {secret_name!r}: kubectl create secret generic {secret_name} "
                        f"--from-literal={name}=..."})
        else:
            out.baked[name] = value
    return out
