"""Errors the core raises, each carrying the HTTP status and a message a person can act on.

The core knows nothing about Tornado; the handlers (and later the magics and the
CLI) turn these into a JSON error body, an IPython message or an exit code.
"""

from __future__ import annotations

from typing import Any


class RayDevError(Exception):
    """Base class: ``status`` is the HTTP status, ``reason`` a stable machine key."""

    status = 500
    reason = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "reason": self.reason, **self.details}


class BadRequest(RayDevError):
    """The request is wrong; ``field`` names what to fix."""

    status = 400
    reason = "bad_request"


class NotFound(RayDevError):
    status = 404
    reason = "not_found"


class Conflict(RayDevError):
    """The request is valid but the resource's current state forbids it (e.g. deleting a running job)."""

    status = 409
    reason = "conflict"


class RayUnreachable(RayDevError):
    """The Ray dashboard did not answer (down, wrong address, network)."""

    status = 503
    reason = "ray_unreachable"


class RayAddressInvalid(RayDevError):
    """The configured Ray address cannot be parsed: the server's setup, not the request."""

    status = 503
    reason = "ray_address_invalid"


class RayAuthFailed(RayDevError):
    """Ray answered but refused our credentials (token auth)."""

    status = 503
    reason = "ray_auth_failed"


class RayBadResponse(RayDevError):
    """Ray answered with something we cannot use (an error page, another service)."""

    status = 502
    reason = "ray_bad_response"


class NotInKubernetes(RayDevError):
    """No in-cluster service account and no kubeconfig: the server runs outside Kubernetes."""

    status = 503
    reason = "not_in_kubernetes"


class KubernetesUnreachable(RayDevError):
    """The Kubernetes API server did not answer, or refused our credentials."""

    status = 503
    reason = "kubernetes_unreachable"


class KubernetesForbidden(RayDevError):
    """Kubernetes RBAC refused a call; the details carry the Role rule that would allow it."""

    status = 403
    reason = "kubernetes_forbidden"
