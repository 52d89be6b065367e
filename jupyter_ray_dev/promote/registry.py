"""A registry over the OCI distribution API, through oras-py: what the code-layer path needs
(a manifest and a config read, a blob upload, a manifest put by digest and by tag).

oras-py brings the protocol's parts that are easy to get wrong: the registry's token or basic
auth challenge and retry, credentials from a Docker-style auth file, the upload session's
Location handling. Two calls go through its authenticated ``do_request`` rather than its
helpers: a manifest read must keep the registry's bytes and digest (``get_manifest`` gives a
dict only), and a manifest put must send our bytes with their own media type
(``upload_manifest`` re-serialises and always says OCI manifest).

Credentials are the builders': ``REGISTRY_AUTH_FILE``, else
``$XDG_RUNTIME_DIR/containers/auth.json``, and the Docker config oras reads itself. Blocking
(requests): call it off the event loop.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"
TIMEOUT = 30.0


def _timeout_adapter() -> Any:
    import requests.adapters

    class TimeoutAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = kwargs.get("timeout") or TIMEOUT
            return super().send(request, **kwargs)

    return TimeoutAdapter()


class RegistryError(Exception):
    """The registry refused or did not answer: the message says which and why."""


@dataclass(frozen=True)
class Manifest:
    raw: bytes
    digest: str
    media_type: str

    @property
    def doc(self) -> dict[str, Any]:
        return json.loads(self.raw)


def auth_files() -> list[str]:
    """The auth files buildah reads, where they exist."""
    found = [os.environ.get("REGISTRY_AUTH_FILE", "")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        found.append(os.path.join(runtime, "containers", "auth.json"))
    return [f for f in found if f and os.path.isfile(f)]


def split_reference(image: str) -> tuple[str, str, str]:
    """``host:5000/team/app:tag`` or ``...@sha256:..`` -> (host, team/app, tag or digest)."""
    host, _, rest = image.partition("/")
    if "@" in rest:
        path, _, ref = rest.partition("@")
    else:
        colon = rest.rfind(":")
        path, ref = (rest[:colon], rest[colon + 1:]) if colon > rest.rfind("/") \
            else (rest, "latest")
    return host, path, ref


class Registry:
    """One registry host; ``tls_verify`` false speaks plain HTTP (a loopback or in-cluster
    registry, as buildah's ``--tls-verify=false``)."""

    def __init__(self, host: str, tls_verify: bool = True) -> None:
        import oras.container
        import oras.provider

        self.host = host
        self._oras = oras.provider.Registry(host, insecure=not tls_verify,
                                           tls_verify=tls_verify)
        # oras sets no timeout: a registry that hangs would hold a thread for ever
        adapter = _timeout_adapter()
        self._oras.session.mount("http://", adapter)
        self._oras.session.mount("https://", adapter)
        self._container = oras.container.Container
        self._scheme = "https" if tls_verify else "http"
        self._auth_loaded = False

    def _load_auth(self, path: str) -> None:
        if not self._auth_loaded:
            self._oras.auth.load_configs(self._container(f"{self.host}/{path}"), auth_files())
            self._auth_loaded = True

    def _request(self, path: str, method: str, url_tail: str, retry: bool = True,
                 **kwargs: Any) -> Any:
        """oras' authenticated request; ``retry`` False skips its retries (five, ~2 min of
        sleeps on a refused connection: too long for a review to wait)."""
        self._load_auth(path)
        url = f"{self._scheme}://{self.host}/v2/{path}/{url_tail}"
        send = self._oras.do_request if retry else self._oras.do_request.__wrapped__
        try:
            return send(url, method, **kwargs) if retry else send(self._oras, url, method,
                                                                  **kwargs)
        except Exception as err:  # requests' connection errors, oras' auth refusals
            raise RegistryError(f"{self.host} did not answer {method} {url_tail}: {err}") \
                from err

    @staticmethod
    def _failed(response: Any, what: str) -> RegistryError:
        try:
            errors = [e.get("message", "") for e in response.json().get("errors", [])]
        except ValueError:
            errors = []
        detail = "; ".join(e for e in errors if e) or response.reason
        return RegistryError(f"{what}: HTTP {response.status_code} ({detail})")

    def manifest(self, path: str, reference: str, retry: bool = True) -> Manifest | None:
        """The manifest as the registry holds it; None when it has none of that name."""
        response = self._request(path, "GET", f"manifests/{reference}", retry,
                                 headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._failed(response, f"Reading the manifest {path}:{reference} failed")
        raw = response.content
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        media = json.loads(raw).get("mediaType") or \
            response.headers.get("Content-Type", OCI_MANIFEST).split(";")[0]
        return Manifest(raw, digest, media)

    def blob(self, path: str, digest: str, retry: bool = True) -> bytes:
        response = self._request(path, "GET", f"blobs/{digest}", retry)
        if response.status_code != 200:
            raise self._failed(response, f"Reading the blob {digest[:19]} of {path} failed")
        data = response.content
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryError(f"The blob {digest[:19]} of {path} does not match its digest.")
        return data

    def upload(self, path: str, blob: Path, digest: str, size: int) -> None:
        """Upload ``blob`` unless the repository has it already."""
        self._load_auth(path)
        response = self._oras.upload_blob(str(blob), self._container(f"{self.host}/{path}"),
                                          {"digest": digest, "size": size})
        if response.status_code not in (200, 201, 202):
            raise self._failed(response, f"Uploading {digest[:19]} to {path} failed")

    def put_manifest(self, path: str, reference: str, raw: bytes, media_type: str) -> str:
        """Put ``raw`` under ``reference`` (a tag, or its own digest); its digest."""
        response = self._request(path, "PUT", f"manifests/{reference}", data=raw,
                                 headers={"Content-Type": media_type})
        if response.status_code not in (200, 201, 202):
            raise self._failed(response, f"Putting the manifest {path}:{reference} failed")
        return "sha256:" + hashlib.sha256(raw).hexdigest()
