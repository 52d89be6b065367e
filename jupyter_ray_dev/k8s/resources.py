"""The Kubernetes resources the extension reads and writes, and how to name them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import BadRequest


@dataclass(frozen=True)
class Resource:
    kind: str
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str, name: str | None = None) -> str:
        base = "/apis/" + self.api_version if self.group else "/api/" + self.version
        out = f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{out}/{name}" if name else out


RAYCLUSTER = Resource("RayCluster", "ray.io", "v1", "rayclusters")
RAYJOB = Resource("RayJob", "ray.io", "v1", "rayjobs")
RAYSERVICE = Resource("RayService", "ray.io", "v1", "rayservices")
RAYCRONJOB = Resource("RayCronJob", "ray.io", "v1", "raycronjobs")
# what promote produces and the user may apply from here: KubeRay's own kinds only
APPLICABLE = {r.kind: r for r in (RAYJOB, RAYSERVICE, RAYCLUSTER, RAYCRONJOB)}

# RFC 1123 subdomain: what Kubernetes accepts as an object name
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def applicable(kind: str, api_version: str | None = None) -> Resource:
    found = APPLICABLE.get(kind) or next(
        (r for r in APPLICABLE.values() if kind.lower() in (r.plural, r.kind.lower())),
        None,
    )
    if found is None:
        raise BadRequest(
            f"kind {kind!r} cannot be applied from here: use one of {', '.join(APPLICABLE)}.",
            field="kind",
        )
    if api_version is not None and api_version != found.api_version:
        raise BadRequest(
            f"apiVersion {api_version!r} is not served for {found.kind}: "
            f"use {found.api_version!r}.",
            field="apiVersion",
        )
    return found


def check_name(name: object, field: str = "name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest(
            f"{field} {name!r} is not a Kubernetes name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters.",
            field=field,
        )
    return name
