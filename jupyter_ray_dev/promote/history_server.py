"""Keep a promoted run's logs after its cluster is gone: KubeRay's History Server.

``c.RayDev.history_server = "<storage root>/<folder>"`` names where the History Server
reads from: an ``s3://`` or ``gs://`` root of ``c.RayDev.storage_roots``. The generated
RayCluster/RayJob/RayService/RayCronJob specs then carry ``historyServerOptions``: KubeRay
(feature gate ``RayClusterHistoryServer``) injects the collector sidecar into every pod,
which uploads the Ray logs and events there. The collector reads its storage from its
environment (``STORAGE_BACKEND``, ``S3_BUCKET``/``GCS_BUCKET``, ``RAY_ROOT_DIR``...), as
KubeRay's collector documents it; credentials are the pods' own (IRSA, Workload Identity),
never written into a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SETTING = "c.RayDev.history_server"
COLLECTOR_IMAGE = "quay.io/kuberay/collector:v1.7.0"  # the KubeRay release of the CRDs


@dataclass(frozen=True)
class HistoryServer:
    uri: str  # s3://bucket/prefix/folder: where the logs land
    backend: str  # the collector's STORAGE_BACKEND: s3 | gcs
    bucket: str
    folder: str  # inside the bucket
    collector_image: str = COLLECTOR_IMAGE
    endpoint: str | None = None  # an S3-compatible endpoint (MinIO, ...) of the root
    region: str | None = None

    def options(self) -> dict[str, Any]:
        """``historyServerOptions`` as KubeRay's CRD types it."""
        env = [{"name": "STORAGE_BACKEND", "value": self.backend},
               {"name": "S3_BUCKET" if self.backend == "s3" else "GCS_BUCKET",
                "value": self.bucket},
               {"name": "RAY_ROOT_DIR", "value": self.folder}]
        if self.endpoint:
            env += [{"name": "S3_ENDPOINT", "value": self.endpoint},
                    {"name": "S3FORCE_PATH_STYLE", "value": "true"}]
        if self.region:
            env.append({"name": "S3_REGION", "value": self.region})
        return {"collectorOptions": {"image": self.collector_image, "env": env}}

    def warning(self) -> dict[str, str] | None:
        """A loopback endpoint is the Jupyter server's own machine; in a pod it is the pod
        itself, where no S3 server listens: the collector would upload nothing."""
        if not self.endpoint or not is_loopback(self.endpoint):
            return None
        return {"kind": "loopback_endpoint", "message": (
            f"The History Server's storage ({self.uri}) has the S3 endpoint {self.endpoint}, "
            "a loopback address: it reaches the Jupyter server's own machine, but in the "
            "promoted pods it is the pod itself, so the collector cannot upload the logs. "
            "Give that storage root an endpoint_url the pods can reach (a Service, e.g. "
            "http://minio.<namespace>.svc:9000) in c.RayDev.storage_roots.")}

    def review(self) -> dict[str, Any]:
        return {"configured": True, "uri": self.uri, "collector_image": self.collector_image,
                "message": (
                    f"The manifests carry historyServerOptions: KubeRay's collector uploads "
                    f"each run's logs and events to {self.uri}, so they outlive the cluster "
                    "(read them in KubeRay's History Server). The operator needs the "
                    "RayClusterHistoryServer feature gate, and the pods' service account "
                    "write access to the bucket.")}


def is_loopback(url: str) -> bool:
    """``url``'s host is this machine only (127.0.0.0/8, ::1, localhost, 0.0.0.0)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname or ""
    except ValueError:
        return False
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def not_configured() -> dict[str, Any]:
    return {"configured": False, "uri": None, "collector_image": None, "message": (
        "The logs go with the cluster: a RayJob's cluster is deleted when the job ends, its "
        f"logs with it. To keep them, set {SETTING} = '<s3:// or gs:// storage root>/"
        "<folder>' on the server (KubeRay's History Server reads them there), or save a "
        "finished dev job's log to storage from its log tab.")}


def resolve(setting: str, storage: Any, collector_image: str = "") -> HistoryServer:
    """The History Server location ``setting`` names; ValueError says what is wrong."""
    name, _, folder = setting.strip().partition("/")
    if not name:
        raise ValueError(f"{SETTING} must be '<storage root>/<folder>', e.g. "
                         "'artifacts-s3/ray-history'.")
    if storage is None:
        raise ValueError(f"{SETTING}: this server has no storage capability.")
    from ..errors import RayDevError

    try:
        root = storage.root(name)
    except RayDevError as err:
        raise ValueError(f"{SETTING}: {err.message}") from err
    if root.protocol not in ("s3", "gs"):
        raise ValueError(f"{SETTING}: storage root {name!r} is {root.url}; KubeRay's History "
                         "Server reads s3:// or gs:// only.")
    # the collector's root folder inside the bucket (it wants one: its own default otherwise)
    inside = "/".join(p for p in (root.prefix, folder.strip("/")) if p) or "ray-history"
    options = root.options or {}
    client_kwargs = options.get("client_kwargs") or {}
    return HistoryServer(
        uri=f"{root.protocol}://{root.bucket}/{inside}",
        backend="s3" if root.protocol == "s3" else "gcs", bucket=root.bucket, folder=inside,
        collector_image=collector_image or COLLECTOR_IMAGE,
        endpoint=(options.get("endpoint_url") or None) if root.protocol == "s3" else None,
        region=client_kwargs.get("region_name") if isinstance(client_kwargs, dict) else None)
