"""The official ``kubernetes`` client, loaded on first use and run off the event loop.

Configuration is found as the client itself finds it: the pod's service account
(in-cluster) first, then a kubeconfig (``c.RayDev.kubeconfig``, ``$KUBECONFIG``,
``~/.kube/config``). Every blocking call goes through :meth:`KubeClient.call`,
which turns the client's exceptions into our errors with their HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import BadRequest, Conflict, KubernetesUnreachable, NotFound, NotInKubernetes
from ..settings import setting
from .rbac import forbidden_error

T = TypeVar("T")
SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
NOT_IN_KUBERNETES = (
    "Not running in Kubernetes: no in-cluster service account and no kubeconfig. "
    "Everything else works; KubeRay discovery and apply need the server to run in a pod "
    "(or c.RayDev.kubeconfig / $KUBECONFIG to point at a cluster)."
)


NO_SERVICE_ACCOUNT_TOKEN = (
    "Running in a Kubernetes pod without a service account token (automountServiceAccountToken "
    "is false?), and no kubeconfig: KubeRay discovery and apply need the token mounted."
)


def not_configured_message(env: dict[str, str] | os._Environ = os.environ) -> str:
    return NO_SERVICE_ACCOUNT_TOKEN if env.get("KUBERNETES_SERVICE_HOST") else NOT_IN_KUBERNETES


@dataclass(frozen=True)
class Target:
    """What a call is about, for error messages: the RBAC verb, resource and namespace."""

    verb: str
    resource: str  # plural, optionally with a subresource: "pods/log"
    group: str = ""
    namespace: str | None = None
    name: str | None = None


def in_kubernetes_pod(env: dict[str, str] | os._Environ = os.environ) -> bool:
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ).exists()


@dataclass(frozen=True)
class KubeConfig:
    """``KubeClient``'s settings, by its parameters' names."""

    kubeconfig: str = setting("kubeconfig", "")
    timeout: float = setting("kubernetes_timeout", 10.0)


class KubeClient:
    def __init__(self, kubeconfig: str = "", timeout: float = 10.0) -> None:
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self._lock = threading.Lock()
        self._api: Any = None
        self._namespace: str | None = None
        # our own small pool: a slow API server must not starve Jupyter's default executor
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ray-dev-k8s")

    def configured(self) -> bool:
        """Cheap, without importing the client: is there any configuration to load?"""
        if self.kubeconfig or in_kubernetes_pod():
            return True
        paths = os.environ.get("KUBECONFIG", "") or str(Path.home() / ".kube" / "config")
        return any(Path(p).is_file() for p in paths.split(os.pathsep) if p)

    def api_client(self) -> Any:
        """Blocking: the configured ``ApiClient`` (loaded once)."""
        with self._lock:
            if self._api is None:
                self._api, self._namespace = self._load()
            return self._api

    def default_namespace(self) -> str:
        self.api_client()
        return self._namespace or "default"

    def _load(self) -> tuple[Any, str | None]:
        from kubernetes import client, config

        if not self.kubeconfig and in_kubernetes_pod():
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            ns = SA_NAMESPACE_FILE.read_text().strip() if SA_NAMESPACE_FILE.exists() else None
            return client.ApiClient(cfg), ns
        if not self.configured():
            raise NotInKubernetes(not_configured_message())
        cfg = client.Configuration()
        try:
            config.load_kube_config(config_file=self.kubeconfig or None, client_configuration=cfg)
            _, context = config.list_kube_config_contexts(config_file=self.kubeconfig or None)
        except config.ConfigException as err:
            raise KubernetesUnreachable(f"Cannot load the kubeconfig: {err}") from err
        ns = (context or {}).get("context", {}).get("namespace")
        return client.ApiClient(cfg), ns

    async def call(self, target: Target, fn: Callable[[Any], T]) -> T:
        """Run ``fn(api_client)`` on our pool; errors become RayDevErrors naming ``target``."""
        def work() -> T:
            try:
                return fn(self.api_client())
            except Exception as err:  # noqa: BLE001 - translated below, re-raised otherwise
                raise translate(err, target, self._server()) from err

        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    def _server(self) -> str | None:
        """The API server's address, for messages (once the configuration is loaded)."""
        return getattr(getattr(self._api, "configuration", None), "host", None)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._api is not None:
            self._api.close()


def translate(err: Exception, target: Target, server: str | None = None) -> Exception:
    """The client's exception as one of ours, or ``err`` itself when it is a bug."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from ..errors import RayDevError

    if isinstance(err, RayDevError):
        return err
    if isinstance(err, ApiException):
        return _from_status(err, target)
    if "CERTIFICATE_VERIFY_FAILED" in str(err):
        return KubernetesUnreachable(
            f"The Kubernetes API server's certificate is not trusted ({err}). Check the CA: "
            "the pod's /var/run/secrets/kubernetes.io/serviceaccount/ca.crt, or "
            "certificate-authority(-data) in the kubeconfig."
        )
    if isinstance(err, (HTTPError, OSError)):
        at = f" at {server}" if server else ""
        return KubernetesUnreachable(
            f"The Kubernetes API server{at} did not answer ({type(err).__name__}: {err}). "
            "Check that the cluster is up and this pod can reach it.", server=server
        )
    return err


def _from_status(err: Any, target: Target) -> Exception:
    try:
        status = json.loads(err.body or "{}")
    except (TypeError, ValueError):
        status = {}
    message = status.get("message") or err.reason or str(err)
    what = f"{target.resource} {target.name!r}" if target.name else target.resource
    where = f' in namespace "{target.namespace}"' if target.namespace else ""
    if err.status == 403:
        return forbidden_error(message, verb=target.verb, resource=target.resource,
                               group=target.group, namespace=target.namespace)
    if err.status == 401:
        return KubernetesUnreachable(
            "The Kubernetes API server refused this server's credentials (401): the service "
            "account token or kubeconfig is invalid or expired."
        )
    if err.status == 404:
        return NotFound(f"No {what}{where} on the cluster: {message}")
    if err.status == 409:
        return Conflict(f"Kubernetes: {message}")
    if err.status in (400, 422):
        causes = (status.get("details") or {}).get("causes") or []
        fields = [c.get("field") for c in causes if c.get("field")]
        return BadRequest(
            f"Kubernetes rejected the {target.resource}: {message}",
            field=fields[0] if fields else "manifest",
            causes=[{"field": c.get("field"), "message": c.get("message")} for c in causes],
        )
    if err.status >= 500 or err.status == 0:
        return KubernetesUnreachable(f"The Kubernetes API server failed ({err.status}): {message}")
    return KubernetesUnreachable(f"Kubernetes answered {err.status}: {message}")
