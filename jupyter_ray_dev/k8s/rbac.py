"""Turn an RBAC refusal (HTTP 403) into a message naming the verb, resource and namespace,
with the Role rule that would allow the call."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import KubernetesForbidden

# The API server's own wording (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters):
#   User "<u>" cannot <verb> resource "<res>[/<sub>]" in API group "<g>" [in the namespace "<ns>"]
_REFUSAL = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
    r' in API group "(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]+)")?'
)


def role_rule(verb: str, resource: str, group: str) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": [resource], "verbs": [verb]}


def forbidden_error(
    server_message: str, *, verb: str, resource: str, group: str, namespace: str | None
) -> KubernetesForbidden:
    """Pure: what we tried (``verb``/``resource``/``group``/``namespace``) and what the server said.

    The server's sentence wins where it parses: it names the verb the authorizer
    really checked (server-side apply of a new object also needs ``create``).
    """
    found = _REFUSAL.search(server_message or "")
    user = None
    if found:
        user = found["user"]
        verb, resource, group = found["verb"], found["resource"], found["group"]
        namespace = found["namespace"]
    rule = role_rule(verb, resource, group)
    qualified = f"{resource}.{group}" if group else resource
    where = f'in namespace "{namespace}"' if namespace else "cluster-wide"
    who = _who(user)
    kind = "Role" if namespace else "ClusterRole"
    snippet = yaml.safe_dump([rule], default_flow_style=None, sort_keys=False).strip()
    message = (
        f"Kubernetes refused: {who} may not {verb} {qualified} {where}. "
        f"Add this rule to a {kind} bound to it (see deploy/dev/rbac.yaml):\n{snippet}"
    )
    return KubernetesForbidden(
        message, verb=verb, resource=resource, group=group, namespace=namespace, user=user,
        rule=rule,
    )


def _who(user: str | None) -> str:
    if not user:
        return "this server's Kubernetes identity"
    prefix = "system:serviceaccount:"
    if user.startswith(prefix):
        ns, _, name = user[len(prefix):].partition(":")
        return f'service account "{name}" (namespace "{ns}")'
    return f'user "{user}"'
